"""Findings -> clinical paragraph (``describe``) and paragraph -> findings (``parse``).

The writer turns one segment's quantitative ``Findings`` and harmonized source labels into an EEG
report paragraph. Each finding has several phrasings; a seeded RNG picks one per sentence so the
corpus has controlled variation, while the sentence order stays the clinical reading order:
background and dominant frequency, posterior dominant rhythm, spatial distribution, amplitude,
symmetry, slowing, artifacts, source labels, change from the preceding segments.

The parser knows every phrasing the writer uses and recovers the *narrative fields* (what a
description asserts, ``findings_to_fields``) from text, whatever the sentence order, case or
spacing. The round trip is exact::

    parse(describe(findings, labels, seed=s)) == findings_to_fields(findings, labels)

which is what lets the evaluator score the clinical content of generated text field by field
(``NARRATIVE_FIELDS`` and ``FIELD_SPECS`` say which fields exist and how each is compared).
A field that the text does not mention parses as ``None``.
"""

from __future__ import annotations

import hashlib
import logging
import random
import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional, Sequence

from modeling_neuronarrator.findings_neuronarrator import (
    AMPLITUDE_CATEGORIES,
    ARTIFACT_TYPES,
    BANDS,
    CHANGE_TYPES,
    CHANGE_WINDOW_SEGMENTS,
    EVENT_KINDS,
    FINDING_TARGETS,
    NO_PDR_STATES,
    NOT_ASSESSABLE,
    REGIONS,
    SLOWING_KINDS,
    STATES,
    Event,
    Findings,
    amplitude_category,
    change_window_text,
    dominant_band_of,
    is_sigma_peak,
    measured_change_window,
    seconds_text,
)
from modeling_neuronarrator.eeg_io_neuronarrator import STANDARD_CHANNELS
from modeling_neuronarrator.validation_neuronarrator import check_option

from .labels import LABEL_VOCABULARY, check_labels

__all__ = [
    "AMPLITUDE_CATEGORIES",
    "FIELD_SPECS",
    "FieldSpec",
    "NARRATIVE_FIELDS",
    "change_window_text",
    "described_change_window",
    "describe",
    "event_detail",
    "event_from_detail",
    "findings_to_fields",
    "parse",
    "rephrase_retired",
    "seed_from_id",
    "stated_change_window",
]

logger = logging.getLogger(__name__)

@dataclass(frozen=True)
class FieldSpec:
    """How one narrative field is typed, where it comes from and how it is compared.

    ``FIELD_SPECS`` is the project's one vocabulary: ``Findings`` attribute -> narrative field ->
    stage-1 head targets, with the tolerance of the one agreement rule
    (``dataset_builder.agreement.values_agree``) that training quality, the report's consistency
    check and the evaluator all use.

    Attributes:
        name: key in ``findings_to_fields`` / ``parse`` output.
        kind: ``"categorical"`` (one string of ``values``), ``"numeric"`` (float/int in ``unit``)
            or ``"set"`` (sorted tuple of ``values``, possibly empty).
        values: allowed values of categorical and set fields, else None.
        unit: unit of numeric fields.
        tolerance: absolute tolerance of numeric fields (and of the event times of ``event_details``).
        relative_tolerance: relative tolerance of numeric fields (of the measured value); a field
            with both allows the larger.
        label: True for harmonized source-label fields (``LABEL_VOCABULARY`` keys).
        finding: the ``Findings`` attribute the field is read from (dotted path; ``events[].kind``
            for an attribute of each list item; ``labels.<key>`` for source labels).
        head_targets: the ``FINDING_TARGETS`` (stage-1 findings head) read off the same attribute.
    """

    name: str
    kind: str
    values: Optional[tuple[str, ...]] = None
    unit: Optional[str] = None
    tolerance: float = 0.0
    relative_tolerance: float = 0.0
    label: bool = False
    finding: Optional[str] = None
    head_targets: tuple[str, ...] = ()


def _targets(prefix: str) -> tuple[str, ...]:
    """The ``FINDING_TARGETS`` named ``prefix`` or ``prefix:<value>``."""
    return tuple(t for t in FINDING_TARGETS if t == prefix or t.startswith(prefix + ":"))


_SIDES = ("left", "right")
_SLOWING_SIDES = ("left", "right", "bilateral")

_QUANTITATIVE_SPECS = (
    # The vigilance state comes first: a clinical report reads the background in its light.
    FieldSpec("state", "categorical", STATES, finding="state"),
    # "absent": no peak stands above the aperiodic (1/f) background; the frequency is then None.
    FieldSpec("dominant_rhythm", "categorical", ("present", "absent"), finding="dominant_frequency_hz"),
    # Frequencies within 1 Hz: automated PDR estimates agree with the neurologists' visual reading
    # within 1.2 Hz in 92.5 % of 1215 clinical EEGs (Lodder & van Putten 2011, J Neurosci Methods
    # 200:86-93); the writer gives 0.1 Hz.
    FieldSpec("dominant_frequency_hz", "numeric", unit="Hz", tolerance=1.0, finding="dominant_frequency_hz"),
    FieldSpec("dominant_band", "categorical", BANDS, finding="dominant_band", head_targets=_targets("band")),
    # Presence is its own field: an absent PDR is a finding, not a missing value.
    FieldSpec("pdr", "categorical", ("present", "absent"), finding="posterior_dominant_rhythm_hz", head_targets=_targets("pdr")),
    FieldSpec("pdr_hz", "numeric", unit="Hz", tolerance=1.0, finding="posterior_dominant_rhythm_hz"),
    # NOT_ASSESSABLE: the recorded electrodes do not cover every region (spatial_coverage).
    FieldSpec("predominant_region", "categorical", (*REGIONS, NOT_ASSESSABLE), finding="predominant_region"),
    # Amplitude within 25 % of the measured value (the project's convention): peak-to-peak amplitude
    # depends on the reference and the montage, and readers estimate it by eye in coarse steps; 25 %
    # keeps a value inside its word's range (AMPLITUDE_CATEGORIES) except near a bound.
    FieldSpec("amplitude_uv", "numeric", unit="uV", relative_tolerance=0.25, finding="amplitude_uv"),
    FieldSpec("amplitude_category", "categorical", tuple(name for name, _ in AMPLITUDE_CATEGORIES), finding="amplitude_uv"),
    FieldSpec("asymmetry_side", "categorical", ("left", "right", "none", NOT_ASSESSABLE), finding="asymmetry.side", head_targets=_targets("asymmetry")),
    FieldSpec("slowing_kind", "categorical", SLOWING_KINDS, finding="slowing.kind", head_targets=_targets("slowing")),
    # Side and region are asserted for focal slowing only (None otherwise).
    FieldSpec("slowing_side", "categorical", _SLOWING_SIDES, finding="slowing.side"),
    FieldSpec("slowing_region", "categorical", REGIONS, finding="slowing.region"),
    # Stated only when no slowing is found and the montage cannot show focal slowing everywhere.
    FieldSpec("focal_slowing", "categorical", (NOT_ASSESSABLE,), finding="slowing.focal_assessable"),
    FieldSpec("artifacts", "set", ARTIFACT_TYPES, finding="artifacts", head_targets=_targets("artifact")),
    # Events inside the segment: their kinds, and one canonical string per event (``event_detail``:
    # kind, rate, onset-offset in s from the segment start, channels). Times agree within 0.5 s
    # (``tolerance``): the detector reads onset and offset off a 0.4 s power envelope and finds
    # planted discharges within 0.5 s (events_neuronarrator); rates within
    # ``agreement.EVENT_RATE_TOLERANCE_HZ``.
    FieldSpec("events", "set", EVENT_KINDS, finding="events[].kind"),
    FieldSpec("event_details", "set", unit="s", tolerance=0.5, finding="events"),
    # None for a recording's first segment (nothing to compare with).
    FieldSpec("change", "set", CHANGE_TYPES, finding="change_from_previous"),
)
FIELD_SPECS: dict[str, FieldSpec] = {spec.name: spec for spec in _QUANTITATIVE_SPECS}
FIELD_SPECS.update(
    {key: FieldSpec(key, "categorical", tuple(values), label=True, finding=f"labels.{key}") for key, values in LABEL_VOCABULARY.items()}
)
NARRATIVE_FIELDS: tuple[str, ...] = tuple(FIELD_SPECS)

