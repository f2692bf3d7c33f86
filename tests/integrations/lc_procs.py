"""Child processes for the LangGraph interrupt test: suspend here, vote elsewhere, resume in a
third process. ``python -m tests.integrations.lc_procs start|resume DB CHECKPOINTS SPYFILE``."""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

from langchain.agents import create_agent
from langchain_core.messages import AIMessage
from langchain_core.tools import tool
from langgraph.checkpoint.sqlite import SqliteSaver

from guardrails_plugin.guard import Guard
from guardrails_plugin.integrations.langchain import GuardMiddleware, resume_decided
from guardrails_plugin.integrations.langchain.testing import ScriptedChatModel, tool_call
from guardrails_plugin.policy import Policy

from .conftest import POLICY

THREAD = "thread-42"


def build(db: str, checkpoints: str, spy: str, responses: list[AIMessage]) -> tuple[object, Guard]:
    @tool
    def export_table(database: str, table: str) -> str:
        """Export a table."""
        with open(spy, "a") as f:
            f.write(json.dumps({"tool": "export_table", "database": database, "table": table}))
            f.write("\n")
        return f"exported {table} from {database} to s3://exports/{table}.csv"

    @tool
    def lookup_customer(customer_id: int) -> str:
        """Look up a customer."""
        with open(spy, "a") as f:
            f.write(json.dumps({"tool": "lookup_customer"}) + "\n")
        return "Ana Lopez <ana.lopez@example.org>"

    guard = Guard.from_policy(
        Policy.from_string(POLICY), store=db, principal="agent:etl", on_behalf_of="slack:UALICE"
    )
    saver = SqliteSaver(sqlite3.connect(checkpoints, check_same_thread=False))
    agent = create_agent(
        ScriptedChatModel(responses=responses),
        [export_table, lookup_customer],
        middleware=[GuardMiddleware(guard, mode="interrupt")],
        checkpointer=saver,
    )
    return agent, guard


def start(db: str, checkpoints: str, spy: str) -> None:
    first = AIMessage(
        "",
        tool_calls=[
            tool_call("export_table", {"database": "prod-eu", "table": "customers"}, "call-exp-1"),
            tool_call("export_table", {"database": "prod-us", "table": "orders"}, "call-exp-2"),
            tool_call("lookup_customer", {"customer_id": 7}, "call-look-1"),
        ],
    )
    agent, _ = build(db, checkpoints, spy, [first, AIMessage("exports done")])
    out = agent.invoke({"messages": [("user", "export")]}, {"configurable": {"thread_id": THREAD}})
    interrupts = out.get("__interrupt__", [])
    print(
        json.dumps(
            {
                "interrupted": [i.value["request_id"] for i in interrupts],
                "args": [i.value["args"] for i in interrupts],
            }
        )
    )


def resume(db: str, checkpoints: str, spy: str) -> None:
    agent, guard = build(db, checkpoints, spy, [AIMessage("exports done")])
    out = resume_decided(agent, THREAD, guard)
    if out is None:
        print(json.dumps({"resumed": False}))
        return
    messages = [
        {"type": type(m).__name__, "content": str(m.content), "status": getattr(m, "status", None)}
        for m in out["messages"]
    ]
    print(json.dumps({"resumed": True, "messages": messages}))


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    {"start": start, "resume": resume}[command](*args)
    Path(args[0]).exists()
