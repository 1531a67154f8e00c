"""TUSZ: the TUH EEG Seizure Corpus (v2.0.x).

Layout (TUSZ AAREADME v2.0.3, EEG-FM-Bench; the real nesting as copied into epilepsy2bids'
``tests/data/tuh``): ``[edf/]{train,dev,eval}/<patient>/<session>/<montage>/<stem>.{edf,csv,csv_bi}``
with montage ``01_tcp_ar``, ``02_tcp_le`` or ``03_tcp_ar_a`` and session folders such as
``s001_2008`` (epilepsy2bids' copy) or ``s003_2015_08_24`` (AAREADME); the session folder name is
not parsed. The three split folders are the official patient-disjoint splits (train / validation /
test; eval is blind and should not be tuned on).

Labels (NEDC CSV, see ``tuh_common``):

- ``.csv_bi``: term-based rows (channel ``TERM``). As published, a file with seizures lists ONLY
  its ``seiz`` terms (``TERM,733.9656,818.0202,seiz,1.0000``) and a seizure-free file one
  ``TERM,0.0000,<duration>,bckg`` row (verified on the real files in epilepsy2bids 0.0.7
  ``tests/data/tuh``: 217 files, none mixes seiz and bckg rows). So ``seizure`` = seizure over the
  seiz terms and ``none`` over the rest of the file, its length read from the EDF header (the
  ``# duration`` header of the csv is cross-checked; a mismatch over 1 s is reported).
- ``.csv``: per-channel rows with the seizure type (``fnsz gnsz spsz cpsz absz tnsz cnsz tcsz
  atsz mysz``); each seiz term gets the type that overlaps it most on any channel (no ``.csv``:
  no ``seizure_type``; a ``.csv`` whose typed rows miss the term: ``unknown``, reported).
  Without a ``.csv_bi`` the per-channel rows are used directly (any label ending in ``sz`` is a
  seizure, the rest of the file is none).
- a label that is neither ``bckg`` nor a seizure term is reported (``errors.jsonl``) and its time
  left unlabelled, never counted as none.

Type mapping (epilepsy2bids ``load_annotations/tuh.py`` maps the same codes to ILAE types):
fnsz -> focal, gnsz -> generalized, spsz -> simple_partial, cpsz -> complex_partial,
absz -> absence, tnsz -> tonic, cnsz -> clonic, tcsz -> tonic_clonic, atsz -> atonic,
mysz -> myoclonic, any other ``*sz`` -> unknown.

Evidence: esl-epfl/epilepsy2bids ``src/epilepsy2bids/load_annotations/tuh.py`` (reads ``.csv_bi``
with ``comment="#"``, TERM rows only; a file without seizure rows is background for its whole
duration) and its ``tests/data/tuh`` tree; braindecode ``datasets/tuh.py`` (file naming).
"""

from __future__ import annotations

import logging
from pathlib import Path

from ._util import LabelIssues, complement_spans, edf_header_duration, merge_spans
from .base import LabelSpan, register_reader
from .tuh_common import NedcRow, TUHReader, nedc_duration, read_nedc_csv, tuh_subject

logger = logging.getLogger(__name__)

__all__ = ["SEIZURE_TYPES", "TUSZReader"]

SEIZURE_TYPES = {
    "fnsz": "focal",
    "gnsz": "generalized",
    "spsz": "simple_partial",
    "cpsz": "complex_partial",
    "absz": "absence",
    "tnsz": "tonic",
    "cnsz": "clonic",
    "tcsz": "tonic_clonic",
    "atsz": "atonic",
    "mysz": "myoclonic",
}
_SPLITS = {"train": "train", "dev": "validation", "eval": "test"}


def _is_seizure(label: str) -> bool:
    return label == "seiz" or label.endswith("sz")


def _typed_seizure(rows: list[NedcRow], start: float, stop: float) -> str | None:
    """The seizure type (harmonized) of the per-channel rows that overlap [start, stop) most, or
    None when no typed row overlaps."""
    overlap: dict[str, float] = {}
    for row in rows:
        if not _is_seizure(row.label) or row.label == "seiz":
            continue
        amount = min(stop, row.stop_s) - max(start, row.start_s)
        if amount > 0:
            kind = SEIZURE_TYPES.get(row.label, "unknown")
            overlap[kind] = overlap.get(kind, 0.0) + amount
    return max(overlap, key=overlap.get) if overlap else None


@register_reader
class TUSZReader(TUHReader):
    name = "tusz"
    title = "TUH EEG Seizure Corpus (TUSZ)"
    task = "seizure detection and seizure type"
    label_keys = ("seizure", "seizure_type")
    layout = "edf/{train,dev,eval}/<patient>/<session, e.g. s001_2008>/<montage>/<stem>.edf with <stem>.csv and <stem>.csv_bi beside it"

    def _parse_path(self, rel_parts: tuple[str, ...], stem: str) -> dict | None:
        split = next((_SPLITS[p] for p in rel_parts if p in _SPLITS), None)
        if split is None:
            return None
        montage = next((p for p in rel_parts if p.startswith(("01_tcp", "02_tcp", "03_tcp"))), None)
        return {"subject": tuh_subject(stem), "official_split": split, "extra": {"montage": montage}}

    def _label_spans(self, edf_path: Path, issues: LabelIssues) -> list[LabelSpan]:
        csv_path = self._sibling(edf_path, ".csv")
        bi_path = self._sibling(edf_path, ".csv_bi")
        channel_rows = read_nedc_csv(csv_path) if csv_path else []
        if bi_path is None and not channel_rows:
            issues.add(edf_path, "no .csv_bi or .csv beside it; indexed without seizure labels")
            return []
        duration = edf_header_duration(edf_path)
        label_path = bi_path or csv_path
        stated = nedc_duration(label_path)
        if stated is not None and abs(stated - duration) > 1.0:
            issues.add(label_path, f"'# duration = {stated:.2f} secs' but the EDF holds {duration:.2f} s; labels clipped to the EDF")
        rows = read_nedc_csv(bi_path) if bi_path is not None else channel_rows
        seizures: list[LabelSpan] = []
        unplaced: list[tuple[float, float]] = []
        unknown: dict[str, int] = {}
        for row in rows:
            start, stop = row.start_s, min(row.stop_s, duration)
            if stop <= start:
                continue
            if _is_seizure(row.label):
                labels = {"seizure": "seizure"}
                if row.label in SEIZURE_TYPES:
                    labels["seizure_type"] = SEIZURE_TYPES[row.label]
                elif row.label != "seiz":
                    labels["seizure_type"] = "unknown"
                elif csv_path is not None:
                    kind = _typed_seizure(channel_rows, start, stop)
                    if kind is None:
                        issues.add(csv_path, f"no typed seizure row overlaps the seiz term {start:.1f}-{stop:.1f} s; seizure_type=unknown")
                    labels["seizure_type"] = kind or "unknown"
                seizures.append(LabelSpan(start, stop, labels))
            elif row.label != "bckg":
                unknown[row.label] = unknown.get(row.label, 0) + 1
                unplaced.append((start, stop))
        if unknown:
            detail = ", ".join(f"{label!r} x{count}" for label, count in sorted(unknown.items()))
            issues.add(label_path, f"labels that are neither bckg nor a seizure term, left unlabelled: {detail}")
        covered = [(s.start_s, s.end_s) for s in seizures] + unplaced
        return merge_spans(seizures + complement_spans(covered, duration, {"seizure": "none"}))
