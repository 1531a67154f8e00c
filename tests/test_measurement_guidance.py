"""Measurement-guided decoding (context-aware decoding on the prompt's measured line)."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from model_fixtures import segments, tiny_config, tiny_model, tiny_processor

from modeling_neuronarrator import Findings
from modeling_neuronarrator.findings_neuronarrator import Slowing
from modeling_neuronarrator.guidance_neuronarrator import MeasurementGuidanceLogitsProcessor
from modeling_neuronarrator.modeling_neuronarrator import history_windows


def _findings(**changes) -> Findings:
    base = Findings(
        dominant_frequency_hz=9.5, dominant_band="alpha", posterior_dominant_rhythm_hz=9.5,
        band_power_by_region={}, band_power_by_hemisphere={}, predominant_region="occipital",
        amplitude_uv=42.0, state="awake", change_from_previous=["stable"],
    )  # fmt: skip
    return dataclasses.replace(base, **changes)


@pytest.fixture(scope="module")
def conditioned():
    config = tiny_config(findings_in_prompt=True, annotations_in_prompt=True)
    return tiny_model(config, seed=3), tiny_processor(config)


def test_unguided_prompt_drops_the_measured_line_only(conditioned):
    _, processor = conditioned
    findings = _findings(labels={"eyes": "closed"})
    full = processor.build_prompt(findings=findings)
    unguided = processor.build_prompt(findings=findings, measured_line=False)
    assert "Measured:" in full and "Measured:" not in unguided
    assert unguided.split("\n") == [line for line in full.split("\n") if not line.startswith("Measured:")]
    assert "Annotated: eyes." in unguided and unguided.count(processor.eeg_token) == full.count(processor.eeg_token)
    ids = processor.prompt_inputs(2, return_tensors="pt", findings=[findings, _findings()], measured_line=False)
    assert ids["input_ids"].shape[0] == 2 and "Measured" not in processor.tokenizer.decode(ids["input_ids"][0])


def test_guidance_scores_follow_the_context_aware_decoding_formula():
    scores = torch.tensor([[2.0, 1.0, 0.0]])
    processor = MeasurementGuidanceLogitsProcessor(None, 1.0, None, None, None, None)
    assert torch.allclose(processor(torch.zeros(1, 1, dtype=torch.long), scores), torch.log_softmax(scores, -1))
    guided = MeasurementGuidanceLogitsProcessor(None, 3.0, None, None, None, None)
    unguided = torch.log_softmax(torch.tensor([[0.0, 3.0, 0.0]]), -1)
    guided._unguided_log_probs = lambda last: unguided
    out = guided(torch.zeros(1, 1, dtype=torch.long), scores)
    expected = unguided + 3.0 * (torch.log_softmax(scores, -1) - unguided)
    assert torch.allclose(out, expected)
    # The token the measured line favours (0) wins although the EEG alone favours token 1.
    assert out.argmax().item() == 0
    with pytest.raises(ValueError, match=">= 1"):
        MeasurementGuidanceLogitsProcessor(None, 0.5, None, None, None, None)


def _step_log_probs(model, processor, features, history_state, row, findings, measured_line, generated):
    """Log-probabilities of every generated token's position, recomputed with one uncached, unpadded forward."""
    prompt = processor.prompt_inputs(1, return_tensors="pt", findings=[findings], measured_line=measured_line)["input_ids"]
    ids = torch.cat([prompt, generated[None]], dim=1)
    out = model(input_ids=ids, segment_features=features.select(slice(row, row + 1)), history_state=history_state[row : row + 1])
    return torch.log_softmax(out.logits[0, prompt.shape[1] - 1 : -1], dim=-1)


