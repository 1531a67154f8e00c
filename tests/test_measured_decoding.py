"""Measurement-constrained decoding: the measured grammar (``description.measured_sentence_patterns``)
and the logits processor that keeps a narrative inside it (``report.measured_decoding``)."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import numpy as np

import pytest
import torch

import modeling_neuronarrator
from dataset_builder import describe, parse
from dataset_builder.description import findings_to_fields, measured_sentence_patterns
from modeling_neuronarrator import Findings
from modeling_neuronarrator.findings_neuronarrator import Asymmetry, Event, Slowing
from modeling_neuronarrator.report.measured_decoding import MeasuredGrammarLogitsProcessor

DEFAULT = Path(modeling_neuronarrator.__file__).resolve().parent / "default_model"
SENTENCE_END = re.compile(r"(?<=\.)\s+(?=[A-Z])")


def _findings(**changes) -> Findings:
    base = dict(
        band_power_by_region={}, band_power_by_hemisphere={}, state="awake", dominant_frequency_hz=9.8, dominant_band="alpha", posterior_dominant_rhythm_hz=9.8,
        predominant_region="occipital", amplitude_uv=45.0, asymmetry=Asymmetry(side="none"),
        slowing=Slowing(kind="focal", side="left", region="temporal"), artifacts=["eye_blink"],
        events=[Event(kind="lateralized_rhythmic_delta", onset_s=1.0, offset_s=6.5, channels=["T7", "P7"], frequency_hz=1.5)],
        change_from_previous=["slowing_appeared"],
    )  # fmt: skip
    base.update(changes)
    return Findings(**base)


CASES = {
    "focal slowing and an event": _findings(),
    "sleep, sparse montage": _findings(
        state="N2", posterior_dominant_rhythm_hz=None, predominant_region="not_assessable", asymmetry=Asymmetry(side="not_assessable"),
        slowing=Slowing(kind="none", focal_assessable=False), artifacts=[], events=[], change_from_previous=None,
    ),  # fmt: skip
    "no rhythm, asymmetry, labels": _findings(
        dominant_frequency_hz=None, dominant_band="delta", posterior_dominant_rhythm_hz=None, asymmetry=Asymmetry(side="right"),
        slowing=Slowing(kind="generalized"), events=[], labels={"eyes": "closed", "abnormal": "abnormal"},
    ),  # fmt: skip
}


def _compiled(findings: Findings) -> dict[str, list[re.Pattern]]:
    return {group: [re.compile(p) for p in patterns] for group, patterns in measured_sentence_patterns(findings).items()}


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_sentence_the_writer_writes_is_in_its_measured_grammar_once_per_group(name):
    findings = CASES[name]
    grammar = _compiled(findings)
    for seed in range(12):
        for history in (None, [findings] * 3):
            groups = []
            for sentence in SENTENCE_END.split(describe(findings, seed=seed, history=history)):
                matching = [group for group, patterns in grammar.items() if any(p.fullmatch(sentence) for p in patterns)]
                assert matching, f"{name}: {sentence!r} is not in the measured grammar"
                groups.append(matching[0])
            assert len(groups) == len(set(groups)), groups


def test_grammar_leaves_out_what_the_measurement_contradicts():
    grammar = _compiled(CASES["focal slowing and an event"])
    everything = [p for patterns in grammar.values() for p in patterns]

    def allowed(sentence: str) -> bool:
        return any(p.fullmatch(sentence) for p in everything)

    assert allowed("There is focal slowing over the left temporal region.")
    assert not allowed("There is focal slowing over the right temporal region.")  # the other side
    assert not allowed("There is focal slowing over the left occipital region.")  # the predominant region copied
    assert not allowed("No slowing is present.")  # a variant of another value
    assert allowed("The posterior dominant rhythm is 9.8 Hz.") and not allowed("The posterior dominant rhythm is 10.8 Hz.")
    assert not allowed("The background shows no generalized slowing.")
    assert allowed("A 1.5 Hz lateralized rhythmic delta activity is seen from 1.0 s to 6.5 s over T7 and P7.")
    assert not allowed("A 1.5 Hz lateralized rhythmic delta activity is seen from 1.0 s to 6.5 s over T8 and P8.")
    assert not allowed("No spike-and-wave discharges are detected.")
    # the writer's case: a lower-case start or "n2" is not a writer's sentence
    assert not allowed("there is focal slowing over the left temporal region.")
    # open: the change window, and the label phrase of annotated keys only
    assert allowed("Compared with the preceding 20 s, slowing has appeared.") and allowed("Since the preceding segment, slowing has appeared.")
    labelled = [p for patterns in _compiled(CASES["no rhythm, asymmetry, labels"]).values() for p in patterns]
    assert any(p.fullmatch("Eye state: eyes open.") for p in labelled) and any(p.fullmatch("Eye state: eyes closed.") for p in labelled)
    assert not any(p.fullmatch("Eye state: eyes open.") for p in everything)  # not annotated here


def test_unlocalized_focal_slowing_is_said_only_when_no_location_was_measured():
    """"Focal slowing without a clear localization" is the writer's sentence for focal slowing with
    neither side nor region measured; with a location measured it would leave it out."""
    def allowed(findings: Findings, sentence: str) -> bool:
        return any(p.fullmatch(sentence) for p in _compiled(findings)["slowing"])

    located, unlocated = CASES["focal slowing and an event"], _findings(slowing=Slowing(kind="focal"))
    for sentence in ("There is focal slowing without a clear localization.", "Focal slowing is present, not clearly localized."):
        assert not allowed(located, sentence) and allowed(unlocated, sentence)
    assert allowed(located, "There is focal slowing over the left temporal region.")
    for seed in range(6):  # the writer's own sentence for each stays in its grammar
        slowing = [s for s in SENTENCE_END.split(describe(unlocated, seed=seed)) if "ocal slowing" in s]
        assert slowing and all(allowed(unlocated, s) for s in slowing)


def test_grammar_groups_are_the_writers_sentence_groups():
    groups = set(measured_sentence_patterns(CASES["no rhythm, asymmetry, labels"]))
    assert {"state", "background", "pdr", "distribution", "amplitude", "asymmetry", "slowing", "events", "artifacts", "change"} <= groups
    assert {"label:eyes", "label:abnormal"} <= groups and not any(g.startswith("event:") for g in groups)
    with_event = set(measured_sentence_patterns(CASES["focal slowing and an event"]))
    assert "event:0" in with_event and "events" not in with_event  # "no events" contradicts a measured event


def test_sentence_spans_name_the_group_of_every_writer_sentence_and_skip_a_contradiction():
    from dataset_builder.description import measured_sentence_spans

    for name, findings in CASES.items():
        text = describe(findings, seed=3)
        spans = measured_sentence_spans(text, findings)
        assert [text[start:end] for start, end, _ in spans] == SENTENCE_END.split(text), name
        grammar = measured_sentence_patterns(findings)
        assert all(any(re.fullmatch(p, text[start:end]) for p in grammar[group]) for start, end, group in spans), name
    findings = CASES["focal slowing and an event"]
    text = "There is focal slowing over the right temporal region. No artifacts are seen. The record is of medium amplitude (45 µV peak to peak)."
    assert [group for _, _, group in measured_sentence_spans(text, findings)] == ["amplitude"]  # wrong side, unmeasured "no artifacts"


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(DEFAULT)


def _scripted_decode(tokenizer, preferences: list[tuple[str, float]], processor=None, max_new_tokens: int = 200) -> str:
    """Greedy decoding of a scripted 'model': each of ``preferences``' texts whose tokens the output
    still follows adds its weight to its next token (then end of text)."""
    scripts = [(tokenizer(text, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id], weight) for text, weight in preferences]
    prompt = [tokenizer.bos_token_id or 1]
    ids: list[int] = []
    generator = torch.Generator().manual_seed(0)
    for _ in range(max_new_tokens):
        scores = torch.rand(1, len(tokenizer), generator=generator)
        for script, weight in scripts:
            if script[: len(ids)] == ids and len(ids) < len(script):
                scores[0, script[len(ids)]] += weight
        if processor is not None:
            scores = processor(torch.tensor([prompt + ids]), scores)
        token = int(scores[0].argmax())
        if token == tokenizer.eos_token_id:
            break
        ids.append(token)
    return tokenizer.decode(ids, skip_special_tokens=True)


def test_processor_steers_a_contradicting_narrative_to_the_measured_value_and_leaves_the_rest(tokenizer):
    measured = CASES["focal slowing and an event"]
    wrong = _findings(slowing=Slowing(kind="focal", side="left", region="occipital"), posterior_dominant_rhythm_hz=10.4)
    wrong_text, right_text = describe(wrong, seed=3), describe(measured, seed=3)  # same phrasings, two values differ
    assert wrong_text != right_text
    preferences = [(wrong_text, 10.0), (right_text, 5.0)]
    assert _scripted_decode(tokenizer, preferences) == wrong_text  # free decoding writes what the model prefers
    processor = MeasuredGrammarLogitsProcessor(tokenizer, [measured])
    constrained = _scripted_decode(tokenizer, preferences, processor)
    assert constrained == right_text
    assert 1 <= processor.steered_steps <= 4 and processor.released_rows == 0 and processor.rows[0].steered == processor.steered_steps
    stated = parse(constrained)
    expected = findings_to_fields(measured)
    assert stated["slowing_region"] == "temporal" and stated["pdr_hz"] == 9.8
    assert all(stated[k] == expected[k] for k, v in stated.items() if v is not None)
    # a narrative the measurement agrees with is left exactly as the model writes it
    agreeing = MeasuredGrammarLogitsProcessor(tokenizer, [measured])
    assert _scripted_decode(tokenizer, [(right_text, 10.0)], agreeing) == right_text and agreeing.steered_steps == 0


def test_processor_says_each_group_once_and_ends_on_a_whole_sentence(tokenizer):
    measured = CASES["sleep, sparse montage"]
    text = describe(measured, seed=1)
    first = SENTENCE_END.split(text)[0]
    looping = " ".join([text] + [first] * 3)  # a model that repeats itself, then stops mid-sentence
    processor = MeasuredGrammarLogitsProcessor(tokenizer, [measured])
    out = _scripted_decode(tokenizer, [(looping + " The", 10.0)], processor)
    assert out == text
    assert parse(out)["state"] == "N2"


def test_sampling_keeps_every_allowed_token_near_the_top(tokenizer):
    measured = CASES["focal slowing and an event"]
    processor = MeasuredGrammarLogitsProcessor(tokenizer, [measured], top_k=len(tokenizer), sample=True)
    opening = " ".join(SENTENCE_END.split(describe(measured, seed=0))[:2])  # the state, then the background sentence
    prefix = tokenizer(opening + " There is focal slowing over the", add_special_tokens=False)["input_ids"]
    prompt = [1]
    for step in range(len(prefix)):  # walk the processor's state along the prefix
        processor(torch.tensor([prompt + prefix[:step]]), torch.zeros(1, len(tokenizer)))
    scores = processor(torch.tensor([prompt + prefix]), torch.zeros(1, len(tokenizer)))
    allowed = torch.isfinite(scores[0]).nonzero().flatten().tolist()
    # every token that can start the measured " left temporal region" (a lone space too), and nothing else
    assert sorted(tokenizer.decode([t]) for t in allowed) == [" ", " l", " le", " left"]


def test_processor_needs_one_findings_per_row(tokenizer):
    processor = MeasuredGrammarLogitsProcessor(tokenizer, [CASES["focal slowing and an event"]])
    with pytest.raises(ValueError, match="built for 1 rows, generate runs 2"):
        processor(torch.ones(2, 3, dtype=torch.long), torch.zeros(2, len(tokenizer)))


def test_shipped_model_narrates_planted_truth_without_contradicting_it(synth):
    """The shipped default as the CLI runs it (measured grammar on), on synthetic EEG with planted
    truth (the issue's case): a 10 Hz posterior rhythm with left temporal 2 Hz slowing."""
    from modeling_neuronarrator import STANDARD_CHANNELS
    from modeling_neuronarrator.report import ModelNarrator, narrate_recording

    x = synth.background(seconds=60.0, sfreq=200.0, rms_uv=8.0, seed=4)
    x = synth.add_sine(x, ("O1", "O2", "P3", "P4", "Pz"), 10.0, 30.0)
    x = synth.add_sine(x, ("T7", "P7"), 2.0, 60.0)
    kwargs = dict(sampling_rate=200.0, ch_names=list(STANDARD_CHANNELS), line_freq=50.0)
    report = narrate_recording(x, ModelNarrator(DEFAULT, batch_size=8), **kwargs)
    assert report.settings["measured_grammar"] is True
    # every segment says how often the grammar steered it; the report counts them
    assert all(isinstance(s.grammar_steered, int) for s in report.segments)
    assert report.n_steered == sum(1 for s in report.segments if s.grammar_steered > 0)
    assert [i for s in report.segments for i in s.issues if i.kind == "contradicted"] == []
    focal = [s for s in report.segments if s.findings.slowing.kind == "focal"]
    assert focal, "the front-end should find the planted focal slowing"
    for segment in focal:
        stated = parse(segment.narrative)
        assert stated["slowing_side"] in (None, segment.findings.slowing.side)


def test_narrative_names_all_measured_events_or_none(tokenizer):
    two = _findings(events=[
        Event(kind="generalized_spike_wave", onset_s=0.5, offset_s=2.0, channels=["Fz", "Cz"], frequency_hz=3.0),
        Event(kind="generalized_spike_wave", onset_s=7.0, offset_s=9.5, channels=["Fz", "Cz", "Pz"], frequency_hz=3.0),
    ])  # fmt: skip
    text = describe(two, seed=2)
    sentences = SENTENCE_END.split(text)
    first_event = next(i for i, s in enumerate(sentences) if "spike-and-wave" in s)
    stops_after_one = " ".join(sentences[: first_event + 1])  # a model that ends after the first event
    processor = MeasuredGrammarLogitsProcessor(tokenizer, [two])
    out = _scripted_decode(tokenizer, [(stops_after_one, 10.0), (text, 5.0)], processor)
    assert len(parse(out)["event_details"]) == 2
    assert out.startswith(stops_after_one)


def test_a_narrative_ends_only_once_it_has_stated_every_measured_finding(tokenizer):
    """Omitting a measured artifact or event reads as "none": the narrative may end only after each
    measured group (the writer states all of them for every segment), the labels staying optional."""
    from dataset_builder.description import measured_sentence_spans

    measured = CASES["focal slowing and an event"]
    text = describe(measured, seed=5)
    sentences = SENTENCE_END.split(text)
    no_artifacts = " ".join(s for s in sentences if "blink" not in s.lower())  # a model that leaves the blinks out
    assert parse(no_artifacts)["artifacts"] is None and parse(text)["artifacts"] == ("eye_blink",)
    processor = MeasuredGrammarLogitsProcessor(tokenizer, [measured])
    out = _scripted_decode(tokenizer, [(no_artifacts, 10.0), (text, 5.0)], processor, max_new_tokens=320)
    assert parse(out)["artifacts"] == ("eye_blink",) and out.startswith(no_artifacts)
    stated = {group for _, _, group in measured_sentence_spans(out, measured)}
    assert stated == set(measured_sentence_patterns(measured))  # every group of this (label-free) segment
    # A model that would stop after its opening is led through every measured sentence.
    opening = " ".join(sentences[:2])
    short = _scripted_decode(tokenizer, [(opening, 10.0), (text, 5.0)], MeasuredGrammarLogitsProcessor(tokenizer, [measured]), max_new_tokens=320)
    assert {group for _, _, group in measured_sentence_spans(short, measured)} == stated
    assert parse(short)["event_details"] == parse(text)["event_details"]


def test_a_tokenizer_the_grammar_cannot_follow_is_refused_and_the_report_decodes_freely(tmp_path, caplog):
    from model_fixtures import tiny_config, tiny_model, tiny_processor

    from modeling_neuronarrator.report import ModelNarrator
    from modeling_neuronarrator.report.measured_decoding import measured_grammar, supports_measured_grammar

    config = tiny_config()
    processor = tiny_processor(config)
    assert not supports_measured_grammar(processor.tokenizer)
    with pytest.raises(ValueError, match="do not concatenate to the text"):
        measured_grammar(processor.tokenizer)
    tiny_model(config).save_pretrained(tmp_path)
    processor.save_pretrained(tmp_path)
    with caplog.at_level("WARNING"):
        narrator = ModelNarrator(tmp_path)
    assert narrator.measured_grammar is False and "decoding freely" in caplog.text


def test_grammar_factory_reports_each_rows_steering_in_generation_order(tokenizer):
    from modeling_neuronarrator.report.measured_decoding import MeasuredGrammar

    grammar = MeasuredGrammar(tokenizer)
    measured = CASES["focal slowing and an event"]
    wrong = describe(_findings(slowing=Slowing(kind="focal", side="right", region="temporal")), seed=3)
    right = describe(measured, seed=3)
    for preferred in (wrong, right):  # two "batches" of one row each
        processors = grammar([measured], do_sample=False)
        assert _scripted_decode(tokenizer, [(preferred, 10.0), (right, 5.0)], processors[0]) == right
    steering = grammar.take_steering()
    assert len(steering) == 2 and steering[0] >= 1 and steering[1] == 0
    assert grammar.take_steering() == []


def test_report_says_how_many_narratives_the_grammar_steered(synth):
    """The pipeline takes each chunk's steering from the narrator (``last_steered``) into the segments,
    and the JSON, Markdown and CLI texts count the narratives steered."""
    from modeling_neuronarrator import STANDARD_CHANNELS
    from modeling_neuronarrator.report import TemplateNarrator, narrate_recording
    from modeling_neuronarrator.report.render import grammar_text, render_json, render_markdown

    class SteeredNarrator(TemplateNarrator):
        measured_grammar = True

        def narrate_segments(self, batch, history):
            texts = super().narrate_segments(batch, history)
            self.last_steered = [2 if int(i) == 1 else 0 for i in batch["segment_index"]]
            return texts

    x = synth.add_sine(synth.background(seconds=30.0, sfreq=200.0, rms_uv=8.0, seed=2), ("O1", "O2"), 10.0, 30.0)
    report = narrate_recording(x, SteeredNarrator(), sampling_rate=200.0, ch_names=list(STANDARD_CHANNELS), line_freq=50.0, batch_segments=2)
    assert report.settings["measured_grammar"] is True and [s.grammar_steered for s in report.segments] == [0, 2, 0]
    assert report.n_steered == 1
    assert grammar_text(report).startswith("in 1 of 3 narratives the model's own first choice of a word would have contradicted")
    data = json.loads(render_json(report))
    assert data["consistency"]["segments_steered_by_grammar"] == 1 and [s["grammar_steered"] for s in data["segments"]] == [0, 2, 0]
    markdown = render_markdown(report)
    assert "Measured grammar: in 1 of 3 narratives" in markdown
    assert markdown.count("steered by the measured grammar: the model's first choice of a word contradicted the measurement") == 1
    from modeling_neuronarrator.report.render import render_html

    assert render_html(report).count("steered by the measured grammar") == 1


def test_labels_are_stated_as_the_model_chooses_never_forced(tokenizer):
    annotated = CASES["no rhythm, asymmetry, labels"]
    text = describe(annotated, seed=4)
    sentences = SENTENCE_END.split(text)
    label_sentences = [s for s in sentences if "eyes closed" in s or "abnormal" in s.lower()]
    assert len(label_sentences) == 2
    unlabelled = " ".join(s for s in sentences if s not in label_sentences)  # a model that leaves the labels out
    processor = MeasuredGrammarLogitsProcessor(tokenizer, [annotated])
    # A label the model does not state is not guessed for it (a key it never learned would be a guess).
    assert _scripted_decode(tokenizer, [(unlabelled, 10.0), (text, 5.0)], processor) == unlabelled
    # One it states is kept.
    assert parse(_scripted_decode(tokenizer, [(text, 10.0)], MeasuredGrammarLogitsProcessor(tokenizer, [annotated])))["eyes"] == "closed"


def test_the_narrative_cap_holds_the_writers_longest_narrative(tokenizer):
    import inspect

    from modeling_neuronarrator.findings_neuronarrator import STANDARD_CHANNELS
    from modeling_neuronarrator.report.narrators import NARRATIVE_TOKEN_LIMIT, ModelNarrator

    every_channel = list(STANDARD_CHANNELS)
    longest = _findings(
        events=[Event(kind="generalized_spike_wave", onset_s=0.25, offset_s=4.75, channels=every_channel, frequency_hz=2.5),
                Event(kind="generalized_spike_wave", onset_s=5.25, offset_s=9.75, channels=every_channel, frequency_hz=3.5)],
        artifacts=["eye_blink", "muscle"], labels={"stimulus": "interleaved", "recording_quality": "bad_span"},
        change_from_previous=["slowing_appeared", "artifacts_appeared", "higher_amplitude"],
    )  # fmt: skip
    lengths = [len(tokenizer(describe(longest, seed=s), add_special_tokens=False)["input_ids"]) for s in range(20)]
    assert 250 < max(lengths) < NARRATIVE_TOKEN_LIMIT  # the report and its evaluation never cut such a narrative short
    assert inspect.signature(ModelNarrator).parameters["max_new_tokens"].default == NARRATIVE_TOKEN_LIMIT


def test_change_window_is_the_history_given_and_the_grammar_holds_it(tokenizer):
    """The change sentence names the window the change was compared over ("30 s" with three or more
    preceding segments), the window ``describe`` writes: stop 39's default wrote "the preceding 33.3 s"
    on EEGbase under the grammar, which left the window open."""
    from dataset_builder.description import change_window_text, stated_change_window
    from modeling_neuronarrator.report.measured_decoding import MeasuredGrammar

    assert [change_window_text(n) for n in (0, 1, 2, 3, 7)] == ["segment", "10 s", "20 s", "30 s", "30 s"]
    assert change_window_text(2, segment_seconds=2.5) == "5 s"
    measured = CASES["focal slowing and an event"]
    right = describe(measured, history=[measured] * 3, seed=3)
    assert stated_change_window(right) == "30 s"
    wrong = right.replace("preceding 30 s", "preceding 33.3 s").replace("previous 30 s", "previous 33.3 s")
    assert wrong != right and stated_change_window(wrong) == "33.3 s"
    change = [re.compile(p) for p in measured_sentence_patterns(measured, change_window="30 s")["change"]]
    sentence = next(s for s in SENTENCE_END.split(wrong) if "33.3 s" in s)
    assert not any(p.fullmatch(sentence) for p in change)
    assert any(p.fullmatch(sentence.replace("33.3 s", "30 s")) for p in change)
    # open (no window given): any window in describe's form, as before
    assert any(re.fullmatch(p, sentence) for p in measured_sentence_patterns(measured)["change"])
    # the factory fixes each row's window from the history it was given
    grammar = MeasuredGrammar(tokenizer)
    processors = grammar([measured], do_sample=False, history_lengths=[3])
    assert _scripted_decode(tokenizer, [(wrong, 10.0), (right, 5.0)], processors[0]) == right
    assert grammar.take_steering()[0] >= 1
    free = grammar([measured], do_sample=False)  # no history known: the window stays open
    assert _scripted_decode(tokenizer, [(wrong, 10.0), (right, 5.0)], free[0]) == wrong
    # findings that carry their measured window name it whatever history the narrator kept: a
    # narrator given 3 segments still says "10 s" of a change measured against one
    one = dataclasses.replace(measured, change_window_segments=1)
    ten = right.replace("preceding 30 s", "preceding 10 s").replace("previous 30 s", "previous 10 s")
    assert stated_change_window(ten) == "10 s" == stated_change_window(describe(one, history=[one] * 3, seed=3))
    for lengths in ([3], None):
        measured_window = grammar([one], do_sample=False, history_lengths=lengths)
        assert _scripted_decode(tokenizer, [(right, 10.0), (ten, 5.0)], measured_window[0]) == ten


def test_a_narrative_opens_with_the_state_then_the_background_sentence(tokenizer):
    """The grammar never lets a narrative skip its background sentence: stop 40's default, its own
    background sentence contradicted, went on to the distribution instead (22 validation narratives
    without rhythm or PDR). The opening is the writer's: the state, then the background."""
    from modeling_neuronarrator.report.measured_decoding import OPENING_GROUPS

    measured = CASES["focal slowing and an event"]
    right = describe(measured, seed=3)
    sentences = SENTENCE_END.split(right)
    assert OPENING_GROUPS == ("state", "background") and parse(sentences[1])["dominant_frequency_hz"] == 9.8
    skipping = " ".join(sentences[:1] + sentences[2:])  # no background sentence
    assert parse(skipping)["dominant_frequency_hz"] is None
    processor = MeasuredGrammarLogitsProcessor(tokenizer, [measured])
    out = _scripted_decode(tokenizer, [(skipping, 10.0), (right, 5.0)], processor)
    assert SENTENCE_END.split(out)[:2] == sentences[:2] and parse(out)["dominant_frequency_hz"] == 9.8
    assert processor.steered_steps >= 1
    # nor may it end before the background is stated
    ending = MeasuredGrammarLogitsProcessor(tokenizer, [measured])
    assert parse(_scripted_decode(tokenizer, [(sentences[0], 10.0), (right, 5.0)], ending))["dominant_frequency_hz"] == 9.8
