"""Roll the per-segment findings of a recording up into a recording-level summary.

A clinical EEG report reads top-down: the background first (dominant rhythm, posterior dominant
rhythm, amplitude, where it is maximal), then the findings that recur (slowing, asymmetry), the
artifacts, and the changes of state with their times. ``summarize_recording`` computes each of
those from the ``Findings`` of every 10 s segment and writes them as one paragraph; the structured
parts (``RecordingSummary``) feed the report's timeline table and JSON.

Everything here is plain bookkeeping over ``Findings`` records: no signal processing, no model.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from ..findings_neuronarrator import (
    ARTIFACT_TYPES, BANDS, NO_PDR_STATES, NOT_ASSESSABLE, SIGMA_RANGE_HZ, SLEEP_EVENT_KINDS, SPINDLE_STATES, Findings, is_sigma_peak,
)  # fmt: skip

__all__ = [
    "ArtifactStat",
    "Episode",
    "RecordingSummary",
    "RecurringFinding",
    "StateChange",
    "RecordingEvent",
    "count_text",
    "findings_line",
    "recording_events",
    "format_time",
    "summarize_recording",
]

# Readable names of the findings vocabulary (report text, not the corpus descriptions).
ARTIFACT_NAMES = {
    "eye_blink": "eye blinks",
    "eye_movement": "eye movements",
    "muscle": "muscle artifact",
    "electrode_pop": "electrode pops",
    "line_noise": "line noise",
    "flat_channel": "flat channels",
    "movement": "patient movement artifact",
}
CHANGE_NAMES = {
    "faster": "the background became faster",
    "slower": "the background slowed",
    "higher_amplitude": "amplitude rose",
    "lower_amplitude": "amplitude fell",
    "slowing_appeared": "slowing appeared",
    "slowing_resolved": "slowing resolved",
    "artifacts_appeared": "artifacts appeared",
    "artifacts_resolved": "artifacts resolved",
}
STATE_NAMES = {
    "awake": "awake",
    "drowsy": "drowsy",
    "N1": "N1 sleep",
    "N2": "N2 sleep",
    "N3": "N3 sleep",
    "REM": "REM sleep",
    "not_assessed": "state not assessed",
}
EVENT_NAMES = {
    "generalized_spike_wave": "generalized spike-and-wave discharge",
    "lateralized_rhythmic_delta": "lateralized rhythmic delta activity",
    "sleep_spindle": "sleep spindle",
}
# Plurals where appending "s" does not make one (an activity is counted in episodes).
EVENT_PLURALS = {"lateralized_rhythmic_delta": "episodes of lateralized rhythmic delta activity"}
NO_EVENTS = "No spike-and-wave discharges or lateralized rhythmic delta activity"
# Changes that mark a change of brain state; artifact onsets/offsets are listed but do not start a
# new episode of the timeline (a blink is not a state change).
_STATE_CHANGES = ("faster", "slower", "higher_amplitude", "lower_amplitude", "slowing_appeared", "slowing_resolved")


def format_time(seconds: float) -> str:
    """``3725.0`` -> ``"1:02:05"`` (H:MM:SS, the way EEG review software shows time)."""
    seconds = int(round(float(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def count_text(n: int, noun: str = "segment") -> str:
    """``1`` -> ``"1 segment"``, ``3`` -> ``"3 segments"`` (a one-segment file is a common case: an epoch, a trial)."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _slowing_text(findings: Findings) -> str | None:
    slowing = findings.slowing
    if slowing.kind == "generalized":
        return "generalized slowing"
    if slowing.kind == "widespread":
        return "slowing at every recorded electrode"
    if slowing.kind == "focal":
        where = " ".join(part for part in (slowing.side, slowing.region) if part)
        return f"focal slowing ({where})" if where else "focal slowing"
    return None


