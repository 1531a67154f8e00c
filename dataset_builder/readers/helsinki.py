"""Helsinki University Hospital neonatal EEG seizure dataset (Zenodo 2547147; Stevenson et al. 2019).

Layout (Zenodo record, published loaders): flat ``eeg1.edf`` ... ``eeg79.edf`` with
``annotations_2017_A.csv``, ``annotations_2017_B.csv``, ``annotations_2017_C.csv`` (one per expert)
and ``clinical_information.csv``. An annotation CSV has a header row of recording numbers
(``1,2,...,79``) and then one row per second: 1 = seizure, 0 = none; columns are padded with
``NaN`` past the end of each recording. Row i covers second [i, i + 1).

Consensus rule (``consensus`` class attribute, default ``"majority"``): a second is a seizure when
more than half of the annotators whose file is present mark it (2 of 3); ``"all"`` (unanimous,
the strict choice of the dataset paper's consensus figures) and ``"any"`` are available. Seconds
past the shortest annotator column are left unlabelled. Subject: ``eegN`` (one recording per
neonate). Channels ``EEG Fp1-REF``... (some ``-Ref`` or no suffix), 256 Hz. Recorded in Helsinki
(50 Hz). Licence: open on Zenodo (CC BY 4.0 stated on the record; not re-verified offline).
"""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import numpy as np

from ._util import check_root, no_recordings_error
from .base import LabelSpan, RecordingItem, SourceReader, register_reader

logger = logging.getLogger(__name__)

__all__ = ["HelsinkiReader", "consensus_seconds", "read_annotation_csv"]

ANNOTATORS = ("A", "B", "C")
_CONSENSUS = ("majority", "all", "any")


def read_annotation_csv(path: str | Path) -> dict[int, np.ndarray]:
    """``{recording number: per-second 0/1 array}`` of one annotator (NaN padding removed)."""
    path = Path(path)
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as fid:
        rows = [row for row in csv.reader(fid) if row and any(cell.strip() for cell in row)]
    if not rows:
        raise ValueError(f"{path}: empty annotation file; expected a header of recording numbers and 0/1 rows")
    try:
        numbers = [int(float(cell)) for cell in rows[0]]
    except ValueError:
        raise ValueError(f"{path}: the first row should hold recording numbers 1..79, got {rows[0][:5]}...") from None
    table = np.full((len(rows) - 1, len(numbers)), np.nan)
    for i, row in enumerate(rows[1:]):
        for j, cell in enumerate(row[: len(numbers)]):
            cell = cell.strip()
            if cell and cell.lower() != "nan":
                try:
                    table[i, j] = float(cell)
                except ValueError:
                    raise ValueError(f"{path}: row {i + 2}, column {j + 1}: {cell!r} is not 0, 1 or NaN") from None
    out = {}
    for j, number in enumerate(numbers):
        column = table[:, j]
        valid = np.flatnonzero(np.isfinite(column))
        out[number] = column[: valid[-1] + 1] if valid.size else column[:0]
    return out


def consensus_seconds(columns: list[np.ndarray], rule: str) -> np.ndarray:
    """Per-second seizure decision (bool) of several annotators under ``rule``."""
    if rule not in _CONSENSUS:
        raise ValueError(f"Invalid value for the consensus rule: allowed values are {_CONSENSUS}, but got {rule!r} instead")
    # Seconds past an annotator's last value (NaN padding) are not judged by anyone.
    n = min((np.flatnonzero(np.isfinite(c))[-1] + 1) if np.isfinite(c).any() else 0 for c in columns)
    votes = np.nansum(np.stack([c[:n] for c in columns]), axis=0)
    if rule == "majority":
        return votes * 2 > len(columns)
    if rule == "all":
        return votes >= len(columns)
    return votes >= 1


def _runs(decision: np.ndarray) -> list[LabelSpan]:
    spans = []
    start = 0
    for i in range(1, len(decision) + 1):
        if i == len(decision) or decision[i] != decision[start]:
            spans.append(LabelSpan(float(start), float(i), {"seizure": "seizure" if decision[start] else "none"}))
            start = i
    return spans


@register_reader
class HelsinkiReader(SourceReader):
    name = "helsinki"
    title = "Helsinki neonatal EEG seizure dataset"
    task = "neonatal seizure detection (three expert annotators)"
    label_keys = ("seizure",)
    licence = "open access on Zenodo (CC BY 4.0)"
    homepage = "https://zenodo.org/records/2547147"
    layout = "eegN.edf (N = 1..79) with annotations_2017_A.csv, _B.csv, _C.csv beside them"
    line_freq = 50.0
    consensus: ClassVar[str] = "majority"

    def index(self, root: str | Path | None) -> Iterator[RecordingItem]:
        root = check_root(root, self)
        edfs = {int(m.group(1)): p for p in sorted(root.rglob("*.edf")) if (m := re.fullmatch(r"eeg(\d+)", p.stem, re.IGNORECASE))}
        if not edfs:
            raise no_recordings_error(root, self)
        annotations = {}
        for who in ANNOTATORS:
            found = sorted(root.rglob(f"annotations_2017_{who}.csv"))
            if found:
                annotations[who] = read_annotation_csv(found[0])
        if not annotations:
            logger.warning("%s: no annotations_2017_{A,B,C}.csv under %s; recordings indexed without seizure labels", self.name, root)
        elif len(annotations) < len(ANNOTATORS):
            logger.warning("%s: only annotators %s found; consensus %r over those", self.name, sorted(annotations), self.consensus)
        for number, edf in sorted(edfs.items()):
            columns = [table[number] for table in annotations.values() if number in table]
            spans = _runs(consensus_seconds(columns, self.consensus)) if columns else []
            yield RecordingItem(
                source=self.name,
                subject=f"eeg{number}",
                recording=f"eeg{number}",
                path=str(edf),
                spans=spans,
                line_freq=self.line_freq,
                extra={"annotators": sorted(annotations), "consensus": self.consensus},
            )
