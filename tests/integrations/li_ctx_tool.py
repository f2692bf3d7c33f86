# No `from __future__ import annotations` here: LlamaIndex spots the Context parameter by its
# real annotation, and a string annotation would hide it.
from llama_index.core.workflow import Context


def make_remember(record):  # type: ignore[no-untyped-def]
    async def remember(ctx: Context, note: str) -> str:
        """Store a note in the workflow state."""
        await ctx.store.set("note", note)
        record("remember", {"note": note})
        return f"remembered ({type(ctx).__name__})"

    return remember
