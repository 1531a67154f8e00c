"""Strict mode: a narrative that still contradicts the measurement is rewritten to state it.

The consistency check (``consistency.check_consistency``) finds the fields where a narrative and the
measured findings disagree. In strict mode the report does not show such a narrative as it is: the
measured fields are written by the corpus' own description writer (``dataset_builder.describe``,
whose text ``parse`` reads back exactly). What the model added that measurement cannot give, its
source-label statements (abnormal, event type, eyes, stimulus, recording quality, ...), is a
statement about annotations: it stays only where the recording carries that label itself (whose
value then wins). A label claim the recording cannot support ("unverified": a stimulus or a
recording quality on a file with no such annotation) is struck, as a clinician would strike it.
The report keeps the original narrative beside the repaired one and says which fields were
repaired.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ..findings_neuronarrator import Findings
from .consistency import ConsistencyIssue, check_consistency

__all__ = ["Repair", "repair_narrative"]


@dataclass
class Repair:
    """The outcome of strict mode for one segment.

    ``narrative``: the text to show; ``original``: the model's text when it was rewritten, else
    None; ``fields``: the fields that contradicted the measurement; ``issues``: the consistency issues
    of the text shown.
    """

    narrative: str
    original: str | None = None
    fields: list[str] = field(default_factory=list)
    issues: list[ConsistencyIssue] = field(default_factory=list)


def _claimed_labels(narrative: str) -> dict[str, str]:
    """Source-label statements of a narrative (``FieldSpec.label`` fields), as ``describe`` labels."""
    from dataset_builder.description import FIELD_SPECS, parse  # the corpus' parser

    claimed = parse(narrative)
    return {name: value for name, value in claimed.items() if FIELD_SPECS[name].label and isinstance(value, str) and value}


def repair_narrative(
    narrative: str,
    findings: Findings,
    history: Sequence[Findings] | None = None,
    issues: list[ConsistencyIssue] | None = None,
    seed: int = 0,
    segment_seconds: float = 10.0,
) -> Repair:
    """Rewrite ``narrative`` when it contradicts ``findings`` (or states nothing checkable).

    Args:
        narrative: the generated text of the segment.
        findings: the segment's measured findings (``findings.labels``: the recording's own labels).
        history: the findings of the preceding segments, oldest first (the change wording).
        issues: ``check_consistency(narrative, findings)`` (with the history's change window) when already computed.
        seed: phrasing seed of the description writer (the segment index keeps reports reproducible).
        segment_seconds: duration of one segment in s (the change sentence's window).

    Returns:
        A ``Repair``; ``original`` is None when the narrative needed no repair.
    """
    from dataset_builder import describe  # the corpus' description writer
    from dataset_builder.description import described_change_window

    history = list(history) if history else None
    window = described_change_window(findings, history, segment_seconds)  # what describe below names
    issues = check_consistency(narrative, findings, change_window=window) if issues is None else issues
    wrong = [issue.field for issue in issues if issue.kind in ("contradicted", "empty", "unverified")]
    if not wrong:
        return Repair(narrative, issues=issues)
    # The recording's own labels, over the claims they support; an unsupported label claim goes.
    own = dict(findings.labels)
    labels = {name: value for name, value in _claimed_labels(narrative).items() if name in own}
    labels.update(own)
    text = describe(findings, labels=labels or None, history=history, seed=seed, segment_seconds=segment_seconds)
    return Repair(text, original=narrative, fields=sorted(set(wrong)), issues=check_consistency(text, findings, change_window=window))
