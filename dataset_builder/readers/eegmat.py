"""EEGMAT: EEG During Mental Arithmetic Tasks (PhysioNet ``eeg-during-mental-arithmetic`` 1.0.0).

Layout (PhysioNet README): flat ``Subject00_1.edf`` ... ``Subject35_2.edf`` with ``subject-info.csv``.
The label is the file suffix: ``_1`` = background EEG before the task (rest, ~180 s), ``_2`` =
during serial subtraction (mental arithmetic, 60 s). Subject: ``SubjectNN``. Channels ``EEG Fp1``
... (T3-T6 old names), ``EEG A2-A1``, ``ECG ECG``; ear-linked reference, 500 Hz, ICA-cleaned.
Recorded in Kyiv, Ukraine (50 Hz). Licence ODC-By 1.0. No official split; balance per subject,
the rest files are three times longer.

Evidence: SOURCES.md (PhysioNet README; CBraMod channel list; 500 Hz from the NEMAR copy). Not
re-verified on a real file here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from .base import RecordingItem, SourceReader, Walk, register_reader

__all__ = ["EEGMATReader"]

_NAME = re.compile(r"^Subject(\d+)_([12])$", re.IGNORECASE)
_STATE = {"1": "rest", "2": "mental_arithmetic"}


@register_reader
class EEGMATReader(SourceReader):
    name = "eegmat"
    title = "EEG During Mental Arithmetic Tasks (EEGMAT)"
    task = "mental arithmetic versus rest"
    label_keys = ("mental_state",)
    licence = "PhysioNet open access, Open Data Commons Attribution (ODC-By 1.0)"
    homepage = "https://physionet.org/content/eegmat/1.0.0/"
    layout = "SubjectNN_1.edf (rest) and SubjectNN_2.edf (mental arithmetic), flat"
    line_freq = 50.0

    def _recordings(self, walk: Walk) -> Iterator[RecordingItem]:
        for edf in sorted(walk.root.rglob("*.edf")):
            match = _NAME.match(edf.stem)
            if match is None:
                continue
            yield RecordingItem(
                source=self.name,
                subject=f"Subject{int(match.group(1)):02d}",
                recording=edf.stem,
                path=str(edf),
                recording_labels={"mental_state": _STATE[match.group(2)]},
                line_freq=self.line_freq,
            )
