"""LangChain and LangGraph: three ways to put the guard in front of tools.

- `guard_tools` / `guard_tool`: wrap tools; works with any agent. The wrapper keeps the tool's
  schema, fields and kind (a classic ``Tool`` stays a ``Tool``); denials come back to the model
  as ``ToolMessage(status="error")`` and outputs are masked.
- `GuardMiddleware`: for ``langchain.agents.create_agent``; blocking or LangGraph-interrupt mode.
- `GuardCallbackHandler`: when you can only add a callback. It audits and blocks, but cannot mask
  or hand the model a refusal (LangChain ignores callback return values): prefer the other two.

Needs the ``langchain`` extra: ``pip install 'guardrails-plugin[langchain]'``.
"""

from guardrails_plugin.integrations.langchain.callbacks import GuardCallbackHandler
from guardrails_plugin.integrations.langchain.middleware import GuardMiddleware, resume_decided
from guardrails_plugin.integrations.langchain.tools import GuardedTool, guard_tool, guard_tools

__all__ = [
    "GuardCallbackHandler",
    "GuardMiddleware",
    "GuardedTool",
    "guard_tool",
    "guard_tools",
    "resume_decided",
]