def findings_line(findings: Findings) -> str:
    """One readable line of the measured findings of a segment, for tables and logs.

    Example: ``"9.8 Hz alpha, PDR 10.0 Hz, max occipital, 45 µV; focal slowing (left temporal);
    artifacts: eye blinks"``.
    """
    if findings.dominant_frequency_hz is None:
        parts = [f"no dominant rhythm ({findings.dominant_band} power)"]
    else:
        parts = [f"{findings.dominant_frequency_hz:.1f} Hz {findings.dominant_band}"]
    if findings.posterior_dominant_rhythm_hz is not None:
        parts.append(f"PDR {findings.posterior_dominant_rhythm_hz:.1f} Hz")
    if findings.predominant_region != NOT_ASSESSABLE:
        parts.append(f"max {findings.predominant_region}")
    parts.append(f"{findings.amplitude_uv:.0f} µV")
    text = ", ".join(parts)
    if findings.state != "not_assessed":  # the state first: the background is read in its light
        text = f"{STATE_NAMES.get(findings.state, findings.state)}: {text}"
    extras = []
    for event in findings.events:
        rate = f" {event.frequency_hz:.1f} Hz" if event.frequency_hz is not None else ""
        extras.append(f"event: {EVENT_NAMES.get(event.kind, event.kind)}{rate} {event.onset_s:.1f}-{event.offset_s:.1f} s")
    slowing = _slowing_text(findings)
    if slowing:
        extras.append(slowing)
    if findings.asymmetry.side not in ("none", NOT_ASSESSABLE):
        extras.append(f"asymmetry: {findings.asymmetry.side} attenuated (index {findings.asymmetry.index:+.2f})")
    if findings.artifacts:
        extras.append("artifacts: " + ", ".join(ARTIFACT_NAMES.get(a, a) for a in findings.artifacts))
    if findings.labels:
        extras.append("labels: " + ", ".join(f"{k}={v}" for k, v in sorted(findings.labels.items())))
    if findings.interpolated_channels:
        extras.append(f"{len(findings.interpolated_channels)} channels interpolated")
    return "; ".join([text, *extras])


@dataclass
class RecordingEvent:
    """An event in recording time: the pieces of consecutive segments joined again."""

    kind: str
    onset_s: float  # from the recording start
    offset_s: float
    channels: list[str]
    frequency_hz: Optional[float]
    segments: list[int]  # indices of the segments it spans

    @property
    def duration_s(self) -> float:
        return round(self.offset_s - self.onset_s, 1)


def recording_events(findings: Sequence[Findings], segment_start_s: Sequence[float], segment_seconds: float = 10.0) -> list[RecordingEvent]:
    """The events of a recording in recording time: each segment's events (clipped to it) shifted
    by its start, and pieces of one event on consecutive segments (one ends at a segment's end,
    the next starts at the following segment's start) joined."""
    pieces = sorted(
        (float(start) + e.onset_s, float(start) + e.offset_s, i, e)
        for i, (f, start) in enumerate(zip(findings, segment_start_s))
        for e in f.events
    )
    events: list[RecordingEvent] = []
    for onset, offset, index, event in pieces:
        last = next((x for x in reversed(events) if x.kind == event.kind), None)
        if last is not None and onset <= last.offset_s + 0.15 and index == last.segments[-1] + 1:
            last.offset_s = round(max(last.offset_s, offset), 1)
            last.segments.append(index)
            last.channels = list(dict.fromkeys(last.channels + event.channels))
            continue
        events.append(RecordingEvent(event.kind, round(onset, 1), round(offset, 1), list(event.channels), event.frequency_hz, [index]))
    return events


@dataclass
class RecurringFinding:
    """A finding seen in more than one segment: slowing or asymmetry of one kind and side."""

    name: str  # e.g. "focal slowing (left temporal)"
    n_segments: int
    fraction: float  # of the analysed segments, 0-1
    first_s: float  # start of the first segment showing it, seconds from recording start
    states: dict[str, int] = field(default_factory=dict)  # vigilance state -> segments showing it in that state

    @property
    def only_in_sleep(self) -> bool:
        """Every segment showing it is scored as sleep (N1-N3, REM): a reader weighs a slowing seen
        only among sleep's own slow waves differently from one seen awake."""
        return bool(self.states) and all(state in NO_PDR_STATES for state in self.states)


@dataclass
class ArtifactStat:
    """How often one artifact type occurs."""

    n_segments: int
    fraction: float
    first_s: float


@dataclass
class StateChange:
    """A segment whose findings changed from the preceding ones (``Findings.change_from_previous``)."""

    time_s: float
    segment_index: int
    changes: list[str]  # subset of CHANGE_TYPES, "stable" left out
    description: str