# ---------------------------------------------------------------------------------------------
# Phrases of the values (one phrase per value: the parser maps it back).

_ARTIFACT_PHRASES = {
    "eye_blink": "eye blink",
    "eye_movement": "eye movement",
    "muscle": "muscle",
    "electrode_pop": "electrode pop",
    "line_noise": "line noise",
    "flat_channel": "flat channel",
    # "patient movement", not "movement": the parser must not read it inside "eye movement".
    "movement": "patient movement",
}
_SLEEP_STAGE_STATES = ("N1", "N2", "N3", "REM")  # states written as "<stage> sleep"
_EVENT_PHRASES = {
    "generalized_spike_wave": "generalized spike-and-wave discharge",
    "lateralized_rhythmic_delta": "lateralized rhythmic delta activity",
    "sleep_spindle": "sleep spindle",
}
_NO_CHANNELS = "unspecified channels"
_CHANNEL_BY_LOWER = {name.lower(): name for name in STANDARD_CHANNELS}
_CHANGE_PHRASES = {
    "stable": "the activity is unchanged",
    "faster": "the dominant frequency has increased",
    "slower": "the dominant frequency has decreased",
    "higher_amplitude": "the amplitude has increased",
    "lower_amplitude": "the amplitude has decreased",
    "slowing_appeared": "slowing has appeared",
    "slowing_resolved": "slowing has resolved",
    "artifacts_appeared": "new artifacts have appeared",
    "artifacts_resolved": "artifacts have resolved",
}

# ---------------------------------------------------------------------------------------------
# Sentence templates. Each sentence group has variants (one per shape of the finding); each variant
# has several phrasings. Placeholders are {name}; the parser turns a template into a regex.

_SENTENCES: dict[str, dict[str, tuple[str, ...]]] = {
    "state": {
        "awake": (
            "The patient is awake.",
            "The recording shows wakefulness.",
            "This segment is recorded in wakefulness.",
        ),
        "drowsy": (
            "The patient is drowsy.",
            "The recording shows drowsiness.",
            "This segment is recorded in drowsiness.",
        ),
        "sleep": (
            "The patient is in {stage} sleep.",
            "The recording shows {stage} sleep.",
            "This segment is recorded in {stage} sleep.",
        ),
        "not_assessed": (
            "The vigilance state is not assessed.",
            "The state of vigilance could not be assessed.",
            "Vigilance is not assessed in this segment.",
        ),
    },
    "events": {
        "none": (
            "No spike-and-wave discharges are detected.",
            "There are no spike-and-wave discharges.",
            "Spike-and-wave discharges are absent.",
        ),
    },
    "background": {
        # The dominant rhythm is the highest peak above the aperiodic (1/f) background, which need
        # not be the band holding most of the power (EEGbase P300: a 28.6 Hz beta peak over 0.87 of
        # the power in delta): these phrasings name the rhythm, never what dominates the power.
        "main": (
            "The dominant rhythm of the background is {band} activity at {freq} Hz.",
            "The dominant frequency of the background is {freq} Hz, in the {band} range.",
            "The most prominent rhythm of the background is {freq} Hz, in the {band} range.",
            "A {freq} Hz {band} rhythm stands out most above the background activity.",
        ),
        # N2/N3 with the peak at 11-16 Hz (findings ``is_sigma_peak``): spindle activity, not the
        # alpha or beta its frequency falls in (the band is the frequency's: ``parse`` reads it back).
        "sigma": (
            "The dominant frequency of the background is {freq} Hz, in the sigma range of sleep spindles.",
            "The most prominent rhythm of the background is {freq} Hz sigma activity, the frequency of sleep spindles.",
            "A {freq} Hz rhythm in the sigma range of sleep spindles stands out most above the background activity.",
        ),
        "no_rhythm": (
            "The background is dominated by {band} activity without a dominant rhythm.",
            "No dominant rhythm stands out of the background; {band} activity holds most of its power.",
            "There is no dominant rhythm; the background is mostly {band} activity.",
        ),
    },
    "pdr": {
        "present": (
            "A posterior dominant rhythm of {pdr} Hz is present.",
            "The posterior dominant rhythm is {pdr} Hz.",
            "Over the posterior head regions, a well-formed dominant rhythm of {pdr} Hz is seen.",
        ),
        "absent": (
            "No clear posterior dominant rhythm is identified.",
            "A posterior dominant rhythm is not seen.",
            "There is no well-defined posterior dominant rhythm.",
        ),
        # N1-N3 and REM have no PDR (findings NO_PDR_STATES): its absence is expected, not a finding,
        # and a reader should not take it for the absent PDR of an awake record.
        "absent_in_sleep": (
            "As expected in {stage} sleep, there is no posterior dominant rhythm.",
            "There is no posterior dominant rhythm, as expected in {stage} sleep.",
            "The posterior dominant rhythm of wakefulness is absent in {stage} sleep.",
        ),
    },
    "distribution": {
        "main": (
            "This activity is most prominent over the {region} region.",
            "The dominant activity is maximal over the {region} leads.",
            "Spatially, the dominant band is strongest in the {region} region.",
        ),
        "not_assessable": (
            "The spatial distribution cannot be assessed from the recorded electrodes.",
            "Too few electrodes were recorded to say where this activity is maximal.",
            "Where the activity is maximal cannot be judged from the recorded electrodes.",
        ),
    },
    "amplitude": {
        "main": (
            "The amplitude is {ampcat}, about {amp} µV.",
            "Amplitudes are {ampcat}, with a median peak-to-peak value of {amp} µV.",
            "The record is of {ampcat} amplitude ({amp} µV peak to peak).",
        ),
    },
    "asymmetry": {
        "none": (
            "The background is symmetric between the hemispheres.",
            "No hemispheric asymmetry is seen.",
            "Both hemispheres show comparable power.",
        ),
        "side": (
            "There is an asymmetry with lower power over the {side} hemisphere.",
            "Power is attenuated over the {side} hemisphere.",
            "An asymmetry is noted, the {side} hemisphere being attenuated.",
        ),
        "not_assessable": (
            "Hemispheric symmetry cannot be assessed from the recorded electrodes.",
            "Too few homologous electrodes were recorded to judge symmetry.",
            "Symmetry between the hemispheres cannot be judged from this montage.",
        ),
    },
    "slowing": {
        "none": (
            "There is no focal or generalized slowing.",
            "No slowing is present.",
            "Slowing is absent.",
        ),
        "generalized": (
            "There is generalized slowing of the background.",
            "Diffuse slowing of the background is present.",
            "The background shows generalized slowing.",
        ),
        # Slow at every recorded electrode, on a montage without both hemispheres: not "generalized".
        "widespread": (
            "The background is slow at every recorded electrode; too few electrodes were recorded to call the slowing generalized.",
            "Slowing is present at all recorded electrodes, which do not cover both hemispheres.",
            "The recorded electrodes all show a slow background; whether the slowing is generalized cannot be judged from them.",
        ),
        "focal_located": (
            "There is focal slowing over the {loc}.",
            "Focal slowing is seen over the {loc}.",
            "Slowing is focal, located over the {loc}.",
        ),
        "focal": (
            "There is focal slowing without a clear localization.",
            "Focal slowing is present, not clearly localized.",
            "A focal slowing is seen, its location uncertain.",
        ),
        # No slowing found where the montage cannot show focal slowing: only "not generalized".
        "none_generalized_only": (
            "There is no generalized slowing.",
            "Generalized slowing is not seen.",
            "The background shows no generalized slowing.",
        ),
        # In a sleep stage diffuse slow activity is physiological, never "slowing" (findings
        # apply_state): the sentence says whose slow waves they are instead of denying a slowing.
        "none_in_sleep": (
            "There is no focal slowing; the slow activity is that of {stage} sleep.",
            "Apart from the slow activity of {stage} sleep, no slowing is seen.",
            "No focal slowing is seen, and the slow waves are those of {stage} sleep.",
        ),
        "none_generalized_only_in_sleep": (
            "The slow activity is that of {stage} sleep.",
            "Slow waves are those of {stage} sleep.",
            "The slow activity belongs to {stage} sleep.",
        ),
        # A movement artifact covers the segment (findings movement_artifacts): its slow swings are
        # not the brain's, and no slowing, present or absent, can be read under them.
        "obscured": (
            "Patient movement obscures the background, so slowing cannot be assessed.",
            "Whether there is slowing cannot be judged under the patient movement artifact.",
            "The movement artifact hides the background; slowing is not assessable in this segment.",
        ),
    },
    "focal_coverage": {
        "not_assessable": (
            "Focal slowing cannot be assessed from the recorded electrodes.",
            "The montage is too sparse to exclude focal slowing.",
            "Whether there is focal slowing cannot be judged from these electrodes.",
        ),
    },
    "artifacts": {
        "none": (
            "No artifacts are seen.",
            "The segment is free of artifacts.",
            "There are no significant artifacts.",
        ),
        "some": (
            "{artifacts} artifacts are present.",
            "The segment contains {artifacts} artifacts.",
            "It is contaminated by {artifacts} artifacts.",
        ),
    },
    "change": {
        "main": (
            "Compared with the preceding {dur}, {changes}.",
            "Relative to the previous {dur}, {changes}.",
            "Since the preceding {dur}, {changes}.",
        ),
    },
}

