"""Clinical accuracy of generated narratives, per field, for the training report and model card.

Each generated narrative is parsed back into narrative fields with the corpus parser
(``dataset_builder.parse``) and compared with the row's true fields
(``dataset_builder.findings_to_fields``). A field is scored on the rows where it applies (true
value not None: no PDR frequency for a segment without a PDR, no slowing side without focal
slowing, no change for a recording's first segment); a field the narrative does not mention
counts as wrong. Whether a value is right is the project's one agreement rule
(``dataset_builder.agreement.values_agree``, the rule the report's consistency check and the
evaluator use too): numeric fields within the tolerances of ``dataset_builder.FIELD_SPECS`` (e.g.
dominant frequency within 1 Hz), sets as sets, event times within 0.5 s.

One rule for every system (model, blind model, majority value): a field is scored on every row
where it applies, and a system with no answer for it (a narrative that omits it, a majority
baseline whose training rows never carried it) is wrong there, never skipped.

The full leaderboard (BLEU, ROUGE, kappa, F1 ...) is the evaluator's job (``neuronarrator
evaluate``); this module is the small, dependency-light check the training recipe runs.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any, Iterable, Optional, Sequence

__all__ = [
    "SIGNAL_FIELDS",
    "bootstrap_interval",
    "field_correctness",
    "field_matches",
    "majority_baseline",
    "majority_correctness",
    "majority_values",
    "missed_values",
    "paired_difference",
    "paired_difference_of",
    "score_fields",
    "value_recall",
]

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

# Categorical fields a findings-conditioned model copies from its prompt, scored value by value too: a
# run can copy a field well overall and never write one of its rare values (stop 45: one seed wrote
# "awake" on all 42 rows measured drowsy, another "eye movement" for 170 of 195 eye blinks), which
# the field's accuracy (0.985, 0.943) hides.
VALUE_FIELDS = ("state", "dominant_band", "predominant_region", "amplitude_category", "asymmetry_side", "slowing_kind", "artifacts")
# missed_values' rule (the card states it): a value stated right on under MISSED_FLOOR of its rows,
# among values measured on at least MISSED_MIN_ROWS rows.
MISSED_MIN_ROWS, MISSED_FLOOR = 20, 0.5


def field_matches(name: str, predicted: Any, true: Any) -> bool:
    """Whether a parsed value counts as correct for field ``name`` (None predicted = wrong): the
    one agreement rule, ``dataset_builder.agreement.values_agree``."""
    from dataset_builder.agreement import values_agree

    return values_agree(name, predicted, true)


def _true_fields(row: dict) -> dict:
    """True narrative fields of a corpus row (findings and labels as struct or JSON; empty row
    labels fall back to the findings' own): ``dataset_builder.agreement.segment_fields``."""
    from dataset_builder.agreement import segment_fields

    return segment_fields(row["findings"], row.get("labels"))


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


def value_recall(narratives: Sequence[str], rows: Sequence[dict], fields: Iterable[str] = VALUE_FIELDS) -> dict[str, dict[str, dict[str, int]]]:
    """Per field and true value, how often the narratives state it: ``{field: {value: {"n": rows
    measured with it, "right": rows whose narrative states it}}}``. A categorical value is right by
    the one agreement rule; a set field (artifacts) counts each measured element on its own, right
    when the narrative names that element (a row with eye blinks and muscle counts under both)."""
    from dataset_builder import parse
    from dataset_builder.agreement import canonical_value

    if len(narratives) != len(rows):
        raise ValueError(f"value_recall: {len(narratives)} narratives for {len(rows)} rows; give one narrative per row")
    names = tuple(fields)
    counts: dict[str, dict[str, dict[str, int]]] = {name: {} for name in names}
    for text, row in zip(narratives, rows):
        predicted, true = parse(text), _true_fields(row)
        for name in names:
            value = canonical_value(name, true.get(name))
            if value is None:
                continue
            if isinstance(value, tuple):  # a set field: each measured element on its own
                stated = set(canonical_value(name, predicted.get(name)) or ())
                hits = [(item, item in stated) for item in value]
            else:
                hits = [(value, field_matches(name, predicted.get(name), true[name]))]
            for item, right in hits:
                tally = counts[name].setdefault(str(item), {"n": 0, "right": 0})
                tally["n"] += 1
                tally["right"] += int(right)
    return {name: dict(sorted(values.items())) for name, values in counts.items() if values}


def missed_values(
    recall: dict[str, dict[str, dict[str, int]]], min_rows: int = MISSED_MIN_ROWS, floor: float = MISSED_FLOOR
) -> list[dict[str, Any]]:
    """The values of ``value_recall`` stated right on fewer than ``floor`` of their rows, among those
    measured on at least ``min_rows`` rows (fewer say little): ``[{"field", "value", "right", "n"}]``,
    worst first. A value a model misses this way it never learnt to copy from its prompt."""
    missed = [
        {"field": name, "value": value, "right": tally["right"], "n": tally["n"]}
        for name, values in recall.items()
        for value, tally in values.items()
        if tally["n"] >= min_rows and tally["right"] < floor * tally["n"]
    ]
    return sorted(missed, key=lambda m: (m["right"] / m["n"], m["field"], m["value"]))


def field_correctness(narratives: Sequence[str], rows: Sequence[dict], fields: Iterable[str]) -> dict[str, dict[int, bool]]:
    """Per field, ``{row position: correct}`` over the rows where the field applies."""
    return {name: {i: correct for i, _, correct in judged} for name, judged in _judged(narratives, rows, list(fields)).items()}


def bootstrap_interval(differences: Sequence[float], n_resamples: int = 2000, seed: int = 0) -> list[float]:
    """95 % percentile bootstrap interval of the mean of paired per-row differences."""
    import numpy as np

    diff = np.asarray(differences, dtype=float)
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, len(diff), size=(n_resamples, len(diff)))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return [round(float(low), 4), round(float(high), 4)]


