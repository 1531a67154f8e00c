"""The README.md model card written beside a saved NeuroNarrator model (Hub YAML header + sections)."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["build_model_card"]

_DEFAULT_DATASETS = ("neuronarrator/neurocorpus",)


def _yaml_list(values) -> str:
    return "\n".join(f"  - {v}" for v in values)


def build_model_card(
    config: Any,
    num_parameters: int | None = None,
    datasets: tuple[str, ...] | list[str] | None = None,
    metrics: dict[str, float] | None = None,
    license: str = "apache-2.0",
    training_notes: str | None = None,
) -> str:
    """Markdown model card for a saved model.

    Args:
        config: the model's `NeuroNarratorConfig`.
        num_parameters: total parameter count, for the card's summary.
        datasets: dataset ids or names used for training (YAML ``datasets``).
        metrics: evaluation results by metric name (e.g. ``{"bleu4": 0.12, "clinical_accuracy": 0.7}``);
            without results the card says the model is untrained / unevaluated.
        license: SPDX-like Hub licence id.
        training_notes: free text on the training run (data, stages, steps).
    """
    text_type = getattr(config.text_config, "model_type", "unknown")
    datasets = list(datasets or _DEFAULT_DATASETS)
    backbone = config.text_model_path or f"embedded {text_type} decoder"
    size = f"{num_parameters / 1e6:.1f} M parameters" if num_parameters else "see config.json"
    sections = [
        _front_matter(license, datasets),
        _SUMMARY.format(backbone=backbone, size=size),
        _USE_AND_LIMITATIONS,
        _training_data(datasets, training_notes),
        _architecture(config, text_type),
        _metrics(metrics),
        _configuration(config),
    ]
    return "\n".join(sections)


def _front_matter(license: str, datasets: list[str]) -> str:
    """The Hub YAML header."""
    return f"""---
license: {license}
library_name: transformers
pipeline_tag: text-generation
tags:
  - eeg
  - neuroscience
  - clinical-eeg
  - eeg-to-text
  - mamba2
  - custom_code
datasets:
{_yaml_list(datasets)}
---
"""


_SUMMARY = """# NeuroNarrator

NeuroNarrator describes 10 s segments of scalp EEG in clinical prose: dominant rhythms, waveform
morphology, frequency content and spatio-temporal dynamics. It combines a patch-transformer EEG
encoder, a band-power topomap encoder aligned to it by contrastive (InfoNCE) grounding, a Mamba2
history reasoner over the preceding segments, and a causal language model ({backbone}; {size}).

```python
from transformers import AutoModelForCausalLM, AutoProcessor
model = AutoModelForCausalLM.from_pretrained("path/to/this/folder", trust_remote_code=True)
processor = AutoProcessor.from_pretrained("path/to/this/folder", trust_remote_code=True)
for segment in model.narrate_recording("recording.edf", processor):
    print(segment["segment_start_s"], segment["text"])
# With the neuronarrator package installed, decode as its report does: no sentence that the
# segment's measured findings contradict (the measured grammar; its figures below where measured)
from modeling_neuronarrator.report.measured_decoding import measured_grammar
grammar = measured_grammar(processor.tokenizer)
texts = [s["text"] for s in model.narrate_recording("recording.edf", processor, findings_logits_processor=grammar)]
```
"""

_USE_AND_LIMITATIONS = """## Intended use

Research on EEG representation learning and EEG-to-text generation; education; drafting
descriptive text that a qualified reader checks. Input: 19-channel 10-20 scalp EEG (any format MNE
reads), harmonized to 200 Hz, 0.3-75 Hz, in segments of 10 s.

## Limitations

- **This model is NOT a medical device.** It is not cleared or approved for diagnosis, triage,
  monitoring or any clinical decision. Its text can be wrong, incomplete or misleadingly fluent.
  Every output must be reviewed by a qualified clinical neurophysiologist.
- It sees one 10 s segment at a time plus a summary of the preceding ones; it does not replace the
  reading of a whole recording with video, montage changes and clinical context.
- Channels missing from a recording are interpolated and flagged; descriptions of regions covered
  only by interpolated channels are unreliable.
- Training data come from a limited set of public corpora (mostly adult, hospital recordings);
  performance on neonates, intracranial EEG, or devices with few electrodes is unknown.
"""


def _training_data(datasets: list[str], training_notes: str | None) -> str:
    return f"""## Training data

Trained on NeuroCorpus ({", ".join(datasets)}): segments of public EEG corpora (TUH EEG subsets,
CHB-MIT, Siena, Sleep-EDF, HMC, ISRUC, EEGMMIDB, BCI IV-2a, SEED, EEGMAT, Helsinki neonatal) with
descriptions generated from quantitative findings and the sources' own labels. Splits are
subject-disjoint. Each source keeps its own licence; see the dataset card.
{training_notes or ""}
"""


def _architecture(config: Any, text_type: str) -> str:
    """One table row per part of the model, with its size."""
    history = config.history_config
    return f"""## Architecture

| part | setting |
|---|---|
| EEG encoder | {config.eeg_config.num_hidden_layers} layers, width {config.eeg_config.hidden_size}, 1 s patches, {config.eeg_config.num_output_tokens} tokens |
| topomap encoder | {"vision model " + config.vision_config.model_type if config.vision_config is not None else "CNN"}, {config.topomap_config.num_output_tokens} tokens |
| grounding | symmetric InfoNCE, dim {config.grounding_dim}, learnable temperature (init {config.grounding_temperature_init}) |
| history reasoner | Mamba2, {history.num_hidden_layers} layers, width {history.hidden_size}, K={config.history_length} in training, {config.num_history_tokens} tokens |
| language model | {text_type}, hidden {config.text_config.hidden_size}, {config.text_config.num_hidden_layers} layers |
"""


def _metrics(metrics: dict[str, float] | None) -> str:
    """The results table (or a row saying the model is not evaluated yet)."""
    rows = (
        "\n".join(f"| {name} | {value:.4f} |" if isinstance(value, (int, float)) else f"| {name} | {value} |" for name, value in metrics.items())
        if metrics
        else "| (not evaluated yet) | - |"
    )
    return f"""## Metrics

| metric | value |
|---|---|
{rows}

Language metrics (BLEU, ROUGE-L, METEOR, CIDEr, BERTScore) and clinical accuracy (findings parsed
from the generated text against the measured findings and labels) come from `neuronarrator evaluate`.
"""


def _configuration(config: Any) -> str:
    return f"""## Configuration

```json
{json.dumps({"placeholders": [config.history_token, config.eeg_token, config.topomap_token], "history_length": config.history_length}, indent=2)}
```
"""
