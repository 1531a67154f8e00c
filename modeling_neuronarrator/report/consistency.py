"""Consistency check: does a narrative say what the signal shows?

Each narrative is parsed back into narrative fields with the corpus parser
(``dataset_builder.parse``) and compared field by field with the fields the measured findings
assert (``dataset_builder.findings_to_fields``). A claim that contradicts the measurement is
*flagged*, never hidden or corrected: the report shows the narrative as generated, next to the
measured value and the flag. Three kinds of issue:

- ``contradicted``: the narrative states a value and the measurement says otherwise;
- ``unverified``: the narrative states something the signal cannot confirm (e.g. a sleep stage or
  an event class when the recording carries no such label);
- ``empty``: the narrative is empty, or states none of the findings in a form the parser
  recognizes (a generation failure: nothing in it can be checked, so it cannot count as consistent);
- a change sentence that names another window than the one compared (``change_window``: "the
  preceding 33.3 s" where the change was measured over the preceding 30 s) is ``contradicted`` on
  the field ``change_window``;
- ``omitted``: the measurement has a finding (slowing, artifacts, asymmetry, ...) the narrative
  does not mention. Omissions are listed for completeness but are not counted as errors.

Whether a stated value contradicts the measured one is the project's one agreement rule
(``dataset_builder.agreement.values_agree``), the rule the training quality check and the
evaluator score with: a narrative the check passes is scored right field by field, and the other
way round.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from ..findings_neuronarrator import Findings

__all__ = ["ConsistencyIssue", "check_consistency", "fields_agree"]

# Measured values that are "nothing to report": a narrative silent about them omits nothing.
_EMPTY_VALUES = (None, "none", "absent", (), "stable", ("stable",), "not_assessed")


@dataclass
class ConsistencyIssue:
    """One disagreement between a narrative and the measured findings of its segment."""

    field: str
    kind: Literal["contradicted", "unverified", "empty", "omitted"]
    claimed: Any  # value parsed from the narrative (None for omissions)
    measured: Any  # value from the findings (None when unverifiable)
    message: str

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def fields_agree(field: str, claimed: Any, measured: Any) -> bool:
    """Whether a claimed narrative field value agrees with the measured one: the one agreement rule
    (``dataset_builder.agreement.values_agree``: numeric fields within the tolerances of
    ``FIELD_SPECS``, ±1 Hz for frequencies, ±25 % for amplitude; sets as sets; event times within
    0.5 s and rates within 0.5 Hz; the rest equal, case and surrounding spaces ignored; a value
    never agrees with an absent one)."""
    from dataset_builder.agreement import values_agree

    return values_agree(field, claimed, measured)


def _show(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value)) if value else "none"
    if isinstance(value, float):
        return f"{value:g}"
    return "none" if value is None else str(value)


def check_consistency(
    narrative: str,
    findings: Findings,
    labels: dict[str, str] | None = None,
    ignore_fields: Iterable[str] = (),
    change_window: str | None = None,
) -> list[ConsistencyIssue]:
    """Compare a narrative with the measured findings of its segment.

    Args:
        narrative: the text written for the segment (by the model or the template writer).
        findings: the segment's measured ``Findings``.
        labels: source labels of the segment (dict, Parquet struct or JSON); None or empty: ``findings.labels``.
        ignore_fields: narrative fields not to check.
        change_window: the window the segment's change was compared over, as
            ``findings_neuronarrator.measured_change_window`` writes it ("30 s"); a change sentence
            naming another is contradicted. None: not checked.

    Returns:
        The issues, contradictions first, then unverified claims, then omissions; an empty list
        when the narrative agrees with the measurement on every field it states.
    """
    from dataset_builder.agreement import canonical_value, segment_fields
    from dataset_builder.description import FIELD_SPECS, parse, stated_change_window  # the corpus parser

    if not narrative or not narrative.strip():
        return [ConsistencyIssue("narrative", "empty", "", None, "the narrative is empty: nothing to check against the measurement")]
    claimed_fields = parse(narrative)
    # Row labels as struct or JSON; none given (or empty) -> the findings' own labels.
    measured_fields = segment_fields(findings, labels)
    ignore = set(ignore_fields)
    contradicted, unverified, omitted = [], [], []
    if all(value is None for value in claimed_fields.values()):
        contradicted.append(ConsistencyIssue("narrative", "empty", None, None,
                                           "the narrative states none of the findings in a form the parser recognizes: nothing in it can be checked"))
    for field in sorted(set(claimed_fields) | set(measured_fields)):
        if field in ignore:
            continue
        claimed = claimed_fields.get(field)
        measured = measured_fields.get(field)
        claimed_empty = canonical_value(field, claimed) in _EMPTY_VALUES
        measured_empty = canonical_value(field, measured) in _EMPTY_VALUES
        if claimed is None:
            if not measured_empty:
                omitted.append(ConsistencyIssue(field, "omitted", None, measured, f"{field}: measured {_show(measured)}, not mentioned"))
            continue
        spec = FIELD_SPECS.get(field)
        if field == "state" and measured == "not_assessed" and claimed != "not_assessed":
            # No staging was possible: a stated state is a claim the signal could not check.
            unverified.append(ConsistencyIssue(field, "unverified", claimed, measured, f"state: states {_show(claimed)}, which was not assessed"))
            continue
        if measured is None and spec is not None and spec.label:
            # A source label the recording does not carry: the signal cannot confirm it.
            if not claimed_empty:
                unverified.append(ConsistencyIssue(field, "unverified", claimed, None, f"{field}: states {_show(claimed)}, which the signal alone cannot confirm"))
            continue
        if not fields_agree(field, claimed, measured):
            contradicted.append(ConsistencyIssue(field, "contradicted", claimed, measured, f"{field}: states {_show(claimed)}, measured {_show(measured)}"))
    stated_window = stated_change_window(narrative) if change_window is not None and "change_window" not in ignore else None
    if stated_window is not None and _window_seconds(stated_window) != _window_seconds(change_window):
        contradicted.append(ConsistencyIssue("change_window", "contradicted", stated_window, change_window,
                                             f"change_window: compares with the preceding {stated_window}, measured over the preceding {change_window}"))
    return contradicted + unverified + omitted


def _window_seconds(window: str) -> float | None:
    """Seconds of a change window as written ("30 s"; "segment": None), to the writer's 0.1 s."""
    return None if window.strip() == "segment" else round(float(window.strip().removesuffix("s")), 1)
