"""A saved NeuroNarrator folder is self-contained: it loads with trust_remote_code=True in a Python
process where this package cannot be imported, and with the plain Auto classes where it can."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from model_fixtures import NARRATIVES, segments, tiny_model, tiny_processor
from transformers import AutoConfig, AutoModel, AutoModelForCausalLM, AutoProcessor

CODE_FILES = {
    "configuration_neuronarrator.py",
    "modeling_neuronarrator.py",
    "encoders_neuronarrator.py",
    "processing_neuronarrator.py",
    "feature_extraction_neuronarrator.py",
}

# Run in the child: hide the editable install and any path holding the package, prove the import
# fails, then load everything through remote code and run a forward pass and a short generation.
_CHILD = r"""
import json, os, sys
sys.meta_path[:] = [f for f in sys.meta_path
                    if "editable" not in getattr(f, "__module__", "") and "editable" not in type(f).__module__]
sys.path[:] = [p for p in sys.path if not os.path.isdir(os.path.join(p or ".", "modeling_neuronarrator"))]
try:
    import modeling_neuronarrator
except ImportError:
    pass
else:
    raise SystemExit("the package is still importable from " + modeling_neuronarrator.__file__)
import numpy as np, torch
from transformers import AutoConfig, AutoModel, AutoModelForCausalLM, AutoProcessor
folder, inputs_file = sys.argv[1], sys.argv[2]
config = AutoConfig.from_pretrained(folder, trust_remote_code=True)
model = AutoModelForCausalLM.from_pretrained(folder, trust_remote_code=True).eval()
base = AutoModel.from_pretrained(folder, trust_remote_code=True).eval()
processor = AutoProcessor.from_pretrained(folder, trust_remote_code=True)
arrays = np.load(inputs_file)
inputs = processor(eeg_values=arrays["eeg_values"], channel_mask=arrays["mask"], topomaps=arrays["topo"], return_tensors="pt")
with torch.no_grad():
    logits = model(**inputs).logits
    hidden = base(**inputs).last_hidden_state
generated = model.generate(**inputs, max_new_tokens=3, do_sample=False)
print(json.dumps({
    "model_module": type(model).__module__,
    "classes": [type(config).__name__, type(model).__name__, type(base).__name__, type(processor).__name__,
                type(processor.feature_extractor).__name__],
    "logits_sum": float(logits.double().sum()),
    "hidden_shape": list(hidden.shape),
    "generated_shape": list(generated.shape),
}))
"""


@pytest.fixture(scope="module")
def saved_folder(tmp_path_factory):
    model, processor = tiny_model(), tiny_processor()
    folder = tmp_path_factory.mktemp("saved") / "neuronarrator-tiny"
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder, model, processor


def test_saved_folder_is_complete(saved_folder):
    folder, _, _ = saved_folder
    files = set(os.listdir(folder))
    assert CODE_FILES <= files
    assert {"config.json", "model.safetensors", "processor_config.json", "tokenizer.json", "README.md"} <= files
    config = json.loads((folder / "config.json").read_text())
    assert config["auto_map"] == {
        "AutoConfig": "configuration_neuronarrator.NeuroNarratorConfig",
        "AutoModel": "modeling_neuronarrator.NeuroNarratorModel",
        "AutoModelForCausalLM": "modeling_neuronarrator.NeuroNarratorForConditionalGeneration",
    }
    processor_config = json.loads((folder / "processor_config.json").read_text())
    assert processor_config["auto_map"]["AutoProcessor"] == "processing_neuronarrator.NeuroNarratorProcessor"
    assert processor_config["placeholder_counts"] == {"history": 2, "eeg": 4, "topomap": 4}


def test_trust_remote_code_load_without_the_package(saved_folder, tmp_path):
    folder, model, processor = saved_folder
    copy = tmp_path / "copied-model"
    shutil.copytree(folder, copy)
    data = segments(2, seed=9)
    data["channel_mask"][1, 4] = False
    np.savez(tmp_path / "inputs.npz", eeg_values=data["eeg_values"], mask=data["channel_mask"], topo=data["topomaps"])
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(HF_HUB_OFFLINE="1", HF_MODULES_CACHE=str(tmp_path / "modules"), TRANSFORMERS_VERBOSITY="error")
    result = subprocess.run(
        [sys.executable, "-c", _CHILD, str(copy), str(tmp_path / "inputs.npz")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-4000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["model_module"].startswith("transformers_modules.")
    assert report["classes"] == [
        "NeuroNarratorConfig",
        "NeuroNarratorForConditionalGeneration",
        "NeuroNarratorModel",
        "NeuroNarratorProcessor",
        "NeuroNarratorFeatureExtractor",
    ]
    inputs = processor(**data, return_tensors="pt")
    with torch.no_grad():
        expected = float(model(**inputs).logits.double().sum())
    assert report["logits_sum"] == pytest.approx(expected, rel=1e-5)
    assert report["hidden_shape"] == [2, inputs["input_ids"].shape[1], model.config.text_config.hidden_size]
    assert report["generated_shape"] == [2, inputs["input_ids"].shape[1] + 3]


def test_plain_auto_classes_load_when_the_package_is_imported(saved_folder):
    folder, model, _ = saved_folder
    import modeling_neuronarrator

    assert type(AutoConfig.from_pretrained(folder)) is modeling_neuronarrator.NeuroNarratorConfig
    loaded = AutoModelForCausalLM.from_pretrained(folder).eval()
    assert type(loaded) is modeling_neuronarrator.NeuroNarratorForConditionalGeneration
    assert type(AutoModel.from_pretrained(folder)) is modeling_neuronarrator.NeuroNarratorModel
    auto_processor = AutoProcessor.from_pretrained(folder)
    assert type(auto_processor) is modeling_neuronarrator.NeuroNarratorProcessor
    inputs = auto_processor(**segments(1), text=NARRATIVES[:1], return_tensors="pt")
    with torch.no_grad():
        torch.testing.assert_close(loaded(**inputs).logits, model(**inputs).logits)
