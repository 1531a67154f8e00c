"""TUSZ: the TUH EEG Seizure Corpus (v2.0.x).

Layout (TUSZ AAREADME v2.0.3, EEG-FM-Bench): ``edf/{train,dev,eval}/<patient>/<sNNN_YYYY_MM_DD>/
<montage>/<stem>.{edf,csv,csv_bi}`` with montage ``01_tcp_ar``, ``02_tcp_le`` or ``03_tcp_ar_a``.
The three folders are the official patient-disjoint splits (train / validation / test; eval is
blind and should not be tuned on).

Labels (NEDC CSV, see ``tuh_common``):

- ``.csv_bi``: term-based rows (channel ``TERM``), ``seiz`` or ``bckg`` covering the whole file;
  they give ``seizure`` = seizure / none.
- ``.csv``: per-channel rows with the seizure type (``fnsz gnsz spsz cpsz absz tnsz cnsz tcsz
  atsz mysz``); each ``seiz`` term span gets the type that overlaps it most on any channel.
  Without a ``.csv_bi`` the per-channel rows are used directly (any label ending in ``sz`` is a
  seizure, ``bckg`` is none).

Type mapping: fnsz -> focal, gnsz -> generalized, spsz -> simple_partial, cpsz -> complex_partial,
absz -> absence, tnsz -> tonic, cnsz -> clonic, tcsz -> tonic_clonic, atsz -> atonic,
mysz -> myoclonic, any other ``*sz`` -> unknown.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ._util import complement_spans, merge_spans
from .base import LabelSpan, register_reader
from .tuh_common import NedcRow, TUHReader, read_nedc_csv, tuh_subject

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


def _typed_seizure(rows: list[NedcRow], start: float, stop: float) -> str:
    """The seizure type (harmonized) of the per-channel rows that overlap [start, stop) most."""
    overlap: dict[str, float] = {}
    for row in rows:
        if not _is_seizure(row.label) or row.label == "seiz":
            continue
        amount = min(stop, row.stop_s) - max(start, row.start_s)
        if amount > 0:
            kind = SEIZURE_TYPES.get(row.label, "unknown")
            overlap[kind] = overlap.get(kind, 0.0) + amount
    return max(overlap, key=overlap.get) if overlap else "unknown"


@register_reader
class TUSZReader(TUHReader):
    name = "tusz"
    title = "TUH EEG Seizure Corpus (TUSZ)"
    task = "seizure detection and seizure type"
    label_keys = ("seizure", "seizure_type")
    layout = "edf/{train,dev,eval}/<patient>/sNNN_YYYY_MM_DD/<montage>/<stem>.edf with <stem>.csv and <stem>.csv_bi beside it"

    def _parse_path(self, rel_parts: tuple[str, ...], stem: str) -> dict | None:
        split = next((_SPLITS[p] for p in rel_parts if p in _SPLITS), None)
        if split is None:
            return None
        montage = next((p for p in rel_parts if p.startswith(("01_tcp", "02_tcp", "03_tcp"))), None)
        return {"subject": tuh_subject(stem), "official_split": split, "extra": {"montage": montage}}

    def _label_spans(self, edf_path: Path) -> list[LabelSpan]:
        csv_path = self._sibling(edf_path, ".csv")
        bi_path = self._sibling(edf_path, ".csv_bi")
        channel_rows = read_nedc_csv(csv_path) if csv_path else []
        if bi_path is not None:
            term_rows = [r for r in read_nedc_csv(bi_path) if r.label in ("seiz", "bckg") or _is_seizure(r.label)]
        elif channel_rows:
            term_rows = channel_rows
        else:
            logger.warning("%s: no .csv_bi or .csv beside %s; indexed without seizure labels", self.name, edf_path)
            return []
        spans = []
        for row in term_rows:
            if _is_seizure(row.label):
                kind = SEIZURE_TYPES.get(row.label) or _typed_seizure(channel_rows, row.start_s, row.stop_s)
                spans.append(LabelSpan(row.start_s, row.stop_s, {"seizure": "seizure", "seizure_type": kind}))
            elif row.label == "bckg" and bi_path is not None:
                spans.append(LabelSpan(row.start_s, row.stop_s, {"seizure": "none"}))
        spans = merge_spans(spans)
        if bi_path is None:
            # Per-channel rows: a "bckg" row on one channel may overlap a seizure on another, so
            # "none" is the annotated time that no channel marks as seizure.
            seizures = [(s.start_s, s.end_s) for s in spans]
            end = max(row.stop_s for row in channel_rows)
            spans = merge_spans(spans + complement_spans(seizures, end, {"seizure": "none"}))
        return spans
