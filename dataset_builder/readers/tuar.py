"""TUAR: the TUH EEG Artifact Corpus (v3.0.x).

Layout (BioFoundation / EEG-FM-Bench TUAR configs): ``edf/{01_tcp_ar,02_tcp_le,03_tcp_ar_a}/
<patient>_sNNN_tNNN.edf``, flat under the montage folder, each EDF with a per-channel NEDC ``.csv``
beside it (some recordings also have ``<stem>_seiz.csv`` with seizure events; it is not read).

Label mapping (per-channel rows are merged over channels, one span per artifact class):
eyem -> eye_movement, chew -> chewing, shiv -> shivering, musc -> muscle, elec/elpp/elst ->
electrode. Combination labels (``eyem_musc``, ``chew_elec``...) become one span per component,
so a segment takes the component that covers it most. Only artifacts were annotated: time with no
row is *not* clean, so no "no artifact" spans are produced. 310 files, 213 patients; no official
split.

Evidence: BioFoundation TUAR README (310 files, 213 patients, EYEM/CHEW/SHIV/ELEC/MUSC) and
EEG-FM-Bench ``TuarConfig`` (version 3.0.1), both found with the code search; the per-channel NEDC
``.csv`` format is the one verified on the TUSZ files (``tuh_common``). Not verified here: the
``_seiz.csv`` side files and how often v3 uses ``elpp`` rather than ``elec``.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ._util import LabelIssues, merge_spans
from .base import LabelSpan, register_reader
from .tuh_common import TUHReader, read_nedc_csv, tuh_subject

logger = logging.getLogger(__name__)

__all__ = ["ARTIFACT_CODES", "TUARReader"]

ARTIFACT_CODES = {
    "eyem": "eye_movement",
    "chew": "chewing",
    "shiv": "shivering",
    "musc": "muscle",
    "elec": "electrode",
    "elpp": "electrode",
    "elst": "electrode",
}


@register_reader
class TUARReader(TUHReader):
    name = "tuar"
    title = "TUH EEG Artifact Corpus (TUAR)"
    task = "artifact detection and type"
    label_keys = ("artifact",)
    layout = "edf/{01_tcp_ar,02_tcp_le,03_tcp_ar_a}/<patient>_sNNN_tNNN.edf with <stem>.csv beside it"

    def _parse_path(self, rel_parts: tuple[str, ...], stem: str) -> dict | None:
        montage = next((p for p in rel_parts if p.startswith(("01_tcp", "02_tcp", "03_tcp"))), None)
        return {"subject": tuh_subject(stem), "extra": {"montage": montage}}

    def _label_spans(self, edf_path: Path, issues: LabelIssues) -> list[LabelSpan]:
        csv_path = self._sibling(edf_path, ".csv")
        if csv_path is None:
            issues.add(edf_path, "no .csv beside it; indexed without artifact labels")
            return []
        spans = []
        unknown: dict[str, int] = {}
        for row in read_nedc_csv(csv_path):
            for code in row.label.split("_"):
                if code in ARTIFACT_CODES:
                    spans.append(LabelSpan(row.start_s, row.stop_s, {"artifact": ARTIFACT_CODES[code]}))
                elif code not in ("bckg", "null"):
                    unknown[code] = unknown.get(code, 0) + 1
        if unknown:
            detail = ", ".join(f"{code!r} x{count}" for code, count in sorted(unknown.items()))
            issues.add(csv_path, f"labels outside the TUAR artifact set, left unlabelled: {detail}")
        return merge_spans(spans)
