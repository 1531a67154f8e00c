"""Findings-conditioned narration: the measured findings are written into the prompt (config.findings_in_prompt)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from model_fixtures import segments, tiny_config, tiny_model, tiny_processor

from modeling_neuronarrator import Findings, NeuroNarratorProcessor
from modeling_neuronarrator.findings_neuronarrator import Asymmetry, Event, Slowing
from modeling_neuronarrator.modeling_neuronarrator import history_windows
from modeling_neuronarrator.processing_neuronarrator import measured_findings_text


def _findings(**changes) -> Findings:
    base = Findings(
        dominant_frequency_hz=9.5, dominant_band="alpha", posterior_dominant_rhythm_hz=9.5,
        band_power_by_region={}, band_power_by_hemisphere={}, predominant_region="occipital",
        amplitude_uv=42.0, state="awake", change_from_previous=["stable"],
    )  # fmt: skip
    return dataclasses.replace(base, **changes)


def test_measured_line_states_every_field_state_first():
    text = measured_findings_text(_findings())
    assert text.startswith("Measured: state awake; rhythm 9.5 Hz; band alpha; pdr 9.5 Hz; region occipital;")
    assert "amplitude 42 uV" in text and "artifacts none" in text and "events none" in text and text.endswith("change stable.")
    sleep = measured_findings_text(
        _findings(state="N2", dominant_frequency_hz=None, dominant_band="delta", posterior_dominant_rhythm_hz=None,
                  predominant_region="not_assessable", slowing=Slowing("focal", "left", "temporal"), artifacts=["muscle"],
                  events=[Event("spike_and_wave", 1.0, 6.5, ["Fz", "Cz"], 3.0)], change_from_previous=None)
    )  # fmt: skip
    assert "state N2; rhythm none; band delta; pdr none; region not_assessable" in sleep
    assert "slowing focal left temporal" in sleep and "artifacts muscle" in sleep
    assert "events spike_and_wave 3.0 Hz 1.0-6.5 s Fz/Cz" in sleep and "change first segment" in sleep
    assert measured_findings_text(_findings().to_dict()) == measured_findings_text(_findings())


@pytest.fixture(scope="module")
def conditioned():
    config = tiny_config(findings_in_prompt=True)
    return tiny_model(config), tiny_processor(config)


def test_findings_conditioned_processor_needs_findings_and_puts_them_in_each_prompt(conditioned):
    _, processor = conditioned
    assert processor.findings_in_prompt
    data = segments(2)
    with pytest.raises(ValueError, match="narrates from the measured findings"):
        processor(**data)
    rows = [_findings(), _findings(state="N3", dominant_frequency_hz=1.5, dominant_band="delta")]
    inputs = processor(**data, findings=rows, text=["Alpha at 9.5 Hz.", "Delta."], max_target_tokens=3)
    decoded = [processor.tokenizer.decode(ids[labels == -100]) for ids, labels in zip(inputs["input_ids"], inputs["labels"])]
    assert "awake" in decoded[0] and "awake" not in decoded[1]
    assert "N3" in decoded[1] and "N3" not in decoded[0]
    # Targets are capped at 3 tokens (EOS included) whatever the prompt length.
    assert [(row != -100).sum().item() for row in inputs["labels"]] == [3, 3]


def test_unconditioned_processor_prompt_is_unchanged_by_findings():
    processor = tiny_processor()
    data = segments(1)
    with_findings = processor(**data, findings=[_findings()])
    without = processor(**data)
    assert torch.equal(torch.as_tensor(with_findings["input_ids"]), torch.as_tensor(without["input_ids"]))


def test_findings_in_prompt_survives_save_and_load(tmp_path, conditioned):
    _, processor = conditioned
    processor.save_pretrained(tmp_path)
    assert NeuroNarratorProcessor.from_pretrained(tmp_path).findings_in_prompt is True


def test_findings_conditioned_generation_reads_the_findings(conditioned):
    model, processor = conditioned
    data = segments(2, seed=1)
    eeg, mask, topo = (torch.as_tensor(data[k]) for k in ("eeg_values", "channel_mask", "topomaps"))
    with torch.no_grad():
        features = model.model.encode_segments(eeg, mask, topo)
        with pytest.raises(ValueError, match="narrates from the measured findings"):
            model.generate_narratives(processor, features, history_windows(2, 3), max_new_tokens=4)
        texts = model.generate_narratives(processor, features, history_windows(2, 3), max_new_tokens=4,
                                          findings=[_findings(), _findings(state="N2")])  # fmt: skip
    assert len(texts) == 2 and all(isinstance(t, str) for t in texts)


def test_collator_passes_row_findings_to_a_findings_conditioned_processor(conditioned):
    from modeling_neuronarrator.training.data import SegmentCollator, TopomapComputer

    _, processor = conditioned
    rng = np.random.default_rng(0)
    examples = [
        {"id": f"r{i}", "description": "Alpha.", "eeg_values": rng.standard_normal((19, 2000)).astype(np.float32),
         "channel_mask": np.ones(19, bool), "history_eeg_values": np.zeros((0, 19, 2000), np.float32),
         "history_channel_mask": np.zeros((0, 19), bool), "history_mask": np.zeros(0, bool),
         "findings": _findings(state=state).to_json()}
        for i, state in enumerate(("awake", "REM"))
    ]  # fmt: skip
    batch = SegmentCollator(TopomapComputer(processor.feature_extractor), processor, max_text_tokens=8)(examples)
    prompts = [processor.tokenizer.decode(ids[labels == -100]) for ids, labels in zip(batch["input_ids"], batch["labels"])]
    assert "REM" in prompts[1] and "REM" not in prompts[0]


def test_own_tokenizer_learns_the_prompt_it_will_read():
    """The own tokenizer is trained on every text the model reads: the narratives and, for a
    findings-conditioned config, each row's measured line and the instruction, which then take a few tokens
    instead of ~2 per word."""
    from types import SimpleNamespace

    from modeling_neuronarrator.processing_neuronarrator import DEFAULT_INSTRUCTION
    from modeling_neuronarrator.training.tokenizer import train_narrative_tokenizer
    from modeling_neuronarrator.training.trainer import _tokenizer_texts

    rows = [_findings(amplitude_uv=20.0 + i, dominant_frequency_hz=8.0 + 0.1 * i) for i in range(40)]
    descriptions = [f"The background is dominated by alpha activity at {8.0 + 0.1 * i:.1f} Hz." for i in range(40)]
    data = SimpleNamespace(column=lambda name: {"description": descriptions, "findings": [f.to_json() for f in rows]}[name])

    def config(conditioned: bool):
        return SimpleNamespace(model=SimpleNamespace(overrides={"findings_in_prompt": conditioned}))

    conditioned_texts = _tokenizer_texts(config(True), data)
    assert conditioned_texts[:40] == descriptions and len(conditioned_texts) == 80
    assert conditioned_texts[40].startswith("Measured: state ") and conditioned_texts[40].endswith(DEFAULT_INSTRUCTION)
    assert _tokenizer_texts(config(False), data)[40:] == [DEFAULT_INSTRUCTION] * 40
    annotated = SimpleNamespace(model=SimpleNamespace(overrides={"findings_in_prompt": True, "annotations_in_prompt": True}))
    assert "\nAnnotated: none.\n" in _tokenizer_texts(annotated, data)[40]
    categorized = SimpleNamespace(model=SimpleNamespace(overrides={"findings_in_prompt": True, "measured_categories": True}))
    assert "; amplitude 23 uV medium;" in _tokenizer_texts(categorized, data)[43]

    prompt = measured_findings_text(rows[3]) + "\n" + DEFAULT_INSTRUCTION
    narratives_only = train_narrative_tokenizer(descriptions, vocab_size=400)
    with_prompts = train_narrative_tokenizer(conditioned_texts, vocab_size=400)
    assert len(with_prompts(prompt)["input_ids"]) < 0.6 * len(narratives_only(prompt)["input_ids"])


def test_measured_line_reads_findings_of_another_module_copy():
    """The Hub's remote code loads each code file under transformers_modules, so the extractor's
    Findings may be another class than the processor's: it is read through its to_dict()."""
    from types import SimpleNamespace

    findings = _findings(events=[Event(kind="generalized_spike_wave", onset_s=1.0, offset_s=5.5, channels=["Fz", "Cz"], frequency_hz=3.0)])
    foreign = SimpleNamespace(to_dict=findings.to_dict)
    assert measured_findings_text(foreign) == measured_findings_text(findings)
    assert "generalized_spike_wave 3.0 Hz 1.0-5.5 s Fz/Cz" in measured_findings_text(foreign)


