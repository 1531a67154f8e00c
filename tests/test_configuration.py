"""NeuroNarratorConfig: defaults, self-validation, the placeholder count function, round trips."""

from __future__ import annotations

import json

import pytest
from model_fixtures import narrative_tokenizer, tiny_config
from transformers import AutoConfig, GPT2Config, LlamaConfig, Mamba2Config, ViTConfig

from modeling_neuronarrator import (
    NeuroNarratorConfig,
    NeuroNarratorEEGConfig,
    NeuroNarratorTopomapConfig,
    get_placeholder_counts,
)


def test_default_config_is_the_embedded_llama_backbone():
    config = NeuroNarratorConfig.default()
    assert isinstance(config.text_config, LlamaConfig)
    assert (config.text_config.hidden_size, config.text_config.num_hidden_layers) == (256, 4)
    assert isinstance(config.history_config, Mamba2Config)
    assert isinstance(config.eeg_config, NeuroNarratorEEGConfig)
    assert isinstance(config.topomap_config, NeuroNarratorTopomapConfig)
    assert config.history_length == 3
    assert config.eeg_config.num_patches == 10  # 2000 samples in 1 s patches of 200
    assert config.vision_config is None
    assert config.tie_word_embeddings is True  # follows the text backbone
    assert get_placeholder_counts(config) == {"history": 4, "eeg": 16, "topomap": 16}


def test_placeholder_counts_follow_the_config_in_prompt_order():
    config = tiny_config(num_history_tokens=3, eeg_config={"hidden_size": 32, "num_attention_heads": 4, "num_output_tokens": 7})
    counts = get_placeholder_counts(config)
    assert counts == {"history": 3, "eeg": 7, "topomap": 4}
    assert list(counts) == ["history", "eeg", "topomap"]


def test_tokenizer_sets_placeholder_ids_and_vocabulary():
    tokenizer = narrative_tokenizer()
    config = NeuroNarratorConfig.default(tokenizer=tokenizer)
    assert config.eeg_token_id == tokenizer.convert_tokens_to_ids("<eeg>")
    assert config.topomap_token_id == tokenizer.convert_tokens_to_ids("<topo>")
    assert config.history_token_id == tokenizer.convert_tokens_to_ids("<hist>")
    assert config.text_config.vocab_size == len(tokenizer)  # a fresh backbone gets exactly the tokenizer's rows
    assert config.text_config.eos_token_id == tokenizer.eos_token_id
    assert config.text_config.pad_token_id == tokenizer.pad_token_id


def test_own_tokenizer_keeps_every_digit_apart_and_round_trips():
    from modeling_neuronarrator.training.tokenizer import train_narrative_tokenizer

    # "26.4" and "10.2" are frequent enough here to merge, were digits merged at all.
    texts = ["Dominant frequency 26.4 Hz (beta) at F3-C3; posterior rhythm 10.2 Hz, 35 uV, 12% at 1.5 s."] * 60
    tokenizer = train_narrative_tokenizer(texts, vocab_size=400, split_digits=True)
    tokens = tokenizer.convert_ids_to_tokens(tokenizer("frequency 26.4 Hz (10.2 Hz)")["input_ids"])
    digit_tokens = [t for t in tokens if any(c.isdigit() for c in t)]
    assert digit_tokens == ["\u01202", "6", "4", "1", "0", "2"]  # a leading space rides on the first digit ("\u0120")
    assert tokenizer.decode(tokenizer(texts[0])["input_ids"]) == texts[0]
    merged = train_narrative_tokenizer(texts, vocab_size=400)  # the default: numbers merge like words
    assert any(sum(c.isdigit() for c in t) > 1 for t in merged.convert_ids_to_tokens(merged("frequency 26.4 Hz")["input_ids"]))


def test_tokenizer_without_placeholders_is_refused():
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    bare = PreTrainedTokenizerFast(tokenizer_object=Tokenizer(models.BPE()), eos_token="</s>")
    with pytest.raises(ValueError, match=r"lacks the placeholder tokens \['<eeg>', '<topo>', '<hist>'\]"):
        NeuroNarratorConfig.default(tokenizer=bare)


def test_mamba2_shape_error_names_both_products():
    with pytest.raises(ValueError) as error:
        NeuroNarratorConfig(history_config={"hidden_size": 128, "expand": 2, "num_heads": 3, "head_dim": 32})
    message = str(error.value)
    assert "128 * 2 = 256" in message and "3 * 32 = 96" in message


def test_partial_history_dict_keeps_the_small_defaults():
    config = NeuroNarratorConfig(history_config={"num_hidden_layers": 3})
    assert config.history_config.num_hidden_layers == 3
    assert config.history_config.hidden_size == 128  # not Mamba2's 4096


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"eeg_config": {"hidden_size": 30, "num_attention_heads": 4}}, "divisible by num_attention_heads"),
        ({"eeg_config": {"segment_samples": 2000, "patch_samples": 300}}, "multiple of patch_samples"),
        ({"topomap_config": {"num_output_tokens": 5}}, "must be a square number"),
        ({"grounding_temperature_init": 2.0}, "grounding_temperature_init must be in"),
        ({"num_history_tokens": 0}, "num_history_tokens must be a positive integer"),
        ({"eeg_token": "<x>", "topomap_token": "<x>"}, "placeholder tokens must differ"),
        ({"eeg_token_id": 5000, "text_config": {"vocab_size": 300}}, "outside the text model's vocabulary"),
        ({"finding_targets": ["artifact:sneeze"]}, r"finding_targets \['artifact:sneeze'\] unknown"),
        ({"finding_targets": ["pdr"], "findings_pos_weight": [1.0, 2.0]}, "one positive weight per finding target"),
    ],
)
def test_invalid_configs_raise_value_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        NeuroNarratorConfig(**kwargs)


def test_save_load_round_trip_and_auto_config(tmp_path):
    config = tiny_config(vision_config=ViTConfig(num_channels=5, image_size=32, patch_size=8, hidden_size=32,
                                                 num_hidden_layers=1, num_attention_heads=2, intermediate_size=64))  # fmt: skip
    config.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["model_type"] == "neuronarrator"
    assert saved["history_config"]["model_type"] == "mamba2"
    assert saved["vision_config"]["model_type"] == "vit"
    loaded = AutoConfig.from_pretrained(tmp_path)
    assert isinstance(loaded, NeuroNarratorConfig)
    assert isinstance(loaded.vision_config, ViTConfig)
    assert loaded.vision_config.num_channels == 5
    assert get_placeholder_counts(loaded) == get_placeholder_counts(config)
    assert loaded.eeg_token_id == config.eeg_token_id
    assert loaded.history_config.to_dict() == config.history_config.to_dict()
    assert loaded.text_config.to_dict() == config.text_config.to_dict()


def test_any_causal_lm_config_by_model_type():
    config = NeuroNarratorConfig.tiny(text_config={"model_type": "gpt2", "n_embd": 32, "n_layer": 1, "n_head": 2,
                                                   "vocab_size": 300, "tie_word_embeddings": True})  # fmt: skip
    assert isinstance(config.text_config, GPT2Config)
    assert config.text_config.hidden_size == 32
