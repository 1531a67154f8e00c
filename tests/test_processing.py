"""NeuroNarratorProcessor: prompt layout, placeholder expansion and checks, labels, histories, round trip."""

from __future__ import annotations

import numpy as np
import pytest
from model_fixtures import (
    NARRATIVES,
    narrative_tokenizer,
    segments,
    tiny_config,
    tiny_processor,
)
from transformers import AutoProcessor

from modeling_neuronarrator import (
    DEFAULT_INSTRUCTION,
    NeuroNarratorFeatureExtractor,
    NeuroNarratorProcessor,
    get_placeholder_counts,
)


@pytest.fixture(scope="module")
def config():
    return tiny_config()


@pytest.fixture(scope="module")
def processor(config):
    return tiny_processor(config)


def _runs(ids, token_id):
    """(start, length) of the contiguous runs of ``token_id`` in a row of ids."""
    positions = np.flatnonzero(np.asarray(ids) == token_id)
    if positions.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(positions) != 1)
    starts = np.r_[positions[0], positions[breaks + 1]]
    ends = np.r_[positions[breaks], positions[-1]]
    return [(int(s), int(e - s + 1)) for s, e in zip(starts, ends)]


def test_prompt_expands_each_placeholder_once_in_order(processor, config):
    out = processor(**segments(2))
    counts = get_placeholder_counts(config)
    for row in out["input_ids"]:
        hist = _runs(row, config.history_token_id)
        eeg = _runs(row, config.eeg_token_id)
        topo = _runs(row, config.topomap_token_id)
        assert [r[1] for r in hist] == [counts["history"]]
        assert [r[1] for r in eeg] == [counts["eeg"]]
        assert [r[1] for r in topo] == [counts["topomap"]]
        # history, then the current segment's EEG, then its topomaps, back to back
        assert hist[0][0] + counts["history"] == eeg[0][0]
        assert eeg[0][0] + counts["eeg"] == topo[0][0]
    text = processor.tokenizer.decode(out["input_ids"][0])
    assert DEFAULT_INSTRUCTION in text
    assert text.startswith(processor.tokenizer.bos_token)


def test_arrays_are_normalized_to_batches_of_contract_shapes(processor):
    single = segments(1)
    out = processor(
        eeg_values=single["eeg_values"][0].astype(np.float16),  # corpus rows are float16, one segment
        channel_mask=single["channel_mask"][0],
        topomaps=single["topomaps"][0],
        return_tensors="pt",
    )
    assert tuple(out["eeg_values"].shape) == (1, 19, 2000)
    assert str(out["eeg_values"].dtype) == "torch.float32"
    assert tuple(out["channel_mask"].shape) == (1, 19) and str(out["channel_mask"].dtype) == "torch.bool"
    assert tuple(out["topomaps"].shape) == (1, 5, 32, 32)
    assert "labels" not in out and "history_mask" not in out
    np.testing.assert_allclose(out["eeg_values"][0].numpy(), single["eeg_values"][0].astype(np.float16).astype(np.float32))