def test_annotated_line_names_label_keys_never_their_values():
    from modeling_neuronarrator.processing_neuronarrator import annotated_labels_text, prompt_findings_text

    labelled = _findings(labels={"stimulus": "interleaved", "eyes": "closed"})
    assert annotated_labels_text(labelled) == "Annotated: eyes, stimulus."
    assert annotated_labels_text(_findings()) == "Annotated: none."
    assert annotated_labels_text(labelled.to_dict()) == "Annotated: eyes, stimulus."
    both = prompt_findings_text(labelled, annotations=True)
    assert both == measured_findings_text(labelled) + "\nAnnotated: eyes, stimulus."
    assert "interleaved" not in both and "closed" not in both
    assert prompt_findings_text(labelled) == measured_findings_text(labelled)


def test_annotations_in_prompt_reaches_each_prompt_and_survives_save_and_load(tmp_path):
    config = tiny_config(findings_in_prompt=True, annotations_in_prompt=True)
    processor = tiny_processor(config)
    assert processor.annotations_in_prompt
    prompt = processor.build_prompt(findings=_findings(labels={"eyes": "open"}))
    assert "Annotated: eyes." in prompt and prompt.index("Measured:") < prompt.index("Annotated:") < prompt.index("Describe")
    assert "Annotated: none." in processor.build_prompt(findings=_findings())
    # A findings-conditioned checkpoint trained before the line existed reads the prompt it was trained on.
    assert "Annotated" not in tiny_processor(tiny_config(findings_in_prompt=True)).build_prompt(findings=_findings())
    processor.save_pretrained(tmp_path)
    assert NeuroNarratorProcessor.from_pretrained(tmp_path).annotations_in_prompt is True
    with pytest.raises(ValueError, match="annotations_in_prompt needs findings_in_prompt"):
        tiny_config(annotations_in_prompt=True)


