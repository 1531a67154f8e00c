"""Recording -> report: stream the segments through the front-end and a narrator, check each
narrative against the measured findings, and roll the recording up into a summary.

Memory stays bounded on long recordings: the feature extractor yields chunks of
``batch_segments`` segments (``iter_batches``), and the pipeline keeps only the per-segment text,
findings and mean band powers plus the arrays of a handful of selected segments for the figures
(unless ``keep_arrays=True``, which the Space uses for its segment slider on short uploads).
"""

from __future__ import annotations

import datetime
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..eeg_io_neuronarrator import EEG_SCALE
from ..findings_neuronarrator import Findings, measured_change_window
from .consistency import ConsistencyIssue, check_consistency
from .narrators import Narrator
from .repair import repair_narrative
from .summary import RecordingSummary, format_time, summarize_recording

__all__ = ["RecordingReport", "SegmentReport", "SelectedSegment", "narrate_recording", "regenerate_contradicted", "regeneration_score", "sample_and_check"]

logger = logging.getLogger(__name__)

# Changes that make a segment worth showing in the figures.
_NOTABLE_CHANGES = ("faster", "slower", "higher_amplitude", "lower_amplitude", "slowing_appeared", "slowing_resolved")


@dataclass
class SegmentReport:
    """One segment of the report: its time, measured findings, narrative and consistency issues."""

    index: int
    start_s: float
    end_s: float
    findings: Findings
    narrative: str
    issues: list[ConsistencyIssue] = field(default_factory=list)
    # Strict mode: the model's own text when it contradicted the measurement and was rewritten.
    original_narrative: str | None = None
    repaired_fields: list[str] = field(default_factory=list)
    # Strict mode: the model's greedy narrative when it contradicted the measurement and a sampled
    # one that contradicts less replaced it (sample-and-check), and the fields it got wrong.
    draft_narrative: str | None = None
    draft_fields: list[str] = field(default_factory=list)
    # Measured grammar: the decoding steps where the model's own best token would have left the
    # sentences its measurement allows (0: the narrative as the model chose it); None when the
    # narrator did not decode under the grammar.
    grammar_steered: int | None = None

    @property
    def contradictions(self) -> list[ConsistencyIssue]:
        return [i for i in self.issues if i.kind == "contradicted"]

    @property
    def unverified(self) -> list[ConsistencyIssue]:
        return [i for i in self.issues if i.kind == "unverified"]

    @property
    def flagged(self) -> bool:
        """The narrative states something the measurement does not support (or nothing at all)."""
        return any(i.kind in ("contradicted", "unverified", "empty") for i in self.issues)

    @property
    def first_draft_flagged(self) -> bool:
        """The model's greedy narrative was flagged, whatever strict mode then did with it."""
        return self.draft_narrative is not None or self.original_narrative is not None or self.flagged

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "start_s": self.start_s,
            "end_s": self.end_s,
            "narrative": self.narrative,
            "findings": self.findings.to_dict(),
            "consistency": [i.to_dict() for i in self.issues],
            "original_narrative": self.original_narrative,
            "repaired_fields": list(self.repaired_fields),
            "draft_narrative": self.draft_narrative,
            "draft_fields": list(self.draft_fields),
            "grammar_steered": self.grammar_steered,
        }


@dataclass
class SelectedSegment:
    """Arrays of one segment kept for the figures.

    ``eeg_uv`` ``(19, 2000)`` in µV; ``channel_mask`` ``(19,)`` bool; ``topomaps`` ``(5, H, W)``.
    """

    index: int
    start_s: float
    reason: str
    eeg_uv: np.ndarray
    channel_mask: np.ndarray
    topomaps: np.ndarray


