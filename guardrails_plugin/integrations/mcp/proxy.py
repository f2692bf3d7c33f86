"""The gateway's MCP server: the upstream's tools, every call through the Guard.

    client ──tools/call──► GuardedProxy ──Guard.acall──► upstream ClientSession ──► MCP server
                              │  (mask, policy, approval: progress while waiting,
                              │   cancellation cancels the request in the store)
                              └─◄── masked content blocks and structuredContent, or isError

- ``tools/list`` is the upstream's answer, unchanged (names, descriptions, schemas, annotations),
  except a tool named like a read below (``resources/read``, ``prompts/get``), which is hidden.
- ``tools/call``: `Guard.acall` with the MCP session as the run (one vault per session), for a
  name the upstream listed only: any other name is refused before the guard (the audit holds it
  masked, as ``tool.unlisted``), so a hidden tool is never reached and a value written into a
  name never reaches the audit or a span. Arguments must fit the tool's listed ``inputSchema``
  with JSON Schema's strict types, checked before the policy judges them and again for a
  reviewer's edit and for values restored from placeholders: the upstream's SDK would coerce
  ``"false"`` to False after the policy judged the string (refused: ``tool.args_refused``).
  A denial, a failed upstream (crashed, disconnected, raised, over ``upstream_timeout``) or a
  result that cannot be masked is a tool result with ``isError: true`` and one sentence; the
  client is never left hanging. A client's cancel is sent on upstream
  (``notifications/cancelled``), and the audit records the call as interrupted.
- ``resources/read`` and ``prompts/get`` are guarded calls too, under the tool names
  ``resources/read`` (argument ``uri``) and ``prompts/get`` (``name``, ``arguments``): the
  policy judges them, their contents are masked, binary contents withheld, and both are audited.
  The listings (resources, templates, prompts) are forwarded unchanged.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
import weakref
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import anyio
import jsonschema
from mcp import ClientSession, types
from mcp.server.lowlevel import Server
from mcp.shared.exceptions import McpError
from pydantic import BaseModel

from guardrails_plugin.flow import Outcome, Wait
from guardrails_plugin.guard import Guard, Prepare
from guardrails_plugin.integrations.mcp.results import (
    as_data,
    error_result,
    from_data,
    prompt_as_data,
    prompt_from_data,
    resource_as_data,
    resource_from_data,
)
from guardrails_plugin.masking import Vault
from guardrails_plugin.store.events import Event
from guardrails_plugin.store.records import ApprovalRequest

__all__ = ["GET_PROMPT", "READ_RESOURCE", "GuardedProxy", "UpstreamClosed", "UpstreamTimeout"]

log = logging.getLogger(__name__)

# The tool names under which the policy and the audit see reads (docs/mcp.md, docs/policy.md).
READ_RESOURCE = "resources/read"
GET_PROMPT = "prompts/get"
_RESERVED = frozenset({READ_RESOURCE, GET_PROMPT})

# Listings forwarded as they are, by the capability the upstream must declare for them.
_PASSTHROUGH: tuple[tuple[str, type[Any], type[Any]], ...] = (
    ("resources", types.ListResourcesRequest, types.ListResourcesResult),
    ("resources", types.ListResourceTemplatesRequest, types.ListResourceTemplatesResult),
    ("prompts", types.ListPromptsRequest, types.ListPromptsResult),
)

# A call for a name the gateway has not seen listed re-lists the upstream's tools at most this
# often (and once after each ``tools/list_changed``), never once per call: a client sending
# made-up names cannot make the gateway flood the upstream with ``tools/list``.
RELIST_INTERVAL = 30.0
_MAX_PAGES = 100  # of a tools/list answer followed by cursor
_MAX_NAME = 200  # characters of a refused (masked) name kept in the audit

_Result = TypeVar("_Result", bound=BaseModel)


_CLOSED = (
    "the connection to the upstream MCP server is closed (it exited or crashed); "
    "restart the gateway"
)


class UpstreamClosed(ConnectionError):
    """The upstream server is gone: every call from now on fails with this, at once."""


class UpstreamTimeout(TimeoutError):
    """The upstream server did not answer within the gateway's time limit (it was cancelled)."""