def test_measured_categories_names_the_amplitude_word_beside_its_value(tmp_path):
    """With measured_categories the measured line says "amplitude 73 uV medium" (the 20/75 uV
    bounds of the narrative's words, applied to the value as written: 74.6 reads "75 uV high"), so
    the narrative copies the word; checkpoints without it read the line they were trained on."""
    from modeling_neuronarrator.processing_neuronarrator import prompt_findings_text

    for amplitude, word in ((19.4, "low"), (19.6, "medium"), (73.0, "medium"), (74.6, "high"), (106.0, "high")):
        line = measured_findings_text(_findings(amplitude_uv=amplitude), categories=True)
        assert f"; amplitude {amplitude:.0f} uV {word};" in line
    plain = measured_findings_text(_findings(amplitude_uv=73.0))
    assert "; amplitude 73 uV;" in plain
    assert prompt_findings_text(_findings(amplitude_uv=73.0), annotations=True, categories=True).startswith(
        measured_findings_text(_findings(amplitude_uv=73.0), categories=True) + "\nAnnotated: ")
    config = tiny_config(findings_in_prompt=True, measured_categories=True)
    processor = tiny_processor(config)
    assert "amplitude 73 uV medium" in processor.build_prompt(findings=_findings(amplitude_uv=73.0))
    assert "amplitude 73 uV;" in tiny_processor(tiny_config(findings_in_prompt=True)).build_prompt(findings=_findings(amplitude_uv=73.0))
    processor.save_pretrained(tmp_path)
    assert NeuroNarratorProcessor.from_pretrained(tmp_path).measured_categories is True
    with pytest.raises(ValueError, match="measured_categories needs findings_in_prompt"):
        tiny_config(measured_categories=True)


_SIDED_NARRATIVES = ("Focal slowing is seen over the left temporal region.", "Focal slowing is seen over the right temporal region.",
                     "The background is dominated by theta activity at 7.5 Hz.")  # fmt: skip


@pytest.fixture(scope="module")
def measured_processor():
    """A findings-conditioned processor whose tokenizer, as the recipe's, learned the measured lines
    and the narratives (one token per digit, whole words)."""
    from modeling_neuronarrator import NeuroNarratorFeatureExtractor, NeuroNarratorProcessor
    from modeling_neuronarrator.training.tokenizer import train_narrative_tokenizer

    lines = [measured_findings_text(_findings(slowing=Slowing("focal", side, "temporal"), dominant_band=band, change_from_previous=change))
             for side in ("left", "right") for band in ("alpha", "theta") for change in (["stable"], ["artifacts_resolved"])]  # fmt: skip
    tokenizer = train_narrative_tokenizer((lines + list(_SIDED_NARRATIVES)) * 20, vocab_size=600, split_digits=True)
    config = tiny_config(findings_in_prompt=True)
    return NeuroNarratorProcessor.from_config(config, NeuroNarratorFeatureExtractor(), tokenizer)


