"""The tools of the LlamaIndex compatibility suite, each in a shape users write.

No ``from __future__ import annotations`` here: LlamaIndex finds a tool's ``ctx: Context``
parameter by its real annotation, which a string annotation would hide.
"""

import base64
from dataclasses import dataclass, field
from typing import Any

from llama_index.core.base.llms.types import ImageBlock, TextBlock
from llama_index.core.base.response.schema import Response
from llama_index.core.query_engine import CustomQueryEngine
from llama_index.core.schema import NodeWithScore, TextNode
from llama_index.core.tools import FunctionTool, QueryEngineTool
from llama_index.core.workflow import Context, HumanResponseEvent, InputRequiredEvent
from pydantic import BaseModel

CANARY = "ana.lopez@example.org"  # a raw value that must never reach the model or the log
PLACEHOLDER = "<EMAIL_1>"  # what the model sees instead, in a conversation's first use
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


@dataclass
class Ran:
    """What the tools really received, in order."""

    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]

    def args(self, name: str) -> list[dict[str, Any]]:
        return [args for n, args in self.calls if n == name]


class Profile(BaseModel):
    """A tool's typed result."""

    customer_id: int
    email: str


class Docs(CustomQueryEngine):
    """A query engine whose answer and sources hold the canary."""

    def custom_query(self, query_str: str) -> Response:
        node = TextNode(id_="node-1", text=f"{CANARY} owns the account")
        return Response(
            f"The owner is {CANARY}.",
            source_nodes=[NodeWithScore(node=node, score=0.9)],
            metadata={"owner": CANARY},
        )


def make_tools(ran: Ran) -> dict[str, Any]:
    """Every tool shape, by name: plain, async, partial params, return_direct, context-taking,
    human-in-the-loop, query engine, image blocks."""

    def lookup_customer(customer_id: int) -> dict:
        """Look up a customer by id."""
        ran.calls.append(("lookup_customer", {"customer_id": customer_id}))
        return {"id": customer_id, "email": CANARY, "plan": "pro"}

    async def export_table(database: str, table: str) -> str:
        """Export a table."""
        ran.calls.append(("export_table", {"database": database, "table": table}))
        return f"exported {database}.{table}"

    def send_email(to: str, body: str) -> str:
        """Send an email."""
        ran.calls.append(("send_email", {"to": to, "body": body}))
        return f"sent to {to}"

    def search(query: str, region: str = "eu", limit: int = 3) -> str:
        """Search the tickets."""
        ran.calls.append(("search", {"query": query, "region": region, "limit": limit}))
        return f"{limit} tickets for {query!r} in {region}"

    def answer(question: str) -> str:
        """Answer the user directly."""
        ran.calls.append(("answer", {"question": question}))
        return f"The answer to {question!r} is 42."

    async def remember(ctx: Context, note: str) -> str:
        """Store a note in the workflow state."""
        await ctx.store.set("note", note)
        ran.calls.append(("remember", {"note": note}))
        return f"remembered {note}"

    async def confirm(ctx: Context, action: str) -> str:
        """Ask the user to confirm an action."""
        ran.calls.append(("confirm", {"action": action}))
        answer = await ctx.wait_for_event(
            HumanResponseEvent,
            waiter_event=InputRequiredEvent(prefix=f"Confirm {action}?"),
            waiter_id=f"confirm-{action}",
        )
        return f"user said {answer.response} to {action}"

    def picture(customer_id: int) -> list:
        """The customer's photo."""
        ran.calls.append(("picture", {"customer_id": customer_id}))
        return [TextBlock(text=f"Photo of {CANARY}"), ImageBlock(image=PNG)]

    def profile(customer_id: int) -> Profile:
        """The customer's profile."""
        ran.calls.append(("profile", {"customer_id": customer_id}))
        return Profile(customer_id=customer_id, email=CANARY)

    def close_account(customer_id: int) -> str:
        """Close a customer's account."""
        ran.calls.append(("close_account", {"customer_id": customer_id}))
        raise ValueError(f"account of {CANARY} is locked")

    tools = [
        FunctionTool.from_defaults(lookup_customer),
        FunctionTool.from_defaults(close_account),
        FunctionTool.from_defaults(profile),
        FunctionTool.from_defaults(async_fn=export_table),
        FunctionTool.from_defaults(send_email),
        FunctionTool.from_defaults(search, partial_params={"region": "us"}),
        FunctionTool.from_defaults(answer, return_direct=True),
        FunctionTool.from_defaults(async_fn=remember),
        FunctionTool.from_defaults(async_fn=confirm),
        FunctionTool.from_defaults(picture),
        QueryEngineTool.from_defaults(Docs(), name="docs", description="Search the docs."),
    ]
    return {tool.metadata.get_name(): tool for tool in tools}
