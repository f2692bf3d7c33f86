"""Issue 11 #5 and #15 (first half): the masker could be stalled for minutes by one string, and
had no deadline.

The red team's 100 KB lowercase string held the GIL for ~100 s in one regex (NER's
lowercase-prose check); a benign CSV and a few thousand names cost seconds through quadratic
overlap resolution and name spreading. Masking is now linear in the input (docs/masking.md,
"Cost"; BENCHMARKS.md, "Masking under attack") and each call has a deadline that turns an
overrun into `MaskingTimeout`, which the guard denies (P1, P10, P16).

The size tests are not performance targets: each masks its payload in a child process that is
killed after a generous timeout (the new code needs seconds; the old code, quadratic or worse,
minutes). A child process, because the old code stalls inside one C-level regex call that holds
the GIL, which neither a signal nor a watchdog thread can interrupt.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from guardrails_plugin.errors import MaskingTimeout
from guardrails_plugin.guard import Guard
from guardrails_plugin.masking import Leaf, Masker, Span
from guardrails_plugin.masking.deadline import DEFAULT_DEADLINE_SECONDS, paused
from guardrails_plugin.policy import Policy
from guardrails_plugin.store import Event
from guardrails_plugin.store.sqlite import SQLiteStore
from guardrails_plugin.testing import FrozenClock

from ..helpers import KEY

REPO = Path(__file__).resolve().parents[2]
FIRST = ["Anna", "Bernd", "Carla", "Dieter", "Elena", "Farid", "Greta", "Hannes", "Ines", "Jonas"]


def distinct_names(count: int) -> list[str]:
    """``count`` different 'First Lastname' pairs (up to 56,160)."""
    names = [
        f"{FIRST[i % 10]} {chr(65 + (i // 10) % 26)}{'aeiouy'[(i // 260) % 6]}"
        f"{'nrstlm'[(i // 1560) % 6]}{'bdgkpv'[(i // 9360) % 6]}er"
        for i in range(count)
    ]
    assert len(set(names)) == count
    return names


SIZE_TIMEOUT = 60  # seconds; the new code needs under 15 on a loaded 2-core machine

CHILD = """
import json, sys
from guardrails_plugin.masking import Masker
from tests.security import test_masking_dos as t
payload = getattr(t, sys.argv[1])()
result = Masker(hash_key=b"k" * 32, **json.loads(sys.argv[2])).mask(payload)
print(json.dumps({"value": result.value, "classes": [f.data_class for f in result.findings]}))
"""


def mask_in_child(build: str, **masker_kwargs: Any) -> dict[str, Any]:
    """Mask ``build()`` with a fresh masker (no deadline) in a child process."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", CHILD, build, json.dumps(masker_kwargs)],
            capture_output=True,
            text=True,
            timeout=SIZE_TIMEOUT,
            cwd=REPO,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"masking {build}() did not finish in {SIZE_TIMEOUT} s")
    assert done.returncode == 0, done.stderr[-2000:]
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def lowercase_text() -> dict[str, str]:
    return {"note": "contact ana.lopez@example.org, card 4242 4242 4242 4242 " + "lorem" * 20_000}


def csv_export() -> dict[str, str]:
    names = distinct_names(4000)
    rows = ["id,name,email,phone,city,notes"]
    i = 0
    while sum(len(r) + 1 for r in rows) < 600_000:
        name = names[i % len(names)]
        rows.append(f"{i},{name},user{i}@example.org,+49 30 {7_000_000 + i},Berlin,ordered twice")
        i += 1
    return {"export": "\n".join(rows)}


def forty_thousand_names() -> dict[str, str]:
    names = distinct_names(40_000)
    letters = " ".join(f"Dear {name}, your parcel left today." for name in names)
    mentions = " ".join(f"{name.split()[1]} signed." for name in names[:2000])
    return {"letters": letters, "log": mentions}


# --- (a) the former pathological inputs complete, and still mask ---------------------------------


def test_100_kb_of_lowercase_text_is_masked_in_linear_time():
    """Issue 11 #5: lower-case text with fewer than six words and then a long unbroken run (a
    blob, a hash, minified text) made NER's prose check backtrack over every start: 10 KB took
    12 s, 100 KB would take about 20 minutes, holding the GIL."""
    assert len(lowercase_text()["note"]) > 100_000
    out = mask_in_child("lowercase_text")["value"]["note"]
    assert "ana.lopez@example.org" not in out and "4242 4242" not in out
    assert out.startswith("contact <EMAIL_1>, card <CREDIT_CARD_1> lorem")


def test_a_600_kb_csv_export_is_masked_in_linear_time():
    """Issue 11 #5: overlap resolution compared every span with every kept span, and NER's
    window check every word with every finding: a benign 100 KB CSV took 5 s, 500 KB 104 s."""
    out = mask_in_child("csv_export")["value"]["export"]
    assert "@example.org" not in out
    assert "+49 30 7" not in out
    assert not any(name in out for name in distinct_names(50))
    assert "Berlin,ordered twice" in out  # and what is not personal stays


