"""NeuroNarrator: EEG-to-text in transformers' file conventions.

The front-end (reading, channel harmonization, filtering, segments, topomaps, findings) and the
model (EEG and topomap encoders, Mamba2 history reasoner, projector, causal LM) with their Auto-class
registration. These modules import only each other, transformers, torch, numpy, scipy and mne.

The package is lazy, the way ``transformers`` itself is: importing it (or one light submodule such
as ``findings_neuronarrator``, which the corpus builder needs) runs no transformers or torch code.
Each public name is imported from its module on first access, and the Auto classes learn the
``neuronarrator`` model type by name, through the same lazy tables transformers uses for its own
models (see ``_auto_registration``), so ``AutoModelForCausalLM.from_pretrained`` imports the
modelling file only when it loads a NeuroNarrator checkpoint.
"""

from __future__ import annotations

import importlib
from pathlib import Path as _Path
from typing import TYPE_CHECKING, Any

from ._auto_registration import register_auto_classes

# The embedded default model (a save_pretrained folder shipped inside the package), trained on the
# offline corpus by ``python -m modeling_neuronarrator.training.default_recipe``.
DEFAULT_MODEL_PATH = _Path(__file__).resolve().parent / "default_model"

# public name -> submodule that defines it
_LAZY: dict[str, str] = {
    **dict.fromkeys(
        ("NeuroNarratorConfig", "NeuroNarratorEEGConfig", "NeuroNarratorTopomapConfig", "get_placeholder_counts"),
        ".configuration_neuronarrator",
    ),
    **dict.fromkeys(
        (
            "STANDARD_CHANNELS",
            "TCP_PAIRS",
            "EEGInputError",
            "canonical_channel_name",
            "harmonize_channels",
            "read_recording",
            "tcp_bipolar",
        ),
        ".eeg_io_neuronarrator",
    ),
    "NeuroNarratorFeatureExtractor": ".feature_extraction_neuronarrator",
    **dict.fromkeys(
        ("ARTIFACT_TYPES", "BANDS", "CHANGE_TYPES", "REGIONS", "Asymmetry", "Findings", "Slowing", "compute_findings"),
        ".findings_neuronarrator",
    ),
    **dict.fromkeys(
        (
            "GroundingOutput",
            "HistoryState",
            "NeuroNarratorForConditionalGeneration",
            "NeuroNarratorModel",
            "NeuroNarratorPreTrainedModel",
            "SegmentFeatures",
            "contrastive_loss",
        ),
        ".modeling_neuronarrator",
    ),
    **dict.fromkeys(("DEFAULT_INSTRUCTION", "NeuroNarratorProcessor"), ".processing_neuronarrator"),
    **dict.fromkeys(("project_topomaps", "topomap_matrix"), ".topomap_neuronarrator"),
}

__all__ = ["DEFAULT_MODEL_PATH", "register_auto_classes", *sorted(_LAZY)]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value  # later look-ups skip this hook
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # static analysers and IDEs see the real names
    from .configuration_neuronarrator import (
        NeuroNarratorConfig,
        NeuroNarratorEEGConfig,
        NeuroNarratorTopomapConfig,
        get_placeholder_counts,
    )
    from .eeg_io_neuronarrator import (
        STANDARD_CHANNELS,
        TCP_PAIRS,
        EEGInputError,
        canonical_channel_name,
        harmonize_channels,
        read_recording,
        tcp_bipolar,
    )
    from .feature_extraction_neuronarrator import NeuroNarratorFeatureExtractor
    from .findings_neuronarrator import (
        ARTIFACT_TYPES,
        BANDS,
        CHANGE_TYPES,
        REGIONS,
        Asymmetry,
        Findings,
        Slowing,
        compute_findings,
    )
    from .modeling_neuronarrator import (
        GroundingOutput,
        HistoryState,
        NeuroNarratorForConditionalGeneration,
        NeuroNarratorModel,
        NeuroNarratorPreTrainedModel,
        SegmentFeatures,
        contrastive_loss,
    )
    from .processing_neuronarrator import DEFAULT_INSTRUCTION, NeuroNarratorProcessor
    from .topomap_neuronarrator import project_topomaps, topomap_matrix

register_auto_classes()