# One sentence per event (every one is parsed, not only the first). Times in s from the segment start.
_EVENT_SENTENCES: dict[str, tuple[str, ...]] = {
    "rate": (
        "A {rate} Hz {kind} is seen from {onset} s to {offset} s over {channels}.",
        "There is a {rate} Hz {kind} between {onset} s and {offset} s, involving {channels}.",
        "From {onset} s to {offset} s, a {rate} Hz {kind} occurs over {channels}.",
    ),
    "no_rate": (
        "A {kind} is seen from {onset} s to {offset} s over {channels}.",
        "There is a {kind} between {onset} s and {offset} s, involving {channels}.",
        "From {onset} s to {offset} s, a {kind} occurs over {channels}.",
    ),
}

# Phrasings the writer wrote before and no longer writes, still read by ``parse`` so that the
# narratives of models trained on them (stop 28's default, the leaderboard's cached runs) are scored
# and checked as before. "Dominated by ... at X Hz" claimed that the rhythm holds most of the power.
_READ_ONLY_SENTENCES: dict[tuple[str, str], tuple[str, ...]] = {
    ("background", "main"): (
        "The background is dominated by {band} activity at {freq} Hz.",
        "Background activity shows a predominant {freq} Hz {band} rhythm.",
        "A {freq} Hz {band} rhythm dominates the background.",
    ),
}

# Label sentences: one group per LABEL_VOCABULARY key, each phrasing anchored on words of its own so
# that phrases shared between keys ("eye movement") cannot be read under the wrong key.
_LABEL_SENTENCES: dict[str, tuple[str, ...]] = {
    "abnormal": (
        "The recording was read as {p}.",
        "Clinically, the study is classified as {p}.",
        "The source reading is {p}.",
    ),
    "event": (
        "The annotated event is {p}.",
        "Annotators marked {p} in this segment.",
        "Event annotation: {p}.",
    ),
    "seizure": (
        "Seizure annotation: {p}.",
        "The source annotates {p} in this segment.",
        "Per the seizure annotation, this segment shows {p}.",
    ),
    "seizure_type": (
        "The seizure type is {p}.",
        "Seizure type: {p}.",
        "The seizure is classified as {p}.",
    ),
    "artifact": (
        "Annotated artifact: {p}.",
        "The source marks {p} in this segment.",
        "An annotator flagged {p}.",
    ),
    "slowing_annotation": (
        "The slowing annotation reads {p}.",
        "Slowing annotation: {p}.",
        "The source labels this segment as {p}.",
    ),
    "epilepsy": (
        "The recording comes from {p}.",
        "Diagnosis: {p}.",
        "This EEG belongs to {p}.",
    ),
    "sleep_stage": (
        "The sleep stage is {p}.",
        "This epoch is scored as {p}.",
        "Sleep staging: {p}.",
    ),
    "motor_task": (
        "The motor task is {p}.",
        "Motor task: {p}.",
        "The cued task is {p}.",
    ),
    "motor_mode": (
        "The movement is {p}.",
        "Movement mode: {p}.",
        "Movements are {p}.",
    ),
    "emotion": (
        "The stimulus elicits {p}.",
        "Emotion label: {p}.",
        "The film clip is rated as evoking {p}.",
    ),
    "mental_state": (
        "The mental state is {p}.",
        "Condition: {p}.",
        "The task condition is {p}.",
    ),
    "eyes": (
        "Recorded with {p}.",
        "The subject has {p}.",
        "Eye state: {p}.",
    ),
    "stimulus": (
        "The subject views {p}.",
        "Stimulation: {p}.",
        "The visual paradigm presents {p}.",
    ),
    "recording_quality": (
        "Recording quality: {p}.",
        "The recording quality is annotated as {p}.",
        "Quality annotation: {p}.",
    ),
}
if set(_LABEL_SENTENCES) != set(LABEL_VOCABULARY):  # a new vocabulary key needs its sentences
    raise ImportError(
        f"description.py: label sentences for {sorted(set(LABEL_VOCABULARY) - set(_LABEL_SENTENCES))} are missing; "
        "add them to _LABEL_SENTENCES"
    )