@dataclass
class RecordingReport:
    """Everything a report shows; ``render`` turns it into HTML, Markdown or JSON."""

    recording_info: dict[str, Any]
    narrator_name: str
    narrator_kind: str
    segments: list[SegmentReport]
    summary: RecordingSummary
    band_power_mean: np.ndarray  # (n_segments, 5): band powers averaged over channels
    selected: list[SelectedSegment]
    settings: dict[str, Any]
    timing: dict[str, float]
    ch_names: list[str]
    sampling_rate: float
    segment_seconds: float
    created: str
    arrays: dict[str, np.ndarray] | None = None  # keep_arrays=True: eeg_values, channel_mask, topomaps of every segment

    @property
    def n_repaired(self) -> int:
        """Segments whose narrative strict mode rewrote (it contradicted the measurement)."""
        return sum(1 for s in self.segments if s.original_narrative is not None)

    @property
    def n_regenerated(self) -> int:
        """Segments whose greedy narrative strict mode replaced by a sampled one (sample-and-check)."""
        return sum(1 for s in self.segments if s.draft_narrative is not None)

    @property
    def n_steered(self) -> int:
        """Segments whose narrative the measured grammar steered (the model's first choice of a token
        would have contradicted the measurement or left its sentences)."""
        return sum(1 for s in self.segments if s.grammar_steered)

    @property
    def n_first_drafts_flagged(self) -> int:
        """Segments whose greedy narrative was flagged: the model's own figure, before strict mode."""
        return sum(1 for s in self.segments if s.first_draft_flagged)

    @property
    def n_flagged(self) -> int:
        """Segments whose narrative contradicts the measurement or states unverifiable labels."""
        return sum(1 for s in self.segments if s.flagged)


class _SegmentSelector:
    """Keeps the arrays of a few segments worth a figure, in bounded memory.

    The first segment always; then the segments with the most notable changes; evenly spaced
    segments fill the remaining places when the recording has few changes.
    """

    def __init__(self, n_total: int, max_selected: int):
        self.max_selected = max(1, int(max_selected))
        n_total = max(1, int(n_total))
        self.spaced = {int(round(x)) for x in np.linspace(0, n_total - 1, self.max_selected)[1:]} if n_total > 1 else set()
        self.kept: dict[int, SelectedSegment] = {}
        self.scores: dict[int, float] = {}

    @staticmethod
    def _score(f: Findings) -> float:
        # Changes of state only: a persistent finding would otherwise fill every place with
        # near-identical segments; evenly spaced segments show persistent findings anyway.
        return float(len([c for c in (f.change_from_previous or []) if c in _NOTABLE_CHANGES]))

    def offer(self, index: int, start_s: float, findings: Findings, eeg_uv, channel_mask, topomaps) -> None:
        score = self._score(findings)
        if index == 0:
            reason = "first segment"
        elif score > 0:
            reason = "; ".join(c.replace("_", " ") for c in (findings.change_from_previous or []) if c in _NOTABLE_CHANGES)
        elif index in self.spaced:
            reason = "evenly spaced"
        else:
            return
        notable = [i for i, s in self.scores.items() if 0 < s < float("inf")]
        if score > 0 and len(notable) >= self.max_selected - 1:
            # Replace the weakest notable segment when this one is stronger (earliest wins ties).
            weakest = min(notable, key=lambda i: (self.scores[i], -i))
            if self.scores[weakest] >= score:
                return
            del self.kept[weakest], self.scores[weakest]
        self.kept[index] = SelectedSegment(index, float(start_s), reason, np.array(eeg_uv, dtype=np.float32), np.array(channel_mask, bool), np.array(topomaps, dtype=np.float32))
        self.scores[index] = score if index != 0 else float("inf")

    def result(self) -> list[SelectedSegment]:
        order = sorted(self.kept, key=lambda i: (-self.scores[i], i))
        chosen = order[: self.max_selected]
        return [self.kept[i] for i in sorted(chosen)]


def _take(batch, key: str):
    value = batch[key]
    return value.numpy() if hasattr(value, "numpy") else value