def test_forty_thousand_distinct_names_are_masked_in_linear_time():
    """Issue 11 #5: every person name found is spread to its other mentions with one
    alternation of all names, tried name by name at every position (4,000 names: 22 s;
    30,000: 105 s). Now a trie-shaped pattern reads each position once."""
    names = distinct_names(40_000)
    result = mask_in_child("forty_thousand_names", ner=False)
    assert not any(name in result["value"]["letters"] for name in names[::97])
    # Spreading: the surname alone, elsewhere in the payload, is masked too.
    assert not any(name.split()[1] in result["value"]["log"] for name in names[:2000:37])
    assert result["classes"].count("PERSON") >= 42_000


# --- (b) a deadline bounds every call ----------------------------------------------------------


def ticking(step: float = 1.0) -> Any:
    """A monotonic clock that moves ``step`` seconds each time it is read."""
    counter = itertools.count()
    return lambda: next(counter) * step


def big_payload() -> dict[str, Any]:
    return {
        "rows": [f"row {i}: ana{i}@example.org called +49 30 7005344{i % 10}" for i in range(200)]
    }


def test_the_default_masker_has_a_deadline():
    assert Masker(ner=False).deadline_seconds == DEFAULT_DEADLINE_SECONDS == 10.0
    with pytest.raises(ValueError, match="deadline_seconds"):
        Masker(ner=False, deadline_seconds=0)


def test_a_tiny_deadline_on_a_big_payload_raises_masking_timeout():
    """Issue 11 #15: a call over its budget stops at the next checkpoint (between strings,
    detector slices and NER batches) and raises, naming the budget and where it stopped."""
    masker = Masker(ner=False, deadline_seconds=5, clock=ticking())
    with pytest.raises(MaskingTimeout) as caught:
        masker.mask(big_payload())
    err = caught.value
    assert err.seconds == 5 and err.stage.startswith("reading string")
    assert "5 s deadline" in str(err) and "deadline_seconds" in str(err)
    assert "example.org" not in str(err)  # the message never carries the payload
    # scan and analyze go through the same budget.
    with pytest.raises(MaskingTimeout):
        masker.scan(big_payload())


def test_without_a_deadline_the_same_call_completes():
    masker = Masker(ner=False, deadline_seconds=None, clock=ticking())
    assert "ana0@example.org" not in json.dumps(masker.mask(big_payload()).value)


class SlowDetector:
    """Makes time pass on the test's clock when it sees 'SLOW' (the cost of a hostile input)."""

    name = "slow"
    batched = False

    def __init__(self, clock: FrozenClock, *, loading: bool = False) -> None:
        self.clock = clock
        self.loading = loading

    def detect(self, leaves: Sequence[Leaf]) -> list[list[Span]]:
        for leaf in leaves:
            if "SLOW" in leaf.text:
                if self.loading:
                    with paused():  # one-off work, like loading the spaCy model
                        self.clock.advance(60)
                else:
                    self.clock.advance(60)
        return [[] for _ in leaves]


def test_one_off_work_inside_paused_does_not_count():
    clock = FrozenClock()
    masker = Masker(
        detectors=[SlowDetector(clock, loading=True)], deadline_seconds=5, clock=clock.now
    )
    masker.mask({"x": "SLOW start"})  # 60 s passed, all of them paused: no timeout
    with pytest.raises(MaskingTimeout):
        Masker(detectors=[SlowDetector(clock)], deadline_seconds=5, clock=clock.now).mask(
            {"x": "SLOW", "y": "next string"}
        )


POLICY = """
version: 1
defaults: {effect: allow}
"""


@pytest.fixture
def slow_guard(tmp_path):
    clock = FrozenClock()
    masker = Masker(ner=False, detectors=[SlowDetector(clock)], deadline_seconds=5, clock=clock.now)
    store = SQLiteStore(tmp_path / "g.db", key=KEY)
    yield Guard(Policy.from_string(POLICY), store, principal="agent:bot", masker=masker)
    store.close()


class Tool:
    def __init__(self, output: Any = "ok") -> None:
        self.runs: list[dict[str, Any]] = []
        self.output = output

    def __call__(self, args: dict[str, Any]) -> Any:
        self.runs.append(args)
        return self.output


def test_a_guard_denies_a_call_whose_arguments_take_too_long_to_mask(slow_guard: Guard):
    """Issue 11 #15: the guard turns the masker's timeout into a denial the model reads, with
    a guard.error audit row; the tool does not run (P1, P10)."""
    tool = Tool()
    outcome = slow_guard.call("lookup", {"query": "SLOW", "more": ["a", "b"]}, tool)
    assert not outcome.allowed and tool.runs == []
    assert outcome.message == (
        "Denied: the guard could not check the call (MaskingTimeout), so the call was not made."
    )
    [row] = list(slow_guard.store.audit_rows())
    assert row.event == Event.GUARD_ERROR and "MaskingTimeout" in row.data["error"]
    assert "SLOW" not in json.dumps(row.data)


def test_a_guard_withholds_an_output_that_takes_too_long_to_mask(slow_guard: Guard):
    tool = Tool(output={"rows": ["SLOW", "ana@example.org"]})
    outcome = slow_guard.call("lookup", {"query": "fast"}, tool)
    assert len(tool.runs) == 1  # the arguments were fine; the output is the slow part
    assert not outcome.allowed and outcome.output is None
    assert outcome.message == "Denied: the tool's output could not be masked, so it is withheld."
    rows = list(slow_guard.store.audit_rows())
    assert "ana@example.org" not in json.dumps([r.data for r in rows])
    assert any("deadline" in r.data.get("masking_error", "") for r in rows)
