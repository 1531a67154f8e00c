"""Clinical correctness of generated narratives: the corpus parser reads findings and labels back
out of each narrative, and each field is compared with the segment's true value.

How fields are scored (the rules the leaderboard documents):

* The true fields of a segment are ``dataset_builder.findings_to_fields(findings, labels)``, the
  predicted ones ``dataset_builder.parse(narrative)``; both are dicts over ``NARRATIVE_FIELDS``, and
  ``dataset_builder.FIELD_SPECS`` says how each is typed (categorical, numeric, set) and which
  tolerance a numeric field allows.
* A field is scored on the segments whose true value is not None (a sleep stage is scored on sleep
  recordings only; the PDR frequency only where a PDR is present, its presence being the
  categorical field ``pdr``). A field the narrative does not mention parses as None and counts as
  WRONG (class ``"<missing>"``), never as skipped: leaving a finding out is an error of the narrative.
* Categorical fields: accuracy, balanced accuracy, Cohen's kappa, macro-F1 and weighted F1
  (scikit-learn). Undefined values (kappa when both sides are one constant class) are None.
* Set fields (artifacts, change): the whole set as one class (``"a+b"``, ``"none"`` when empty)
  with the categorical scores, plus micro-F1 over the set items.
* Numeric fields: correct within the spec's tolerance: dominant frequency and PDR within +-1 Hz,
  amplitude within +-25 %; plus the mean absolute error where the narrative gives a value. The band
  of the dominant frequency is scored on its own as the categorical field ``dominant_band``.
* Right or wrong is the project's one agreement rule (``dataset_builder.agreement.values_agree``),
  the rule of the training quality check and the report's consistency check: categorical values
  compare case- and space-insensitively, sets as sets, event details with event times within
  0.5 s and rates within 0.5 Hz. A prediction that agrees with the true value is scored as the
  true class (so accuracy, kappa and F1 all follow the rule); fields the builder does not know
  are compared exactly (no invented tolerance).
* ``clinical_accuracy`` (the leaderboard's primary metric) is the unweighted mean over scored fields
  of the per-field accuracy (within-tolerance accuracy for numeric fields).
* Task metrics of the labelled sources (``TASKS``): TUAB normal/abnormal (balanced accuracy, AUROC
  when the system gives scores), TUEV events (balanced accuracy, kappa, weighted F1), sleep stages
  (balanced accuracy, kappa).
"""

from __future__ import annotations

import logging
import math
import warnings
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

__all__ = [
    "MISSING",
    "TASKS",
    "categorical_scores",
    "clinical_scores",
    "field_correctness",
    "flatten_fields",
    "numeric_tolerance",
    "parse_narratives",
    "true_fields",
]

logger = logging.getLogger(__name__)

MISSING = "<missing>"
# task name -> label key, positive class (for AUROC) and the metrics reported
TASKS: dict[str, dict[str, Any]] = {
    "tuab_abnormal": {"label": "abnormal", "positive": "abnormal", "metrics": ("balanced_accuracy", "auroc")},
    "tuev_event": {"label": "event", "positive": None, "metrics": ("balanced_accuracy", "cohen_kappa", "weighted_f1")},
    "sleep_stage": {"label": "sleep_stage", "positive": None, "metrics": ("balanced_accuracy", "cohen_kappa")},
}


def _corpus_parser():
    """``(parse, findings_to_fields, FIELD_SPECS)`` of the corpus builder (imported on first use)."""
    try:
        from dataset_builder.description import FIELD_SPECS, findings_to_fields, parse
    except ImportError as error:  # the parser ships with the corpus builder
        raise ImportError(
            "clinical scoring needs the corpus parser (dataset_builder.description: parse, findings_to_fields, "
            f"FIELD_SPECS); it could not be imported: {error}"
        ) from error
    return parse, findings_to_fields, FIELD_SPECS


def _agreement():
    """The corpus builder's one agreement rule module (``dataset_builder.agreement``)."""
    _corpus_parser()  # the clear error when the builder is missing
    from dataset_builder import agreement

    return agreement


