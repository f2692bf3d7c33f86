"""The generated international masking fixtures (benchmarks/fixtures/build_intl.py):
reproducible, exact offsets, and a held-out part that shares no source entry with the tune part."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).resolve().parent.parent / "benchmarks" / "fixtures"
PARTS = ("tune", "holdout", "holdout2")
SIZES = {"tune": 500, "holdout": 500, "holdout2": 1000}
LABELS = {
    "PERSON",
    "EMAIL",
    "PHONE",
    "NATIONAL_ID",
    "CREDIT_CARD",
    "IBAN",
    "IP_ADDRESS",
    "ADDRESS",
    "DATE_OF_BIRTH",
    "SECRET",
}
TEXT_KINDS = {"chat", "mail", "prose"}


def _load(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def corpus() -> dict[str, list[dict[str, Any]]]:
    return {part: _load(FIXTURES / f"intl-{part}.jsonl") for part in PARTS}


def test_generator_reproduces_the_committed_files_byte_for_byte(tmp_path: Path) -> None:
    for run in ("a", "b"):
        out = tmp_path / run
        subprocess.run(
            [sys.executable, str(FIXTURES / "build_intl.py"), "--out", str(out)],
            check=True,
            capture_output=True,
        )
        for part in PARTS:
            assert (out / f"intl-{part}.jsonl").read_bytes() == (
                FIXTURES / f"intl-{part}.jsonl"
            ).read_bytes(), (run, part)


def test_offsets_and_labels_are_exact(corpus: dict[str, list[dict[str, Any]]]) -> None:
    for part, records in corpus.items():
        assert len(records) == SIZES[part]
        assert len({r["id"] for r in records}) == len(records)
        for r in records:
            assert r["split"] == part
            text = r["text"]
            for s in r["spans"]:
                assert s["label"] in LABELS
                assert text[s["start"] : s["end"]] == s["value"], (r["id"], s)
            for s in r["keep"] + r["neutral"]:
                assert text[s["start"] : s["end"]] == s["value"], (r["id"], s)
            if r["kind"] not in {
                "csv",
                "hl7",
                "log",
                "cli",
                "env",
                "ics",
                "url",
                "k8s",
                *TEXT_KINDS,
            }:
                json.loads(text)  # JSON records are valid JSON


def test_holdout_shares_no_name_street_or_city_with_tune(
    corpus: dict[str, list[dict[str, Any]]],
) -> None:
    used = {part: {e for r in records for e in r["src"]} for part, records in corpus.items()}
    assert used["tune"] and used["holdout"] and used["holdout2"]
    assert not used["tune"] & (used["holdout"] | used["holdout2"])
    tune_text = "\n".join(r["text"] for r in corpus["tune"])
    for r in corpus["holdout"] + corpus["holdout2"]:
        for s in r["spans"]:
            if s["label"] == "PERSON" and len(s["value"]) >= 4:
                assert not re.search(rf"(?<!\w){re.escape(s['value'])}(?!\w)", tune_text), (
                    r["id"],
                    s["value"],
                )


def test_both_parts_cover_languages_cultures_and_shapes(
    corpus: dict[str, list[dict[str, Any]]],
) -> None:
    for records in corpus.values():
        langs = {r["lang"] for r in records if r["kind"] in TEXT_KINDS}
        cultures = {c for r in records for c in r["cultures"]}
        labels = {s["label"] for r in records for s in r["spans"]}
        kinds = {r["kind"] for r in records}
        assert len(langs) >= 8, langs
        assert len(cultures) >= 15, cultures
        assert labels == LABELS
        assert {
            "api",
            "form_json",
            "hl7",
            "fhir",
            "csv",
            "k8s",
            "log",
            "otel",
            "har",
            "env",
            "cli",
            "chat",
            "mail",
        } <= kinds
        assert sum(1 for r in records if not r["spans"]) >= 20  # some records are clean
        assert sum(len(r["keep"]) for r in records) >= 500