def paired_difference_of(
    correct_a: dict[str, dict[int, bool]], correct_b: dict[str, dict[int, bool]], fields: Iterable[str],
    n_resamples: int = 2000, seed: int = 0,
) -> dict[str, dict[str, Any]]:
    """``paired_difference`` from per-row correctness (``field_correctness``, ``majority_correctness``).

    Both must cover the same rows of each field (they were scored on the same rows by one rule).
    """
    result = {}
    for name in fields:
        a, b = correct_a.get(name) or {}, correct_b.get(name) or {}
        if not a:
            continue
        if set(a) != set(b):
            raise ValueError(f"paired_difference: field {name!r} was scored on different rows for the two systems")
        positions = sorted(a)
        diff = [float(a[i]) - float(b[i]) for i in positions]
        result[name] = {
            "difference": round(sum(diff) / len(diff), 4),
            "ci95": bootstrap_interval(diff, n_resamples, seed),
            "n": len(diff),
        }
    return result


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
    names = list(fields)
    return paired_difference_of(field_correctness(narratives_a, rows, names), field_correctness(narratives_b, rows, names), names, n_resamples, seed)


def majority_values(train_rows: Sequence[dict], fields: Optional[Iterable[str]] = None) -> dict[str, Any]:
    """The most frequent true value of each field over ``train_rows`` (rows where it applies).

    Ties go to the value met first in ``train_rows`` (``Counter.most_common`` keeps insertion
    order); sets come back as sorted tuples. A field no training row carries is absent.
    """
    from dataset_builder import NARRATIVE_FIELDS

    wanted = tuple(fields) if fields is not None else NARRATIVE_FIELDS
    train_fields = [_true_fields(r) for r in train_rows]
    values = {}
    for name in wanted:
        seen = [json.dumps(sorted(v) if isinstance(v, (list, tuple)) else v) for f in train_fields if (v := f.get(name)) is not None]
        if seen:
            value = json.loads(Counter(seen).most_common(1)[0][0])
            values[name] = tuple(value) if isinstance(value, list) else value
    return values


def majority_correctness(train_rows: Sequence[dict], rows: Sequence[dict], fields: Optional[Iterable[str]] = None) -> dict[str, dict[int, bool]]:
    """Per field, ``{row position: correct}`` of always answering the training majority value;
    where the training rows never carried the field, every row is wrong (no answer)."""
    from dataset_builder import NARRATIVE_FIELDS

    wanted = tuple(fields) if fields is not None else NARRATIVE_FIELDS
    majority = majority_values(train_rows, wanted)
    row_fields = [_true_fields(r) for r in rows]
    out = {}
    for name in wanted:
        applies = {i: f[name] for i, f in enumerate(row_fields) if f.get(name) is not None}
        if applies:
            out[name] = {i: name in majority and field_matches(name, majority[name], true) for i, true in applies.items()}
    return out


def majority_baseline(train_rows: Sequence[dict], rows: Sequence[dict], fields: Optional[Iterable[str]] = None) -> dict[str, dict[str, Any]]:
    """Accuracy of always answering the training set's most frequent value of each field.

    What a model that ignores the EEG can at best do per field with one constant answer; scored
    by the same rule as the narratives: a field that applies to a row but never occurred in the
    training rows has no majority value and counts as wrong (``value`` None).

    Returns:
        ``{field: {"accuracy": float, "n": int, "value": majority value or None}}`` for every field
        that applies to some row of ``rows``.
    """
    from dataset_builder import NARRATIVE_FIELDS

    wanted = tuple(fields) if fields is not None else NARRATIVE_FIELDS
    majority = majority_values(train_rows, wanted)
    result = {}
    for name, correct in majority_correctness(train_rows, rows, wanted).items():
        value = majority.get(name)
        result[name] = {
            "accuracy": round(sum(correct.values()) / len(correct), 4),
            "n": len(correct),
            "value": list(value) if isinstance(value, tuple) else value,
        }
    return result
