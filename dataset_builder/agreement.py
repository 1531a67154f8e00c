"""One rule for "does this narrative field value agree with the measured one".

Three users judge narrative fields, and all of them call ``values_agree`` here:

- the training recipe's quality check (``modeling_neuronarrator.training.quality``: ``score_fields``,
  ``field_matches``, the majority baseline);
- the report's consistency check and strict repair (``modeling_neuronarrator.report.consistency``:
  ``check_consistency``, ``fields_agree``);
- the leaderboard (``neuronarrator_eval.clinical``: ``clinical_scores``, ``field_correctness``).

What a field is, where it comes from (the ``Findings`` attribute, the stage-1 head targets) and
its tolerance are one table, ``dataset_builder.description.FIELD_SPECS``; the rule:

- **Absent values**: ``None`` never agrees with anything, ``None`` included. Whether an absent
  value is scored as wrong, skipped or flagged is the caller's rule, the same in the scorers (a
  field is scored where the true value is not None; a narrative that leaves it out is wrong
  there) and named in the consistency check (``omitted``, ``unverified``).
- **Numeric fields**: both values numbers (bool is not a number; numpy scalars are), within
  ``max(tolerance, relative_tolerance * |measured|)`` of ``FIELD_SPECS`` (+-1 Hz for frequencies,
  +-25 % of the measured amplitude; the citations are beside the table). A value that is not a
  number (a string, NaN) disagrees.
- **Categorical fields**: equal after ``canonical_value`` (surrounding spaces and case ignored,
  spelled as the field's vocabulary spells it: ``"Alpha "`` is ``"alpha"``, ``"n2"`` is ``"N2"``).
- **Set fields**: equal as sets of canonical items (a repeated item counts once); tuples, lists
  and the evaluator's flattened ``"a+b"`` / ``"none"`` strings are the same set.
- **Event details**: the same number of events; each claimed event matches a distinct measured
  one of the same kind with onset and offset within the field's ``tolerance`` (0.5 s) and the
  rate within ``EVENT_RATE_TOLERANCE_HZ`` where both state one. The channel list is not compared:
  it is the detector's list of recorded channels whose amplitude rose (montage-dependent), while
  the finding is the generalized discharge and its time.
- **Fields the table does not know** (a newer corpus): no tolerance is invented; numbers must be
  equal, the rest equal after the same normalization.

Row labels and findings are read by one reader each (``read_labels``, ``read_findings``): a
Parquet struct, a dict or its JSON string. Empty row labels (no label key set) fall back to the
labels the findings record carries (the corpus stores the same labels in both), in every user.
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Mapping
from typing import Any

from modeling_neuronarrator.findings_neuronarrator import Findings

from .description import (
    FIELD_SPECS,
    FieldSpec,
    _as_findings,
    event_from_detail,
    findings_to_fields,
)

__all__ = [
    "EVENT_RATE_TOLERANCE_HZ",
    "canonical_value",
    "field_tolerance",
    "read_findings",
    "read_labels",
    "read_struct",
    "segment_fields",
    "values_agree",
]

# Spike-and-wave rate: the detector reads the rate off a comb within +-0.5 Hz of f0 and a typical
# absence discharge slows from ~3.5 to ~2.5 Hz over its course (events_neuronarrator, IFCN 2017).
EVENT_RATE_TOLERANCE_HZ = 0.5
# Values are written to 0.1 Hz / whole uV: a difference equal to the tolerance must count as within.
_ROUNDING = 1e-9


# ------------------------------------------------------------------------------------- readers


def read_struct(value: Any, what: str = "value") -> dict:
    """A corpus struct column (``labels``, ``findings``) as a dict: a Parquet struct / dict, its
    JSON string (bytes too), or None / an empty string (an empty dict)."""
    if value is None:
        return {}
    if isinstance(value, (bytes, bytearray)):
        value = value.decode("utf-8")
    if isinstance(value, str):
        if not value.strip():
            return {}
        try:
            value = json.loads(value)
        except json.JSONDecodeError as error:
            raise ValueError(f"{what}: not valid JSON ({error}): {value[:80]!r}; give a dict or its JSON string") from error
    if not isinstance(value, Mapping):
        raise TypeError(f"{what} must be a mapping or its JSON string, got {type(value).__name__}")
    return dict(value)


def read_labels(value: Any) -> dict[str, str]:
    """A row's harmonized labels as ``{key: value}``: Parquet structs carry every key of the schema
    (None where the row has no such label), older exports a JSON string; None values are dropped."""
    return {str(k): str(v) for k, v in read_struct(value, "labels").items() if v is not None}


def read_findings(value: Any) -> Findings:
    """A row's findings (``Findings``, its dict or JSON string) as a ``Findings``."""
    if isinstance(value, (bytes, bytearray)):
        value = value.decode("utf-8")
    return _as_findings(value)


