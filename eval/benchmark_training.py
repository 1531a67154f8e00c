"""Training throughput and memory on this machine: samples/s of stage 1 and stage 2 with 1 and 2
processes, peak memory per process, and the wall time of the default recipe.

Run ``python eval/benchmark_training.py`` (or ``python -m neuronarrator_eval.benchmark_training``).
Each measurement is a real ``neuronarrator train`` run of the embedded default's configuration
(``training/configs/grounded_cpu.yaml``) on the offline corpus, cut to ``--steps`` optimizer steps
in a temporary folder; stage 2 starts from the default run's stage-1 folder when it exists (else
from a stage 1 trained here). samples/s is the mean of the logged windows after the first one
(which holds start-up costs); peak memory is the largest resident set of the run's processes
(``psutil``, sampled every 0.2 s). The recipe's wall time is read from
``runs/grounded_cpu/recipe_timings.json`` (written by ``default_recipe``).

Numbers depend on what else runs on the machine: the table reports the load average seen.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Optional

__all__ = ["measure_stage", "benchmark_training", "main"]

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "modeling_neuronarrator" / "training" / "configs" / "grounded_cpu.yaml"


class _PeakRSS:
    """Samples the resident memory of a process tree until stopped; keeps the per-process peak."""

    def __init__(self, pid: int, interval: float = 0.2):
        import psutil

        self.root = psutil.Process(pid)
        self.interval = interval
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            try:
                processes = [self.root, *self.root.children(recursive=True)]
                for process in processes:
                    try:
                        self.peak_bytes = max(self.peak_bytes, process.memory_info().rss)
                    except psutil.Error:
                        continue
            except psutil.Error:
                return
            time.sleep(self.interval)

    def __enter__(self) -> "_PeakRSS":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def measure_stage(
    stage: str,
    processes: int,
    steps: int,
    out_dir: Path,
    corpus: Optional[Path] = None,
    init_from: Optional[Path] = None,
    config: Path = CONFIG,
) -> dict[str, Any]:
    """One cut-down training run; returns samples/s, peak RSS per process (MB) and wall time."""
    command = [
        sys.executable, "-m", "modeling_neuronarrator.cli", "train", stage, "--config", str(config),
        "--output-dir", str(out_dir), "--max-steps", str(steps), "--no-progress", "--cpu",
        "--num-processes", str(processes),
    ]  # fmt: skip
    if corpus is not None:
        command += ["--corpus", str(corpus)]
    if init_from is not None:
        command += ["--init-from", str(init_from)]
    env = dict(os.environ, TOKENIZERS_PARALLELISM="false")
    if processes > 1:
        env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 2) // processes))
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT)
    with _PeakRSS(process.pid) as peak:
        output, _ = process.communicate()
    wall = time.perf_counter() - started
    if process.returncode:
        raise RuntimeError(f"{' '.join(command)} failed ({process.returncode}):\n{output[-3000:]}")
    records = [json.loads(line) for line in (out_dir / stage / "metrics.jsonl").read_text().splitlines() if line.strip()]
    windows = [r for r in records if r.get("split") != "validation"]
    steady = windows[1:] or windows
    rate = sum(r["samples_window"] for r in steady) / sum(r["samples_window"] / r["samples_per_s"] for r in steady)
    return {
        "stage": stage,
        "processes": processes,
        "steps": steps,
        "samples_per_s": round(rate, 2),
        "peak_rss_mb_per_process": round(peak.peak_bytes / 2**20, 1),
        "wall_s": round(wall, 1),
        "final_loss": windows[-1]["loss"],
    }


def benchmark_training(steps: int = 10, processes: tuple[int, ...] = (1, 2), corpus: Optional[Path] = None) -> dict[str, Any]:
    """Stage 1 and stage 2 at each process count, plus the recipe wall time and the machine load."""
    results: list[dict[str, Any]] = []
    default_stage1 = ROOT / "runs" / "grounded_cpu" / "stage1" / "final"
    with tempfile.TemporaryDirectory(prefix="nn-bench-train-") as tmp:
        tmp = Path(tmp)
        init_from = default_stage1 if (default_stage1 / "model.safetensors").is_file() else None
        for n in processes:
            results.append(measure_stage("stage1", n, steps, tmp / f"p{n}", corpus))
            if init_from is None:
                init_from = tmp / f"p{n}" / "stage1" / "final"
            results.append(measure_stage("stage2", n, steps, tmp / f"p{n}", corpus, init_from=init_from))
    timings_path = ROOT / "runs" / "grounded_cpu" / "recipe_timings.json"
    recipe = json.loads(timings_path.read_text()) if timings_path.is_file() else None
    return {
        "machine": {"cpu_count": os.cpu_count(), "load_average_1min": round(os.getloadavg()[0], 2)},
        "runs": results,
        "default_recipe_wall_s": recipe,
    }


def _markdown(report: dict[str, Any]) -> str:
    lines = [
        f"CPU cores: {report['machine']['cpu_count']}, load average (1 min) at the end: {report['machine']['load_average_1min']}",
        "",
        "| stage | processes | steps | samples/s | peak RSS / process (MB) | wall (s) |",
        "|---|---|---|---|---|---|",
    ]
    for r in report["runs"]:
        lines.append(f"| {r['stage']} | {r['processes']} | {r['steps']} | {r['samples_per_s']} | {r['peak_rss_mb_per_process']} | {r['wall_s']} |")
    if report["default_recipe_wall_s"]:
        lines += ["", "default recipe wall time (s) per step: " + json.dumps(report["default_recipe_wall_s"])]
    return "\n".join(lines)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10, help="optimizer steps per measured run")
    parser.add_argument("--processes", default="1,2", help="comma-separated process counts")
    parser.add_argument("--corpus", type=Path, default=None, help="corpus folder (default: the config's, corpus/offline)")
    parser.add_argument("--json", type=Path, default=None, help="also write the report here")
    args = parser.parse_args(argv)
    report = benchmark_training(args.steps, tuple(int(p) for p in args.processes.split(",")), args.corpus)
    print(_markdown(report))
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
