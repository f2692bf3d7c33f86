"""Issue 12 #5: outputs that are objects reached the model unmasked, or masked as plain dicts.

A tool returning a pydantic model, a dataclass, a list of ``Document``s, a ``ToolMessage`` or a
LangGraph ``Command(update={"messages": [ToolMessage(...)]})`` must reach the model masked and
as the same type. The masker converted objects to plain data: they were masked but lost their
type (the model read JSON instead of the tool's own text, a ``Command`` became a ``ToolMessage``
holding a dict and stopped steering the graph, an artifact of ``Document``s became dicts). Now
the masker walks an object's fields and rebuilds the same type with masked values, unvalidated;
what it cannot walk is refused, never passed raw.

Each case runs the original tool and the guarded one (`guard_tools` and `GuardMiddleware`, sync
and async) and asserts that the guarded result is the original's with the canaries replaced by
their placeholders, and that no canary reaches the audit database files.
Properties (shared/research/RELIABILITY.md): P10 (what cannot be masked is withheld), P11 (no
plaintext personal data in what the model reads or in the database, WAL and -shm files).
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import json
import threading
from pathlib import Path
from typing import Annotated, Any, NamedTuple

import pytest
from langchain_core.documents import Document
from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool, InjectedToolCallId, tool
from langgraph.types import Command, Send
from pydantic import BaseModel, ConfigDict, PrivateAttr

from guardrails_plugin.errors import InputTooLarge, UnsupportedValue
from guardrails_plugin.integrations.langchain import guard_tool
from guardrails_plugin.masking import Masker
from guardrails_plugin.store import Event

from ..security.agents import VARIANTS, agent_for, events, make_guard, run, tool_call
from ..security.conftest import stored_bytes

EMAIL = "olga.brandt@example.org"
IBAN = "DE89370400440532013000"
CANARIES = {
    EMAIL: "<EMAIL_1>",
    IBAN: "<IBAN_1>",
    "Olga": "<PERSON_1>",
}  # a given name beside an email is a person (issue 13)

POLICY = """
version: 1
defaults: {effect: allow}
"""


def masked(text: str) -> str:
    """``text`` as the model must read it: each canary replaced by its placeholder."""
    for raw, placeholder in CANARIES.items():
        text = text.replace(raw, placeholder)
    return text


def assert_no_canary(value: Any) -> None:
    for raw in CANARIES:
        assert raw not in repr(value)


class Customer(BaseModel):
    name: str
    email: str
    iban: str


@dataclasses.dataclass(frozen=True)
class Invoice:
    number: str
    payer: Customer
    lines: tuple[str, ...]


def customer() -> Customer:
    return Customer(name="Olga", email=EMAIL, iban=IBAN)


@tool
def lookup_customer(customer_id: int) -> Customer:
    """A pydantic model."""
    return customer()


@tool
def read_invoice(number: str) -> Invoice:
    """A frozen dataclass holding a pydantic model."""
    return Invoice(number, customer(), (f"paid from {IBAN}", f"receipt to {EMAIL}"))


def documents() -> list[Document]:
    return [
        Document(page_content=f"Contact: {EMAIL}", metadata={"source": "crm", "iban": IBAN}),
        Document(page_content="No personal data here.", metadata={"source": "wiki"}),
    ]


@tool
def search_documents(query: str) -> list[Document]:
    """A list of Documents as the output."""
    return documents()


@tool(response_format="content_and_artifact")
def search_with_artifact(query: str) -> tuple[str, list[Document]]:
    """Text for the model, the Documents as the artifact."""
    return f"2 documents, the first mentions {EMAIL}", documents()


@tool
def answer_message(customer_id: int, tool_call_id: Annotated[str, InjectedToolCallId]) -> Any:
    """A ToolMessage the tool builds itself, with an artifact."""
    return ToolMessage(
        f"Customer {EMAIL}",
        tool_call_id=tool_call_id,
        artifact=customer(),
        name="answer_message",
        additional_kwargs={"contact": EMAIL},
        response_metadata={"source": "crm"},
    )


@tool
def update_state(customer_id: int, tool_call_id: Annotated[str, InjectedToolCallId]) -> Any:
    """A Command that updates the graph's messages."""
    message = ToolMessage(
        f"Customer {EMAIL}, IBAN {IBAN}", tool_call_id=tool_call_id, name="update_state"
    )
    return Command(update={"messages": [message]})


