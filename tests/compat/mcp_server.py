"""A tiny MCP server for tests/compat/test_mcp.py, run over stdio: ``python mcp_server.py LOG``.

Every call a tool really runs is appended to the file LOG (one JSON line), so a test can prove
that a denied call never reached the server.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from mcp.server.fastmcp import FastMCP

EMAIL = "olga.brandt@example.org"
IBAN = "DE89370400440532013000"

server = FastMCP("crm", log_level="WARNING")
LOG = Path(sys.argv[1]) if len(sys.argv) > 1 else None


def _ran(tool: str, **args: Any) -> None:
    if LOG is not None:
        with LOG.open("a", encoding="utf-8") as out:
            out.write(json.dumps({"tool": tool, "args": args}) + "\n")


@server.tool()
def find_contact(name: str) -> str:
    """Find a contact's email address (a text result)."""
    _ran("find_contact", name=name)
    return f"{name} can be reached at {EMAIL}."


@server.tool()
def get_customer(customer_id: int) -> dict[str, Any]:
    """A customer record (a structured result)."""
    _ran("get_customer", customer_id=customer_id)
    return {"id": customer_id, "name": "Olga", "email": EMAIL, "iban": IBAN}


@server.tool()
def drop_table(table: str) -> str:
    """Drop a table."""
    _ran("drop_table", table=table)
    return f"dropped {table}"


@server.tool()
def export_table(database: str, table: str) -> str:
    """Export a table."""
    _ran("export_table", database=database, table=table)
    return f"exported {database}.{table}"


if __name__ == "__main__":
    server.run("stdio")
