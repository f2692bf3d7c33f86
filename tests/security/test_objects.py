"""Issue 11 #4: objects bypassed the masker.

Non-JSON values (pydantic models, dataclasses, sets, LangChain messages) were passed through the
walk untouched and written to the audit as their repr: raw PII reached the model and the audit
table, and a `payment.amount > 1000` rule never matched a pydantic argument. Now every object
is converted to data (then checked and masked) or refused. (Since issue 12 #5 an object output is
masked field by field and keeps its type; arguments are still converted to data.)
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import threading

import pytest
from pydantic import BaseModel

from guardrails_plugin.errors import UnsupportedValue
from guardrails_plugin.masking import Masker
from guardrails_plugin.payload import as_data
from guardrails_plugin.store import Event

from .conftest import SpyTool, stored_bytes

EMAIL = "olga.brandt@example.org"

POLICY = """
version: 1
defaults: {effect: allow}
rules:
  - id: big-payments
    match: {tool: pay, args: {payment.amount: {gt: 1000}}}
    effect: deny
    reason: Payments over 1000 are not allowed.
  - id: no-pii-out
    match: {tool: send, data: {contains: [EMAIL]}}
    effect: deny
    reason: No email addresses out.
"""


class Payment(BaseModel):
    amount: int
    currency: str = "EUR"


@dataclasses.dataclass
class Customer:
    name: str
    email: str
    tags: frozenset[str] = frozenset()


class Tier(enum.Enum):
    GOLD = "gold"


def test_a_rule_on_a_pydantic_argument_matches(make_guard):
    guard = make_guard(POLICY)
    tool = SpyTool()
    outcome = guard.call("pay", {"payment": Payment(amount=5000)}, tool)
    assert not outcome.allowed and tool.runs == []
    assert "big-payments" in outcome.message


def test_a_dataclass_argument_is_checked_masked_and_never_stored_raw(make_guard, tmp_path):
    guard = make_guard(POLICY)
    tool = SpyTool()
    outcome = guard.call("send", {"to": Customer("Olga", EMAIL)}, tool)
    assert not outcome.allowed and tool.runs == []  # the EMAIL deny rule sees the field
    evaluated = [r for r in guard.store.audit_rows() if r.event == Event.CALL_EVALUATED]
    assert evaluated[0].data["masked_args"]["to"]["email"] == "<EMAIL_1>"
    assert EMAIL.encode() not in stored_bytes(tmp_path / "guard.db")


def test_an_object_output_is_masked_and_keeps_its_type(make_guard):
    """Issue 12 #5: outputs keep their type (tests/compat/test_object_outputs.py)."""
    guard = make_guard(POLICY)
    tool = SpyTool(Customer("Olga", EMAIL, frozenset({"vip", EMAIL})))
    outcome = guard.call("lookup", {"id": 1}, tool)
    assert outcome.allowed
    # 'name' beside 'email' is a person's: a single given name is masked too (issue 13).
    expected = Customer("<PERSON_1>", "<EMAIL_1>", frozenset({"<EMAIL_1>", "vip"}))
    assert outcome.output == expected


def test_a_langchain_message_output_is_masked():
    from langchain_core.messages import ToolMessage

    masked = Masker(ner=False).mask({"m": ToolMessage(f"mail {EMAIL}", tool_call_id="c1")}).value
    assert isinstance(masked["m"], ToolMessage)
    assert masked["m"].content == "mail <EMAIL_1>" and EMAIL not in repr(masked)


def test_objects_the_guard_cannot_check_are_refused(make_guard):
    guard = make_guard(POLICY)
    tool = SpyTool()
    outcome = guard.call("lookup", {"lock": threading.Lock()}, tool)
    assert not outcome.allowed and tool.runs == []
    assert "cannot check" in outcome.message
    assert [r.event for r in guard.store.audit_rows()] == [Event.GUARD_ERROR]


def test_an_output_the_guard_cannot_check_is_withheld(make_guard):
    guard = make_guard(POLICY)
    outcome = guard.call("download", {}, SpyTool(b"\xff\xfe binary"))
    assert not outcome.allowed and "withheld" in outcome.message


def test_conversion_rules():
    assert as_data(
        {
            "when": dt.date(2026, 12, 1),
            "tier": Tier.GOLD,
            "set": {"b", "a"},
            "pair": ("x", 1),
            "bytes": b"text",
            1: "int key",
        }
    ) == {
        "when": "2026-12-01",
        "tier": "gold",
        "set": ["a", "b"],
        "pair": ("x", 1),
        "bytes": "text",
        "1": "int key",
    }
    looped: list[object] = []
    looped.append(looped)
    for bad in (looped, {"f": print}, {(1, 2): "tuple key"}, b"\x80"):
        with pytest.raises(UnsupportedValue):
            as_data(bad)
