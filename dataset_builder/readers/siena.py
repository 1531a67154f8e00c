"""Siena Scalp EEG Database (PhysioNet ``siena-scalp-eeg`` 1.0.0).

Layout (PhysioNet page, epilepsy2bids): ``PNxx/PNxx-k.edf`` (also ``PN10-4.5.6.edf``, ``PN12-1.2.edf``),
one ``PNxx/Seizures-list-PNxx.txt`` per patient, and a top-level ``subject_info.csv`` whose header
has leading spaces (`` patient_id, age_years, gender, seizure, localization, lateralization,
eeg_channel, number_seizures, rec_time_minutes``). Channels ``EEG Fp1`` ... ``EEG F10`` (29 EEG),
``EKG EKG``, ``SPO2``, ``HR``, ``1``, ``2``, ``MK`` at 512 Hz (real headers in epilepsy2bids'
``tests/data/siena``); the EDF start time equals the list's registration start (PN00-1: 19.39.33).

Seizure lists give *clock times* (``19.39.33`` or ``19:39:33``) in blocks ::

    Seizure n 1
    File name: PN00-1.edf
    Registration start time: 19.39.33
    Registration end time:  20.22.58
    Seizure start time: 19.58.36        (some blocks: "Start time:")
    Seizure end time: 19.59.46          (some blocks: "End time:")

The offset of a seizure is its clock time minus the registration start, plus 24 h when negative
(recordings that cross midnight).

The published lists have typos (epilepsy2bids ``load_annotations/siena.py`` corrects them by hand,
file by file); this reader corrects them by stated rules and reports every correction or refusal
in ``RecordingItem.issues`` (``errors.jsonl``), never labelling silently:

- file names: ``PNO6-1.edf`` (letter O) -> ``PN06-1.edf``; ``PN11-.edf`` and ``PN01.edf`` -> the
  patient's ``-1`` file when the written name does not exist; a name that matches no EDF is
  reported and its seizures are not placed;
- a stray space inside an hour (``1 6.49.25``, PN10) is removed;
- a block without its own ``Registration start time`` (PN12) uses the registration start given
  for the same file in an earlier block, else the EDF header's start time (the registration start
  in every real file checked; reported);
- a seizure is *suspect* when it ends before it starts, lasts more than ``MAX_SEIZURE_S`` (10 min),
  or ends after the end of the file (EDF header) or of the registration. If moving its end by one
  hour (a slipped hour digit: PN00-3 reads ``19.29.29`` for ``18.29.29``) gives a seizure of
  0-10 min inside the file, that correction is used; otherwise the seizure is refused and the
  file from its start to its stated end (or to the end of the file) is left *unlabelled*, not
  labelled none.

Files not named in the list are seizure-free (as in epilepsy2bids: whole file background).
Seizure type per patient from ``subject_info.csv``: IAS (focal, impaired awareness) ->
complex_partial, WIAS (focal, without impaired awareness) -> simple_partial, FBTC (focal to
bilateral tonic-clonic) -> tonic_clonic (the same three codes epilepsy2bids maps). Recorded in
Siena, Italy (50 Hz). Licence: PhysioNet open access (CC BY 4.0 stated on the page; not
re-verified offline).

Evidence: esl-epfl/epilepsy2bids ``src/epilepsy2bids/load_annotations/siena.py`` (name typos
PN01/PNO6/PN11-, PN00-3 end corrected to 18.29.29, PN10-7.8.9 ``1 6.49.25``, PN12 blocks without a
registration line, `` seizure`` column with a leading space) and its ``tests/data/siena`` (real
PN00 and PN16 lists, subject_info.csv, EDF headers).
"""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ._util import (
    LabelIssues,
    clock_to_seconds,
    complement_spans,
    edf_header_duration,
)
from .base import LabelSpan, RecordingItem, SourceReader, Walk, register_reader

logger = logging.getLogger(__name__)

__all__ = ["MAX_SEIZURE_S", "SIENA_SEIZURE_TYPES", "SienaBlock", "SienaReader", "parse_siena_seizure_list", "place_seizures", "read_siena_blocks"]

SIENA_SEIZURE_TYPES = {"IAS": "complex_partial", "WIAS": "simple_partial", "FBTC": "tonic_clonic"}
MAX_SEIZURE_S = 600.0  # a listed seizure longer than this (10 min) is suspect: corrected by the one-hour rule or refused

_FILE = re.compile(r"^\s*File\s*name\s*:\s*(.+?)\s*$", re.IGNORECASE)
_REG_START = re.compile(r"^\s*Registration\s+start\s+time\s*:\s*(.+?)\s*$", re.IGNORECASE)
_REG_END = re.compile(r"^\s*Registration\s+end\s+time\s*:\s*(.+?)\s*$", re.IGNORECASE)
_SZ_START = re.compile(r"^\s*(?:Seizure\s+)?start\s+time\s*:\s*(.+?)\s*$", re.IGNORECASE)
_SZ_END = re.compile(r"^\s*(?:Seizure\s+)?end\s+time\s*:\s*(.+?)\s*$", re.IGNORECASE)
_DAY = 24 * 3600
_HOUR = 3600


