"""Which guard run a LlamaIndex tool call belongs to, and which tool call it is.

**The run is the conversation.** LlamaIndex continues a conversation in two ways: the app passes
the same workflow `Context` again (``agent.run(msg, ctx=ctx)``, or a context rebuilt from a
checkpoint with ``Context.from_dict``), or the same memory (``agent.run(msg, memory=memory)``;
a reused context alone does not keep the memory between runs). The guard keeps its conversation
id in the context's state store, where ``ctx.to_dict()`` saves it with the rest of the
conversation, and remembers, in this process, which conversation a memory object belongs to.
The id is minted at the first guarded call: random, and bound by an HMAC under the store's key
to the guard's principal (agent and the human it acts for).

So a placeholder the model saw in turn 1 is restored in turn 2, and a checkpointed context
resumes in the same run and finds its approval requests. Nothing is shared between
conversations: a new context with a new memory, another user's guard (another
``on_behalf_of``), or an id edited into a serialized context starts a conversation of its own.
Nobody picks the id — not the model, not the caller of the workflow — so nobody can name another
user's conversation; only what the app itself shares (one context or one memory object for two
users) is shared, and then the model already sees both users' messages.

The vault that restores placeholders lives in this process; a context resumed in another process
continues the run (its approval requests) with an empty vault, so earlier placeholders are
refused there, never guessed. Sync calls cannot read the state store and use the workflow run
(new at every ``agent.run()``); outside a workflow every call is a run of its own.

**The call is the model's tool call.** The agents' ``call_tool`` step runs on a ``ToolCall``
event whose ``tool_id`` is the model's id for the call; a resumed workflow replays the step with
the same event, so that id is the approval request's idempotency key and a resumed run finds the
request it made before it was checkpointed.
"""

from __future__ import annotations

import functools
import hmac
import logging
import secrets
import threading
import weakref
from collections import OrderedDict
from typing import Any

from workflows import Context
from workflows.errors import WorkflowRuntimeError
from workflows.plugins.basic import get_current_run_id

from guardrails_plugin.guard import Guard, RunContext
from guardrails_plugin.store.events import Event

__all__ = ["STATE_KEY", "call_id", "conversation_run", "step_context", "workflow_run"]

log = logging.getLogger(__name__)

STATE_KEY = "guardrails_conversation"  # the key in the context's state store
_SCOPE = "llamaindex-conversation/v1"


def step_context() -> Context | None:
    """The `Context` of the workflow step this call runs in, or None outside a workflow."""
    try:
        return Context.get_step_context()
    except (WorkflowRuntimeError, LookupError):
        return None


async def conversation_run(guard: Guard, ctx: Context | None) -> RunContext:
    """The guard run of ``ctx``'s conversation (see the module docstring)."""
    if ctx is None:
        return guard.run()
    refused = False
    try:
        token = await ctx.store.get(STATE_KEY, default=None)
        conversation = _verified(guard, token)
        if conversation is None:
            refused = token is not None
            memory = await ctx.store.get("memory", default=None)
            conversation = _CONVERSATIONS.of(memory, get_current_run_id())
            await ctx.store.set(STATE_KEY, _token(guard, conversation))
    except Exception as exc:  # noqa: BLE001 - a typed state without our key: per workflow run
        log.warning("cannot keep the guard's conversation id in this context's state: %s", exc)
        return workflow_run(guard)
    run = guard.run(f"llamaindex:{conversation}")
    if refused:
        _audit_refused(guard, run)
    return run


def _audit_refused(guard: Guard, run: RunContext) -> None:
    """A conversation id that does not verify: edited, or minted by a guard of another
    principal or store key. The call goes on in a new conversation; the log keeps the sign."""
    log.warning("the guard's conversation id in this context does not verify: a new conversation")
    try:
        data = {"key": f"context.{STATE_KEY}", "source": "llamaindex", "why": "does not verify"}
        guard.audit(Event.RUN_CONFIG_REFUSED, run=run, data=data, durable=False)
    except Exception as exc:  # noqa: BLE001 - the new conversation shares nothing anyway
        log.error("could not audit a conversation id that does not verify: %s", exc)


def workflow_run(guard: Guard) -> RunContext:
    """The run of the current workflow run (sync calls), or a run of its own outside one."""
    run_id = get_current_run_id()
    return guard.run(f"llamaindex:{run_id}" if run_id else None)


class _Conversations:
    """The conversation of a memory object (while it lives), or else of a workflow run.

    Looked up and minted without an ``await`` in between, so the parallel tool calls of a
    turn, which share the memory and the run, get one conversation."""

    def __init__(self, max_runs: int = 1024) -> None:
        self._lock = threading.RLock()  # a weakref callback may run inside `of`
        self._by_memory: dict[int, tuple[weakref.ref[Any], str]] = {}
        self._by_run: OrderedDict[str, str] = OrderedDict()
        self._max_runs = max_runs

    def of(self, memory: Any, run_id: str | None) -> str:
        with self._lock:
            if memory is not None:
                return self._of_memory(memory)
            if run_id is None:
                return secrets.token_hex(16)
            found = self._by_run.setdefault(run_id, secrets.token_hex(16))
            self._by_run.move_to_end(run_id)
            while len(self._by_run) > self._max_runs:
                self._by_run.popitem(last=False)
            return found

    def _of_memory(self, memory: Any) -> str:
        key = id(memory)
        entry = self._by_memory.get(key)
        if entry is not None and entry[0]() is memory:
            return entry[1]
        conversation = secrets.token_hex(16)
        try:
            ref = weakref.ref(memory, functools.partial(self._forget, key))
        except TypeError:  # not weakly referenceable: this context's own conversation
            return conversation
        self._by_memory[key] = (ref, conversation)
        return conversation

    def _forget(self, key: int, ref: weakref.ref[Any]) -> None:
        with self._lock:
            entry = self._by_memory.get(key)
            if entry is not None and entry[0] is ref:
                del self._by_memory[key]


_CONVERSATIONS = _Conversations()


def _token(guard: Guard, conversation: str) -> str:
    return f"{conversation}.{_mac(guard, conversation)}"


def _mac(guard: Guard, conversation: str) -> str:
    principal = guard.principal
    return guard.store.keyed_hash(
        {
            "scope": _SCOPE,
            "conversation": conversation,
            "agent": principal.agent,
            "on_behalf_of": principal.on_behalf_of,
        }
    )


def _verified(guard: Guard, token: Any) -> str | None:
    """The conversation id of a token this guard minted, else None."""
    if not isinstance(token, str) or token.count(".") != 1:
        return None
    conversation, mac = token.split(".")
    if not conversation or not hmac.compare_digest(mac, _mac(guard, conversation)):
        return None
    return conversation


def call_id(tool_name: str) -> str | None:
    """The model's id of this tool call, when the agent's ``call_tool`` step is running it."""
    try:
        from workflows.runtime.types.results import StepWorkerStateContextVar

        event = StepWorkerStateContextVar.get().event
    except (ImportError, LookupError):
        return None
    tool_id = getattr(event, "tool_id", None)
    if getattr(event, "tool_name", None) != tool_name or not isinstance(tool_id, str):
        return None  # a tool called by other code inside the step is not that call
    return tool_id or None
