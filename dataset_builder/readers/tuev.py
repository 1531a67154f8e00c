"""TUEV: the TUH EEG Events Corpus (v2.0.x).

Layout (TUEV README, braindecode ``TUHEvents``): ``edf/train/<patient>/<patient>_<8 digits>.edf`` and
``edf/eval/<3 digits>/<class>_<3 digits>_a_<n>.edf`` (e.g. ``bckg_000_a_.edf``, ``pled_001_a_2.edf``);
the three digits of an eval file are its patient. Each EDF has a ``.rec`` beside it (``.lab`` and
``.htk`` also exist in some versions and are ignored). ``eval`` is the official test set.

``.rec``: one event per line, no header, ``channel,start,stop,code`` with times in seconds, e.g.
``13,90.4,91.4,6``; the channel is an index into the 22-pair TCP montage, and the codes are
1 spsw, 2 gped, 3 pled, 4 eyem, 5 artf, 6 bckg. The same event is usually repeated on every
involved channel: the reader keeps one span per distinct (start, stop, class) and merges touching
spans of one class, giving recording-level event spans (braindecode's ``merge_events``).
Pitfall: eval file names start with a class name; the name is kept only as the recording id.

Evidence: CBraMod / LaBraM / BIOT ``preprocessing_tuev.py`` (thomas-cong/CBraMod: walks
``edf/train`` and ``edf/eval``, reads ``<stem>.rec`` with ``np.genfromtxt(delimiter=",")`` as
channel, start, stop, code; channel = TCP pair index; assumes 250 Hz; TUEV 2.0.0/2.0.1);
braindecode ``datasets/tuh.py``. Not verified here: the ``.lab``/``.htk`` files and the eval name
pattern beyond the examples in SOURCES.md.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from ._util import LabelIssues, merge_spans
from .base import LabelSpan, register_reader
from .tuh_common import TUHReader

logger = logging.getLogger(__name__)

__all__ = ["TUEV_CODES", "TUEVReader", "read_rec"]

TUEV_CODES = {1: "spsw", 2: "gped", 3: "pled", 4: "eyem", 5: "artf", 6: "bckg"}

_TRAIN_NAME = re.compile(r"^(?P<subject>[a-z]+|\d{8})_(?P<session>\d+)$")
_EVAL_NAME = re.compile(r"^(?P<event>[a-z]+)_(?P<subject>\d+)_a_(?P<run>\d*)$")


def read_rec(path: str | Path) -> list[tuple[int, float, float, int]]:
    """Rows ``(channel, start_s, stop_s, code)`` of a TUEV ``.rec`` file."""
    rows = []
    with open(path, encoding="utf-8", errors="replace") as fid:
        for line_no, line in enumerate(fid, start=1):
            if not line.strip():
                continue
            fields = [f.strip() for f in line.split(",")]
            try:
                channel, start, stop, code = int(fields[0]), float(fields[1]), float(fields[2]), int(float(fields[3]))
            except (ValueError, IndexError):
                raise ValueError(f"{path}: line {line_no} {line.strip()!r} is not 'channel,start,stop,code'") from None
            if code not in TUEV_CODES:
                raise ValueError(f"{path}: line {line_no}: event code {code} is not one of 1-6 ({TUEV_CODES})")
            if stop < start:
                raise ValueError(f"{path}: line {line_no}: stop {stop} is before start {start}")
            rows.append((channel, start, stop, code))
    return rows


@register_reader
class TUEVReader(TUHReader):
    name = "tuev"
    title = "TUH EEG Events Corpus (TUEV)"
    task = "EEG event classification (spsw/gped/pled/eyem/artf/bckg)"
    label_keys = ("event",)
    layout = "edf/train/<patient>/<patient>_NNNNNNNN.edf and edf/eval/NNN/<class>_NNN_a_<n>.edf, each with a .rec beside it"

    def _parse_path(self, rel_parts: tuple[str, ...], stem: str) -> dict | None:
        stem = stem.lower()
        if "eval" in rel_parts:
            match = _EVAL_NAME.match(stem)
            if match is None:
                return None
            return {"subject": f"eval_{match.group('subject')}", "official_split": "test"}
        if "train" in rel_parts:
            match = _TRAIN_NAME.match(stem)
            if match is None:
                return None
            return {"subject": match.group("subject"), "official_split": "train"}
        return None

    def _label_spans(self, edf_path: Path, issues: LabelIssues) -> list[LabelSpan]:
        rec = self._sibling(edf_path, ".rec")
        if rec is None:
            issues.add(edf_path, "no .rec file beside it; indexed without event labels")
            return []
        distinct = {(start, stop, code) for _, start, stop, code in read_rec(rec)}
        spans = [LabelSpan(start, stop, {"event": TUEV_CODES[code]}) for start, stop, code in distinct]
        return merge_spans(spans)
