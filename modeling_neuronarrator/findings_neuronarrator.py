"""Quantitative findings per 10 s segment: the typed record shared by the front-end, the corpus
builder, the evaluator and the Space.

The record is plain data (numbers, strings, lists, dicts) so that it serializes to JSON and to a
Parquet struct without custom code. Values are stored at the precision the narratives use
(frequencies to 0.1 Hz, relative powers to 0.01, amplitudes to 1 uV), so that text written from a
record and parsed back gives the same record.

``compute_findings`` holds the rules that fill the record from harmonized segments; every
threshold lives in ``THRESHOLDS`` with the clinical convention it follows.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from dataclasses import dataclass, field
from typing import Any, Literal, Optional, Sequence

import numpy as np
from scipy import signal as _signal

from .eeg_io_neuronarrator import STANDARD_CHANNELS

__all__ = [
    "BANDS",
    "BAND_EDGES_HZ",
    "REGIONS",
    "HEMISPHERES",
    "ARTIFACT_TYPES",
    "CHANGE_TYPES",
    "SLOWING_KINDS",
    "Asymmetry",
    "Slowing",
    "Findings",
    "dominant_band_of",
]

# Canonical EEG bands (IFCN glossary; gamma capped at 45 Hz to stay clear of mains at 50/60 Hz).
BANDS = ("delta", "theta", "alpha", "beta", "gamma")
BAND_EDGES_HZ = {
    "delta": (0.5, 4.0),
    "theta": (4.0, 8.0),
    "alpha": (8.0, 13.0),
    "beta": (13.0, 30.0),
    "gamma": (30.0, 45.0),
}
REGIONS = ("frontal", "central", "temporal", "parietal", "occipital")
HEMISPHERES = ("left", "right")
ARTIFACT_TYPES = ("eye_blink", "eye_movement", "muscle", "electrode_pop", "line_noise", "flat_channel")
SLOWING_KINDS = ("none", "focal", "generalized")
# What can change between a segment and the ones before it (first segment of a recording: None).
CHANGE_TYPES = (
    "stable",
    "faster",  # dominant frequency rose by at least one band step or 1 Hz
    "slower",
    "higher_amplitude",  # amplitude rose by at least 50 %
    "lower_amplitude",
    "slowing_appeared",
    "slowing_resolved",
    "artifacts_appeared",
    "artifacts_resolved",
)

Side = Literal["left", "right", "none"]


def dominant_band_of(frequency_hz: float) -> str:
    """Name of the band that holds ``frequency_hz`` (edges belong to the upper band)."""
    for band in reversed(BANDS):
        low, _ = BAND_EDGES_HZ[band]
        if frequency_hz >= low:
            return band
    return "delta"


@dataclass
class Asymmetry:
    """Hemispheric asymmetry of total power.

    ``index`` = (right - left) / (right + left) over homologous channel pairs, in [-1, 1];
    ``side`` names the hemisphere with *less* power when |index| passes the threshold (the side a
    clinician would call abnormal: attenuation is the usual asymmetry finding), else ``"none"``.
    """

    side: Side = "none"
    index: float = 0.0


@dataclass
class Slowing:
    """Slowing of the background: none, focal (one side and region) or generalized."""

    kind: Literal["none", "focal", "generalized"] = "none"
    side: Optional[Literal["left", "right", "bilateral"]] = None
    region: Optional[str] = None  # one of REGIONS for focal slowing


@dataclass
class Findings:
    """Quantitative findings of one segment.

    Attributes:
        dominant_frequency_hz: peak of the mean spectrum over all usable channels, 0.5-30 Hz.
        dominant_band: band of ``dominant_frequency_hz`` (one of ``BANDS``).
        posterior_dominant_rhythm_hz: alpha-range (7.5-13.5 Hz) peak over O1/O2/P3/P4/Pz, or None
            when no posterior peak stands out of the background.
        band_power_by_region: ``{region: {band: relative power}}``, relative powers sum to 1 per region.
        band_power_by_hemisphere: ``{"left"|"right": {band: relative power}}``.
        predominant_region: region where the dominant band's relative power is highest.
        asymmetry: see ``Asymmetry``.
        slowing: see ``Slowing``.
        artifacts: sorted subset of ``ARTIFACT_TYPES``.
        amplitude_uv: median over channels of the peak-to-peak amplitude (5th-95th percentile).
        labels: harmonized source labels (``dataset_builder.labels``); empty from the front-end.
        change_from_previous: sorted subset of ``CHANGE_TYPES``; None for a recording's first segment.
        interpolated_channels: 10-20 channels that were interpolated, not recorded.
    """

    dominant_frequency_hz: float
    dominant_band: str
    posterior_dominant_rhythm_hz: Optional[float]
    band_power_by_region: dict[str, dict[str, float]]
    band_power_by_hemisphere: dict[str, dict[str, float]]
    predominant_region: str
    asymmetry: Asymmetry = field(default_factory=Asymmetry)
    slowing: Slowing = field(default_factory=Slowing)
    artifacts: list[str] = field(default_factory=list)
    amplitude_uv: float = 0.0
    labels: dict[str, str] = field(default_factory=dict)
    change_from_previous: Optional[list[str]] = None
    interpolated_channels: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Findings":
        data = dict(data)
        data["asymmetry"] = Asymmetry(**data.get("asymmetry") or {})
        data["slowing"] = Slowing(**data.get("slowing") or {})
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"Findings.from_dict: unknown fields {sorted(unknown)}; known fields are {sorted(known)}")
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> "Findings":
        return cls.from_dict(json.loads(text))


# Yes/no findings a model can be trained to read off one segment (the stage-1 findings head).
# Line noise is left out: the front-end's notch removes it from the model's input.
FINDING_TARGETS = (
    *(f"artifact:{a}" for a in ARTIFACT_TYPES if a != "line_noise"),
    "pdr",
    "slowing:focal",
    "slowing:generalized",
    "asymmetry",
    *(f"band:{b}" for b in BANDS),
)


def finding_targets(findings: "Findings | dict[str, Any]", names: Sequence[str] = FINDING_TARGETS) -> np.ndarray:
    """``(len(names),)`` float32 0/1 vector of the yes/no findings ``names`` (``FINDING_TARGETS``
    entries) of one segment's findings (a ``Findings`` or its ``to_dict()``)."""
    unknown = [name for name in names if name not in FINDING_TARGETS]
    if unknown:
        raise ValueError(f"unknown finding target {unknown[0]!r}; known targets are {list(FINDING_TARGETS)}")
    data = findings.to_dict() if isinstance(findings, Findings) else findings
    out = np.zeros(len(names), dtype=np.float32)
    for i, name in enumerate(names):
        kind, _, value = name.partition(":")
        if kind == "artifact":
            hit = value in (data.get("artifacts") or [])
        elif kind == "pdr":
            hit = data.get("posterior_dominant_rhythm_hz") is not None
        elif kind == "slowing":
            hit = (data.get("slowing") or {}).get("kind") == value
        elif kind == "asymmetry":
            hit = (data.get("asymmetry") or {}).get("side", "none") != "none"
        else:  # band
            hit = data.get("dominant_band") == value
        out[i] = float(hit)
    return out


