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
import math
from dataclasses import dataclass, field
from typing import Any, Literal, Optional, Sequence

import numpy as np
from scipy import fft as _fft
from scipy import ndimage as _ndimage
from scipy import signal as _signal

from .eeg_io_neuronarrator import STANDARD_CHANNELS, _quantiles, _row_std
from .validation_neuronarrator import check_option

__all__ = [
    "CHANGE_WINDOW_SEGMENTS",
    "DEFAULT_HISTORY_LENGTH",
    "BANDS",
    "BAND_EDGES_HZ",
    "REGIONS",
    "HEMISPHERES",
    "ARTIFACT_TYPES",
    "CHANGE_TYPES",
    "SLOWING_KINDS",
    "NOT_ASSESSABLE",
    "Asymmetry",
    "Slowing",
    "Findings",
    "dominant_band_of",
    "STATES",
    "NO_PDR_STATES",
    "SLOW_WAVE_STATES",
    "SLEEP_STATES",
    "SPINDLE_STATES",
    "SIGMA_RANGE_HZ",
    "is_sigma_peak",
    "AmplitudeReference",
    "amplitude_reference",
    "movement_artifacts",
    "SLEEP_EVENT_KINDS",
    "EVENT_KINDS",
    "AMPLITUDE_CATEGORIES",
    "amplitude_category",
    "Event",
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
# "movement": a segment of gross artifact, the amplitude outlier of its recording (FASTER's bad epoch,
# ``movement_artifacts``), which the patient's movements cause in a clinical record.
ARTIFACT_TYPES = ("eye_blink", "eye_movement", "muscle", "electrode_pop", "line_noise", "flat_channel", "movement")
# "widespread": the generalized rule's slow background, on a montage that does not cover both
# hemispheres (``spatial_coverage``: fewer than ``hemisphere_min_electrodes`` on a side, e.g. Fz Cz
# Pz): slow at every recorded electrode, but "generalized" would claim the unrecorded sides too.
# "obscured": a movement artifact covers the segment (``movement_artifacts``); its slow swings are not
# the brain's, and whatever slowing lies under them cannot be read (ACNS 2021: describe the
# background only where artifact does not obscure it).
SLOWING_KINDS = ("none", "focal", "generalized", "widespread", "obscured")
# Vigilance state of a segment (``vigilance_neuronarrator``: YASA's AASM stages mapped onto the
# states a clinical EEG report names; a source's expert stage overrides it in the corpus).
STATES = ("awake", "drowsy", "N1", "N2", "N3", "REM", "not_assessed")
# States in which diffuse slowing is physiological (drowsiness and sleep), not a finding.
SLEEP_STATES = ("drowsy", "N1", "N2", "N3", "REM")
# States without a posterior dominant rhythm. The PDR is the rhythm of the waking record (ACNS
# guideline 7, 2016, describes it for wakefulness; its slowing in drowsiness is reported as such);
# N1 is scored when the alpha rhythm has given way to low-amplitude mixed-frequency activity (AASM
# scoring manual v2.6), and in N2, N3 and REM a posterior 8-13 Hz peak is spindles' lower edge or
# REM alpha, not a PDR. A peak there stays the segment's dominant rhythm; it is not called a PDR.
NO_PDR_STATES = ("N1", "N2", "N3", "REM")
# N3 is slow-wave sleep (AASM: scored when >= 20 % of the epoch is 0.5-2 Hz waves over 75 uV): its
# background is its slow waves, whatever spectral peak (a spindle, residual alpha) stands above the
# 1/f fit; apply_state describes it by the band of most power, without a dominant rhythm.
SLOW_WAVE_STATES = ("N3",)
# Events detected inside segments (``events_neuronarrator``).
EVENT_KINDS = ("generalized_spike_wave", "lateralized_rhythmic_delta", "sleep_spindle")
# States whose segments report sleep spindles: a spindle is the defining event of N2 and persists in
# N3 (AASM Manual v2.6); a 12-15 Hz burst in wakefulness or REM is alpha or mu, not a spindle, and
# an unstaged segment cannot say which (``apply_state`` keeps the detections for a later state).
SPINDLE_STATES = ("N2", "N3")
# Frequency range of sleep spindles, the sigma band (AASM Manual v2.6: "a train of distinct sinusoidal
# waves with frequency 11-16 Hz, most commonly 12-14 Hz"). In ``SPINDLE_STATES`` a dominant peak in it
# is spindle activity (``is_sigma_peak``): called "alpha" it would read as alpha intrusion into sleep,
# called "beta" as a drug effect.
SIGMA_RANGE_HZ = (11.0, 16.0)
# Physiological events of sleep: reported beside the pathological kinds (spike-and-wave, LRDA),
# never in their place ("no spike-and-wave discharges" stays true), and never false alarms.
SLEEP_EVENT_KINDS = ("sleep_spindle",)
# Upper bounds (exclusive, in uV of median 5-95 % peak-to-peak amplitude) of the amplitude words.
# Adult scalp EEG is mostly 20-75 uV by this measure; below 20 is what readers call low voltage.
AMPLITUDE_CATEGORIES: tuple[tuple[str, float], ...] = (("low", 20.0), ("medium", 75.0), ("high", float("inf")))
# The typed value of a spatial finding the recorded electrodes cannot support (predominant region,
# asymmetry side, a region's or hemisphere's band powers): written and parsed as such, never
# read off interpolated channels. See ``spatial_coverage``.
NOT_ASSESSABLE = "not_assessable"
# K: the preceding segments of the same recording read with each segment, by the model's history
# reasoner and by the corpus rows (the paper's K = 3; any K works at inference).
DEFAULT_HISTORY_LENGTH = 3
# change_from_previous compares a segment with the mean of its (up to) 3 preceding segments: 30 s,
# long enough to average out one artifact-laden segment, short enough to place a change in time.
# A measurement property, independent of the model's K (the narrative's wording follows it).
CHANGE_WINDOW_SEGMENTS = 3
# What can change between a segment and the ones before it (first segment of a recording: None).
CHANGE_TYPES = (
    "stable",
    "faster",  # dominant frequency rose by at least one band step or 1 Hz (not in N1-N3, REM: _changes)
    "slower",
    "higher_amplitude",  # amplitude rose by at least 50 %
    "lower_amplitude",
    "slowing_appeared",
    "slowing_resolved",
    "artifacts_appeared",
    "artifacts_resolved",
)

Side = Literal["left", "right", "none", "not_assessable"]


def is_sigma_peak(state: Optional[str], frequency_hz: Optional[float]) -> bool:
    """True where a segment's dominant peak is sleep spindle activity: a state of ``SPINDLE_STATES``
    (N2, N3) and a frequency inside ``SIGMA_RANGE_HZ`` (11-16 Hz, both edges included)."""
    low, high = SIGMA_RANGE_HZ
    return state in SPINDLE_STATES and frequency_hz is not None and low <= float(frequency_hz) <= high


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
    clinician would call abnormal: attenuation is the usual asymmetry finding), else ``"none"``;
    ``NOT_ASSESSABLE`` (index None) when too few homologous pairs were recorded.
    """

    side: Side = "none"
    index: Optional[float] = 0.0


@dataclass
class Slowing:
    """Slowing of the background: none, focal (one side and region), generalized, widespread
    (generalized by the rule, on a montage that does not cover both hemispheres), or obscured (not
    assessable under a movement artifact)."""

    kind: Literal["none", "focal", "generalized", "widespread", "obscured"] = "none"
    side: Optional[Literal["left", "right", "bilateral"]] = None
    region: Optional[str] = None  # one of REGIONS for focal slowing
    # False when the recorded electrodes cannot show focal slowing everywhere it could be (no
    # homologous pair in some lateral region): "no focal slowing" is then not a finding.
    focal_assessable: bool = True


@dataclass
class Event:
    """An event inside a segment (or, from the detector, inside a recording).

    ``onset_s``/``offset_s``: from the segment start in a ``Findings`` record (clipped to the
    segment), from the recording start in the detector's output; 0.1 s precision.
    ``channels``: the recorded 10-20 channels it involves. ``frequency_hz``: repetition rate of a
    rhythmic discharge (0.1 Hz), else None.
    """

    kind: str  # one of EVENT_KINDS
    onset_s: float
    offset_s: float
    channels: list[str] = field(default_factory=list)
    frequency_hz: Optional[float] = None


@dataclass
class Findings:
    """Quantitative findings of one segment.

    Attributes:
        dominant_frequency_hz: the dominant rhythm: highest peak above the aperiodic (1/f)
            component, 1-30 Hz, of the posterior recorded channels' mean spectrum (all recorded
            channels when none is posterior); None = no dominant rhythm (``dominant_rhythm``).
        dominant_band: band of ``dominant_frequency_hz``; without a rhythm, the band holding
            most of the 1-30 Hz power (one of ``BANDS``).
        posterior_dominant_rhythm_hz: alpha-range (7.5-13.5 Hz) peak over O1/O2/P3/P4/Pz, or None
            when no posterior peak stands out of the background.
        band_power_by_region: ``{region: {band: relative power}}`` from the region's recorded
            electrodes, relative powers sum to 1 per region; ``NOT_ASSESSABLE`` for a region
            without one (``spatial_coverage``).
        band_power_by_hemisphere: ``{"left"|"right": {band: relative power}}`` (or ``NOT_ASSESSABLE``).
        predominant_region: region where the dominant band's relative power is highest, or
            ``NOT_ASSESSABLE`` unless all five regions have recorded electrodes.
        asymmetry: see ``Asymmetry``.
        slowing: see ``Slowing``.
        artifacts: sorted subset of ``ARTIFACT_TYPES``.
        amplitude_uv: median over channels of the peak-to-peak amplitude (5th-95th percentile).
        labels: harmonized source labels (``dataset_builder.labels``); empty from the front-end.
        change_from_previous: sorted subset of ``CHANGE_TYPES``; None for a recording's first segment.
        change_window_segments: how many preceding segments (up to ``CHANGE_WINDOW_SEGMENTS``)
            ``change_from_previous`` was measured against; None with it (and in records written
            before it existed).
        interpolated_channels: 10-20 channels that were interpolated, not recorded.
        bad_channels: source channels found bad (``NoisyChannels`` criteria) and left out; their
            10-20 sites are interpolated and listed in ``interpolated_channels``.
        state: vigilance state, one of ``STATES`` (``vigilance_neuronarrator``); in a state of
            ``SLEEP_STATES`` diffuse slowing is physiological and not reported (``apply_state``).
        events: ``Event`` records inside the segment, times from the segment start.
    """

    dominant_frequency_hz: Optional[float]
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
    change_window_segments: Optional[int] = None
    interpolated_channels: list[str] = field(default_factory=list)
    bad_channels: list[str] = field(default_factory=list)
    # Vigilance state (one of STATES) and events inside the segment; records written before they
    # existed load as "not_assessed" and no events.
    state: str = "not_assessed"
    events: list[Event] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Findings":
        if not isinstance(data, dict) and hasattr(data, "to_dict"):
            # A Findings of another copy of this module: the Hub's remote code loads each code
            # file under transformers_modules, so the extractor's class may not be this one.
            data = data.to_dict()
        data = dict(data)
        data["asymmetry"] = Asymmetry(**data.get("asymmetry") or {})
        data["slowing"] = Slowing(**data.get("slowing") or {})
        data["events"] = [e if isinstance(e, Event) else Event(**e) for e in data.get("events") or []]
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
            # Left or right; "not_assessable" (too few or bipolar electrodes) is no asymmetry found.
            hit = (data.get("asymmetry") or {}).get("side", "none") in ("left", "right")
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
    "HOMOLOGOUS_CHANNELS",
    "THRESHOLDS",
    "segment_psd",
    "band_power",
    "aperiodic_fit",
    "dominant_rhythm",
    "spatial_coverage",
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
# Each lateral electrode's 10-20 neighbours on its side (the field of a focal finding).
_LATERAL_NEIGHBOURS = {
    "Fp1": ("F3", "F7"), "F3": ("Fp1", "F7", "C3"), "F7": ("Fp1", "F3", "T7"), "C3": ("F3", "T7", "P3"),
    "T7": ("F7", "C3", "P7"), "P3": ("C3", "P7", "O1"), "P7": ("T7", "P3", "O1"), "O1": ("P3", "P7"),
    "Fp2": ("F4", "F8"), "F4": ("Fp2", "F8", "C4"), "F8": ("Fp2", "F4", "T8"), "C4": ("F4", "T8", "P4"),
    "T8": ("F8", "C4", "P8"), "P4": ("C4", "P8", "O2"), "P8": ("T8", "P4", "O2"), "O2": ("P4", "P8"),
}  # fmt: skip
# Each lateral channel's homologue on the other side (the midline channels have none).
HOMOLOGOUS_CHANNELS = dict(zip(HEMISPHERE_CHANNELS["left"] + HEMISPHERE_CHANNELS["right"], HEMISPHERE_CHANNELS["right"] + HEMISPHERE_CHANNELS["left"]))
# The 19 harmonized channels seen left-right mirrored: index i of a mirrored channel array holds
# the channel at MIRROR_PERMUTATION[i] (x_mirrored = x[..., MIRROR_PERMUTATION, :]).
MIRROR_PERMUTATION = tuple(STANDARD_CHANNELS.index(HOMOLOGOUS_CHANNELS.get(c, c)) for c in STANDARD_CHANNELS)


def _field_channels(region: str, side: int) -> tuple[str, ...]:
    """The electrodes of ``region`` on ``side`` (0 left, 1 right) and their same-side neighbours."""
    own = _LATERAL_REGIONS[region][side]
    return tuple(dict.fromkeys(own + tuple(n for c in own for n in _LATERAL_NEIGHBOURS[c])))


# The channel groups the rhythm rules compare (the PDR is a posterior rhythm that outweighs the
# frontal alpha; frontal here takes in the anterior temporal F7/F8). The model's rhythm
# descriptors read the same groups (encoders_neuronarrator.RHYTHM_GROUPS).
POSTERIOR_CHANNELS = ("O1", "O2", "P3", "P4", "Pz")
FRONTAL_CHANNELS = ("Fp1", "Fp2", "F7", "F3", "Fz", "F4", "F8")
_POSTERIOR, _FRONTAL = POSTERIOR_CHANNELS, FRONTAL_CHANNELS
_INDEX = {name: i for i, name in enumerate(STANDARD_CHANNELS)}

# Every threshold of the rules, in one place (documented where used).
THRESHOLDS = {
    # Dominant rhythm: FOOOF/specparam's 'fixed' aperiodic fit over 1-30 Hz (no sub-1 Hz drift),
    # a peak at least 2x the aperiodic power (the PDR's criterion below) is a rhythm.
    "rhythm_fit_range_hz": (1.0, 30.0),
    "rhythm_peak_over_aperiodic": 2.0,
    "rhythm_smoothing_hz": 1.0,  # the flattened spectrum is averaged over 1 Hz before its peak is read
    "pdr_range_hz": (7.5, 13.5),  # ACNS 2021: PDR is the posterior alpha-range rhythm (>= 8 Hz normal adult)
    "pdr_peak_over_background": 2.0,  # peak power / 1/f background at that frequency
    "pdr_posterior_over_frontal": 1.0,  # alpha share of power, posterior / frontal channels
    "asymmetry_index": 0.6,  # |R-L|/(R+L) of power; = 50 % amplitude difference, ACNS "marked"
    "focal_slowing_ratio": 2.5,  # delta+theta power, one side / homologous side
    "focal_slowing_min_fraction": 0.5,  # delta+theta share of the slower side's power
    "focal_slowing_fraction_excess": 0.1,  # that share minus the homologous side's share
    # The slowing is of the slow bands, not of the whole side: the slower side's (delta+theta) /
    # (alpha+beta) power ratio (DTABR, the qEEG index of focal ischaemia: Finnigan & van Putten,
    # Clin Neurophysiol 2013) is at least this multiple of the homologous side's. A side larger at
    # every frequency (a reference gradient, an electrode's gain) raises both bands alike.
    "focal_slowing_dtabr_ratio": 2.0,
    # A cerebral potential has a field: focal slowing is seen at more than one electrode, while
    # a potential confined to one electrode is an electrode artifact (ACNS 2021 terminology,
    # "field"; Tatum, Handbook of EEG Interpretation, electrode artifact). So at least
    # ``focal_slowing_field_channels`` electrodes of the region and its 10-20 neighbours on that
    # side hold delta+theta power >= ``focal_slowing_field_ratio`` x their homologues'.
    "focal_slowing_field_ratio": 1.5,
    "focal_slowing_field_channels": 2,
    "generalized_slow_fraction": 0.7,  # delta+theta share of power, all channels
    "blink_uv": 100.0,  # frontopolar slow deflection
    "blink_correlation": 0.7,  # Fp1/Fp2 in phase (blinks are vertical and symmetric)
    "eye_movement_uv": 50.0,  # F7/F8 slow deflection
    "eye_movement_correlation": -0.5,  # F7/F8 in opposite phase (lateral gaze)
    "eye_delta_front_over_back": 2.0,  # Fp1/Fp2 delta power / posterior delta: eye, not brain (vertical movements)
    "muscle_fraction": 0.3,  # 30-75 Hz share of 0.5-75 Hz power in a frontal/temporal channel
    "pop_z": 25.0,  # sample-to-sample jump, in robust SDs of the channel's jumps
    "pop_uv": 50.0,  # and in microvolts
    "pop_others_z": 5.0,  # other channels quiet at that instant (the step is isolated)
    "line_peak_ratio": 10.0,  # mains bin / neighbouring 2-6 Hz bins
    "line_power_fraction": 0.02,  # mains +-1 Hz power / 0.5-45 Hz EEG power
    "flat_std_uv": 0.5,  # a channel with less standard deviation than this is flat
    # Movement (FASTER, Nolan et al. 2010, step 2): a segment whose mean amplitude range or mean
    # variance over the recorded channels lies this many SDs above the recording's segments.
    "movement_z": 3.0,
    # Spatial coverage (spatial_coverage): what the recorded electrodes can support.
    "region_min_electrodes": 1,  # a region's power is its recorded electrodes' power
    "hemisphere_min_electrodes": 2,
    "asymmetry_min_pairs": 2,  # homologous pairs, one anterior and one posterior
}
# Vigilance state and events (vigilance_neuronarrator, events_neuronarrator).
THRESHOLDS.update(
    {
        # A W epoch that YASA gives at least this N1 probability is "drowsy": the wake-to-N1
        # transition (alpha dropping out) that clinical EEG reports name drowsiness (ACNS
        # guideline 7, 2016: wakefulness, drowsiness, sleep); AASM has no stage for it.
        "drowsy_n1_probability": 0.3,
        # Generalized spike-and-wave (IFCN glossary 2017, Kane et al.; ACNS 2021 terminology):
        "spike_wave_frequency_hz": (2.5, 4.0),  # typical absence: 3 Hz, 2.5-4 Hz over a discharge
        # A periodic train: share of 1-20 Hz power within +-0.5 Hz of the rate and its harmonics
        # (the rate's own share at least the fundamental fraction, the harmonics' at least the
        # harmonic fraction: the spike of each complex; a sinusoidal rhythmic delta has none).
        "spike_wave_comb_fraction": 0.75,
        "spike_wave_fundamental_fraction": 0.15,
        "spike_wave_harmonic_fraction": 0.2,
        "spike_wave_amplitude_ratio": 2.5,  # 1-20 Hz RMS / the channel's median: "distinguished from background"
        "spike_wave_min_channel_fraction": 0.6,  # of recorded channels: generalized, bilateral and synchronous
        "spike_wave_min_duration_s": 3.0,  # typical absences last 4-20 s; < 3 s rarely has a clinical correlate
        # Lateralized rhythmic delta activity, LRDA (ACNS 2021 standardized terminology, Hirsch et al.:
        # main term 1 "L", lateralized: consistently higher on one side; main term 2 "RDA", rhythmic
        # delta, <= 4 Hz; rhythmic = uniform waveforms without an interval, at least 6 cycles).
        "rhythmic_delta_frequency_hz": (1.0, 4.0),  # sub-1 Hz is left to drift and eye movements
        # "Uniform morphology and duration": the share of a 4 s frame's 0.5-7.5 Hz power within
        # +-0.375 Hz of the rate (a delta rhythm ~0.9; irregular 0.8-3 Hz polymorphic delta 0.56
        # median, 0.87 at its 99th percentile: one frame cannot tell them apart, a span of them can).
        "rhythmic_delta_concentration": 0.8,
        "rhythmic_delta_amplitude_ratio": 2.0,  # 1-4 Hz RMS / the channel's quieter quarter (25th percentile)
        # 1-4 Hz RMS / the homologous electrode's: 2x is the 50 % amplitude difference of asymmetry_index
        "rhythmic_delta_lateral_ratio": 2.0,
        "rhythmic_delta_min_channels": 2,  # a cerebral potential has a field (as focal_slowing_field_channels)
        "rhythmic_delta_min_cycles": 6,  # ACNS 2021: a rhythmic pattern lasts at least 6 cycles
        # Longer than 6 cycles of the fastest rate: every frame of the span must be rhythmic, so
        # polymorphic delta (whose frames reach the concentration by chance) is not called rhythmic.
        "rhythmic_delta_min_duration_s": 6.0,
    }
)


def amplitude_category(amplitude_uv: float) -> str:
    """Amplitude word (low/medium/high) of a median peak-to-peak amplitude in uV (``AMPLITUDE_CATEGORIES``)."""
    for name, upper in AMPLITUDE_CATEGORIES:
        if amplitude_uv < upper:
            return name
    return AMPLITUDE_CATEGORIES[-1][0]


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
    window = _hann(nperseg)
    freqs = np.fft.rfftfreq(nperseg, 1.0 / sampling_rate)
    # A few segments at a time (~2 MB of samples): each spectrum is computed on its own, so the
    # numbers are those of the whole batch at once, but the temporaries stay in cache.
    chunk = max(1, (1 << 19) // max(1, math.prod(eeg_uv.shape[1:]))) if eeg_uv.ndim == 3 else len(eeg_uv)
    if eeg_uv.ndim != 3 or len(eeg_uv) <= chunk:
        return _welch(eeg_uv, sampling_rate, window), freqs
    parts = [_welch(eeg_uv[a : a + chunk], sampling_rate, window) for a in range(0, len(eeg_uv), chunk)]
    return np.concatenate(parts), freqs


def _welch(eeg_uv: np.ndarray, sampling_rate: float, window: np.ndarray) -> np.ndarray:
    """``segment_psd``'s spectra of ``eeg_uv`` ``(..., n_times)`` with ``window`` ``(nperseg,)``.
    Same estimate as scipy.signal.welch (periodic Hann, 50 % overlap, constant detrend, density
    scaling, one-sided), written as one strided view + one rfft so all channels go at once."""
    nperseg = len(window)
    step = max(1, nperseg // 2)
    frames = np.lib.stride_tricks.sliding_window_view(eeg_uv, nperseg, axis=-1)[..., ::step, :]  # (..., n_frames, nperseg)
    frames = frames - frames.mean(axis=-1, keepdims=True)
    frames *= window.astype(frames.dtype, copy=False)  # in place: the same products, one array less
    spectra = _fft.rfft(frames, axis=-1)  # (..., n_frames, n_freqs); one thread: the front-end is single-threaded
    squared = spectra.real**2
    squared += spectra.imag**2
    power = squared.mean(axis=-2) / (sampling_rate * float((window**2).sum()))
    power[..., 1 : (nperseg + 1) // 2] *= 2.0  # fold negative frequencies (not DC, not Nyquist)
    return power


@functools.lru_cache(maxsize=8)
def _hann(n: int) -> np.ndarray:
    return _signal.get_window("hann", n)  # periodic, as Welch uses


def band_power(psd: np.ndarray, freqs: np.ndarray) -> np.ndarray:
    """Absolute power per band (BANDS order): ``(..., n_freqs)`` uV^2/Hz -> ``(..., 5)`` uV^2."""
    df = freqs[1] - freqs[0]
    # One (n_freqs, 5) selection matrix: all bands in one matrix product.
    select = np.stack([(freqs >= BAND_EDGES_HZ[b][0]) & (freqs < BAND_EDGES_HZ[b][1]) for b in BANDS], axis=1)
    return psd @ select.astype(psd.dtype) * df


def _parabolic_offset(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Offset in bins (-0.5..0.5) of the vertex of the parabola through three neighbouring values."""
    denominator = a - 2 * b + c
    with np.errstate(divide="ignore", invalid="ignore"):
        offset = np.where(denominator < 0, 0.5 * (a - c) / np.where(denominator < 0, denominator, -1.0), 0.0)
    return np.clip(offset, -0.5, 0.5)