# ---------------------------------------------------------------------------------------------
# Fields




def _as_findings(findings: Findings | Mapping[str, Any] | str) -> Findings:
    if isinstance(findings, Findings):
        return findings
    if isinstance(findings, str):
        return Findings.from_json(findings)
    if isinstance(findings, Mapping):
        return Findings.from_dict(dict(findings))
    raise TypeError(f"findings must be a Findings, a dict or its JSON string, got {type(findings).__name__}")


def findings_to_fields(findings: Findings | Mapping[str, Any] | str, labels: Optional[Mapping[str, str]] = None) -> dict:
    """The narrative fields a description of ``findings`` asserts (keys: ``NARRATIVE_FIELDS``).

    Args:
        findings: a ``Findings`` (or its dict / JSON form).
        labels: harmonized labels ``{key: value}``; defaults to ``findings.labels``.

    Returns:
        ``{field: value}`` for every field of ``NARRATIVE_FIELDS``; frequencies in Hz rounded to
        0.1, amplitude in uV rounded to an int, sets as sorted tuples, ``None`` where the field
        does not apply (no PDR frequency, side/region of non-focal slowing, change of a first
        segment, labels the segment does not carry).
    """
    findings = _as_findings(findings)
    labels = dict(findings.labels if labels is None else labels)
    check_labels(labels, where="describe labels")

    fields: dict[str, Any] = dict.fromkeys(NARRATIVE_FIELDS)
    fields["state"] = check_option("state", findings.state, STATES)
    if findings.dominant_frequency_hz is None:
        fields["dominant_rhythm"] = "absent"
    else:
        fields["dominant_rhythm"] = "present"
        fields["dominant_frequency_hz"] = round(float(findings.dominant_frequency_hz), 1)
    fields["dominant_band"] = check_option("dominant_band", findings.dominant_band, BANDS)
    if findings.posterior_dominant_rhythm_hz is None:
        fields["pdr"] = "absent"
    else:
        fields["pdr"] = "present"
        fields["pdr_hz"] = round(float(findings.posterior_dominant_rhythm_hz), 1)
    fields["predominant_region"] = check_option("predominant_region", findings.predominant_region, (*REGIONS, NOT_ASSESSABLE))
    amplitude = int(round(float(findings.amplitude_uv)))
    if amplitude < 0:
        raise ValueError(f"amplitude_uv must be >= 0 uV, got {findings.amplitude_uv}")
    fields["amplitude_uv"] = amplitude
    fields["amplitude_category"] = amplitude_category(amplitude)
    fields["asymmetry_side"] = check_option("asymmetry.side", findings.asymmetry.side, ("left", "right", "none", NOT_ASSESSABLE))
    slowing = findings.slowing
    fields["slowing_kind"] = check_option("slowing.kind", slowing.kind, SLOWING_KINDS)
    if slowing.kind == "focal":
        if slowing.side is not None:
            fields["slowing_side"] = check_option("slowing.side", slowing.side, _SLOWING_SIDES)
        if slowing.region is not None:
            fields["slowing_region"] = check_option("slowing.region", slowing.region, REGIONS)
    elif slowing.kind == "none" and not slowing.focal_assessable:
        fields["focal_slowing"] = NOT_ASSESSABLE
    for artifact in findings.artifacts:
        check_option("artifacts", artifact, ARTIFACT_TYPES)
    fields["artifacts"] = tuple(sorted(set(findings.artifacts)))
    fields["events"] = tuple(sorted({check_option("events", event.kind, EVENT_KINDS) for event in findings.events}))
    fields["event_details"] = tuple(sorted(event_detail(event) for event in findings.events))
    if findings.change_from_previous is not None:
        for change in findings.change_from_previous:
            check_option("change_from_previous", change, CHANGE_TYPES)
        # "stable" only when nothing else changed: a narrative cannot say both.
        changes = sorted(set(findings.change_from_previous) - {"stable"})
        fields["change"] = tuple(changes) if changes else ("stable",)
    for key, value in labels.items():
        fields[key] = value
    return fields


def event_detail(event: Event | Mapping[str, Any], stated: bool = False) -> str:
    """Canonical string of one event, as the ``event_details`` field holds it:
    ``"generalized_spike_wave 3.0Hz 2.5-7.5s F3,F4,C3,C4"`` (rate ``-`` when None; times in s
    from the segment start, 0.1 s; channels in the event's order).

    ``stated``: the event as a narrative states it (``parse``), kept even when its offset
    precedes its onset (a generated narrative can say so; it then matches no measured event)."""
    if isinstance(event, Mapping):
        event = Event(**event)
    check_option("event kind", event.kind, EVENT_KINDS)
    for channel in event.channels:
        check_option("event channel", channel, STANDARD_CHANNELS)
    onset, offset = round(float(event.onset_s), 1), round(float(event.offset_s), 1)
    if not 0 <= onset <= offset and not stated:
        raise ValueError(f"event {event.kind}: onset {event.onset_s} s and offset {event.offset_s} s must satisfy 0 <= onset <= offset")
    rate = "-" if event.frequency_hz is None else f"{float(event.frequency_hz):.1f}"
    return f"{event.kind} {rate}Hz {onset:.1f}-{offset:.1f}s {','.join(event.channels)}"


def event_from_detail(detail: str) -> Event:
    """Inverse of ``event_detail``."""
    match = re.fullmatch(r"(\w+) (-|\d+(?:\.\d+)?)Hz (\d+(?:\.\d+)?)-(\d+(?:\.\d+)?)s ?([\w,]*)", detail.strip())
    if match is None:
        raise ValueError(f"event_from_detail: {detail!r} is not an event_details string (see event_detail)")
    kind, rate, onset, offset, channels = match.groups()
    return Event(
        kind=kind, onset_s=float(onset), offset_s=float(offset),
        channels=[c for c in channels.split(",") if c], frequency_hz=None if rate == "-" else float(rate),
    )  # fmt: skip


def seed_from_id(row_id: str) -> int:
    """A stable 32-bit seed from a row id (Python's ``hash`` is salted per process, this is not)."""
    return int.from_bytes(hashlib.sha256(row_id.encode("utf-8")).digest()[:4], "big")


# ---------------------------------------------------------------------------------------------
# Writer


def _join(items: Sequence[str]) -> str:
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " and " + items[-1]


def _slowing_location(side: Optional[str], region: Optional[str]) -> str:
    if region is not None:
        if side == "bilateral":
            return f"bilateral {region} regions"
        return f"{side} {region} region" if side else f"{region} region"
    return "both hemispheres" if side == "bilateral" else f"{side} hemisphere"


