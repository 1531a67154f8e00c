"""Helsinki University Hospital neonatal EEG seizure dataset (Zenodo 2547147; Stevenson et al. 2019).

Layout (Zenodo records 2547147 and 4940267, published loaders): flat ``eeg1.edf`` ... ``eeg79.edf``
with one annotation CSV per expert and ``clinical_information.csv``. The current Zenodo version
(4940267) names annotator A's file ``annotations_2017_A_fixed.csv`` (B and C stay
``annotations_2017_B.csv``, ``annotations_2017_C.csv``); the first version had
``annotations_2017_A.csv``. Both names are read; when both are present the ``_fixed`` one wins
(reported). An annotation CSV has a header row of recording numbers (``1,2,...,79``) and then one
row per second: 1 = seizure, 0 = none; cells past the end of each recording are empty (or ``NaN``).
Row i covers second [i, i + 1).

Consensus rule (``consensus`` class attribute, default ``"majority"``): a second is a seizure when
at least 2 of the 3 annotators mark it; ``"all"`` (unanimous, the strict choice of the dataset
paper's consensus figures) and ``"any"`` are available. The rule is over all three experts: when
an annotator's file is missing, the consensus is taken over those present and every recording
reports it in ``errors.jsonl`` (it is then not the published majority). Seconds past the shortest
annotator column are left unlabelled; an annotation column whose length differs from the EDF's by
more than 1 s is reported. Subject: ``eegN`` (one recording per
neonate). Channels ``EEG Fp1-REF``... (some ``-Ref`` or no suffix), 256 Hz. Recorded in Helsinki
(50 Hz). Licence: open on Zenodo (CC BY 4.0 stated on the record; not re-verified offline).

Evidence: public loaders of the current Zenodo copy read exactly ``annotations_2017_A_fixed.csv``,
``annotations_2017_B.csv``, ``annotations_2017_C.csv`` with ``pd.read_csv`` (header = recording
numbers, ``eeg{column}.edf``) and treat empty cells as padding (e.g. R scripts citing
zenodo.org/record/4940267: ``ann.f <- c("annotations_2017_A_fixed.csv", ...)``; Python loaders
``pd.read_csv(...).fillna(False)``), found with the code search; anaborovac/Distributed-NSDA README
names the older ``annotations_2017_A.csv``. Channel names and 256 Hz are not verified against a
real file here.
"""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import numpy as np

from modeling_neuronarrator.validation_neuronarrator import check_option

from ._util import edf_header_duration
from .base import LabelSpan, RecordingItem, SourceReader, Walk, register_reader

logger = logging.getLogger(__name__)

__all__ = ["HelsinkiReader", "consensus_seconds", "read_annotation_csv"]

ANNOTATORS = ("A", "B", "C")
# File names per annotator, preferred first (Zenodo 4940267 ships A as "_fixed").
ANNOTATION_FILES = {
    "A": ("annotations_2017_A_fixed.csv", "annotations_2017_A.csv"),
    "B": ("annotations_2017_B.csv",),
    "C": ("annotations_2017_C.csv",),
}
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
    check_option("rule", rule, _CONSENSUS)
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

    def _recordings(self, walk: Walk) -> Iterator[RecordingItem]:
        root, issues = walk.root, walk.issues
        edfs = {int(m.group(1)): p for p in sorted(root.rglob("*.edf")) if (m := re.fullmatch(r"eeg(\d+)", p.stem, re.IGNORECASE))}
        if not edfs:
            return  # index raises the "no recordings found" error
        annotations, used = {}, {}
        for who in ANNOTATORS:
            for file_name in ANNOTATION_FILES[who]:
                found = sorted(root.rglob(file_name))
                if found:
                    annotations[who] = read_annotation_csv(found[0])
                    used[who] = found[0]
                    break
        if "A" in used and used["A"].name.endswith("_fixed.csv") and any(root.rglob("annotations_2017_A.csv")):
            logger.info("%s: both annotations_2017_A_fixed.csv and annotations_2017_A.csv found; the _fixed file is used", self.name)
        missing = [who for who in ANNOTATORS if who not in annotations]
        if len(missing) == len(ANNOTATORS):
            logger.warning(
                "%s: none of %s under %s; recordings indexed without seizure labels", self.name,
                ", ".join(name for names in ANNOTATION_FILES.values() for name in names), root,
            )  # fmt: skip
        for number, edf in sorted(edfs.items()):
            columns = [table[number] for table in annotations.values() if number in table]
            spans = _runs(consensus_seconds(columns, self.consensus)) if columns else []
            if annotations and missing:
                issues.add(root, f"annotator(s) {missing} missing ({' / '.join(ANNOTATION_FILES[m][0] for m in missing)}): "
                                 f"consensus {self.consensus!r} over {sorted(annotations)} only")  # fmt: skip
            if columns:
                seconds = min(int(np.isfinite(c).sum()) for c in columns)
                duration = edf_header_duration(edf)
                if abs(seconds - duration) > 1.0:
                    issues.add(edf, f"annotations cover {seconds} s but the EDF holds {duration:.0f} s; labels kept as annotated")
            elif annotations:
                issues.add(edf, f"recording {number} has no column in {', '.join(p.name for p in used.values())}; indexed without seizure labels")
            yield RecordingItem(
                source=self.name,
                subject=f"eeg{number}",
                recording=f"eeg{number}",
                path=str(edf),
                spans=spans,
                line_freq=self.line_freq,
                extra={"annotators": sorted(annotations), "annotation_files": sorted(p.name for p in used.values()), "consensus": self.consensus},
            )
