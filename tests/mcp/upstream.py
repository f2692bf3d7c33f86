"""A small MCP server for the gateway tests, run as ``python -m tests.mcp.upstream`` (stdio).

Every tool that runs appends a line to $UPSTREAM_LOG, so a test can prove a call never ran."""

from __future__ import annotations

import json
import os
from pathlib import Path

from mcp.server.fastmcp import FastMCP
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field

EMAIL = "jane.canary.mcp@example.com"
CARD = "4111 1111 1111 1111"

app = FastMCP("fixture-upstream", instructions="A test server.")


def _ran(tool: str, **args: object) -> None:
    with Path(os.environ["UPSTREAM_LOG"]).open("a", encoding="utf-8") as log:
        log.write(json.dumps({"tool": tool, "args": args}) + "\n")


@app.tool(annotations=ToolAnnotations(readOnlyHint=True, title="Look up"))
def lookup(customer: str) -> str:
    """Look a customer up by name."""
    _ran("lookup", customer=customer)
    return f"Customer {customer}: write to {EMAIL}, card {CARD}"


@app.tool()
def profile(customer: str) -> dict[str, str]:
    """A customer's profile, as structured content."""
    _ran("profile", customer=customer)
    return {"name": customer, "email": EMAIL, "card": CARD}


class Contact(BaseModel):
    email: str = Field(pattern=r"^[^@<>]+@[^@<>]+$")


@app.tool()
def contact(customer: str) -> Contact:
    """A customer's address, whose output schema a placeholder does not fit."""
    _ran("contact", customer=customer)
    return Contact(email=EMAIL)


@app.tool(annotations=ToolAnnotations(destructiveHint=True))
def drop_table(name: str) -> str:
    """Drop a table."""
    _ran("drop_table", name=name)
    return "dropped"


@app.tool()
def deploy(service: str) -> str:
    """Deploy a service."""
    _ran("deploy", service=service)
    return f"deployed {service}"


@app.tool()
def purge(dry_run: bool = True) -> str:
    """Purge old records (FastMCP coerces "false", "no", 0 to False for ``dry_run``)."""
    _ran("purge", dry_run=dry_run)
    return "would purge" if dry_run else "purged"


@app.tool()
def crash() -> str:
    """Exit the server process at once, as a crash would."""
    _ran("crash")
    os._exit(3)


@app.resource("config://app")
def config() -> str:
    """The app's configuration."""
    return "mode=test"


@app.prompt()
def greet(name: str) -> str:
    """A greeting."""
    return f"Hello {name}"


if __name__ == "__main__":
    import sys

    if len(sys.argv) > 2 and sys.argv[1] == "--http":  # streamable HTTP on 127.0.0.1:PORT/mcp
        app.settings.port = int(sys.argv[2])
        app.run("streamable-http")
    else:
        app.run()
