"""TUAB: the TUH Abnormal EEG Corpus (v3.0.x; v2.0.0 folders also accepted).

Layout (braindecode ``TUHAbnormal``, EEG-FM-Bench, BioFoundation): ``edf/{train,eval}/{normal,abnormal}/
01_tcp_ar/<patient>_sNNN_tNNN.edf`` (v3, flat under the montage folder; v2.0.0 adds
``<3 digits>/<patient>/<session>/`` below it). The only label is the folder name: the session was
read as normal or abnormal by a neurologist, so every segment inherits it. ``eval`` is the official
test set (patient-disjoint from ``train``). 2,993 files in v3.0.1 (train 1,371 normal + 1,346
abnormal, eval 150 + 126).

Evidence: braindecode/braindecode ``braindecode/datasets/tuh.py`` (v3 paths
``tuh_eeg_abnormal/v3.0.0/edf/train/normal/01_tcp_ar/aaaaaaav_s004_t000.edf``; v2.0.0 paths
``v2.0.0/edf/train/normal/01_tcp_ar/000/00000021/s004_2013_08_15/00000021_s004_t000.edf``, 8-digit
patients; ``Age:(\\d+)`` in the EDF patient field); CBraMod ``preprocessing/README.md``
(TUAB 3.0.1 used). The 2,993-file count is braindecode's, not re-counted here.
"""

from __future__ import annotations

from .base import register_reader
from .tuh_common import TUHReader, tuh_subject

__all__ = ["TUABReader"]


@register_reader
class TUABReader(TUHReader):
    name = "tuab"
    title = "TUH Abnormal EEG Corpus (TUAB)"
    task = "normal/abnormal classification (recording level)"
    label_keys = ("abnormal",)
    layout = "edf/{train,eval}/{normal,abnormal}/01_tcp_ar/<patient>_sNNN_tNNN.edf"

    def _parse_path(self, rel_parts: tuple[str, ...], stem: str) -> dict | None:
        if "abnormal" in rel_parts:
            status = "abnormal"
        elif "normal" in rel_parts:
            status = "normal"
        else:
            return None
        if "eval" in rel_parts:
            split = "test"
        elif "train" in rel_parts:
            split = "train"
        else:
            return None
        return {"subject": tuh_subject(stem), "recording_labels": {"abnormal": status}, "official_split": split}
