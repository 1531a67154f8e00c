"""BCI Competition IV dataset 2a (Graz, 4-class motor imagery; Brunner et al. 2008).

Layout (competition page, MOABB ``BNCI2014_001``, braindecode): ``A01T.gdf`` ... ``A09T.gdf`` (training
session) and ``A01E.gdf`` ... ``A09E.gdf`` (evaluation session), anywhere below the root. The true
labels published after the competition are ``A01T.mat``/``A01E.mat`` holding ``classlabel`` (1-4),
often kept in a ``true_labels/`` folder; they are looked up anywhere below the root.

The BNCI Horizon packaging (MOABB ``BNCI2014_001``, torcheeg) is read too, for sessions that have
no GDF: ``A01T.mat``/``A01E.mat`` whose ``data`` is a cell of 9 run structs with ``X``
(n_samples, 25) in microvolts (22 EEG in the MOABB order, then 3 EOG), ``trial`` (1-based start
samples), ``y`` (class 1-4), ``fs`` and ``artifacts`` (1 = rejected). Each run becomes one
recording (``A01T_run4``); the first runs of a session (EOG calibration) have no trials.

GDF events (MNE annotation descriptions are the code strings): 768 trial start, 769 left hand,
770 right hand, 771 feet, 772 tongue, 783 cue of unknown class (every E-session cue), 1023
rejected trial, 276 / 277 idling EEG with eyes open / closed, 1072 eye movements, 32766 new run.
Each trial: fixation at 0 s, cue at 2 s, imagery until 6 s, then a short break; trials follow
each other in runs of 48, the four classes in random order. A 10 s segment therefore holds the
imagery of one trial (4 s) and part of the next, of a random class: labelled by the class that
covered most of it, the segment was named after an imagery that filled at most 4 of its 10 s. A
segment is labelled by the paradigm instead, which holds all through a trial: from each trial
start to the next (at most ``MAX_TRIAL_S``) motor_task=four_class, motor_mode=imagined, rejected
trials (1023) included (the rejection judges the signal, not the task). The cues themselves stay
in ``RecordingItem.extra["cues"]`` as ``(cue_s, end_of_imagery_s, class)``: T-session classes from
the cue events, E-session classes (783) from ``classlabel`` in order (all 288 trials, rejected ones
included), None without the ``.mat``; rejected trials are left out of the cues. The 276/277 blocks
give eyes=open/closed.

Sessions and splits (a documented choice): every subject has BOTH a training session ``A0sT`` and
an evaluation session ``A0sE`` (MOABB ``bnci.py`` loads ``A{s:02d}T.mat`` and ``A{s:02d}E.mat`` for
each of the 9 subjects), so the competition's split is by session, not by subject. NeuroCorpus
splits are subject-disjoint: both sessions of a subject go to the subject's split (hashed like any
source without an official split), and the competition's role of each session is kept in
``extra["session"]`` (``T``/``E``) and ``extra["official_split"]`` (``train``/``test``); the E
session's true labels (``AxxE.mat``) are used as labels. A cross-session protocol can be rebuilt
from ``extra``; ``official_split`` stays None so that a subject never sits in two splits.
Channels ``EEG-Fz``, ``EEG-0`` ... ``EEG-16``, ``EEG-C3``... are renamed by ``load_raw`` to their
10-10 positions (MOABB order); 250 Hz; recorded in Graz (50 Hz).

Evidence: NeuroTechX/moabb ``moabb/datasets/bnci.py`` (``_load_data_001_2014``: both ``T`` and ``E``
files per subject 1-9, channel order Fz FC3 FC1 FCz FC2 FC4 C5 C3 C1 Cz C2 C4 C6 CP3 CP1 CPz CP2
CP4 P1 Pz P2 POz + 3 EOG, ``data`` runs with ``X``/``trial``/``y``/``fs``, X in µV scaled by 1e-6);
braindecode ``datasets/bcic_iv_2a.py``. The GDF event meanings 276/277/1072/32766 and the
``true_labels/`` folder name are not verified against a real download here.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .base import LabelSpan, RecordingItem, SourceReader, Walk, register_reader

logger = logging.getLogger(__name__)

__all__ = ["BCI_IV_2A_CHANNELS", "CLASSLABELS", "CUE_CODES", "BCICIV2aReader", "paradigm_spans", "trial_spans"]

CUE_CODES = {"769": "left_hand", "770": "right_hand", "771": "feet", "772": "tongue"}
CLASSLABELS = {1: "left_hand", 2: "right_hand", 3: "feet", 4: "tongue"}
UNKNOWN_CUE, TRIAL_START, REJECTED = "783", "768", "1023"
EYES_CODES = {"276": "open", "277": "closed"}
IMAGERY_S = 4.0  # cue (2 s) to end of imagery (6 s)
CUE_S = 2.0  # cue onset after the trial start (fixation cross)
# A trial is fixation (2 s), cue and imagery (4 s) and a short break; the paradigm span of the last
# trial of a run (no next start) ends here, so the pause between runs stays unlabelled.
MAX_TRIAL_S = 8.5
PARADIGM = {"motor_task": "four_class", "motor_mode": "imagined"}

# GDF label -> 10-10 name, in file order (MOABB BNCI2014_001).
BCI_IV_2A_CHANNELS = {
    "EEG-Fz": "Fz", "EEG-0": "FC3", "EEG-1": "FC1", "EEG-2": "FCz", "EEG-3": "FC2", "EEG-4": "FC4",
    "EEG-5": "C5", "EEG-C3": "C3", "EEG-6": "C1", "EEG-Cz": "Cz", "EEG-7": "C2", "EEG-C4": "C4",
    "EEG-8": "C6", "EEG-9": "CP3", "EEG-10": "CP1", "EEG-11": "CPz", "EEG-12": "CP2", "EEG-13": "CP4",
    "EEG-14": "P1", "EEG-Pz": "Pz", "EEG-15": "P2", "EEG-16": "POz",
}  # fmt: skip
_EOG = ("EOG-left", "EOG-central", "EOG-right")
_NAME = re.compile(r"^A(\d{2})([TE])$", re.IGNORECASE)


def _classlabels(root: Path, stem: str) -> np.ndarray | None:
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


def paradigm_spans(trial_starts, end_s: float | None = None) -> list[LabelSpan]:
    """One ``PARADIGM`` span per trial: from its start to the next trial's (at most ``MAX_TRIAL_S``)."""
    starts = sorted(float(t) for t in trial_starts)
    spans = []
    for i, start in enumerate(starts):
        end = start + MAX_TRIAL_S
        if i + 1 < len(starts):
            end = min(end, starts[i + 1])
        if end_s is not None:
            end = min(end, float(end_s))
        if end > start:
            spans.append(LabelSpan(start, end, dict(PARADIGM)))
    return spans


