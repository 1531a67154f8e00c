"""Clinical accuracy of generated narratives, per field, for the training report and model card.

Each generated narrative is parsed back into narrative fields with the corpus parser
(``dataset_builder.parse``) and compared with the row's true fields
(``dataset_builder.findings_to_fields``). A field is scored on the rows where it applies (true
value not None: no PDR frequency for a segment without a PDR, no slowing side without focal
slowing, no change for a recording's first segment); a field the narrative does not mention
counts as wrong. Numeric fields use the tolerances of ``dataset_builder.FIELD_SPECS`` (e.g.
dominant frequency within 1 Hz), sets must match exactly.

The full leaderboard (BLEU, ROUGE, kappa, F1 ...) is the evaluator's job (``neuronarrator
evaluate``); this module is the small, dependency-light check the training recipe runs.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any, Iterable, Optional, Sequence

__all__ = ["SIGNAL_FIELDS", "score_fields", "majority_baseline", "field_matches", "field_correctness", "paired_difference"]

# Fields that only the signal can tell (what the blind baseline cannot know).
SIGNAL_FIELDS = (
    "dominant_band",
    "dominant_frequency_hz",
    "pdr",
    "pdr_hz",
    "predominant_region",
    "amplitude_category",
    "asymmetry_side",
    "slowing_kind",
    "artifacts",
)


def field_matches(name: str, predicted: Any, true: Any) -> bool:
    """Whether a parsed value counts as correct for field ``name`` (None predicted = wrong)."""
    from dataset_builder import FIELD_SPECS

    if predicted is None:
        return False
    spec = FIELD_SPECS[name]
    if spec.kind == "numeric":
        tolerance = max(spec.tolerance, spec.relative_tolerance * abs(float(true)))
        return abs(float(predicted) - float(true)) <= tolerance + 1e-9
    if spec.kind == "set":
        return tuple(sorted(predicted)) == tuple(sorted(true))
    return predicted == true


def _true_fields(row: dict) -> dict:
    from dataset_builder import findings_to_fields

    labels = row.get("labels")
    if isinstance(labels, str):
        labels = json.loads(labels) if labels else {}
    # The corpus stores labels as a struct over every label key: absent keys are None.
    labels = {key: value for key, value in (labels or {}).items() if value is not None}
    return findings_to_fields(row["findings"], labels)


def score_fields(narratives: Sequence[str], rows: Sequence[dict], fields: Optional[Iterable[str]] = None) -> dict[str, dict[str, float]]:
    """Per-field accuracy of ``narratives`` against the rows' true findings.

    Args:
        narratives: one generated text per row.
        rows: corpus rows (need ``findings`` JSON and ``labels``).
        fields: fields to report (default: every narrative field that applies to some row).

    Returns:
        ``{field: {"accuracy": float, "n": int, "mentioned": float}}``; ``mentioned`` is the
        fraction of rows whose narrative states the field at all.
    """
    from dataset_builder import NARRATIVE_FIELDS, parse

    if len(narratives) != len(rows):
        raise ValueError(f"score_fields: {len(narratives)} narratives for {len(rows)} rows; give one narrative per row")
    wanted = tuple(fields) if fields is not None else NARRATIVE_FIELDS
    correct: Counter = Counter()
    counted: Counter = Counter()
    mentioned: Counter = Counter()
    for text, row in zip(narratives, rows):
        predicted = parse(text)
        true = _true_fields(row)
        for name in wanted:
            if true.get(name) is None:
                continue
            counted[name] += 1
            mentioned[name] += predicted.get(name) is not None
            correct[name] += field_matches(name, predicted.get(name), true[name])
    return {
        name: {
            "accuracy": round(correct[name] / counted[name], 4),
            "n": counted[name],
            "mentioned": round(mentioned[name] / counted[name], 4),
        }
        for name in wanted
        if counted[name]
    }


def field_correctness(narratives: Sequence[str], rows: Sequence[dict], name: str) -> tuple[list[int], list[bool]]:
    """Per-row correctness of field ``name``: ``(row positions where it applies, correct)``."""
    from dataset_builder import parse

    positions, correct = [], []
    for i, (text, row) in enumerate(zip(narratives, rows)):
        true = _true_fields(row).get(name)
        if true is None:
            continue
        positions.append(i)
        correct.append(field_matches(name, parse(text).get(name), true))
    return positions, correct


def paired_difference(
    narratives_a: Sequence[str], narratives_b: Sequence[str], rows: Sequence[dict], fields: Iterable[str],
    n_resamples: int = 2000, seed: int = 0,
) -> dict[str, dict[str, Any]]:
    """Accuracy of system A minus system B per field, with a 95 % paired bootstrap interval.

    Both systems answered the same rows, so rows are resampled together (the interval reflects
    which segments the test holds, not two independent samples). A lower bound above 0 means A
    is better on this test set beyond resampling noise.

    Returns:
        ``{field: {"difference": float, "ci95": [low, high], "n": int}}``.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    result = {}
    for name in fields:
        positions, a = field_correctness(narratives_a, rows, name)
        _, b = field_correctness(narratives_b, rows, name)
        if not positions:
            continue
        diff = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
        samples = rng.integers(0, len(diff), size=(n_resamples, len(diff)))
        means = diff[samples].mean(axis=1)
        low, high = np.percentile(means, [2.5, 97.5])
        result[name] = {"difference": round(float(diff.mean()), 4), "ci95": [round(float(low), 4), round(float(high), 4)], "n": len(diff)}
    return result


def majority_baseline(train_rows: Sequence[dict], rows: Sequence[dict], fields: Optional[Iterable[str]] = None) -> dict[str, dict[str, float]]:
    """Accuracy of always answering the training set's most frequent value of each field.

    What a model that ignores the EEG can at best do per field; a reference beside the blind model.
    """
    from dataset_builder import NARRATIVE_FIELDS

    wanted = tuple(fields) if fields is not None else NARRATIVE_FIELDS
    train_fields = [_true_fields(r) for r in train_rows]
    result = {}
    for name in wanted:
        values = [json.dumps(f[name]) for f in train_fields if f.get(name) is not None]
        if not values:
            continue
        majority = json.loads(Counter(values).most_common(1)[0][0])
        truths = [t for t in (_true_fields(r).get(name) for r in rows) if t is not None]
        if truths:
            hits = sum(field_matches(name, tuple(majority) if isinstance(majority, list) else majority, t) for t in truths)
            result[name] = {"accuracy": round(hits / len(truths), 4), "n": len(truths), "value": majority}
    return result
