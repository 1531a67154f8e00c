"""TUSL: the TUH EEG Slowing Corpus (v2.0.x).

Layout (BioFoundation / EEG-FM-Bench TUSL configs): ``edf/<patient>/<session>/<montage>/<stem>.edf``
with an NEDC ``.csv`` beside it (a ``.csv_bi`` is read when no ``.csv`` is there). Rows carry
``seiz``, ``slow`` or ``bckg``; annotated events are typically 10 s long.

Mapping: slow -> slowing_annotation=slowing and seizure=none; seiz -> seizure=seizure; bckg ->
slowing_annotation=background and seizure=none. Pitfall: TUSL's ``bckg`` is a *complex
background* chosen to be confused with slowing, not a normal EEG, so it never maps to "normal".
38 patients; no official split.

Evidence: SOURCES.md (BioFoundation / EEG-FM-Bench TUSL configs) for the layout and the
seiz/slow/bckg vocabulary; the NEDC ``.csv`` format is verified on the TUSZ files (``tuh_common``).
Not verified on a real TUSL file here: the folder depth and the 10 s event length.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ._util import LabelIssues, merge_spans
from .base import LabelSpan, register_reader
from .tuh_common import TUHReader, read_nedc_csv, tuh_subject

logger = logging.getLogger(__name__)

__all__ = ["SLOWING_CODES", "TUSLReader"]

SLOWING_CODES = {
    "slow": {"slowing_annotation": "slowing", "seizure": "none"},
    "seiz": {"seizure": "seizure"},
    "bckg": {"slowing_annotation": "background", "seizure": "none"},
}


@register_reader
class TUSLReader(TUHReader):
    name = "tusl"
    title = "TUH EEG Slowing Corpus (TUSL)"
    task = "slowing versus complex background (and seizure)"
    label_keys = ("slowing_annotation", "seizure")
    layout = "edf/<patient>/<session>/<montage>/<patient>_sNNN_tNNN.edf with <stem>.csv beside it"

    def _parse_path(self, rel_parts: tuple[str, ...], stem: str) -> dict | None:
        return {"subject": tuh_subject(stem)}

    def _label_spans(self, edf_path: Path, issues: LabelIssues) -> list[LabelSpan]:
        csv_path = self._sibling(edf_path, ".csv") or self._sibling(edf_path, ".csv_bi")
        if csv_path is None:
            issues.add(edf_path, "no .csv beside it; indexed without slowing labels")
            return []
        spans = []
        unknown: dict[str, int] = {}
        for row in read_nedc_csv(csv_path):
            labels = SLOWING_CODES.get(row.label)
            if labels is None:
                unknown[row.label] = unknown.get(row.label, 0) + 1
                continue
            spans.append(LabelSpan(row.start_s, row.stop_s, dict(labels)))
        if unknown:
            detail = ", ".join(f"{label!r} x{count}" for label, count in sorted(unknown.items()))
            issues.add(csv_path, f"labels that are not seiz/slow/bckg, left unlabelled: {detail}")
        return merge_spans(spans)