def test_measured_value_tokens_are_the_values_of_the_measured_line(measured_processor):
    """``data.measured_token_weight``: the narrative tokens that copy a measured value (side, region,
    digits, band) are weighted, the line's field names and punctuation are not."""
    from modeling_neuronarrator.training.data import measured_value_token_ids

    tokenizer = measured_processor.tokenizer
    findings = _findings(slowing=Slowing("focal", "left", "temporal"), dominant_frequency_hz=7.5, dominant_band="theta").to_dict()
    words = {tokenizer.decode([i]).strip() for i in measured_value_token_ids(findings, tokenizer)}
    assert {"left", "temporal", "theta", "7", "5"} <= words
    assert not words & {"slowing", "band", "region", "Measured", ";", ".", ":", ""}
    right = _findings(slowing=Slowing("focal", "right", "temporal")).to_dict()
    assert "left" not in {tokenizer.decode([i]).strip() for i in measured_value_token_ids(right, tokenizer)}
    # A field name inside a value is a value: "change artifacts_resolved" weights "artifacts" and "resolved".
    resolved = _findings(change_from_previous=["artifacts_resolved"]).to_dict()
    assert {"artifacts", "resolved"} <= {tokenizer.decode([i]).strip() for i in measured_value_token_ids(resolved, tokenizer)}
    # Restricted to fields: the slowing's words only.
    slowing_only = {tokenizer.decode([i]).strip() for i in measured_value_token_ids(findings, tokenizer, fields=["slowing"])}
    assert {"left", "temporal"} <= slowing_only and not slowing_only & {"theta", "7", "5", "awake"}


def test_measured_fields_name_the_measured_line_in_order():
    from modeling_neuronarrator.processing_neuronarrator import MEASURED_FIELDS, measured_findings_parts

    assert tuple(name for name, _ in measured_findings_parts(_findings())) == MEASURED_FIELDS


def _collator_example(description: str, findings: Findings) -> dict:
    """One corpus row as the collator reads it: random EEG, no history, the findings as JSON."""
    rng = np.random.default_rng(0)
    return {"id": "r0", "description": description,
            "eeg_values": rng.standard_normal((19, 2000)).astype(np.float32), "channel_mask": np.ones(19, bool),
            "history_eeg_values": np.zeros((0, 19, 2000), np.float32), "history_channel_mask": np.zeros((0, 19), bool),
            "history_mask": np.zeros(0, bool), "findings": findings.to_json()}  # fmt: skip


def test_collator_weights_the_narrative_tokens_that_copy_a_measured_value(measured_processor):
    from modeling_neuronarrator.training.data import SegmentCollator, TopomapComputer, measured_value_token_ids

    processor = measured_processor
    findings = _findings(slowing=Slowing("focal", "left", "temporal"))
    example = _collator_example("Focal slowing is seen over the left temporal region.", findings)
    topomaps = TopomapComputer(processor.feature_extractor)
    assert "label_weights" not in SegmentCollator(topomaps, processor)([example])
    batch = SegmentCollator(topomaps, processor, measured_token_weight=4.0)([example])
    labels, weights = batch["labels"][0], batch["label_weights"][0]
    assert weights.shape == labels.shape and weights.dtype == torch.float32
    assert (weights[labels == -100] == 0).all()
    narrative = labels != -100
    weighted = {processor.tokenizer.decode([t]).strip() for t in labels[narrative & (weights == 4.0)].tolist()}
    assert weighted == {processor.tokenizer.decode([t]).strip() for t in measured_value_token_ids(findings.to_dict(), processor.tokenizer)
                        if t in labels[narrative].tolist()}  # fmt: skip
    assert {"left", "temporal"} <= weighted and "slowing" not in weighted
    assert set(weights[narrative].unique().tolist()) == {1.0, 4.0}
    # measured_token_fields: only the values of those fields of the line weigh (the slowing's side and
    # region; not the band or the state, which this narrative does not copy anyway).
    example_theta = {**example, "description": "Focal slowing is seen over the left temporal region. The background is dominated by theta activity at 7.5 Hz."}
    theta = _findings(slowing=Slowing("focal", "left", "temporal"), dominant_frequency_hz=7.5, dominant_band="theta")
    example_theta["findings"] = theta.to_json()
    for fields, expected in ((None, {"left", "temporal", "theta", "7", "5"}), (["slowing"], {"left", "temporal"})):
        batch = SegmentCollator(topomaps, processor, measured_token_weight=4.0, measured_token_fields=fields)([example_theta])
        labels, weights = batch["labels"][0], batch["label_weights"][0]
        weighted = {processor.tokenizer.decode([t]).strip() for t in labels[weights == 4.0].tolist()}
        assert expected <= weighted and ("theta" in weighted) == (fields is None), (fields, weighted)
    with pytest.raises(ValueError, match="measured_token_weight must be > 0"):
        SegmentCollator(topomaps, processor, measured_token_weight=0.0)


