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
(60 Hz mains). Channels are bipolar (``FP1-F7``...), 256 Hz. Licence ODC-By 1.0.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Iterator, Optional

from .base import LabelSpan, RecordingItem, SourceReader, register_reader
from ._util import check_root, complement_spans, edf_header_duration, no_recordings_error

logger = logging.getLogger(__name__)

__all__ = ["CHBMITReader", "parse_chbmit_summary"]

_FILE = re.compile(r"^\s*File Name:\s*(\S+)", re.IGNORECASE)
_COUNT = re.compile(r"^\s*Number of Seizures in File:\s*(\d+)", re.IGNORECASE)
_START = re.compile(r"^\s*Seizure(?:\s+\d+)?\s+Start Time:\s*([\d.]+)\s*(?:seconds|secs|s)?", re.IGNORECASE)
_END = re.compile(r"^\s*Seizure(?:\s+\d+)?\s+End Time:\s*([\d.]+)\s*(?:seconds|secs|s)?", re.IGNORECASE)
_CASE = re.compile(r"^chb(\d{2})$", re.IGNORECASE)

# chb21 is the same patient as chb01 (PhysioNet page).
_SAME_SUBJECT = {"chb21": "chb01"}


def parse_chbmit_summary(path: str | Path) -> dict[str, list[tuple[float, float]]]:
    """``{file name: [(start_s, end_s), ...]}`` for every file listed in a ``chbNN-summary.txt``.

    Raises a ValueError naming the summary and the file when the seizure lines do not pair up or
    disagree with ``Number of Seizures in File``.
    """
    path = Path(path)
    files: dict[str, list[tuple[float, float]]] = {}
    expected: dict[str, int] = {}
    current: Optional[str] = None
    pending_start: Optional[float] = None
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
                    raise ValueError(f"{path}: {current}: 'Seizure End Time' without a start time before it")
                files[current].append((pending_start, float(match.group(1))))
                pending_start = None
    for name, seizures in files.items():
        if name in expected and expected[name] != len(seizures):
            raise ValueError(
                f"{path}: {name} announces {expected[name]} seizures but {len(seizures)} start/end pairs were found"
            )
    return files


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

    def index(self, root: Optional[str | Path]) -> Iterator[RecordingItem]:
        root = check_root(root, self)
        n_found = 0
        for summary in sorted(root.rglob("chb*-summary.txt")):
            case = summary.name.split("-")[0].lower()
            if not _CASE.match(case):
                continue
            seizures_by_file = parse_chbmit_summary(summary)
            listed = {name.lower(): seizures for name, seizures in seizures_by_file.items()}
            for edf_path in sorted(summary.parent.glob("*.edf")):
                seizures = listed.get(edf_path.name.lower())
                if seizures is None:
                    logger.warning("%s: %s is not listed in %s; skipped (labels unknown)", self.name, edf_path, summary)
                    continue
                duration = edf_header_duration(edf_path)
                spans = [LabelSpan(start, end, {"seizure": "seizure"}) for start, end in seizures]
                spans += complement_spans(seizures, duration, {"seizure": "none"})
                n_found += 1
                yield RecordingItem(
                    source=self.name,
                    subject=_SAME_SUBJECT.get(case, case),
                    recording=edf_path.stem,
                    path=str(edf_path),
                    spans=sorted(spans, key=lambda s: s.start_s),
                    line_freq=self.line_freq,
                    extra={"case": case},
                )
        if n_found == 0:
            raise no_recordings_error(root, self)
