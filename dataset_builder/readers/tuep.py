"""TUEP: the TUH EEG Epilepsy Corpus (v2.0.x).

Layout (EEG-FM-Bench TUEP config, TUEP README): ``00_epilepsy/<patient>/<session>/<montage>/<stem>.edf``
and ``01_no_epilepsy/...``; v2.0.0 copies name the top folders ``epilepsy_edf/`` and
``no_epilepsy_edf/``. There are no annotation files: the label is the patient's diagnosis
(epilepsy or not), a property of the patient, not of the EEG (an epilepsy patient's EEG may be
normal), so it is kept as its own ``epilepsy`` key and never mapped to abnormal or seizure. No
official split.

Evidence: EEG-FM-Bench ``TuepConfig`` (TUEP 2.0.1; found with the code search) and SOURCES.md for
the ``00_epilepsy``/``01_no_epilepsy`` (v2.0.1) and ``epilepsy_edf``/``no_epilepsy_edf`` (v2.0.0)
top folders; the folder names were not re-read in that code here.
"""

from __future__ import annotations

from .base import register_reader
from .tuh_common import TUHReader, tuh_subject

__all__ = ["TUEPReader"]

_EPILEPSY_FOLDERS = {"00_epilepsy", "epilepsy_edf", "epilepsy"}
_NO_EPILEPSY_FOLDERS = {"01_no_epilepsy", "no_epilepsy_edf", "no_epilepsy"}


@register_reader
class TUEPReader(TUHReader):
    name = "tuep"
    title = "TUH EEG Epilepsy Corpus (TUEP)"
    task = "epilepsy diagnosis (patient level)"
    label_keys = ("epilepsy",)
    layout = "{00_epilepsy,01_no_epilepsy}/<patient>/<session>/<montage>/<patient>_sNNN_tNNN.edf"

    def _parse_path(self, rel_parts: tuple[str, ...], stem: str) -> dict | None:
        parts = set(rel_parts)
        # Test the "no" folders first: "no_epilepsy" also contains "epilepsy".
        if parts & _NO_EPILEPSY_FOLDERS:
            diagnosis = "no_epilepsy"
        elif parts & _EPILEPSY_FOLDERS:
            diagnosis = "epilepsy"
        else:
            return None
        return {"subject": tuh_subject(stem), "recording_labels": {"epilepsy": diagnosis}}