def test_sentence_weight_applies_to_every_token_of_the_sentences_that_state_the_fields_whatever_the_value(measured_processor):
    """``measured_sentence_weight``: "cannot be judged from this montage" is weighed as a side sentence is.
    The value weight alone leaves that sentence at 1, since no value of the line ("not_assessable") is in
    it (stop 36's default then wrote a hemisphere side on not-assessable sealed rows)."""
    from modeling_neuronarrator.training.data import SegmentCollator, TopomapComputer

    processor = measured_processor
    findings = _findings(asymmetry=Asymmetry(side="not_assessable"), slowing=Slowing("generalized"), dominant_frequency_hz=7.5, dominant_band="theta")
    asymmetry = "Symmetry between the hemispheres cannot be judged from this montage."
    slowing = "There is generalized slowing of the background."
    background = "The background is dominated by theta activity at 7.5 Hz."
    example = _collator_example(f"{background} {asymmetry} {slowing}", findings)
    topomaps = TopomapComputer(processor.feature_extractor)

    def weighted_text(fields, description: str, value_weight: float = 1.0, weight: float = 2.0) -> str:
        collate = SegmentCollator(topomaps, processor, measured_token_weight=value_weight, measured_token_fields=fields, measured_sentence_weight=2.0)
        batch = collate([{**example, "description": description}])
        labels, weights = batch["labels"][0], batch["label_weights"][0]
        assert (weights[labels == -100] == 0).all() and set(weights[labels != -100].unique().tolist()) <= {1.0, 2.0, value_weight}
        # Characters, not spacing: a tokenizer may write the space between two sentences as its own token.
        return "".join(processor.tokenizer.decode(labels[weights == weight].tolist()).split())

    def squashed(text: str) -> str:
        return "".join(text.split())

    fields = ["asymmetry", "slowing"]
    assert weighted_text(fields, example["description"]) == squashed(asymmetry + slowing)
    assert weighted_text(None, example["description"]) == squashed(example["description"])
    assert weighted_text(["asymmetry"], example["description"]) == squashed(asymmetry)
    # With the value weight too, the value words weigh 5 and the rest of their sentences 2.
    assert "generalized" in weighted_text(fields, example["description"], value_weight=5.0, weight=5.0)
    assert "generalized" not in weighted_text(fields, example["description"], value_weight=5.0)
    rest = weighted_text(fields, example["description"], value_weight=5.0)
    assert rest.startswith("Symmetry") and "theta" not in rest  # (this tiny tokenizer splits words the line's values share)
    # A sentence the measurement contradicts is in no measured group: it is not taught harder.
    contradicting = f"{background} Power is attenuated over the right hemisphere. {slowing}"
    assert weighted_text(fields, contradicting) == squashed(slowing)
    with pytest.raises(ValueError, match="measured_sentence_weight must be > 0"):
        SegmentCollator(topomaps, processor, measured_sentence_weight=0.0)