@dataclass
class Episode:
    """A run of consecutive segments sharing one background state: one row of the timeline table."""

    start_s: float
    end_s: float
    n_segments: int
    state: str  # e.g. "alpha 9.8 Hz background, max occipital"
    artifacts: dict[str, int] = field(default_factory=dict)  # artifact -> segments in the episode


@dataclass
class RecordingSummary:
    """Recording-level summary: structured parts plus the paragraph that states them."""

    n_segments: int
    analysed_s: float
    background: dict[str, Any]
    recurring: list[RecurringFinding]
    artifacts: dict[str, ArtifactStat]
    state_changes: list[StateChange]
    timeline: list[Episode]
    labels: dict[str, dict[str, int]]
    paragraph: str
    states: dict[str, float] = field(default_factory=dict)  # seconds per vigilance state (STATES order)
    events: list[RecordingEvent] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _percent(fraction: float) -> str:
    value = 100.0 * fraction
    return f"{value:.0f}%" if value >= 1 or value == 0 else "<1%"


def _episode_key(findings: Findings) -> tuple:
    # What a reader would call "the same state": same dominant band, same slowing, same asymmetry,
    # same source state label (sleep stage, eyes, task). Artifacts are transient, not a state.
    state_labels = tuple(sorted((k, v) for k, v in findings.labels.items() if k in ("sleep_stage", "eyes", "mental_state", "motor_task")))
    return (findings.state, findings.dominant_band, _slowing_text(findings), findings.asymmetry.side, state_labels)


def _episode_state(members: Sequence[Findings]) -> str:
    first = members[0]
    freqs = [f.dominant_frequency_hz for f in members if f.dominant_frequency_hz is not None]
    regions = Counter(f.predominant_region for f in members).most_common(1)[0][0]
    text = f"{first.dominant_band} {np.median(freqs):.1f} Hz background" if freqs else f"{first.dominant_band} background, no dominant rhythm"
    if regions != NOT_ASSESSABLE:
        text += f", max {regions}"
    pdrs = [f.posterior_dominant_rhythm_hz for f in members if f.posterior_dominant_rhythm_hz is not None]
    if pdrs and len(pdrs) * 2 >= len(members):
        text += f", PDR {np.median(pdrs):.1f} Hz"
    slowing = _slowing_text(first)
    if slowing:
        text += f"; {slowing}"
    if first.asymmetry.side not in ("none", NOT_ASSESSABLE):
        text += f"; {first.asymmetry.side} hemisphere attenuated"
    for key, value in sorted(first.labels.items()):
        if key in ("sleep_stage", "eyes", "mental_state", "motor_task"):
            text += f"; {key.replace('_', ' ')}: {value}"
    return text if first.state == "not_assessed" else f"{STATE_NAMES.get(first.state, first.state)}: {text}"


def _timeline(starts: np.ndarray, ends: np.ndarray, findings: Sequence[Findings], min_run: int) -> list[Episode]:
    keys = [_episode_key(f) for f in findings]
    # Runs of equal keys: [start index, stop index).
    runs: list[list[int]] = []
    for i, key in enumerate(keys):
        if runs and keys[runs[-1][0]] == key:
            runs[-1][1] = i + 1
        else:
            runs.append([i, i + 1])
    # A run shorter than ``min_run`` segments is a flicker of the measurement rather than a new
    # state: fold it into the preceding run (or the next one at the very start) so that the
    # timeline of a long, noisy recording stays readable. Repeat until stable.
    changed = True
    while changed and len(runs) > 1:
        changed = False
        for j, (lo, hi) in enumerate(runs):
            if hi - lo >= min_run:
                continue
            if j > 0:
                runs[j - 1][1] = hi
            else:
                runs[1][0] = lo
            del runs[j]
            # Neighbours that now share a key merge into one run.
            merged: list[list[int]] = []
            for run in runs:
                if merged and keys[merged[-1][0]] == keys[run[0]]:
                    merged[-1][1] = run[1]
                else:
                    merged.append(run)
            runs = merged
            changed = True
            break
    episodes = []
    for lo, hi in runs:
        # The state is named after the majority key of the (possibly merged) run.
        members = list(findings[lo:hi])
        majority = Counter(keys[lo:hi]).most_common(1)[0][0]
        representative = [f for f, k in zip(members, keys[lo:hi]) if k == majority]
        artifacts = Counter(a for f in members for a in f.artifacts)
        episodes.append(
            Episode(
                start_s=float(starts[lo]),
                end_s=float(ends[hi - 1]),
                n_segments=hi - lo,
                state=_episode_state(representative),
                artifacts=dict(sorted(artifacts.items())),
            )
        )
    return episodes