def flatten_fields(fields: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten nested dicts to ``"a.b"`` keys; lists become one sorted ``"x+y"`` string (``"none"`` if empty)."""
    flat: dict[str, Any] = {}
    for key, value in fields.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten_fields(value, prefix=f"{name}."))
        elif isinstance(value, (list, tuple, set, frozenset)):
            flat[name] = "+".join(sorted(str(v) for v in value)) or "none"
        else:
            flat[name] = value
    return flat


def parse_narratives(narratives: Iterable[str]) -> list[dict[str, Any]]:
    """Parsed, flattened fields of each narrative. Text the parser rejects gives all-None fields
    (every field then counts as wrong) and a logged warning, so one bad generation cannot stop a run."""
    parse, _, _ = _corpus_parser()
    out = []
    n_failed = 0
    for text in narratives:
        try:
            out.append(flatten_fields(parse(text)))
        except ValueError as error:
            n_failed += 1
            logger.debug("parser rejected narrative %r: %s", text[:80], error)
            out.append({})
    if n_failed:
        logger.warning("the corpus parser rejected %d of %d narratives; their fields count as wrong", n_failed, len(out))
    return out


def true_fields(findings: Any, labels: Any = None) -> dict[str, Any]:
    """Flattened narrative fields of one segment's true findings (``Findings``, dict or JSON) and
    labels (dict, Parquet struct or JSON); empty row labels fall back to the labels stored in the
    findings record (``dataset_builder.agreement.segment_fields``)."""
    return flatten_fields(_agreement().segment_fields(findings, labels))


def numeric_tolerance(field: str) -> tuple[str, float]:
    """``("abs", tol)`` or ``("rel", tol)`` of a numeric field, from ``FIELD_SPECS`` (+-1 Hz, +-25 %);
    ``("abs", 0.0)`` for a field the builder does not know (compared exactly)."""
    absolute, relative = _agreement().field_tolerance(field)
    return ("rel", relative) if relative > 0 else ("abs", absolute)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _finite_or_none(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def categorical_scores(y_true: Sequence[str], y_pred: Sequence[str]) -> dict[str, Any]:
    """Accuracy, balanced accuracy, Cohen's kappa, macro-F1 and weighted F1 of string labels.

    Balanced accuracy is the mean recall over the classes present in ``y_true``; predicted classes
    that never occur in ``y_true`` (including ``MISSING``) only lower those recalls.
    """
    from sklearn.metrics import accuracy_score, cohen_kappa_score, f1_score, recall_score

    y_true = [str(v) for v in y_true]
    y_pred = [str(v) for v in y_pred]
    true_classes = sorted(set(y_true))
    with warnings.catch_warnings():
        # sklearn warns about classes absent from one side; the values it returns are the documented ones.
        warnings.simplefilter("ignore")
        balanced = recall_score(y_true, y_pred, labels=true_classes, average="macro", zero_division=0)
        kappa = cohen_kappa_score(y_true, y_pred)
        macro_f1 = f1_score(y_true, y_pred, labels=true_classes, average="macro", zero_division=0)
        weighted_f1 = f1_score(y_true, y_pred, labels=true_classes, average="weighted", zero_division=0)
    return {
        "kind": "categorical",
        "n": len(y_true),
        "n_missing": sum(v == MISSING for v in y_pred),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "balanced_accuracy": float(balanced),
        "cohen_kappa": _finite_or_none(kappa),
        "macro_f1": float(macro_f1),
        "weighted_f1": float(weighted_f1),
    }


def _numeric_scores(field: str, y_true: Sequence[float], y_pred: Sequence[Any]) -> dict[str, Any]:
    agree = _agreement().values_agree
    mode, tol = numeric_tolerance(field)
    correct = 0
    errors = []
    for t, p in zip(y_true, y_pred):
        correct += agree(field, p, t)
        if _is_number(p):  # missing or unparseable: wrong, and no error to average
            errors.append(abs(float(p) - float(t)))
    n = len(y_true)
    return {
        "kind": "numeric",
        "n": n,
        "n_missing": n - len(errors),
        "tolerance": f"+-{tol * 100:g} %" if mode == "rel" else f"+-{tol:g}",  # as the leaderboard prints it
        "accuracy": correct / n,
        "mean_absolute_error": float(np.mean(errors)) if errors else None,
    }


def _set_micro_f1(y_true: Sequence[str], y_pred: Sequence[str]) -> float:
    """Micro-F1 over the items of set fields given as ``"a+b"`` / ``"none"`` strings."""
    tp = fp = fn = 0
    for t, p in zip(y_true, y_pred):
        true_items = set() if t == "none" else set(t.split("+"))
        pred_items = set() if p in ("none", MISSING) else set(p.split("+"))
        tp += len(true_items & pred_items)
        fp += len(pred_items - true_items)
        fn += len(true_items - pred_items)
        if p == MISSING:
            fn += 0 if true_items else 1  # an unstated empty set is still a miss
    return 2 * tp / (2 * tp + fp + fn) if (2 * tp + fp + fn) else 1.0


def _as_class(value: Any) -> str:
    """Class string of a canonical value (``MISSING`` for None, ``"a+b"`` / ``"none"`` for sets)."""
    if value is None:
        return MISSING
    if isinstance(value, tuple):
        return "+".join(value) or "none"
    return str(value)


def _classes(field: str, y_true: Sequence[Any], y_pred: Sequence[Any]) -> tuple[list[str], list[str]]:
    """Class strings of true and predicted values under the one agreement rule: a prediction that
    agrees with its true value takes the true class, any other its own canonical class."""
    rule = _agreement()
    true_c, pred_c = [], []
    for t, p in zip(y_true, y_pred):
        t_class = _as_class(rule.canonical_value(field, t))
        true_c.append(t_class)
        pred_c.append(t_class if rule.values_agree(field, p, t) else _as_class(rule.canonical_value(field, p)))
    return true_c, pred_c


def field_correctness(predicted: Sequence[Mapping[str, Any]], truth: Sequence[Mapping[str, Any]]) -> dict[str, list[int | None]]:
    """Per field, one entry per row: 1 correct, 0 wrong (a value the narrative leaves out is wrong),
    None where the field does not apply (no true value); right or wrong by the one agreement rule
    (``dataset_builder.agreement.values_agree``). ``clinical_scores``' per-field accuracy is the
    mean of the non-None entries; the leaderboard's paired bootstrap resamples these rows."""
    agree = _agreement().values_agree
    out: dict[str, list[int | None]] = {}
    for name in sorted({name for row in truth for name in row}):
        column = [None if t_row.get(name) is None else int(agree(name, p_row.get(name), t_row[name])) for p_row, t_row in zip(predicted, truth)]
        if any(v is not None for v in column):
            out[name] = column
    return out


def clinical_scores(
    predicted: Sequence[Mapping[str, Any]],
    truth: Sequence[Mapping[str, Any]],
    *,
    scores: Sequence[Mapping[str, float] | None] | None = None,
) -> dict[str, Any]:
    """Per-field and task scores of predicted against true narrative fields.

    Args:
        predicted: flattened fields parsed from each generated narrative (``parse_narratives``).
        truth: flattened true fields of each segment (``true_fields``), same order and length.
        scores: optional per-segment ``{label: probability of the positive class}`` (e.g.
            ``{"abnormal": 0.8}``) from systems that output scores; used for AUROC.

    Returns:
        ``{"clinical_accuracy": float | None, "clinical_macro_f1": float | None, "fields": {field:
        scores}, "tasks": {task: scores}}``; field scores as in ``categorical_scores`` (numeric
        fields: accuracy within tolerance, mean absolute error).
    """
    if len(predicted) != len(truth):
        raise ValueError(f"{len(predicted)} parsed narratives but {len(truth)} true rows; they must pair one to one")
    if scores is not None and len(scores) != len(truth):
        raise ValueError(f"{len(scores)} score entries but {len(truth)} rows; give one (or None) per row")
    _, _, specs = _corpus_parser()
    field_names = sorted({name for row in truth for name in row})
    fields: dict[str, dict[str, Any]] = {}
    for name in field_names:
        rows = [i for i, row in enumerate(truth) if row.get(name) is not None]
        if not rows:
            continue
        y_true = [truth[i][name] for i in rows]
        y_pred = [predicted[i].get(name) for i in rows]
        spec = specs.get(name)
        kind = spec.kind if spec is not None else ("numeric" if all(_is_number(v) for v in y_true) else "categorical")
        if kind == "numeric":
            fields[name] = _numeric_scores(name, y_true, y_pred)
        else:
            y_true_c, y_pred_c = _classes(name, y_true, y_pred)
            fields[name] = categorical_scores(y_true_c, y_pred_c)
            if kind == "set":
                fields[name]["kind"] = "set"
                fields[name]["item_micro_f1"] = _set_micro_f1(y_true_c, y_pred_c)
    primary = [s["accuracy"] for s in fields.values()]
    f1s = [s["macro_f1"] for s in fields.values() if s["kind"] != "numeric"]
    return {
        "clinical_accuracy": float(np.mean(primary)) if primary else None,
        "clinical_macro_f1": float(np.mean(f1s)) if f1s else None,
        "fields": fields,
        "tasks": _task_scores(predicted, truth, field_names, scores),
    }


def _task_scores(predicted, truth, field_names, scores) -> dict[str, dict[str, Any]]:
    from sklearn.metrics import roc_auc_score

    tasks = {}
    for task, spec in TASKS.items():
        field = spec["label"]  # label fields are named by their LABEL_VOCABULARY key
        rows = [i for i, row in enumerate(truth) if row.get(field) is not None]
        if not rows:
            continue
        y_true, y_pred = _classes(field, [truth[i][field] for i in rows], [predicted[i].get(field) for i in rows])
        full = categorical_scores(y_true, y_pred)
        result = {"label": spec["label"], "n": len(rows)}
        result.update({m: full[m] for m in spec["metrics"] if m in full})
        if "auroc" in spec["metrics"]:
            result["auroc"] = None
            if scores is not None:
                scored = [(y_true[k], scores[i].get(spec["label"])) for k, i in enumerate(rows) if scores[i]]
                scored = [(t, s) for t, s in scored if _is_number(s)]
                positives = {t == spec["positive"] for t, _ in scored}
                if scored and positives == {True, False}:
                    result["auroc"] = float(roc_auc_score([t == spec["positive"] for t, _ in scored], [s for _, s in scored]))
                    result["n_scored"] = len(scored)
        tasks[task] = result
    return tasks