__all__ += ["FINDING_TARGETS", "finding_targets"]


# ---------------------------------------------------------------------------------------------
# The rules: spectra and signals of harmonized segments -> Findings.
# ---------------------------------------------------------------------------------------------

__all__ += [
    "REGION_CHANNELS",
    "HEMISPHERE_CHANNELS",
    "THRESHOLDS",
    "segment_psd",
    "band_power",
    "compute_findings",
]

# Scalp regions of the 10-20 channels as clinical EEG reads them: F7/F8 are anterior temporal and
# P7/P8 (old T5/T6) posterior temporal electrodes (ACNS guideline 2: 10-20 nomenclature).
REGION_CHANNELS = {
    "frontal": ("Fp1", "Fp2", "F3", "Fz", "F4"),
    "central": ("C3", "Cz", "C4"),
    "temporal": ("F7", "F8", "T7", "T8", "P7", "P8"),
    "parietal": ("P3", "Pz", "P4"),
    "occipital": ("O1", "O2"),
}
HEMISPHERE_CHANNELS = {
    "left": ("Fp1", "F7", "F3", "T7", "C3", "P7", "P3", "O1"),
    "right": ("Fp2", "F8", "F4", "T8", "C4", "P8", "P4", "O2"),
}
# Homologous left/right channel groups per region, for focal slowing.
_LATERAL_REGIONS = {
    "frontal": (("Fp1", "F3"), ("Fp2", "F4")),
    "central": (("C3",), ("C4",)),
    "temporal": (("F7", "T7", "P7"), ("F8", "T8", "P8")),
    "parietal": (("P3",), ("P4",)),
    "occipital": (("O1",), ("O2",)),
}
_POSTERIOR = ("O1", "O2", "P3", "P4", "Pz")
_FRONTAL = ("Fp1", "Fp2", "F7", "F3", "Fz", "F4", "F8")
_INDEX = {name: i for i, name in enumerate(STANDARD_CHANNELS)}