def _capitalize(sentence: str) -> str:
    return sentence[:1].upper() + sentence[1:]


def described_change_window(
    findings: Findings | Mapping[str, Any] | str, history: Optional[Sequence[Any]] = None, segment_seconds: float = 10.0
) -> str:
    """The window ``describe``'s change sentence names: the one the change was measured over
    (``Findings.change_window_segments``); a record written before that field: the history given
    (its length), else "segment"."""
    return measured_change_window(_as_findings(findings), None if history is None else len(history), segment_seconds)


def describe(
    findings: Findings | Mapping[str, Any] | str,
    labels: Optional[Mapping[str, str]] = None,
    history: Optional[Sequence[Findings]] = None,
    seed: int | str = 0,
    segment_seconds: float = 10.0,
) -> str:
    """Write the clinical paragraph of one segment.

    Args:
        findings: the segment's ``Findings`` (or its dict / JSON form).
        labels: harmonized labels ``{key: value}`` (``dataset_builder.labels``); defaults to
            ``findings.labels``.
        history: the Findings of the preceding segments of the same recording, oldest first; only
            their number is used, and only for a record written before ``Findings.change_window_segments``
            existed, to say how long a window the change refers to (otherwise the measured window;
            ``described_change_window``).
        seed: picks the phrasings; an int, or a string (a row id) hashed by ``seed_from_id``.
        segment_seconds: duration of one segment in s (for the history window wording).

    Returns:
        One paragraph of sentences in clinical reading order. ``parse`` of it gives back
        ``findings_to_fields(findings, labels)`` exactly.
    """
    findings = _as_findings(findings)
    fields = findings_to_fields(findings, labels)
    if isinstance(seed, str):
        seed = seed_from_id(seed)
    if not isinstance(seed, int):
        raise TypeError(f"seed must be an int or a row-id string, got {type(seed).__name__}")
    rng = random.Random(seed)
    # Every placeholder's text for these fields (the measured grammar reads the same table).
    values = _measured_placeholder_values(fields)

    def pick(group: str, variant: str, **extra: str) -> str:
        return _capitalize(rng.choice(_SENTENCES[group][variant]).format(**values, **extra))

    # The phrasings are drawn from one generator in this order: keep it (a seed gives one text).
    sentences = _background_sentences(fields, pick)
    sentences += _asymmetry_and_slowing_sentences(fields, pick)
    sentences += _event_sentences(fields, pick, rng)
    sentences += _artifact_and_label_sentences(fields, pick, rng)
    if fields["change"] is not None:
        sentences.append(pick("change", "main", dur=described_change_window(findings, history, segment_seconds)))
    return " ".join(sentences)


_Pick = Callable[..., str]


def _background_variant(fields: Mapping[str, Any]) -> str:
    """The background sentence's variant: no rhythm; a spindle-frequency peak of N2/N3
    (``is_sigma_peak``, its band the one its frequency falls in); else the rhythm and its band."""
    if fields["dominant_rhythm"] == "absent":
        return "no_rhythm"
    freq = fields["dominant_frequency_hz"]
    if is_sigma_peak(fields["state"], freq) and fields["dominant_band"] == dominant_band_of(freq):
        return "sigma"
    return "main"


def _background_sentences(fields: dict[str, Any], pick: _Pick) -> list[str]:
    """State, background rhythm, PDR, distribution and amplitude sentences (``describe``)."""
    background = pick("background", _background_variant(fields))
    state = fields["state"]
    return [
        pick("state", "sleep") if state in _SLEEP_STAGE_STATES else pick("state", state),
        background,
        _pdr_sentence(fields, pick),
        pick("distribution", "not_assessable" if fields["predominant_region"] == NOT_ASSESSABLE else "main"),
        pick("amplitude", "main"),
    ]


def _pdr_sentence(fields: dict[str, Any], pick: _Pick) -> str:
    """The PDR sentence: its frequency, its absence, or in a sleep stage (which has none) that its absence is expected."""
    if fields["pdr"] == "present":
        return pick("pdr", "present")
    return pick("pdr", "absent_in_sleep" if fields["state"] in NO_PDR_STATES else "absent")


def _asymmetry_and_slowing_sentences(fields: dict[str, Any], pick: _Pick) -> list[str]:
    """The asymmetry sentence, then the slowing sentence(s) (``describe``)."""
    sentences = []
    if fields["asymmetry_side"] == NOT_ASSESSABLE:
        sentences.append(pick("asymmetry", "not_assessable"))
    elif fields["asymmetry_side"] == "none":
        sentences.append(pick("asymmetry", "none"))
    else:
        sentences.append(pick("asymmetry", "side"))
    kind = fields["slowing_kind"]
    in_sleep = fields["state"] in _SLEEP_STAGE_STATES and kind == "none"
    if kind == "obscured":
        sentences.append(pick("slowing", "obscured"))
    elif fields["focal_slowing"] == NOT_ASSESSABLE:
        sentences.append(pick("slowing", "none_generalized_only_in_sleep" if in_sleep else "none_generalized_only"))
        sentences.append(pick("focal_coverage", "not_assessable"))
    elif in_sleep:
        sentences.append(pick("slowing", "none_in_sleep"))
    elif kind != "focal":
        sentences.append(pick("slowing", kind))
    elif fields["slowing_side"] is None and fields["slowing_region"] is None:
        sentences.append(pick("slowing", "focal"))
    else:
        sentences.append(pick("slowing", "focal_located"))
    return sentences


def _event_sentences(fields: dict[str, Any], pick: _Pick, rng: random.Random) -> list[str]:
    """One sentence per event in onset order, or the "no events" sentence (``describe``)."""
    if not fields["event_details"]:
        return [pick("events", "none")]
    sentences = []
    for event in sorted(map(event_from_detail, fields["event_details"]), key=lambda e: (e.onset_s, e.kind)):
        template = rng.choice(_EVENT_SENTENCES["no_rate" if event.frequency_hz is None else "rate"])
        sentences.append(_capitalize(template.format(**_event_values(event))))
    return sentences


def _event_values(event: Event) -> dict[str, Optional[str]]:
    """The text ``describe`` puts in each placeholder of an event sentence (``rate`` None without a rate)."""
    return {
        "kind": _EVENT_PHRASES[event.kind],
        "onset": f"{event.onset_s:.1f}",
        "offset": f"{event.offset_s:.1f}",
        "channels": _join(event.channels) if event.channels else _NO_CHANNELS,
        "rate": None if event.frequency_hz is None else f"{event.frequency_hz:.1f}",
    }


def _artifact_and_label_sentences(fields: dict[str, Any], pick: _Pick, rng: random.Random) -> list[str]:
    """The artifact sentence, then one sentence per label in ``LABEL_VOCABULARY`` order (``describe``)."""
    sentences = [pick("artifacts", "some" if fields["artifacts"] else "none")]
    for key in LABEL_VOCABULARY:  # fixed order: the vocabulary's
        if fields[key] is not None:
            phrase = LABEL_VOCABULARY[key][fields[key]]
            sentences.append(_capitalize(rng.choice(_LABEL_SENTENCES[key]).format(p=phrase)))
    return sentences


