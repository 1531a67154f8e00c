"""BCI Competition IV dataset 2a (Graz, 4-class motor imagery; Brunner et al. 2008).

Layout (competition page, MOABB ``BNCI2014_001``, braindecode): ``A01T.gdf`` ... ``A09T.gdf`` (training
session) and ``A01E.gdf`` ... ``A09E.gdf`` (evaluation session), anywhere below the root. The true
labels published after the competition are ``A01T.mat``/``A01E.mat`` holding ``classlabel`` (1-4),
often kept in a ``true_labels/`` folder; they are looked up anywhere below the root. (BNCI Horizon's
``A01T.mat`` files with a ``data`` struct are a different packaging and are not read.)

GDF events (MNE annotation descriptions are the code strings): 768 trial start, 769 left hand,
770 right hand, 771 feet, 772 tongue, 783 cue of unknown class (every E-session cue), 1023
rejected trial, 276 / 277 idling EEG with eyes open / closed, 1072 eye movements, 32766 new run.
Each trial: fixation at 0 s, cue at 2 s, imagery until 6 s; a span [cue, cue + 4 s) gets
motor_task (left_hand, right_hand, feet, tongue) and motor_mode=imagined. E-session cues take their
class from ``classlabel`` in order (all 288 trials, rejected ones included); without the ``.mat``
an E session is indexed without motor labels. Trials marked 1023 are left unlabelled. The
276/277 blocks give eyes=open/closed. Official split: T session -> train, E session -> test.
Channels ``EEG-Fz``, ``EEG-0`` ... ``EEG-16``, ``EEG-C3``... are renamed by ``load_raw`` to their
10-10 positions (MOABB order); 250 Hz; recorded in Graz (50 Hz).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Iterator, Optional

import numpy as np

from .base import LabelSpan, RecordingItem, SourceReader, register_reader
from ._util import check_root, no_recordings_error

logger = logging.getLogger(__name__)

__all__ = ["BCICIV2aReader", "CUE_CODES", "CLASSLABELS", "BCI_IV_2A_CHANNELS"]

CUE_CODES = {"769": "left_hand", "770": "right_hand", "771": "feet", "772": "tongue"}
CLASSLABELS = {1: "left_hand", 2: "right_hand", 3: "feet", 4: "tongue"}
UNKNOWN_CUE, TRIAL_START, REJECTED = "783", "768", "1023"
EYES_CODES = {"276": "open", "277": "closed"}
IMAGERY_S = 4.0  # cue (2 s) to end of imagery (6 s)

# GDF label -> 10-10 name, in file order (MOABB BNCI2014_001).
BCI_IV_2A_CHANNELS = {
    "EEG-Fz": "Fz", "EEG-0": "FC3", "EEG-1": "FC1", "EEG-2": "FCz", "EEG-3": "FC2", "EEG-4": "FC4",
    "EEG-5": "C5", "EEG-C3": "C3", "EEG-6": "C1", "EEG-Cz": "Cz", "EEG-7": "C2", "EEG-C4": "C4",
    "EEG-8": "C6", "EEG-9": "CP3", "EEG-10": "CP1", "EEG-11": "CPz", "EEG-12": "CP2", "EEG-13": "CP4",
    "EEG-14": "P1", "EEG-Pz": "Pz", "EEG-15": "P2", "EEG-16": "POz",
}  # fmt: skip
_EOG = ("EOG-left", "EOG-central", "EOG-right")
_NAME = re.compile(r"^A(\d{2})([TE])$", re.IGNORECASE)


def _classlabels(root: Path, stem: str) -> Optional[np.ndarray]:
    """``classlabel`` of ``<stem>.mat`` found below ``root`` (competition true-label files), or None."""
    import scipy.io

    for candidate in sorted(root.rglob(f"{stem}.mat")) + sorted(root.rglob(f"{stem.lower()}.mat")):
        try:
            names = {name for name, _, _ in scipy.io.whosmat(candidate)}
        except (ValueError, OSError) as error:
            raise ValueError(f"{candidate}: not a readable MATLAB file ({error})") from None
        if "classlabel" in names:
            labels = np.asarray(scipy.io.loadmat(candidate, variable_names=["classlabel"])["classlabel"]).ravel()
            bad = sorted(set(labels.tolist()) - set(CLASSLABELS))
            if bad:
                raise ValueError(f"{candidate}: classlabel holds {bad}; expected 1-4 (left hand, right hand, feet, tongue)")
            return labels.astype(int)
    return None


def trial_spans(onsets, durations, descriptions, classlabel: Optional[np.ndarray], *, where: str) -> list[LabelSpan]:
    """Label spans from the GDF events of one session (see the module docstring)."""
    events = sorted(zip(np.asarray(onsets, float), np.asarray(durations, float), [str(d) for d in descriptions]))
    rejected = {round(o, 3) for o, _, d in events if d == REJECTED}
    spans: list[LabelSpan] = []
    trial_start = None
    n_unknown = 0
    for onset, duration, code in events:
        if code == TRIAL_START:
            trial_start = onset
        elif code in CUE_CODES or code == UNKNOWN_CUE:
            if code == UNKNOWN_CUE:
                n_unknown += 1
                if classlabel is None:
                    continue
                if n_unknown > len(classlabel):
                    raise ValueError(f"{where}: more unknown cues (783) than the {len(classlabel)} entries of classlabel")
                task = CLASSLABELS[int(classlabel[n_unknown - 1])]
            else:
                task = CUE_CODES[code]
            if trial_start is not None and round(trial_start, 3) in rejected:
                continue
            spans.append(LabelSpan(float(onset), float(onset + IMAGERY_S), {"motor_task": task, "motor_mode": "imagined"}))
        elif code in EYES_CODES and duration > 1.0:
            spans.append(LabelSpan(float(onset), float(onset + duration), {"eyes": EYES_CODES[code]}))
    if classlabel is not None and n_unknown and n_unknown != len(classlabel):
        raise ValueError(f"{where}: {n_unknown} unknown cues (783) but classlabel has {len(classlabel)} entries")
    return spans


@register_reader
class BCICIV2aReader(SourceReader):
    name = "bciciv2a"
    title = "BCI Competition IV dataset 2a"
    task = "four-class motor imagery (left hand, right hand, feet, tongue)"
    label_keys = ("motor_task", "motor_mode", "eyes")
    licence = "free download for research from the BCI Competition IV site; cite Brunner et al. 2008"
    homepage = "https://www.bbci.de/competition/iv/"
    layout = "A0sT.gdf / A0sE.gdf (s = 1..9) with the true labels A0sT.mat / A0sE.mat (classlabel) anywhere below"
    line_freq = 50.0

    def index(self, root: Optional[str | Path]) -> Iterator[RecordingItem]:
        import mne

        root = check_root(root, self)
        n_found = 0
        for gdf in sorted(root.rglob("*.gdf")):
            match = _NAME.match(gdf.stem)
            if match is None:
                continue
            session = match.group(2).upper()
            stem = f"A{match.group(1)}{session}"
            raw = mne.io.read_raw_gdf(gdf, preload=False, verbose="error")  # header and event table only
            ann = raw.annotations
            classlabel = _classlabels(root, stem)
            if session == "E" and classlabel is None:
                logger.warning("%s: no %s.mat with classlabel below %s; %s is indexed without motor labels", self.name, stem, root, gdf)
            if session == "T" and classlabel is not None:
                cues = [d for d in ann.description if d in CUE_CODES]
                if len(cues) == len(classlabel):
                    agree = [CUE_CODES[c] == CLASSLABELS[int(k)] for c, k in zip(cues, classlabel)]
                    if not all(agree):
                        raise ValueError(f"{gdf}: cue events disagree with {stem}.mat classlabel on {agree.count(False)} trials")
            spans = trial_spans(ann.onset, ann.duration, ann.description, classlabel, where=str(gdf))
            n_found += 1
            yield RecordingItem(
                source=self.name,
                subject=f"A{match.group(1)}",
                recording=stem,
                path=str(gdf),
                spans=spans,
                official_split="train" if session == "T" else "test",
                line_freq=self.line_freq,
                extra={"session": session},
            )
        if n_found == 0:
            raise no_recordings_error(root, self)

    def load_raw(self, item: RecordingItem):
        """The session in volts with 10-10 channel names, EOG typed, NaN gaps between runs filled.

        Runs are separated by NaN samples; each gap is filled by linear interpolation between the
        neighbouring valid samples so that filtering downstream stays finite.
        """
        import mne

        raw = mne.io.read_raw_gdf(item.path, preload=True, eog=[c for c in _EOG], verbose="error")
        raw.rename_channels({old: new for old, new in BCI_IV_2A_CHANNELS.items() if old in raw.ch_names})
        raw.apply_function(_fill_nan, picks="all", channel_wise=True)
        return raw


def _fill_nan(row: np.ndarray) -> np.ndarray:
    """Linear interpolation over non-finite samples of one channel (all bad -> zeros)."""
    bad = ~np.isfinite(row)
    if bad.any():
        good = np.flatnonzero(~bad)
        row = row.copy()
        row[bad] = np.interp(np.flatnonzero(bad), good, row[good]) if good.size else 0.0
    return row