def trial_spans(onsets, durations, descriptions, classlabel: np.ndarray | None, *, where: str) -> tuple[list[LabelSpan], list[tuple]]:
    """``(spans, cues)`` from the GDF events of one session (see the module docstring): the paradigm
    span of every trial and the eyes blocks; the cues ``(cue_s, end_of_imagery_s, class or None)``."""
    events = sorted(zip(np.asarray(onsets, float), np.asarray(durations, float), [str(d) for d in descriptions]))
    rejected = {round(o, 3) for o, _, d in events if d == REJECTED}
    spans: list[LabelSpan] = []
    cues: list[tuple] = []
    trial_starts: list[float] = []
    trial_start = None
    n_unknown = 0
    for onset, duration, code in events:
        if code == TRIAL_START:
            trial_start = onset
            trial_starts.append(float(onset))
        elif code in CUE_CODES or code == UNKNOWN_CUE:
            if code == UNKNOWN_CUE:
                n_unknown += 1
                if classlabel is not None and n_unknown > len(classlabel):
                    raise ValueError(f"{where}: more unknown cues (783) than the {len(classlabel)} entries of classlabel")
                task = None if classlabel is None else CLASSLABELS[int(classlabel[n_unknown - 1])]
            else:
                task = CUE_CODES[code]
            if trial_start is not None and round(trial_start, 3) in rejected:
                continue
            cues.append((round(float(onset), 3), round(float(onset + IMAGERY_S), 3), task))
        elif code in EYES_CODES and duration > 1.0:
            spans.append(LabelSpan(float(onset), float(onset + duration), {"eyes": EYES_CODES[code]}))
    if classlabel is not None and n_unknown and n_unknown != len(classlabel):
        raise ValueError(f"{where}: {n_unknown} unknown cues (783) but classlabel has {len(classlabel)} entries")
    return spans + paradigm_spans(trial_starts), cues


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

    def _recordings(self, walk: Walk) -> Iterator[RecordingItem]:
        import mne

        root, issues = walk.root, walk.issues
        seen = []
        for gdf in sorted(root.rglob("*.gdf")):
            match = _NAME.match(gdf.stem)
            if match is None:
                continue
            session = match.group(2).upper()
            stem = f"A{match.group(1)}{session}"
            raw = mne.io.read_raw_gdf(gdf, preload=False, verbose="error")  # header and event table only
            ann = raw.annotations
            try:
                classlabel = _classlabels(root, stem)
                if session == "E" and classlabel is None:
                    issues.add(gdf, f"no {stem}.mat with classlabel below {root} (the published true labels); its cues (783) keep no class")
                if session == "T" and classlabel is not None:
                    cue_codes = [d for d in ann.description if d in CUE_CODES]
                    if len(cue_codes) == len(classlabel):
                        agree = [CUE_CODES[c] == CLASSLABELS[int(k)] for c, k in zip(cue_codes, classlabel)]
                        if not all(agree):
                            raise ValueError(f"{gdf}: cue events disagree with {stem}.mat classlabel on {agree.count(False)} trials")
                spans, cues = trial_spans(ann.onset, ann.duration, ann.description, classlabel, where=str(gdf))
            except ValueError as error:  # true labels that cannot be placed: the cues keep no class, reported
                issues.add(gdf, f"{error}; the session's cues keep no class")
                spans, cues = trial_spans(ann.onset, ann.duration, ann.description, None, where=str(gdf))
                cues = [(onset, end, None) for onset, end, _ in cues]
            seen.append(stem)
            yield RecordingItem(
                source=self.name,
                subject=f"A{match.group(1)}",
                recording=stem,
                path=str(gdf),
                spans=spans,
                line_freq=self.line_freq,
                extra={"session": session, "official_split": "train" if session == "T" else "test", "cues": cues},
            )
        indexed = {item_stem.upper() for item_stem in seen}
        for mat in sorted(root.rglob("*.mat")):
            match = _NAME.match(mat.stem)
            if match is None or mat.stem.upper() in indexed:
                continue
            yield from self._index_bnci(mat, match)

    def _index_bnci(self, mat: Path, match: re.Match) -> Iterator[RecordingItem]:
        """One item per run of a BNCI Horizon session file (nothing if it holds no ``data``)."""
        import scipy.io

        if "data" not in {name for name, _, _ in scipy.io.whosmat(mat)}:
            return
        session = match.group(2).upper()
        for r, run in enumerate(_bnci_runs(mat), start=1):
            fs = float(run.fs)
            starts = np.atleast_1d(np.asarray(run.trial, dtype=float))
            classes = np.atleast_1d(np.asarray(run.y, dtype=int))
            artifacts = np.atleast_1d(np.asarray(getattr(run, "artifacts", np.zeros(len(starts))), dtype=int))
            if len(classes) != len(starts) or (artifacts.size and len(artifacts) != len(starts)):
                raise ValueError(f"{mat}: run {r} has {len(starts)} trial starts but {len(classes)} classes / {len(artifacts)} artifact flags")
            trial_starts, cues = (starts - 1) / fs, []  # ``trial`` is a 1-based sample index of the trial start
            for i, (start_s, cls) in enumerate(zip(trial_starts, classes)):
                if int(cls) not in CLASSLABELS:
                    raise ValueError(f"{mat}: run {r} trial {i + 1} has class {cls}; expected 1-4 (left hand, right hand, feet, tongue)")
                if artifacts.size and artifacts[i]:
                    continue
                cue = float(start_s) + CUE_S
                cues.append((round(cue, 3), round(cue + IMAGERY_S, 3), CLASSLABELS[int(cls)]))
            n_samples = np.asarray(run.X).shape[0]
            spans = paradigm_spans(trial_starts, end_s=n_samples / fs)
            yield RecordingItem(
                source=self.name,
                subject=f"A{match.group(1)}",
                recording=f"A{match.group(1)}{session}_run{r}",
                path=str(mat),
                spans=spans,
                line_freq=self.line_freq,
                extra={"session": session, "official_split": "train" if session == "T" else "test", "format": "bnci", "run": r, "cues": cues},
            )

    def load_raw(self, item: RecordingItem):
        """The session in volts with 10-10 channel names, EOG typed, NaN gaps between runs filled.

        Runs are separated by NaN samples; each gap is filled by linear interpolation between the
        neighbouring valid samples so that filtering downstream stays finite.
        """
        import mne

        if item.extra.get("format") == "bnci":
            return self._load_bnci(item)
        raw = mne.io.read_raw_gdf(item.path, preload=True, eog=[c for c in _EOG], verbose="error")
        raw.rename_channels({old: new for old, new in BCI_IV_2A_CHANNELS.items() if old in raw.ch_names})
        raw.apply_function(_fill_nan, picks="all", channel_wise=True)
        return raw

    def _load_bnci(self, item: RecordingItem):
        """One run of a BNCI Horizon file as an ``mne.io.RawArray`` in volts (X holds µV)."""
        import mne

        runs = _bnci_runs(Path(item.path))
        r = int(item.extra["run"])
        if not 1 <= r <= len(runs):
            raise ValueError(f"{item.path}: run {r} not found ({len(runs)} runs); re-index the folder")
        x = np.asarray(runs[r - 1].X, dtype=np.float64)  # (n_samples, 25)
        names = list(BCI_IV_2A_CHANNELS.values()) + list(_EOG)
        if x.ndim != 2 or x.shape[1] != len(names):
            raise ValueError(f"{item.path}: run {r} X has shape {x.shape}, expected (n_samples, {len(names)})")
        info = mne.create_info(names, float(runs[r - 1].fs), ["eeg"] * 22 + ["eog"] * 3)
        info["line_freq"] = self.line_freq
        raw = mne.io.RawArray(x.T * 1e-6, info, verbose="error")
        raw.apply_function(_fill_nan, picks="all", channel_wise=True)
        return raw


def _bnci_runs(mat: Path) -> list:
    """The run structs of a BNCI Horizon session file."""
    import scipy.io

    data = scipy.io.loadmat(mat, struct_as_record=False, squeeze_me=True)["data"]
    return list(np.atleast_1d(data))


def _fill_nan(row: np.ndarray) -> np.ndarray:
    """Linear interpolation over non-finite samples of one channel (all bad -> zeros)."""
    bad = ~np.isfinite(row)
    if bad.any():
        good = np.flatnonzero(~bad)
        row = row.copy()
        row[bad] = np.interp(np.flatnonzero(bad), good, row[good]) if good.size else 0.0
    return row
