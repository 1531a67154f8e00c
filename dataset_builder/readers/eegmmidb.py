"""EEG Motor Movement/Imagery Dataset (PhysioNet ``eegmmidb`` 1.0.0, BCI2000).

Layout (PhysioNet page, MNE ``eegbci``): ``S001/S001R01.edf`` ... ``S109/S109R14.edf`` (``.edf.event``
files beside them are not needed). Labels are the EDF+ annotations ``T0``, ``T1``, ``T2`` whose
meaning depends on the run (PhysioNet page, MNE ``eegbci`` docs, MOABB ``PhysionetMI``):

=========== ==================================== ========================= ==========================
run         task                                 T1                        T2
=========== ==================================== ========================= ==========================
1           baseline, eyes open                  (T0 only: rest)
2           baseline, eyes closed                (T0 only: rest)
3, 7, 11    open and close left or right fist    left_hand, executed       right_hand, executed
4, 8, 12    imagine left or right fist           left_hand, imagined       right_hand, imagined
5, 9, 13    open and close both fists or feet    both_hands, executed      both_feet, executed
6, 10, 14   imagine both fists or feet           both_hands, imagined      both_feet, imagined
=========== ==================================== ========================= ==========================

``T0`` is rest (motor_task=rest, no motor_mode); baseline runs also carry eyes=open/closed over
the whole run. Channels are 64 10-10 names padded with dots (``Fc5.``, ``Cz..``), 160 Hz
(subjects 88, 92, 100: 128 Hz); ``load_raw`` strips the dots and restores MNE's standard spelling.
Recorded in the USA (60 Hz). No official split.

Segments: the T0/T1/T2 blocks last ~4.1-4.2 s, so a 10 s segment mixes two or three of them. The
builder labels a segment by the one overlap rule of ``RecordingItem.labels_for_segment``: the
motor task whose blocks cover most of it, and ``motor_mode`` only from blocks of that task, so a
segment that comes out ``rest`` carries no motor mode.

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

__all__ = ["EEGMMIDBReader", "run_labels"]

_NAME = re.compile(r"^S(\d{3})R(\d{2})$", re.IGNORECASE)


def run_labels(run: int) -> dict[str, dict[str, str]]:
    """Annotation code -> harmonized labels for an EEGMMIDB run number (1-14)."""
    if run == 1:
        return {"T0": {"motor_task": "rest", "eyes": "open"}}
    if run == 2:
        return {"T0": {"motor_task": "rest", "eyes": "closed"}}
    if not 3 <= run <= 14:
        raise ValueError(f"EEGMMIDB run {run} does not exist; runs are numbered 1-14")
    mode = "executed" if run in (3, 5, 7, 9, 11, 13) else "imagined"
    fists = run in (3, 4, 7, 8, 11, 12)
    return {
        "T0": {"motor_task": "rest"},
        "T1": {"motor_task": "left_hand" if fists else "both_hands", "motor_mode": mode},
        "T2": {"motor_task": "right_hand" if fists else "both_feet", "motor_mode": mode},
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
            mapping = run_labels(run)
            annotations = mne.read_annotations(edf)
            spans = []
            unknown: dict[str, int] = {}
            for onset, duration, code in zip(annotations.onset, annotations.duration, annotations.description):
                labels = mapping.get(code.strip())
                if labels is None:
                    unknown[code] = unknown.get(code, 0) + 1
                    continue
                spans.append(LabelSpan(float(onset), float(onset + duration), dict(labels)))
            if unknown:
                detail = ", ".join(f"{code!r} x{count}" for code, count in sorted(unknown.items()))
                walk.issues.add(edf, f"annotations not valid in run {run} (T0/T1/T2 expected), left unlabelled: {detail}")
            if run in (1, 2) and not spans:
                # Baseline runs are one condition throughout, annotated or not.
                spans.append(LabelSpan(0.0, edf_header_duration(edf), dict(mapping["T0"])))
            yield RecordingItem(
                source=self.name,
                subject=subject,
                recording=edf.stem.upper(),
                path=str(edf),
                spans=spans,
                line_freq=self.line_freq,
                extra={"run": run},
            )

    def load_raw(self, item: RecordingItem):
        """The run as an MNE Raw (volts) with the trailing dots stripped from channel names."""
        import mne

        raw = mne.io.read_raw_edf(item.path, preload=False, verbose="error")
        stripped = {name: name.rstrip(".").strip() for name in raw.ch_names}
        standard = standard_case_names(list(stripped.values()))
        raw.rename_channels({old: standard.get(new, new) for old, new in stripped.items()})
        return raw