def _change_description(changes: Sequence[str]) -> str:
    return "; ".join(CHANGE_NAMES.get(c, c.replace("_", " ")) for c in changes)


def summarize_recording(
    findings: Sequence[Findings],
    segment_start_s: Sequence[float],
    segment_seconds: float = 10.0,
    min_episode_segments: int = 2,
    max_changes_in_paragraph: int = 6,
) -> RecordingSummary:
    """Summarize a recording from the findings of its segments.

    Args:
        findings: one ``Findings`` per segment, in time order.
        segment_start_s: start of each segment in seconds from the recording start, shape ``(n,)``.
        segment_seconds: segment length in seconds (the feature extractor's ``segment_seconds``).
        min_episode_segments: runs of fewer segments are folded into their neighbour in the timeline.
        max_changes_in_paragraph: state changes named in the paragraph (all are in ``state_changes``).

    Returns:
        A ``RecordingSummary``; its ``paragraph`` states the background, recurring findings,
        artifacts, state changes with their times and the source labels.

    Raises:
        ValueError: no segments, or ``findings`` and ``segment_start_s`` of different lengths.
    """
    n = len(findings)
    if n == 0:
        raise ValueError("summarize_recording: no segments to summarize; the recording (or the --start/--end window) is shorter than one segment")
    if len(segment_start_s) != n:
        raise ValueError(f"summarize_recording: {n} findings but {len(segment_start_s)} segment start times; pass one start time per segment")
    starts = np.asarray(segment_start_s, dtype=float)
    ends = starts + float(segment_seconds)
    analysed_s = float(n * segment_seconds)
    background = _vigilance_background(findings)
    recurring = _recurring(findings, starts)
    artifacts = _artifact_stats(findings, starts)
    state_changes = _state_changes(findings, starts)
    labels = _source_labels(findings)
    timeline = _timeline(starts, ends, findings, max(1, int(min_episode_segments)))
    state_counts = Counter(f.state for f in findings)
    states = {state: state_counts[state] * float(segment_seconds) for state in STATE_NAMES if state_counts[state]}
    events = recording_events(findings, starts, segment_seconds)

    paragraph = _paragraph(n, analysed_s, segment_seconds, background, recurring, artifacts, state_changes, labels, max_changes_in_paragraph, len(timeline))
    return RecordingSummary(
        n_segments=n,
        analysed_s=analysed_s,
        background=background,
        recurring=recurring,
        artifacts=artifacts,
        state_changes=state_changes,
        timeline=timeline,
        labels={k: dict(v.most_common()) for k, v in sorted(labels.items())},
        paragraph=_with_state_and_events(paragraph, n, analysed_s, segment_seconds, states, events),
        states=states,
        events=events,
    )


def _vigilance_background(findings: Sequence[Findings]) -> dict:
    """The background of the waking record apart from sleep's (ACNS guideline 7, 2016, describes the
    waking background; N1-N3 and REM have their own slow waves and spectral peaks): the background
    fields are those of the segments not scored as sleep, ``sleep`` those of the segments scored as
    sleep (None when there are none), ``scope`` says which segments the top-level fields describe
    ("not_sleep" or, when every segment is scored as sleep, "sleep"), and the amplitude is the whole
    recording's."""
    sleep = [f for f in findings if f.state in NO_PDR_STATES]
    waking = [f for f in findings if f.state not in NO_PDR_STATES]
    background = _background(waking or sleep)
    background.update(
        scope="not_sleep" if waking else "sleep", scope_segments=len(waking or sleep),
        sleep=_background(sleep) if sleep and waking else None, **_amplitude(findings),
        sigma_peaks=sum(is_sigma_peak(f.state, f.dominant_frequency_hz) for f in sleep),
    )  # fmt: skip
    return background


