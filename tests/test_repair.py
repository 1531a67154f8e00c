"""Strict mode: narratives that contradict the measurement are rewritten to state it."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from dataset_builder import describe, findings_to_fields, parse
from modeling_neuronarrator import STANDARD_CHANNELS, NeuroNarratorFeatureExtractor
from modeling_neuronarrator.report import narrate_recording
from modeling_neuronarrator.report.consistency import check_consistency
from modeling_neuronarrator.report.render import render_json
from modeling_neuronarrator.report.repair import repair_narrative


@pytest.fixture(scope="module")
def alpha_findings(synth):
    x = synth.add_sine(synth.background(seconds=30.0, sfreq=200.0, rms_uv=8.0, seed=1), ("O1", "O2", "P3", "P4", "Pz"), 10.0, 30.0)
    features = NeuroNarratorFeatureExtractor()(x, sampling_rate=200.0, ch_names=list(STANDARD_CHANNELS))
    return features["findings"]


def _wrong_text(findings) -> str:
    """A fluent narrative of other findings: every artifact claimed, generalized slowing."""
    other = dataclasses.replace(findings, artifacts=["muscle", "eye_blink"], dominant_frequency_hz=2.0, dominant_band="delta")
    return describe(other, seed=1)


def test_a_contradicting_narrative_is_rewritten_to_the_measurement(alpha_findings):
    findings = alpha_findings[1]
    wrong = _wrong_text(findings)
    assert any(i.kind == "contradicted" for i in check_consistency(wrong, findings))
    repair = repair_narrative(wrong, findings, history=alpha_findings[:1], seed=3)
    assert repair.original == wrong
    assert "artifacts" in repair.fields
    assert parse(repair.narrative) == findings_to_fields(findings, findings.labels)
    assert not [i for i in repair.issues if i.kind in ("contradicted", "empty")]


def test_a_consistent_narrative_is_left_alone(alpha_findings):
    findings = alpha_findings[0]
    text = describe(findings, seed=5)
    repair = repair_narrative(text, findings)
    assert repair.narrative == text and repair.original is None and repair.fields == []


def test_a_label_claim_stays_only_where_the_recording_carries_the_label(alpha_findings):
    findings = alpha_findings[1]
    # Measured fields right, but it claims annotations the recording does not have.
    claimed = describe(findings, labels={"stimulus": "interleaved", "recording_quality": "good"}, seed=2)
    assert not [i for i in check_consistency(claimed, findings) if i.kind == "contradicted"]
    assert {i.field for i in check_consistency(claimed, findings) if i.kind == "unverified"} == {"stimulus", "recording_quality"}
    struck = repair_narrative(claimed, findings)
    assert struck.original == claimed and sorted(struck.fields) == ["recording_quality", "stimulus"]
    assert parse(struck.narrative)["stimulus"] is None and parse(struck.narrative)["recording_quality"] is None
    assert not [i for i in struck.issues if i.kind in ("contradicted", "unverified", "empty")]
    # A recording that carries the label: the claim is checked against it, and its value wins.
    labelled = dataclasses.replace(findings, labels={"stimulus": "none"})
    overruled = repair_narrative(claimed, labelled)
    assert parse(overruled.narrative)["stimulus"] == "none" and parse(overruled.narrative)["recording_quality"] is None
    confirmed = repair_narrative(describe(findings, labels={"stimulus": "none"}, seed=2), labelled)
    assert confirmed.original is None  # a supported claim needs no repair


class _ConfabulatingNarrator:
    """Writes the same contradicting paragraph for every segment."""

    name, kind, history_segments = "confabulator", "model", 2

    def narrate_segments(self, batch, history):
        return [_wrong_text(f) for f in batch["findings"]]


def test_strict_pipeline_leaves_no_contradiction_and_says_what_it_rewrote(synth):
    x = synth.add_sine(synth.background(seconds=40.0, sfreq=200.0, rms_uv=8.0, seed=2), ("O1", "O2", "P3", "P4", "Pz"), 10.0, 30.0)
    kwargs = dict(sampling_rate=200.0, ch_names=list(STANDARD_CHANNELS), batch_segments=3)
    loose = narrate_recording(x, _ConfabulatingNarrator(), **kwargs)
    assert all(s.contradictions for s in loose.segments) and loose.n_repaired == 0
    strict = narrate_recording(x, _ConfabulatingNarrator(), strict=True, **kwargs)
    assert len(strict.segments) == 4 and strict.n_repaired == 4
    assert not any(s.contradictions for s in strict.segments)
    assert all(s.original_narrative == _wrong_text(s.findings) for s in strict.segments)
    data = json.loads(render_json(strict))
    assert data["consistency"]["segments_repaired"] == 4 and data["consistency"]["strict"] is True
    assert data["segments"][0]["original_narrative"] == strict.segments[0].original_narrative
    assert np.all([parse(s.narrative)["artifacts"] == findings_to_fields(s.findings)["artifacts"] for s in strict.segments])


# ---------------------------------------------------------------- sample-and-check (strict mode's first remedy)


def test_regeneration_score_counts_contradictions_and_unsupported_label_claims_never_label_values(alpha_findings):
    from modeling_neuronarrator.report.pipeline import regeneration_score

    findings = alpha_findings[1]
    assert regeneration_score(describe(findings, seed=4), findings) == (0, 0)
    wrong = _wrong_text(findings)
    contradicted = {i.field for i in check_consistency(wrong, findings) if i.kind == "contradicted"}
    assert regeneration_score(wrong, findings)[0] == len(contradicted) >= 2
    assert regeneration_score("", findings) == (1, 0)
    claimed = describe(findings, labels={"stimulus": "interleaved"}, seed=2)
    assert regeneration_score(claimed, findings) == (1, 0)  # a label the recording does not carry
    # The recording's own label disagrees with the claim: not counted (the value is never selected on).
    labelled = dataclasses.replace(findings, labels={"stimulus": "none"})
    assert any(i.kind == "contradicted" and i.field == "stimulus" for i in check_consistency(claimed, labelled))
    assert regeneration_score(claimed, labelled) == (0, 0)
    # Among narratives that contradict nothing, one that leaves a measured finding unsaid scores worse.
    complete = describe(findings, seed=4)
    first_sentence = complete.split(". ")[0] + "."
    assert regeneration_score(first_sentence, findings)[0] == 0 and regeneration_score(first_sentence, findings) > regeneration_score(complete, findings)


class _SecondThoughtsNarrator(_ConfabulatingNarrator):
    """Confabulates first; asked again, its samples state the measurement (or still confabulate)."""

    def __init__(self, fixed: bool = True):
        self.fixed = fixed
        self.asked: list[list[int]] = []
        self.last: list = []

    def narrate_segments(self, batch, history):
        self.last = list(batch["findings"])
        self.given = [min(int(i), self.history_segments) for i in batch["segment_index"]]  # preceding segments given
        return super().narrate_segments(batch, history)

    def measured(self, row: int) -> str:
        """The writer's text for the row, its change window the history it was given."""
        return describe(self.last[row], history=[self.last[row]] * self.given[row], seed=row)

    def regenerate(self, rows, score, num_candidates=4, temperature=0.7, seed=0):
        self.asked.append(list(rows))
        texts = {}
        for row in rows:
            candidates = [_wrong_text(self.last[row])] * (num_candidates - 1)
            candidates.append(self.measured(row) if self.fixed else _wrong_text(self.last[row]))
            texts[row] = min(candidates, key=lambda text: score(text, self.last[row]))
        return texts


