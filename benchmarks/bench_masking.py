"""Presidio and our masker scored on the same labeled corpus, in one run, by the shared scorer.

    .venv/bin/python benchmarks/bench_masking.py [--split dev] [--bench-dir ../shared/bench]
        [--only presidio|ours] [--limit N] [--out results.json]

The scoring code and the corpus stay in the bench folder (``eval_masker.py``, ``corpus/``): it is
imported by path, so both maskers are measured by exactly the same metrics on the same records.
Prints each masker's full table, then one comparison table. Needs the ``bench`` extra.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import os
import platform
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from machine import version  # benchmarks/ is sys.path[0]
from masking_adapters import ADAPTERS

# Before spaCy/thinc/numpy are imported (the adapters import them lazily, on first call): one
# thread, so throughput and latency do not depend on what else the machine is doing.
os.environ["OMP_NUM_THREADS"] = "1"

REPO = Path(__file__).resolve().parents[1]
DEFAULT_BENCH_DIR = REPO.parent / "shared" / "bench"
LABELS = [
    "SECRET",
    "EMAIL",
    "CREDIT_CARD",
    "IBAN",
    "NATIONAL_ID",
    "PERSON",
    "PHONE",
    "IP_ADDRESS",
    "ADDRESS",
    "DATE_OF_BIRTH",
]


def load_eval(bench_dir: Path) -> ModuleType:
    """Import ``eval_masker.py`` from the bench folder by path: it is not a package of ours."""
    path = bench_dir / "eval_masker.py"
    spec = importlib.util.spec_from_file_location("eval_masker", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def header() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "spacy": version("spacy"),
        "presidio_analyzer": version("presidio-analyzer"),
        "presidio_anonymizer": version("presidio-anonymizer"),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "system": platform.system(),
        "omp_num_threads": os.environ["OMP_NUM_THREADS"],
    }


def run(
    ev: ModuleType, name: str, records: list[dict[str, Any]], args: argparse.Namespace
) -> dict[str, Any]:
    """Same steps as ``eval_masker.main``: one untimed call loads the engines (``init_s``), then
    ``evaluate``. Peak RSS is the process's, so a later adapter's includes the earlier ones'."""
    adapter = ADAPTERS[name]
    rss0 = ev.rss_mb()
    t0 = time.perf_counter()
    adapter.mask("warm-up: Jane Doe, jane@example.com")
    init_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    res: dict[str, Any] = ev.evaluate(records, adapter.mask, adapter.analyze, limit=args.limit)
    res.update(
        {
            "adapter": name,
            "split": args.split,
            "corpus": args.corpus,
            "init_s": init_s,
            "wall_s": time.perf_counter() - t0,
            "rss_before_adapter_mb": rss0,
            "peak_rss_mb": ev.rss_mb(),
        }
    )
    return res


def comparison(results: dict[str, dict[str, Any]]) -> str:
    """One column per masker: the figures worth comparing side by side."""
    names = list(results)
    rows: list[tuple[str, list[str]]] = []

    def row(label: str, fmt: str, get: Any) -> None:
        cells = []
        for n in names:
            value = get(results[n])
            cells.append("-" if value is None else format(value, fmt))
        rows.append((label, cells))

    row("leak %", ".1f", lambda r: r["leak_rate"])
    for lab in LABELS:
        row(f"  leak {lab} %", ".1f", lambda r, lab=lab: r["leak_rate_by_label"].get(lab))
    row("partial leak %", ".1f", lambda r: r["partial_leak_rate"])
    row("over-mask %", ".1f", lambda r: r["over_mask_rate"])
    for key in ("precision", "recall", "f1"):
        row(f"span {key}", ".3f", lambda r, key=key: r.get("span", {}).get(key))
    row("chars/s", ",.0f", lambda r: r["throughput_chars_per_s"])
    row("p50 ms", ".2f", lambda r: r["latency_ms_p50"])
    row("p99 ms", ".2f", lambda r: r["latency_ms_p99"])
    row("init s", ".2f", lambda r: r["init_s"])
    width = max(12, *(len(n) + 2 for n in names))
    lines = [f"{'metric':<22}" + "".join(f"{n:>{width}}" for n in names)]
    lines += [f"{label:<22}" + "".join(f"{c:>{width}}" for c in cells) for label, cells in rows]
    if "presidio" in results and "ours" in results:
        ratio = (
            results["ours"]["throughput_chars_per_s"]
            / results["presidio"]["throughput_chars_per_s"]
        )
        lines.append(f"throughput ratio ours/presidio: {ratio:.1f}x")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", default="dev", help="corpus split name or path to a .jsonl file")
    ap.add_argument("--bench-dir", type=Path, default=DEFAULT_BENCH_DIR)
    ap.add_argument("--only", choices=sorted(ADAPTERS), help="run one masker only")
    ap.add_argument("--limit", type=int, default=None, help="first N records only")
    ap.add_argument("--out", type=Path, default=None, help="write the results here as JSON")
    args = ap.parse_args()

    ev = load_eval(args.bench_dir.resolve())
    records, path = ev.load_corpus(args.split)
    args.corpus = os.path.relpath(path, args.bench_dir)
    meta = header()
    print(
        f"Python {meta['python']}, spaCy {meta['spacy']}, presidio-analyzer "
        f"{meta['presidio_analyzer']}, {meta['machine']} {meta['system']}, "
        f"{meta['cpu_count']} CPUs, OMP_NUM_THREADS={meta['omp_num_threads']}, "
        f"corpus {args.corpus} ({len(records)} records, limit {args.limit})",
        flush=True,
    )

    names = [args.only] if args.only else ["presidio", "ours"]  # Presidio first, always
    results: dict[str, dict[str, Any]] = {}
    for name in names:
        results[name] = run(ev, name, records, args)
        print(ev.table(results[name], name), end="\n\n", flush=True)
    print(comparison(results))

    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"meta": meta, **results}, indent=2), encoding="utf-8")
        print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
