"""Shared base of the six TUH corpus readers (TUAB, TUEV, TUSZ, TUAR, TUSL, TUEP).

The TUH corpora share file naming, channel naming, the NEDC annotation formats and the site (Temple
University Hospital, Philadelphia: 60 Hz mains). As in braindecode's ``TUH`` base class, a cheap
pass walks the EDF files by path and each corpus overrides small hooks:

- ``_parse_path(rel_parts, stem)``: subject, official split and recording-level labels from the
  path (folder names such as ``eval``/``abnormal``/``00_epilepsy``), or None to skip a file;
- ``_label_spans(edf_path)``: time-resolved labels from the annotation file beside the EDF.

Facts used here (see the TUH READMEs / AAREADMEs and braindecode ``datasets/tuh.py``):

- file names ``<patient>_s<session>_t<token>.edf`` (v2+ patients are 8 letters, ``aaaaaaav``;
  older releases used 8 digits), so the subject is the text before the first ``_``;
- NEDC CSV (``.csv``, ``.csv_bi``): ``#`` comment lines (``# version = csv_v1.0.0``), then the
  column line ``channel,start_time,stop_time,label,confidence``, then one row per event with times
  in seconds from the file start; ``channel`` is a TCP pair (``FP1-F7``) or ``TERM``.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

from ._util import LabelIssues
from .base import LabelSpan, RecordingItem, SourceReader, Walk

__all__ = ["TCP_MONTAGE", "TUH_LINE_FREQ", "NedcRow", "TUHReader", "nedc_duration", "read_nedc_csv", "tuh_subject"]

TUH_LINE_FREQ = 60.0  # Philadelphia, USA

# The 22-channel ACNS TCP montage that TUH annotation channel indices refer to (TUEV .rec).
TCP_MONTAGE = (
    "FP1-F7", "F7-T3", "T3-T5", "T5-O1", "FP2-F8", "F8-T4", "T4-T6", "T6-O2", "A1-T3", "T3-C3", "C3-CZ",
    "CZ-C4", "C4-T4", "T4-A2", "FP1-F3", "F3-C3", "C3-P3", "P3-O1", "FP2-F4", "F4-C4", "C4-P4", "P4-O2",
)  # fmt: skip

_NEDC_COLUMNS = ("channel", "start_time", "stop_time", "label", "confidence")


class NedcRow(tuple):
    """One NEDC CSV row: (channel, start_s, stop_s, label, confidence)."""

    __slots__ = ()

    @property
    def channel(self) -> str:
        return self[0]

    @property
    def start_s(self) -> float:
        return self[1]

    @property
    def stop_s(self) -> float:
        return self[2]

    @property
    def label(self) -> str:
        return self[3]


def read_nedc_csv(path: str | Path) -> list[NedcRow]:
    """Rows of an NEDC ``.csv``/``.csv_bi`` annotation file (comment header skipped).

    Raises a ValueError naming the file if the column line is missing or a row is malformed.
    """
    path = Path(path)
    rows: list[NedcRow] = []
    header_seen = False
    with open(path, newline="", encoding="utf-8", errors="replace") as fid:
        for line_no, fields in enumerate(csv.reader(fid), start=1):
            if not fields or not "".join(fields).strip() or fields[0].lstrip().startswith("#"):
                continue
            fields = [f.strip() for f in fields]
            if not header_seen:
                if tuple(f.lower() for f in fields[:5]) != _NEDC_COLUMNS:
                    raise ValueError(
                        f"{path}: line {line_no} should be the NEDC column line "
                        f"'{','.join(_NEDC_COLUMNS)}', got {','.join(fields)!r}; is this a TUH csv annotation file?"
                    )
                header_seen = True
                continue
            if len(fields) < 4:
                raise ValueError(f"{path}: line {line_no} has {len(fields)} fields, expected channel,start_time,stop_time,label[,confidence]")
            try:
                start, stop = float(fields[1]), float(fields[2])
            except ValueError:
                raise ValueError(f"{path}: line {line_no}: start/stop times {fields[1]!r}, {fields[2]!r} are not numbers") from None
            if stop < start:
                raise ValueError(f"{path}: line {line_no}: stop_time {stop} is before start_time {start}")
            rows.append(NedcRow((fields[0], start, stop, fields[3].lower(), fields[4] if len(fields) > 4 else "")))
    if not header_seen:
        raise ValueError(f"{path}: no NEDC column line 'channel,start_time,stop_time,label,confidence' found")
    return rows


_DURATION = re.compile(r"^#\s*duration\s*=\s*([\d.]+)\s*sec", re.IGNORECASE)


def nedc_duration(path: str | Path) -> float | None:
    """The ``# duration = 1831.00 secs`` header value of an NEDC csv file, or None if absent."""
    with open(path, encoding="utf-8", errors="replace") as fid:
        for line in fid:
            if not line.startswith("#"):
                break
            if match := _DURATION.match(line.strip()):
                return float(match.group(1))
    return None


def tuh_subject(stem: str) -> str:
    """Patient id of a TUH file stem: ``aaaaaaav_s004_t000`` -> ``aaaaaaav``."""
    return stem.split("_", 1)[0]


class TUHReader(SourceReader):
    """Base of the TUH readers: walks ``*.edf`` under the root and calls the hooks."""

    layout: ClassVar[str] = ""
    homepage: ClassVar[str] = "https://isip.piconepress.com/projects/nedc/html/tuh_eeg/"
    licence: ClassVar[str] = (
        "TUH EEG data-sharing agreement with the Neural Engineering Data Consortium (free, signed "
        "form required); no redistribution"
    )

    def _recordings(self, walk: Walk) -> Iterator[RecordingItem]:
        issues = walk.issues
        for edf_path in sorted(walk.root.rglob("*.edf")):
            rel_parts = tuple(part.lower() for part in edf_path.relative_to(walk.root).parts[:-1])
            parsed = self._parse_path(rel_parts, edf_path.stem)
            if parsed is None:
                walk.skip(edf_path)
                continue
            try:
                spans = self._label_spans(edf_path, issues)
            except ValueError as error:  # a malformed label file: this recording unlabelled, the rest go on
                issues.add(edf_path, f"label file not readable ({error}); indexed without labels")
                spans = []
            yield RecordingItem(
                source=self.name,
                subject=parsed["subject"],
                recording=parsed.get("recording", edf_path.stem),
                path=str(edf_path),
                recording_labels=parsed.get("recording_labels", {}),
                spans=spans,
                official_split=parsed.get("official_split"),
                line_freq=TUH_LINE_FREQ,
                extra=parsed.get("extra", {}),
            )

    # -- hooks -----------------------------------------------------------------------------
    def _parse_path(self, rel_parts: tuple[str, ...], stem: str) -> dict | None:
        """Subject / split / recording labels from the folders (lower-cased) and file stem."""
        raise NotImplementedError

    def _label_spans(self, edf_path: Path, issues: LabelIssues) -> list[LabelSpan]:
        """Time-resolved labels from the annotation file beside ``edf_path`` (none by default);
        labels that cannot be placed are reported to ``issues``."""
        return []

    # -- shared helpers --------------------------------------------------------------------
    @staticmethod
    def _sibling(edf_path: Path, suffix: str) -> Path | None:
        candidate = edf_path.with_suffix(suffix)
        return candidate if candidate.is_file() else None
