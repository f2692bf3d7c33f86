"""The masker's worst case: about 1 MB of each adversarial shape, timed without a deadline, and
then, for the shapes slower than the deadline, with it (how long until the call is refused).

    .venv/bin/python benchmarks/bench_masking_adversarial.py [--size 1000000] [--shape NAME ...]
        [--deadline 10] [--no-ner] [--out results.json]

The shapes (``benchmarks/adversarial.py``) are the inputs that used to cost quadratic or
exponential time (issue 11 #5) and the near-misses of every detector's patterns. Each shape gets
a fresh masker with cold caches; the spaCy model is loaded once, before timing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

# Before spaCy/thinc/numpy load: one thread, as in bench_masking.py.
os.environ["OMP_NUM_THREADS"] = "1"

from adversarial import SHAPES, build  # benchmarks/ is sys.path[0]
from machine import cpu_model, version

from guardrails_plugin.errors import MaskingTimeout
from guardrails_plugin.masking import Masker
from guardrails_plugin.masking.deadline import DEFAULT_DEADLINE_SECONDS


def header() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "spacy": version("spacy"),
        "confusable_homoglyphs": version("confusable-homoglyphs"),
        "cpu": cpu_model(),
        "nproc": os.cpu_count(),
        "machine": platform.machine(),
        "system": platform.system(),
    }


def size_of(payload: Any) -> int:
    return len(payload) if isinstance(payload, str) else len(json.dumps(payload))


def fresh(masker_kwargs: dict[str, Any]) -> Masker:
    masker = Masker(hash_key=b"k" * 32, **masker_kwargs)
    for detector in masker.detectors:
        cache = getattr(detector, "_cache", None)
        if cache is not None:
            cache.clear()
    return masker


def measure(shape: str, size: int, deadline: float, ner: bool) -> dict[str, Any]:
    payload = build(shape, size)
    chars = size_of(payload)
    t0 = time.perf_counter()
    result = fresh({"ner": ner, "deadline_seconds": None}).mask(payload)
    seconds = time.perf_counter() - t0
    row: dict[str, Any] = {
        "shape": shape,
        "chars": chars,
        "seconds": seconds,
        "chars_per_s": chars / seconds,
        "findings": len(result.findings),
    }
    if seconds > deadline:
        t0 = time.perf_counter()
        try:
            fresh({"ner": ner, "deadline_seconds": deadline}).mask(payload)
            row["with_deadline"] = "completed"
        except MaskingTimeout as exc:
            row["with_deadline"] = f"refused after {time.perf_counter() - t0:.2f} s ({exc.stage})"
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=1_000_000, help="characters per shape")
    ap.add_argument("--shape", action="append", choices=sorted(SHAPES), help="only these")
    ap.add_argument("--deadline", type=float, default=DEFAULT_DEADLINE_SECONDS)
    ap.add_argument("--no-ner", action="store_true", help="mask without spaCy NER")
    ap.add_argument("--out", type=Path, default=None, help="write the results here as JSON")
    args = ap.parse_args()

    meta = header()
    print(
        f"Python {meta['python']}, spaCy {meta['spacy']}, confusable-homoglyphs "
        f"{meta['confusable_homoglyphs']}, {meta['cpu']}, {meta['nproc']} CPUs, "
        f"OMP_NUM_THREADS=1, NER {'off' if args.no_ner else 'on'}, ~{args.size:,} characters per "
        f"shape, deadline {args.deadline:g} s",
        flush=True,
    )
    Masker(ner=not args.no_ner).mask("warm-up: Jane Doe, jane@example.com")  # loads spaCy
    rows = []
    print(f"{'shape':30} {'chars':>10} {'seconds':>8} {'chars/s':>11} {'findings':>9}  deadline")
    for shape in args.shape or list(SHAPES):
        row = measure(shape, args.size, args.deadline, not args.no_ner)
        rows.append(row)
        print(
            f"{shape:30} {row['chars']:>10,} {row['seconds']:>8.2f} {row['chars_per_s']:>11,.0f} "
            f"{row['findings']:>9,}  {row.get('with_deadline', '-')}",
            flush=True,
        )
    worst = max(rows, key=lambda r: r["seconds"] / r["chars"])
    print(
        f"worst: {worst['shape']}, {worst['seconds'] / worst['chars'] * 1e6:.1f} µs per character "
        f"({worst['chars_per_s']:,.0f} chars/s, {worst['seconds']:.2f} s for {worst['chars']:,})"
    )
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2), encoding="utf-8")
        print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
