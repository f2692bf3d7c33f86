"""The gateway's MCP server: the upstream's tools, every call through the Guard.

    client ──tools/call──► GuardedProxy ──Guard.acall──► upstream ClientSession ──► MCP server
                              │  (mask, policy, approval: progress while waiting,
                              │   cancellation cancels the request in the store)
                              └─◄── masked content blocks and structuredContent, or isError

- ``tools/list`` is the upstream's answer, unchanged (names, descriptions, schemas, annotations).
- ``tools/call``: `Guard.acall` with the MCP session as the run (one vault per session). A
  denial, a failed upstream (crashed, disconnected, raised) or a result that cannot be masked is
  a tool result with ``isError: true`` and one sentence; the client is never left hanging.
- Resources, resource templates and prompts are forwarded unchanged and unguarded, when the
  upstream offers them (docs/mcp.md says so): the guard judges tool calls, not reads.
"""

from __future__ import annotations

import logging
import uuid
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import jsonschema
from mcp import ClientSession, types
from mcp.server.lowlevel import Server
from mcp.shared.exceptions import McpError

from guardrails_plugin.flow import Outcome, Wait
from guardrails_plugin.guard import Guard
from guardrails_plugin.integrations.mcp.results import as_data, error_result, from_data
from guardrails_plugin.store.records import ApprovalRequest

__all__ = ["GuardedProxy", "UpstreamClosed"]

log = logging.getLogger(__name__)

# Requests forwarded as they are, by the capability the upstream must declare for them.
_PASSTHROUGH: tuple[tuple[str, type[Any], type[Any]], ...] = (
    ("resources", types.ListResourcesRequest, types.ListResourcesResult),
    ("resources", types.ListResourceTemplatesRequest, types.ListResourceTemplatesResult),
    ("resources", types.ReadResourceRequest, types.ReadResourceResult),
    ("prompts", types.ListPromptsRequest, types.ListPromptsResult),
    ("prompts", types.GetPromptRequest, types.GetPromptResult),
)


_CLOSED = (
    "the connection to the upstream MCP server is closed (it exited or crashed); "
    "restart the gateway"
)


class UpstreamClosed(ConnectionError):
    """The upstream server is gone: every call from now on fails with this, at once."""


def _onward(request: Any) -> types.ClientRequest:
    """The client's request as the gateway sends it upstream: its method and parameters, without
    the JSON-RPC envelope of the client's connection or its ``_meta`` (a progress token means
    something on the client's connection only)."""
    params = request.params.model_dump(by_alias=True, exclude_none=True) if request.params else {}
    params.pop("_meta", None)
    message: dict[str, Any] = {"method": request.method}
    if params:
        message["params"] = params
    return types.ClientRequest(type(request).model_validate(message))