# ---------------------------------------------------------------------------------------------
# Parser


def _alternation(phrases: Sequence[str]) -> str:
    # Longest first, so that "eye movement artifact" is preferred over "eye movement".
    return "(?:" + "|".join(re.escape(p.lower()) for p in sorted(phrases, key=len, reverse=True)) + ")"


def _list_of(phrases: Sequence[str]) -> str:
    item = _alternation(phrases)
    return rf"{item}(?:(?:\s*,\s*and\s+|\s*,\s*|\s+and\s+){item})*"


_PLACEHOLDER_REGEX = {
    # The writer gives 0.1 Hz and whole µV; generated text may give more or fewer decimals.
    "freq": r"\d{1,3}(?:\.\d+)?",
    "pdr": r"\d{1,3}(?:\.\d+)?",
    "amp": r"\d{1,6}(?:\.\d+)?",
    "band": _alternation(BANDS),
    "region": _alternation(REGIONS),
    "ampcat": _alternation([name for name, _ in AMPLITUDE_CATEGORIES]),
    "side": _alternation(_SIDES),
    "loc": (
        rf"(?:(?:left|right|bilateral)\s+)?{_alternation(REGIONS)}\s+regions?"
        r"|(?:left|right)\s+hemisphere|both\s+hemispheres"
    ),
    "artifacts": _list_of(list(_ARTIFACT_PHRASES.values())),
    "changes": _list_of(list(_CHANGE_PHRASES.values())),
    "dur": r"\d+(?:\.\d+)?\s*s|segments?",
    "stage": _alternation([state.lower() for state in _SLEEP_STAGE_STATES]),
}
_UNIT_REGEX = r"(?:µv|μv|uv|microvolts?)"


def _anchor(template: str) -> str:
    """Longest literal stretch of a template: a text without it cannot match (cheap pre-check)."""
    literals = re.split(r"\{\w+\}", template.lower())
    pieces = [piece.strip() for literal in literals for piece in literal.split("µv")]
    return max(pieces, key=len)


def _compile(template: str, placeholders: Mapping[str, str]) -> re.Pattern:
    """Regex of a template: literal words matched case- and whitespace-insensitively, each
    ``{name}`` captured as group ``name``."""
    parts = re.split(r"\{(\w+)\}", template.lower())
    pattern = []
    for index, part in enumerate(parts):
        if index % 2:
            pattern.append(f"(?P<{part}>{placeholders[part]})")
        else:
            literal = re.escape(part).replace("\\ ", r"\s+")
            literal = literal.replace("µv", _UNIT_REGEX)
            # "9.5Hz" and "42µV" read like "9.5 Hz" and "42 µV".
            literal = re.sub(r"^\\s\+(hz|\(\?:µv)", r"\\s*\1", literal)
            pattern.append(literal)
    body = "".join(pattern)
    # Word boundary in front so that "symmetric" is not read inside "asymmetric".
    return re.compile(r"(?<![\w-])" + body)


def _location_fields(text: str) -> dict:
    words = text.split()
    side = next((w for w in words if w in _SLOWING_SIDES), None)
    region = next((w for w in words if w in REGIONS), None)
    if text.startswith("both"):
        side = "bilateral"
    return {"slowing_side": side, "slowing_region": region}


def _phrases_in(text: str, phrases: Mapping[str, str]) -> tuple[str, ...]:
    found = set()
    for value, phrase in sorted(phrases.items(), key=lambda item: len(item[1]), reverse=True):
        pattern = re.escape(phrase.lower())
        if re.search(pattern, text):
            found.add(value)
            text = re.sub(pattern, " ", text)
    return tuple(sorted(found))


# group -> variant -> (compiled templates, constant fields, converter of the match's groups)
_Converter = Callable[[Mapping[str, str]], dict]
_PARSERS: list[tuple[str, list[re.Pattern], dict, _Converter]] = []
_ANCHORS: dict[re.Pattern, str] = {}


# What each sentence variant states by itself, whatever its placeholders hold (the parser adds these).
_VARIANT_FIELDS: dict[tuple[str, str], dict[str, Any]] = {
    ("background", "main"): {"dominant_rhythm": "present"},
    ("background", "sigma"): {"dominant_rhythm": "present"},
    ("background", "no_rhythm"): {"dominant_rhythm": "absent"},
    ("distribution", "not_assessable"): {"predominant_region": NOT_ASSESSABLE},
    ("asymmetry", "not_assessable"): {"asymmetry_side": NOT_ASSESSABLE},
    ("slowing", "none_generalized_only"): {"slowing_kind": "none"},
    ("slowing", "none_generalized_only_in_sleep"): {"slowing_kind": "none"},
    ("slowing", "none_in_sleep"): {"slowing_kind": "none"},
    ("focal_coverage", "not_assessable"): {"focal_slowing": NOT_ASSESSABLE},
    ("pdr", "present"): {"pdr": "present"},
    ("pdr", "absent"): {"pdr": "absent"},
    ("pdr", "absent_in_sleep"): {"pdr": "absent"},
    ("asymmetry", "none"): {"asymmetry_side": "none"},
    ("slowing", "none"): {"slowing_kind": "none"},
    ("slowing", "generalized"): {"slowing_kind": "generalized"},
    ("slowing", "widespread"): {"slowing_kind": "widespread"},
    ("slowing", "obscured"): {"slowing_kind": "obscured"},
    ("slowing", "focal_located"): {"slowing_kind": "focal"},
    ("slowing", "focal"): {"slowing_kind": "focal"},
    ("artifacts", "none"): {"artifacts": ()},
    ("state", "awake"): {"state": "awake"},
    ("state", "drowsy"): {"state": "drowsy"},
    ("state", "not_assessed"): {"state": "not_assessed"},
    ("events", "none"): {"events": (), "event_details": ()},
}


# What a variant also needs of the measurement to be one of its measured sentences, beyond what it
# states (``_VARIANT_FIELDS``): the writer calls focal slowing "not clearly localized" only when
# neither side nor region was measured (``_slowing_sentences``); with a location measured, that
# sentence leaves it out (the grammar let the stop-40 default write it for 3 localized validation rows).
_VARIANT_REQUIRES: dict[tuple[str, str], dict[str, Any]] = {
    ("slowing", "focal"): {"slowing_side": None, "slowing_region": None},
}


# Groups whose variant the writer chooses from the fields by a rule rather than by one field's value:
# only the chosen variant is a measured sentence (a spindle-frequency peak of N2 written as "alpha
# activity at 12.5 Hz" would claim alpha in sleep).
_VARIANT_CHOICE: dict[str, Callable[[Mapping[str, Any]], str]] = {"background": _background_variant}


