"""Siena Scalp EEG Database (PhysioNet ``siena-scalp-eeg`` 1.0.0).

Layout (PhysioNet page, epilepsy2bids): ``PNxx/PNxx-k.edf`` (also ``PN10-4.5.6.edf``, ``PN12-1.2.edf``),
one ``PNxx/Seizures-list-PNxx.txt`` per patient, and a top-level ``subject_info.csv`` whose header
has leading spaces (``patient_id, age_years, gender, seizure, localization, lateralization``).

Seizure lists give *clock times* (``19.39.33`` or ``19:39:33``) in blocks ::

    File name: PN00-1.edf
    Registration start time: 19.39.33
    Registration end time: 20.22.58
    Seizure start time: 19.58.36        (some blocks: "Start time:")
    Seizure end time: 19.59.46          (some blocks: "End time:")

The offset of a seizure is its clock time minus the registration start, plus 24 h when negative
(recordings that cross midnight). Known quirks handled (epilepsy2bids): names ``PN01.edf`` and
``PN11-.edf`` for ``PN01-1.edf``/``PN11-1.edf``, ``PNO6`` with a letter O, a stray space inside an
hour (``1 6.49.25``), blocks without their own registration line (the last registration start
given for that file, else the previous block's, is used).

Seizure type per patient from ``subject_info.csv``: IAS (focal, impaired awareness) ->
complex_partial, WIAS (focal, without impaired awareness) -> simple_partial, FBTC (focal to
bilateral tonic-clonic) -> tonic_clonic. Recorded in Siena, Italy (50 Hz). Licence: PhysioNet
open access (CC BY 4.0 stated on the page; not re-verified offline).
"""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Iterator
from pathlib import Path

from ._util import (
    check_root,
    clock_to_seconds,
    complement_spans,
    edf_header_duration,
    no_recordings_error,
)
from .base import LabelSpan, RecordingItem, SourceReader, register_reader

logger = logging.getLogger(__name__)

__all__ = ["SIENA_SEIZURE_TYPES", "SienaReader", "parse_siena_seizure_list"]

SIENA_SEIZURE_TYPES = {"IAS": "complex_partial", "WIAS": "simple_partial", "FBTC": "tonic_clonic"}

_FILE = re.compile(r"^\s*File\s*name\s*:\s*(.+?)\s*$", re.IGNORECASE)
_REG_START = re.compile(r"^\s*Registration\s+start\s+time\s*:\s*(.+?)\s*$", re.IGNORECASE)
_REG_END = re.compile(r"^\s*Registration\s+end\s+time\s*:", re.IGNORECASE)
_SZ_START = re.compile(r"^\s*(?:Seizure\s+)?start\s+time\s*:\s*(.+?)\s*$", re.IGNORECASE)
_SZ_END = re.compile(r"^\s*(?:Seizure\s+)?end\s+time\s*:\s*(.+?)\s*$", re.IGNORECASE)
_DAY = 24 * 3600


def _normalize_file_name(name: str) -> str:
    name = name.strip()
    name = re.sub(r"^PNO(?=\d)", "PN0", name, flags=re.IGNORECASE)  # "PNO6-1.edf"
    if not name.lower().endswith(".edf"):
        name += ".edf"
    return name


def parse_siena_seizure_list(path: str | Path) -> dict[str, list[tuple[float, float]]]:
    """``{file name as written (normalized): [(start_s, end_s) from the file start, ...]}``."""
    path = Path(path)
    seizures: dict[str, list[tuple[float, float]]] = {}
    registration: dict[str, int] = {}
    current: str | None = None
    last_registration: int | None = None
    pending: int | None = None
    with open(path, encoding="utf-8", errors="replace") as fid:
        for line_no, line in enumerate(fid, start=1):
            where = f"{path}:{line_no}"
            if match := _FILE.match(line):
                current = _normalize_file_name(match.group(1))
                seizures.setdefault(current, [])
                pending = None
            elif match := _REG_START.match(line):
                last_registration = clock_to_seconds(match.group(1), where=where)
                if current is not None:
                    registration[current] = last_registration
            elif _REG_END.match(line):
                continue
            elif match := _SZ_START.match(line):
                pending = clock_to_seconds(match.group(1), where=where)
            elif match := _SZ_END.match(line):
                if current is None or pending is None:
                    raise ValueError(f"{where}: seizure end time without a file name and start time before it")
                reg = registration.get(current, last_registration)
                if reg is None:
                    raise ValueError(f"{where}: no 'Registration start time' given for {current}")
                end = clock_to_seconds(match.group(1), where=where)
                start_s = (pending - reg) % _DAY
                end_s = (end - reg) % _DAY
                if end_s < start_s:
                    raise ValueError(f"{where}: {current}: seizure ends ({end_s} s) before it starts ({start_s} s)")
                seizures[current].append((float(start_s), float(end_s)))
                pending = None
    return seizures


