"""NeuroNarrator feature extractor: an EEG recording -> harmonized 10 s segments, band powers,
band-power topomaps and quantitative findings.

Pipeline per window of segments (``iter_batches``; ``__call__`` concatenates the windows):

1. read the window's samples (plus filter padding) from disk: ``raw.get_data(start, stop)``;
2. map the EEG channels onto the 19 10-20 channels (aliases copied, missing ones interpolated by
   spherical spline): one ``(19, n_source)`` matrix product, in microvolts;
3. resample to 200 Hz (polyphase), band-pass 0.3-75 Hz zero-phase (Butterworth, 2nd order per
   edge, run forward and backward: -24 dB/octave; the low-pass is capped at 45 % of the source
   rate), measure the spectra for the findings, then notch the mains (50/60 Hz, IIR Q=30, forward
   and backward) when it lies inside the pass band;
4. cut 10 s segments (2000 samples) every ``hop_seconds``; Welch spectra -> band powers -> log
   relative power -> topomaps (one cached matrix, one product for the whole window);
5. ``compute_findings`` per segment, with the previous segments as history.

Windows overlap by ``filter_padding_seconds`` on each side, which is discarded: the streamed
result matches a whole-file computation to ~1e-4 of the signal's scale, while memory stays bounded
by the window (a 24 h recording streams in well under 1.5 GB).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import math
import os
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as futures_wait
from fractions import Fraction
from typing import Iterator, Optional, Sequence, Union

import mne
import numpy as np
from scipy import signal
from transformers import BatchFeature, SequenceFeatureExtractor

from .eeg_io_neuronarrator import (
    AVERAGE_REFERENCE_MIN_CHANNELS,
    REFERENCE_FREE_FORMATS,
    EEG_SCALE,
    MIN_RECORDED_CHANNELS,
    MONTAGE_POLICY,
    MIN_SAMPLING_RATE_HZ,
    SAMPLING_RATE_HZ,
    SEGMENT_SECONDS,
    STANDARD_CHANNELS,
    ChannelMap,
    EEGInputError,
    bids_line_freq,
    check_min_recorded_channels,
    find_bad_channels,
    harmonize_channels,
    raw_positions,
    read_recording,
    resample_poly,
    sosfiltfilt,
)
from .eeg_io_neuronarrator import _row_std
from .findings_neuronarrator import SPINDLE_STATES, apply_state
from .findings_neuronarrator import THRESHOLDS, AmplitudeReference, Findings, amplitude_reference, band_power, compute_findings, segment_psd
from .events_neuronarrator import detect_events as _detect_events
from .events_neuronarrator import events_in_segment
from .topomap_neuronarrator import project_topomaps
from .vigilance_neuronarrator import Staging, response_times, stage_recording

# The recording's amplitude reference for movement artifacts (``_movement_reference``): every
# segment of a recording of up to ``MOVEMENT_REFERENCE_SEGMENTS`` segments, else that many in runs of
# ``_REFERENCE_RUN_SEGMENTS`` consecutive segments spread evenly over it. The runs (12 x 100 s, each
# read with the filter padding: ~28 min of signal) are read while the recording is staged; a
# recording of up to 160 segments is read whole instead, in the analysis's windows, which the
# analysis then takes instead of reading them again (a night read twice would double the reading
# and filtering; a 25 min PSG read as runs took 30 % longer, read whole 3 %: eval/benchmark_frontend.py).
MOVEMENT_REFERENCE_SEGMENTS = 160
_REFERENCE_RUNS = 12
_REFERENCE_RUN_SEGMENTS = 10
# Events whose large waves are no movement (``compute_findings``'s ``rhythmic_event``).
_RHYTHMIC_EVENT_KINDS = ("generalized_spike_wave", "lateralized_rhythmic_delta")

__all__ = ["NeuroNarratorFeatureExtractor", "MAX_SAMPLING_RATE_HZ"]

logger = logging.getLogger(__name__)

# Above this the "sampling rate" is almost surely a header error (or intracranial/MEG-rate data).
MAX_SAMPLING_RATE_HZ = 20000.0
# Bad-channel detection reads up to this many excerpts of this length, spread over the recording.
_BAD_CHANNEL_EXCERPTS = 4
_BAD_CHANNEL_EXCERPT_S = 60.0
# Log of relative power is floored here so that a band with no power maps to a finite pixel.
_LOG_FLOOR = 1e-6

RecordingLike = Union[str, os.PathLike, mne.io.BaseRaw, np.ndarray]


class _Source:
    """Uniform windowed access to a path, Raw or array: harmonized microvolts ``(19, n)``."""

    def __init__(
        self,
        recording: RecordingLike,
        sampling_rate: Optional[float],
        ch_names: Optional[Sequence[str]],
        min_recorded_channels: int = MIN_RECORDED_CHANNELS,
    ):
        self.min_recorded_channels = min_recorded_channels
        self.bad_channels: dict[str, list[str]] = {}  # found by find_bad_channels: name -> criteria
        self.suspect_channels: dict[str, list[str]] = {}  # flagged but kept (see reject_bad_channels)
        self.path: Optional[str] = None
        self.file_line_freq: Optional[float] = None
        self.reference_free = False  # recorded against no reference (BioSemi BDF): see reference
        if isinstance(recording, (str, os.PathLike)):
            self.path = os.fspath(recording)
            recording = read_recording(self.path, preload=False)
        if isinstance(recording, mne.io.BaseRaw):
            self._init_raw(recording, sampling_rate)
        elif isinstance(recording, np.ndarray) or hasattr(recording, "__array__"):
            self._init_array(np.asarray(recording), sampling_rate, ch_names)
        else:
            raise TypeError(
                f"recording must be a path (str or os.PathLike), an mne.io.BaseRaw or a numpy array "
                f"(n_channels, n_samples) in microvolts, got {type(recording).__name__}"
            )
        self._check_rate()

    @property
    def label(self) -> str:
        return os.path.basename(self.path) if self.path else self._default_label

    def _init_raw(self, raw: mne.io.BaseRaw, sampling_rate: Optional[float]) -> None:
        self.raw = raw
        self.array = None
        if self.path is None and raw.filenames and raw.filenames[0]:
            self.path = os.fspath(raw.filenames[0])
        self._default_label = "Raw recording"
        self.sfreq = float(raw.info["sfreq"])
        if sampling_rate is not None and not math.isclose(float(sampling_rate), self.sfreq, rel_tol=1e-6):
            raise EEGInputError(
                f"{self.label}: sampling_rate={sampling_rate} was given but the Raw object says "
                f"{self.sfreq} Hz; leave sampling_rate out for Raw objects and files"
            )
        self.n_times = int(raw.n_times)
        self.reference_free = bool(self.path) and self.path.lower().endswith(REFERENCE_FREE_FORMATS)
        self.file_line_freq = raw.info.get("line_freq") or bids_line_freq(self.path)
        self.ch_names = list(raw.ch_names)
        self.ch_types = raw.get_channel_types()
        self.positions = raw_positions(raw)
        self.bads = list(raw.info["bads"])
        self.map: ChannelMap = harmonize_channels(
            self.ch_names, self.ch_types, positions=self.positions, path=self.path, exclude=self.bads,
            min_recorded_channels=self.min_recorded_channels,
        )  # fmt: skip

    def _init_array(self, array: np.ndarray, sampling_rate: Optional[float], ch_names: Optional[Sequence[str]]) -> None:
        self.raw = None
        self._default_label = "array input"
        if sampling_rate is None:
            raise EEGInputError(
                "array input: sampling_rate is required with a numpy array (it cannot be guessed, and a wrong "
                "rate silently shifts every frequency); pass sampling_rate=... in Hz"
            )
        if array.ndim != 2:
            raise EEGInputError(
                f"array input: expected a 2-D array (n_channels, n_samples) in microvolts, got shape {array.shape}; "
                "pass one recording at a time"
            )
        if ch_names is None:
            raise EEGInputError(
                "array input: ch_names is required with a numpy array (one name per row, e.g. 'Fp1', 'T3', "
                "'EEG O1-REF'); pass ch_names=[...]"
            )
        if len(ch_names) != array.shape[0]:
            hint = " (the array looks transposed: use array.T)" if len(ch_names) == array.shape[1] else ""
            raise EEGInputError(
                f"array input: {len(ch_names)} channel names for an array with {array.shape[0]} rows{hint}; "
                "the array must be (n_channels, n_samples) with one name per row"
            )
        if not np.issubdtype(array.dtype, np.number):
            raise EEGInputError(f"array input: dtype {array.dtype} is not numeric; pass float samples in microvolts")
        self.array = array
        self.sfreq = float(sampling_rate)
        self.n_times = int(array.shape[1])
        self.ch_names = list(ch_names)
        self.ch_types, self.positions, self.bads = None, None, []
        self.map = harmonize_channels(self.ch_names, None, path=None, min_recorded_channels=self.min_recorded_channels)

    def reject_bad_channels(self) -> None:
        """Find bad channels (pyprep ``NoisyChannels`` criteria: flat, deviation, HF noise,
        correlation; ``find_bad_channels``) on excerpts spread over the recording and leave them
        out: their 10-20 sites are then interpolated, unmarked in ``channel_mask`` and not
        assessable, so a broken electrode never becomes a focal finding. Not when half or more
        of the channels would go (then the criteria, which compare channels, mean nothing)."""
        length = min(self.n_times, int(_BAD_CHANNEL_EXCERPT_S * self.sfreq))
        count = max(1, min(_BAD_CHANNEL_EXCERPTS, self.n_times // max(length, 1)))
        offsets = np.linspace(0, self.n_times - length, count).astype(int)
        excerpt = np.concatenate([self.read_source(o, o + length) for o in offsets], axis=-1)
        found = find_bad_channels(excerpt, self.sfreq)
        flagged: dict[str, list[str]] = {}
        for criterion, indices in found.items():
            for j in indices:
                flagged.setdefault(self.map.channels_used[j], []).append(criterion)
        # Left out: flat, an amplitude outlier, or HF noise and correlation together (low SNR);
        # the rest is named as suspect (BAD_CHANNEL_CRITERIA).
        bad = {n: c for n, c in flagged.items() if {"flat", "amplitude_outlier"} & set(c) or {"hf_noise", "correlation"} <= set(c)}
        self.suspect_channels = {n: c for n, c in flagged.items() if n not in bad}
        if not bad or len(bad) >= len(self.map.picks) / 2:
            self.suspect_channels = flagged
            return
        logger.info("%s: leaving out bad channels %s", self.label, bad)
        self.bad_channels = bad
        self.bads = self.bads + sorted(bad)
        self.map = harmonize_channels(
            self.ch_names, self.ch_types, positions=self.positions, path=self.path, exclude=self.bads,
            min_recorded_channels=self.min_recorded_channels,
        )  # fmt: skip

    @property
    def flat_bad(self) -> bool:
        """A channel left out for being flat (the findings still report a flat channel)."""
        return any("flat" in criteria for criteria in self.bad_channels.values())

    def _check_rate(self) -> None:
        if not math.isfinite(self.sfreq) or self.sfreq < MIN_SAMPLING_RATE_HZ or self.sfreq > MAX_SAMPLING_RATE_HZ:
            raise EEGInputError(
                f"{self.label}: sampling rate {self.sfreq} Hz is outside the supported {MIN_SAMPLING_RATE_HZ:.0f}-"
                f"{MAX_SAMPLING_RATE_HZ:.0f} Hz (below 100 Hz the gamma band up to 45 Hz cannot be represented); "
                "check the file header or the sampling_rate argument"
            )

    @property
    def duration_s(self) -> float:
        return self.n_times / self.sfreq

    @property
    def average_reference(self) -> bool:
        """Re-referenced to the common average of the used electrodes (``REFERENCE_FREE_FORMATS``
        with ``AVERAGE_REFERENCE_MIN_CHANNELS`` referential electrodes or more)."""
        return self.reference_free and not self.map.bipolar and len(self.map.picks) >= AVERAGE_REFERENCE_MIN_CHANNELS

    @property
    def reference(self) -> str:
        """The reference the findings are measured on, in words (the report header states it)."""
        if self.average_reference:
            return f"common average of the {len(self.map.picks)} electrodes used (recorded reference-free, BioSemi BDF)"
        if self.reference_free:
            return (f"as recorded, reference-free (BioSemi BDF): fewer than {AVERAGE_REFERENCE_MIN_CHANNELS} referential "
                    "electrodes for an average reference, so amplitude gradients may be the reference's")  # fmt: skip
        return "as recorded"

    def rereference(self, data: np.ndarray) -> np.ndarray:
        """``data`` (picked source channels) on the common average of the picks where
        ``average_reference`` (in place), else as it is."""
        if self.average_reference:
            data -= data.mean(axis=0, keepdims=True)
        return data

    def read_source(self, start: int, stop: int) -> np.ndarray:
        """Picked source channels ``(n_source, stop - start)`` float64 in microvolts, as recorded
        (flat and bad-channel checks read them so; ``rereference`` then gives the findings' reference)."""
        if self.raw is not None:
            try:
                data = self.raw.get_data(picks=self.map.picks, start=start, stop=stop)
                data *= 1e6  # V -> uV (in place: get_data returns a new array)
            except Exception as error:
                raise EEGInputError(
                    f"{self.label}: samples {start}-{stop} could not be read ({type(error).__name__}: {error}); "
                    "the file is probably truncated or corrupt: copy or export it again"
                ) from error
        else:
            data = np.asarray(self.array[self.map.picks, start:stop], dtype=np.float64)
        if not np.isfinite(data).all():
            bad = np.argwhere(~np.isfinite(data))[0]
            raise EEGInputError(
                f"{self.label}: NaN or infinite samples (first in channel {self.map.channels_used[bad[0]]} at "
                f"{(start + bad[1]) / self.sfreq:.2f} s); fill or crop the gap (e.g. raw.crop or interpolation) "
                "before processing"
            )
        return data


class NeuroNarratorFeatureExtractor(SequenceFeatureExtractor):
    r"""Turns an EEG recording into model inputs: harmonized segments, channel mask and topomaps.

    Example::

        >>> from modeling_neuronarrator import NeuroNarratorFeatureExtractor
        >>> fe = NeuroNarratorFeatureExtractor()
        >>> batch = fe("recording.edf", return_tensors="pt")
        >>> batch["eeg_values"].shape   # (n_segments, 19, 2000), uV / 100, 200 Hz
        >>> batch["findings"][0].posterior_dominant_rhythm_hz

    Args:
        feature_size: number of harmonized channels (19; the 10-20 system).
        sampling_rate: output rate in Hz (200).
        padding_value: value used by ``pad`` for missing samples.
        segment_seconds: segment length in s (10 -> 2000 samples).
        hop_seconds: step between segment starts in s (10: no overlap).
        topomap_size: side of the topomap images in pixels.
        l_freq, h_freq: band-pass edges in Hz (zero-phase); ``h_freq`` is capped at 45 % of the
            source rate.
        line_freq: mains frequency (50 or 60 Hz) to notch; None takes it from the file (MNE
            ``info["line_freq"]`` or a BIDS sidecar), else detects it from the spectrum (the larger
            of the 50 and 60 Hz peaks standing 3x above its neighbours), else applies no notch.
        eeg_scale: factor from microvolts to model input (1/100).
        batch_segments: segments per streamed window.
        filter_padding_seconds: extra signal read on each side of a window and discarded, so that
            filter edges fall outside the kept segments.
        min_recorded_channels: fewest usable EEG electrodes a recording must have (default 1:
            the montage policy ``MONTAGE_POLICY`` accepts 2-6 channel and bipolar PSGs); the other
            channels are spline estimates, ``channel_mask`` marks them False, and the findings
            state spatial fields only where the recorded electrodes support them.
        stage_vigilance: stage the recording's vigilance state with YASA and set each segment's
            ``Findings.state`` (``vigilance_neuronarrator``; ``recording_info["vigilance"]`` says
            from which derivation, or why not assessed).
        detect_events: detect events (generalized spike-and-wave, lateralized rhythmic delta, and
            sleep spindles where the stager found N2/N3 in the window) on the continuous
            signal and set each segment's ``Findings.events`` (``events_neuronarrator``).

    Inputs: a path (EDF/EDF+, BDF, FIF, EEGLAB .set, BrainVision .vhdr), an ``mne.io.BaseRaw`` (in
    volts, as MNE keeps it) or a numpy array ``(n_channels, n_samples)`` **in microvolts** with
    ``ch_names`` and ``sampling_rate``.
    """

    model_input_names = ["eeg_values", "channel_mask", "topomaps"]

    def __init__(
        self,
        feature_size: int = 19,
        sampling_rate: int = SAMPLING_RATE_HZ,
        padding_value: float = 0.0,
        segment_seconds: float = SEGMENT_SECONDS,
        hop_seconds: float = 10.0,
        topomap_size: int = 32,
        l_freq: float = 0.3,
        h_freq: float = 75.0,
        line_freq: Optional[float] = None,
        eeg_scale: float = EEG_SCALE,
        batch_segments: int = 64,
        filter_padding_seconds: float = 20.0,
        min_recorded_channels: int = MIN_RECORDED_CHANNELS,
        stage_vigilance: bool = True,
        detect_events: bool = True,
        **kwargs,
    ):
        super().__init__(feature_size=feature_size, sampling_rate=sampling_rate, padding_value=padding_value, **kwargs)
        if feature_size != len(STANDARD_CHANNELS):
            raise ValueError(f"feature_size must be {len(STANDARD_CHANNELS)} (the 10-20 channels), got {feature_size}")
        if not 0 < l_freq < h_freq:
            raise ValueError(f"need 0 < l_freq < h_freq, got l_freq={l_freq}, h_freq={h_freq}")
        if segment_seconds <= 0 or hop_seconds <= 0:
            raise ValueError(f"segment_seconds and hop_seconds must be positive, got {segment_seconds}, {hop_seconds}")
        if line_freq not in (None, 50, 60, 50.0, 60.0):
            raise ValueError(f"line_freq must be 50, 60 or None (auto), got {line_freq!r}")
        if batch_segments < 1:
            raise ValueError(f"batch_segments must be at least 1, got {batch_segments}")
        self.segment_seconds = float(segment_seconds)
        self.hop_seconds = float(hop_seconds)
        self.topomap_size = int(topomap_size)
        self.l_freq = float(l_freq)
        self.h_freq = float(h_freq)
        self.line_freq = line_freq
        self.eeg_scale = float(eeg_scale)
        self.batch_segments = int(batch_segments)
        self.filter_padding_seconds = float(filter_padding_seconds)
        self.min_recorded_channels = check_min_recorded_channels(min_recorded_channels)
        self.stage_vigilance = bool(stage_vigilance)
        self.detect_events = bool(detect_events)

    # -- parameters only in preprocessor_config.json: derived filters are cached by key, never stored
    @property
    def segment_samples(self) -> int:
        return int(round(self.segment_seconds * self.sampling_rate))

    def _bandpass(self, source_rate: float) -> tuple[np.ndarray, float]:
        h_freq = min(self.h_freq, 0.45 * source_rate, 0.45 * self.sampling_rate)
        return _bandpass_sos(float(self.sampling_rate), self.l_freq, round(h_freq, 6)), h_freq

    # -- public API -------------------------------------------------------------------------------
    def __call__(
        self,
        recording: RecordingLike,
        sampling_rate: Optional[float] = None,
        ch_names: Optional[Sequence[str]] = None,
        line_freq: Optional[float] = None,
        start_s: Optional[float] = None,
        end_s: Optional[float] = None,
        return_tensors: Optional[str] = None,
        batch_segments: Optional[int] = None,
        **kwargs,
    ) -> BatchFeature:
        """Process a whole recording (or ``[start_s, end_s)`` of it).

        Returns:
            ``BatchFeature`` with ``eeg_values`` ``(n_segments, 19, 2000)`` float32 in uV/100,
            ``channel_mask`` ``(n_segments, 19)`` bool (True = recorded), ``topomaps``
            ``(n_segments, 5, H, W)`` float32 (log10 relative power; 0 outside the head),
            ``band_powers`` ``(n_segments, 19, 5)`` float32 in uV^2, ``segment_start_s``
            ``(n_segments,)`` float64 in s, ``findings`` (list of ``Findings``) and
            ``recording_info`` (dict). ``findings`` and ``recording_info`` are never converted to
            tensors.
        """
        if kwargs:
            # Like the processor: a misspelt option (``end=`` for ``end_s=``) must not be ignored.
            raise TypeError(
                f"NeuroNarratorFeatureExtractor got unexpected arguments {sorted(kwargs)}; it takes sampling_rate, ch_names, "
                "line_freq, start_s, end_s, return_tensors and batch_segments."
            )
        parts = list(
            self.iter_batches(
                recording, sampling_rate=sampling_rate, ch_names=ch_names, line_freq=line_freq,
                start_s=start_s, end_s=end_s, batch_segments=batch_segments,
            )
        )  # fmt: skip
        data = {key: np.concatenate([p[key] for p in parts]) for key in _ARRAY_KEYS}
        data["findings"] = [f for p in parts for f in p["findings"]]
        data["recording_info"] = parts[-1]["recording_info"]
        return BatchFeature(data, tensor_type=return_tensors, skip_tensor_conversion=_SKIP_KEYS)

    def iter_batches(
        self,
        recording: RecordingLike,
        sampling_rate: Optional[float] = None,
        ch_names: Optional[Sequence[str]] = None,
        line_freq: Optional[float] = None,
        start_s: Optional[float] = None,
        end_s: Optional[float] = None,
        return_tensors: Optional[str] = None,
        batch_segments: Optional[int] = None,
    ) -> Iterator[BatchFeature]:
        """Stream a recording window by window: same outputs as ``__call__``, ``batch_segments``
        segments at a time, memory bounded by the window. Findings carry their history across
        windows. See ``__call__`` for the arguments and outputs.
        """
        if line_freq not in (None, 50, 60, 50.0, 60.0):
            raise EEGInputError(f"line_freq must be 50, 60 or None (auto-detect), got {line_freq!r}")
        source = _Source(recording, sampling_rate, ch_names, self.min_recorded_channels)
        starts = self._segment_starts(source, start_s, end_s)
        probe = self._probe(source)
        with _one_blas_thread():
            source.reject_bad_channels()
        line, line_source = self._resolve_line_freq(source, line_freq, probe)
        sos, h_freq = self._bandpass(source.sfreq)
        apply_notch = line is not None and line < h_freq
        info = {
            "path": source.path,
            "duration_s": source.duration_s,
            "sampling_rate": source.sfreq,
            "channels_used": list(source.map.channels_used),
            "channels_interpolated": list(source.map.channels_interpolated),
            "channels_excluded": list(source.bads),
            "channels_bad": {name: list(criteria) for name, criteria in source.bad_channels.items()},
            "channels_suspect": {name: list(criteria) for name, criteria in source.suspect_channels.items()},
            "channels_recorded": [n for n, r in zip(STANDARD_CHANNELS, source.map.recorded) if r],
            "channels_spatial": [n for n, r in zip(STANDARD_CHANNELS, _spatial(source.map)) if r],
            "bipolar_derivations": list(source.map.bipolar),
            "montage_policy": MONTAGE_POLICY,
            "position_source": source.map.position_source,
            "reference": source.reference,
            "line_freq": line,
            "line_freq_source": line_source,
            "notch_applied": bool(apply_notch),
            "band_pass_hz": (self.l_freq, round(h_freq, 2)),
            "n_segments": len(starts),
        }
        per_batch = int(batch_segments or self.batch_segments)
        windows = [starts[first : first + per_batch] for first in range(0, len(starts), per_batch)]
        # Reading, resampling and filtering the next window (BLAS, numba, file I/O: the GIL is
        # released) run in a thread while this window is measured: on two cores the 1 h benchmark
        # file went from ~240 to ~330-360 segments/s, outputs bit for bit the same. The thread
        # finishes inside the one-thread BLAS limit, never across a yield.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="neuronarrator-window") as prefetch:
            # Windows the movement reference already read and filtered (a short recording analysed
            # whole: the reference reads every one of its windows), taken instead of read again.
            kept: dict[tuple[float, int], tuple[np.ndarray, float, np.ndarray]] = {}

            def read_window(window_starts: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
                window = kept.pop((float(window_starts[0]), len(window_starts)), None)
                return window if window is not None else self._filtered_window(source, window_starts, sos)

            with _one_blas_thread():
                # The movement reference and the first window are read while the recording is staged.
                reference_job = prefetch.submit(self._movement_reference, source, sos, line, apply_notch, starts, per_batch, kept)
                pending = prefetch.submit(read_window, windows[0])
                staging = self._stage(source, starts)
                reference = reference_job.result()
            info["vigilance"] = staging.summary(starts, self.segment_seconds)
            info["movement_reference_segments"] = reference.n_segments if reference is not None else 0
            logger.info("%s: %d segments, channels %s", source.label, len(starts), info["channels_used"])
            previous: list[Findings] = []
            for index, window_starts in enumerate(windows):
                with _one_blas_thread():  # not across the yield: the caller's own BLAS work keeps its threads
                    filtered = pending.result()
                    if index + 1 < len(windows):
                        pending = prefetch.submit(read_window, windows[index + 1])
                    states = staging.states_of(window_starts, self.segment_seconds)
                    # Spindles are reported in N2/N3 only (apply_state): a window the stager holds
                    # no N2/N3 in (awake, or not staged) skips YASA's detector.
                    spindles = any(state in SPINDLE_STATES for state in states)
                    arrays, findings = self._process_window(
                        source, window_starts, filtered, line, apply_notch, previous, spindles, reference
                    )  # fmt: skip
                    apply_state(findings, states, previous=previous)
                    futures_wait([pending])
                previous = (previous + findings)[-3:]
                batch = dict(arrays)
                batch["findings"] = findings
                batch["recording_info"] = info
                yield BatchFeature(batch, tensor_type=return_tensors, skip_tensor_conversion=_SKIP_KEYS)

    # -- helpers ----------------------------------------------------------------------------------
    def _stage(self, source: _Source, starts: np.ndarray) -> Staging:
        """Sleep staging of the whole recording (``vigilance_neuronarrator``), whatever span is
        analysed: YASA normalizes its features over the recording it is given, so staging a
        window would give a segment another state than staging the night (~1 s per hour). A
        failure of the stager leaves the state "not_assessed" with the reason instead of stopping
        the front-end."""
        if not self.stage_vigilance:
            return Staging(reason="vigilance staging switched off (stage_vigilance=False)")
        # 10-20 sites copied from one source electrode (recorded, or a dense cap's nearest one).
        harmonized = {
            name: tuple((source.map.channels_used[j], float(source.map.matrix[i, j])) for j in np.flatnonzero(source.map.matrix[i]))
            for i, name in enumerate(STANDARD_CHANNELS)
            if source.map.recorded[i] and np.count_nonzero(source.map.matrix[i]) == 1
        }
        recording = source.raw if source.raw is not None else source.array
        # The subject's responses marked in the file (button presses): awake where they fall.
        responses = response_times(source.raw) if source.raw is not None else []
        try:
            staging = stage_recording(
                recording, sampling_rate=source.sfreq, ch_names=source.ch_names, ch_types=source.ch_types,
                harmonized=harmonized,
            )  # fmt: skip
        except Exception as error:  # the stager's own failures (e.g. a flat derivation)
            logger.warning("%s: sleep staging failed (%s: %s); state not assessed", source.label, type(error).__name__, error)
            staging = Staging(reason=f"sleep staging failed ({type(error).__name__}: {error})")
        return dataclasses.replace(staging, response_s=responses)

    def _movement_reference(
        self, source: _Source, sos: np.ndarray, line: Optional[float], apply_notch: bool,
        starts: Optional[np.ndarray] = None, window_segments: Optional[int] = None, keep: Optional[dict] = None,
    ) -> Optional[AmplitudeReference]:  # fmt: skip
        """The whole recording's ``AmplitudeReference`` (whatever span is analysed, as for staging:
        a segment is a movement against its recording): its segments filtered as ``_process_window``
        filters them, all of them up to ``MOVEMENT_REFERENCE_SEGMENTS``, else ``_REFERENCE_RUNS`` even runs.
        None for a recording of one segment (no spread to compare with). When the segments analysed
        (``starts``, in windows of ``window_segments``) are all of them, the windows read are left in
        ``keep`` ((first start, segments) -> ``_filtered_window``'s output) for the analysis to take
        instead of reading them again."""
        grid = self._segment_starts(source, None, None)
        if len(grid) < 2:
            return None
        if len(grid) > MOVEMENT_REFERENCE_SEGMENTS or starts is None or not np.array_equal(grid, starts):
            keep = None
        if len(grid) <= MOVEMENT_REFERENCE_SEGMENTS:
            per_window = int(window_segments or self.batch_segments)
            runs = [grid[first : first + per_window] for first in range(0, len(grid), per_window)]
        else:
            firsts = np.linspace(0, len(grid) - _REFERENCE_RUN_SEGMENTS, _REFERENCE_RUNS).round().astype(int)
            runs = [grid[first : first + _REFERENCE_RUN_SEGMENTS] for first in firsts]
        segments = []
        for run_starts in runs:
            window = self._filtered_window(source, run_starts, sos)
            if keep is not None:
                keep[(float(run_starts[0]), len(run_starts))] = window
            x, t0, _ = window
            segments.append(self._cut_segments(x, t0, run_starts, line, apply_notch)[1].astype(np.float32))
        return amplitude_reference(np.concatenate(segments), source.map.recorded)

    def _cut_segments(
        self, x: np.ndarray, t0: float, starts: np.ndarray, line: Optional[float], apply_notch: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """The segments ``starts`` (s) of a filtered window ``x`` (``_filtered_window``: first sample
        at ``t0`` s): ``(before the mains notch, after it)``, ``(n_seg, 19, T)`` each (the same array
        without a notch)."""
        fs_out, n_seg_out = float(self.sampling_rate), self.segment_samples
        offsets = np.round((starts - t0) * fs_out).astype(int)
        if offsets[-1] + n_seg_out > x.shape[-1]:  # rounding at the very end of the recording
            x = np.pad(x, ((0, 0), (0, offsets[-1] + n_seg_out - x.shape[-1])), mode="edge")
        before_notch = _cut(x, offsets, n_seg_out)
        if not apply_notch:
            return before_notch, before_notch
        b, a = _notch(fs_out, float(line))
        return before_notch, _cut(signal.filtfilt(b, a, x, axis=-1), offsets, n_seg_out)

    def _segment_starts(self, source: _Source, start_s: Optional[float], end_s: Optional[float]) -> np.ndarray:
        duration = source.duration_s
        start = 0.0 if start_s is None else float(start_s)
        end = duration if end_s is None else min(float(end_s), duration)
        if start < 0 or start >= duration:
            raise EEGInputError(
                f"{source.label}: start_s={start_s} is outside the recording (0-{duration:.1f} s); choose a start inside it"
            )
        if end - start < self.segment_seconds:
            raise EEGInputError(
                f"{source.label}: {end - start:.2f} s of signal is shorter than one {self.segment_seconds:g} s segment; "
                f"pass a longer recording (or a wider --start/--end span)"
            )
        n_segments = int(math.floor((end - start - self.segment_seconds) / self.hop_seconds + 1e-9)) + 1
        return start + self.hop_seconds * np.arange(n_segments)

    def _resolve_line_freq(
        self, source: _Source, line_freq: Optional[float], probe: np.ndarray
    ) -> tuple[Optional[float], str]:
        """Mains frequency: argument, else the extractor's setting, else the file, else detected."""
        if line_freq is not None:
            return float(line_freq), "argument"
        if self.line_freq is not None:
            return float(self.line_freq), "feature extractor"
        if source.file_line_freq in (50.0, 60.0):
            return float(source.file_line_freq), "file"
        detected = _detect_line_freq(probe, source.sfreq)
        return (detected, "detected") if detected else (None, "none detected")

    def _probe(self, source: _Source) -> np.ndarray:
        """Up to three 20 s excerpts (start, middle, end) of the source: mains detection and the
        all-flat check before any real work."""
        length = min(source.n_times, int(20 * source.sfreq))
        offsets = sorted({0, (source.n_times - length) // 2, source.n_times - length})
        excerpts = [source.read_source(o, o + length) for o in offsets]
        stds = np.stack([e.std(axis=-1) for e in excerpts])  # (n_excerpts, n_source)
        if (stds < THRESHOLDS["flat_std_uv"]).all():
            raise EEGInputError(
                f"{source.label}: all EEG channels are flat (standard deviation below {THRESHOLDS['flat_std_uv']} uV); "
                "the recording holds no signal. If you passed a numpy array in volts, multiply it by 1e6: arrays "
                "must be in microvolts"
            )
        return np.concatenate(excerpts, axis=-1)

    def _process_window(
        self,
        source: _Source,
        starts: np.ndarray,
        filtered: tuple[np.ndarray, float, np.ndarray],
        line: Optional[float],
        apply_notch: bool,
        previous: list[Findings],
        spindles: bool = True,
        reference: Optional[AmplitudeReference] = None,
    ) -> tuple[dict[str, np.ndarray], list[Findings]]:
        """One window of segments starting at ``starts`` (s), read, harmonized and filtered
        (``filtered``: what ``_filtered_window`` returned for it): detect events on it, cut the
        segments and measure them."""
        fs_out = float(self.sampling_rate)
        x, t0, raw_flat = filtered  # (19, n) uV at fs_out; t0 s of sample 0; (n_seg,) flat in the source
        # Events on the continuous window (padding included: one crossing a segment edge is whole).
        events = _detect_events(x, fs_out, source.map.recorded, t0, spindles=spindles) if self.detect_events else []
        before_notch, segments = self._cut_segments(x, t0, starts, line, apply_notch)  # (n_seg, 19, T) each
        psd, freqs = segment_psd(before_notch.astype(np.float32), fs_out)  # float32: half the FFT work
        powers = band_power(psd, freqs)  # (n_seg, 19, 5) uV^2
        mask = np.broadcast_to(source.map.recorded, (len(starts), len(STANDARD_CHANNELS))).copy()
        in_segment = [events_in_segment(events, float(start), float(start) + self.segment_seconds) for start in starts]
        findings = compute_findings(
            segments, fs_out, channel_mask=mask, psd=psd, freqs=freqs, line_freq=line,
            raw_flat=raw_flat, previous=previous, spatial_mask=_spatial(source.map), bad_channels=sorted(source.bad_channels),
            source_highpass_hz=source.raw.info["highpass"] if source.raw is not None else None,
            amplitude_reference=reference,
            rhythmic_event=np.array([any(e.kind in _RHYTHMIC_EVENT_KINDS for e in found) for found in in_segment], dtype=bool),
        )  # fmt: skip
        for item, found in zip(findings, in_segment):
            item.events = found
        eeg = np.empty(segments.shape, dtype=np.float32)
        np.multiply(segments, self.eeg_scale, out=eeg, casting="unsafe")  # float64 product rounded once: astype's numbers
        arrays = {
            "eeg_values": eeg,
            "channel_mask": mask,
            "topomaps": self._topomaps(powers).astype(np.float32, copy=False),  # (n_seg, 5, H, W)
            "band_powers": powers.astype(np.float32),
            "segment_start_s": np.asarray(starts, dtype=np.float64),
        }
        return arrays, findings

    def _filtered_window(self, source: _Source, starts: np.ndarray, sos: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
        """The window of segments ``starts`` plus ``filter_padding_seconds`` on each side (clipped
        to the recording), read, mapped onto the 19 channels, resampled to ``sampling_rate`` and
        band-passed: ``(x (19, n) uV, t0 s of x's first sample, raw_flat (n_seg,) bool)``;
        ``raw_flat`` marks segments with a flat channel in the unfiltered source data."""
        pad = self.filter_padding_seconds
        first_sample = max(0, int(math.floor((starts[0] - pad) * source.sfreq)))
        last_sample = min(source.n_times, int(math.ceil((starts[-1] + self.segment_seconds + pad) * source.sfreq)) + 1)
        data = source.read_source(first_sample, last_sample)  # (n_source, n) uV
        raw_flat = source.flat_bad | (self._source_stds(source, data, starts, first_sample) < THRESHOLDS["flat_std_uv"]).any(axis=-1)
        x = _apply_map(source.map.matrix, source.rereference(data))  # (19, n) uV
        x -= x.mean(axis=-1, keepdims=True)  # offsets would ring through the resampler's edges
        up, down = _rational(float(self.sampling_rate) / source.sfreq)
        if up != down:
            x = resample_poly(x, up, down, padtype="line")
        return sosfiltfilt(sos, x), first_sample / source.sfreq, raw_flat

    def _source_stds(self, source: _Source, data: np.ndarray, starts: np.ndarray, first_sample: int) -> np.ndarray:
        """``(n_seg, n_source)`` standard deviation of each segment's source samples (``data``
        read from ``first_sample`` on)."""
        seg_src = int(round(self.segment_seconds * source.sfreq))
        firsts = np.round(starts * source.sfreq).astype(int) - first_sample  # (n_seg,)
        if len(starts) > 1 and np.all(np.diff(firsts) == seg_src) and firsts[-1] + seg_src <= data.shape[-1]:
            # Back-to-back segments: one reshape, one vectorized std.
            blocks = data[:, firsts[0] : firsts[0] + len(starts) * seg_src].reshape(len(data), len(starts), seg_src)
            return _row_std(blocks).T
        return np.stack([data[:, a : a + seg_src].std(axis=-1) for a in firsts])

    def _topomaps(self, powers: np.ndarray) -> np.ndarray:
        """``(n, 19, 5)`` band powers -> ``(n, 5, H, W)`` log10 relative power images."""
        relative = powers / np.maximum(powers.sum(axis=-1, keepdims=True), 1e-12)
        return project_topomaps(np.log10(relative + _LOG_FLOOR), STANDARD_CHANNELS, self.topomap_size)

    def topomaps_from_segments(self, eeg: np.ndarray) -> np.ndarray:
        """Topomaps of already harmonized segments (e.g. stored corpus rows).

        Args:
            eeg: ``(n_segments, 19, n_times)`` model input (uV/100 at ``sampling_rate``).

        Returns:
            ``(n_segments, 5, H, W)`` float32, as ``__call__`` gives them (up to the mains notch,
            which ``__call__`` measures before and these segments already went through).
        """
        eeg = np.asarray(eeg, dtype=np.float32)
        if eeg.ndim != 3 or eeg.shape[1] != len(STANDARD_CHANNELS):
            raise ValueError(
                f"topomaps_from_segments: expected eeg of shape (n_segments, 19, n_times), got {eeg.shape}; "
                "pass the 'eeg_values' output of this feature extractor"
            )
        psd, freqs = segment_psd(eeg / self.eeg_scale, float(self.sampling_rate))
        return self._topomaps(band_power(psd, freqs)).astype(np.float32)

    def to_dict(self) -> dict:
        output = super().to_dict()
        # Only parameters go to preprocessor_config.json; filters and interpolation matrices are
        # derived and rebuilt from them (cached functions), never serialized.
        for key in [k for k in output if k.startswith("_")]:
            del output[key]
        return output


def _cut(x: np.ndarray, offsets: np.ndarray, length: int) -> np.ndarray:
    """Segments ``(n_seg, n_channels, length)`` of ``x`` ``(n_channels, n)`` starting at ``offsets``
    (a reshape when they are back to back, the usual hop = segment length; else a gather)."""
    n = len(offsets)
    if n > 1 and np.all(np.diff(offsets) == length):
        block = x[:, offsets[0] : offsets[0] + n * length].reshape(x.shape[0], n, length)
        return np.ascontiguousarray(block.transpose(1, 0, 2))
    index = offsets[:, None] + np.arange(length)[None, :]  # (n_seg, T)
    return np.ascontiguousarray(np.moveaxis(x[:, index], 0, 1))


def _apply_map(matrix: np.ndarray, data: np.ndarray) -> np.ndarray:
    """``matrix @ data``: ``(19, n_source) @ (n_source, n)``. When every 10-20 site is a copy of
    one source channel (weight 1, the usual 10-20 recording) the rows are copied instead (or
    ``data`` itself is returned when it is in 10-20 order already): the same numbers (``1 * x``
    plus zeros is ``x``) without the matrix product."""
    nonzero = matrix != 0
    if np.all(nonzero.sum(axis=1) == 1) and np.all(matrix[nonzero] == 1.0):
        order = np.argmax(nonzero, axis=1)
        if len(data) == len(order) and np.array_equal(order, np.arange(len(order))):
            return data  # already in 10-20 order (the caller owns ``data``: a fresh read)
        return data[order]  # fancy indexing: a new array
    return matrix @ data


def _spatial(channel_map: ChannelMap) -> np.ndarray:
    """``(19,)`` bool: recorded sites whose signal supports spatial claims (not bipolar)."""
    return channel_map.recorded if channel_map.spatial is None else channel_map.spatial


_ARRAY_KEYS = ("eeg_values", "channel_mask", "topomaps", "band_powers", "segment_start_s")
_SKIP_KEYS = ["findings", "recording_info"]


@functools.lru_cache(maxsize=1)
def _blas_controller():
    """threadpoolctl's controller of the loaded BLAS libraries, or None without threadpoolctl."""
    try:  # optional (installed with scikit-learn, which YASA needs); without it BLAS keeps its threads
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return None
    try:
        return ThreadpoolController()
    except Exception as error:  # an unusual BLAS build it cannot inspect
        logger.info("threadpoolctl cannot inspect the BLAS libraries (%s); BLAS keeps its threads", error)
        return None


def _one_blas_thread():
    """Context: BLAS on one thread. The front-end's matrix products are small (19 x 19 channel
    maps, 32 x 25 polyphase blocks, topomap projections): OpenBLAS's threads cost more to wake
    and synchronize than they save, and on a machine whose cores are busy their spin-waiting
    made the products 5-15x slower (measured: 0.15 s vs 0.009 s for one window's resampling).
    The outputs match the multi-threaded reference (findings identical, arrays to float32
    rounding: ``eval/frontend_equivalence.py``)."""
    controller = _blas_controller()
    return contextlib.nullcontext() if controller is None else controller.limit(limits=1, user_api="blas")


def _rational(ratio: float) -> tuple[int, int]:
    fraction = Fraction(ratio).limit_denominator(1000)
    return fraction.numerator, fraction.denominator


@functools.lru_cache(maxsize=16)
def _bandpass_sos(fs: float, l_freq: float, h_freq: float) -> np.ndarray:
    # 2nd order per edge, doubled by the forward-backward pass: -24 dB/octave, zero phase.
    return signal.butter(2, [l_freq, h_freq], btype="bandpass", output="sos", fs=fs)


def _notch(fs: float, freq: float) -> tuple[np.ndarray, np.ndarray]:
    # Q = 30: -3 dB width of 2 Hz at 60 Hz, leaving the 45 Hz gamma edge untouched.
    return signal.iirnotch(freq, 30.0, fs=fs)


def _detect_line_freq(excerpt: np.ndarray, sfreq: float) -> Optional[float]:
    """50 or 60 Hz from the spectrum of ``excerpt`` ``(n_channels, n)`` uV, None without a clear peak."""
    nperseg = min(excerpt.shape[-1], int(2 * sfreq))
    freqs, psd = signal.welch(excerpt, fs=sfreq, nperseg=nperseg, axis=-1)
    spectrum = np.median(psd, axis=0)
    best, best_ratio = None, 3.0
    for f in (50.0, 60.0):
        if f + 6 >= sfreq / 2:
            continue
        peak = spectrum[np.abs(freqs - f) <= 1.0].max()
        near = spectrum[(np.abs(freqs - f) >= 2.0) & (np.abs(freqs - f) <= 6.0)]
        ratio = peak / max(float(np.median(near)), 1e-20)
        if ratio > best_ratio:
            best, best_ratio = f, ratio
    return best

NeuroNarratorFeatureExtractor.register_for_auto_class("AutoFeatureExtractor")
