"""CHB-MIT Scalp EEG Database (PhysioNet ``chbmit`` 1.0.0).

Layout (PhysioNet page, epilepsy2bids): ``chb01/`` ... ``chb24/``, recordings ``chbNN_MM.edf`` (chb17
uses ``chb17a_03.edf``, ``chb17b_63.edf``...), and one ``chbNN/chbNN-summary.txt`` per case. The
``*.edf.seizures`` files are not read: the summary is the reference.

Summary format: per recording a block ::

    File Name: chb01_03.edf
    File Start Time: 13:43:04          (absent in chb24)
    File End Time: 14:43:04
    Number of Seizures in File: 1
    Seizure Start Time: 2996 seconds   (later cases: "Seizure 1 Start Time: ...")
    Seizure End Time: 3036 seconds

with offsets in seconds from the file start. The reader checks the parsed seizure count against
``Number of Seizures in File``. Recordings get ``seizure`` = seizure over each seizure and none over
the rest of the file (its length read from the EDF header). Subjects: chb21 is chb01 recorded 1.5
years later, so both map to subject ``chb01`` (patient-disjoint splits). Recorded in Boston
(60 Hz mains). Licence ODC-By 1.0.

Evidence: esl-epfl/epilepsy2bids ``src/epilepsy2bids/load_annotations/chbmit.py`` (summary
``chbNN-summary.txt`` in the case folder, ``File Name:`` blocks, ``Seizure.*Start Time:`` pairs, no
seizure: background for the whole file) and its ``tests/data/chbmit`` (real chb05 and chb08
summaries in the two forms, ``File End Time: 7:38:16`` without a leading zero, EDF headers with the
channel list below, 256 Hz). A file the summary does not list
is indexed without labels and reported (``errors.jsonl``). Not verified here: chb24's summary
without start/end times and the chb12_27-29 referential files.

Channels are bipolar (double banana ``FP1-F7``, ``F7-T7``..., plus ``FT9-FT10`` links; placeholder
channels named ``-``), 256 Hz. The front-end needs referential 10-20 channels, so ``load_raw``
rebuilds them: with the incidence matrix A of the derivations (one row per pair, +1 at the first
electrode, -1 at the second), the bipolar signals are B = A V, and the minimum-norm solution
V = pinv(A) B is exactly the average-referenced potential of the electrodes of a connected chain
(the common reference is the only thing a bipolar montage loses). Only the largest connected
set of electrodes is kept; the separate midline chain ``FZ-CZ``, ``CZ-PZ`` would only be known up
to its own offset, so its electrodes are left for the front-end to interpolate.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ._util import (
    complement_spans,
    edf_header_duration,
    standard_case_names,
)
from .base import LabelSpan, RecordingItem, SourceReader, Walk, register_reader

logger = logging.getLogger(__name__)

__all__ = ["CHBMITReader", "bipolar_to_average_reference", "parse_chbmit_summary"]

_FILE = re.compile(r"^\s*File Name:\s*(\S+)", re.IGNORECASE)
_COUNT = re.compile(r"^\s*Number of Seizures in File:\s*(\d+)", re.IGNORECASE)
_START = re.compile(r"^\s*Seizure(?:\s+\d+)?\s+Start Time:\s*([\d.]+)\s*(?:seconds|secs|s)?", re.IGNORECASE)
_END = re.compile(r"^\s*Seizure(?:\s+\d+)?\s+End Time:\s*([\d.]+)\s*(?:seconds|secs|s)?", re.IGNORECASE)
_CASE = re.compile(r"^chb(\d{2})$", re.IGNORECASE)

# chb21 is the same patient as chb01 (PhysioNet page).
_SAME_SUBJECT = {"chb21": "chb01"}


def parse_chbmit_summary(path: str | Path, problems: dict[str, str] | None = None) -> dict[str, list[tuple[float, float]]]:
    """``{file name: [(start_s, end_s), ...]}`` for every file listed in a ``chbNN-summary.txt``.

    Raises a ValueError naming the summary and the file when the seizure lines do not pair up or
    disagree with ``Number of Seizures in File``; with ``problems`` (a dict) such a file is left out
    of the result and its message stored there instead (the reader indexes it unlabelled).
    """
    path = Path(path)
    files: dict[str, list[tuple[float, float]]] = {}
    expected: dict[str, int] = {}
    current: str | None = None
    pending_start: float | None = None
    with open(path, encoding="utf-8", errors="replace") as fid:
        for line in fid:
            if match := _FILE.match(line):
                current = match.group(1).strip()
                files[current] = []
                pending_start = None
            elif current is None:
                continue
            elif match := _COUNT.match(line):
                expected[current] = int(match.group(1))
            elif match := _START.match(line):
                pending_start = float(match.group(1))
            elif match := _END.match(line):
                if pending_start is None:
                    message = f"{path}: {current}: 'Seizure End Time' without a start time before it"
                    if problems is None:
                        raise ValueError(message)
                    problems[current] = message
                    continue
                files[current].append((pending_start, float(match.group(1))))
                pending_start = None
    for name, seizures in files.items():
        if name in expected and expected[name] != len(seizures):
            message = f"{path}: {name} announces {expected[name]} seizures but {len(seizures)} start/end pairs were found"
            if problems is None:
                raise ValueError(message)
            problems.setdefault(name, message)
    return {name: seizures for name, seizures in files.items() if problems is None or name not in problems}


@register_reader
class CHBMITReader(SourceReader):
    name = "chbmit"
    title = "CHB-MIT Scalp EEG Database"
    task = "seizure detection (paediatric, long-term)"
    label_keys = ("seizure",)
    licence = "PhysioNet open access, Open Data Commons Attribution (ODC-By 1.0)"
    homepage = "https://physionet.org/content/chbmit/1.0.0/"
    layout = "chbNN/chbNN_MM.edf with chbNN/chbNN-summary.txt (chb01 ... chb24)"
    line_freq = 60.0

    def _recordings(self, walk: Walk) -> Iterator[RecordingItem]:
        for summary in sorted(walk.root.rglob("chb*-summary.txt")):
            case = summary.name.split("-")[0].lower()
            if not _CASE.match(case):
                continue
            problems: dict[str, str] = {}
            seizures_by_file = parse_chbmit_summary(summary, problems)
            listed = {name.lower(): seizures for name, seizures in seizures_by_file.items()}
            unplaced = {name.lower(): message for name, message in problems.items()}
            for edf_path in sorted(summary.parent.glob("*.edf")):
                seizures = listed.get(edf_path.name.lower())
                issues = []
                if edf_path.name.lower() in unplaced:
                    issues.append(f"{unplaced[edf_path.name.lower()]}; indexed without seizure labels")
                    logger.warning("%s: %s", self.name, issues[-1])
                    spans = []
                elif seizures is None:
                    issues.append(f"{edf_path}: not listed in {summary}; indexed without seizure labels (unknown, not none)")
                    logger.warning("%s: %s", self.name, issues[-1])
                    spans = []
                else:
                    duration = edf_header_duration(edf_path)
                    spans = [LabelSpan(start, end, {"seizure": "seizure"}) for start, end in seizures]
                    spans += complement_spans(seizures, duration, {"seizure": "none"})
                yield RecordingItem(
                    source=self.name,
                    subject=_SAME_SUBJECT.get(case, case),
                    recording=edf_path.stem,
                    path=str(edf_path),
                    spans=sorted(spans, key=lambda s: s.start_s),
                    line_freq=self.line_freq,
                    extra={"case": case},
                    issues=issues,  # one warning per line (not LabelIssues' one per file)
                )

    def load_raw(self, item: RecordingItem):
        """The recording as average-referenced electrode potentials (volts), rebuilt from the
        bipolar derivations (see the module docstring)."""
        import mne

        raw = mne.io.read_raw_edf(item.path, preload=True, verbose="error")
        return bipolar_to_average_reference(raw, line_freq=self.line_freq)


def _pair(name: str) -> tuple[str, str] | None:
    """``"FP1-F7"`` -> ("FP1", "F7"); MNE's de-duplicated ``"T8-P8-1"`` -> ("T8", "P8"); else None."""
    parts = [p.strip().upper() for p in name.split("-")]
    if len(parts) == 3 and parts[2].isdigit():
        parts = parts[:2]
    if len(parts) != 2 or not all(parts) or parts[0] == parts[1]:
        return None
    return parts[0], parts[1]