def _register_parsers() -> None:
    def numeric_fields(groups: Mapping[str, str]) -> dict:
        fields: dict[str, Any] = {}
        if groups.get("freq"):
            fields["dominant_frequency_hz"] = round(float(groups["freq"]), 1)
        if groups.get("band"):
            fields["dominant_band"] = groups["band"]
        if groups.get("pdr"):
            fields["pdr_hz"] = round(float(groups["pdr"]), 1)
        if groups.get("region"):
            fields["predominant_region"] = groups["region"]
        if groups.get("amp"):
            fields["amplitude_uv"] = int(round(float(groups["amp"])))
        if groups.get("ampcat"):
            fields["amplitude_category"] = groups["ampcat"]
        if groups.get("side"):
            fields["asymmetry_side"] = groups["side"]
        if groups.get("loc"):
            fields.update(_location_fields(groups["loc"]))
        if groups.get("artifacts"):
            fields["artifacts"] = _phrases_in(groups["artifacts"], _ARTIFACT_PHRASES)
        if groups.get("changes"):
            changes = _phrases_in(groups["changes"], _CHANGE_PHRASES)
            fields["change"] = changes
        if groups.get("stage"):
            fields["state"] = {state.lower(): state for state in _SLEEP_STAGE_STATES}[groups["stage"]]
        return fields

    def sigma_fields(groups: Mapping[str, str]) -> dict:
        # The sigma phrasing names no band: the peak's band is the one its frequency falls in.
        fields = numeric_fields(groups)
        fields["dominant_band"] = dominant_band_of(fields["dominant_frequency_hz"])
        return fields

    for group, variants in _SENTENCES.items():
        for variant, written in variants.items():
            templates = written + _READ_ONLY_SENTENCES.get((group, variant), ())
            patterns = [_compile(t, _PLACEHOLDER_REGEX) for t in templates]
            _ANCHORS.update(zip(patterns, map(_anchor, templates)))
            convert = sigma_fields if (group, variant) == ("background", "sigma") else numeric_fields
            _PARSERS.append((group, patterns, _VARIANT_FIELDS.get((group, variant), {}), convert))
    for key, templates in _LABEL_SENTENCES.items():
        phrase_to_value = {phrase.lower(): value for value, phrase in LABEL_VOCABULARY[key].items()}
        patterns = [_compile(t, {"p": _alternation(list(phrase_to_value))}) for t in templates]
        _ANCHORS.update(zip(patterns, map(_anchor, templates)))

        def label_fields(groups: Mapping[str, str], key: str = key, lookup: dict = phrase_to_value) -> dict:
            return {key: lookup[re.sub(r"\s+", " ", groups["p"])]}

        _PARSERS.append((f"label:{key}", patterns, {}, label_fields))


_register_parsers()

_EVENT_PLACEHOLDERS = {
    "rate": r"\d{1,2}(?:\.\d+)?",
    "onset": r"\d{1,3}(?:\.\d+)?",
    "offset": r"\d{1,3}(?:\.\d+)?",
    "kind": _alternation(list(_EVENT_PHRASES.values())),
    "channels": _list_of(list(_CHANNEL_BY_LOWER)) + "|" + re.escape(_NO_CHANNELS),
}
_EVENT_PATTERNS = [_compile(t, _EVENT_PLACEHOLDERS) for templates in _EVENT_SENTENCES.values() for t in templates]
_EVENT_KIND_BY_PHRASE = {phrase.lower(): kind for kind, phrase in _EVENT_PHRASES.items()}


def _parse_events(text: str) -> list[Event]:
    """Every event sentence of a normalized text, in text order."""
    found = []
    for pattern in _EVENT_PATTERNS:
        for match in pattern.finditer(text):
            groups = match.groupdict()
            channels = [] if groups["channels"] == _NO_CHANNELS else re.split(r"\s*,\s*and\s+|\s*,\s*|\s+and\s+", groups["channels"])
            found.append((match.start(), Event(
                kind=_EVENT_KIND_BY_PHRASE[re.sub(r"\s+", " ", groups["kind"])],
                onset_s=round(float(groups["onset"]), 1),
                offset_s=round(float(groups["offset"]), 1),
                channels=[_CHANNEL_BY_LOWER[c] for c in channels],
                frequency_hz=round(float(groups["rate"]), 1) if groups.get("rate") else None,
            )))  # fmt: skip
    return [event for _, event in sorted(found, key=lambda item: item[0])]


def _normalize(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("\u03bc", "\u00b5")).strip().lower()


def rephrase_retired(text: str) -> str:
    """``text`` with each sentence in a phrasing the writer no longer writes (``_READ_ONLY_SENTENCES``)
    rewritten in the writer's first phrasing of its group, with the same values: what the sentence
    states is unchanged (``parse`` reads both alike), how it says it is the current writer's.

    A model trained on the earlier phrasings (stop 28's default writes "The background is dominated
    by beta activity at 28.6 Hz." where the beta peak stands over a background with most power in
    delta) is shown in the current wording without a retrain."""
    for pattern, current in _RETIRED_REWRITES:
        text = pattern.sub(lambda match: current.format(**match.groupdict()), text)
    return text


# (pattern of a retired phrasing, case-insensitive on the text as written; the current phrasing of its group)
_RETIRED_REWRITES = [
    (re.compile(_compile(template, _PLACEHOLDER_REGEX).pattern, re.IGNORECASE), _SENTENCES[group][variant][0])
    for (group, variant), retired in _READ_ONLY_SENTENCES.items()
    for template in retired
]


def parse(text: str) -> dict:
    """Recover the narrative fields from a description (``describe``'s phrasings, any order).

    Args:
        text: a paragraph; case, spacing and sentence order do not matter.

    Returns:
        ``{field: value}`` for every field of ``NARRATIVE_FIELDS`` (see ``findings_to_fields``
        for types); fields the text does not state are ``None``. When a sentence group is stated
        more than once (generated text may repeat itself), the first statement counts.
    """
    if not isinstance(text, str):
        raise TypeError(f"parse expects the description text as str, got {type(text).__name__}")
    text = _normalize(text)
    fields: dict[str, Any] = dict.fromkeys(NARRATIVE_FIELDS)
    # Per sentence group, the earliest match over all its variants and phrasings.
    best: dict[str, tuple[int, int, dict]] = {}
    for group, patterns, constant, convert in _PARSERS:
        for pattern in patterns:
            if _ANCHORS[pattern] not in text:
                continue
            match = pattern.search(text)
            if match is None:
                continue
            rank = (match.start(), -len(match.group(0)))
            if group not in best or rank < best[group][:2]:
                values = dict(constant)
                values.update(convert({k: v for k, v in match.groupdict().items() if v is not None}))
                best[group] = (*rank, values)
    for _, _, values in best.values():
        fields.update(values)
    events = _parse_events(text)
    if events:  # every event sentence counts (a segment may hold several)
        fields["events"] = tuple(sorted({event.kind for event in events}))
        fields["event_details"] = tuple(sorted({event_detail(event, stated=True) for event in events}))
    return fields


# ---------------------------------------------------------------------------------------------
# The measured grammar: what a narrative may say about one segment without contradicting it

# Placeholders the measurement does not fill: the source label's phrase (read from the EEG; its
# alternatives are given per label key) and the change's window wording (how much history the
# narrator was given: ``describe``'s "30 s" or "segment"), in ``seconds_text``' form (whole
# seconds or one decimal): the grammar let a model write "32.5222222222222222 s" (stop 39, EEGbase).
_OPEN_WINDOW = r"(?:\d+ s|\d+\.\d s|segment)"