class GuardedProxy:
    """An MCP ``Server`` that offers ``upstream``'s tools and guards every call with ``guard``.

    ``progress_interval``: seconds between progress notifications while a call waits for
    approval (when the client asked for progress with a ``progressToken``)."""

    def __init__(
        self,
        guard: Guard,
        upstream: ClientSession,
        upstream_info: types.InitializeResult,
        *,
        progress_interval: float = 10.0,
    ) -> None:
        self.guard = guard
        self.upstream = upstream
        self.progress_interval = progress_interval
        name = upstream_info.serverInfo.name
        self.server: Server[Any, Any] = Server(
            f"guardrails-plugin ({name})",
            version=upstream_info.serverInfo.version,
            instructions=upstream_info.instructions,
        )
        self._runs: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()
        # Output schemas as listed: a masked structuredContent must still satisfy its tool's,
        # or the client's SDK rejects the whole result (it validates against the listing).
        self._output_schemas: dict[str, dict[str, Any] | None] = {}
        handlers = self.server.request_handlers
        handlers[types.ListToolsRequest] = self._list_tools
        handlers[types.CallToolRequest] = self._call_tool
        offered = upstream_info.capabilities
        for capability, request_type, result_type in _PASSTHROUGH:
            if getattr(offered, capability) is not None:
                handlers[request_type] = self._forward(result_type)

    def initialization_options(self) -> Any:
        return self.server.create_initialization_options()

    # --- pass-through ----------------------------------------------------------------------

    def _forward(self, result_type: type[Any]) -> Callable[[Any], Awaitable[types.ServerResult]]:
        async def forward(request: Any) -> types.ServerResult:
            result = await self.upstream.send_request(_onward(request), result_type)
            return types.ServerResult(result)

        return forward

    async def _list_tools(self, request: types.ListToolsRequest) -> types.ServerResult:
        result = await self.upstream.send_request(_onward(request), types.ListToolsResult)
        self._remember(result.tools)
        return types.ServerResult(result)

    def _remember(self, tools: list[types.Tool]) -> None:
        self._output_schemas.update({tool.name: tool.outputSchema for tool in tools})

    async def _output_schema(self, name: str) -> dict[str, Any] | None:
        if name not in self._output_schemas:
            self._remember((await self.upstream.list_tools()).tools)
        return self._output_schemas.get(name)

    # --- guarded calls -----------------------------------------------------------------------

    def _run_id(self, session: Any) -> str:
        """One run per MCP session: its placeholders are numbered and restored within it."""
        run_id = self._runs.get(session)
        if run_id is None:
            run_id = self._runs[session] = f"mcp_{uuid.uuid4().hex}"
        return run_id

    async def _call_tool(self, request: types.CallToolRequest) -> types.ServerResult:
        context = self.server.request_context
        name = request.params.name
        arguments = dict(request.params.arguments or {})
        run = self.guard.run(self._run_id(context.session))
        token = context.meta.progressToken if context.meta is not None else None

        async def call_upstream(args: dict[str, Any]) -> dict[str, Any]:
            try:
                return as_data(await self.upstream.call_tool(name, args))
            except (anyio.ClosedResourceError, anyio.BrokenResourceError) as exc:
                raise UpstreamClosed(_CLOSED) from exc
            except McpError as exc:
                if exc.error.code == types.CONNECTION_CLOSED:
                    raise UpstreamClosed(_CLOSED) from exc
                raise

        async def wait(step: Wait) -> ApprovalRequest:
            return await self._wait(step, context.session, token, context.request_id, run.run_id)

        outcome = await self.guard.acall(
            name,
            arguments,
            call_upstream,
            # A fresh id per call: JSON-RPC ids repeat across sessions, and an approval request
            # found by a repeated id would be another call's.
            call_id=f"mcp_{uuid.uuid4().hex}",
            run=run,
            wait=wait,
        )
        return types.ServerResult(await self._result(name, outcome))

    async def _result(self, name: str, outcome: Outcome) -> types.CallToolResult:
        if outcome.failed:
            return error_result(f"The upstream MCP server failed on {name!r}: {outcome.message}")
        if not outcome.allowed:
            return error_result(outcome.message)
        try:
            result = from_data(outcome.output)
            if result.structuredContent is not None and not result.isError:
                schema = await self._output_schema(name)
                if schema is not None:
                    jsonschema.validate(result.structuredContent, schema)
        except (ValueError, jsonschema.ValidationError, jsonschema.SchemaError) as exc:
            # The message may quote the masked value only; it stays in the gateway's log.
            log.error("masked result of %r withheld: %s", name, str(exc).splitlines()[0])
            return error_result(
                f"Denied: the result of {name!r}, once masked, no longer fits the tool's output "
                "schema, so it is withheld."
            )
        return result

    async def _wait(
        self,
        step: Wait,
        session: Any,
        token: str | int | None,
        request_id: types.RequestId,
        run_id: str,
    ) -> ApprovalRequest:
        """Wait for the decision, telling the client every ``progress_interval`` seconds; a
        cancelled call (the client's ``notifications/cancelled``, or a closed connection)
        cancels the approval request in the store, so nobody approves a call no one waits for."""
        request = step.request
        try:
            async with anyio.create_task_group() as group:
                if token is not None:
                    group.start_soon(self._progress, session, token, request, request_id)
                decided = await self.guard.broker.wait_async(request.id, step.deadline)
                group.cancel_scope.cancel()
            return decided
        except anyio.get_cancelled_exc_class():
            self._cancel(request, run_id)
            raise

    def _cancel(self, request: ApprovalRequest, run_id: str) -> None:
        try:
            self.guard.broker.cancel(
                request.id, self.guard.principal.agent, "the MCP client cancelled the call"
            )
        except Exception as exc:  # noqa: BLE001 - the request expires on its own
            log.error("could not cancel approval request %s (run %s): %s", request.id, run_id, exc)

    async def _progress(
        self, session: Any, token: str | int, request: ApprovalRequest, request_id: types.RequestId
    ) -> None:
        rule = f"rule '{request.rule_id}'" if request.rule_id else "the policy's default"
        message = (
            f"Waiting for approval request {request.id} ({rule}); a reviewer decides it with "
            f"`guardrails-plugin approve {request.id}` or `deny`, or in Slack."
        )
        beat = 0
        while True:
            beat += 1
            try:
                await session.send_progress_notification(
                    token, float(beat), None, message, related_request_id=str(request_id)
                )
            except Exception as exc:  # noqa: BLE001 - progress never changes the decision
                log.warning("progress notification for request %s failed: %s", request.id, exc)
                return
            await anyio.sleep(self.progress_interval)
