"""Quantitative findings per 10 s segment: the typed record shared by the front-end, the corpus
builder, the evaluator and the Space.

The record is plain data (numbers, strings, lists, dicts) so that it serializes to JSON and to a
Parquet struct without custom code. Values are stored at the precision the narratives use
(frequencies to 0.1 Hz, relative powers to 0.01, amplitudes to 1 uV), so that text written from a
record and parsed back gives the same record.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Literal, Optional

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
