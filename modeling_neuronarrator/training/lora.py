"""LoRA on NeuroNarrator's language model (peft), kept outside the model files so that the saved
model needs no peft: adapters are merged into the backbone before ``save_pretrained``.

    >>> apply_lora(model, r=8)          # backbone frozen, adapters and the rest of the model train
    >>> ...train...
    >>> merge_lora(model); model.save_pretrained(out)
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from torch import nn

logger = logging.getLogger(__name__)

__all__ = ["DEFAULT_TARGET_MODULES", "apply_lora", "merge_lora"]

# The attention and MLP projections of Llama-style decoders (the embedded default and SmolLM2).
DEFAULT_TARGET_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def apply_lora(
    model: nn.Module,
    r: int = 8,
    alpha: int = 16,
    dropout: float = 0.05,
    target_modules: Sequence[str] = DEFAULT_TARGET_MODULES,
) -> nn.Module:
    """Inject LoRA adapters into ``model.model.language_model`` in place and freeze its own weights.

    The encoders, reasoner and projectors keep training. Returns ``model``.
    """
    from peft import LoraConfig, inject_adapter_in_model

    language_model = model.model.language_model
    names = {name.rsplit(".", 1)[-1] for name, _ in language_model.named_modules()}
    missing = [t for t in target_modules if t not in names]
    if len(missing) == len(target_modules):
        raise ValueError(
            f"apply_lora: none of the target modules {list(target_modules)} exist in the language model "
            f"({type(language_model).__name__}); pass target_modules= with its projection names."
        )
    config = LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=[t for t in target_modules if t in names])
    inject_adapter_in_model(config, language_model)
    for name, parameter in language_model.named_parameters():
        parameter.requires_grad = "lora_" in name
    model.get_output_embeddings().requires_grad_(False)
    trainable = sum(p.numel() for n, p in language_model.named_parameters() if "lora_" in n)
    logger.info("LoRA r=%d on %s: %d adapter parameters", r, config.target_modules, trainable)
    return model


def merge_lora(model: nn.Module) -> nn.Module:
    """Fold the adapters into the backbone weights and remove them (the model saves as a plain one)."""
    from peft.tuners.lora import LoraLayer

    language_model = model.model.language_model
    replaced = 0
    for name, module in list(language_model.named_modules()):
        if isinstance(module, LoraLayer):
            module.merge()
            parent_name, _, child = name.rpartition(".")
            parent = language_model.get_submodule(parent_name) if parent_name else language_model
            setattr(parent, child, module.get_base_layer())
            replaced += 1
    if replaced == 0:
        raise ValueError("merge_lora: the language model has no LoRA adapters; call apply_lora first.")
    logger.info("merged %d LoRA adapters into the language model", replaced)
    return model