@dataclass
class _HistoryBuffer:
    """The (up to) K segments just before the next chunk, as a narrator's ``history`` argument."""

    k: int
    segments: deque = field(default_factory=deque)  # dicts: eeg_values, channel_mask, topomaps, findings, segment_start_s, segment_index

    def as_history(self) -> dict[str, Any] | None:
        if self.k == 0 or not self.segments:
            return None
        items = list(self.segments)
        return {
            "eeg_values": np.stack([h["eeg_values"] for h in items]),
            "channel_mask": np.stack([h["channel_mask"] for h in items]),
            "topomaps": np.stack([h["topomaps"] for h in items]),
            "findings": [h["findings"] for h in items],
            "segment_start_s": np.array([h["segment_start_s"] for h in items]),
            "segment_index": np.array([h["segment_index"] for h in items]),
        }

    def extend(self, chunk: dict[str, Any]) -> None:
        if self.k == 0:
            return
        for i in range(len(chunk["findings"])):
            self.segments.append({key: chunk[key][i] for key in chunk})
        while len(self.segments) > self.k:
            self.segments.popleft()


def change_windows(findings: Sequence[Findings], segment_indices: Sequence[int], k: int, segment_seconds: float) -> list[str]:
    """The window each segment's change sentence must name: the one its change was measured over
    (``findings_neuronarrator.measured_change_window``); for findings without that field, the ``k``
    segments the narrator is given before each one (fewer at the recording's start)."""
    return [measured_change_window(f, min(int(index), k), segment_seconds) for f, index in zip(findings, segment_indices)]


class _ReportBuilder:
    """Collects what the report keeps of each narrated chunk (bounded memory unless keep_arrays)."""

    def __init__(self, segment_seconds: float, consistency: bool, keep_arrays: bool, max_selected: int, strict: bool = False):
        self.segment_seconds = segment_seconds
        self.consistency = consistency or strict
        self.strict = strict
        self.keep_arrays = keep_arrays
        self.max_selected = max_selected
        self.segments: list[SegmentReport] = []
        self.band_power_mean: list[np.ndarray] = []
        self.kept_arrays: dict[str, list[np.ndarray]] = {"eeg_values": [], "channel_mask": [], "topomaps": []}
        self.selector: _SegmentSelector | None = None

    def chunk_of(self, batch) -> dict[str, Any]:
        """The narrator's view of one streamed batch (positions continue across batches)."""
        findings = list(batch["findings"])
        first = len(self.segments)
        return {
            "eeg_values": np.asarray(_take(batch, "eeg_values")),
            "channel_mask": np.asarray(_take(batch, "channel_mask")).astype(bool),
            "topomaps": np.asarray(_take(batch, "topomaps")),
            "findings": findings,
            "segment_start_s": np.asarray(_take(batch, "segment_start_s"), dtype=float),
            "segment_index": np.arange(first, first + len(findings)),
        }

    def add(
        self,
        chunk: dict[str, Any],
        narratives: list[str],
        band_powers: np.ndarray,
        previous: list[Findings],
        k: int,
        windows: list[str],  # each segment's change window (``change_windows``), as the narrator was given it
        drafts: dict[int, tuple[str, list[str]]] | None = None,
        steered: list[int] | None = None,
    ) -> None:
        from dataset_builder.description import rephrase_retired  # the corpus' writer

        starts, findings = chunk["segment_start_s"], chunk["findings"]
        # A model trained on phrasings the writer has retired is shown in the current ones (same statements).
        narratives = [rephrase_retired(text) for text in narratives]
        window = list(previous)
        for i, index in enumerate(chunk["segment_index"]):
            segment = SegmentReport(int(index), float(starts[i]), float(starts[i]) + self.segment_seconds, findings[i], narratives[i])
            if drafts and i in drafts:
                segment.draft_narrative, segment.draft_fields = rephrase_retired(drafts[i][0]), list(drafts[i][1])
            if steered is not None:
                segment.grammar_steered = int(steered[i])
            if self.consistency:
                segment.issues = check_consistency(narratives[i], findings[i], change_window=windows[i])
            if self.strict:
                repair = repair_narrative(narratives[i], findings[i], window[-k:] if k else None, segment.issues, seed=int(index),
                                          segment_seconds=self.segment_seconds)  # fmt: skip
                segment.narrative, segment.issues = repair.narrative, repair.issues
                segment.original_narrative, segment.repaired_fields = repair.original, repair.fields
            self.segments.append(segment)
            window.append(findings[i])
            self.selector.offer(int(index), starts[i], findings[i], chunk["eeg_values"][i] / EEG_SCALE, chunk["channel_mask"][i], chunk["topomaps"][i])
        self.band_power_mean.append(band_powers.mean(axis=1) if band_powers.ndim == 3 else band_powers)
        if self.keep_arrays:
            self.kept_arrays["eeg_values"].append(chunk["eeg_values"].astype(np.float32))
            self.kept_arrays["channel_mask"].append(chunk["channel_mask"])
            self.kept_arrays["topomaps"].append(chunk["topomaps"].astype(np.float32))

    def arrays(self) -> dict[str, np.ndarray] | None:
        return {key: np.concatenate(value) for key, value in self.kept_arrays.items()} if self.keep_arrays else None


