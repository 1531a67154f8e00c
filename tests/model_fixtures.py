"""Small shared builders for the model tests: a narrative tokenizer, tiny configs, random segments."""

from __future__ import annotations

import functools

import numpy as np
import torch

NARRATIVES = [
    "The background is dominated by alpha activity at 9.5 Hz over the occipital regions, attenuating with eye opening.",
    "Generalized slowing in the delta range at 2.0 Hz with high amplitude, most prominent over the frontal regions.",
    "Theta activity at 6.0 Hz predominates over the central regions; eye blink artifacts are seen at Fp1 and Fp2.",
    "Low amplitude beta activity at 18 Hz is present over the frontal regions, with muscle artifact at T7 and T8.",
]


@functools.lru_cache(maxsize=2)
def narrative_tokenizer(vocab_size: int = 400):
    from modeling_neuronarrator.training.tokenizer import train_narrative_tokenizer

    return train_narrative_tokenizer(NARRATIVES * 20, vocab_size=vocab_size)


def tiny_config(**kwargs):
    from modeling_neuronarrator import NeuroNarratorConfig

    return NeuroNarratorConfig.tiny(tokenizer=narrative_tokenizer(), **kwargs)


def tiny_processor(config=None):
    from modeling_neuronarrator import (
        NeuroNarratorFeatureExtractor,
        NeuroNarratorProcessor,
    )

    config = config or tiny_config()
    return NeuroNarratorProcessor.from_config(config, NeuroNarratorFeatureExtractor(), narrative_tokenizer())


def tiny_model(config=None, seed: int = 0):
    from modeling_neuronarrator import NeuroNarratorForConditionalGeneration

    torch.manual_seed(seed)
    return NeuroNarratorForConditionalGeneration(config or tiny_config()).eval()


def segments(batch: int, seed: int = 0, k: int | None = None):
    """Random segments of the contract shapes: eeg (B, 19, 2000), channel_mask (B, 19), topomaps
    (B, 5, 32, 32); with ``k``, the (B, k, ...) history arrays too."""
    rng = np.random.default_rng(seed)
    out = {
        "eeg_values": rng.standard_normal((batch, 19, 2000)).astype(np.float32),
        "channel_mask": np.ones((batch, 19), dtype=bool),
        "topomaps": rng.standard_normal((batch, 5, 32, 32)).astype(np.float32),
    }
    if k:
        out["history_eeg_values"] = rng.standard_normal((batch, k, 19, 2000)).astype(np.float32)
        out["history_channel_mask"] = np.ones((batch, k, 19), dtype=bool)
        out["history_topomaps"] = rng.standard_normal((batch, k, 5, 32, 32)).astype(np.float32)
    return out
