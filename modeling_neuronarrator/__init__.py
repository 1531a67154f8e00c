"""NeuroNarrator: EEG-to-text in transformers' file conventions.

The front-end (reading, channel harmonization, filtering, segments, topomaps, findings) and the
model (grounded encoders, Mamba2 history reasoner, projector, causal LM) with their Auto-class
registration. These modules import only each other, transformers, torch, numpy, scipy and mne.
"""

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
from .topomap_neuronarrator import project_topomaps, topomap_matrix

__all__ = [
    "ARTIFACT_TYPES",
    "BANDS",
    "CHANGE_TYPES",
    "REGIONS",
    "STANDARD_CHANNELS",
    "TCP_PAIRS",
    "Asymmetry",
    "EEGInputError",
    "Findings",
    "NeuroNarratorFeatureExtractor",
    "Slowing",
    "canonical_channel_name",
    "compute_findings",
    "harmonize_channels",
    "project_topomaps",
    "read_recording",
    "tcp_bipolar",
    "topomap_matrix",
]

# ---- the model: configuration, processor, modeling and their Auto-class registration ----------
from transformers import (  # noqa: E402
    AutoConfig,
    AutoFeatureExtractor,
    AutoModel,
    AutoModelForCausalLM,
    AutoProcessor,
)

from .configuration_neuronarrator import (  # noqa: E402
    NeuroNarratorConfig,
    NeuroNarratorEEGConfig,
    NeuroNarratorTopomapConfig,
    get_placeholder_counts,
)
from .modeling_neuronarrator import (  # noqa: E402
    GroundingOutput,
    HistoryState,
    NeuroNarratorForConditionalGeneration,
    NeuroNarratorModel,
    NeuroNarratorPreTrainedModel,
    SegmentFeatures,
    contrastive_loss,
)
from .processing_neuronarrator import DEFAULT_INSTRUCTION, NeuroNarratorProcessor  # noqa: E402


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

# The embedded default model, trained on the offline corpus by
# ``python -m modeling_neuronarrator.training.default_recipe`` (a save_pretrained folder).
from pathlib import Path as _Path  # noqa: E402

DEFAULT_MODEL_PATH = _Path(__file__).resolve().parent / "default_model"

__all__ += [
    "DEFAULT_INSTRUCTION",
    "DEFAULT_MODEL_PATH",
    "GroundingOutput",
    "HistoryState",
    "NeuroNarratorConfig",
    "NeuroNarratorEEGConfig",
    "NeuroNarratorForConditionalGeneration",
    "NeuroNarratorModel",
    "NeuroNarratorPreTrainedModel",
    "NeuroNarratorProcessor",
    "NeuroNarratorTopomapConfig",
    "SegmentFeatures",
    "contrastive_loss",
    "get_placeholder_counts",
]