# Every threshold of the rules, in one place (documented where used).
THRESHOLDS = {
    "pdr_range_hz": (7.5, 13.5),  # ACNS 2021: PDR is the posterior alpha-range rhythm (>= 8 Hz normal adult)
    "pdr_peak_over_background": 2.0,  # peak power / 1/f background at that frequency
    "pdr_posterior_over_frontal": 1.0,  # alpha share of power, posterior / frontal channels
    "asymmetry_index": 0.6,  # |R-L|/(R+L) of power; = 50 % amplitude difference, ACNS "marked"
    "focal_slowing_ratio": 2.5,  # delta+theta power, one side / homologous side
    "focal_slowing_min_fraction": 0.5,  # delta+theta share of the slower side's power
    "focal_slowing_fraction_excess": 0.1,  # that share minus the homologous side's share
    "generalized_slow_fraction": 0.7,  # delta+theta share of power, all channels
    "blink_uv": 100.0,  # frontopolar slow deflection
    "blink_correlation": 0.7,  # Fp1/Fp2 in phase (blinks are vertical and symmetric)
    "eye_movement_uv": 50.0,  # F7/F8 slow deflection
    "eye_movement_correlation": -0.5,  # F7/F8 in opposite phase (lateral gaze)
    "muscle_fraction": 0.3,  # 30-75 Hz share of 0.5-75 Hz power in a frontal/temporal channel
    "pop_z": 25.0,  # sample-to-sample jump, in robust SDs of the channel's jumps
    "pop_uv": 50.0,  # and in microvolts
    "pop_others_z": 5.0,  # other channels quiet at that instant (the step is isolated)
    "line_peak_ratio": 10.0,  # mains bin / neighbouring 2-6 Hz bins
    "line_power_fraction": 0.02,  # mains +-1 Hz power / 0.5-45 Hz EEG power
    "flat_std_uv": 0.5,  # a channel with less standard deviation than this is flat
}