def test_sentence_scoped_value_weight_reaches_an_events_values_only_inside_its_sentence(measured_processor):
    """``measured_token_sentence_fields``: an event's value tokens (digits, channel names) are tokens the
    other sentences use too; scoped to the event's own sentence, the 9 and 8 of "9.8 Hz" in the background
    sentence weigh 1 while the same digits of the event's times weigh as its values (stop 42's trial of
    weighing the events' ids narrative-wide: event rows exactly right 4 -> 1 of 265)."""
    from modeling_neuronarrator.training.data import SegmentCollator, TopomapComputer

    processor = measured_processor
    findings = _findings(dominant_frequency_hz=9.8, posterior_dominant_rhythm_hz=9.8,
                         events=[Event("sleep_spindle", 9.8, 10.0, ["C3"], 12.8)])  # fmt: skip
    background = "The background is dominated by alpha activity at 9.8 Hz."
    event = "There is a 12.8 Hz sleep spindle between 9.8 s and 10.0 s, involving C3."
    example = _collator_example(f"{background} {event}", findings)
    topomaps = TopomapComputer(processor.feature_extractor)

    def weighted_spans(scoped):
        collate = SegmentCollator(topomaps, processor, measured_token_weight=5.0, measured_token_fields=["events"],
                                  measured_token_sentence_fields=scoped)  # fmt: skip
        batch = collate([example])
        labels, weights = batch["labels"][0], batch["label_weights"][0]
        narrative = labels[labels != -100].tolist()
        heavy = (weights[labels != -100] == 5.0).tolist()
        # Which sentence each narrative token falls in, from the decoded prefix's length.
        in_background = [len(processor.tokenizer.decode(narrative[: k + 1]).strip()) <= len(background) for k in range(len(narrative))]
        return sum(h and b for h, b in zip(heavy, in_background)), sum(h and not b for h, b in zip(heavy, in_background))

    anywhere_background, anywhere_event = weighted_spans(None)
    scoped_background, scoped_event = weighted_spans(["events"])
    assert anywhere_background >= 2  # the background's "9" and "8" are event value ids too
    assert scoped_background == 0
    assert scoped_event == anywhere_event >= 6  # 1 2 8, 9 8, 1 0 0, C3 ...
    with pytest.raises(ValueError, match="must be among measured_token_fields"):
        SegmentCollator(topomaps, processor, measured_token_weight=5.0, measured_token_fields=["slowing"], measured_token_sentence_fields=["events"])


def test_sentence_token_mask_refuses_labels_of_another_text(measured_processor):
    from modeling_neuronarrator.training.data import measured_sentence_token_mask

    tokenizer = measured_processor.tokenizer
    findings = _findings(slowing=Slowing("focal", "left", "temporal")).to_dict()
    text = "Focal slowing is seen over the left temporal region."
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert measured_sentence_token_mask(text, findings, tokenizer, ids + [tokenizer.eos_token_id]).tolist() == [True] * len(ids) + [False]
    other = tokenizer("Focal slowing is seen over the right temporal region.", add_special_tokens=False)["input_ids"]
    with pytest.raises(ValueError, match="not the tokenization of their narrative"):
        measured_sentence_token_mask(text, findings, tokenizer, other)


def test_weighted_token_loss_is_the_causal_lm_loss_at_unit_weights_and_leans_to_the_weighted_tokens():
    from transformers.loss.loss_utils import ForCausalLMLoss

    from modeling_neuronarrator.training.trainer import weighted_token_loss

    torch.manual_seed(0)
    logits = torch.randn(2, 6, 11)
    labels = torch.tensor([[-100, -100, 3, 4, 5, 1], [-100, 7, 8, -100, -100, -100]])
    ones = (labels != -100).float()
    torch.testing.assert_close(weighted_token_loss(logits, labels, ones), ForCausalLMLoss(logits, labels, vocab_size=11))
    # One target token weighted 3 of the 6: the weighted mean of the token losses.
    token_loss = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, 11), labels[:, 1:].reshape(-1), ignore_index=-100, reduction="none")
    weights = ones.clone()
    weights[0, 3] = 3.0
    expected = (token_loss.reshape(2, 5) * weights[:, 1:]).sum() / weights[:, 1:][labels[:, 1:] != -100].sum()
    torch.testing.assert_close(weighted_token_loss(logits, labels, weights), expected)


def _mirrored(data: dict, topomaps) -> dict:
    """``segments(...)`` seen left-right mirrored: homologous channels swapped, topomaps recomputed."""
    from modeling_neuronarrator.findings_neuronarrator import MIRROR_PERMUTATION

    order = list(MIRROR_PERMUTATION)
    out = {"eeg_values": data["eeg_values"][:, order], "channel_mask": data["channel_mask"][:, order]}
    out["topomaps"] = topomaps(out["eeg_values"])
    if "history_eeg_values" in data:
        out["history_eeg_values"] = data["history_eeg_values"][:, :, order]
        out["history_channel_mask"] = data["history_channel_mask"][:, :, order]
        out["history_topomaps"] = np.stack([topomaps(h) for h in out["history_eeg_values"]])
    return out