def _measured_placeholder_values(fields: Mapping[str, Any]) -> dict[str, Optional[str]]:
    """The text ``describe`` puts in each placeholder for these fields (the change window and the
    label phrase aside); None where the measurement gives the placeholder no value (a variant that
    needs it would state what was not measured). The writer and the measured grammar both read it."""

    def hz(value: Optional[float]) -> Optional[str]:
        return None if value is None else f"{value:.1f}"

    focal = fields["slowing_kind"] == "focal" and (fields["slowing_side"] is not None or fields["slowing_region"] is not None)
    return {
        "freq": hz(fields["dominant_frequency_hz"]),
        "band": fields["dominant_band"],
        "pdr": hz(fields["pdr_hz"]),
        "region": fields["predominant_region"] if fields["predominant_region"] in REGIONS else None,
        "amp": str(fields["amplitude_uv"]),
        "ampcat": fields["amplitude_category"],
        "side": fields["asymmetry_side"] if fields["asymmetry_side"] in _SIDES else None,
        "loc": _slowing_location(fields["slowing_side"], fields["slowing_region"]) if focal else None,
        "stage": fields["state"] if fields["state"] in _SLEEP_STAGE_STATES else None,
        "artifacts": _join([_ARTIFACT_PHRASES[a] for a in fields["artifacts"]]) if fields["artifacts"] else None,
        "changes": _join([_CHANGE_PHRASES[c] for c in fields["change"]]) if fields["change"] else None,
    }


def _filled(template: str, values: Mapping[str, Optional[str]], open_regex: Mapping[str, str]) -> Optional[str]:
    """Regex of the sentence ``describe`` writes from ``template``, exactly as written (case,
    spacing, first letter capitalized), each measured placeholder holding its value and the open
    ones their regex; None when a placeholder has no measured value."""
    parts = re.split(r"\{(\w+)\}", template)
    pattern = []
    for index, part in enumerate(parts):
        if index % 2 == 0:
            pattern.append(re.escape(_capitalize(part) if index == 0 else part))
        elif part in open_regex:
            pattern.append(open_regex[part])
        elif values.get(part) is None:
            return None
        else:
            pattern.append(re.escape(_capitalize(values[part]) if index == 1 and not parts[0] else values[part]))
    return "".join(pattern)


def measured_sentence_patterns(
    findings: Findings | Mapping[str, Any] | str, labels: Optional[Mapping[str, str]] = None, change_window: Optional[str] = None
) -> dict[str, list[str]]:
    """Every sentence a narrative may hold about this segment without contradicting its measurement.

    The writer's phrasings (current and retired) of each sentence variant that agrees with the
    measured fields, with every measured value in the writer's form: one regex per phrasing,
    matched against a whole sentence. The measurement leaves open which label phrase a
    source-label sentence names (labels come from the EEG), and the change sentence's window
    wording unless ``change_window`` gives it. Label sentences are offered only for the labels the segment is
    annotated with (as the prompt's "Annotated:" line says), events only as measured.
    A narrative made of these sentences may leave a finding unsaid, but ``parse`` of it
    agrees with ``findings_to_fields`` on every field it states.

    Args:
        findings: the segment's ``Findings`` (or its dict / JSON form).
        labels: harmonized labels; defaults to ``findings.labels``.
        change_window: the change sentence's window as ``change_window_text`` writes it for the
            history the narrator was given ("30 s"); None leaves it open (any window in that form).

    Returns:
        ``{sentence group: regex sources}`` (for ``re`` or ``regex``, case-sensitive: the writer's
        own case). ``describe`` writes one sentence per group: the groups of ``_SENTENCES``
        ("state", "background", "slowing", ...), ``"event:<i>"`` per measured event and
        ``"label:<key>"`` per annotated label.
    """
    fields = findings_to_fields(findings, labels)
    values = _measured_placeholder_values(fields)
    open_regex = {"dur": _OPEN_WINDOW if change_window is None else re.escape(change_window)}
    patterns: dict[str, list[str]] = {}
    for group, variants in _SENTENCES.items():
        for variant, written in variants.items():
            required = {**_VARIANT_FIELDS.get((group, variant), {}), **_VARIANT_REQUIRES.get((group, variant), {})}
            if any(fields[name] != value for name, value in required.items()):
                continue
            if group in _VARIANT_CHOICE and variant != _VARIANT_CHOICE[group](fields):
                continue
            for template in written + _READ_ONLY_SENTENCES.get((group, variant), ()):
                pattern = _filled(template, values, open_regex)
                if pattern is not None:
                    patterns.setdefault(group, []).append(pattern)
    for index, detail in enumerate(fields["event_details"] or ()):
        event = event_from_detail(detail)
        variant = "no_rate" if event.frequency_hz is None else "rate"
        patterns[f"event:{index}"] = [_filled(template, _event_values(event), {}) for template in _EVENT_SENTENCES[variant]]
    for key, templates in _LABEL_SENTENCES.items():
        if fields[key] is not None:
            phrases = {"p": "(?:" + "|".join(map(re.escape, sorted(LABEL_VOCABULARY[key].values(), key=len, reverse=True))) + ")"}
            patterns[f"label:{key}"] = [_filled(template, {}, phrases) for template in templates]
    return {group: found for group, found in patterns.items() if found}


_CHANGE_PATTERNS = [pattern for group, patterns, _, _ in _PARSERS if group == "change" for pattern in patterns]


def stated_change_window(text: str) -> Optional[str]:
    """The window the text's change sentence names, in ``change_window_text``'s form ("30 s",
    "32.5 s", "segment"), or None when it has no change sentence (the first one counts, as in ``parse``)."""
    normalized = _normalize(text)
    found = [match for match in (pattern.search(normalized) for pattern in _CHANGE_PATTERNS) if match is not None]
    if not found:
        return None
    window = min(found, key=lambda match: (match.start(), -len(match.group(0)))).group("dur")
    if window.startswith("segment"):
        return "segment"
    return seconds_text(float(re.sub(r"\s*s$", "", window)))


_SENTENCE_BOUNDARY = re.compile(r"(?<=\.)\s+(?=[A-Z])")  # the writer's sentences end with "." before a capital


def measured_sentence_spans(description: str, findings: Findings | Mapping[str, Any] | str) -> list[tuple[int, int, str]]:
    """Where ``description`` states each measured finding: ``(start, end, group)`` of every sentence
    that is one of the segment's measured sentences (``measured_sentence_patterns``; a sentence
    in no group, such as one that contradicts the measurement, is left out), in text order."""
    compiled = [(group, re.compile(p)) for group, patterns in measured_sentence_patterns(findings).items() for p in patterns]
    spans, start = [], 0
    for end in [m.start() for m in _SENTENCE_BOUNDARY.finditer(description)] + [len(description)]:
        sentence = description[start:end].strip()
        group = next((g for g, pattern in compiled if pattern.fullmatch(sentence)), None)
        if group is not None:
            offset = start + description[start:end].index(sentence)
            spans.append((offset, offset + len(sentence), group))
        start = end
    return spans