def segment_fields(findings: Any, labels: Any = None) -> dict[str, Any]:
    """The true narrative fields of one segment (``findings_to_fields``) from its findings and row
    labels, each in any form ``read_findings`` / ``read_labels`` take. Empty row labels fall back
    to the labels stored in the findings record."""
    return findings_to_fields(read_findings(findings), read_labels(labels) or None)


# --------------------------------------------------------------------------------------- the rule


def _spec(field: str) -> FieldSpec | None:
    return FIELD_SPECS.get(field)


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(float(value))


def _kind(field: str, *values: Any) -> str:
    spec = _spec(field)
    if spec is not None:
        return spec.kind
    present = [v for v in values if v is not None]
    if present and all(_is_number(v) for v in present):
        return "numeric"
    if any(isinstance(v, (list, tuple, set, frozenset)) for v in present):
        return "set"
    return "categorical"


def _canonical_item(spec: FieldSpec | None, value: Any) -> str:
    text = str(value).strip()
    if spec is not None and spec.values:
        folded = text.casefold()
        for known in spec.values:
            if known.casefold() == folded:
                return known
    if spec is not None and spec.name == "event_details":
        return text  # "generalized_spike_wave 3.0Hz 2.5-7.5s F3,F4": case carries the channel names
    return text.lower()


def canonical_value(field: str, value: Any) -> Any:
    """The form in which ``value`` of ``field`` is compared: None stays None; numbers of numeric
    fields become float; categorical values a stripped string spelled as the vocabulary spells it;
    set values a sorted tuple of such items (from a tuple, list, set or an ``"a+b"`` / ``"none"``
    string)."""
    if value is None:
        return None
    spec = _spec(field)
    kind = _kind(field, value)
    if kind == "numeric":
        return float(value) if _is_number(value) else value
    if kind == "set":
        if isinstance(value, (str, bytes)):
            text = value.decode() if isinstance(value, bytes) else value
            items = [] if text.strip().lower() in ("", "none") else text.split("+")
        else:
            items = list(value)
        canonical = [_canonical_item(spec, item) for item in items]
        # A set names each value once ("muscle and muscle artifact" is muscle); event details are
        # events, counted one by one.
        return tuple(sorted(canonical if field == "event_details" else set(canonical)))
    return _canonical_item(spec, value)


def field_tolerance(field: str) -> tuple[float, float]:
    """``(absolute, relative)`` tolerance of ``field`` (``FIELD_SPECS``; (0, 0) for a field the
    table does not know)."""
    spec = _spec(field)
    return (0.0, 0.0) if spec is None else (float(spec.tolerance), float(spec.relative_tolerance))


def _events_agree(claimed: tuple[str, ...], measured: tuple[str, ...], tolerance_s: float) -> bool:
    """Event by event (``event_details`` strings), in onset order: each claimed event matches a
    distinct measured one of its kind within ``tolerance_s`` on onset and offset and
    ``EVENT_RATE_TOLERANCE_HZ`` on the rate."""
    if len(claimed) != len(measured):
        return False
    try:
        claims = [event_from_detail(d) for d in claimed]
    except ValueError:
        return False  # a claim the event grammar cannot read states no event
    remaining = sorted((event_from_detail(d) for d in measured), key=lambda e: (e.onset_s, e.offset_s))
    for claim in sorted(claims, key=lambda e: (e.onset_s, e.offset_s)):
        match = next(
            (m for m in remaining
             if m.kind == claim.kind
             and abs(m.onset_s - claim.onset_s) <= tolerance_s + _ROUNDING
             and abs(m.offset_s - claim.offset_s) <= tolerance_s + _ROUNDING
             and (m.frequency_hz is None or claim.frequency_hz is None
                  or abs(m.frequency_hz - claim.frequency_hz) <= EVENT_RATE_TOLERANCE_HZ + _ROUNDING)),
            None,
        )  # fmt: skip
        if match is None:
            return False
        remaining.remove(match)
    return True


def values_agree(field: str, claimed: Any, measured: Any) -> bool:
    """Whether ``claimed`` (parsed from a narrative, or a baseline's answer) agrees with
    ``measured`` (the segment's true value) for narrative field ``field``; the rule is in this
    module's docstring."""
    if claimed is None or measured is None:
        return False
    kind = _kind(field, claimed, measured)
    if kind == "numeric":
        if not (_is_number(claimed) and _is_number(measured)):
            return False
        absolute, relative = field_tolerance(field)
        allowed = max(absolute, relative * abs(float(measured)))
        return abs(float(claimed) - float(measured)) <= allowed + _ROUNDING
    claimed, measured = canonical_value(field, claimed), canonical_value(field, measured)
    if field == "event_details":
        return _events_agree(claimed, measured, field_tolerance(field)[0])
    return claimed == measured