def test_guided_generation_picks_the_guided_argmax_at_every_step(conditioned):
    """Greedy decoding with guidance, batched, left-padded and cached, chooses at each step the token
    that maximizes unguided + scale * (guided - unguided), each term recomputed from scratch per row."""
    model, processor = conditioned
    data = segments(2, seed=5)
    rows = [_findings(slowing=Slowing("focal", "left", "temporal")), _findings(state="N2", labels={"stimulus": "face"})]
    scale = 40.0  # large: the random tiny model's logits barely depend on the measured line
    with torch.no_grad():
        eeg, mask, topo = (torch.as_tensor(data[k]) for k in ("eeg_values", "channel_mask", "topomaps"))
        features = model.model.encode_segments(eeg, mask, topo)
        windows = history_windows(2, model.config.history_length)
        states = model.model.get_history_states(features.eeg_pooled, features.topomap_pooled, windows)
        prompt = processor.prompt_inputs(2, return_tensors="pt", findings=rows)
        unguided = processor.prompt_inputs(2, return_tensors="pt", findings=rows, measured_line=False)
        guidance = MeasurementGuidanceLogitsProcessor(model, scale, unguided["input_ids"], unguided["attention_mask"], features, states)
        out = model.generate(
            input_ids=prompt["input_ids"], attention_mask=prompt["attention_mask"], segment_features=features, history_state=states,
            max_new_tokens=6, min_new_tokens=6, do_sample=False, logits_processor=[guidance],
        )  # fmt: skip
        generated = out[:, prompt["input_ids"].shape[1] :]
        plain = model.generate(
            input_ids=prompt["input_ids"], attention_mask=prompt["attention_mask"], segment_features=features, history_state=states,
            max_new_tokens=6, min_new_tokens=6, do_sample=False,
        )[:, prompt["input_ids"].shape[1] :]  # fmt: skip
        for row in range(2):
            with_line = _step_log_probs(model, processor, features, states, row, rows[row], True, generated[row])
            without = _step_log_probs(model, processor, features, states, row, rows[row], False, generated[row])
            combined = without + scale * (with_line - without)
            chosen = combined.gather(1, generated[row][:, None])[:, 0]
            assert torch.all(chosen >= combined.max(dim=1).values - 1e-4), f"row {row}: a step is not the guided argmax"
    # The random tiny model's guided choices differ from plain greedy somewhere: guidance acts.
    assert not torch.equal(generated, plain)


def test_generate_narratives_reads_the_scale_from_the_config_and_checks_its_inputs(conditioned):
    model, processor = conditioned
    data = segments(2, seed=1)
    rows = [_findings(), _findings(slowing=Slowing("focal", "right", "frontal"))]
    with torch.no_grad():
        eeg, mask, topo = (torch.as_tensor(data[k]) for k in ("eeg_values", "channel_mask", "topomaps"))
        features = model.model.encode_segments(eeg, mask, topo)
        windows = history_windows(2, model.config.history_length)
        plain = model.generate_narratives(processor, features, windows, max_new_tokens=8, findings=rows)
        guided = model.generate_narratives(processor, features, windows, max_new_tokens=8, findings=rows, measurement_guidance_scale=3.0)
        model.config.measurement_guidance_scale = 3.0
        try:
            from_config = model.generate_narratives(processor, features, windows, max_new_tokens=8, findings=rows)
            with pytest.raises(ValueError, match="needs a findings-conditioned processor and the segments' findings"):
                model.generate_narratives(tiny_processor(), features, windows, max_new_tokens=8, findings=rows)
        finally:
            model.config.measurement_guidance_scale = 1.0
    assert from_config == guided and len(plain) == 2


def test_config_checks_the_guidance_scale(tmp_path):
    with pytest.raises(ValueError, match="measurement_guidance_scale must be >= 1"):
        tiny_config(findings_in_prompt=True, measurement_guidance_scale=0.5)
    with pytest.raises(ValueError, match="measurement_guidance_scale needs findings_in_prompt"):
        tiny_config(measurement_guidance_scale=2.0)
    config = tiny_config(findings_in_prompt=True, measurement_guidance_scale=2.0)
    config.save_pretrained(tmp_path)
    assert type(config).from_pretrained(tmp_path).measurement_guidance_scale == 2.0