TOOLS: dict[str, tuple[BaseTool, dict[str, Any]]] = {
    "pydantic": (lookup_customer, {"customer_id": 7}),
    "dataclass": (read_invoice, {"number": "R-1"}),
    "documents": (search_documents, {"query": "olga"}),
    "artifact": (search_with_artifact, {"query": "olga"}),
    "message": (answer_message, {"customer_id": 7}),
    "command": (update_state, {"customer_id": 7}),
}
# The tools whose output LangChain returns as it is when invoked with plain arguments.
PLAIN_ARGS = ["pydantic", "dataclass", "documents"]


def assert_audit_clean(guard: Any, db: Path) -> None:
    """The output's audit row holds the classes found, nothing of the output itself; no canary
    is in the database, its WAL or its shared memory."""
    rows = events(guard, Event.TOOL_EXECUTED)
    assert rows, "the call was not audited"
    for row in rows:
        assert set(row) == {"tool", "elapsed_ms", "output_classes", "run_id"}
        assert set(row["output_classes"]) <= {"EMAIL", "IBAN", "PERSON"}
    stored = stored_bytes(db)
    for raw in CANARIES:
        assert raw.encode() not in stored


# --- the masker --------------------------------------------------------------------------------


class Row(NamedTuple):
    email: str
    count: int


@pytest.fixture(scope="module")
def masker() -> Masker:
    return Masker(ner=False)


OBJECTS: dict[str, Any] = {
    "pydantic": customer(),
    "dataclass": Invoice("R-1", customer(), (f"paid from {IBAN}",)),
    "documents": documents(),
    "message": ToolMessage(f"mail {EMAIL}", tool_call_id="call_1", artifact={"iban": IBAN}),
    "content blocks": ToolMessage(
        [{"type": "text", "text": f"mail {EMAIL}"}, {"type": "text", "text": "bye"}],
        tool_call_id="call_1",
    ),
    "command": Command(
        update={"messages": [ToolMessage(f"mail {EMAIL}", tool_call_id="call_1")]},
        goto=[Send("notify", {"to": EMAIL, "iban": IBAN})],
    ),
    "named tuple": Row(EMAIL, 3),
}


@pytest.mark.parametrize("kind", list(OBJECTS))
def test_the_masker_gives_back_the_same_type(kind: str, masker: Masker) -> None:
    """Issue 12 #5: the masker turned objects into dicts; now each comes back as its own type,
    every field masked, nothing raw left in it."""
    original = OBJECTS[kind]
    result = masker.mask(original).value
    assert type(result) is type(original)
    if isinstance(original, list):
        assert [type(d) for d in result] == [type(d) for d in original]
    assert_no_canary(result)
    if kind == "command":
        # Send is no dataclass: the LangChain integration teaches the walk its two fields.
        assert type(result.goto[0]) is Send and result.goto[0].node == "notify"
        assert repr(result) == masked(repr(original))
    else:
        assert repr(result) == masked(repr(original))
    assert "<EMAIL_1>" in repr(result)


def test_an_object_with_nothing_to_mask_is_returned_as_it_is(masker: Masker) -> None:
    """Nothing found: the very object comes back (no copy, no rebuilt instance)."""
    doc = Document(page_content="No personal data here.", metadata={"source": "wiki"})
    assert masker.mask(doc).value is doc
    assert masker.mask([doc]).value[0] is doc