class ArgumentsRefused(ValueError):
    """A call's arguments do not fit its tool's listed input schema. The message names the
    schema's part (the upstream's text), never the client's values."""


def _schema_check(tool: str, schema: dict[str, Any] | None) -> Prepare:
    """What the upstream will accept for ``tool``: its arguments, unchanged, when they fit
    ``schema`` with JSON Schema's strict types (``"false"`` is no boolean, ``0`` neither), else
    `ArgumentsRefused`. The upstream's SDK (pydantic in FastMCP) would coerce them after the
    policy judged them as sent, so the policy would judge a value the tool never gets."""

    def check(args: Mapping[str, Any]) -> dict[str, Any]:
        args = dict(args)
        try:
            if schema is None:  # pragma: no cover - the SDK's Tool requires one
                raise jsonschema.SchemaError("no input schema listed")
            validator_class = jsonschema.validators.validator_for(
                schema, default=jsonschema.Draft202012Validator
            )
            validator_class.check_schema(schema)
            error = jsonschema.exceptions.best_match(validator_class(schema).iter_errors(args))
        except Exception as exc:  # noqa: BLE001 - a schema the gateway cannot apply: refused
            raise ArgumentsRefused(
                f"Denied: the input schema the upstream lists for {tool!r} cannot be checked "
                f"({type(exc).__name__}), so the call was not made."
            ) from None
        if error is not None:
            where = "/".join(str(part) for part in error.schema_path) or "the schema"
            raise ArgumentsRefused(
                f"Denied: the arguments of {tool!r} do not fit the tool's input schema (at "
                f"{where}), so the call was not made; send values of the listed types."
            )
        return args

    return check


def _denied_read(message: str) -> McpError:
    """A refused read: ``resources/read`` and ``prompts/get`` have no error result, so the
    client gets a JSON-RPC error carrying the guard's sentence."""
    return McpError(types.ErrorData(code=types.INVALID_REQUEST, message=message))