def aperiodic_fit(log_psd: np.ndarray, freqs: np.ndarray, fit_range: tuple[float, float] = (1.0, 30.0)) -> tuple[np.ndarray, np.ndarray]:
    """The aperiodic (1/f) component of spectra, as FOOOF/specparam's ``'fixed'`` mode fits it.

    ``log10 P(f) = offset - exponent * log10(f)`` over ``fit_range``, fitted like FOOOF's robust
    initial fit (``_robust_ap_fit``): a least-squares line in log-log coordinates, then a second
    fit through the points that lie on or below the first line (the peaks lifted above it are
    left out). Vectorized over every leading axis; a test checks it against fooof on real spectra.

    Args:
        log_psd: ``(..., n_freqs)`` log10 power.
        freqs: ``(n_freqs,)`` Hz.
        fit_range: Hz, inclusive.

    Returns:
        ``(offset, exponent)``, each of shape ``log_psd.shape[:-1]``.
    """
    band = (freqs >= fit_range[0]) & (freqs <= fit_range[1])
    x = np.log10(freqs[band])  # (k,)
    y = log_psd[..., band]  # (..., k)

    def line(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        w = weights.sum(-1)
        mx = (weights * x).sum(-1) / w
        my = (weights * y).sum(-1) / w
        sxx = (weights * (x - mx[..., None]) ** 2).sum(-1)
        sxy = (weights * (x - mx[..., None]) * (y - my[..., None])).sum(-1)
        slope = sxy / np.maximum(sxx, 1e-12)
        return my - slope * mx, slope

    offset, slope = line(np.ones_like(y))
    below = (y - (offset[..., None] + slope[..., None] * x) <= 0).astype(y.dtype)
    below[below.sum(-1) < 2] = 1.0  # (cannot happen with real spectra: a line always has points below it)
    offset, slope = line(below)
    return offset, -slope


def _flattened_peak(
    psd: np.ndarray, freqs: np.ndarray, low: float, high: float, fit_range: Optional[tuple[float, float]] = None
) -> tuple[np.ndarray, np.ndarray]:
    """Highest point of the aperiodic-flattened spectrum inside [low, high] Hz.

    Returns ``(frequency_hz, height)``: frequency refined by a parabola through the neighbouring
    bins, NaN where the maximum is the range's edge (the tail of a neighbouring band, not a
    peak); height above the aperiodic fit in log10 power. Shapes ``psd.shape[:-1]``.
    """
    frequency, height, interior = flattened_peak(psd, freqs, low, high, fit_range)
    return np.where(interior, frequency, np.nan), height


def flattened_peak(
    psd: np.ndarray, freqs: np.ndarray, low: float, high: float, fit_range: Optional[tuple[float, float]] = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The one rhythm estimate: the highest point of the aperiodic-flattened spectrum inside
    [low, high] Hz. The findings (PDR, dominant rhythm) and the model's rhythm descriptors
    (``encoders_neuronarrator.aperiodic_peak``) both call it.

    Returns ``(frequency_hz, height, interior)``: the frequency refined by a parabola through the
    neighbouring bins (also where the maximum is the range's edge); the height above the
    aperiodic fit in log10 power; whether the maximum is inside the range, not its edge (an edge
    is the tail of a neighbouring band, not a peak). Shapes ``psd.shape[:-1]``.
    """
    log_psd = np.log10(np.maximum(psd, 1e-20))
    fit_range = fit_range or THRESHOLDS["rhythm_fit_range_hz"]
    low = max(low, fit_range[0])
    offset, exponent = aperiodic_fit(log_psd, freqs, fit_range)
    df = freqs[1] - freqs[0]
    half = THRESHOLDS["rhythm_smoothing_hz"] / 2
    wide = np.flatnonzero((freqs >= max(low - half, df)) & (freqs <= high + half))
    flat = log_psd[..., wide] - (offset[..., None] - exponent[..., None] * np.log10(freqs[wide]))
    # A rhythm spans a band of frequencies; a single bin standing out is estimation noise (10 s
    # Welch spectra scatter by ~0.1 log10 per bin): the flattened spectrum is averaged over 1 Hz.
    width = max(1, int(round(2 * half / df)) + 1)
    smooth = _ndimage.uniform_filter1d(flat, width, axis=-1, mode="nearest")
    inside = (freqs[wide] >= low) & (freqs[wide] <= high)
    band, flat, smooth = wide[inside], flat[..., inside], smooth[..., inside]  # (k,), (..., k), (..., k)
    k = smooth.argmax(-1)
    height = np.take_along_axis(smooth, k[..., None], -1)[..., 0]
    inner = (k > 0) & (k < len(band) - 1)
    # The frequency: the unsmoothed spectrum's highest bin within the averaging window, refined
    # by a parabola through its neighbours (the smoothing decides *whether*, not *where*).
    offsets = np.arange(-(width // 2), width // 2 + 1)
    around = np.clip(k[..., None] + offsets, 0, len(band) - 1)  # (..., width)
    k = np.take_along_axis(around, np.take_along_axis(flat, around, -1).argmax(-1)[..., None], -1)[..., 0]
    kc = np.clip(k, 1, len(band) - 2)[..., None]
    a, b, c = (np.take_along_axis(flat, kc + d, -1)[..., 0] for d in (-1, 0, 1))
    frequency = freqs[band][k] + _parabolic_offset(a, b, c) * df
    return frequency, height, inner


def dominant_rhythm(psd: np.ndarray, freqs: np.ndarray, fit_range: Optional[tuple[float, float]] = None) -> np.ndarray:
    """The dominant rhythm of spectra: the highest peak above the aperiodic (1/f) component.

    The spectrum is flattened by ``aperiodic_fit`` over ``THRESHOLDS["rhythm_fit_range_hz"]``
    (1-30 Hz: the sub-1 Hz drift and the steep 1/f rise below 1 Hz are outside it), and its
    highest point is the rhythm when it is a true local maximum (not the range's edge) standing
    at least ``THRESHOLDS["rhythm_peak_over_aperiodic"]`` (2x in power, the PDR's criterion)
    above the aperiodic component: FOOOF's peak over the aperiodic fit, its largest one.

    Args:
        psd: ``(..., n_freqs)`` power spectral density (any units).
        freqs: ``(n_freqs,)`` Hz, evenly spaced.
        fit_range: Hz; default ``THRESHOLDS["rhythm_fit_range_hz"]``. A recording stored
            high-passed (ALICE's 3 Hz) starts it above the filter's edge.

    Returns:
        ``(...)`` frequency in Hz of the dominant rhythm, NaN where there is none.
    """
    fit_range = fit_range or THRESHOLDS["rhythm_fit_range_hz"]
    frequency, height = _flattened_peak(psd, freqs, *fit_range, fit_range=fit_range)
    return np.where(height >= np.log10(THRESHOLDS["rhythm_peak_over_aperiodic"]), frequency, np.nan)


def _masked_median(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Median over the last axis of the entries where ``mask`` is True (NaN for an empty row);
    one sort for all rows (``np.nanmedian`` loops over rows)."""
    ordered = np.sort(np.where(mask, values, np.inf), axis=-1)
    count = mask.sum(-1)
    lo = np.take_along_axis(ordered, np.clip((count - 1) // 2, 0, None)[..., None], -1)[..., 0]
    hi = np.take_along_axis(ordered, np.clip(count // 2, 0, None)[..., None], -1)[..., 0]
    return np.where(count > 0, (lo + hi) / 2, np.nan)


def _percentiles(x: np.ndarray, q: Sequence[float]) -> np.ndarray:
    """``np.percentile(x, q, axis=-1)``, equal bit for bit, from one sort of the contiguous rows
    (``_quantiles``): numpy's percentile partitions a strided copy, ~5x slower."""
    return _quantiles(x, np.true_divide(np.asarray(q), 100))


def _median_of(values: Sequence[float]) -> float:
    """``float(np.median(values))`` of a short list (the same arithmetic, without numpy's
    per-call overhead: ``_changes`` takes ~2000 medians of 1-3 numbers per hour of EEG)."""
    ordered = sorted(float(v) for v in values)
    if any(v != v for v in ordered):  # NaN, as numpy
        return float("nan")
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2.0


def _group_mean(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Mean of ``values`` ``(n, 19, ...)`` over the channels where ``weights`` ``(n, 19)`` is
    True (NaN-free: a segment without any such channel gets 0)."""
    w = weights.astype(values.dtype)
    while w.ndim < values.ndim:
        w = w[..., None]
    return (values * w).sum(1) / np.maximum(w.sum(1), 1.0)


def _relative_dict(powers: np.ndarray) -> dict[str, float]:
    total = float(powers.sum())
    rel = powers / total if total > 0 else np.full(len(BANDS), 1.0 / len(BANDS))
    return {band: round(float(v), 2) for band, v in zip(BANDS, rel)}


def _names_mask(names: Sequence[str]) -> np.ndarray:
    mask = np.zeros(len(STANDARD_CHANNELS), dtype=bool)
    mask[[_INDEX[n] for n in names]] = True
    return mask


_REGION_MASKS = {r: _names_mask(ch) for r, ch in REGION_CHANNELS.items()}
_HEMISPHERE_MASKS = {h: _names_mask(ch) for h, ch in HEMISPHERE_CHANNELS.items()}
_PAIRS = np.array([(_INDEX[l], _INDEX[r]) for l, r in zip(HEMISPHERE_CHANNELS["left"], HEMISPHERE_CHANNELS["right"])])
# Homologous pairs in front of and behind the central sulcus (for the coverage of asymmetry).
_ANTERIOR_PAIR = np.array([l in ("Fp1", "F7", "F3", "T7", "C3") for l in HEMISPHERE_CHANNELS["left"]])


def spatial_coverage(spatial_mask: np.ndarray) -> dict[str, np.ndarray]:
    """Which spatial findings the recorded electrodes support, per segment.

    The rules (``THRESHOLDS`` keys in brackets), for ``spatial_mask`` ``(n, 19)`` bool = a
    referential electrode recorded there and not bad:

    - a region's band power: at least ``region_min_electrodes`` (1) of its electrodes; the power
      is then theirs alone, never an interpolated channel's;
    - the predominant region: every one of the five regions assessable (the maximum of a
      comparison over the head can lie in any region that was not recorded);
    - a hemisphere's band power: at least ``hemisphere_min_electrodes`` (2) of its 8;
    - asymmetry: at least ``asymmetry_min_pairs`` (2) homologous pairs recorded on both sides,
      one in front of and one behind the central sulcus (a hemisphere-wide statement needs
      both ends of the hemisphere: ACNS 2021 judges asymmetry over homologous regions);
    - focal slowing: a homologous pair in every one of the five lateral regions (focal slowing
      may sit in any of them; the temporal region, its commonest site, has no electrode in the
      usual 2-6 channel sleep montages). A focal slowing *found* is reported all the same.

    Returns:
        ``{"regions": (n, 5) bool in REGIONS order, "predominant_region": (n,), "hemispheres":
        (n, 2), "asymmetry": (n,), "focal_slowing": (n,)}``.
    """
    m = np.asarray(spatial_mask, dtype=bool)
    regions = np.stack([m[:, _REGION_MASKS[r]].sum(-1) >= THRESHOLDS["region_min_electrodes"] for r in REGIONS], -1)
    hemispheres = np.stack([m[:, _HEMISPHERE_MASKS[h]].sum(-1) >= THRESHOLDS["hemisphere_min_electrodes"] for h in HEMISPHERES], -1)
    pairs = m[:, _PAIRS[:, 0]] & m[:, _PAIRS[:, 1]]  # (n, 8)
    asymmetry = (
        (pairs.sum(-1) >= THRESHOLDS["asymmetry_min_pairs"]) & pairs[:, _ANTERIOR_PAIR].any(-1) & pairs[:, ~_ANTERIOR_PAIR].any(-1)
    )
    lateral = np.stack(
        [np.any([m[:, _INDEX[l]] & m[:, _INDEX[r]] for l, r in zip(*_LATERAL_REGIONS[region])], axis=0) for region in REGIONS], -1
    )
    return {"regions": regions, "predominant_region": regions.all(-1), "hemispheres": hemispheres,
            "asymmetry": asymmetry, "focal_slowing": lateral.all(-1)}  # fmt: skip


def _slow_component(x: np.ndarray, sampling_rate: float) -> np.ndarray:
    """100 ms moving average over the last axis: keeps blinks and eye movements, drops EEG."""
    width = max(1, int(round(0.1 * sampling_rate)))
    centered = x - x.mean(axis=-1, keepdims=True)
    return _ndimage.uniform_filter1d(centered, width, axis=-1, mode="constant")


def _correlation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation over the last axis (0 where a signal is constant)."""
    a = a - a.mean(-1, keepdims=True)
    b = b - b.mean(-1, keepdims=True)
    denominator = np.sqrt((a * a).sum(-1) * (b * b).sum(-1))
    return np.where(denominator > 0, (a * b).sum(-1) / np.where(denominator > 0, denominator, 1.0), 0.0)


def _eye_artifacts(x: np.ndarray, powers: np.ndarray, sampling_rate: float, usable: np.ndarray) -> dict[str, np.ndarray]:
    """Eye blinks, vertical and lateral eye movements of every segment: ``(n,)`` bool each."""
    n = x.shape[0]
    fp1, fp2, f7, f8, o1, o2 = (_INDEX[c] for c in ("Fp1", "Fp2", "F7", "F8", "O1", "O2"))
    out = {name: np.zeros(n, dtype=bool) for name in ("eye_blink", "vertical", "lateral")}
    frontopolar = usable[:, fp1] & usable[:, fp2]
    if frontopolar.any():
        slow = _slow_component(x[:, [fp1, fp2, o1, o2]], sampling_rate)  # (n, 4, T)
        peaks = np.abs(slow).max(-1)  # (n, 4)
        correlated = _correlation(slow[:, 0], slow[:, 1]) > THRESHOLDS["blink_correlation"]
        # Eye blink: large (>100 uV) slow deflection at both frontopolar electrodes, in phase and of
        # similar size (the eyeball's dipole rotating upward), much smaller posteriorly.
        ratio = peaks[:, 0] / np.maximum(peaks[:, 1], 1e-9)
        occipital = usable[:, o1] | usable[:, o2]
        posterior_peak = np.where(occipital, np.where(usable[:, [o1, o2]], peaks[:, 2:], 0.0).max(-1), 0.0)
        posterior_small = posterior_peak < 0.5 * peaks[:, :2].min(-1)
        out["eye_blink"] = (
            frontopolar & (peaks[:, :2].min(-1) > THRESHOLDS["blink_uv"]) & correlated
            & (ratio >= 0.5) & (ratio <= 2.0) & posterior_small
        )  # fmt: skip
        # Vertical eye movement (slow roving movements, looking up and down): the same in-phase
        # frontopolar potential, smaller and slower than a blink, whose delta-band power is
        # several times the posterior channels' delta (ACNS/IFCN glossary: eye-movement artifact
        # is maximal at Fp1/Fp2 and absent posteriorly). It is an artifact, not frontal slowing.
        delta = powers[..., BANDS.index("delta")]  # (n, 19)
        back = usable & _names_mask(_POSTERIOR)[None]
        front_delta = (delta[:, fp1] + delta[:, fp2]) / 2
        back_delta = _group_mean(delta, back)
        out["vertical"] = (
            frontopolar & back.any(-1) & correlated & (peaks[:, :2].min(-1) > THRESHOLDS["eye_movement_uv"])
            & (front_delta >= THRESHOLDS["eye_delta_front_over_back"] * back_delta)
        )  # fmt: skip
    lateral_ok = usable[:, f7] & usable[:, f8]
    if lateral_ok.any():
        # Lateral eye movement: slow potentials of opposite polarity at F7 and F8 (the corneal
        # positivity approaches one and leaves the other).
        slow = _slow_component(x[:, [f7, f8]], sampling_rate)
        peaks = np.abs(slow).max(-1)
        out["lateral"] = (
            lateral_ok & (peaks.min(-1) > THRESHOLDS["eye_movement_uv"])
            & (_correlation(slow[:, 0], slow[:, 1]) < THRESHOLDS["eye_movement_correlation"])
        )  # fmt: skip
    return out


def _other_artifacts(
    x: np.ndarray, psd: np.ndarray, freqs: np.ndarray, usable: np.ndarray, line_freq: Optional[float], raw_flat: np.ndarray
) -> dict[str, np.ndarray]:
    """Muscle, electrode pop, line noise and flat channel of every segment: ``(n,)`` bool each."""
    n = x.shape[0]
    out: dict[str, np.ndarray] = {}
    # Muscle: EMG is broadband above ~20 Hz and largest over frontalis/temporalis: a high share of
    # 30-75 Hz power in a frontal or temporal channel (mains excluded).
    mains = (np.abs(freqs - 50.0) <= 2.0) | (np.abs(freqs - 60.0) <= 2.0)
    broad = (freqs >= 0.5) & (freqs <= 75.0) & ~mains
    high = (freqs >= 30.0) & (freqs <= 75.0) & ~mains
    muscle_channels = [_INDEX[c] for c in ("Fp1", "Fp2", "F7", "F8", "F3", "F4", "T7", "T8")]
    fraction = psd[:, muscle_channels][..., high].sum(-1) / np.maximum(psd[:, muscle_channels][..., broad].sum(-1), 1e-12)
    out["muscle"] = ((fraction > THRESHOLDS["muscle_fraction"]) & usable[:, muscle_channels]).any(-1)
    # Electrode pop: a sudden step or spike in one channel only (the electrode's contact
    # changes), i.e. a sample-to-sample jump far outside that channel's usual jumps while the
    # other channels stay quiet at that instant.
    jumps = np.diff(x, axis=-1)  # (n, 19, T-1)
    np.abs(jumps, out=jumps)
    half = jumps.shape[-1] // 2
    scale = np.partition(jumps, half, axis=-1)[..., half] / 0.6745 + 1e-6  # median (upper for even T-1)
    channel, t, z_max = _largest_jump(jumps, scale, usable)
    rows = np.arange(n)
    window = np.clip(t[:, None] + np.arange(-5, 6)[None], 0, jumps.shape[-1] - 1)  # (n, 11)
    near = np.take_along_axis(jumps, np.broadcast_to(window[:, None, :], (n, jumps.shape[1], window.shape[1])), -1)  # (n, 19, 11)
    near = np.where(usable[..., None], near / scale[..., None], 0.0).astype(jumps.dtype, copy=False)  # z there
    near[rows, channel] = 0.0
    out["electrode_pop"] = (
        (usable.sum(-1) >= 2) & (z_max > THRESHOLDS["pop_z"])
        & (jumps[rows, channel, t] > THRESHOLDS["pop_uv"]) & (near.max((-1, -2)) < THRESHOLDS["pop_others_z"])
    )  # fmt: skip
    # Line noise: a narrow mains peak (before the notch) that stands 10x above the neighbouring
    # bins and carries a visible share of the EEG power (median over the recorded channels).
    out["line_noise"] = np.zeros(n, dtype=bool)
    sampling_rate = 2.0 * freqs[-1]
    eeg_band = (freqs >= 0.5) & (freqs < 45.0)
    for f in [line_freq] if line_freq else [50.0, 60.0]:
        if f + 6.0 >= sampling_rate / 2:
            continue
        at = np.abs(freqs - f) <= 1.0
        near_bins = (np.abs(freqs - f) >= 2.0) & (np.abs(freqs - f) <= 6.0)
        ratio = psd[..., at].max(-1) / np.maximum(np.median(psd[..., near_bins], axis=-1), 1e-12)  # (n, 19)
        share = psd[..., at].sum(-1) / np.maximum(psd[..., eeg_band].sum(-1), 1e-12)
        with np.errstate(all="ignore"):
            hit = (_masked_median(ratio, usable) > THRESHOLDS["line_peak_ratio"]) & (
                _masked_median(share, usable) > THRESHOLDS["line_power_fraction"]
            )
        out["line_noise"] |= hit
    # Flat channel: a recorded channel with almost no variance (disconnected or saturated
    # electrode, or an amplifier channel left on).
    out["flat_channel"] = raw_flat | ((_row_std(x) < THRESHOLDS["flat_std_uv"]) & usable).any(-1)
    return out


def _largest_jump(jumps: np.ndarray, scale: np.ndarray, usable: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where ``z = jumps / scale`` (``(n, 19, T)``; 0 on channels not ``usable``) is largest in
    each segment: ``(channel (n,), t (n,), z there (n,))``, the first such place in
    (channel, time) order as ``argmax`` of ``z`` gives it, without computing ``z`` everywhere.
    Division by a positive scale is monotonic, so a channel's largest ``z`` is its largest jump
    divided by its scale; only the winning channel's row is divided to find the time."""
    n = jumps.shape[0]
    rows = np.arange(n)
    channel_max = np.where(usable, jumps.max(-1) / scale, 0.0).astype(jumps.dtype, copy=False)  # (n, 19)
    channel = channel_max.argmax(-1)  # the first channel reaching the segment's largest z
    z_max = channel_max[rows, channel]
    winner = np.where(usable[rows, channel][:, None], jumps[rows, channel] / scale[rows, channel][:, None], 0.0)  # (n, T)
    t = winner.astype(jumps.dtype, copy=False).argmax(-1)
    return channel, t, z_max


def _background_changes(current: "Findings", previous: list["Findings"]) -> set[str]:
    """The background's changes (faster/slower, amplitude, slowing) against ``previous`` (non-empty)."""
    changes: set[str] = set()
    reference_band = BANDS.index(dominant_band_of(_median_of([BAND_EDGES_HZ[p.dominant_band][0] for p in previous])))
    band = BANDS.index(current.dominant_band)
    rhythms = [p.dominant_frequency_hz for p in previous if p.dominant_frequency_hz is not None]
    delta_hz = 0.0
    if rhythms and current.dominant_frequency_hz is not None:
        reference_freq = _median_of(rhythms)
        reference_band = BANDS.index(dominant_band_of(reference_freq))
        delta_hz = current.dominant_frequency_hz - reference_freq
    # In N1-N3 and REM the dominant frequency is the peak of sleep's own waveforms (spindles,
    # K-complexes, slow waves, sawtooth waves: AASM), not a background rhythm, and it jumps between
    # them from one segment to the next: its rise or fall is the stage's, which the state reports (ACNS
    # guideline 7 describes the frequency of the waking background). So no "faster"/"slower" there.
    if current.state in NO_PDR_STATES:
        pass
    elif delta_hz >= 1.0 or band > reference_band:
        changes.add("faster")
    elif delta_hz <= -1.0 or band < reference_band:
        changes.add("slower")
    reference_amplitude = _median_of([p.amplitude_uv for p in previous])
    if reference_amplitude > 0 and current.amplitude_uv >= 1.5 * reference_amplitude:
        changes.add("higher_amplitude")
    elif current.amplitude_uv > 0 and reference_amplitude >= 1.5 * current.amplitude_uv:
        changes.add("lower_amplitude")
    # A slowing obscured by movement is neither present nor absent: no change to or from it.
    present = ("focal", "generalized", "widespread")
    if current.slowing.kind in present and all(p.slowing.kind == "none" for p in previous):
        changes.add("slowing_appeared")
    elif current.slowing.kind == "none" and previous[-1].slowing.kind in present:
        changes.add("slowing_resolved")
    return changes


def _changes(current: "Findings", previous: list["Findings"]) -> Optional[list[str]]:
    """change_from_previous against up to ``CHANGE_WINDOW_SEGMENTS`` preceding segments."""
    if not previous:
        return None
    changes: set[str] = set()
    # The background under a movement artifact is not read (its rhythm, amplitude and slow waves are
    # the artifact's): a movement segment changes only in its artifacts, and the others are compared
    # with the preceding segments free of movement (stop 47: the segment after a movement read as
    # "faster" and "lower amplitude" against it).
    clean = [p for p in previous if "movement" not in p.artifacts]
    if "movement" not in current.artifacts and clean:
        changes |= _background_changes(current, clean)
    last = previous[-1]
    if set(current.artifacts) - set(last.artifacts):
        changes.add("artifacts_appeared")
    elif not current.artifacts and last.artifacts:
        changes.add("artifacts_resolved")
    return sorted(changes) or ["stable"]


__all__ += ["with_learned_labels"]


def with_learned_labels(findings: "Findings | dict", label_keys: Optional[Sequence[str]]) -> "Findings":
    """``findings`` with only the source labels of ``label_keys`` (None: all): what a narrator that
    learned those keys is told (``NeuroNarratorConfig.label_keys``), and what the measured grammar
    offers it label sentences for."""
    f = findings if isinstance(findings, Findings) else Findings.from_dict(findings)
    if label_keys is None:
        return f
    return dataclasses.replace(f, labels={key: value for key, value in f.labels.items() if key in label_keys})


__all__ += ["change_window_text", "measured_change_window", "seconds_text"]


def seconds_text(seconds: float) -> str:
    """A duration as the narratives write it: whole seconds as "30 s", others to 0.1 s ("32.5 s")."""
    return f"{seconds:.0f} s" if float(seconds).is_integer() else f"{seconds:.1f} s"


def change_window_text(preceding_segments: Optional[int], segment_seconds: float = 10.0) -> str:
    """The window a change sentence names ("30 s", or "segment" with no preceding segment given):
    the change was measured against up to ``CHANGE_WINDOW_SEGMENTS`` preceding segments, whatever
    history the narrator keeps, so the wording names the window actually compared. ``describe``,
    the measured line (``Findings.change_window_segments``), the measured grammar and the
    consistency check all read it from here.

    Args:
        preceding_segments: segments of the same recording given before this one (the narrator's
            history, or the measured ``change_window_segments``); None as 0.
        segment_seconds: duration of one segment in s.
    """
    compared = min(int(preceding_segments or 0), CHANGE_WINDOW_SEGMENTS)
    return seconds_text(compared * segment_seconds) if compared > 0 else "segment"


def measured_change_window(findings: "Findings", preceding_segments: Optional[int] = None, segment_seconds: float = 10.0) -> str:
    """The window a change sentence about ``findings`` must name: the one its change was measured
    over (``change_window_segments``), whatever history a narrator was given. A record written
    before that field existed has only ``preceding_segments`` (the history given) to go by."""
    measured = findings.change_window_segments
    return change_window_text(measured if measured is not None else preceding_segments, segment_seconds)


def _set_change(current: "Findings", previous: list["Findings"]) -> None:
    """``change_from_previous`` against ``previous`` and the window it was measured over."""
    current.change_from_previous = _changes(current, previous)
    current.change_window_segments = len(previous) if previous else None


def _focal_slowing(slow: np.ndarray, total: np.ndarray, usable: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Focal slowing of every segment: ``(found (n,) bool, side index (n,) 0=left 1=right,
    region index (n,) into REGIONS)``.

    Focal: delta+theta power over one region >= 2.5x the homologous region, with delta+theta
    holding at least half of that region's power and a share 0.1 above the homologous region's
    (ACNS 2021: focal slowing is delta/theta activity over one region, judged against the other
    hemisphere); only pairs recorded on both sides count. A side that is merely larger at every
    frequency is an asymmetry, not slowing: the share must exceed the homologue's, and the side's
    delta+theta / alpha+beta ratio must be ``focal_slowing_dtabr_ratio`` x the homologue's. The
    excess must have a field (``_has_field``): one electrode alone is an electrode, not the brain.
    """
    n = slow.shape[0]
    best_ratio = np.zeros(n)
    best_side = np.zeros(n, dtype=int)
    best_region = np.zeros(n, dtype=int)
    for r, region in enumerate(REGIONS):
        left_names, right_names = _LATERAL_REGIONS[region]
        li = np.array([_INDEX[c] for c in left_names])
        ri = np.array([_INDEX[c] for c in right_names])
        both = usable[:, li] & usable[:, ri]  # (n, k)
        if not both.any():
            continue
        w = both.astype(slow.dtype)
        sl, sr = (slow[:, li] * w).sum(-1), (slow[:, ri] * w).sum(-1)
        tl, tr = (total[:, li] * w).sum(-1), (total[:, ri] * w).sum(-1)
        fl, fr = sl / np.maximum(tl, 1e-12), sr / np.maximum(tr, 1e-12)
        # DTABR of each side: slow / the rest of its power
        dl, dr = sl / np.maximum(tl - sl, 1e-12), sr / np.maximum(tr - sr, 1e-12)
        for side, high_slow, low_slow, f_high, f_low, d_high, d_low in ((0, sl, sr, fl, fr, dl, dr), (1, sr, sl, fr, fl, dr, dl)):
            ratio = high_slow / np.maximum(low_slow, 1e-12)
            better = (
                both.any(-1) & (ratio > best_ratio) & (f_high >= THRESHOLDS["focal_slowing_min_fraction"])
                & (f_high - f_low >= THRESHOLDS["focal_slowing_fraction_excess"])
                & (d_high >= THRESHOLDS["focal_slowing_dtabr_ratio"] * d_low) & _has_field(slow, usable, region, side)
            )  # fmt: skip
            best_ratio = np.where(better, ratio, best_ratio)
            best_side = np.where(better, side, best_side)
            best_region = np.where(better, r, best_region)
    return best_ratio >= THRESHOLDS["focal_slowing_ratio"], best_side, best_region


def _has_field(slow: np.ndarray, usable: np.ndarray, region: str, side: int) -> np.ndarray:
    """``(n,)`` True where ``focal_slowing_field_channels`` electrodes of ``region`` and its
    neighbours on ``side``, each recorded with its homologue, hold delta+theta power at least
    ``focal_slowing_field_ratio`` x the homologue's."""
    names = _field_channels(region, side)
    own = np.array([_INDEX[c] for c in names])
    mirror = np.array([_INDEX[HOMOLOGOUS_CHANNELS[c]] for c in names])
    paired = usable[:, own] & usable[:, mirror]
    raised = slow[:, own] >= THRESHOLDS["focal_slowing_field_ratio"] * slow[:, mirror]
    return (paired & raised).sum(-1) >= THRESHOLDS["focal_slowing_field_channels"]


@dataclass
class _BatchMeasures:
    """What every findings rule of ``compute_findings`` reads, computed once per batch.

    ``n`` segments; ``masks`` ``(n, 19)`` recorded channels; ``usable`` the channels the rules use
    (all 19 when none is recorded); ``spatial`` those that support spatial claims; ``psd``/``freqs``
    the spectra; ``raw_flat`` ``(n,)``; ``powers`` ``(n, 19, 5)`` uV^2 per band, ``total`` and
    ``slow`` (delta + theta) ``(n, 19)``; ``x32`` the EEG as float32; ``amplitude`` ``(n, 19)`` the
    5-95 % range in uV.
    """

    n: int
    masks: np.ndarray
    usable: np.ndarray
    spatial: np.ndarray
    psd: np.ndarray
    freqs: np.ndarray
    raw_flat: np.ndarray
    powers: np.ndarray
    total: np.ndarray
    slow: np.ndarray
    x32: np.ndarray
    amplitude: np.ndarray


def _channel_masks(channel_mask: Optional[np.ndarray], n: int) -> tuple[np.ndarray, np.ndarray]:
    """``(n, 19)`` recorded channels (``channel_mask``, default all) and the channels the rules use:
    the recorded ones, or all 19 where none is (a dense cap interpolated from positions has no
    recorded 10-20 site)."""
    n_ch = len(STANDARD_CHANNELS)
    masks = np.broadcast_to(np.ones(n_ch, dtype=bool) if channel_mask is None else np.asarray(channel_mask, dtype=bool), (n, n_ch))
    return masks, np.where(masks.any(-1, keepdims=True), masks, True)


def _batch_measures(
    eeg_uv: np.ndarray,
    sampling_rate: float,
    channel_mask: Optional[np.ndarray],
    psd: Optional[np.ndarray],
    freqs: Optional[np.ndarray],
    raw_flat: Optional[np.ndarray],
    spatial_mask: Optional[np.ndarray],
) -> _BatchMeasures:
    """Masks, spectra, band powers and amplitudes of a batch (see ``compute_findings``)."""
    n = eeg_uv.shape[0]
    n_ch = len(STANDARD_CHANNELS)
    masks, usable = _channel_masks(channel_mask, n)
    spatial = masks if spatial_mask is None else np.broadcast_to(np.asarray(spatial_mask, dtype=bool), (n, n_ch))
    spatial = spatial & usable
    if psd is None or freqs is None:
        psd, freqs = segment_psd(eeg_uv, sampling_rate)
    raw_flat = np.zeros(n, dtype=bool) if raw_flat is None else np.asarray(raw_flat, dtype=bool)
    powers = band_power(psd, freqs).astype(np.float64)  # (n, 19, 5) uV^2
    total = powers.sum(-1)  # (n, 19)
    slow = powers[..., 0] + powers[..., 1]  # (n, 19) delta + theta
    # Order statistics on float32 (half the memory traffic; amplitudes are rounded to 1 uV).
    x32 = eeg_uv.astype(np.float32, copy=False)
    lo, hi = _percentiles(x32, (5, 95)).astype(np.float64)  # (n, 19) each
    return _BatchMeasures(n, masks, usable, spatial, psd, freqs, raw_flat, powers, total, slow, x32, hi - lo)


@dataclass(frozen=True)
class AmplitudeReference:
    """A recording's amplitude over its segments, what ``movement_artifacts`` compares a segment with.

    FASTER's epoch scores (Nolan, Whelan & Reilly 2010, J Neurosci Methods 192:152, step 2; as
    mne-faster's ``find_bad_epochs`` computes them): ``amplitude`` and ``variance`` are the mean
    over the recorded channels of each segment's peak-to-peak range (uV) and variance (uV^2), as
    ``(mean, SD)`` over the reference segments. ``n_segments``: how many segments it was measured on.
    """

    amplitude: tuple[float, float]
    variance: tuple[float, float]
    n_segments: int


def _epoch_scores(eeg_uv: np.ndarray, usable: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """FASTER's ``(n,)`` epoch amplitude (peak-to-peak range) and variance: means over the ``usable`` channels."""
    x = np.asarray(eeg_uv)
    weights = usable / np.maximum(usable.sum(-1, keepdims=True), 1)
    # The range is exact in the input's precision; the variance accumulates in float64 (no copy).
    return (np.ptp(x, axis=-1).astype(np.float64) * weights).sum(-1), (x.var(axis=-1, dtype=np.float64) * weights).sum(-1)


def amplitude_reference(eeg_uv: np.ndarray, channel_mask: Optional[np.ndarray] = None) -> AmplitudeReference:
    """The ``AmplitudeReference`` of a recording's segments ``(n, 19, n_times)`` uV (all of them, or
    an even sample of a long one; the front-end's ``movement_reference_segments``); ``channel_mask``
    as in ``compute_findings``."""
    eeg_uv = np.asarray(eeg_uv)
    if eeg_uv.ndim != 3 or eeg_uv.shape[1] != len(STANDARD_CHANNELS) or len(eeg_uv) < 2:
        raise ValueError(f"amplitude_reference: expected (n_segments >= 2, 19, n_times) uV, got {eeg_uv.shape}")
    amplitude, variance = _epoch_scores(eeg_uv, _channel_masks(channel_mask, len(eeg_uv))[1])
    return AmplitudeReference(
        amplitude=(float(amplitude.mean()), float(amplitude.std())),
        variance=(float(variance.mean()), float(variance.std())),
        n_segments=len(eeg_uv),
    )


def movement_artifacts(
    eeg_uv: np.ndarray, reference: AmplitudeReference, usable: np.ndarray, rhythmic_event: Optional[np.ndarray] = None
) -> np.ndarray:
    """``(n,)`` bool: segments of gross (movement) artifact.

    A segment is one of FASTER's bad epochs by amplitude or variance: its mean over the recorded
    channels lies more than ``movement_z`` SDs above the recording's mean (the high side only: a
    quiet segment is no movement). FASTER's third epoch score, the deviation of the epoch's mean,
    is left out: on the harmonized, high-passed channels it flagged the spike-and-wave of scenario
    copies and the last segments of a recording. A segment holding a spike-and-wave or rhythmic
    delta event (``rhythmic_event``) is no movement: the event names its large waves."""
    z = THRESHOLDS["movement_z"]
    amplitude, variance = _epoch_scores(eeg_uv, usable)

    def above(value: np.ndarray, mean_sd: tuple[float, float]) -> np.ndarray:
        mean, sd = mean_sd
        return (value - mean) > z * sd if sd > 0 else np.zeros(value.shape, dtype=bool)

    moved = above(amplitude, reference.amplitude) | above(variance, reference.variance)
    if rhythmic_event is not None:
        moved &= ~np.asarray(rhythmic_event, dtype=bool)
    return moved


def _artifact_rules(
    eeg_uv: np.ndarray, m: _BatchMeasures, sampling_rate: float, line_freq: Optional[float],
    reference: Optional[AmplitudeReference] = None, rhythmic_event: Optional[np.ndarray] = None,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Artifact flags ``{name: (n,) bool}`` (``blink_*``, ``eye_*``, ``muscle_fraction``,
    ``pop_*``, ``line_*``, ``flat_std_uv``, ``movement_z`` given the recording's ``reference``)
    and the ``(n, 19)`` channels left to the slowing rules."""
    eye = _eye_artifacts(eeg_uv, m.powers, sampling_rate, m.usable)
    other = _other_artifacts(m.x32, m.psd, m.freqs, m.usable, line_freq, m.raw_flat)
    flags = {"eye_blink": eye["eye_blink"], "eye_movement": (eye["vertical"] & ~eye["eye_blink"]) | eye["lateral"], **other}
    # Eye potentials are not brain slowing: the channels they reach (the frontal chain for blinks
    # and vertical movements, F7/F8 for lateral ones) leave the slowing rules in that segment.
    for_slowing = m.usable.copy()
    for_slowing &= ~((eye["eye_blink"] | eye["vertical"])[:, None] & _names_mask(_FRONTAL)[None])
    for_slowing[:, [_INDEX["F7"], _INDEX["F8"]]] &= ~eye["lateral"][:, None]
    if reference is not None:
        # Nor are the large slow swings of a movement (stop 46: a visual-task subject's movements
        # read as generalized and focal slowing): its segment's slowing is "obscured" (_slowing_of_segment).
        flags["movement"] = movement_artifacts(m.x32, reference, m.usable, rhythmic_event)
    return flags, for_slowing


def _rhythm_rules(m: _BatchMeasures, source_highpass_hz: Optional[float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Dominant rhythm and PDR of every segment (``rhythm_*``, ``pdr_*``): ``(rhythm_hz (n,)
    NaN = none, pdr_hz (n,), pdr_ok (n,) bool)``."""
    # Dominant rhythm: the highest peak above the aperiodic component of the mean spectrum over
    # the posterior recorded channels (the background rhythm of wakefulness is read there, ACNS
    # 2021), over all recorded channels when none is posterior.
    posterior = m.usable & _names_mask(_POSTERIOR)[None]
    region_for_rhythm = np.where(posterior.any(-1, keepdims=True), posterior, m.usable)
    fit_range = THRESHOLDS["rhythm_fit_range_hz"]
    if source_highpass_hz and 1.5 * source_highpass_hz > fit_range[0]:
        fit_range = (1.5 * float(source_highpass_hz), fit_range[1])
    rhythm_hz = dominant_rhythm(_group_mean(m.psd, region_for_rhythm), m.freqs, fit_range)
    # Posterior dominant rhythm: the same estimate inside 7.5-13.5 Hz over the posterior
    # channels, at least 2x the aperiodic component, and *posterior*: alpha holds at least as
    # large a share of power over the back of the head as over the front (anteriorized alpha of
    # drowsiness, sleep or alpha coma is not a PDR).
    pdr_hz, pdr_height = _flattened_peak(_group_mean(m.psd, posterior), m.freqs, *THRESHOLDS["pdr_range_hz"], fit_range=fit_range)
    frontal = m.usable & _names_mask(_FRONTAL)[None]
    alpha_share = m.powers[..., BANDS.index("alpha")] / np.maximum(m.total, 1e-12)
    anteriorized = frontal.any(-1) & (
        _group_mean(alpha_share, posterior) < THRESHOLDS["pdr_posterior_over_frontal"] * _group_mean(alpha_share, frontal)
    )
    pdr_ok = posterior.any(-1) & np.isfinite(pdr_hz) & (pdr_height >= np.log10(THRESHOLDS["pdr_peak_over_background"])) & ~anteriorized
    return rhythm_hz, pdr_hz, pdr_ok


def _band_power_rules(m: _BatchMeasures) -> dict[str, Any]:
    """Band powers by region and hemisphere from the recorded (spatially valid) electrodes only
    (``region_min_electrodes``, ``hemisphere_min_electrodes``, ``asymmetry_min_pairs`` through
    ``spatial_coverage``): ``{"coverage", "region_powers" (n, 5, 5), "hemisphere_powers",
    "band_of_power" (n,), "region_share" (n, 5, 5)}``."""
    coverage = spatial_coverage(m.spatial)
    region_powers = np.stack([(m.powers * (m.spatial & _REGION_MASKS[r])[..., None]).sum(1) for r in REGIONS], 1)  # (n, 5, 5)
    hemisphere_powers = np.stack([(m.powers * (m.spatial & _HEMISPHERE_MASKS[h])[..., None]).sum(1) for h in HEMISPHERES], 1)
    # The band that dominates: the rhythm's band, else the band holding most of the 1-30 Hz power
    # of the recorded channels (no sub-1 Hz drift in it).
    usable_psd = _group_mean(m.psd, m.usable)  # (n, n_freqs)
    freqs = m.freqs
    df = freqs[1] - freqs[0]
    above_1 = np.stack([usable_psd[:, (freqs >= max(BAND_EDGES_HZ[b][0], 1.0)) & (freqs < min(BAND_EDGES_HZ[b][1], 30.0))].sum(-1) * df
                        for b in BANDS], -1)  # fmt: skip
    return {
        "coverage": coverage,
        "region_powers": region_powers,
        "hemisphere_powers": hemisphere_powers,
        "band_of_power": above_1.argmax(-1),
        "region_share": region_powers / np.maximum(region_powers.sum(-1, keepdims=True), 1e-12),
    }


def _asymmetry_indices(total: np.ndarray, spatial: np.ndarray) -> np.ndarray:
    """``(n,)`` asymmetry index (R-L)/(R+L) of total power over homologous pairs recorded on both sides."""
    pairs = spatial[:, _PAIRS[:, 0]] & spatial[:, _PAIRS[:, 1]]  # (n, 8)
    left = (total[:, _PAIRS[:, 0]] * pairs).sum(-1)
    right = (total[:, _PAIRS[:, 1]] * pairs).sum(-1)
    return np.where(left + right > 0, (right - left) / np.maximum(left + right, 1e-12), 0.0)


def _rhythm_of_segment(rhythm_hz: float, pdr_hz: float, pdr_ok: bool) -> tuple[Optional[float], Optional[float]]:
    """One segment's ``(dominant_frequency_hz, posterior_dominant_rhythm_hz)``, rounded to 0.1 Hz."""
    rhythm = None if np.isnan(rhythm_hz) else round(float(rhythm_hz), 1)
    pdr = round(float(pdr_hz), 1) if pdr_ok else None
    if rhythm is None and pdr is not None:
        # A measured PDR is a posterior dominant rhythm (ACNS 2021): "no dominant rhythm" beside
        # it would contradict it (the rhythm rule's 1 Hz-smoothed 2x test can miss a narrow alpha
        # peak the PDR rule finds).
        rhythm = pdr
    return rhythm, pdr


def _band_power_of_segment(
    coverage: dict[str, Any], region_powers: np.ndarray, hemisphere_powers: np.ndarray, region_share: np.ndarray, band: str
) -> dict[str, Any]:
    """One segment's ``band_power_by_region``, ``band_power_by_hemisphere`` and ``predominant_region``
    (``NOT_ASSESSABLE`` where ``spatial_coverage`` says so)."""
    by_region = {r: (_relative_dict(region_powers[i]) if coverage["regions"][i] else NOT_ASSESSABLE) for i, r in enumerate(REGIONS)}
    by_hemisphere = {h: (_relative_dict(hemisphere_powers[i]) if coverage["hemispheres"][i] else NOT_ASSESSABLE)
                     for i, h in enumerate(HEMISPHERES)}  # fmt: skip
    if coverage["predominant_region"]:
        predominant = REGIONS[int(region_share[:, BANDS.index(band)].argmax())]
    else:
        predominant = NOT_ASSESSABLE
    return {"band_power_by_region": by_region, "band_power_by_hemisphere": by_hemisphere, "predominant_region": predominant}


def _asymmetry_of_segment(assessable: bool, index: float) -> "Asymmetry":
    """One segment's ``Asymmetry`` (``asymmetry_index``): the attenuated side, or none."""
    if not assessable:
        return Asymmetry(side=NOT_ASSESSABLE, index=None)
    index = float(index)
    side = "none"
    if abs(index) >= THRESHOLDS["asymmetry_index"]:
        side = "left" if index > 0 else "right"  # the attenuated side
    return Asymmetry(side=side, index=round(index, 2))


def _slowing_of_segment(
    focal: bool, focal_side: int, focal_region: int, slow_share: float, band: str, pdr: Optional[float], focal_assessable: Any,
    hemispheres_covered: Any = True, movement: bool = False,
) -> "Slowing":
    """One segment's ``Slowing``: obscured under a movement artifact; else focal (``focal_slowing_*``,
    found by ``_focal_slowing``), else generalized (``generalized_slow_fraction``) where both
    hemispheres are recorded and widespread where they are not, else none."""
    if movement:
        return Slowing(kind="obscured", focal_assessable=bool(focal_assessable))
    # Generalized: delta+theta >= 70 % of the power everywhere (eye channels aside) with a
    # delta/theta dominant band and no PDR (diffuse background slowing).
    if focal:
        # A focal slowing found is reported on any montage; ``focal_assessable`` still says whether
        # the montage could have found one anywhere (a sparse one could not: its absence elsewhere
        # is not established), so the field means the same in every segment of a montage.
        return Slowing(kind="focal", side=HEMISPHERES[int(focal_side)], region=REGIONS[int(focal_region)],
                       focal_assessable=bool(focal_assessable))  # fmt: skip
    if slow_share >= THRESHOLDS["generalized_slow_fraction"] and band in ("delta", "theta") and pdr is None:
        # Generalized slowing involves both hemispheres (ACNS 2021: "generalized" = bilateral,
        # diffuse); three midline electrodes show a slow background but not its extent.
        if bool(hemispheres_covered):
            return Slowing(kind="generalized", side="bilateral", region=None, focal_assessable=bool(focal_assessable))
        return Slowing(kind="widespread", side=None, region=None, focal_assessable=bool(focal_assessable))
    return Slowing(focal_assessable=bool(focal_assessable))


def _segment_findings(k: int, m: _BatchMeasures, rules: dict[str, Any], bad: list[str]) -> "Findings":
    """Segment ``k``'s ``Findings`` from the batch's rule outputs (``compute_findings``);
    ``change_from_previous`` left None."""
    rhythm_hz, pdr_hz, pdr_ok = rules["rhythm"]
    rhythm, pdr = _rhythm_of_segment(rhythm_hz[k], pdr_hz[k], bool(pdr_ok[k]))
    bands = rules["bands"]
    band = dominant_band_of(rhythm) if rhythm is not None else BANDS[int(bands["band_of_power"][k])]
    coverage = {key: value[k] for key, value in bands["coverage"].items()}
    focal, focal_side, focal_region = rules["focal"]
    findings = Findings(
        dominant_frequency_hz=rhythm,
        dominant_band=band,
        posterior_dominant_rhythm_hz=pdr,
        **_band_power_of_segment(coverage, bands["region_powers"][k], bands["hemisphere_powers"][k], bands["region_share"][k], band),
        asymmetry=_asymmetry_of_segment(bool(coverage["asymmetry"]), rules["asymmetry_index"][k]),
        slowing=_slowing_of_segment(
            focal[k], focal_side[k], focal_region[k], rules["slow_share"][k], band, pdr, coverage["focal_slowing"],
            coverage["hemispheres"].all(), "movement" in rules["flags"] and bool(rules["flags"]["movement"][k]),
        ),
        artifacts=sorted(name for name, hit in rules["flags"].items() if hit[k]),
        amplitude_uv=float(round(float(rules["amplitude_median"][k]))),
        labels={},
        change_from_previous=None,
        interpolated_channels=[c for c, mk in zip(STANDARD_CHANNELS, m.masks[k]) if not mk],
        bad_channels=list(bad),
    )
    # The background as the band of most power and its region, for a state whose background is not a
    # rhythm (N3, apply_state); kept on the record, not serialized.
    power_band = BANDS[int(bands["band_of_power"][k])]
    power_region = REGIONS[int(bands["region_share"][k][:, BANDS.index(power_band)].argmax())] if coverage["predominant_region"] else NOT_ASSESSABLE
    findings.__dict__["_power_background"] = (power_band, power_region)
    return findings


def compute_findings(
    eeg_uv: np.ndarray,
    sampling_rate: float = 200.0,
    channel_mask: Optional[np.ndarray] = None,
    psd: Optional[np.ndarray] = None,
    freqs: Optional[np.ndarray] = None,
    line_freq: Optional[float] = None,
    raw_flat: Optional[np.ndarray] = None,
    previous: Optional[list["Findings"]] = None,
    history: int = CHANGE_WINDOW_SEGMENTS,
    spatial_mask: Optional[np.ndarray] = None,
    bad_channels: Sequence[str] = (),
    source_highpass_hz: Optional[float] = None,
    amplitude_reference: Optional[AmplitudeReference] = None,
    rhythmic_event: Optional[np.ndarray] = None,
) -> list["Findings"]:
    """Quantitative findings of consecutive segments of one recording (vectorized over segments).

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
        spatial_mask: ``(19,)`` or ``(n_segments, 19)`` bool, the channels whose signal supports
            spatial claims (default ``channel_mask``); the front-end leaves out bipolar
            derivations placed at their first electrode. See ``spatial_coverage``.
        bad_channels: source channels the front-end found bad and left out (named in every
            segment's findings; their 10-20 sites are interpolated, so not in ``channel_mask``).
        source_highpass_hz: high-pass the recording was stored with (MNE ``info["highpass"]``);
            above 0.67 Hz the 1/f fit and the rhythm search start at 1.5x it, above the filter's
            edge, which would otherwise read as a peak.
        amplitude_reference: the recording's ``AmplitudeReference`` (the front-end measures it on
            the whole recording): movement artifacts are found against it (``movement_artifacts``);
            None finds none.
        rhythmic_event: ``(n_segments,)`` bool, a spike-and-wave or rhythmic delta event lies in
            the segment (its large waves are no movement).

    Returns:
        One ``Findings`` per segment; ``labels`` empty (the corpus builder fills them).
    """
    eeg_uv = np.asarray(eeg_uv)
    if eeg_uv.ndim != 3 or eeg_uv.shape[1] != len(STANDARD_CHANNELS):
        raise ValueError(
            f"compute_findings: expected eeg_uv of shape (n_segments, 19, n_times), got {eeg_uv.shape}; "
            "harmonize the channels to STANDARD_CHANNELS first"
        )
    m = _batch_measures(eeg_uv, sampling_rate, channel_mask, psd, freqs, raw_flat, spatial_mask)
    flags, for_slowing = _artifact_rules(eeg_uv, m, sampling_rate, line_freq, amplitude_reference, rhythmic_event)
    rules = {
        "flags": flags,
        "rhythm": _rhythm_rules(m, source_highpass_hz),
        "bands": _band_power_rules(m),
        "asymmetry_index": _asymmetry_indices(m.total, m.spatial),
        "focal": _focal_slowing(m.slow, m.total, m.spatial & for_slowing),
        "slow_share": (m.slow * for_slowing).sum(-1) / np.maximum((m.total * for_slowing).sum(-1), 1e-12),
        "amplitude_median": _masked_median(m.amplitude, m.usable),
    }
    history_list = list(previous or [])[-history:]
    bad = sorted(bad_channels)
    results: list[Findings] = []
    for k in range(m.n):
        findings = _segment_findings(k, m, rules, bad)
        _set_change(findings, history_list[-history:])
        history_list.append(findings)
        results.append(findings)
    return results


__all__ += ["apply_state"]


def apply_state(
    findings: Sequence["Findings"],
    states: Sequence[str],
    previous: Optional[Sequence["Findings"]] = None,
    history: int = CHANGE_WINDOW_SEGMENTS,
) -> list["Findings"]:
    """Set the vigilance state of consecutive segments, in place, and read slowing and the PDR in its light.

    Diffuse slowing is a finding of wakefulness: the delta and theta of drowsiness and sleep
    (AASM: N1 theta, N2 and N3 delta, REM's mixed theta and sawtooth waves) are physiological, and
    a clinical report describes the background of the waking record (ACNS guideline 7, 2016). In a
    state of ``SLEEP_STATES`` generalized (or widespread) slowing is therefore reported as none; focal slowing
    stays (a lateralized difference persists across states). Likewise the posterior dominant
    rhythm is a rhythm of wakefulness: in ``NO_PDR_STATES`` (N1, N2, N3, REM) none is reported, and
    sleep spindles are reported only in ``SPINDLE_STATES`` (N2, N3). The slowing, PDR and events
    measured by the rules are kept on the record (not serialized), so a later state
    (a source's expert stage overriding the stager) restores them. ``change_from_previous`` is
    recomputed against ``previous``; in ``NO_PDR_STATES`` it has no "faster" or "slower" (the
    dominant frequency there is a peak of sleep's own waveforms, see ``_changes``). In
    ``SLOW_WAVE_STATES`` (N3) the background is its slow waves: no dominant rhythm, the band of most
    power and its region (computed by the rules, kept on the record) instead of a spectral peak.

    Args:
        findings: the segments' ``Findings``, in time order (modified in place and returned).
        states: one of ``STATES`` per segment.
        previous: findings of the segments just before these (same recording), as for
            ``compute_findings``; None or empty at a recording's start.
        history: how many preceding segments the change is measured against.
    """
    if len(states) != len(findings):
        raise ValueError(f"apply_state: {len(findings)} findings but {len(states)} states; give one state per segment")
    history_list = list(previous or [])[-history:]
    for item, state in zip(findings, states):
        check_option("state", state, STATES, where="apply_state")
        measured = item.__dict__.setdefault("_measured_slowing", item.slowing)
        if state in SLEEP_STATES and measured.kind in ("generalized", "widespread"):
            item.slowing = dataclasses.replace(measured, kind="none", side=None, region=None)
        else:
            item.slowing = measured
        pdr = item.__dict__.setdefault("_measured_pdr_hz", item.posterior_dominant_rhythm_hz)
        item.posterior_dominant_rhythm_hz = None if state in NO_PDR_STATES else pdr
        rhythm = item.__dict__.setdefault("_measured_rhythm", (item.dominant_frequency_hz, item.dominant_band, item.predominant_region))
        power = item.__dict__.get("_power_background")
        if state in SLOW_WAVE_STATES and power is not None:
            item.dominant_frequency_hz, (item.dominant_band, item.predominant_region) = None, power
        else:
            item.dominant_frequency_hz, item.dominant_band, item.predominant_region = rhythm
        events = item.__dict__.setdefault("_measured_events", list(item.events))
        item.events = [e for e in events if e.kind != "sleep_spindle" or state in SPINDLE_STATES]
        item.state = state
        _set_change(item, history_list[-history:])
        history_list.append(item)
    return list(findings)