def test_a_rebuilt_model_keeps_what_was_set_extras_and_private_values(masker: Masker) -> None:
    """The copy is the same model: which fields were set, extra fields (their keys are data
    too) and private attributes, all masked; no re-validation."""

    class Loose(BaseModel):
        model_config = ConfigDict(extra="allow", frozen=True)
        note: str
        default: str = "unset"
        _secret: str = PrivateAttr(default="")

    value = Loose(note=f"to {EMAIL}", **{EMAIL: "key", "iban": IBAN})
    value._secret = f"cached {EMAIL}"
    result = masker.mask(value).value
    assert type(result) is Loose
    assert result.model_fields_set == value.model_fields_set
    assert result.note == "to <EMAIL_1>" and result._secret == "cached <EMAIL_1>"
    assert result.model_extra == {"<EMAIL_1>": "key", "iban": "<IBAN_1>"}
    assert_no_canary(result.__dict__) and assert_no_canary(result.__pydantic_private__)


def test_a_cached_value_computed_from_raw_fields_is_dropped(masker: Masker) -> None:
    """A ``cached_property`` computed before masking holds raw text outside the fields: the copy
    does not carry it, it is computed again from the masked fields."""

    class Person(BaseModel):
        email: str

        @functools.cached_property
        def domain_and_user(self) -> str:
            return self.email.upper()

    value = Person(email=EMAIL)
    assert value.domain_and_user == EMAIL.upper()
    result = masker.mask(value).value
    assert EMAIL.upper() not in repr(result.__dict__)
    assert result.domain_and_user == "<EMAIL_1>".upper()


def test_objects_the_walk_cannot_read_are_refused(masker: Masker) -> None:
    """A field holding something the masker cannot check refuses the whole value, naming where
    it is; nothing is passed through raw."""

    @dataclasses.dataclass
    class Handle:
        owner: str
        lock: Any

    with pytest.raises(UnsupportedValue, match=r"\['lock'\]"):
        masker.mask(Handle(EMAIL, threading.Lock()))


def test_a_refusal_names_the_place_but_no_raw_key(tmp_path: Path) -> None:
    """The refusal names where the value is, and goes to the model and the audit log: a key
    that may be data (an email address as a key) is shown as ``[…]``, never raw (P11)."""
    guard = make_guard(tmp_path, POLICY)
    outcome = guard.call("lookup", {"id": 1}, lambda _args: {"by": {EMAIL: threading.Lock()}})
    assert not outcome.allowed and "withheld" in outcome.message
    denied = guard.call("lookup", {"by": {EMAIL: threading.Lock()}}, lambda _args: "ok")
    assert "['by'][…] is a _thread.lock" in denied.message
    errors = [str(r.data) for r in guard.store.audit_rows()]
    assert any("['by'][…] is a _thread.lock" in e for e in errors)
    assert EMAIL not in denied.message and EMAIL.encode() not in stored_bytes(tmp_path / "guard.db")


def test_a_dataclass_that_rejects_its_masked_values_is_refused(masker: Masker) -> None:
    """``dataclasses.replace`` runs the class's own ``__post_init__``; if that refuses the masked
    value, the output is refused (the guard withholds it), not returned raw."""

    @dataclasses.dataclass
    class Strict:
        email: str

        def __post_init__(self) -> None:
            if "@" not in self.email:
                raise ValueError("not an email address")

    with pytest.raises(UnsupportedValue, match="Strict"):
        masker.mask(Strict(EMAIL))


# --- the wrapper, called directly ----------------------------------------------------------------


@pytest.mark.parametrize("asynchronous", [False, True], ids=["invoke", "ainvoke"])
@pytest.mark.parametrize("kind", PLAIN_ARGS)
def test_the_wrapper_returns_the_masked_object(
    kind: str, asynchronous: bool, tmp_path: Path
) -> None:
    """Issue 12 #5: ``guard_tool(t).invoke(args)`` returned a dict where ``t.invoke(args)``
    returned a model, a dataclass or Documents."""
    inner, args = TOOLS[kind]
    guard = make_guard(tmp_path, POLICY)
    guarded = guard_tool(inner, guard)
    original = inner.invoke(args)
    result = asyncio.run(guarded.ainvoke(args)) if asynchronous else guarded.invoke(args)
    assert type(result) is type(original)
    assert repr(result) == masked(repr(original))
    assert_audit_clean(guard, tmp_path / "guard.db")