@dataclass
class SienaBlock:
    """One ``File name:`` block of a seizure list (clock times in seconds since midnight)."""

    written_name: str
    name: str  # normalized (``PNO6`` -> ``PN06``, ``.edf`` added)
    line_no: int
    registration_start: int | None = None
    registration_end: int | None = None
    seizures: list[tuple[int, int, int]] = field(default_factory=list)  # (start, end, line_no)


def _normalize_file_name(name: str) -> str:
    name = name.strip()
    name = re.sub(r"^PNO(?=\d)", "PN0", name, flags=re.IGNORECASE)  # "PNO6-1.edf"
    if not name.lower().endswith(".edf"):
        name += ".edf"
    return name


def read_siena_blocks(path: str | Path) -> list[SienaBlock]:
    """The ``File name:`` blocks of a ``Seizures-list-PNxx.txt``, in file order.

    Raises a ValueError naming the file and line for an unreadable clock time or a seizure line
    outside any block.
    """
    path = Path(path)
    blocks: list[SienaBlock] = []
    pending: tuple[int, int] | None = None
    with open(path, encoding="utf-8", errors="replace") as fid:
        for line_no, line in enumerate(fid, start=1):
            where = f"{path}:{line_no}"
            current = blocks[-1] if blocks else None
            if match := _FILE.match(line):
                blocks.append(SienaBlock(match.group(1), _normalize_file_name(match.group(1)), line_no))
                pending = None
            elif match := _REG_START.match(line):
                if current is None:
                    raise ValueError(f"{where}: 'Registration start time' before any 'File name:' line")
                current.registration_start = clock_to_seconds(match.group(1), where=where)
            elif match := _REG_END.match(line):
                if current is not None:
                    current.registration_end = clock_to_seconds(match.group(1), where=where)
            elif match := _SZ_START.match(line):
                pending = (clock_to_seconds(match.group(1), where=where), line_no)
            elif match := _SZ_END.match(line):
                if current is None or pending is None:
                    raise ValueError(f"{where}: seizure end time without a file name and start time before it")
                current.seizures.append((pending[0], clock_to_seconds(match.group(1), where=where), pending[1]))
                pending = None
    return blocks


def parse_siena_seizure_list(path: str | Path) -> dict[str, list[tuple[float, float]]]:
    """``{normalized file name: [(start_s, end_s) from the registration start, ...]}`` as written
    (no typo checks: ``place_seizures`` applies them); blocks without a registration line are
    left out."""
    out: dict[str, list[tuple[float, float]]] = {}
    for block in read_siena_blocks(path):
        entry = out.setdefault(block.name, [])
        if block.registration_start is None:
            continue
        for start, end, _ in block.seizures:
            entry.append((float((start - block.registration_start) % _DAY), float((end - block.registration_start) % _DAY)))
    return out


def _clock(seconds: int) -> str:
    seconds %= _DAY
    return f"{seconds // 3600:02d}.{seconds % 3600 // 60:02d}.{seconds % 60:02d}"


