"""The MCP gateway: any MCP server's tools behind the Guard, for any MCP client.

    guardrails-plugin mcp proxy --policy policy.yaml -- npx some-mcp-server

`gateway.serve` connects to the upstream server (`gateway.Upstream`: a command or a URL) and
serves clients on stdio or streamable HTTP; `proxy.GuardedProxy` is the server itself (every
``tools/call`` through `Guard.acall`); `results` turns tool results into data the masker reads
and back. The only place the ``mcp`` package is imported (the ``mcp`` extra).
"""

from guardrails_plugin.integrations.mcp.gateway import Upstream, connect, run, serve
from guardrails_plugin.integrations.mcp.proxy import GuardedProxy

__all__ = ["GuardedProxy", "Upstream", "connect", "run", "serve"]