def _read_subject_info(path: Path) -> dict[str, str]:
    """``{PNxx: seizure type code}`` from ``subject_info.csv`` (header fields have leading spaces)."""
    types: dict[str, str] = {}
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as fid:
        reader = csv.reader(fid)
        header = [h.strip().lower() for h in next(reader, [])]
        if "patient_id" not in header or "seizure" not in header:
            raise ValueError(f"{path}: expected columns patient_id and seizure, got {header}")
        pid, kind = header.index("patient_id"), header.index("seizure")
        for row in reader:
            if len(row) > max(pid, kind) and row[pid].strip():
                types[row[pid].strip().upper()] = row[kind].strip().upper()
    return types


@register_reader
class SienaReader(SourceReader):
    name = "siena"
    title = "Siena Scalp EEG Database"
    task = "seizure detection (adults, focal epilepsy) with seizure type"
    label_keys = ("seizure", "seizure_type")
    licence = "PhysioNet open access (CC BY 4.0)"
    homepage = "https://physionet.org/content/siena-scalp-eeg/1.0.0/"
    layout = "PNxx/PNxx-k.edf with PNxx/Seizures-list-PNxx.txt, and subject_info.csv at the top"
    line_freq = 50.0

    def index(self, root: str | Path | None) -> Iterator[RecordingItem]:
        root = check_root(root, self)
        info_path = root / "subject_info.csv"
        types = _read_subject_info(info_path) if info_path.is_file() else {}
        n_found = 0
        for patient_dir in sorted(p for p in root.iterdir() if p.is_dir() and re.fullmatch(r"PN\d+", p.name, re.IGNORECASE)):
            patient = patient_dir.name.upper()
            lists = sorted(patient_dir.glob("Seizures-list-*.txt"))
            if not lists:
                logger.warning("%s: %s has no Seizures-list-%s.txt; its files are skipped", self.name, patient_dir, patient)
                continue
            listed = parse_siena_seizure_list(lists[0])
            edfs = {p.name.upper(): p for p in patient_dir.glob("*.edf")}
            resolved: dict[Path, list[tuple[float, float]]] = {}
            for name, seizures in listed.items():
                edf = edfs.get(name.upper()) or edfs.get(re.sub(r"-?\.EDF$", "-1.EDF", name.upper()))
                if edf is None:
                    logger.warning("%s: %s names %s, which is not in %s; its seizures are skipped", self.name, lists[0], name, patient_dir)
                    continue
                resolved.setdefault(edf, []).extend(seizures)
            kind = SIENA_SEIZURE_TYPES.get(types.get(patient, ""), "unknown") if types else None
            seizure_labels = {"seizure": "seizure", **({"seizure_type": kind} if kind else {})}
            for edf in sorted(edfs.values()):
                seizures = sorted(resolved.get(edf, []))
                duration = edf_header_duration(edf)
                clipped = [(s, min(e, duration)) for s, e in seizures if s < duration]
                if len(clipped) < len(seizures):
                    logger.warning("%s: %s: %d seizure(s) start after the end of the file, dropped", self.name, edf, len(seizures) - len(clipped))
                spans = [LabelSpan(s, e, dict(seizure_labels)) for s, e in clipped]
                spans += complement_spans(clipped, duration, {"seizure": "none"})
                n_found += 1
                yield RecordingItem(
                    source=self.name,
                    subject=patient,
                    recording=edf.stem,
                    path=str(edf),
                    spans=sorted(spans, key=lambda s: s.start_s),
                    line_freq=self.line_freq,
                )
        if n_found == 0:
            raise no_recordings_error(root, self)