def _amplitude(findings: Sequence[Findings]) -> dict:
    """Median amplitude and its 10th-90th percentile range, in µV."""
    amplitudes = np.array([f.amplitude_uv for f in findings], dtype=float)
    return {
        "median_amplitude_uv": round(float(np.median(amplitudes))),
        "amplitude_range_uv": [round(float(np.percentile(amplitudes, 10))), round(float(np.percentile(amplitudes, 90)))],
    }


def _background(findings: Sequence[Findings]) -> dict:
    """The background: dominant band and frequency, posterior dominant rhythm, region, amplitude."""
    n = len(findings)
    # Segments without a dominant rhythm (nothing above the 1/f background) have no frequency.
    freqs = np.array([f.dominant_frequency_hz for f in findings if f.dominant_frequency_hz is not None], dtype=float)
    # A segment's band is its rhythm's; a segment with no rhythm has the band of most power instead,
    # which is not a rhythm: the bands are counted over segments with a rhythm (over all of them only
    # when none has one, and then said as power).
    with_rhythm = [f for f in findings if f.dominant_frequency_hz is not None]
    band_counts = Counter(f.dominant_band for f in (with_rhythm or findings))
    main_band, main_count = band_counts.most_common(1)[0]
    regions = Counter(f.predominant_region for f in findings if f.dominant_band == main_band and f.predominant_region != NOT_ASSESSABLE)
    region = regions.most_common(1)[0][0] if regions else NOT_ASSESSABLE
    main_freqs = [f.dominant_frequency_hz for f in findings if f.dominant_band == main_band and f.dominant_frequency_hz is not None]
    # The PDR is a rhythm of wakefulness (NO_PDR_STATES have none): it is counted over the segments
    # that could carry one, not over a night of sleep.
    could_have_pdr = [f for f in findings if f.state not in NO_PDR_STATES]
    pdrs = np.array([f.posterior_dominant_rhythm_hz for f in could_have_pdr if f.posterior_dominant_rhythm_hz is not None], dtype=float)
    return {
        "dominant_band": main_band,
        "dominant_band_basis": "rhythm" if with_rhythm else "power",
        "dominant_band_fraction": main_count / n,
        "band_fractions": {band: band_counts.get(band, 0) / n for band in BANDS},
        # Median over the segments of the dominant band: a median across bands (2 and 10 Hz halves
        # giving 6 Hz) would name a rhythm no segment has.
        "median_frequency_hz": round(float(np.median(main_freqs)), 1) if main_freqs else None,
        "frequency_range_hz": [round(float(np.percentile(freqs, q)), 1) for q in (10, 90)] if freqs.size else None,
        "no_rhythm_fraction": 1.0 - freqs.size / n,
        "predominant_region": region,
        "pdr_hz": round(float(np.median(pdrs)), 1) if pdrs.size else None,
        "pdr_fraction": pdrs.size / len(could_have_pdr) if could_have_pdr else 0.0,
        "pdr_segments_possible": len(could_have_pdr),
        **_amplitude(findings),
    }


def _recurring(findings: Sequence[Findings], starts: np.ndarray) -> list[RecurringFinding]:
    """Recurring findings: slowing and asymmetry by kind and side, the most frequent first."""
    n = len(findings)
    recurring_counts: dict[str, list[int]] = {}
    for i, f in enumerate(findings):
        slowing = _slowing_text(f)
        if slowing:
            recurring_counts.setdefault(slowing, []).append(i)
        if f.asymmetry.side not in ("none", NOT_ASSESSABLE):
            recurring_counts.setdefault(f"asymmetry ({f.asymmetry.side} hemisphere attenuated)", []).append(i)
    return sorted(
        (RecurringFinding(name, len(idx), len(idx) / n, float(starts[idx[0]]), dict(Counter(findings[i].state for i in idx)))
         for name, idx in recurring_counts.items()),
        key=lambda r: (-r.n_segments, r.first_s),
    )  # fmt: skip