def test_side_invariant_model_reads_a_segment_and_its_mirror_alike():
    """config.side_invariant_segments: the EEG, topomap, read-out and history tokens are the same for
    a segment and its left-right mirror, so the narrative's logits are too (the side can only come
    from the measured line); without it the mirror changes them."""
    from modeling_neuronarrator.training.data import TopomapComputer

    topomaps = TopomapComputer()
    data = segments(2, seed=3, k=2)
    data["channel_mask"][0, 2] = False  # F7 interpolated: its mask moves to F8 when mirrored
    data["topomaps"] = topomaps(data["eeg_values"])
    data["history_topomaps"] = np.stack([topomaps(h) for h in data["history_eeg_values"]])
    mirrored = _mirrored(data, topomaps)
    findings = [_findings(slowing=Slowing("focal", "left", "temporal")), _findings()]
    logits = {}
    for invariant in (False, True):
        config = tiny_config(findings_in_prompt=True, finding_targets=["pdr", "asymmetry"], condition_on_findings=True,
                             side_invariant_segments=invariant)  # fmt: skip
        model, processor = tiny_model(config), tiny_processor(config)
        with torch.no_grad():
            logits[invariant] = [
                model(**processor(**view, findings=findings, text=["Focal slowing.", "Alpha."], return_tensors="pt")).logits for view in (data, mirrored)
            ]
            features = [model.model.get_segment_features(*(torch.as_tensor(view[k]) for k in ("eeg_values", "channel_mask", "topomaps")))
                        for view in (data, mirrored)]  # fmt: skip
    torch.testing.assert_close(logits[True][0], logits[True][1], rtol=1e-4, atol=1e-5)
    assert not torch.allclose(logits[False][0], logits[False][1], atol=1e-3)
    torch.testing.assert_close(features[0].eeg_tokens, features[1].eeg_tokens, rtol=1e-4, atol=1e-5)
    assert features[0].eeg_tokens.shape == (2, config.eeg_config.num_output_tokens, config.eeg_config.hidden_size)
    with pytest.raises(ValueError, match="side_invariant_segments needs findings_in_prompt"):
        tiny_config(side_invariant_segments=True)


def test_measured_change_window_names_the_span_the_front_end_compared(tmp_path):
    """The front-end records how many preceding segments each change was measured against
    (``change_window_segments``: 1, 2, then CHANGE_WINDOW_SEGMENTS), and with measured_change_window the
    measured line names that span as the narrative's change sentence does ("the preceding 20 s");
    a record written before the field existed cannot name it and says how to fix that."""
    from modeling_neuronarrator.findings_neuronarrator import CHANGE_WINDOW_SEGMENTS, apply_state, compute_findings
    from modeling_neuronarrator.processing_neuronarrator import prompt_findings_text
    from modeling_neuronarrator.training.data import measured_value_token_ids

    eeg = np.random.default_rng(0).normal(0.0, 20.0, (5, 19, 2000))
    measured = compute_findings(eeg, 200.0)
    assert [f.change_window_segments for f in measured] == [None, 1, 2, CHANGE_WINDOW_SEGMENTS, CHANGE_WINDOW_SEGMENTS]
    assert [f.change_from_previous is None for f in measured] == [True, False, False, False, False]
    # A later batch continues the recording's window; apply_state measures the change again over the same span.
    later = compute_findings(eeg[:1], 200.0, previous=measured[:1])
    assert later[0].change_window_segments == 1
    apply_state(measured[1:], ["N2"] * 4, previous=measured[:1])
    assert [f.change_window_segments for f in measured[1:]] == [1, 2, 3, 3]

    lines = [measured_findings_text(f, change_window=True) for f in measured]
    assert lines[0].endswith("; change first segment.")
    assert lines[1].endswith(" over the preceding 10 s.") and lines[2].endswith(" over the preceding 20 s.")
    assert lines[4].endswith(" over the preceding 30 s.")
    assert "preceding" not in measured_findings_text(measured[2])  # checkpoints trained before it read their own line
    assert prompt_findings_text(measured[2], True, True, True).startswith(measured_findings_text(measured[2], True, True) + "\n")
    old_record = _findings()  # change measured, window unknown
    assert old_record.change_window_segments is None and "change stable." in measured_findings_text(old_record)
    with pytest.raises(ValueError, match="change_window_segments.*rebuild the corpus"):
        measured_findings_text(old_record, change_window=True)

    config = tiny_config(findings_in_prompt=True, measured_change_window=True)
    processor = tiny_processor(config)
    assert "change stable over the preceding 20 s." in processor.build_prompt(findings=_findings(change_window_segments=2))
    # The window's digits are measured values whose narrative tokens can weigh more in the loss.
    tokenizer = processor.tokenizer
    with_window = measured_value_token_ids(_findings(change_window_segments=2).to_dict(), tokenizer, change_window=True)
    without = measured_value_token_ids(_findings(change_window_segments=2).to_dict(), tokenizer)
    assert set(tokenizer(" 20 s", add_special_tokens=False)["input_ids"]) - without <= with_window - without
    assert with_window > without
    processor.save_pretrained(tmp_path)
    assert NeuroNarratorProcessor.from_pretrained(tmp_path).measured_change_window is True
    assert NeuroNarratorProcessor.from_pretrained(tmp_path).build_prompt(findings=_findings(change_window_segments=3)).count("preceding 30 s") == 1
    with pytest.raises(ValueError, match="measured_change_window needs findings_in_prompt"):
        tiny_config(measured_change_window=True)