def bipolar_to_average_reference(raw, line_freq: float | None = None):
    """Average-referenced potentials of the largest connected chain of a bipolar montage.

    Args:
        raw: preloaded ``mne.io.BaseRaw`` whose channels are named ``A-B`` (volts).
        line_freq: mains frequency stored in the new info.

    Returns:
        ``mne.io.RawArray`` of shape (n_electrodes, n_times) in volts, electrodes named in MNE's
        standard spelling where they are 10-05 positions (``FP1`` -> ``Fp1``).

    A recording with no ``A-B`` channel (chb12_27-29 were recorded referentially) is returned
    unchanged.
    """
    import mne

    pairs = [(i, pair) for i, name in enumerate(raw.ch_names) if (pair := _pair(name))]
    if not pairs:
        logger.info("no bipolar 'A-B' channels in %s: kept as recorded (referential)", raw.filenames[0] if raw.filenames else "recording")
        return raw
    nodes = sorted({e for _, pair in pairs for e in pair})
    # Union-find over electrodes to find the connected chains.
    parent = {n: n for n in nodes}

    def find(n: str) -> str:
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    for _, (a, b) in pairs:
        parent[find(a)] = find(b)
    groups: dict[str, list[str]] = {}
    for n in nodes:
        groups.setdefault(find(n), []).append(n)
    keep = max(groups.values(), key=len)
    column = {n: j for j, n in enumerate(keep)}
    rows = [(i, a, b) for i, (a, b) in pairs if a in column]
    incidence = np.zeros((len(rows), len(keep)))  # (n_pairs, n_electrodes)
    for r, (_, a, b) in enumerate(rows):
        incidence[r, column[a]] = 1.0
        incidence[r, column[b]] = -1.0
    bipolar = raw.get_data(picks=[i for i, _, _ in rows])  # (n_pairs, n_times)
    potentials = np.linalg.pinv(incidence) @ bipolar  # (n_electrodes, n_times), zero mean per sample
    dropped = sorted(set(nodes) - set(keep))
    if dropped:
        logger.info("bipolar montage: electrodes %s are not linked to the main chain; left out", dropped)
    standard = standard_case_names(keep)
    info = mne.create_info([standard.get(n, n) for n in keep], raw.info["sfreq"], "eeg")
    if line_freq:
        info["line_freq"] = line_freq
    # first_samp kept: annotations are timed from the measurement start, so a cropped input's would
    # otherwise fall outside the new Raw and be dropped.
    out = mne.io.RawArray(potentials, info, first_samp=raw.first_samp, verbose="error")
    if raw.info["meas_date"] is not None:
        out.set_meas_date(raw.info["meas_date"])
    out.set_annotations(raw.annotations)
    return out
