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
Each trial: fixation at 0 s, cue at 2 s, imagery until 6 s; a span [cue, cue + 4 s) gets
motor_task (left_hand, right_hand, feet, tongue) and motor_mode=imagined. E-session cues take their
class from ``classlabel`` in order (all 288 trials, rejected ones included); without the ``.mat``
an E session is indexed without motor labels. Trials marked 1023 are left unlabelled. The
276/277 blocks give eyes=open/closed.

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

__all__ = ["BCI_IV_2A_CHANNELS", "CLASSLABELS", "CUE_CODES", "BCICIV2aReader"]

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


def trial_spans(onsets, durations, descriptions, classlabel: np.ndarray | None, *, where: str) -> list[LabelSpan]:
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
                    issues.add(gdf, f"no {stem}.mat with classlabel below {root} (the published true labels); its cues (783) are left unlabelled")
                if session == "T" and classlabel is not None:
                    cues = [d for d in ann.description if d in CUE_CODES]
                    if len(cues) == len(classlabel):
                        agree = [CUE_CODES[c] == CLASSLABELS[int(k)] for c, k in zip(cues, classlabel)]
                        if not all(agree):
                            raise ValueError(f"{gdf}: cue events disagree with {stem}.mat classlabel on {agree.count(False)} trials")
                spans = trial_spans(ann.onset, ann.duration, ann.description, classlabel, where=str(gdf))
            except ValueError as error:  # true labels that cannot be placed: this session unlabelled, reported
                issues.add(gdf, f"{error}; the session is indexed without motor labels")
                spans = trial_spans(ann.onset, ann.duration, ann.description, None, where=str(gdf))
                spans = [span for span in spans if "motor_task" not in span.labels]
            seen.append(stem)
            yield RecordingItem(
                source=self.name,
                subject=f"A{match.group(1)}",
                recording=stem,
                path=str(gdf),
                spans=spans,
                line_freq=self.line_freq,
                extra={"session": session, "official_split": "train" if session == "T" else "test"},
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
            spans = []
            for i, (start, cls) in enumerate(zip(starts, classes)):
                if int(cls) not in CLASSLABELS:
                    raise ValueError(f"{mat}: run {r} trial {i + 1} has class {cls}; expected 1-4 (left hand, right hand, feet, tongue)")
                if artifacts.size and artifacts[i]:
                    continue
                cue = (start - 1) / fs + 2.0  # ``trial`` is a 1-based sample index of the trial start
                spans.append(LabelSpan(float(cue), float(cue + IMAGERY_S), {"motor_task": CLASSLABELS[int(cls)], "motor_mode": "imagined"}))
            yield RecordingItem(
                source=self.name,
                subject=f"A{match.group(1)}",
                recording=f"A{match.group(1)}{session}_run{r}",
                path=str(mat),
                spans=spans,
                line_freq=self.line_freq,
                extra={"session": session, "official_split": "train" if session == "T" else "test", "format": "bnci", "run": r},
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