def test_label_keys_the_model_never_learned_are_not_named_nor_offered(tmp_path):
    """A narrator states a source label only for the keys its training rows carried
    (``config.label_keys``, recorded by stage 2): the annotated-keys line leaves the others out and
    the measured grammar is given no label sentence for them (stop 40's default guessed EEGMMIDB's
    and eyes_open_shut's eyes, a key no training source carried)."""
    from types import SimpleNamespace

    from modeling_neuronarrator.findings_neuronarrator import with_learned_labels
    from modeling_neuronarrator.processing_neuronarrator import annotated_labels_text
    from modeling_neuronarrator.training.trainer import _record_label_keys

    labelled = _findings(labels={"eyes": "closed", "stimulus": "interleaved"})
    assert annotated_labels_text(with_learned_labels(labelled, ["stimulus", "recording_quality"])) == "Annotated: stimulus."
    assert annotated_labels_text(labelled) == "Annotated: eyes, stimulus."  # checkpoints without label_keys
    assert with_learned_labels(labelled, ["stimulus"]).labels == {"stimulus": "interleaved"}
    assert with_learned_labels(labelled.to_dict(), None).labels == labelled.labels

    config = tiny_config(findings_in_prompt=True, annotations_in_prompt=True, label_keys=["stimulus"])
    processor = tiny_processor(config)
    assert "Annotated: stimulus." in processor.build_prompt(findings=labelled)
    processor.save_pretrained(tmp_path)
    assert NeuroNarratorProcessor.from_pretrained(tmp_path).label_keys == ["stimulus"]
    with pytest.raises(ValueError, match="label_keys must be a list"):
        tiny_config(label_keys="eyes")

    # generate_narratives hands the grammar factory the labels the model learned only.
    model = tiny_model(config)
    seen = []

    def factory(findings, do_sample=False, history_lengths=None):
        seen.extend(findings)
        return []

    data = segments(2, seed=2)
    eeg, mask, topo = (torch.as_tensor(data[k]) for k in ("eeg_values", "channel_mask", "topomaps"))
    with torch.no_grad():
        features = model.model.encode_segments(eeg, mask, topo)
        model.generate_narratives(processor, features, history_windows(2, 3), max_new_tokens=2,
                                  findings=[labelled, labelled.to_dict()], findings_logits_processor=factory)  # fmt: skip
    assert [f.labels for f in seen] == [{"stimulus": "interleaved"}] * 2

    # Stage 2 records the keys its training rows carry (annotated-keys line only).
    rows = [{"eyes": None, "stimulus": "none", "sleep_stage": None}, '{"eyes": null, "sleep_stage": "N2", "stimulus": null}']
    data = SimpleNamespace(column=lambda name: {"labels": rows}[name])
    start = tiny_config(findings_in_prompt=True, annotations_in_prompt=True)
    target, fresh = SimpleNamespace(config=start), tiny_processor(start)
    _record_label_keys(data, target, fresh)
    assert start.label_keys == fresh.label_keys == ["sleep_stage", "stimulus"]
    plain = tiny_config(findings_in_prompt=True)
    _record_label_keys(data, SimpleNamespace(config=plain), tiny_processor(plain))
    assert plain.label_keys is None
    # The card says which keys it learned.
    from modeling_neuronarrator.training.default_recipe import _findings_conditioned_text

    assert "(`sleep_stage`, `stimulus`; `label_keys`)" in _findings_conditioned_text(start)
    assert "label_keys" not in _findings_conditioned_text(tiny_config(findings_in_prompt=True, annotations_in_prompt=True))