def segment_psd(eeg_uv: np.ndarray, sampling_rate: float) -> tuple[np.ndarray, np.ndarray]:
    """Welch power spectral density of every channel of every segment, vectorized.

    4 s Hann windows with 50 % overlap (0.25 Hz bins; 4 windows in a 10 s segment), or the whole
    segment when it is shorter.

    Args:
        eeg_uv: ``(n_segments, n_channels, n_times)`` in microvolts.
        sampling_rate: Hz.

    Returns:
        ``(psd, freqs)``: psd ``(n_segments, n_channels, n_freqs)`` in uV^2/Hz, freqs ``(n_freqs,)`` Hz.
    """
    eeg_uv = np.asarray(eeg_uv)
    n_times = eeg_uv.shape[-1]
    nperseg = min(n_times, int(round(4.0 * sampling_rate)))
    step = max(1, nperseg // 2)
    window = _hann(nperseg)
    # Same estimate as scipy.signal.welch (periodic Hann, constant detrend, density scaling,
    # one-sided), written as one strided view + one rfft so all segments and channels go at once.
    frames = np.lib.stride_tricks.sliding_window_view(eeg_uv, nperseg, axis=-1)[..., ::step, :]  # (..., n_frames, nperseg)
    frames = frames - frames.mean(axis=-1, keepdims=True)
    spectra = np.fft.rfft(frames * window.astype(frames.dtype, copy=False), axis=-1)  # (..., n_frames, n_freqs)
    power = (spectra.real**2 + spectra.imag**2).mean(axis=-2) / (sampling_rate * float((window**2).sum()))
    power[..., 1 : (nperseg + 1) // 2] *= 2.0  # fold negative frequencies (not DC, not Nyquist)
    return power, np.fft.rfftfreq(nperseg, 1.0 / sampling_rate)


@functools.lru_cache(maxsize=8)
def _hann(n: int) -> np.ndarray:
    return _signal.get_window("hann", n)  # periodic, as Welch uses


def band_power(psd: np.ndarray, freqs: np.ndarray) -> np.ndarray:
    """Absolute power per band (BANDS order): ``(..., n_freqs)`` uV^2/Hz -> ``(..., 5)`` uV^2."""
    df = freqs[1] - freqs[0]
    # One (n_freqs, 5) selection matrix: all bands in one matrix product.
    select = np.stack([(freqs >= BAND_EDGES_HZ[b][0]) & (freqs < BAND_EDGES_HZ[b][1]) for b in BANDS], axis=1)
    return psd @ select.astype(psd.dtype) * df


def _peak_frequency(spectrum: np.ndarray, freqs: np.ndarray, low: float, high: float) -> tuple[float, int]:
    """Frequency of the largest bin in [low, high], refined by a parabola through its neighbours."""
    band = np.flatnonzero((freqs >= low) & (freqs <= high))
    k = band[np.argmax(spectrum[band])]
    if 0 < k < len(freqs) - 1:
        a, b, c = spectrum[k - 1], spectrum[k], spectrum[k + 1]
        denominator = a - 2 * b + c
        offset = 0.5 * (a - c) / denominator if denominator < 0 else 0.0
        return float(freqs[k] + np.clip(offset, -0.5, 0.5) * (freqs[1] - freqs[0])), int(k)
    return float(freqs[k]), int(k)


def _mean_in(spectrum: np.ndarray, freqs: np.ndarray, low: float, high: float) -> float:
    return float(spectrum[(freqs >= low) & (freqs <= high)].mean())


def _posterior_dominant_rhythm(spectrum: np.ndarray, freqs: np.ndarray) -> Optional[float]:
    # ACNS 2021 terminology: the PDR is the rhythm of the alpha range over the posterior head
    # regions. It "stands out" when its peak is a local maximum inside 7.5-13.5 Hz and at least
    # twice the 1/f background there (log-log line through the 5.5-7 and 14.5-17 Hz flanks).
    low, high = THRESHOLDS["pdr_range_hz"]
    frequency, k = _peak_frequency(spectrum, freqs, low, high)
    if freqs[k] <= low or freqs[k] >= high:
        return None  # the maximum is the range's edge: the tail of theta or beta, not a peak
    f1, f2 = 6.25, 15.75
    p1, p2 = _mean_in(spectrum, freqs, 5.5, 7.0), _mean_in(spectrum, freqs, 14.5, 17.0)
    if p1 <= 0 or p2 <= 0:
        return None
    slope = np.log(p2 / p1) / np.log(f2 / f1)
    background = p1 * (freqs[k] / f1) ** slope
    if spectrum[k] < THRESHOLDS["pdr_peak_over_background"] * background:
        return None
    return round(frequency, 1)


def _relative(powers: np.ndarray) -> dict[str, float]:
    total = powers.sum()
    rel = powers / total if total > 0 else np.full(len(BANDS), 1.0 / len(BANDS))
    return {band: round(float(v), 2) for band, v in zip(BANDS, rel)}


def _group(names: Sequence[str], usable: np.ndarray) -> list[int]:
    """Indices of ``names``; only the recorded ones when the group has any."""
    index = [_INDEX[n] for n in names]
    recorded = [i for i in index if usable[i]]
    return recorded or index


def _slow_component(x: np.ndarray, sampling_rate: float) -> np.ndarray:
    """100 ms moving average over the last axis: keeps blinks and eye movements, drops EEG."""
    width = max(1, int(round(0.1 * sampling_rate)))
    kernel = np.ones(width) / width
    centered = x - np.median(x, axis=-1, keepdims=True)
    return np.apply_along_axis(lambda row: np.convolve(row, kernel, mode="same"), -1, centered)


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    denominator = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / denominator) if denominator > 0 else 0.0


def _artifacts(
    x: np.ndarray,
    psd: np.ndarray,
    freqs: np.ndarray,
    sampling_rate: float,
    usable: np.ndarray,
    line_freq: Optional[float],
    raw_flat: bool,
) -> list[str]:
    """Artifact types of one segment: ``x`` (19, n_times) uV, ``psd`` (19, n_freqs)."""
    found: set[str] = set()

    def recorded(*names: str) -> bool:
        return all(usable[_INDEX[n]] for n in names)

    fp1, fp2, f7, f8, o1, o2 = (_INDEX[n] for n in ("Fp1", "Fp2", "F7", "F8", "O1", "O2"))

    # Eye blink: large (>100 uV) slow deflection at both frontopolar electrodes, in phase and of
    # similar size (the eyeball's dipole rotating upward), much smaller posteriorly.
    if recorded("Fp1", "Fp2"):
        slow = _slow_component(x[[fp1, fp2, o1, o2]], sampling_rate)
        peaks = np.abs(slow).max(axis=-1)
        symmetric = 0.5 <= peaks[0] / max(peaks[1], 1e-9) <= 2.0
        posterior_small = peaks[2:].max() < 0.5 * peaks[:2].min()
        if (
            peaks[:2].min() > THRESHOLDS["blink_uv"]
            and _correlation(slow[0], slow[1]) > THRESHOLDS["blink_correlation"]
            and symmetric
            and posterior_small
        ):
            found.add("eye_blink")
    # Lateral eye movement: slow potentials of opposite polarity at F7 and F8 (the corneal
    # positivity approaches one and leaves the other).
    if recorded("F7", "F8"):
        slow = _slow_component(x[[f7, f8]], sampling_rate)
        peaks = np.abs(slow).max(axis=-1)
        if peaks.min() > THRESHOLDS["eye_movement_uv"] and _correlation(slow[0], slow[1]) < THRESHOLDS["eye_movement_correlation"]:
            found.add("eye_movement")
    # Muscle: EMG is broadband above ~20 Hz and largest over frontalis/temporalis: a high share of
    # 30-75 Hz power in a frontal or temporal channel (mains excluded).
    mains = np.zeros_like(freqs, dtype=bool)
    for f in (50.0, 60.0):
        mains |= np.abs(freqs - f) <= 2.0
    broad = (freqs >= 0.5) & (freqs <= 75.0) & ~mains
    high = (freqs >= 30.0) & (freqs <= 75.0) & ~mains
    muscle_channels = [_INDEX[n] for n in ("Fp1", "Fp2", "F7", "F8", "F3", "F4", "T7", "T8") if usable[_INDEX[n]]]
    if muscle_channels:
        fraction = psd[muscle_channels][:, high].sum(-1) / np.maximum(psd[muscle_channels][:, broad].sum(-1), 1e-12)
        if fraction.max() > THRESHOLDS["muscle_fraction"]:
            found.add("muscle")
    # Electrode pop: a sudden step or spike in one channel only (the electrode's contact
    # changes), i.e. a sample-to-sample jump far outside that channel's usual jumps while the
    # other channels stay quiet at that instant.
    rec = np.flatnonzero(usable)
    if len(rec) >= 2:
        jumps = np.abs(np.diff(x[rec], axis=-1))  # (n_rec, n_times-1)
        scale = np.median(jumps, axis=-1, keepdims=True) / 0.6745 + 1e-6
        z = jumps / scale
        channel, t = np.unravel_index(np.argmax(z), z.shape)
        lo, hi = max(0, t - 5), t + 6
        others = np.delete(z[:, lo:hi], channel, axis=0)
        if z[channel, t] > THRESHOLDS["pop_z"] and jumps[channel, t] > THRESHOLDS["pop_uv"] and others.max() < THRESHOLDS["pop_others_z"]:
            found.add("electrode_pop")
    # Line noise: a narrow mains peak (before the notch) that stands 10x above the neighbouring
    # bins and carries a visible share of the EEG power.
    candidates = [line_freq] if line_freq else [50.0, 60.0]
    eeg_band = (freqs >= 0.5) & (freqs < 45.0)
    df = freqs[1] - freqs[0]
    for f in candidates:
        if f + 6.0 >= sampling_rate / 2:
            continue
        at = np.abs(freqs - f) <= 1.0
        near = (np.abs(freqs - f) >= 2.0) & (np.abs(freqs - f) <= 6.0)
        peak = psd[rec][:, at].max(-1)
        ratio = peak / np.maximum(np.median(psd[rec][:, near], axis=-1), 1e-12)
        fraction = psd[rec][:, at].sum(-1) * df / np.maximum(psd[rec][:, eeg_band].sum(-1) * df, 1e-12)
        if np.median(ratio) > THRESHOLDS["line_peak_ratio"] and np.median(fraction) > THRESHOLDS["line_power_fraction"]:
            found.add("line_noise")
    # Flat channel: a recorded channel with almost no variance (disconnected or saturated
    # electrode, or an amplifier channel left on).
    if raw_flat or (x[rec].std(axis=-1) < THRESHOLDS["flat_std_uv"]).any():
        found.add("flat_channel")
    return sorted(found)


def _changes(current: "Findings", previous: list["Findings"]) -> Optional[list[str]]:
    """change_from_previous against up to 3 preceding segments (the model's history K=3)."""
    if not previous:
        return None
    changes: set[str] = set()
    reference_freq = float(np.median([p.dominant_frequency_hz for p in previous]))
    reference_band = BANDS.index(dominant_band_of(reference_freq))
    band = BANDS.index(current.dominant_band)
    if current.dominant_frequency_hz - reference_freq >= 1.0 or band > reference_band:
        changes.add("faster")
    elif reference_freq - current.dominant_frequency_hz >= 1.0 or band < reference_band:
        changes.add("slower")
    reference_amplitude = float(np.median([p.amplitude_uv for p in previous]))
    if reference_amplitude > 0 and current.amplitude_uv >= 1.5 * reference_amplitude:
        changes.add("higher_amplitude")
    elif current.amplitude_uv > 0 and reference_amplitude >= 1.5 * current.amplitude_uv:
        changes.add("lower_amplitude")
    last = previous[-1]
    if current.slowing.kind != "none" and all(p.slowing.kind == "none" for p in previous):
        changes.add("slowing_appeared")
    elif current.slowing.kind == "none" and last.slowing.kind != "none":
        changes.add("slowing_resolved")
    if set(current.artifacts) - set(last.artifacts):
        changes.add("artifacts_appeared")
    elif not current.artifacts and last.artifacts:
        changes.add("artifacts_resolved")
    return sorted(changes) or ["stable"]


def compute_findings(
    eeg_uv: np.ndarray,
    sampling_rate: float = 200.0,
    channel_mask: Optional[np.ndarray] = None,
    psd: Optional[np.ndarray] = None,
    freqs: Optional[np.ndarray] = None,
    line_freq: Optional[float] = None,
    raw_flat: Optional[np.ndarray] = None,
    previous: Optional[list["Findings"]] = None,
    history: int = 3,
) -> list["Findings"]:
    """Quantitative findings of consecutive segments of one recording.

    Args:
        eeg_uv: ``(n_segments, 19, n_times)`` harmonized EEG in microvolts (STANDARD_CHANNELS order),
            band-passed; the front-end passes 0.3-75 Hz, 200 Hz, after the notch.
        sampling_rate: Hz of ``eeg_uv``.
        channel_mask: ``(19,)`` or ``(n_segments, 19)`` bool, True = recorded (default all True).
            Interpolated channels never raise channel-level artifacts, asymmetry or focal slowing;
            when none is recorded (a dense cap interpolated from positions) all 19 are used.
        psd, freqs: spectra ``(n_segments, 19, n_freqs)`` uV^2/Hz and their frequencies; default
            ``segment_psd(eeg_uv)``. The front-end passes spectra from *before* the mains notch so
            that line noise stays measurable.
        line_freq: mains frequency (50/60 Hz); None checks both.
        raw_flat: ``(n_segments,)`` bool, a recorded channel was flat in the unfiltered source data.
        previous: findings of the segments just before these (same recording), for
            ``change_from_previous``; None or empty for a recording's first batch.
        history: how many preceding segments the change is measured against.

    Returns:
        One ``Findings`` per segment; ``labels`` empty (the corpus builder fills them).
    """
    eeg_uv = np.asarray(eeg_uv)
    if eeg_uv.ndim != 3 or eeg_uv.shape[1] != len(STANDARD_CHANNELS):
        raise ValueError(
            f"compute_findings: expected eeg_uv of shape (n_segments, 19, n_times), got {eeg_uv.shape}; "
            "harmonize the channels to STANDARD_CHANNELS first"
        )
    n_segments = eeg_uv.shape[0]
    if channel_mask is None:
        channel_mask = np.ones(len(STANDARD_CHANNELS), dtype=bool)
    masks = np.broadcast_to(np.asarray(channel_mask, dtype=bool), (n_segments, len(STANDARD_CHANNELS)))
    if psd is None or freqs is None:
        psd, freqs = segment_psd(eeg_uv, sampling_rate)
    powers = band_power(psd, freqs)  # (n, 19, 5) uV^2
    amplitude = np.percentile(eeg_uv, 95, axis=-1) - np.percentile(eeg_uv, 5, axis=-1)  # (n, 19)
    history_list = list(previous or [])[-history:]
    results: list[Findings] = []
    for k in range(n_segments):
        usable = masks[k] if masks[k].any() else np.ones_like(masks[k])
        rec = np.flatnonzero(usable)
        mean_spectrum = psd[k, rec].mean(axis=0)
        dominant, _ = _peak_frequency(mean_spectrum, freqs, 0.5, 30.0)
        dominant = round(dominant, 1)
        dominant_band = dominant_band_of(dominant)
        posterior = [_INDEX[n] for n in _POSTERIOR if usable[_INDEX[n]]]
        pdr = _posterior_dominant_rhythm(psd[k, posterior].mean(axis=0), freqs) if posterior else None
        # ...and it is *posterior*: alpha holds at least as large a share of the power over the
        # back of the head as over the front (anteriorized alpha of drowsiness, sleep or alpha
        # coma is not a PDR).
        frontal = [_INDEX[n] for n in _FRONTAL if usable[_INDEX[n]]]
        if pdr is not None and frontal:
            alpha_share = powers[k, :, BANDS.index("alpha")] / np.maximum(powers[k].sum(axis=-1), 1e-12)
            if alpha_share[posterior].mean() < THRESHOLDS["pdr_posterior_over_frontal"] * alpha_share[frontal].mean():
                pdr = None

        region_powers = {r: powers[k, _group(ch, usable)].sum(axis=0) for r, ch in REGION_CHANNELS.items()}
        by_region = {r: _relative(p) for r, p in region_powers.items()}
        by_hemisphere = {h: _relative(powers[k, _group(ch, usable)].sum(axis=0)) for h, ch in HEMISPHERE_CHANNELS.items()}
        b = BANDS.index(dominant_band)
        predominant = max(REGIONS, key=lambda r: region_powers[r][b] / max(region_powers[r].sum(), 1e-12))

        # Asymmetry over homologous pairs recorded on both sides (interpolated channels borrow
        # from their neighbours and would blur or fake a side difference).
        homologous = zip(HEMISPHERE_CHANNELS["left"], HEMISPHERE_CHANNELS["right"])
        pairs = [(_INDEX[l], _INDEX[r]) for l, r in homologous if usable[_INDEX[l]] and usable[_INDEX[r]]]
        asymmetry = Asymmetry()
        if pairs:
            left = powers[k, [p[0] for p in pairs]].sum()
            right = powers[k, [p[1] for p in pairs]].sum()
            index = float((right - left) / (right + left)) if right + left > 0 else 0.0
            side = "none"
            if abs(index) >= THRESHOLDS["asymmetry_index"]:
                side = "left" if index > 0 else "right"  # the attenuated side
            asymmetry = Asymmetry(side=side, index=round(index, 2))

        # Slowing. Focal: delta+theta power over one region >= 2.5x the homologous region, with
        # delta+theta holding at least half of that region's power and a share 0.1 above the
        # homologous region's (ACNS 2021: focal slowing is
        # delta/theta activity over one region, judged against the other hemisphere). Generalized:
        # delta+theta >= 70 % of the power everywhere with a delta/theta dominant frequency and no
        # PDR (diffuse background slowing).
        slow = powers[k, :, 0] + powers[k, :, 1]  # (19,)
        total = powers[k].sum(axis=-1)  # (19,)
        slowing = Slowing()
        best_ratio, best = 0.0, None
        for region, (left_names, right_names) in _LATERAL_REGIONS.items():
            both = [(_INDEX[l], _INDEX[r]) for l, r in zip(left_names, right_names) if usable[_INDEX[l]] and usable[_INDEX[r]]]
            if not both:
                continue
            left_idx, right_idx = [p[0] for p in both], [p[1] for p in both]
            sl, sr = slow[left_idx].sum(), slow[right_idx].sum()
            fl = sl / max(total[left_idx].sum(), 1e-12)
            fr = sr / max(total[right_idx].sum(), 1e-12)
            for side, high_slow, low_slow, f_high, f_low in (("left", sl, sr, fl, fr), ("right", sr, sl, fr, fl)):
                ratio = high_slow / max(low_slow, 1e-12)
                # The slow share itself must be higher on that side: a side that is merely larger
                # at every frequency is an asymmetry, not slowing.
                if (
                    ratio > best_ratio
                    and f_high >= THRESHOLDS["focal_slowing_min_fraction"]
                    and f_high - f_low >= THRESHOLDS["focal_slowing_fraction_excess"]
                ):
                    best_ratio, best = ratio, (side, region)
        if best is not None and best_ratio >= THRESHOLDS["focal_slowing_ratio"]:
            slowing = Slowing(kind="focal", side=best[0], region=best[1])
        elif (
            slow[rec].sum() / max(total[rec].sum(), 1e-12) >= THRESHOLDS["generalized_slow_fraction"]
            and dominant_band in ("delta", "theta")
            and pdr is None
        ):
            slowing = Slowing(kind="generalized", side="bilateral", region=None)

        flat = bool(raw_flat[k]) if raw_flat is not None else False
        findings = Findings(
            dominant_frequency_hz=dominant,
            dominant_band=dominant_band,
            posterior_dominant_rhythm_hz=pdr,
            band_power_by_region=by_region,
            band_power_by_hemisphere=by_hemisphere,
            predominant_region=predominant,
            asymmetry=asymmetry,
            slowing=slowing,
            artifacts=_artifacts(eeg_uv[k], psd[k], freqs, sampling_rate, usable, line_freq, flat),
            amplitude_uv=float(round(float(np.median(amplitude[k, rec])))),
            labels={},
            change_from_previous=None,
            interpolated_channels=[n for n, m in zip(STANDARD_CHANNELS, masks[k]) if not m],
        )
        findings.change_from_previous = _changes(findings, history_list[-history:])
        history_list.append(findings)
        results.append(findings)
    return results