def place_seizures(
    block: SienaBlock, duration_s: float, edf_start: int | None, where: str, issues: LabelIssues, earlier: int | None = None
) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """(seizures, unlabelled ranges) of one block in seconds from the file start, by the rules of
    the module docstring; every correction and refusal is reported to ``issues``. ``earlier``: the
    registration start an earlier block gave for the same file."""
    registration = block.registration_start if block.registration_start is not None else earlier
    if registration is None:
        if edf_start is None:
            issues.add(where, f"{block.written_name}: no 'Registration start time' and no start time in the EDF header; its seizures are not placed")
            return [], [(0.0, duration_s)]
        registration = edf_start
        issues.add(where, f"{block.written_name}: block has no 'Registration start time'; the EDF header start {_clock(edf_start)} is used")
    elif edf_start is not None and min((registration - edf_start) % _DAY, (edf_start - registration) % _DAY) > 1:
        issues.add(where, f"{block.written_name}: registration start {_clock(registration)} differs from the EDF header start {_clock(edf_start)}; the list's time is used")
    limit = duration_s
    if block.registration_end is not None:
        limit = min(limit, float((block.registration_end - registration) % _DAY) + 1.0)
    seizures, unlabelled = [], []
    for start_clock, end_clock, line_no in block.seizures:
        start = float((start_clock - registration) % _DAY)
        end = start + float((end_clock - start_clock + _DAY // 2) % _DAY - _DAY // 2)  # signed, |.| < 12 h

        def plausible(e: float, start: float = start) -> bool:
            return 0 < e - start <= MAX_SEIZURE_S and e <= limit

        text = f"{block.written_name} seizure {_clock(start_clock)}-{_clock(end_clock)} (line {line_no})"
        if start >= limit:
            issues.add(where, f"{text} starts {start:.0f} s after the registration start, past the end of the recording ({limit:.0f} s); refused")
            continue
        if plausible(end):
            seizures.append((start, end))
            continue
        fixed = [e for e in (end - _HOUR, end + _HOUR) if plausible(e)]
        if fixed:
            issues.add(where, f"{text} is suspect (length {end - start:.0f} s); end moved by one hour to {_clock(end_clock + round(fixed[0] - end))} ({fixed[0] - start:.0f} s)")
            seizures.append((start, fixed[0]))
            continue
        stop = end if start < end <= duration_s else duration_s
        issues.add(where, f"{text} is suspect (length {end - start:.0f} s, recording {limit:.0f} s) and no one-hour correction fits; refused, {start:.0f}-{stop:.0f} s left unlabelled")
        unlabelled.append((start, stop))
    return seizures, unlabelled


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


def _edf_start_clock(path: Path) -> int | None:
    """Start time of an EDF (header bytes 176-184, ``hh.mm.ss``) in seconds since midnight."""
    with open(path, "rb") as fid:
        header = fid.read(184)
    try:
        return clock_to_seconds(header[176:184].decode("ascii"), where=str(path))
    except (ValueError, UnicodeDecodeError):
        return None


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

    def _recordings(self, walk: Walk) -> Iterator[RecordingItem]:
        root, issues = walk.root, walk.issues
        info_path = root / "subject_info.csv"
        types = _read_subject_info(info_path) if info_path.is_file() else {}
        for patient_dir in sorted(p for p in root.iterdir() if p.is_dir() and re.fullmatch(r"PN\d+", p.name, re.IGNORECASE)):
            patient = patient_dir.name.upper()
            lists = sorted(patient_dir.glob("Seizures-list-*.txt"))
            edfs = {p.name.upper(): p for p in patient_dir.glob("*.edf")}
            blocks: dict[Path, list[SienaBlock]] = {}
            unplaced: list[str] = []
            try:
                listed_blocks = read_siena_blocks(lists[0]) if lists else []
            except ValueError as error:
                unplaced.append(f"{lists[0]}: not readable ({error}); the files of {patient} are indexed without seizure labels")
                lists, listed_blocks = [], []
            if not lists and not unplaced:
                unplaced.append(f"{patient_dir}: no Seizures-list-{patient}.txt; its files are indexed without seizure labels")
            for block in listed_blocks:
                edf = edfs.get(block.name.upper())
                if edf is None:
                    edf = edfs.get(re.sub(r"-?\.EDF$", "-1.EDF", block.name.upper()))
                    if edf is not None:
                        issues.add(lists[0], f"names {block.written_name!r}, taken to be {edf.name} (no file of that name)")
                if edf is None:
                    unplaced.append(f"{lists[0]}: names {block.written_name!r} (line {block.line_no}), which is not in {patient_dir}; its {len(block.seizures)} seizure(s) are not placed")
                    continue
                if block.written_name.strip().upper().startswith("PNO"):
                    issues.add(lists[0], f"names {block.written_name!r} (letter O), taken to be {edf.name}")
                blocks.setdefault(edf, []).append(block)
            kind = SIENA_SEIZURE_TYPES.get(types.get(patient, ""), "unknown") if types else None
            seizure_labels = {"seizure": "seizure", **({"seizure_type": kind} if kind else {})}
            for edf in sorted(edfs.values()):
                duration = edf_header_duration(edf)
                edf_start = _edf_start_clock(edf)
                seizures: list[tuple[float, float]] = []
                unlabelled: list[tuple[float, float]] = []
                earlier = None
                for block in blocks.get(edf, []):
                    s, u = place_seizures(block, duration, edf_start, str(lists[0]), issues, earlier)
                    earlier = block.registration_start if block.registration_start is not None else earlier
                    seizures += s
                    unlabelled += u
                spans = [LabelSpan(s, e, dict(seizure_labels)) for s, e in sorted(seizures)]
                if lists:
                    spans += complement_spans(seizures + unlabelled, duration, {"seizure": "none"})
                for line in unplaced:  # reported once, with the patient's first recording
                    where, _, message = line.partition(": ")
                    issues.add(where, message)
                unplaced = []
                yield RecordingItem(
                    source=self.name,
                    subject=patient,
                    recording=edf.stem,
                    path=str(edf),
                    spans=sorted(spans, key=lambda s: s.start_s),
                    line_freq=self.line_freq,
                )
