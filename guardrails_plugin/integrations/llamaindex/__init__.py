"""LlamaIndex: guard agents' tools by wrapping them.

LlamaIndex's instrumentation and callback manager can observe tool calls but not change or
block them (handler exceptions are swallowed), so the guard wraps tools: `guard_tools` /
`guard_tool`. `AuditSpanHandler` optionally records LLM and tool spans into the audit log.

Needs the ``llamaindex`` extra: ``pip install 'guardrails-plugin[llamaindex]'``.
"""

from guardrails_plugin.integrations.llamaindex.events import (
    ApprovalDecidedEvent,
    ApprovalRequiredEvent,
)
from guardrails_plugin.integrations.llamaindex.spans import AuditSpanHandler, install_audit_handler
from guardrails_plugin.integrations.llamaindex.tools import (
    GuardedFunctionTool,
    GuardedTool,
    guard_tool,
    guard_tools,
)

__all__ = [
    "ApprovalDecidedEvent",
    "ApprovalRequiredEvent",
    "AuditSpanHandler",
    "GuardedFunctionTool",
    "GuardedTool",
    "guard_tool",
    "guard_tools",
    "install_audit_handler",
]
