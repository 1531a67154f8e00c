"""NeuroNarrator: EEG-to-text in transformers' file conventions.

The front-end (reading, channel harmonization, filtering, segments, topomaps, findings) and the
model (grounded encoders, Mamba2 history reasoner, projector, causal LM) with their Auto-class
registration. These modules import only each other, transformers, torch, numpy, scipy and mne.
"""

from pathlib import Path as _Path

from transformers import AutoConfig, AutoFeatureExtractor, AutoModel, AutoModelForCausalLM, AutoProcessor

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

# The embedded default model (a save_pretrained folder shipped inside the package), trained on the
# offline corpus by ``python -m modeling_neuronarrator.training.default_recipe``.
DEFAULT_MODEL_PATH = _Path(__file__).resolve().parent / "default_model"

__all__ = [
    "ARTIFACT_TYPES",
    "BANDS",
    "CHANGE_TYPES",
    "DEFAULT_INSTRUCTION",
    "DEFAULT_MODEL_PATH",
    "REGIONS",
    "STANDARD_CHANNELS",
    "TCP_PAIRS",
    "Asymmetry",
    "EEGInputError",
    "Findings",
    "GroundingOutput",
    "HistoryState",
    "NeuroNarratorConfig",
    "NeuroNarratorEEGConfig",
    "NeuroNarratorFeatureExtractor",
    "NeuroNarratorForConditionalGeneration",
    "NeuroNarratorModel",
    "NeuroNarratorPreTrainedModel",
    "NeuroNarratorProcessor",
    "NeuroNarratorTopomapConfig",
    "SegmentFeatures",
    "Slowing",
    "canonical_channel_name",
    "compute_findings",
    "contrastive_loss",
    "get_placeholder_counts",
    "harmonize_channels",
    "project_topomaps",
    "read_recording",
    "tcp_bipolar",
    "topomap_matrix",
]


def _register_auto_classes() -> None:
    """Local use without remote code (Auto*.register) and Hub export (register_for_auto_class:
    save_pretrained then copies the code files and writes ``auto_map``)."""
    AutoConfig.register(NeuroNarratorConfig.model_type, NeuroNarratorConfig, exist_ok=True)
    AutoModel.register(NeuroNarratorConfig, NeuroNarratorModel, exist_ok=True)
    AutoModelForCausalLM.register(NeuroNarratorConfig, NeuroNarratorForConditionalGeneration, exist_ok=True)
    AutoFeatureExtractor.register(NeuroNarratorConfig, NeuroNarratorFeatureExtractor, exist_ok=True)
    AutoProcessor.register(NeuroNarratorConfig, NeuroNarratorProcessor, exist_ok=True)
    NeuroNarratorConfig.register_for_auto_class("AutoConfig")
    NeuroNarratorModel.register_for_auto_class("AutoModel")
    NeuroNarratorForConditionalGeneration.register_for_auto_class("AutoModelForCausalLM")
    NeuroNarratorFeatureExtractor.register_for_auto_class("AutoFeatureExtractor")
    NeuroNarratorProcessor.register_for_auto_class("AutoProcessor")


_register_auto_classes()