def narrate_recording(
    recording,
    narrator: Narrator,
    feature_extractor=None,
    *,
    sampling_rate: float | None = None,
    ch_names: list[str] | None = None,
    line_freq: float | None = None,
    start_s: float | None = None,
    end_s: float | None = None,
    batch_segments: int = 32,
    consistency: bool = True,
    strict: bool = False,
    keep_arrays: bool = False,
    max_selected: int = 4,
    progress: Callable[[int, int | None], None] | None = None,
) -> RecordingReport:
    """Narrate every segment of a recording and build its report.

    Args:
        recording: a path, an ``mne.io.BaseRaw`` or an array ``(n_channels, n_samples)`` in µV
            (with ``ch_names`` and ``sampling_rate``): whatever the feature extractor accepts.
        narrator: a ``Narrator`` (``ModelNarrator`` or ``TemplateNarrator``).
        feature_extractor: a ``NeuroNarratorFeatureExtractor``; default: one with default settings
            (a model narrator brings its processor's feature extractor).
        start_s, end_s: analyse only this window, in seconds from the recording start.
        batch_segments: segments per streamed chunk (memory ~ chunk size, not recording length).
        consistency: check each narrative against the measured findings (the consistency check).
        strict: a narrative that contradicts the measured findings is first narrated again by
            sampling (``regenerate_contradicted``: the model's own text, when a sample contradicts
            less), then, if it still contradicts them, rewritten to state them
            (``repair.repair_narrative``); the model's texts are kept beside it in the report.
        keep_arrays: also keep ``eeg_values``/``channel_mask``/``topomaps`` of every segment in
            ``report.arrays`` (for interactive browsing of short recordings; memory grows with length).
        max_selected: segments whose waveform and topomaps the figures show.
        progress: called as ``progress(segments_done, segments_total_or_None)`` after each chunk.

    Returns:
        A ``RecordingReport``.

    Raises:
        EEGInputError: the front-end cannot use the recording (the message names file, problem, fix).
        ValueError: the window holds no complete segment.
    """
    if batch_segments < 1:
        raise ValueError(f"batch_segments must be at least 1, got {batch_segments}")
    feature_extractor = feature_extractor or _feature_extractor_of(narrator)
    segment_seconds = float(getattr(feature_extractor, "segment_seconds", 10.0))
    hop_seconds = float(getattr(feature_extractor, "hop_seconds", segment_seconds))
    history = _HistoryBuffer(max(0, int(narrator.history_segments)))
    builder = _ReportBuilder(segment_seconds, consistency, keep_arrays, max_selected, strict=strict)
    started, narrate_time = time.perf_counter(), 0.0
    recording_info: dict[str, Any] = {}
    n_total: int | None = None
    stream = feature_extractor.iter_batches(
        recording, sampling_rate=sampling_rate, ch_names=ch_names, line_freq=line_freq,
        start_s=start_s, end_s=end_s, batch_segments=batch_segments,
    )  # fmt: skip
    for batch in stream:
        if not recording_info:
            recording_info = dict(batch.get("recording_info") or getattr(batch, "recording_info", None) or {})
            n_total = _expected_segments(recording_info, start_s, end_s, segment_seconds, hop_seconds)
            builder.selector = _SegmentSelector(n_total or 1, max_selected)
        chunk = builder.chunk_of(batch)
        tick = time.perf_counter()
        previous = history.as_history()
        narratives = narrator.narrate_segments(chunk, previous)
        if len(narratives) != len(chunk["findings"]):
            raise RuntimeError(f"{narrator.name} returned {len(narratives)} narratives for {len(chunk['findings'])} segments")
        steered = getattr(narrator, "last_steered", None)  # read before a regeneration samples
        windows = change_windows(chunk["findings"], chunk["segment_index"], history.k, segment_seconds)
        drafts = regenerate_contradicted(narrator, narratives, chunk["findings"], seed=int(chunk["segment_index"][0]),
                                         change_windows=windows) if strict else {}  # fmt: skip
        narrate_time += time.perf_counter() - tick
        builder.add(chunk, narratives, np.asarray(_take(batch, "band_powers"), dtype=float), previous["findings"] if previous else [], history.k,
                    windows, drafts, steered)  # fmt: skip
        history.extend(chunk)
        if progress is not None:
            progress(len(builder.segments), n_total)
    if not builder.segments:
        raise ValueError(f"{recording_info.get('path') or 'recording'}: no complete {segment_seconds:g} s segment in the analysed window; widen --start/--end")
    settings = {"start_s": start_s, "end_s": end_s, "batch_segments": batch_segments, "history_segments": history.k,
                "consistency": consistency or strict, "strict": strict, "device": str(getattr(narrator, "device", "cpu")),
                "measured_grammar": bool(getattr(narrator, "measured_grammar", False))}  # fmt: skip
    return _finish_report(builder, narrator, feature_extractor, recording_info, settings, time.perf_counter() - started, narrate_time)