@pytest.mark.parametrize("asynchronous", [False, True], ids=["invoke", "ainvoke"])
@pytest.mark.parametrize("kind", list(TOOLS))
def test_the_wrapper_answers_a_tool_call_as_the_original(
    kind: str, asynchronous: bool, tmp_path: Path
) -> None:
    """Issue 12 #5: invoked with a tool call, the guarded tool answers with what the original
    answers (a ToolMessage with the tool's own text and artifact, or the tool's Command), masked."""
    inner, args = TOOLS[kind]
    guard = make_guard(tmp_path, POLICY)
    guarded = guard_tool(inner, guard)
    call = tool_call(inner.name, args, call_id="call_object_1")
    original = inner.invoke(call)
    result = asyncio.run(guarded.ainvoke(call)) if asynchronous else guarded.invoke(call)
    assert type(result) is type(original)
    assert repr(result) == masked(repr(original))
    assert_audit_clean(guard, tmp_path / "guard.db")


# --- real agents -------------------------------------------------------------------------------


def _seen(messages: list[ToolMessage]) -> list[tuple[Any, ...]]:
    """Each tool message whole (but its id, which the graph draws at random), and the type of
    its artifact."""
    return [(repr(m.model_dump(exclude={"id"})), type(m.artifact)) for m in messages]


@pytest.mark.parametrize("asynchronous", [False, True], ids=["invoke", "ainvoke"])
@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("kind", list(TOOLS))
def test_an_agent_reads_the_masked_object(
    kind: str, variant: str, asynchronous: bool, tmp_path: Path
) -> None:
    """Issue 12 #5: in a ``create_agent`` run, the tool messages of the guarded agent are the
    unguarded agent's with the canaries masked (a Command still updates the state, an artifact
    of Documents stays Documents)."""
    inner, args = TOOLS[kind]
    call = tool_call(inner.name, args, call_id="call_object_1")
    plain = run(agent_for("plain", None, [inner], call), asynchronous=asynchronous)
    guard = make_guard(tmp_path, POLICY)
    guarded = run(agent_for(variant, guard, [inner], call), asynchronous=asynchronous)
    assert len(plain) == 1
    expected = [tuple(masked(v) if isinstance(v, str) else v for v in m) for m in _seen(plain)]
    assert _seen(guarded) == expected
    assert_no_canary(guarded)
    assert_audit_clean(guard, tmp_path / "guard.db")


@pytest.mark.parametrize(
    "layout",
    [{}, {"indent": 2}, {"separators": (",", ":")}, {"indent": 4, "ensure_ascii": False}],
    ids=["default", "indent 2", "compact", "indent 4 utf-8"],
)
def test_json_text_keeps_its_layout(layout: dict[str, Any], masker: Masker) -> None:
    """Issue 12 #5 (MCP structured results): JSON inside a text was re-serialised in one layout,
    so the model read a pretty-printed result squeezed onto one line. Common layouts are kept."""
    record = {"id": 3, "name": "Olga", "city": "Köln", "email": EMAIL}
    text = "\n" + json.dumps(record, **layout) + "\n"
    assert masker.mask(text).value == masked(text)


def test_an_object_that_contains_itself_is_refused(masker: Masker) -> None:
    """A cycle through an object's fields is refused like a cycle through dicts."""

    @dataclasses.dataclass
    class Node:
        email: str
        children: list[Any]

    node = Node(EMAIL, [])
    node.children.append(node)
    with pytest.raises(InputTooLarge, match="cyclic"):
        masker.mask(node)


def test_sets_and_bytes_keep_their_type(masker: Masker) -> None:
    """Values the masker reads as data (a set, bytes) come back as that type when masked, and as
    the very value when nothing in them is masked."""
    result = masker.mask({"to": frozenset({EMAIL, "vip"}), "raw": f"mail {EMAIL}".encode()}).value
    assert result == {"to": frozenset({"<EMAIL_1>", "vip"}), "raw": b"mail <EMAIL_1>"}
    tags = {"vip", "new"}
    assert masker.mask({"tags": tags}).value["tags"] is tags
