"""Scoring one system's narratives on a corpus split: language metrics, clinical correctness, the
per-source breakdown, throughput, and the results record of ``results.py``.

This is the library behind ``neuronarrator evaluate``; a system is anything that produced one
narrative per corpus row (the model, a baseline, an external predictions file).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from dataset_builder.description import stated_change_window

from .clinical import clinical_scores, field_correctness, parse_narratives, true_fields
from .corpus import corpus_fingerprint
from .language import METRIC_NAMES, bertscore_model_info, compute_language_metrics, load_metric, metric_implementations
from .results import build_results

__all__ = ["contradicted", "row_labels", "score_narratives", "evaluate_narratives"]


def contradicted(
    narratives: Sequence[str],
    findings: Sequence[Any],
    labels: Sequence[Mapping[str, str]],
    claims: list | None = None,
    change_windows: Sequence[str | None] | None = None,
) -> list[bool]:
    """Per narrative, whether the report's consistency check flags it: it states a value the measured
    findings contradict, or states nothing checkable (``modeling_neuronarrator.report.consistency``;
    unverifiable labels and omissions are not flags). With ``claims`` (a list), appends per
    narrative ``[fields it states, fields of them contradicted]``. ``change_windows``: per row, the
    window its change sentence must name (``check_consistency``'s ``change_window``), or None."""
    from dataset_builder.agreement import read_findings
    from dataset_builder.description import parse
    from modeling_neuronarrator.report.consistency import check_consistency

    flags = []
    windows = [None] * len(narratives) if change_windows is None else change_windows
    for text, record, row_labels_, window in zip(narratives, findings, labels, windows):
        record = read_findings(record)
        issues = check_consistency(text, record, dict(row_labels_) or None, change_window=window)
        flags.append(any(issue.kind in ("contradicted", "empty") for issue in issues))
        if claims is not None:
            try:
                stated = sum(value is not None for value in parse(text).values()) if text and text.strip() else 0
            except ValueError:
                stated = 0
            claims.append([stated, sum(issue.kind == "contradicted" for issue in issues)])
    return flags

logger = logging.getLogger(__name__)


def row_labels(value: Any) -> dict[str, str]:
    """A row's harmonized labels as ``{key: value}``: Parquet structs carry every key of the schema
    (None where the row has no such label), older exports a JSON string. The one reader of row
    labels (``dataset_builder.agreement.read_labels``), shared with training quality and the report."""
    from dataset_builder.agreement import read_labels

    return read_labels(value)


def score_narratives(
    narratives: Sequence[str],
    references: Sequence[str],
    truth: Sequence[Mapping[str, Any]],
    sources: Sequence[str],
    *,
    scores: Sequence[Mapping[str, float] | None] | None = None,
    metrics: Sequence[str] = METRIC_NAMES,
    flags: Sequence[bool] | None = None,
    not_computed: dict[str, dict[str, str]] | None = None,
) -> dict[str, Any]:
    """All scores of one system.

    Args:
        narratives: generated text, one per segment.
        references: the corpus description of each segment.
        truth: flattened true narrative fields of each segment (``clinical.true_fields``).
        sources: source name of each segment (per-source breakdown).
        scores: optional per-segment class scores (``{"abnormal": p}``) for AUROC.
        metrics: language metrics to compute (subset of ``METRIC_NAMES``).
        flags: per segment, whether the consistency check flags the narrative (``contradicted``);
            gives ``contradiction_rate`` overall and per source.
        not_computed: filled with the metrics that could not be computed (METEOR without WordNet).

    Returns:
        ``{"metrics": {...}, "clinical": {"fields", "tasks"}, "per_source": {source: {...}},
        "correct": field_correctness(...)}``.
    """
    n = len(narratives)
    if not (len(references) == len(truth) == len(sources) == n):
        raise ValueError(f"lengths differ: {n} narratives, {len(references)} references, {len(truth)} true rows, {len(sources)} sources")
    language, per_segment = compute_language_metrics(narratives, references, metrics=metrics, per_segment=True, not_computed=not_computed)
    predicted = parse_narratives(narratives)
    clinical = clinical_scores(predicted, truth, scores=scores)
    overall = dict(language)
    overall["clinical_accuracy"] = clinical["clinical_accuracy"]
    overall["clinical_macro_f1"] = clinical["clinical_macro_f1"]
    if flags is not None:
        overall["contradiction_rate"] = float(np.mean(flags)) if n else None

    per_source: dict[str, Any] = {}
    source_array = np.asarray(sources)
    for source in sorted(set(sources)):
        idx = np.flatnonzero(source_array == source)
        sub_clinical = clinical_scores(
            [predicted[i] for i in idx], [truth[i] for i in idx], scores=None if scores is None else [scores[i] for i in idx]
        )
        sub = {name: float(np.mean([values[i] for i in idx])) for name, values in per_segment.items()}
        if "bleu" in metrics and "bleu" not in (not_computed or {}):
            # BLEU is a corpus statistic (pooled n-gram counts), not a mean of segments: recompute it.
            bleu = load_metric("bleu").compute(predictions=[narratives[i] for i in idx], references=[[references[i]] for i in idx])
            sub.update({k: float(v) for k, v in bleu.items() if k.startswith("bleu_")})
        sub["clinical_accuracy"] = sub_clinical["clinical_accuracy"]
        sub["clinical_macro_f1"] = sub_clinical["clinical_macro_f1"]
        if flags is not None:
            sub["contradiction_rate"] = float(np.mean([flags[i] for i in idx]))
        per_source[source] = {"n_segments": int(len(idx)), "metrics": sub, "tasks": sub_clinical["tasks"]}
    return {
        "metrics": overall,
        "clinical": {"fields": clinical["fields"], "tasks": clinical["tasks"]},
        "per_source": per_source,
        "correct": field_correctness(predicted, truth),
    }


def evaluate_narratives(
    *,
    system: Mapping[str, Any],
    narratives: Sequence[str],
    rows,
    corpus_dir: str | Path,
    split: str,
    leave_out: str | None = None,
    settings: Mapping[str, Any] | None = None,
    prediction_seconds: float | None = None,
    scores: Sequence[Mapping[str, float] | None] | None = None,
    retrieval: Mapping[str, Any] | None = None,
    metrics: Sequence[str] = METRIC_NAMES,
    dataset_name: str = "neurocorpus",
    role: str | None = None,
) -> dict[str, Any]:
    """Score ``narratives`` against the corpus ``rows`` (a ``datasets.Dataset`` or list of row dicts)
    and return the results record (``results.build_results``).

    ``prediction_seconds`` is the time the system took to produce the narratives (None for a
    predictions file); throughput is reported as segments per second of prediction and of scoring.
    """
    start = time.perf_counter()
    ids, sources, references, findings, labels_column = _row_columns(rows)
    if len(narratives) != len(ids):
        raise ValueError(f"{system.get('name')}: {len(narratives)} narratives for {len(ids)} evaluated rows")
    labels = [row_labels(lab) for lab in labels_column]
    truth = [true_fields(f, lab) for f, lab in zip(findings, labels)]
    claims: list = []
    # Each row's change window as its reference names it: the writer wrote it for the row's history.
    windows = [stated_change_window(reference) if isinstance(reference, str) else None for reference in references]
    flags = contradicted(narratives, findings, labels, claims, windows)
    not_computed: dict[str, dict[str, str]] = {}
    scored = score_narratives(narratives, references, truth, sources, scores=scores, metrics=metrics, flags=flags, not_computed=not_computed)
    stated = sum(c[0] for c in claims)
    # Share of the stated fields that the measurement contradicts (the flag above fires on any one).
    scored["metrics"]["contradicted_claims"] = sum(c[1] for c in claims) / stated if stated else None
    throughput = _throughput(len(ids), prediction_seconds, time.perf_counter() - start)
    implementations = {name: spec for name, spec in metric_implementations().items() if name in metrics and name not in not_computed}
    dataset = {
        "name": dataset_name,
        "path": str(Path(corpus_dir).resolve()),
        "split": split,
        "leave_out": leave_out,
        "n_segments": len(ids),
        "role": role,
        "sources": _source_counts(sources),
        "fingerprint": corpus_fingerprint(corpus_dir, ids),
    }
    return build_results(
        system=system,
        dataset=dataset,
        settings=dict(settings or {}),
        metrics=scored["metrics"],
        clinical=scored["clinical"],
        per_source=scored["per_source"],
        metric_implementations=implementations,
        bertscore_model=bertscore_model_info() if "bertscore" in metrics else None,
        throughput=throughput,
        retrieval=retrieval,
        not_computed=not_computed,
        per_row={"ids": ids, "correct": scored["correct"], "contradicted": [int(f) for f in flags], "claims": claims},
    )


def _row_columns(rows) -> tuple[list, list, list, list, list]:
    """The ids, sources, reference descriptions, findings and labels (None where the corpus has no
    ``labels`` column) of ``rows``, a ``datasets.Dataset`` or a list of row dicts."""
    if isinstance(rows, list):
        return ([r["id"] for r in rows], [r["source"] for r in rows], [r["description"] for r in rows],
                [r["findings"] for r in rows], [r.get("labels") for r in rows])
    labels = list(rows["labels"]) if "labels" in rows.column_names else [None] * len(rows)
    return list(rows["id"]), list(rows["source"]), list(rows["description"]), list(rows["findings"]), labels


def _throughput(n: int, prediction_seconds: float | None, scoring_seconds: float) -> dict[str, Any]:
    """Segments per second of prediction (None for a predictions file) and of scoring."""
    return {
        "segments": n,
        "prediction_seconds": prediction_seconds,
        "segments_per_second": (n / prediction_seconds) if prediction_seconds else None,
        "scoring_seconds": scoring_seconds,
        "scoring_segments_per_second": n / scoring_seconds if scoring_seconds > 0 else None,
    }


def _source_counts(sources: Sequence[str]) -> dict[str, int]:
    """Rows per source, sorted by source name."""
    counts: dict[str, int] = {}
    for source in sources:
        counts[source] = counts.get(source, 0) + 1
    return dict(sorted(counts.items()))