def _sleep_only_text(finding: RecurringFinding) -> str:
    """", only in N2 sleep" (", only in sleep: N2 3, N3 1") for a finding every one of whose segments is scored as sleep."""
    if not finding.only_in_sleep:
        return ""
    if len(finding.states) == 1:
        return f", only in {next(iter(finding.states))} sleep"
    return ", only in sleep: " + ", ".join(f"{state} {count}" for state, count in sorted(finding.states.items()))


def _artifact_stats(findings: Sequence[Findings], starts: np.ndarray) -> dict[str, ArtifactStat]:
    """Segments per artifact type, the most frequent first (ties in ``ARTIFACT_TYPES`` order)."""
    n = len(findings)
    artifact_idx: dict[str, list[int]] = {}
    for i, f in enumerate(findings):
        for artifact in f.artifacts:
            artifact_idx.setdefault(artifact, []).append(i)
    order = {a: k for k, a in enumerate(ARTIFACT_TYPES)}
    return {
        a: ArtifactStat(len(idx), len(idx) / n, float(starts[idx[0]]))
        for a, idx in sorted(artifact_idx.items(), key=lambda item: (-len(item[1]), order.get(item[0], 99)))
    }


def _state_changes(findings: Sequence[Findings], starts: np.ndarray) -> list[StateChange]:
    """The segments whose findings changed (the front-end compares each segment with the preceding ones)."""
    state_changes = []
    for i, f in enumerate(findings):
        changes = [c for c in (f.change_from_previous or []) if c != "stable"]
        if changes:
            state_changes.append(StateChange(float(starts[i]), i, changes, _change_description(changes)))
    return state_changes


def _source_labels(findings: Sequence[Findings]) -> dict[str, Counter]:
    """Segments per source label value (present when the recording comes from a labelled corpus source)."""
    labels: dict[str, Counter] = {}
    for f in findings:
        for key, value in f.labels.items():
            labels.setdefault(key, Counter())[value] += 1
    return labels


def _with_state_and_events(paragraph: str, n: int, analysed_s: float, segment_seconds: float, states: dict[str, float], events: list[RecordingEvent]) -> str:
    """The paragraph with the vigilance state and the events stated right after its first
    sentence (a clinical report names the state before the background)."""
    first = f"{format_time(analysed_s)} of EEG were analysed in {count_text(n)} of {segment_seconds:g} s."
    if set(states) == {"not_assessed"}:
        state = "The vigilance state is not assessed."
    elif n == 1:
        state = f"Vigilance state (sleep staging): {STATE_NAMES[next(iter(states))]}."
    else:
        parts = [f"{STATE_NAMES[s]} {_percent(seconds / analysed_s)} ({format_time(seconds)})" for s, seconds in sorted(states.items(), key=lambda item: -item[1])]
        state = "Vigilance state (sleep staging): " + ", ".join(parts) + "."
    # Spindles are sleep's own events, counted apart: they do not make "no spike-and-wave" untrue.
    spindles = [e for e in events if e.kind in SLEEP_EVENT_KINDS]
    events = [e for e in events if e.kind not in SLEEP_EVENT_KINDS]
    if events:
        kinds = Counter(e.kind for e in events)
        listed = "; ".join(
            f"{format_time(e.onset_s)}-{format_time(e.offset_s)} ({e.duration_s:.1f} s"
            + (f", {e.frequency_hz:.1f} Hz" if e.frequency_hz is not None else "") + ")"
            for e in events[:8]
        )
        more = f"; {len(events) - 8} more in the events table" if len(events) > 8 else ""
        names = ", ".join(f"{count} {_event_name(kind, count)}" for kind, count in kinds.items())
        event_sentence = f"Events: {names} at {listed}{more}."
    else:
        event_sentence = f"{NO_EVENTS} is detected."
    if spindles:
        n2_n3_s = sum(states.get(stage, 0.0) for stage in SPINDLE_STATES)
        rate = f", {len(spindles) / (n2_n3_s / 60.0):.1f} per minute of N2-N3 sleep" if n2_n3_s > 0 else ""
        event_sentence += (
            f" {len(spindles)} {_event_name('sleep_spindle', len(spindles))} (YASA, in N2-N3 sleep){rate},"
            f" first at {format_time(spindles[0].onset_s)}."
        )
    if paragraph.startswith(first):
        return " ".join([first, state, event_sentence, paragraph[len(first):].strip()])
    return " ".join([state, event_sentence, paragraph])


