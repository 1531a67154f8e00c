"""Results files: one JSON per (system, dataset, split), the input of the leaderboard.

Schema (``SCHEMA_VERSION`` 1)::

    {
      "schema_version": 1,
      "system": {"name": "neuronarrator", "kind": "model" | "baseline" | "oracle" | "predictions", ...},
      "dataset": {"name": "neurocorpus", "path": ..., "split": "test", "leave_out": null | "<source>",
                  "role": null | "validation" (tuned on) | "test" (sealed),
                  "n_segments": N, "sources": {"<source>": n}, "fingerprint": {"sha256": ..., ...}},
      "settings": {... the run's options: limit, baselines, batch size, seed ...},
      "metrics": {"clinical_accuracy": ..., "bleu_1".."bleu_4", "rouge_l", "meteor", "cider_d",
                  "bertscore_precision", "bertscore_recall", "bertscore_f1", ...},
      "clinical": {"fields": {field: {...}}, "tasks": {task: {...}}},
      "per_source": {"<source>": {"n_segments": n, "metrics": {...}, "tasks": {...}}},
      "retrieval": null | {"eeg_to_topomap_recall@1": ..., ...}  (EEG<->topomap recall; "grounding" before issue 18),
      "metric_implementations": {"bleu": {"module": ..., "backend": "nltk", "version": ...}, ...},
      "bertscore_model": {"name": "sentence-transformers/all-MiniLM-L6-v2", "package": ..., "num_layers": 6},
      "throughput": {"segments": N, "prediction_seconds": ..., "segments_per_second": ..., "scoring_seconds": ...},
      "not_computed": {"meteor": {"reason": ..., "fix": ...}} (metrics skipped; absent from "metrics"),
      "per_row": {"ids": [...], "correct": {field: [1 | 0 | null per row]}, "contradicted": [0 | 1 per row]},
      "created_utc": "...", "neuronarrator_version": "..."
    }
"""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import math
import os
import re
from pathlib import Path
from typing import Any, Mapping

__all__ = ["REQUIRED_KEYS", "SCHEMA_VERSION", "ResultsError", "build_results", "read_results", "results_filename", "write_results"]

SCHEMA_VERSION = 1
REQUIRED_KEYS = ("schema_version", "system", "dataset", "metrics", "settings", "metric_implementations", "throughput")


class ResultsError(ValueError):
    """A results file does not follow the schema."""


def _jsonable(value: Any) -> Any:
    """Plain JSON types: numpy scalars to Python numbers, NaN/inf to None, tuples to lists."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 0) == 0:
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def build_results(
    *,
    system: Mapping[str, Any],
    dataset: Mapping[str, Any],
    settings: Mapping[str, Any],
    metrics: Mapping[str, Any],
    clinical: Mapping[str, Any] | None,
    per_source: Mapping[str, Any],
    metric_implementations: Mapping[str, Any],
    bertscore_model: Mapping[str, Any] | None,
    throughput: Mapping[str, Any],
    retrieval: Mapping[str, Any] | None = None,
    not_computed: Mapping[str, Any] | None = None,
    per_row: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Assemble one results record (see the module docstring for the schema)."""
    if not system.get("name"):
        raise ResultsError("results need a system name")
    for key in ("name", "split"):
        if not dataset.get(key):
            raise ResultsError(f"results need dataset[{key!r}]")
    try:
        version = importlib.metadata.version("neuronarrator")
    except importlib.metadata.PackageNotFoundError:
        version = None
    record = {
        "schema_version": SCHEMA_VERSION,
        "system": dict(system),
        "dataset": dict(dataset),
        "settings": dict(settings),
        "metrics": dict(metrics),
        "clinical": dict(clinical) if clinical is not None else None,
        "per_source": dict(per_source),
        "retrieval": dict(retrieval) if retrieval is not None else None,
        "metric_implementations": dict(metric_implementations),
        "bertscore_model": dict(bertscore_model) if bertscore_model is not None else None,
        "throughput": dict(throughput),
        "not_computed": dict(not_computed or {}),
        "per_row": dict(per_row) if per_row is not None else None,
        "created_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "neuronarrator_version": version,
    }
    return _jsonable(record)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", str(text)).strip("-") or "unnamed"


def results_filename(results: Mapping[str, Any]) -> str:
    """``<system>__<dataset>__<split>[__leave-out-<source>].json``."""
    dataset = results["dataset"]
    name = f"{_slug(results['system']['name'])}__{_slug(dataset['name'])}__{_slug(dataset['split'])}"
    if dataset.get("leave_out"):
        name += f"__leave-out-{_slug(dataset['leave_out'])}"
    return name + ".json"


def write_results(results: Mapping[str, Any], out_dir: str | os.PathLike) -> Path:
    """Write ``results`` into ``out_dir`` (created) under ``results_filename``; return the path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / results_filename(results)
    tmp = path.with_suffix(".json.tmp")
    # allow_nan=False: a NaN would make the file unreadable by strict JSON parsers (the Hub's).
    tmp.write_text(json.dumps(_jsonable(results), indent=2, sort_keys=True, allow_nan=False) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def read_results(path: str | os.PathLike) -> dict[str, Any]:
    """Load and check one results file.

    Raises:
        ResultsError: not JSON, missing keys, or a schema version this code does not read.
    """
    path = Path(path)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ResultsError(f"{path}: not a JSON file ({error.msg} at line {error.lineno})") from error
    if not isinstance(record, dict):
        raise ResultsError(f"{path}: a results file holds one JSON object, got {type(record).__name__}")
    missing = [key for key in REQUIRED_KEYS if key not in record]
    if missing:
        raise ResultsError(f"{path}: not a NeuroNarrator results file, keys {missing} missing; write it with `neuronarrator evaluate`")
    if record["schema_version"] != SCHEMA_VERSION:
        raise ResultsError(f"{path}: schema version {record['schema_version']} but this version reads {SCHEMA_VERSION}; re-run the evaluation")
    if "grounding" in record and "retrieval" not in record:  # the key's name before issue 18: the same recall figures
        record["retrieval"] = record.pop("grounding")
    return record