def test_strict_pipeline_narrates_contradicting_segments_again_before_rewriting_them(synth):
    x = synth.add_sine(synth.background(seconds=40.0, sfreq=200.0, rms_uv=8.0, seed=2), ("O1", "O2", "P3", "P4", "Pz"), 10.0, 30.0)
    kwargs = dict(sampling_rate=200.0, ch_names=list(STANDARD_CHANNELS), batch_segments=3)
    narrator = _SecondThoughtsNarrator()
    strict = narrate_recording(x, narrator, strict=True, **kwargs)
    assert narrator.asked == [[0, 1, 2], [0]]  # every segment of each chunk contradicted: all asked again
    assert strict.n_regenerated == 4 and strict.n_repaired == 0 and strict.n_first_drafts_flagged == 4 and strict.n_flagged == 0
    for segment in strict.segments:
        assert segment.draft_narrative == _wrong_text(segment.findings) and "artifacts" in segment.draft_fields
        given = [segment.findings] * min(segment.index, narrator.history_segments)
        assert segment.narrative == describe(segment.findings, history=given, seed=segment.index % 3) and segment.original_narrative is None
    data = json.loads(render_json(strict))
    assert data["consistency"]["segments_regenerated"] == 4 and data["consistency"]["first_drafts_flagged"] == 4
    assert data["segments"][1]["draft_narrative"] == strict.segments[1].draft_narrative
    from modeling_neuronarrator.report.render import render_markdown

    markdown = render_markdown(strict)
    assert "4 of the model's narratives contradicted the measurement; 4 were narrated again by the model (sample-and-check) and 0 were rewritten" in markdown
    assert markdown.count("narrated again (") == 4
    # Samples no better than the first draft: the draft stays, and the repair rewrites it.
    stubborn = narrate_recording(x, _SecondThoughtsNarrator(fixed=False), strict=True, **kwargs)
    assert stubborn.n_regenerated == 0 and stubborn.n_repaired == 4 and stubborn.n_first_drafts_flagged == 4
    # Outside strict mode nobody is asked again.
    loose_narrator = _SecondThoughtsNarrator()
    loose = narrate_recording(x, loose_narrator, **kwargs)
    assert loose_narrator.asked == [] and loose.n_regenerated == 0 and loose.n_first_drafts_flagged == 4