def test_labels_cover_only_the_narrative_tokens(processor):
    targets = [NARRATIVES[0], NARRATIVES[1][:40]]
    out = processor(**segments(2), text=targets)
    tokenizer = processor.tokenizer
    prompt_len = len(tokenizer(processor.build_prompt(), add_special_tokens=False)["input_ids"])
    for row, target in enumerate(targets):
        expected = tokenizer(target, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        labels = out["labels"][row]
        assert (labels[:prompt_len] == -100).all()
        assert labels[prompt_len : prompt_len + len(expected)].tolist() == expected
        assert (labels[prompt_len + len(expected) :] == -100).all()  # right padding
        assert out["input_ids"][row, prompt_len : prompt_len + len(expected)].tolist() == expected
        assert out["attention_mask"][row].sum() == prompt_len + len(expected)
    assert out["attention_mask"][1, -1] == 0  # the shorter target is padded on the right


def test_generation_batches_are_left_padded(processor):
    out = processor(**segments(3))
    assert (out["attention_mask"] == 1).all()  # same prompt: no padding needed
    rows, labels = [[5, 6, 7], [5]], None
    padded = processor._pad(rows, labels)
    assert padded["input_ids"][1].tolist() == [processor.tokenizer.pad_token_id] * 2 + [5]
    assert padded["attention_mask"][1].tolist() == [0, 0, 1]


def test_truncation_cuts_the_target_never_the_prompt(processor):
    prompt_len = len(processor.tokenizer(processor.build_prompt(), add_special_tokens=False)["input_ids"])
    out = processor(**segments(1), text=[NARRATIVES[0]], max_length=prompt_len + 5)
    assert out["input_ids"].shape[1] == prompt_len + 5
    assert (out["labels"][0, prompt_len:] != -100).sum() == 5
    with pytest.raises(ValueError, match=r"max_length=10 is shorter than the prompt \(\d+ tokens"):
        processor(**segments(1), text=[NARRATIVES[0]], max_length=10)


def test_placeholder_checks_before_and_after_tokenizing(processor, config):
    with pytest.raises(ValueError, match="instruction must not contain placeholder tokens"):
        processor(**segments(1), instruction="Describe <eeg> this.")
    with pytest.raises(ValueError, match="contains placeholder tokens"):
        processor(**segments(1), text=["alpha <topo> rhythm"])
    # A tokenizer that splits the placeholder into pieces fails the after-tokenizing check.
    broken = NeuroNarratorProcessor.from_config(config, NeuroNarratorFeatureExtractor(), narrative_tokenizer())
    broken.token_ids = dict(broken.token_ids, eeg=broken.token_ids["eeg"] + 1000)
    with pytest.raises(ValueError, match=r"after tokenizing: the prompt holds 0 eeg placeholder tokens but the model expects 4"):
        broken(**segments(1))


def test_bad_shapes_and_counts_are_reported(processor):
    good = segments(2)
    with pytest.raises(ValueError, match=r"eeg_values must be \(batch, 19, 2000\)"):
        processor(eeg_values=np.zeros((2, 19, 1000)), topomaps=good["topomaps"])
    with pytest.raises(ValueError, match="topomaps are required"):
        processor(eeg_values=good["eeg_values"])
    with pytest.raises(ValueError, match=r"got 1 target texts for 2 segments"):
        processor(**good, text=[NARRATIVES[0]])
    with pytest.raises(ValueError, match="either a recording or precomputed eeg_values"):
        processor("x.edf", eeg_values=good["eeg_values"])
    with pytest.raises(ValueError, match="history_mask must be left-padded"):
        processor(**segments(1, k=2), history_mask=np.array([[True, False]]))


def test_variable_length_histories_are_left_padded(processor):
    cur = segments(3)
    past = segments(2, seed=1)
    out = processor(
        **cur,
        history_eeg_values=[past["eeg_values"][:2], past["eeg_values"][:1], []],
        history_topomaps=[past["topomaps"][:2], past["topomaps"][:1], []],
    )
    assert out["history_mask"].tolist() == [[True, True], [False, True], [False, False]]
    np.testing.assert_array_equal(out["history_eeg_values"][1, 1], past["eeg_values"][0])
    np.testing.assert_array_equal(out["history_eeg_values"][1, 0], 0.0)
    assert not out["history_channel_mask"][2].any()
    with pytest.raises(ValueError, match="history of sample 0: 2 EEG segments but 1 topomap stacks"):
        processor(**cur, history_eeg_values=[past["eeg_values"][:2], [], []], history_topomaps=[past["topomaps"][:1], [], []])


def test_recording_input_runs_the_feature_extractor_and_attaches_k_preceding(processor, synth):
    import mne

    data = synth.normal_background(seconds=40.0, sfreq=200.0, seed=2)
    raw = mne.io.RawArray(data * 1e-6, mne.create_info(list(synth.channels), 200.0, "eeg"), verbose="ERROR")
    out = processor(raw, return_tensors="np")
    n = out["eeg_values"].shape[0]
    assert n == 4 and out["input_ids"].shape[0] == n
    assert out["history_eeg_values"].shape == (4, 3, 19, 2000)
    assert out["history_mask"].tolist() == [[False] * 3, [False, False, True], [False, True, True], [True] * 3]
    # segment 3's history is segments 0, 1, 2 in time order
    np.testing.assert_array_equal(out["history_eeg_values"][3], out["eeg_values"][:3])
    np.testing.assert_array_equal(out["history_topomaps"][2, 1:], out["topomaps"][:2])
    assert "history_mask" not in processor(raw, history=False)


def test_chat_template_is_used_when_the_tokenizer_has_one(config):
    tokenizer = narrative_tokenizer()
    template = "{% for m in messages %}<s>[{{ m['role'] }}] {{ m['content'] }}\n{% endfor %}{% if add_generation_prompt %}[assistant] {% endif %}"
    processor = NeuroNarratorProcessor.from_config(config, NeuroNarratorFeatureExtractor(), tokenizer, chat_template=template)
    prompt = processor.build_prompt()
    assert prompt.startswith("<s>[user] <hist>") and prompt.endswith("[assistant] ")
    out = processor(**segments(1))
    assert (out["input_ids"][0] == config.eeg_token_id).sum() == get_placeholder_counts(config)["eeg"]


def test_from_config_refuses_a_mismatched_tokenizer():
    mismatched = tiny_config()
    mismatched.eeg_token_id = 7
    with pytest.raises(ValueError, match="config.eeg_token_id is 7 but the tokenizer maps '<eeg>' to 3"):
        NeuroNarratorProcessor.from_config(mismatched, NeuroNarratorFeatureExtractor(), narrative_tokenizer())


def test_auto_processor_round_trip(processor, tmp_path):
    processor.save_pretrained(tmp_path)
    assert (tmp_path / "processor_config.json").exists() and (tmp_path / "tokenizer.json").exists()
    loaded = AutoProcessor.from_pretrained(tmp_path)
    assert isinstance(loaded, NeuroNarratorProcessor)
    assert isinstance(loaded.feature_extractor, NeuroNarratorFeatureExtractor)
    assert loaded.placeholder_counts == processor.placeholder_counts
    assert loaded.instruction == processor.instruction
    a = processor(**segments(2), text=NARRATIVES[:2])
    b = loaded(**segments(2), text=NARRATIVES[:2])
    for key in ("input_ids", "attention_mask", "labels"):
        np.testing.assert_array_equal(a[key], b[key])
    assert loaded.batch_decode(a["input_ids"][:, -5:]) == processor.batch_decode(a["input_ids"][:, -5:])
