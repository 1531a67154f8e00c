"""SEED: SJTU Emotion EEG Dataset (BCMI lab, Zheng & Lu 2015).

Layout (SEED readme, torcheeg ``SEEDDataset``): ``Preprocessed_EEG/label.mat``, ``readme.txt`` and 45
session files ``<subject>_<date>.mat`` (15 subjects x 3 sessions, e.g. ``1_20131027.mat``; some
copies use a name, ``dujingcheng_20131027.mat``). Each session file holds 15 trial arrays of shape
(62, n_samples) keyed ``<initials>_eeg<k>`` (``djc_eeg1`` ... ``djc_eeg15``), downsampled to 200 Hz
and band-limited (0-75 Hz), in microvolts. ``label.mat['label'][0]`` gives the clip emotion of
trials 1-15 (1 positive, 0 neutral, -1 negative), the same for every session.

One ``RecordingItem`` per trial (``recording`` = ``<stem>_trial<k>``, ``extra['key']`` = the
variable name) with ``emotion`` for the whole trial. Subject: the file name before ``_``.
Pitfall: the three sessions replay the same clips; split by subject. ``load_raw`` builds an MNE
RawArray in volts (x 1e-6) with the 62 channel names in MNE spelling (``CB1``/``CB2``, cerebellar,
typed misc). Recorded in Shanghai (50 Hz). Access by licence agreement with the BCMI lab.

Evidence: SOURCES.md (torcheeg ``SEEDDataset``: ``label.mat``, ``<initials>_eeg<k>`` keys, the 62
channel order; EEG-FM-Bench: the label order). SEED is licence-gated; nothing here was checked on a
real file.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ._util import standard_case_names
from .base import RecordingItem, SourceReader, Walk, register_reader

logger = logging.getLogger(__name__)

__all__ = ["SEED_CHANNELS", "SEED_EMOTIONS", "SEEDReader"]

SEED_CHANNELS = (
    "FP1", "FPZ", "FP2", "AF3", "AF4", "F7", "F5", "F3", "F1", "FZ", "F2", "F4", "F6", "F8", "FT7", "FC5",
    "FC3", "FC1", "FCZ", "FC2", "FC4", "FC6", "FT8", "T7", "C5", "C3", "C1", "CZ", "C2", "C4", "C6", "T8",
    "TP7", "CP5", "CP3", "CP1", "CPZ", "CP2", "CP4", "CP6", "TP8", "P7", "P5", "P3", "P1", "PZ", "P2", "P4",
    "P6", "P8", "PO7", "PO5", "PO3", "POZ", "PO4", "PO6", "PO8", "CB1", "O1", "OZ", "O2", "CB2",
)  # fmt: skip
SEED_EMOTIONS = {-1: "negative", 0: "neutral", 1: "positive"}
SAMPLING_RATE = 200.0
_TRIAL_KEY = re.compile(r"^[A-Za-z0-9]*?_?eeg(\d+)$")


def _read_label_mat(path: Path) -> list[str]:
    import scipy.io

    mat = scipy.io.loadmat(path, variable_names=["label"])
    if "label" not in mat:
        raise ValueError(f"{path}: no variable 'label'; expected SEED's label.mat with 15 values in -1/0/1")
    values = np.asarray(mat["label"]).ravel().astype(int)
    bad = sorted(set(values.tolist()) - set(SEED_EMOTIONS))
    if bad:
        raise ValueError(f"{path}: label values {bad} are not -1/0/1 (negative/neutral/positive)")
    return [SEED_EMOTIONS[v] for v in values]


@register_reader
class SEEDReader(SourceReader):
    name = "seed"
    title = "SEED (SJTU Emotion EEG Dataset)"
    task = "emotion recognition (negative/neutral/positive film clips)"
    label_keys = ("emotion",)
    licence = "licence agreement with the BCMI lab (SJTU), research use only"
    homepage = "https://bcmi.sjtu.edu.cn/home/seed/"
    layout = "Preprocessed_EEG/label.mat with <subject>_<date>.mat session files beside it"
    line_freq = 50.0

    def _recordings(self, walk: Walk) -> Iterator[RecordingItem]:
        import scipy.io

        for label_path in sorted(walk.root.rglob("label.mat")):
            emotions = _read_label_mat(label_path)
            for mat in sorted(label_path.parent.glob("*_*.mat")):
                subject, _, session = mat.stem.partition("_")
                trials = []
                for var, _, _ in scipy.io.whosmat(mat):
                    match = _TRIAL_KEY.match(var)
                    if match:
                        trials.append((int(match.group(1)), var))
                if not trials:
                    logger.debug("%s: %s holds no <initials>_eeg<k> arrays; skipped", self.name, mat)
                    continue
                for k, var in sorted(trials):
                    if not 1 <= k <= len(emotions):
                        raise ValueError(f"{mat}: trial {var} has no entry in {label_path} ({len(emotions)} labels)")
                    yield RecordingItem(
                        source=self.name,
                        subject=subject,
                        recording=f"{mat.stem}_trial{k:02d}",
                        path=str(mat),
                        recording_labels={"emotion": emotions[k - 1]},
                        line_freq=self.line_freq,
                        extra={"key": var, "trial": k, "session": session},
                    )

    def load_raw(self, item: RecordingItem):
        """One trial as an ``mne.io.RawArray`` in volts: 62 channels, 200 Hz."""
        import mne
        import scipy.io

        key = item.extra.get("key")
        mat = scipy.io.loadmat(item.path, variable_names=[key])
        if key not in mat:
            raise ValueError(f"{item.path}: variable {key!r} not found; re-index the folder")
        data = np.asarray(mat[key], dtype=np.float64)
        if data.ndim != 2 or data.shape[0] != len(SEED_CHANNELS):
            raise ValueError(f"{item.path}: {key} has shape {data.shape}, expected ({len(SEED_CHANNELS)}, n_samples)")
        standard = standard_case_names(SEED_CHANNELS)
        names = [standard.get(name, name) for name in SEED_CHANNELS]
        types = ["eeg" if name in standard else "misc" for name in SEED_CHANNELS]
        info = mne.create_info(names, SAMPLING_RATE, types)
        info["line_freq"] = self.line_freq
        return mne.io.RawArray(data * 1e-6, info, verbose="error")  # SEED stores microvolts