def _trace_parent(meta: Any) -> contextlib.AbstractContextManager[Any]:
    """The W3C trace context the client sent in the request's ``_meta`` (``traceparent``,
    ``tracestate``), current while the call is guarded, so the gateway's span is its child."""
    extra = getattr(meta, "model_extra", None) or {}
    carrier = {k: v for k in ("traceparent", "tracestate") if isinstance(v := extra.get(k), str)}
    if "traceparent" not in carrier:
        return contextlib.nullcontext()
    try:
        from guardrails_plugin.integrations.otel import remote_parent
    except ImportError:  # no OpenTelemetry: no spans to parent
        return contextlib.nullcontext()
    return remote_parent(carrier)


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
    approval (when the client asked for progress with a ``progressToken``).
    ``upstream_timeout``: seconds the upstream may take to answer one call or read (not counting
    the wait for approval); past it the request is cancelled upstream and the call fails."""

    def __init__(
        self,
        guard: Guard,
        upstream: ClientSession,
        upstream_info: types.InitializeResult,
        *,
        progress_interval: float = 10.0,
        upstream_timeout: float = 300.0,
    ) -> None:
        self.guard = guard
        self.upstream = upstream
        self.progress_interval = progress_interval
        self.upstream_timeout = upstream_timeout
        name = upstream_info.serverInfo.name
        self.server: Server[Any, Any] = Server(
            f"guardrails-plugin ({name})",
            version=upstream_info.serverInfo.version,
            instructions=upstream_info.instructions,
        )
        self._runs: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()
        # Output schemas as listed: a masked structuredContent must still satisfy its tool's,
        # or the client's SDK rejects the whole result (it validates against the listing).
        # Its keys are the names the upstream listed: the only ones a client may call.
        self._output_schemas: dict[str, dict[str, Any] | None] = {}
        # Input schemas as listed: arguments are checked against them (`_schema_check`).
        self._input_schemas: dict[str, dict[str, Any]] = {}
        self._listed_at: float | None = None  # monotonic time of the last full listing
        self._relisting: anyio.Lock | None = None
        handlers = self.server.request_handlers
        handlers[types.ListToolsRequest] = self._list_tools
        handlers[types.CallToolRequest] = self._call_tool
        offered = upstream_info.capabilities
        for capability, request_type, result_type in _PASSTHROUGH:
            if getattr(offered, capability) is not None:
                handlers[request_type] = self._forward(result_type)
        if offered.resources is not None:
            handlers[types.ReadResourceRequest] = self._read_resource
        if offered.prompts is not None:
            handlers[types.GetPromptRequest] = self._get_prompt

    def initialization_options(self) -> Any:
        return self.server.create_initialization_options()

    # --- pass-through ----------------------------------------------------------------------

    def _forward(self, result_type: type[Any]) -> Callable[[Any], Awaitable[types.ServerResult]]:
        async def forward(request: Any) -> types.ServerResult:
            result = await self._send(_onward(request), result_type, request.method)
            return types.ServerResult(result)

        return forward

    async def _send(
        self, request: types.ClientRequest, result_type: type[_Result], what: str
    ) -> _Result:
        """``request`` to the upstream, within ``upstream_timeout``. When the time runs out, or
        the client cancels (the handler's task is cancelled), the upstream is told
        (``notifications/cancelled``), so its tool does not run on for no one."""
        session = self.upstream
        # SDK 1.x numbers requests from this counter, read by send_request before its first
        # await: nothing else can send in between, so this is the id the request goes out with.
        request_id = session._request_id
        try:
            with anyio.fail_after(self.upstream_timeout):
                return await session.send_request(request, result_type)
        except TimeoutError:
            await self._cancel_upstream(request_id, "the gateway's time limit passed")
            raise UpstreamTimeout(
                f"the upstream MCP server did not answer {what} within "
                f"{self.upstream_timeout:g} s (--upstream-timeout), so the gateway cancelled it"
            ) from None
        except anyio.get_cancelled_exc_class():
            with anyio.CancelScope(shield=True):
                await self._cancel_upstream(request_id, "the MCP client cancelled the call")
            raise
        except (anyio.ClosedResourceError, anyio.BrokenResourceError) as exc:
            raise UpstreamClosed(_CLOSED) from exc
        except McpError as exc:
            if exc.error.code == types.CONNECTION_CLOSED:
                raise UpstreamClosed(_CLOSED) from exc
            raise

    async def _cancel_upstream(self, request_id: int, reason: str) -> None:
        notice = types.CancelledNotification(
            params=types.CancelledNotificationParams(requestId=request_id, reason=reason)
        )
        try:
            with anyio.move_on_after(5):  # a wedged pipe must not hold the client's answer
                await self.upstream.send_notification(types.ClientNotification(notice))
        except Exception as exc:  # noqa: BLE001 - best effort: the upstream decides anyway
            log.warning("could not cancel upstream request %s: %s", request_id, exc)

    # --- the tool listing --------------------------------------------------------------------

    async def _list_tools(self, request: types.ListToolsRequest) -> types.ServerResult:
        result = await self._send(_onward(request), types.ListToolsResult, "tools/list")
        result = result.model_copy(update={"tools": self._offered(result.tools)})
        if (request.params is None or request.params.cursor is None) and not result.nextCursor:
            # A whole listing in one answer replaces the known names; pages only add to them
            # (a client that has not fetched page 2 yet may still call its tools).
            self._output_schemas, self._input_schemas = {}, {}
            self._listed_at = time.monotonic()
        self._remember(result.tools)
        return types.ServerResult(result)

    @staticmethod
    def _offered(tools: list[types.Tool]) -> list[types.Tool]:
        reserved = [tool.name for tool in tools if tool.name in _RESERVED]
        if reserved:
            log.warning("the upstream lists tools named %s; they are hidden (reads)", reserved)
        return [tool for tool in tools if tool.name not in _RESERVED]

    def _remember(self, tools: list[types.Tool]) -> None:
        self._output_schemas.update({tool.name: tool.outputSchema for tool in tools})
        self._input_schemas.update({tool.name: tool.inputSchema for tool in tools})

    def listing_changed(self) -> None:
        """The upstream said its tools changed (``notifications/tools/list_changed``): the next
        call for a name not (or no longer) listed re-lists at once."""
        self._listed_at = None

    async def _listed(self, name: str) -> bool:
        """Whether the upstream lists ``name`` (compared exactly, as the upstream looks it up).
        A miss re-lists at most once per `RELIST_INTERVAL` or ``list_changed``."""
        if name in self._output_schemas and self._listed_at is not None:
            return True
        if self._relisting is None:
            self._relisting = anyio.Lock()
        async with self._relisting:
            fresh = self._listed_at is not None and (
                time.monotonic() - self._listed_at < RELIST_INTERVAL
            )
            if not fresh:
                await self._relist()
        return name in self._output_schemas

    async def _relist(self) -> None:
        tools: list[types.Tool] = []
        cursor: str | None = None
        for _page in range(_MAX_PAGES):
            params = types.PaginatedRequestParams(cursor=cursor) if cursor else None
            request = types.ClientRequest(types.ListToolsRequest(params=params))
            page = await self._send(request, types.ListToolsResult, "tools/list")
            tools.extend(page.tools)
            cursor = page.nextCursor
            if not cursor:
                break
        self._output_schemas, self._input_schemas = {}, {}
        self._remember(self._offered(tools))
        self._listed_at = time.monotonic()

    # --- guarded calls -----------------------------------------------------------------------

    def _run_id(self, session: Any) -> str:
        """One run per MCP session: its placeholders are numbered and restored within it."""
        run_id = self._runs.get(session)
        if run_id is None:
            run_id = self._runs[session] = f"mcp_{uuid.uuid4().hex}"
        return run_id

    async def _guarded(
        self,
        tool: str,
        arguments: dict[str, Any],
        fn: Callable[[dict[str, Any]], Awaitable[Any]],
        prepare: Prepare | None = None,
    ) -> Outcome:
        """``fn`` through `Guard.acall` as ``tool``, in the session's run, with progress while
        the call waits and the client's trace context as the span's parent."""
        context = self.server.request_context
        run = self.guard.run(self._run_id(context.session))
        token = context.meta.progressToken if context.meta is not None else None

        async def wait(step: Wait) -> ApprovalRequest:
            return await self._wait(step, context.session, token, context.request_id, run.run_id)

        with _trace_parent(context.meta):
            return await self.guard.acall(
                tool,
                arguments,
                fn,
                # A fresh id per call: JSON-RPC ids repeat across sessions, and an approval
                # request found by a repeated id would be another call's.
                call_id=f"mcp_{uuid.uuid4().hex}",
                run=run,
                wait=wait,
                prepare=prepare,
            )

    async def _call_tool(self, request: types.CallToolRequest) -> types.ServerResult:
        name = request.params.name
        if name in _RESERVED or not await self._listed(name):
            return types.ServerResult(self._unlisted(name))
        arguments = dict(request.params.arguments or {})
        check = _schema_check(name, self._input_schemas.get(name))
        try:
            check(arguments)
        except ArgumentsRefused as exc:
            return types.ServerResult(self._refused_arguments(name, exc))

        async def call_upstream(args: dict[str, Any]) -> dict[str, Any]:
            onward = types.CallToolRequest(
                params=types.CallToolRequestParams(name=name, arguments=args)
            )
            result = await self._send(
                types.ClientRequest(onward), types.CallToolResult, f"the call of {name!r}"
            )
            return as_data(result)

        # ``prepare``: a reviewer's edit and the values behind placeholders are checked too.
        outcome = await self._guarded(name, arguments, call_upstream, prepare=check)
        return types.ServerResult(await self._result(name, outcome))

    def _refused_arguments(self, name: str, exc: ArgumentsRefused) -> types.CallToolResult:
        """Arguments that do not fit the listed schema: refused before the policy, which would
        judge values the upstream never receives. The audit row names the tool (a listed name)
        and the schema's part only, no value of the client's."""
        context = self.server.request_context
        run = self.guard.run(self._run_id(context.session))
        try:
            self.guard.audit(
                Event.TOOL_ARGS_REFUSED,
                run=run,
                data={"tool": name, "why": str(exc)},
                durable=False,
            )
        except Exception as write_error:  # noqa: BLE001 - refused either way
            log.error("audit write failed for refused arguments of %r: %s", name, write_error)
        log.warning("refused a call of %r: %s", name, exc)
        return error_result(str(exc))

    def _unlisted(self, name: str) -> types.CallToolResult:
        """A name the upstream did not list: refused before the guard, so the name (client text,
        which may carry a value the model was told to leak) is audited and echoed masked only,
        and no span is made of it."""
        context = self.server.request_context
        run = self.guard.run(self._run_id(context.session))
        try:
            # A throwaway vault: made-up names must add no placeholders to the session's run.
            shown = str(self.guard.masker.mask(name, vault=Vault()).value)[:_MAX_NAME]
        except Exception as exc:  # noqa: BLE001 - the name is not shown at all then
            log.error("could not mask a refused tool name: %s", type(exc).__name__)
            shown = "(a name that could not be masked)"
        try:
            self.guard.audit(Event.TOOL_UNLISTED, run=run, data={"tool": shown}, durable=False)
        except Exception as exc:  # noqa: BLE001 - refused either way
            log.error("audit write failed for an unlisted tool: %s", exc)
        log.warning("refused a call of %r: the upstream does not list it", shown)
        return error_result(
            f"Denied: the upstream MCP server does not list a tool named {shown!r}; call one "
            "of the tools in tools/list."
        )

    async def _read_resource(self, request: types.ReadResourceRequest) -> types.ServerResult:
        async def read(args: dict[str, Any]) -> dict[str, Any]:
            onward = types.ReadResourceRequest(
                params=types.ReadResourceRequestParams(uri=args["uri"])
            )
            result = await self._send(
                types.ClientRequest(onward), types.ReadResourceResult, READ_RESOURCE
            )
            return resource_as_data(result)

        outcome = await self._guarded(READ_RESOURCE, {"uri": str(request.params.uri)}, read)
        output = self._read_output(READ_RESOURCE, outcome)
        try:
            return types.ServerResult(resource_from_data(output))
        except ValueError as exc:
            raise self._withheld(READ_RESOURCE, exc) from None

    async def _get_prompt(self, request: types.GetPromptRequest) -> types.ServerResult:
        async def get(args: dict[str, Any]) -> dict[str, Any]:
            onward = types.GetPromptRequest(
                params=types.GetPromptRequestParams(
                    name=args["name"], arguments=args.get("arguments") or None
                )
            )
            result = await self._send(
                types.ClientRequest(onward), types.GetPromptResult, GET_PROMPT
            )
            return prompt_as_data(result)

        arguments = {"name": request.params.name, "arguments": dict(request.params.arguments or {})}
        outcome = await self._guarded(GET_PROMPT, arguments, get)
        output = self._read_output(GET_PROMPT, outcome)
        try:
            return types.ServerResult(prompt_from_data(output))
        except ValueError as exc:
            raise self._withheld(GET_PROMPT, exc) from None

    @staticmethod
    def _read_output(what: str, outcome: Outcome) -> Any:
        if outcome.failed:
            raise _denied_read(f"The upstream MCP server failed on {what}: {outcome.message}")
        if not outcome.allowed:
            raise _denied_read(outcome.message)
        return outcome.output

    @staticmethod
    def _withheld(what: str, exc: ValueError) -> McpError:
        log.error("masked %s withheld: %s", what, str(exc).splitlines()[0])
        return _denied_read(
            f"Denied: the {what} result, once masked, is no longer a valid result, so it is "
            "withheld."
        )

    async def _result(self, name: str, outcome: Outcome) -> types.CallToolResult:
        if outcome.failed:
            return error_result(f"The upstream MCP server failed on {name!r}: {outcome.message}")
        if not outcome.allowed:
            return error_result(outcome.message)
        try:
            result = from_data(outcome.output)
            if result.structuredContent is not None and not result.isError:
                schema = self._output_schemas.get(name)
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
        failure: Exception | None = None
        try:
            async with anyio.create_task_group() as group:
                if token is not None:
                    group.start_soon(self._progress, session, token, request, request_id)
                try:
                    decided = await self.guard.broker.wait_async(request.id, step.deadline)
                except Exception as exc:  # noqa: BLE001 - re-raised below, outside the group
                    failure = exc
                group.cancel_scope.cancel()
        except anyio.get_cancelled_exc_class():
            self._cancel(request, run_id)
            raise
        # Raised out of the task group it would reach the guard wrapped in an ExceptionGroup,
        # and an `ApprovalTimeout` would read as "internal error".
        if failure is not None:
            raise failure
        return decided

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
