"""Speed of the whole report on one hour of real EEG: the shipped default narrating every segment.

Run ``python eval/benchmark_narrate.py`` (or ``python -m neuronarrator_eval.benchmark_narrate``).
A 1 h, 19-channel, 256 Hz EDF tiled from pylossless's real sub-s01 recording
(``benchmark_frontend.write_tiled_edf``) goes through ``narrate_recording`` as the CLI runs it
(front-end, history, model, consistency check; chunks of 64 segments, generation batches of 32),
with the model decoded under the measured grammar (the report's default) and freely
(``--free-decoding``), alternately in one process; the best of ``--repeats`` runs of each is kept.
Figures: wall seconds and segments/s of each, the grammar's cost as a ratio to free decoding, and
the issue's target (a 1 h, 19-channel recording in <= 30 s wall).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from typing import Any

__all__ = ["benchmark_narrate_hour", "main"]

TARGET_HOUR_SECONDS = 30.0


def benchmark_narrate_hour(path: str, repeats: int = 2, threads: int | None = 1) -> dict[str, Any]:
    """Narrate ``path`` with the shipped default ``repeats`` times per decoding, alternating."""
    import torch

    from modeling_neuronarrator.report import ModelNarrator, narrate_recording
    from modeling_neuronarrator.report.narrators import default_model_path

    if threads:
        torch.set_num_threads(threads)
    model_path = default_model_path()
    if model_path is None:
        raise FileNotFoundError("no embedded default model in this install: nothing to benchmark")
    narrators = {"measured_grammar": ModelNarrator(model_path, batch_size=32, measured_grammar=True),
                 "free": ModelNarrator(model_path, batch_size=32, measured_grammar=False)}  # fmt: skip
    walls: dict[str, list[float]] = {name: [] for name in narrators}
    segments: dict[str, int] = {}
    flagged: dict[str, int] = {}
    for _ in range(repeats):
        for name, narrator in narrators.items():
            start = time.perf_counter()
            report = narrate_recording(path, narrator, batch_segments=64)
            walls[name].append(time.perf_counter() - start)
            segments[name], flagged[name] = len(report.segments), report.n_flagged
    best = {name: min(times) for name, times in walls.items()}
    return {
        "threads": torch.get_num_threads(),
        "segments": segments["free"],
        "wall_s": {name: round(value, 2) for name, value in best.items()},
        "segments_per_s": {name: round(segments[name] / value, 1) for name, value in best.items()},
        "flagged": flagged,
        "grammar_over_free": round(best["measured_grammar"] / best["free"], 3),
        "target_hour_s": TARGET_HOUR_SECONDS,
        "meets_target": best["measured_grammar"] <= TARGET_HOUR_SECONDS,
    }


def _markdown(result: dict[str, Any]) -> str:
    rows = [f"| {name} | {result['wall_s'][name]} | {result['segments_per_s'][name]} | {result['flagged'][name]} |"
            for name in ("measured_grammar", "free")]  # fmt: skip
    return "\n".join([
        f"1 h of real EEG, {result['segments']} segments, {result['threads']} thread(s)", "",
        "| decoding | wall (s) | segments/s | segments flagged |", "|---|---|---|---|", *rows, "",
        f"measured grammar / free: {result['grammar_over_free']:.3f}x; target <= {result['target_hour_s']:.0f} s: "
        f"{'met' if result['meets_target'] else 'missed'}",
    ])  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The report on 1 h of real EEG: measured grammar vs free decoding.")
    parser.add_argument("--repeats", type=int, default=2, help="runs per decoding (the best is kept)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1, the CLI's; 0: torch's choice)")
    parser.add_argument("-o", "--output", default=None, help="write the JSON results here")
    args = parser.parse_args(argv)
    try:
        from neuronarrator_eval.benchmark_frontend import write_tiled_edf
    except ImportError:  # run as a script from the repository
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from benchmark_frontend import write_tiled_edf
    with tempfile.TemporaryDirectory() as folder:
        path = write_tiled_edf(os.path.join(folder, "hour.edf"), hours=1.0)
        result = benchmark_narrate_hour(path, repeats=args.repeats, threads=args.threads or None)
    print(_markdown(result))
    if args.output:
        with open(args.output, "w", encoding="utf-8") as handle:
            json.dump(result, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
