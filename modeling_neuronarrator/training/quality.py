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

__all__ = ["SIGNAL_FIELDS", "score_fields", "majority_baseline", "field_matches", "paired_difference"]

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


def _judged(narratives: Sequence[str], rows: Sequence[dict], names: Sequence[str]) -> dict[str, list[tuple[int, bool, bool]]]:
    """Each narrative parsed once: per field, ``(row position, mentioned, correct)`` for the rows
    where the field applies."""
    from dataset_builder import parse

    judged: dict[str, list[tuple[int, bool, bool]]] = {name: [] for name in names}
    for i, (text, row) in enumerate(zip(narratives, rows)):
        predicted = parse(text)
        true = _true_fields(row)
        for name in names:
            if true.get(name) is not None:
                judged[name].append((i, predicted.get(name) is not None, field_matches(name, predicted.get(name), true[name])))
    return judged


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
    from dataset_builder import NARRATIVE_FIELDS

    if len(narratives) != len(rows):
        raise ValueError(f"score_fields: {len(narratives)} narratives for {len(rows)} rows; give one narrative per row")
    wanted = tuple(fields) if fields is not None else NARRATIVE_FIELDS
    return {
        name: {
            "accuracy": round(sum(c for _, _, c in judged) / len(judged), 4),
            "n": len(judged),
            "mentioned": round(sum(m for _, m, _ in judged) / len(judged), 4),
        }
        for name, judged in _judged(narratives, rows, wanted).items()
        if judged
    }


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
    names = list(fields)
    judged_a, judged_b = _judged(narratives_a, rows, names), _judged(narratives_b, rows, names)
    result = {}
    for name in names:
        if not judged_a[name]:
            continue
        diff = np.array([c for _, _, c in judged_a[name]], dtype=float) - np.array([c for _, _, c in judged_b[name]], dtype=float)
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
    row_fields = [_true_fields(r) for r in rows]
    result = {}
    for name in wanted:
        values = [json.dumps(f[name]) for f in train_fields if f.get(name) is not None]
        if not values:
            continue
        majority = json.loads(Counter(values).most_common(1)[0][0])
        truths = [f[name] for f in row_fields if f.get(name) is not None]
        if truths:
            hits = sum(field_matches(name, tuple(majority) if isinstance(majority, list) else majority, t) for t in truths)
            result[name] = {"accuracy": round(hits / len(truths), 4), "n": len(truths), "value": majority}
    return result