def regeneration_score(narrative: str, findings: Findings, change_window: str | None = None) -> tuple[int, int]:
    """What sample-and-check minimizes, in order: the statements of ``narrative`` that contradict the
    measured findings, the source-label claims the recording does not carry, or 1 for a narrative
    with nothing checkable; then, among narratives with as many of those, the measured findings it
    leaves unsaid. A label claim whose *value* differs from the recording's own label does not count:
    label values are read from the EEG and never chosen by comparison with the answer (strict
    mode's repair then states the recording's own label). A narrative is narrated again when the
    first count is above 0. ``change_window``: see ``check_consistency``."""
    from dataset_builder.description import FIELD_SPECS  # the corpus' field table

    issues = check_consistency(narrative, findings, change_window=change_window)
    wrong = sum(
        1 for i in issues
        if i.kind in ("empty", "unverified") or (i.kind == "contradicted" and not (FIELD_SPECS.get(i.field) is not None and FIELD_SPECS[i.field].label))
    )  # fmt: skip
    return wrong, sum(1 for i in issues if i.kind == "omitted")


def sample_and_check(
    narratives: Sequence[str],
    findings: Sequence[Findings],
    best_samples: Callable[[list[int]], dict[int, str]],
    change_windows: Sequence[str | None] | None = None,
) -> tuple[list[int], dict[int, str]]:
    """Sample-and-check, whoever samples: the positions of ``narratives`` that contradict their
    measured findings (``regeneration_score``'s first count above 0) are handed to ``best_samples``,
    which narrates them again and returns its best sample per position (``ModelNarrator.regenerate``,
    or ``narrators.best_of_samples`` over a model's samples); a sample is kept only where it scores
    lower than the narrative it would replace. ``change_windows``: per position, the window its
    change sentence must name (``check_consistency``'s ``change_window``), or None.

    Returns:
        The contradicting positions, and ``{position: replacement}`` for those a sample improves.
    """
    windows = [None] * len(narratives) if change_windows is None else list(change_windows)
    scores = [regeneration_score(text, f, w) for text, f, w in zip(narratives, findings, windows)]
    rows = [i for i, score in enumerate(scores) if score[0] > 0]
    if not rows:
        return rows, {}
    best = best_samples(rows)
    return rows, {row: text for row, text in best.items() if regeneration_score(text, findings[row], windows[row]) < scores[row]}


