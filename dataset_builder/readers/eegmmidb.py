"""EEG Motor Movement/Imagery Dataset (PhysioNet ``eegmmidb`` 1.0.0, BCI2000).

Layout (PhysioNet page, MNE ``eegbci``): ``S001/S001R01.edf`` ... ``S109/S109R14.edf`` (``.edf.event``
files beside them are not needed). Labels are the EDF+ annotations ``T0``, ``T1``, ``T2`` whose
meaning depends on the run (PhysioNet page, MNE ``eegbci`` docs, MOABB ``PhysionetMI``):

=========== ==================================== ========================= ==========================
run         task                                 T1                        T2
=========== ==================================== ========================= ==========================
1           baseline, eyes open                  (T0 only: rest)
2           baseline, eyes closed                (T0 only: rest)
3, 7, 11    open and close left or right fist    left_fist (executed)      right_fist (executed)
4, 8, 12    imagine left or right fist           left_fist (imagined)      right_fist (imagined)
5, 9, 13    open and close both fists or feet    both_fists (executed)     both_feet (executed)
6, 10, 14   imagine both fists or feet           both_fists (imagined)     both_feet (imagined)
=========== ==================================== ========================= ==========================

``T0`` is rest; baseline runs carry motor_task=rest and eyes=open/closed over the whole run.

Segments: in a task run the T0/T1/T2 blocks last ~4.1-4.2 s and alternate (rest, task, rest,
task...), T1 and T2 in random order, so a 10 s segment holds two or three blocks. Labelled by the
block that covered most of it (simulated on the published timing, T0 4.2 s and T1/T2 4.1 s, 15
tasks per run), the winner covered a median 58 % of the segment, 78 % of task-run segments came out
"rest", and a segment named after a task held that task for at most 4.1 of its 10 s. A task run
is therefore labelled by its **paradigm**, which holds for every segment of it: motor_task
``left_right_fist`` (runs 3, 4, 7, 8, 11, 12) or ``fists_feet`` (runs 5, 6, 9, 10, 13, 14), with
its run's motor_mode (executed or imagined). The blocks themselves, with their times and meaning
(``run_labels``), are kept in ``RecordingItem.extra["cues"]`` as ``(onset_s, offset_s, task)``.
Channels are 64 10-10 names padded with dots (``Fc5.``, ``Cz..``), 160 Hz
(subjects 88, 92, 100: 128 Hz); ``load_raw`` strips the dots and restores MNE's standard spelling.
Recorded in the USA (60 Hz). No official split.

Evidence: mne-tools/mne-python ``mne/datasets/eegbci/eegbci.py`` (``S{s:03d}/S{s:03d}R{r:02d}.edf``,
run table, ``standardize`` strips the dots) and NeuroTechX/moabb ``datasets/physionet_mi.py``
(T1/T2 meaning by run). The 128 Hz subjects (88, 92, 100) are not verified here.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

from ._util import (
    edf_header_duration,
    standard_case_names,
)
from .base import LabelSpan, RecordingItem, SourceReader, Walk, register_reader

logger = logging.getLogger(__name__)

__all__ = ["EEGMMIDBReader", "run_labels", "run_paradigm"]

_NAME = re.compile(r"^S(\d{3})R(\d{2})$", re.IGNORECASE)


def run_labels(run: int) -> dict[str, str]:
    """Annotation code -> what its block is in an EEGMMIDB run (1-14): ``rest``, ``left_fist``,
    ``right_fist``, ``both_fists`` or ``both_feet`` (the PhysioNet run table). These are the timed
    cues (``extra["cues"]``), not segment labels: a block lasts ~4.1 s (see ``run_paradigm``)."""
    if not 1 <= run <= 14:
        raise ValueError(f"EEGMMIDB run {run} does not exist; runs are numbered 1-14")
    if run in (1, 2):
        return {"T0": "rest"}
    fists = run in (3, 4, 7, 8, 11, 12)
    return {"T0": "rest", "T1": "left_fist" if fists else "both_fists", "T2": "right_fist" if fists else "both_feet"}


def run_paradigm(run: int) -> dict[str, str]:
    """The harmonized labels that hold for every segment of an EEGMMIDB run (1-14): rest with the
    eyes open or closed for the baselines, else the run's paradigm and motor mode."""
    if not 1 <= run <= 14:
        raise ValueError(f"EEGMMIDB run {run} does not exist; runs are numbered 1-14")
    if run in (1, 2):
        return {"motor_task": "rest", "eyes": "open" if run == 1 else "closed"}
    return {
        "motor_task": "left_right_fist" if run in (3, 4, 7, 8, 11, 12) else "fists_feet",
        "motor_mode": "executed" if run in (3, 5, 7, 9, 11, 13) else "imagined",
    }


@register_reader
class EEGMMIDBReader(SourceReader):
    name = "eegmmidb"
    title = "EEG Motor Movement/Imagery Dataset (EEGMMIDB)"
    task = "motor execution and imagery (left/right fist, both fists/feet, rest)"
    label_keys = ("motor_task", "motor_mode", "eyes")
    licence = "PhysioNet open access (Open Data Commons Attribution)"
    homepage = "https://physionet.org/content/eegmmidb/1.0.0/"
    layout = "SNNN/SNNNRkk.edf (S001/S001R01.edf ... S109/S109R14.edf)"
    line_freq = 60.0

    def _recordings(self, walk: Walk, pattern: str = "S*R*.edf") -> Iterator[RecordingItem]:
        import mne

        for edf in sorted(walk.root.rglob(pattern)):
            match = _NAME.match(edf.stem)
            if match is None:
                continue
            subject, run = f"S{match.group(1)}", int(match.group(2))
            if not 1 <= run <= 14:
                logger.warning("%s: %s has run number %d outside 1-14; skipped", self.name, edf, run)
                continue
            cue_meaning, paradigm = run_labels(run), run_paradigm(run)
            annotations = mne.read_annotations(edf)
            spans, cues = [], []
            unknown: dict[str, int] = {}
            for onset, duration, code in zip(annotations.onset, annotations.duration, annotations.description):
                meaning = cue_meaning.get(code.strip())
                if meaning is None:
                    unknown[code] = unknown.get(code, 0) + 1
                    continue
                # Every block carries the run's paradigm; a block with an unknown code stays unlabelled.
                spans.append(LabelSpan(float(onset), float(onset + duration), dict(paradigm)))
                cues.append((round(float(onset), 3), round(float(onset + duration), 3), meaning))
            if unknown:
                detail = ", ".join(f"{code!r} x{count}" for code, count in sorted(unknown.items()))
                walk.issues.add(edf, f"annotations not valid in run {run} (T0/T1/T2 expected), left unlabelled: {detail}")
            if run in (1, 2) and not spans:
                # Baseline runs are one condition throughout, annotated or not.
                spans.append(LabelSpan(0.0, edf_header_duration(edf), dict(paradigm)))
            yield RecordingItem(
                source=self.name,
                subject=subject,
                recording=edf.stem.upper(),
                path=str(edf),
                spans=spans,
                line_freq=self.line_freq,
                extra={"run": run, "cues": cues},
            )

    def load_raw(self, item: RecordingItem):
        """The run as an MNE Raw (volts) with the trailing dots stripped from channel names."""
        import mne

        raw = mne.io.read_raw_edf(item.path, preload=False, verbose="error")
        stripped = {name: name.rstrip(".").strip() for name in raw.ch_names}
        standard = standard_case_names(list(stripped.values()))
        raw.rename_channels({old: standard.get(new, new) for old, new in stripped.items()})
        return raw
