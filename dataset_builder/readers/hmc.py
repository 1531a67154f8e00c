"""HMC: Haaglanden Medisch Centrum sleep staging database (PhysioNet ``hmc-sleep-staging`` 1.1).

Layout (PhysioNet page, torcheeg / EEG-FM-Bench loaders): ``recordings/SN001.edf`` with
``SN001_sleepscoring.edf`` (EDF+ annotations) and ``SN001_sleepscoring.txt`` beside it; 151
recordings, one per subject. Signals are globbed as ``SN???.edf`` so the scoring EDFs are not taken
for recordings.

Scoring (AASM, 30 s epochs): ``Sleep stage W``, ``N1``, ``N2``, ``N3``, ``R`` -> W, N1, N2, N3, REM;
``Lights off``/``Lights on`` and other events are not stages and are skipped. The EDF+ scoring file
is read with ``mne.read_annotations``; when it is missing the ``.txt`` export is read instead
(comma-and-space separated, columns ``Date, Time, Recording onset, Duration, Annotation,
Linked channel``). Recorded in The Hague (50 Hz). EEG ``EEG F4-M1``, ``C4-M1``, ``O2-M1``, ``C3-M2``
(mastoid-referenced), 256 Hz. No official split.

Evidence: guidogagl/physioex ``physioex/preprocess/hmc.py`` (v1.1 zip, ``RECORDS``, ``SNxxx.edf``
with ``SNxxx_sleepscoring.edf`` read by ``pyedflib.readAnnotations``, the strings ``Sleep stage
W/N1/N2/N3/R``, channels ``EEG C3-M2``, ``EOG E1-M2``, ``EOG E2-M2``, ``EMG chin``, ``ECG``, fs = 256);
the ``.txt`` columns and the ``@@`` channel link come from SOURCES.md (torcheeg, EEG-FM-Bench) and
are not re-verified on a real file here.
"""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Iterator
from pathlib import Path

from ._util import (
    merge_spans,
    spans_from_annotations,
)
from .base import RecordingItem, SourceReader, Walk, register_reader

logger = logging.getLogger(__name__)

__all__ = ["HMC_STAGES", "HMCReader", "read_hmc_scoring_txt"]

HMC_STAGES = {
    "Sleep stage W": {"sleep_stage": "W"},
    "Sleep stage N1": {"sleep_stage": "N1"},
    "Sleep stage N2": {"sleep_stage": "N2"},
    "Sleep stage N3": {"sleep_stage": "N3"},
    "Sleep stage R": {"sleep_stage": "REM"},
}
HMC_NOT_STAGES = ("Lights off", "Lights on")


def read_hmc_scoring_txt(path: str | Path) -> tuple[list[float], list[float], list[str]]:
    """(onsets_s, durations_s, annotations) from an HMC ``SNxxx_sleepscoring.txt``."""
    path = Path(path)
    onsets, durations, texts = [], [], []
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as fid:
        reader = csv.reader(fid, skipinitialspace=True)
        header = [h.strip().lower() for h in next(reader, [])]
        try:
            i_onset, i_dur, i_text = header.index("recording onset"), header.index("duration"), header.index("annotation")
        except ValueError:
            raise ValueError(f"{path}: expected columns 'Recording onset', 'Duration', 'Annotation', got {header}") from None
        for line_no, row in enumerate(reader, start=2):
            if len(row) <= max(i_onset, i_dur, i_text):
                continue
            try:
                onsets.append(float(row[i_onset]))
                durations.append(float(row[i_dur]))
            except ValueError:
                raise ValueError(f"{path}: line {line_no}: onset/duration {row[i_onset]!r}/{row[i_dur]!r} are not numbers") from None
            texts.append(row[i_text].split("@@")[0].strip())
    return onsets, durations, texts


@register_reader
class HMCReader(SourceReader):
    name = "hmc"
    title = "HMC Sleep Staging Database"
    task = "sleep staging (AASM)"
    label_keys = ("sleep_stage",)
    licence = "PhysioNet open access (Open Data Commons Attribution)"
    homepage = "https://physionet.org/content/hmc-sleep-staging/1.1/"
    layout = "recordings/SNxxx.edf with SNxxx_sleepscoring.edf (or .txt) beside it"
    line_freq = 50.0

    def _recordings(self, walk: Walk) -> Iterator[RecordingItem]:
        import mne

        for edf in sorted(walk.root.rglob("SN*.edf")):
            if not re.fullmatch(r"SN\d+\.edf", edf.name, re.IGNORECASE):
                continue  # SNxxx_sleepscoring.edf
            scoring_edf = edf.with_name(f"{edf.stem}_sleepscoring.edf")
            scoring_txt = edf.with_name(f"{edf.stem}_sleepscoring.txt")
            if scoring_edf.is_file():
                ann = mne.read_annotations(scoring_edf)
                onsets, durations = ann.onset, ann.duration
                texts = [d.split("@@")[0].strip() for d in ann.description]
                where = str(scoring_edf)
            elif scoring_txt.is_file():
                onsets, durations, texts = read_hmc_scoring_txt(scoring_txt)
                where = str(scoring_txt)
            else:
                logger.warning("%s: no %s_sleepscoring.edf/.txt beside %s; skipped", self.name, edf.stem, edf)
                continue
            spans = merge_spans(spans_from_annotations(onsets, durations, texts, HMC_STAGES, where=where, ignore=HMC_NOT_STAGES, issues=walk.issues))
            yield RecordingItem(
                source=self.name,
                subject=edf.stem.upper(),
                recording=edf.stem.upper(),
                path=str(edf),
                spans=spans,
                line_freq=self.line_freq,
            )