def regenerate_contradicted(
    narrator: Narrator,
    narratives: list[str],
    findings: list[Findings],
    num_candidates: int = 4,
    seed: int = 0,
    change_windows: Sequence[str | None] | None = None,
) -> dict[int, tuple[str, list[str]]]:
    """Sample-and-check (strict mode's first remedy): each narrative of the chunk just narrated that
    contradicts its measured findings is narrated again by the narrator (``num_candidates`` samples,
    ``ModelNarrator.regenerate``); the best sample replaces it in ``narratives`` when it contradicts
    less (``sample_and_check``). A narrator that cannot regenerate (the template writer, consistent
    by construction) is left alone.

    Returns:
        ``{position in the chunk: (the replaced greedy narrative, its flagged fields)}``.
    """
    regenerate = getattr(narrator, "regenerate", None)
    if regenerate is None:
        return {}
    windows = [None] * len(narratives) if change_windows is None else list(change_windows)
    rows, better = sample_and_check(
        narratives, findings, lambda rows: regenerate(rows, regeneration_score, num_candidates=num_candidates, seed=seed), windows
    )
    drafts: dict[int, tuple[str, list[str]]] = {}
    for row, text in better.items():
        fields = sorted({i.field for i in check_consistency(narratives[row], findings[row], change_window=windows[row]) if i.kind != "omitted"})
        drafts[row] = (narratives[row], fields)
        narratives[row] = text
    logger.debug("sample-and-check: %d of %d contradicting narratives replaced", len(drafts), len(rows))
    return drafts


def _feature_extractor_of(narrator: Narrator):
    """A model narrator brings its processor's feature extractor; otherwise default settings."""
    feature_extractor = getattr(getattr(narrator, "processor", None), "feature_extractor", None)
    if feature_extractor is None:
        from .. import NeuroNarratorFeatureExtractor

        feature_extractor = NeuroNarratorFeatureExtractor()
    return feature_extractor


def _finish_report(builder: _ReportBuilder, narrator: Narrator, feature_extractor, recording_info: dict, settings: dict,
                   elapsed: float, narrate_time: float) -> RecordingReport:  # fmt: skip
    from .. import STANDARD_CHANNELS

    segments = builder.segments
    summary = summarize_recording([s.findings for s in segments], [s.start_s for s in segments], builder.segment_seconds)
    report = RecordingReport(
        recording_info=recording_info,
        narrator_name=narrator.name,
        narrator_kind=narrator.kind,
        segments=segments,
        summary=summary,
        band_power_mean=np.concatenate(builder.band_power_mean),
        selected=builder.selector.result(),
        settings=settings,
        timing={
            "total_s": round(elapsed, 3),
            "narrate_s": round(narrate_time, 3),
            "segments_per_s": round(len(segments) / elapsed, 2) if elapsed > 0 else float("nan"),
        },
        ch_names=list(STANDARD_CHANNELS),
        sampling_rate=float(getattr(feature_extractor, "sampling_rate", 200)),
        segment_seconds=builder.segment_seconds,
        created=datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        arrays=builder.arrays(),
    )
    logger.info(
        "%s: %d segments (%s) in %.1f s, %d narratives flagged",
        recording_info.get("path"), len(segments), format_time(summary.analysed_s), elapsed, report.n_flagged,
    )
    return report


def _expected_segments(info: dict, start_s, end_s, segment_seconds: float, hop_seconds: float) -> int | None:
    duration = info.get("duration_s")
    if duration is None:
        return None
    lo = max(0.0, float(start_s or 0.0))
    hi = min(float(duration), float(end_s)) if end_s is not None else float(duration)
    if hi - lo < segment_seconds:
        return 0
    return int((hi - lo - segment_seconds) // hop_seconds) + 1
