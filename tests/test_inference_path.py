"""One inference path: every segment encoded once, K-window histories from those encodings, and
the same narratives whichever entry point (model API, report narrator, plain generate) asks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from model_fixtures import segments, tiny_config, tiny_model, tiny_processor

from modeling_neuronarrator.modeling_neuronarrator import SegmentFeatures, history_windows


@pytest.fixture(scope="module")
def model_and_processor():
    config = tiny_config()
    return tiny_model(config), tiny_processor(config)


@pytest.fixture(scope="module")
def recording_segments():
    """Seven consecutive segments of one 'recording' (random but fixed)."""
    data = segments(7, seed=3)
    return data["eeg_values"], data["channel_mask"], data["topomaps"]


def _tensors(eeg, mask, topo):
    return torch.as_tensor(eeg), torch.as_tensor(mask), torch.as_tensor(topo)


def test_history_windows_are_left_padded_and_end_with_the_segment():
    assert history_windows(3, 2).tolist() == [[-1, -1, 0], [-1, 0, 1], [0, 1, 2]]
    # Two already-encoded preceding segments (rows 0, 1), then the new ones (rows 2..4).
    assert history_windows(3, 3, n_before=2).tolist() == [[-1, 0, 1, 2], [0, 1, 2, 3], [1, 2, 3, 4]]
    assert history_windows(2, 0).tolist() == [[0], [1]]


def test_history_states_from_encodings_equal_the_per_window_reasoner(model_and_processor, recording_segments):
    model, processor = model_and_processor
    eeg, mask, topo = _tensors(*recording_segments)
    k = model.config.history_length
    with torch.no_grad():
        features = model.model.encode_segments(eeg, mask, topo, batch_size=3)
        states = model.model.get_history_states(features.eeg_pooled, features.topomap_pooled, history_windows(len(eeg), k))
        arrays = processor._history_from_recording(*recording_segments)
        reference = model.model.get_history_state(
            model.model.get_segment_features(eeg, mask, topo),
            *(torch.as_tensor(arrays[key]) for key in ("history_eeg_values", "history_channel_mask", "history_topomaps", "history_mask")),
        )
    assert states.shape == reference.shape and states.shape[0] == 7
    torch.testing.assert_close(states, reference, rtol=1e-5, atol=1e-6)


def test_a_window_must_end_with_its_segment(model_and_processor, recording_segments):
    model, _ = model_and_processor
    eeg, mask, topo = _tensors(*recording_segments)
    with torch.no_grad():
        features = model.model.encode_segments(eeg, mask, topo)
        with pytest.raises(ValueError, match="end with the narrated segment"):
            model.model.get_history_states(features.eeg_pooled, features.topomap_pooled, torch.tensor([[0, -1]]))


def test_generate_narratives_matches_generate_on_processor_inputs(model_and_processor, recording_segments):
    model, processor = model_and_processor
    eeg, mask, topo = _tensors(*recording_segments)
    k = model.config.history_length
    with torch.no_grad():
        features = model.model.encode_segments(eeg, mask, topo)
        texts = model.generate_narratives(processor, features, history_windows(7, k), batch_size=4, max_new_tokens=12)
        inputs = processor(
            eeg_values=recording_segments[0],
            channel_mask=recording_segments[1],
            topomaps=recording_segments[2],
            return_tensors="pt",
            **{key: value for key, value in processor._history_from_recording(*recording_segments).items()},
        )
        generated = model.generate(**inputs, max_new_tokens=12, do_sample=False)
    reference = processor.post_process_narratives(generated, inputs["input_ids"].shape[1])
    assert len(texts) == 7
    assert texts == reference


def test_segment_features_need_their_history_state(model_and_processor, recording_segments):
    model, processor = model_and_processor
    eeg, mask, topo = _tensors(*recording_segments)
    prompt = processor.prompt_inputs(2, return_tensors="pt")
    with torch.no_grad():
        features = model.model.encode_segments(eeg[:2], mask[:2], topo[:2])
        with pytest.raises(ValueError, match="come with their history_state"):
            model(**prompt, segment_features=features)


def _count_encodings(model, monkeypatch) -> list[int]:
    """Segments encoded so far (the EEG encoder's batch sizes), through the one encoder call."""
    encoded: list[int] = []
    original = model.model.get_segment_features

    def counting(eeg_values, *args, **kwargs):
        encoded.append(int(eeg_values.shape[0]))
        return original(eeg_values, *args, **kwargs)

    monkeypatch.setattr(model.model, "get_segment_features", counting)
    return encoded


def test_report_narrator_encodes_each_segment_once_and_chunking_does_not_change_texts(tmp_path, recording_segments, monkeypatch):
    from modeling_neuronarrator.report import ModelNarrator

    config = tiny_config()
    tiny_model(config).save_pretrained(tmp_path)
    tiny_processor(config).save_pretrained(tmp_path)
    eeg, mask, topo = recording_segments

    def chunk(lo, hi):
        return {"eeg_values": eeg[lo:hi], "channel_mask": mask[lo:hi], "topomaps": topo[lo:hi], "findings": [None] * (hi - lo),
                "segment_index": np.arange(lo, hi)}

    whole = ModelNarrator(tmp_path, batch_size=8, max_new_tokens=10).narrate_segments(chunk(0, 7), None)
    narrator = ModelNarrator(tmp_path, batch_size=2, max_new_tokens=10)
    encoded = _count_encodings(narrator.model, monkeypatch)
    k = narrator.history_segments
    texts = []
    for lo, hi in ((0, 3), (3, 5), (5, 7)):  # as the report pipeline calls it: the K preceding segments as history
        history = chunk(max(0, lo - k), lo) if lo else None
        texts += narrator.narrate_segments(chunk(lo, hi), history)
    assert texts == whole
    assert sum(encoded) == 7, f"segments encoded {sum(encoded)} times for 7 segments ({encoded})"


def test_model_narrate_recording_uses_the_same_k_window_path(tmp_path, alpha_recording_path):
    from modeling_neuronarrator.report import ModelNarrator

    config = tiny_config()
    model, processor = tiny_model(config), tiny_processor(config)
    model.save_pretrained(tmp_path)
    processor.save_pretrained(tmp_path)
    streamed = list(model.narrate_recording(alpha_recording_path, processor, batch_segments=2, max_new_tokens=10))
    features = processor.feature_extractor(alpha_recording_path)
    batch = {"eeg_values": features["eeg_values"], "channel_mask": features["channel_mask"], "topomaps": features["topomaps"],
             "findings": features["findings"], "segment_index": np.arange(len(features["findings"]))}
    reference = ModelNarrator(tmp_path, batch_size=8, max_new_tokens=10).narrate_segments(batch, None)
    assert [row["segment_index"] for row in streamed] == list(range(len(reference)))
    assert [row["text"] for row in streamed] == [text.strip() for text in reference]


@pytest.fixture
def alpha_recording_path(tmp_path, synth, recording_writer):
    """60 s of a 10 Hz posterior rhythm over a 1/f background, as an EDF file (6 segments)."""
    from modeling_neuronarrator import STANDARD_CHANNELS

    data = np.concatenate([synth.add_sine(synth.background(10.0, seed=i), ["O1", "O2", "P3", "P4", "Pz"], 10.0, 30.0)
                           for i in range(6)], axis=1)
    return str(recording_writer("edf", data, list(STANDARD_CHANNELS), 200.0, name="alpha"))


def test_segment_features_select_and_concatenate_round_trip(model_and_processor, recording_segments):
    model, _ = model_and_processor
    eeg, mask, topo = _tensors(*recording_segments)
    with torch.no_grad():
        features = model.model.encode_segments(eeg, mask, topo)
    joined = SegmentFeatures.concatenate([features.select(slice(0, 3)), features.select(slice(3, None))])
    for name in ("eeg_tokens", "eeg_pooled", "topomap_tokens", "topomap_pooled"):
        torch.testing.assert_close(getattr(joined, name), getattr(features, name), rtol=0, atol=0)
    assert features.select([6, 0]).eeg_pooled.shape[0] == 2


def test_training_validation_samples_use_the_same_path(model_and_processor):
    from modeling_neuronarrator.training.trainer import generate_narratives

    model, processor = model_and_processor
    k = model.config.history_length
    arrays = segments(3, seed=5, k=k)
    arrays["history_mask"] = np.array([[False] * k, [False] * (k - 1) + [True], [True] * k])
    texts = generate_narratives(model, processor, arrays, max_new_tokens=10)
    inputs = processor(return_tensors="pt", **arrays)
    with torch.no_grad():
        generated = model.generate(**inputs, max_new_tokens=10, do_sample=False)
    assert texts == processor.post_process_narratives(generated, inputs["input_ids"].shape[1])


def test_report_narrator_regenerates_segments_of_its_last_chunk_from_their_encodings(tmp_path, recording_segments, monkeypatch):
    """Sample-and-check: rows of the last chunk narrated again by sampling, without encoding anything
    again; the lowest-scoring sample per row; reproducible by seed; the global random state untouched."""
    from modeling_neuronarrator.report import ModelNarrator

    config = tiny_config()
    tiny_model(config, seed=4).save_pretrained(tmp_path)
    tiny_processor(config).save_pretrained(tmp_path)
    eeg, mask, topo = recording_segments
    batch = {"eeg_values": eeg[:4], "channel_mask": mask[:4], "topomaps": topo[:4], "findings": [f"f{i}" for i in range(4)],
             "segment_index": np.arange(4)}  # fmt: skip
    narrator = ModelNarrator(tmp_path, batch_size=4, max_new_tokens=8)
    with pytest.raises(RuntimeError, match="call narrate_segments first"):
        narrator.regenerate([0], lambda text, findings: 0)
    greedy = narrator.narrate_segments(batch, None)
    encoded = _count_encodings(narrator.model, monkeypatch)
    sampled: list[list[str]] = []
    original = narrator.model.generate_narratives

    def recording(*args, **kwargs):
        texts = original(*args, **kwargs)
        sampled.append(texts)
        assert kwargs["do_sample"] is True and kwargs["findings"] == ["f1", "f1", "f1", "f3", "f3", "f3"]
        return texts

    monkeypatch.setattr(narrator.model, "generate_narratives", recording)
    seen: list[str] = []

    def shortest(text, findings):
        seen.append(findings)
        return len(text)

    torch.manual_seed(123)
    state = torch.random.get_rng_state()
    best = narrator.regenerate([1, 3], shortest, num_candidates=3, seed=7)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert sum(encoded) == 0
    assert set(best) == {1, 3} and set(seen) == {"f1", "f3"}
    candidates = sampled[0]
    assert best[1] == min(candidates[:3], key=len) and best[3] == min(candidates[3:], key=len)
    assert len(set(candidates)) > 1 or candidates[0] != greedy[1]  # samples, not the greedy text again
    again = narrator.regenerate([1, 3], shortest, num_candidates=3, seed=7)
    assert again == best and sampled[1] == candidates
    with pytest.raises(ValueError, match="num_candidates >= 1"):
        narrator.regenerate([1], shortest, num_candidates=0)