def _sleep_sentence(sleep: dict, n_waking: int, n: int) -> str:
    """Sleep's spectral peaks, apart from the waking background (a posterior alpha-band peak in N2 is
    not the waking record's rhythm)."""
    n_sleep = n - n_waking
    scope = f"In the {count_text(n_sleep)} scored as sleep (N1-N3, REM)"
    if sleep["dominant_band_basis"] == "power":
        text = f"{scope}, no spectral peak stands out; most power is in {sleep['dominant_band']} activity"
    else:
        text = f"{scope}, the {'most common ' if n_sleep > 1 else ''}spectral peak is {sleep['dominant_band']} activity"
        if sleep["median_frequency_hz"] is not None:
            text += f" at {'a median ' if n_sleep > 1 else ''}{sleep['median_frequency_hz']:.1f} Hz"
    return text + (f" ({_percent(sleep['dominant_band_fraction'])} of them)." if n_sleep > 1 else ".")


def _paragraph(n, analysed_s, segment_seconds, background, recurring, artifacts, state_changes, labels, max_changes, n_episodes) -> str:
    sentences = [f"{format_time(analysed_s)} of EEG were analysed in {count_text(n)} of {segment_seconds:g} s."]
    bg = background
    low, high = bg["frequency_range_hz"] or (0.0, 0.0)
    # A segment's dominant band is that of its highest peak above the 1/f background (of most power
    # only where no rhythm stands out): it names the rhythm, not what holds the power.
    by_power = bg["dominant_band_basis"] == "power"
    scope = bg.get("scope", "all")
    if scope == "not_sleep" and bg.get("sleep"):
        prefix = f"In the {count_text(bg['scope_segments'])} not scored as sleep, "
    elif scope == "sleep":
        prefix = "Every segment is scored as sleep (N1-N3, REM); " if n > 1 else "The segment is scored as sleep (N1-N3, REM); "
    else:
        prefix = ""
    peak = "spectral peak" if scope == "sleep" else "dominant rhythm"
    several = (bg["scope_segments"] if prefix else n) > 1  # one segment has its rhythm, not a commonest one
    if by_power:
        sentence = f"No segment has a {peak}; most power is in {bg['dominant_band']} activity"
    else:
        sentence = f"The {'most common ' if several else ''}{peak} is {bg['dominant_band']} activity"
    sentence = prefix + (sentence[0].lower() + sentence[1:] if prefix else sentence)
    if bg["median_frequency_hz"] is not None:
        sentence += f" at {'a median ' if several else ''}{bg['median_frequency_hz']:.1f} Hz"
    if several:
        sentence += f" ({_percent(bg['dominant_band_fraction'])} of {'them' if prefix else 'segments'})"
    if bg["predominant_region"] != NOT_ASSESSABLE:
        sentence += f", maximal over the {bg['predominant_region']} region"
    others = [f"{band} {_percent(frac)}" for band, frac in bg["band_fractions"].items() if band != bg["dominant_band"] and frac >= 0.05]
    if others:
        sentence += f"; in other segments {'it is in' if by_power else 'it is'} {', '.join(others)}"
    sentences.append(sentence + ".")
    which = "of those segments " if prefix else ""
    if high - low >= 0.5:
        sentences.append(f"The dominant frequency {which}ranges from {low:.1f} to {high:.1f} Hz (10th-90th percentile).")
    if bg["no_rhythm_fraction"] >= 0.05 and not by_power:
        sentences.append(f"No dominant rhythm stands above the 1/f background in {_percent(bg['no_rhythm_fraction'])} of {'them' if prefix else 'segments'}.")
    if bg["pdr_segments_possible"] == 0:
        sentences.append("The posterior dominant rhythm, a rhythm of wakefulness, is therefore not assessed.")
    else:
        # "not scored as sleep" only where some segment is: a record without sleep (or not staged) has no such split
        which_segments = (f"the {count_text(bg['pdr_segments_possible'])} not scored as sleep (N1-N3, REM)" if bg["pdr_segments_possible"] < n
                          else f"the {count_text(n)}")  # fmt: skip
        if n == 1:  # the one segment: no share to give
            sentences.append(f"A posterior dominant rhythm of {bg['pdr_hz']:.1f} Hz is present." if bg["pdr_hz"] is not None
                             else "No posterior dominant rhythm is identified.")  # fmt: skip
        elif bg["pdr_hz"] is not None:
            sentences.append(f"A posterior dominant rhythm of {bg['pdr_hz']:.1f} Hz is present in {_percent(bg['pdr_fraction'])} of {which_segments}.")
        else:
            sentences.append(f"No posterior dominant rhythm is identified in {which_segments}.")
    if bg.get("sleep"):
        sentences.append(_sleep_sentence(bg["sleep"], bg["scope_segments"], n))
    if bg.get("sigma_peaks"):
        # A 11-16 Hz peak of N2-N3 is spindle activity, which the band counts above call alpha or beta.
        low_hz, high_hz = SIGMA_RANGE_HZ
        sentences.append(
            f"{count_text(bg['sigma_peaks'])} scored as N2-N3 {'has its' if bg['sigma_peaks'] == 1 else 'have their'} spectral peak "
            f"in the sigma range of sleep spindles ({low_hz:g}-{high_hz:g} Hz)."
        )
    amp_low, amp_high = bg["amplitude_range_uv"]
    if n == 1:
        sentences.append(f"The amplitude is {bg['median_amplitude_uv']} µV.")
    else:
        sentences.append(f"Median amplitude is {bg['median_amplitude_uv']} µV (10th-90th percentile {amp_low}-{amp_high} µV).")

    if recurring and n == 1:
        sentences.append("Findings: " + "; ".join(r.name for r in recurring) + ".")
    elif recurring:
        parts = [f"{r.name} in {_percent(r.fraction)} of segments (first at {format_time(r.first_s)})" + _sleep_only_text(r) for r in recurring]
        sentences.append("Recurring findings: " + "; ".join(parts) + ".")
    else:
        sentences.append("No slowing or hemispheric asymmetry is measured.")

    if artifacts and n == 1:
        sentences.append("Artifacts: " + "; ".join(ARTIFACT_NAMES.get(a, a) for a in artifacts) + ".")
    elif artifacts:
        parts = [f"{ARTIFACT_NAMES.get(a, a)} in {_percent(s.fraction)} of segments (first at {format_time(s.first_s)})" for a, s in artifacts.items()]
        sentences.append("Artifacts: " + "; ".join(parts) + ".")
    else:
        sentences.append("No artifacts are detected.")

    state = [c for c in state_changes if any(x in _STATE_CHANGES for x in c.changes)]
    if n == 1:
        pass  # one segment: nothing to compare it with, so no claim of stability either
    elif not state:
        sentences.append("The background is stable across the recording.")
    elif len(state) <= max_changes:
        parts = [f"{_change_description([x for x in c.changes if x in _STATE_CHANGES])} at {format_time(c.time_s)}" for c in state]
        sentences.append(f"State changes ({len(state)}): " + "; ".join(parts) + ".")
    else:
        # Many changes (a fluctuating recording): counts per kind read better than a long list.
        counts = Counter(x for c in state for x in c.changes if x in _STATE_CHANGES)
        kinds = ", ".join(f"{CHANGE_NAMES[x].replace('the background ', 'background ')} {n}x" for x, n in counts.most_common())
        sentences.append(
            f"The findings change from the preceding segments at {count_text(len(state))} ({kinds}), first at "
            f"{format_time(state[0].time_s)}; the timeline groups the recording into {n_episodes} episodes."
        )

    if labels:
        parts = []
        for key, counts in sorted(labels.items()):
            values = ", ".join(f"{value} {_percent(count / n)}" for value, count in counts.most_common())
            parts.append(f"{key.replace('_', ' ')}: {values}")
        sentences.append("Source labels: " + "; ".join(parts) + ".")
    return " ".join(sentences)


def _event_name(kind: str, count: int) -> str:
    """``EVENT_NAMES``' name of ``count`` events of ``kind``, in the plural from two on."""
    if count == 1:
        return EVENT_NAMES.get(kind, kind)
    return EVENT_PLURALS.get(kind, EVENT_NAMES.get(kind, kind) + "s")
