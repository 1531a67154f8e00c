"""NeuroNarrator: EEG and topomap encoders (InfoNCE grounding), a Mamba2 history reasoner, projectors and a
causal language model, in transformers' LLaVA / Qwen2-Audio pattern.

The processor expands ``<hist>``, ``<eeg>`` and ``<topo>`` placeholders to the counts of
:func:`get_placeholder_counts`; the model only fills them: the projected tokens replace the
placeholders' embeddings through :meth:`NeuroNarratorModel.get_placeholder_mask` and
``masked_scatter``. Everything here runs on a CPU; Mamba2 uses the mamba-ssm kernels when installed.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from transformers import (
    AutoModel,
    AutoModelForCausalLM,
    GenerationMixin,
    Mamba2Model,
    PreTrainedModel,
)
from transformers import initialization as init
from transformers.activations import ACT2FN
from transformers.modeling_outputs import (
    BaseModelOutputWithPast,
    CausalLMOutputWithPast,
)

from .configuration_neuronarrator import NeuroNarratorConfig, get_placeholder_counts
from .encoders_neuronarrator import (
    NUM_RHYTHM_FEATURES,
    NUM_RHYTHM_READ_OUT,
    NeuroNarratorEEGEncoder,
    NeuroNarratorTopomapEncoder,
    _QueryResampler,
    build_topomap_encoder,
    rhythm_features,
    rhythm_read_out,
)
from .findings_neuronarrator import MIRROR_PERMUTATION, with_learned_labels
from .model_card import build_model_card

logger = logging.getLogger(__name__)

__all__ = [
    "GroundingOutput",
    "HistoryState",
    "NeuroNarratorForConditionalGeneration",
    "NeuroNarratorModel",
    "NeuroNarratorPreTrainedModel",
    "SegmentFeatures",
    "contrastive_loss",
    "history_windows",
]

# The inputs that describe the segment; generate() passes them on the first (prefill) step only.
SEGMENT_INPUT_NAMES = (
    "eeg_values",
    "channel_mask",
    "topomaps",
    "history_eeg_values",
    "history_channel_mask",
    "history_topomaps",
    "history_mask",
    "history_state",
    "segment_features",
)


# ---------------------------------------------------------------------------------------- outputs
@dataclass
class SegmentFeatures:
    """Encoder outputs for a batch of segments, before projection into the language model.

    ``eeg_tokens`` (B, n_eeg, eeg_hidden), ``eeg_pooled`` (B, eeg_hidden), ``topomap_tokens``
    (B, n_topo, topo_hidden), ``topomap_pooled`` (B, topo_hidden); ``rhythm`` (B, n_rhythm) the
    measured rhythm descriptors when ``eeg_config.rhythm_features`` (else None).
    """

    eeg_tokens: torch.Tensor
    eeg_pooled: torch.Tensor
    topomap_tokens: torch.Tensor
    topomap_pooled: torch.Tensor
    rhythm: torch.Tensor | None = None

    def select(self, rows: Any) -> SegmentFeatures:
        """The features of ``rows`` (an index, slice or list) of the batch."""
        return SegmentFeatures(
            *(None if value is None else value[rows] for value in (
                self.eeg_tokens, self.eeg_pooled, self.topomap_tokens, self.topomap_pooled, self.rhythm
            ))
        )

    @classmethod
    def average(cls, parts: list[SegmentFeatures]) -> SegmentFeatures:
        """The mean of several encodings of the same segments (``rhythm`` kept only when every one has it)."""
        values = [
            (part.eeg_tokens, part.eeg_pooled, part.topomap_tokens, part.topomap_pooled, part.rhythm) for part in parts
        ]
        return cls(*(None if any(v is None for v in column) else torch.stack(column).mean(0) for column in zip(*values)))

    @classmethod
    def concatenate(cls, parts: list[SegmentFeatures]) -> SegmentFeatures:
        """One batch from consecutive chunks (``rhythm`` kept only when every chunk has it)."""
        rhythm = [part.rhythm for part in parts]
        return cls(
            torch.cat([part.eeg_tokens for part in parts]),
            torch.cat([part.eeg_pooled for part in parts]),
            torch.cat([part.topomap_tokens for part in parts]),
            torch.cat([part.topomap_pooled for part in parts]),
            None if any(r is None for r in rhythm) else torch.cat(rhythm),
        )


def history_windows(n_segments: int, history_length: int, n_before: int = 0) -> torch.Tensor:
    """Index windows of consecutive segments of one recording for :meth:`get_history_states`.

    The rows are ``n_before`` already-encoded preceding segments followed by the ``n_segments`` to
    narrate; window ``i`` holds rows ``i+n_before-K .. i+n_before`` (-1 before the recording
    starts), so each segment is read with its (up to) K preceding segments and itself last.

    Returns:
        `(n_segments, K+1)` long.
    """
    own = torch.arange(n_segments)[:, None] + n_before
    window = own - history_length + torch.arange(history_length + 1)[None, :]
    return torch.where(window >= 0, window, torch.full_like(window, -1))


@dataclass
class GroundingOutput:
    """Symmetric InfoNCE between pooled EEG and topomap embeddings.

    ``loss`` scalar; ``logits`` (B, B) scaled cosine similarities (row: EEG, column: topomap);
    ``accuracy`` mean top-1 retrieval accuracy over both directions; ``logit_scale`` the clamped
    inverse temperature used. With a findings head and targets, ``loss`` is the InfoNCE term
    (``contrastive_loss``) plus ``findings_loss_weight`` x ``findings_loss`` (binary cross-entropy of
    ``findings_logits`` (B, n_targets) against the segments' yes/no findings).
    """

    loss: torch.Tensor
    logits: torch.Tensor
    accuracy: torch.Tensor
    logit_scale: torch.Tensor
    contrastive_loss: torch.Tensor | None = None
    findings_loss: torch.Tensor | None = None
    findings_logits: torch.Tensor | None = None


@dataclass
class HistoryState:
    """Recurrent state of the history reasoner over one batch of recordings.

    Carry it from one call of :meth:`NeuroNarratorModel.advance_history` to the next: each new
    segment costs one Mamba2 step whatever the number of segments already seen.
    ``cache`` is the Mamba2 cache (convolution and SSM states per layer), ``num_segments`` the
    number of segments folded in so far.
    """

    cache: Any = None
    num_segments: int = 0


@dataclass
class NeuroNarratorModelOutputWithPast(BaseModelOutputWithPast):
    r"""
    eeg_pooled (`torch.FloatTensor` of shape `(batch_size, eeg_hidden)`, *optional*):
        Pooled EEG embedding of the current segments (when segment inputs were given).
    topomap_pooled (`torch.FloatTensor` of shape `(batch_size, topomap_hidden)`, *optional*):
        Pooled topomap embedding of the current segments.
    history_state (`torch.FloatTensor` of shape `(batch_size, history_hidden)`, *optional*):
        The history reasoner's output at the current segment.
    """

    eeg_pooled: torch.FloatTensor | None = None
    topomap_pooled: torch.FloatTensor | None = None
    history_state: torch.FloatTensor | None = None


@dataclass
class NeuroNarratorCausalLMOutputWithPast(CausalLMOutputWithPast):
    r"""
    eeg_pooled (`torch.FloatTensor` of shape `(batch_size, eeg_hidden)`, *optional*):
        Pooled EEG embedding of the current segments (feed it to `get_grounding_loss` for stage 1).
    topomap_pooled (`torch.FloatTensor` of shape `(batch_size, topomap_hidden)`, *optional*):
        Pooled topomap embedding of the current segments.
    history_state (`torch.FloatTensor` of shape `(batch_size, history_hidden)`, *optional*):
        The history reasoner's output at the current segment.
    """

    eeg_pooled: torch.FloatTensor | None = None
    topomap_pooled: torch.FloatTensor | None = None
    history_state: torch.FloatTensor | None = None


# ---------------------------------------------------------------------------------------- parts
def contrastive_loss(
    eeg_embeds: torch.Tensor, topomap_embeds: torch.Tensor, logit_scale: torch.Tensor, logit_scale_max: float = 100.0
) -> GroundingOutput:
    """Symmetric InfoNCE (CLIP) between paired embeddings.

    Args:
        eeg_embeds: `(batch, dim)`; row i is paired with ``topomap_embeds`` row i.
        topomap_embeds: `(batch, dim)`.
        logit_scale: scalar log inverse temperature (learnable); ``exp`` is clamped at
            ``logit_scale_max`` as in CLIP, so the temperature never drops below 1/100.
    """
    if eeg_embeds.shape != topomap_embeds.shape or eeg_embeds.ndim != 2:
        raise ValueError(
            f"contrastive_loss needs two (batch, dim) tensors of the same shape, got {tuple(eeg_embeds.shape)} "
            f"and {tuple(topomap_embeds.shape)}."
        )
    if eeg_embeds.shape[0] < 2:
        raise ValueError("contrastive_loss needs a batch of at least 2 segments (the other rows are the negatives).")
    scale = logit_scale.exp().clamp(max=logit_scale_max)
    logits = scale * F.normalize(eeg_embeds, dim=-1) @ F.normalize(topomap_embeds, dim=-1).T  # (B, B)
    target = torch.arange(logits.shape[0], device=logits.device)
    loss = (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2
    with torch.no_grad():
        accuracy = ((logits.argmax(1) == target).float().mean() + (logits.argmax(0) == target).float().mean()) / 2
    return GroundingOutput(loss=loss, logits=logits, accuracy=accuracy, logit_scale=scale.detach())


class NeuroNarratorProjector(nn.Module):
    """Two-layer MLP from an encoder width into the language model's hidden size."""

    def __init__(self, in_features: int, out_features: int, act: str):
        super().__init__()
        self.linear_1 = nn.Linear(in_features, out_features)
        self.act = ACT2FN[act]
        self.linear_2 = nn.Linear(out_features, out_features)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.linear_2(self.act(self.linear_1(features)))


class NeuroNarratorHistoryReasoner(nn.Module):
    """Mamba2 over one pooled vector per segment (oldest first, the current segment last).

    Its output at the current segment is expanded into ``num_history_tokens`` tokens. The same
    weights run a whole sequence at once (training, K preceding segments) or one segment at a
    time with a carried cache (inference over a recording): both give the same result.
    """

    def __init__(self, config: NeuroNarratorConfig):
        super().__init__()
        hidden = config.history_config.hidden_size
        self.num_history_tokens = config.num_history_tokens
        self.input_proj = nn.Linear(config.eeg_config.hidden_size + config.topomap_config.hidden_size, hidden)
        self.mamba = Mamba2Model(config.history_config)
        self.to_tokens = nn.Linear(hidden, config.num_history_tokens * hidden)

    def embed_segments(self, eeg_pooled: torch.Tensor, topomap_pooled: torch.Tensor) -> torch.Tensor:
        """(..., eeg_hidden), (..., topo_hidden) -> (..., history_hidden)."""
        return self.input_proj(torch.cat([eeg_pooled, topomap_pooled], dim=-1))

    def forward(
        self, segment_embeds: torch.Tensor, attention_mask: torch.Tensor | None = None, cache: Any = None, use_cache: bool = False
    ) -> tuple[torch.Tensor, Any]:
        """``segment_embeds`` (B, L, H) -> outputs (B, L, H) and the cache (when ``use_cache``)."""
        outputs = self.mamba(
            inputs_embeds=segment_embeds, attention_mask=attention_mask, cache=cache, use_cache=use_cache, return_dict=True
        )
        # Mamba2 keeps its residual stream in float32 (residual_in_fp32); hand back the model's dtype.
        return outputs.last_hidden_state.to(segment_embeds.dtype), outputs.cache

    def to_history_tokens(self, state: torch.Tensor) -> torch.Tensor:
        """(B, H) -> (B, num_history_tokens, H)."""
        state = state.to(self.to_tokens.weight.dtype)
        return self.to_tokens(state).view(state.shape[0], self.num_history_tokens, -1)


# ---------------------------------------------------------------------------------------- models
class NeuroNarratorPreTrainedModel(PreTrainedModel):
    config: NeuroNarratorConfig
    config_class = NeuroNarratorConfig
    base_model_prefix = "model"
    main_input_name = "input_ids"
    input_modalities = ("text",)
    supports_gradient_checkpointing = True
    _no_split_modules = ["_EncoderBlock", "Mamba2Block"]
    _skip_keys_device_placement = "cache"
    _supports_sdpa = True
    _supports_flash_attn = True
    _supports_flex_attn = True
    _supports_attention_backend = True

    def save_pretrained(self, save_directory, *args, model_card: dict | None = None, **kwargs):
        """``PreTrainedModel.save_pretrained`` (safetensors only) plus a README.md model card.

        ``model_card``: keyword arguments of :func:`build_model_card` (datasets, metrics, ...); an
        existing README.md is kept unless ``model_card`` is given.
        """
        if kwargs.get("safe_serialization") is False:
            raise ValueError("NeuroNarrator saves weights as safetensors only; drop safe_serialization=False.")
        if self._auto_class is not None:
            # Both entry points load the same folder: AutoModel gives the base model, AutoModelForCausalLM
            # the one that generates.
            auto_map = dict(getattr(self.config, "auto_map", None) or {})
            auto_map.update(
                {
                    "AutoConfig": "configuration_neuronarrator.NeuroNarratorConfig",
                    "AutoModel": "modeling_neuronarrator.NeuroNarratorModel",
                    "AutoModelForCausalLM": "modeling_neuronarrator.NeuroNarratorForConditionalGeneration",
                }
            )
            self.config.auto_map = auto_map
        super().save_pretrained(save_directory, *args, **kwargs)
        readme = os.path.join(save_directory, "README.md")
        if model_card is not None or not os.path.exists(readme):
            card = build_model_card(self.config, num_parameters=self.num_parameters(), **(model_card or {}))
            with open(readme, "w", encoding="utf-8") as handle:
                handle.write(card)

    @torch.no_grad()
    def _init_weights(self, module):
        super()._init_weights(module)
        std = 0.02
        if isinstance(module, nn.Conv2d):
            # He init: with N(0, 0.02) the three-layer topomap CNN shrinks its input ~100x and the
            # pooled vectors of different segments start out indistinguishable.
            init.kaiming_normal_(module.weight, nonlinearity="relu")
            if module.bias is not None:
                init.zeros_(module.bias)
        elif isinstance(module, NeuroNarratorEEGEncoder):
            init.normal_(module.channel_embed, std=std)
            init.normal_(module.time_embed, std=std)
            if module.channel_spectrum_embed is not None:
                init.normal_(module.channel_spectrum_position, std=std)
        elif isinstance(module, NeuroNarratorTopomapEncoder):
            init.normal_(module.position_embed, std=std)
        elif isinstance(module, _QueryResampler):
            init.normal_(module.queries, std=std)
        elif isinstance(module, NeuroNarratorModel):
            init.constant_(module.logit_scale, math.log(1.0 / self.config.grounding_temperature_init))
            for layer in module.rhythm_head or ():
                if isinstance(layer, nn.Linear):
                    # He init: its inputs are O(1) descriptors, not normalized hidden states; with
                    # N(0, 0.02) the three layers start near zero and learn the PDR far slower.
                    init.kaiming_normal_(layer.weight, nonlinearity="relu")
                    init.zeros_(layer.bias)


class NeuroNarratorModel(NeuroNarratorPreTrainedModel):
    """Encoders, grounding, history reasoner and projectors around a decoder (no LM head).

    Segment inputs (see :meth:`forward`) follow the signal contract: ``eeg_values`` (B, 19, 2000)
    in µV/100 at 200 Hz, ``channel_mask`` (B, 19) bool (True = recorded), ``topomaps`` (B, 5, H, W).
    """

    def __init__(self, config: NeuroNarratorConfig):
        super().__init__(config)
        text_hidden = config.text_config.hidden_size
        self.eeg_encoder = NeuroNarratorEEGEncoder(config.eeg_config)
        self.topomap_encoder = build_topomap_encoder(config)
        self.eeg_grounding_proj = nn.Linear(config.eeg_config.hidden_size, config.grounding_dim, bias=False)
        self.topomap_grounding_proj = nn.Linear(config.topomap_config.hidden_size, config.grounding_dim, bias=False)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1.0 / config.grounding_temperature_init)))
        self.history_reasoner = NeuroNarratorHistoryReasoner(config)
        act = config.projector_hidden_act
        self.eeg_projector = NeuroNarratorProjector(config.eeg_config.hidden_size, text_hidden, act)
        self.topomap_projector = NeuroNarratorProjector(config.topomap_config.hidden_size, text_hidden, act)
        self.history_projector = NeuroNarratorProjector(config.history_config.hidden_size, text_hidden, act)
        self.findings_head = None
        if config.finding_targets:
            # Reads the EEG tokens the language model gets (not only the pooled mean, which dilutes
            # one channel's flat line or pop) and the pooled topomap.
            width = config.eeg_config.num_output_tokens * config.eeg_config.hidden_size + config.topomap_config.hidden_size
            self.findings_head = nn.Linear(width, len(config.finding_targets))
        self.rhythm_head = None
        # The measured rhythm descriptors vote on the rhythm findings (PDR, bands, slowing,
        # asymmetry) beside the tokens, through their own MLP: inside one head the tokens, which
        # fit the training subjects' spectra, drown them out (held-out PDR balanced accuracy 0.73
        # with one MLP over both, 0.86 with the two votes added). Artifacts are transient and
        # channel-local, read from the tokens alone: a vote from band shares made a new subject's
        # fast background read as muscle (13 false alarms in 138 real held-out segments).
        rhythm_targets = [i for i, t in enumerate(config.finding_targets or []) if not t.startswith("artifact:")]
        self.rhythm_targets = rhythm_targets  # a plain list: loading from a checkpoint leaves buffers uninitialized
        if rhythm_targets and config.eeg_config.rhythm_features:
            hidden = config.rhythm_head_hidden_size
            self.rhythm_head = nn.Sequential(
                nn.Linear(NUM_RHYTHM_FEATURES, hidden), nn.GELU(), nn.Linear(hidden, hidden), nn.GELU(),
                nn.Linear(hidden, len(rhythm_targets)),
            )
        self.findings_projector = None
        if config.condition_on_findings:
            # The read-out the language model gets: the head's probabilities and, when measured,
            # the rhythm descriptors (a PDR's frequency is a number, not a yes/no).
            width = len(config.finding_targets) + (NUM_RHYTHM_READ_OUT if config.eeg_config.rhythm_features else 0)
            self.findings_projector = NeuroNarratorProjector(width, text_hidden, act)
        self.language_model = AutoModel.from_config(config.text_config)
        self.post_init()
        if config.freeze_text_model:
            self.language_model.requires_grad_(False)

    def get_input_embeddings(self):
        return self.language_model.get_input_embeddings()

    def set_input_embeddings(self, value):
        self.language_model.set_input_embeddings(value)

    # ------------------------------------------------------------------ encoders and grounding
    def get_segment_features(
        self,
        eeg_values: torch.Tensor,
        channel_mask: torch.Tensor | None,
        topomaps: torch.Tensor,
        measure_rhythm: bool = True,
    ) -> SegmentFeatures:
        """Encode a batch of segments.

        Args:
            eeg_values: `(batch, 19, 2000)` in µV/100 at 200 Hz (float16 or float32).
            channel_mask: `(batch, 19)` bool, True = recorded; None = all recorded.
            topomaps: `(batch, 5, H, W)` band-power maps.
            measure_rhythm: with ``eeg_config.rhythm_features``, also measure the rhythm descriptors
                (False for history segments, whose pooled vectors alone the reasoner reads).

        With ``config.side_invariant_segments`` the features are the mean of the segment's and its
        left-right mirror's, so that every token built from them is the same for either side.
        """
        if topomaps is None:
            raise ValueError("topomaps are required with eeg_values (the feature extractor returns both).")
        if topomaps.shape[0] != eeg_values.shape[0]:
            raise ValueError(
                f"eeg_values hold {eeg_values.shape[0]} segments but topomaps hold {topomaps.shape[0]}; pass one topomap "
                "stack per segment."
            )
        features = self._encode(eeg_values, channel_mask, topomaps, measure_rhythm)
        if not self.config.side_invariant_segments:
            return features
        # Homologous channels swapped; the topomap grid is left-right symmetric (column 0 = left),
        # so the mirrored segment's maps are the flipped maps.
        order = list(MIRROR_PERMUTATION)
        mirrored = self._encode(
            eeg_values[:, order], None if channel_mask is None else channel_mask[:, order], topomaps.flip(-1), measure_rhythm
        )
        return SegmentFeatures.average([features, mirrored])

    def _encode(self, eeg_values, channel_mask, topomaps, measure_rhythm: bool) -> SegmentFeatures:
        eeg_tokens, eeg_pooled = self.eeg_encoder(eeg_values, channel_mask)
        topomap_tokens, topomap_pooled = self.topomap_encoder(topomaps)
        rhythm = None
        if measure_rhythm and self.config.eeg_config.rhythm_features:
            rhythm = rhythm_features(eeg_values, channel_mask, estimator=self.config.eeg_config.rhythm_estimator).to(eeg_tokens.dtype)
        return SegmentFeatures(eeg_tokens, eeg_pooled, topomap_tokens, topomap_pooled, rhythm)

    def get_grounding_loss(
        self,
        eeg_values: torch.Tensor | None = None,
        channel_mask: torch.Tensor | None = None,
        topomaps: torch.Tensor | None = None,
        features: SegmentFeatures | None = None,
        finding_targets: torch.Tensor | None = None,
    ) -> GroundingOutput:
        """Stage-1 objective: symmetric InfoNCE between the pooled EEG and topomap embeddings of
        the segments of a batch (each segment's own topomaps are its positive pair), plus the
        findings head's binary cross-entropy when ``finding_targets`` `(batch, n_targets)` (0/1, in
        the order of ``config.finding_targets``) are given."""
        if features is None:
            if eeg_values is None:
                raise ValueError("get_grounding_loss needs eeg_values and topomaps, or precomputed features.")
            features = self.get_segment_features(eeg_values, channel_mask, topomaps)
        output = contrastive_loss(
            self.eeg_grounding_proj(features.eeg_pooled),
            self.topomap_grounding_proj(features.topomap_pooled),
            self.logit_scale,
            self.config.logit_scale_max,
        )
        output.contrastive_loss = output.loss
        if finding_targets is not None:
            logits = self.get_findings_logits(features)
            if tuple(finding_targets.shape) != tuple(logits.shape):
                raise ValueError(
                    f"finding_targets must have shape {tuple(logits.shape)} (batch, len(config.finding_targets)), got "
                    f"{tuple(finding_targets.shape)}."
                )
            output.findings_logits = logits
            pos_weight = self.config.findings_pos_weight
            if pos_weight is not None:
                pos_weight = torch.tensor(pos_weight, dtype=torch.float32, device=logits.device)
            output.findings_loss = F.binary_cross_entropy_with_logits(
                logits.float(), finding_targets.float(), pos_weight=pos_weight
            )
            output.loss = output.loss + self.config.findings_loss_weight * output.findings_loss
        return output

    def get_findings_logits(self, features: SegmentFeatures) -> torch.Tensor:
        """Logits `(batch, len(config.finding_targets))` of the yes/no findings (sigmoid > 0.5 = present)."""
        if self.findings_head is None:
            raise ValueError(
                "this model has no findings head; set config.finding_targets (e.g. FINDING_TARGETS) when building it."
            )
        eeg = features.eeg_tokens.flatten(1)  # (B, n_eeg * eeg_hidden)
        logits = self.findings_head(torch.cat([eeg, features.topomap_pooled.to(eeg.dtype)], dim=-1))
        if self.rhythm_head is not None:
            if features.rhythm is None:
                raise ValueError("this model reads rhythm descriptors; build the features with get_segment_features.")
            vote = self.rhythm_head(features.rhythm.to(eeg.dtype)).to(logits.dtype)
            index = torch.tensor(self.rhythm_targets, dtype=torch.long, device=logits.device)
            logits = logits.index_add(1, index, vote)
        return logits

    # ------------------------------------------------------------------ history reasoner
    def get_history_state(
        self,
        features: SegmentFeatures,
        history_eeg_values: torch.Tensor | None = None,
        history_channel_mask: torch.Tensor | None = None,
        history_topomaps: torch.Tensor | None = None,
        history_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The reasoner's output at the current segment, after the K preceding ones.

        Args:
            features: the current segments' encodings, from :meth:`get_segment_features`.
            history_eeg_values: `(batch, K, 19, 2000)`, oldest first.
            history_channel_mask: `(batch, K, 19)` bool.
            history_topomaps: `(batch, K, 5, H, W)`.
            history_mask: `(batch, K)` bool, True = a real preceding segment. Recordings with fewer
                than K preceding segments are left-padded (False entries first): then the result
                equals running the shorter history alone.

        Returns:
            `(batch, history_hidden)`.
        """
        reasoner = self.history_reasoner
        current = reasoner.embed_segments(features.eeg_pooled, features.topomap_pooled)[:, None]  # (B, 1, H)
        if history_eeg_values is None or history_eeg_values.shape[1] == 0:
            hidden, _ = reasoner(current)
            return hidden[:, -1]
        batch, k = history_eeg_values.shape[:2]
        if history_topomaps is None or tuple(history_topomaps.shape[:2]) != (batch, k):
            raise ValueError(
                f"history_topomaps must have shape ({batch}, {k}, 5, H, W) to match history_eeg_values, got "
                f"{None if history_topomaps is None else tuple(history_topomaps.shape)}."
            )
        if history_mask is None:
            history_mask = torch.ones(batch, k, dtype=torch.bool, device=history_eeg_values.device)
        history_mask = history_mask.to(device=current.device, dtype=torch.bool)
        if tuple(history_mask.shape) != (batch, k):
            raise ValueError(f"history_mask must have shape ({batch}, {k}), got {tuple(history_mask.shape)}.")
        if (history_mask[:, 1:].int() < history_mask[:, :-1].int()).any():
            raise ValueError(
                "history_mask must be left-padded: missing preceding segments come first (False ... False True ... "
                "True), the newest preceding segment last."
            )
        flat_valid = history_mask.reshape(-1)  # (B*K,)
        embeds = current.new_zeros(batch * k, current.shape[-1])  # (B*K, H)
        if flat_valid.any():
            eeg = history_eeg_values.reshape(batch * k, *history_eeg_values.shape[2:])[flat_valid]
            chan = None
            if history_channel_mask is not None:
                chan = history_channel_mask.reshape(batch * k, -1)[flat_valid]
            topo = history_topomaps.reshape(batch * k, *history_topomaps.shape[2:])[flat_valid]
            past = self.get_segment_features(eeg, chan, topo, measure_rhythm=False)
            embeds = embeds.index_put((flat_valid.nonzero().flatten(),), reasoner.embed_segments(past.eeg_pooled, past.topomap_pooled))
        sequence = torch.cat([embeds.view(batch, k, -1), current], dim=1)  # (B, K+1, H)
        attention_mask = torch.cat([history_mask, history_mask.new_ones(batch, 1)], dim=1).long()  # (B, K+1)
        hidden, _ = reasoner(sequence, attention_mask=attention_mask)
        return hidden[:, -1]

    def get_history_states(
        self, eeg_pooled: torch.Tensor, topomap_pooled: torch.Tensor, windows: torch.Tensor
    ) -> torch.Tensor:
        """The reasoner's output for many segments from encodings computed once.

        Same result as :meth:`get_history_state` with the same segments, but the windows index
        pooled encodings (one row per segment, each encoded once) instead of re-encoding every
        segment for every window it falls in.

        Args:
            eeg_pooled: `(n, eeg_hidden)`, the pooled encodings of every segment the windows use.
            topomap_pooled: `(n, topo_hidden)`.
            windows: `(b, K+1)` long: rows of each window, oldest first, the narrated segment last;
                -1 = no segment (left padding), e.g. from :func:`history_windows`.

        Returns:
            `(b, history_hidden)`.
        """
        reasoner = self.history_reasoner
        embeds = reasoner.embed_segments(eeg_pooled, topomap_pooled)  # (n, H)
        windows = windows.to(embeds.device)
        valid = windows >= 0
        if not bool(valid[:, -1].all()):
            raise ValueError("every window must end with the narrated segment (the last column holds no -1).")
        sequence = embeds[windows.clamp(min=0)] * valid[..., None].to(embeds.dtype)  # (b, K+1, H), zeros = padding
        if windows.shape[1] == 1:
            hidden, _ = reasoner(sequence)
        else:
            hidden, _ = reasoner(sequence, attention_mask=valid.long())
        return hidden[:, -1]

    def encode_segments(
        self, eeg_values: torch.Tensor, channel_mask: torch.Tensor | None, topomaps: torch.Tensor, batch_size: int = 64
    ) -> SegmentFeatures:
        """:meth:`get_segment_features` over many segments, ``batch_size`` at a time (bounded memory)."""
        parts = [
            self.get_segment_features(
                eeg_values[lo : lo + batch_size],
                None if channel_mask is None else channel_mask[lo : lo + batch_size],
                topomaps[lo : lo + batch_size],
            )
            for lo in range(0, eeg_values.shape[0], batch_size)
        ]
        return SegmentFeatures.concatenate(parts)

    def advance_history(
        self, eeg_pooled: torch.Tensor, topomap_pooled: torch.Tensor, state: HistoryState | None = None
    ) -> tuple[torch.Tensor, HistoryState]:
        """Fold the next segments of a batch of recordings into the recurrent history state.

        Args:
            eeg_pooled: `(batch, n_new, eeg_hidden)` pooled EEG of the next ``n_new`` segments of
                each recording, in time order (``SegmentFeatures.eeg_pooled`` of consecutive segments).
            topomap_pooled: `(batch, n_new, topo_hidden)`.
            state: the state returned by the previous call (None: start of the recordings).

        Returns:
            ``history_states`` `(batch, n_new, history_hidden)`, the reasoner's output at each new
            segment (pass row t as ``history_state`` to narrate segment t), and the new state.
            Each segment costs the same whatever the number already folded in.
        """
        state = state if state is not None else HistoryState()
        embeds = self.history_reasoner.embed_segments(eeg_pooled, topomap_pooled)  # (B, n, H)
        hidden, cache = self.history_reasoner(embeds, cache=state.cache, use_cache=True)
        return hidden, HistoryState(cache=cache, num_segments=state.num_segments + embeds.shape[1])

    # ------------------------------------------------------------------ merge
    def get_placeholder_mask(
        self, input_ids: torch.LongTensor | None, inputs_embeds: torch.Tensor, token_id: int, features: torch.Tensor, kind: str
    ) -> torch.Tensor:
        """Boolean mask (B, L, 1) of the ``token_id`` placeholders; raises when their number differs
        from the number of feature vectors (``features`` of shape (B, n, hidden))."""
        if token_id is None:
            raise ValueError(
                f"config.{kind}_token_id is not set; build the config with the tokenizer "
                "(NeuroNarratorConfig.default(tokenizer=...)) so the placeholder ids are known."
            )
        if input_ids is None:
            placeholder = self.get_input_embeddings()(torch.tensor(token_id, device=inputs_embeds.device))
            mask = (inputs_embeds == placeholder).all(-1)
        else:
            mask = input_ids == token_id
        n_tokens = int(mask.sum())
        n_features = features.shape[0] * features.shape[1]
        expected = get_placeholder_counts(self.config)[kind]
        per_row = mask.sum(dim=1)
        if features.shape[1] == expected and n_tokens == n_features and bool((per_row != expected).any()):
            row = int((per_row != expected).nonzero()[0, 0])
            raise ValueError(
                f"{kind} placeholder tokens are unevenly spread: prompt row {row} holds {int(per_row[row])} {kind} "
                f"tokens but every segment needs {expected} (get_placeholder_counts); build the batch with "
                "NeuroNarratorProcessor."
            )
        if n_tokens != n_features:
            raise ValueError(
                f"{kind} placeholder tokens and {kind} features do not match: the prompt holds {n_tokens} "
                f"{kind} tokens but the segments give {n_features} feature vectors ({features.shape[0]} segments x "
                f"{features.shape[1]}); build inputs with NeuroNarratorProcessor, which expands each placeholder "
                f"to get_placeholder_counts(config)."
            )
        return mask[..., None].to(inputs_embeds.device)

    def _merge_segment_tokens(
        self, input_ids, inputs_embeds, features: SegmentFeatures, history_state: torch.Tensor
    ) -> torch.Tensor:
        eeg = self.eeg_projector(features.eeg_tokens)  # (B, n_eeg, text_hidden)
        if self.findings_projector is not None:
            read_out = torch.sigmoid(self.get_findings_logits(features))  # (B, n_targets)
            if features.rhythm is not None:
                read_out = torch.cat([read_out, rhythm_read_out(features.rhythm).to(read_out.dtype)], dim=-1)
            eeg = eeg + self.findings_projector(read_out.to(eeg.dtype))[:, None, :]
        tokens = {
            "history": self.history_projector(self.history_reasoner.to_history_tokens(history_state)),
            "eeg": eeg,
            "topomap": self.topomap_projector(features.topomap_tokens),
        }
        for kind, projected in tokens.items():
            projected = projected.to(inputs_embeds.device, inputs_embeds.dtype)
            mask = self.get_placeholder_mask(input_ids, inputs_embeds, getattr(self.config, f"{kind}_token_id"), projected, kind)
            inputs_embeds = inputs_embeds.masked_scatter(mask, projected)
        return inputs_embeds

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        cache: Any = None,
        inputs_embeds: torch.FloatTensor | None = None,
        eeg_values: torch.FloatTensor | None = None,
        channel_mask: torch.BoolTensor | None = None,
        topomaps: torch.FloatTensor | None = None,
        history_eeg_values: torch.FloatTensor | None = None,
        history_channel_mask: torch.BoolTensor | None = None,
        history_topomaps: torch.FloatTensor | None = None,
        history_mask: torch.BoolTensor | None = None,
        history_state: torch.FloatTensor | None = None,
        segment_features: SegmentFeatures | None = None,
        use_cache: bool | None = None,
        **kwargs,
    ) -> NeuroNarratorModelOutputWithPast:
        r"""
        Args:
            input_ids (`torch.LongTensor` of shape `(batch_size, sequence_length)`): prompt (and target)
                tokens with the placeholders expanded by the processor.
            attention_mask (`torch.Tensor` of shape `(batch_size, sequence_length)`): 1 = real token.
            eeg_values (`torch.FloatTensor` of shape `(batch_size, 19, 2000)`): current segment, µV/100, 200 Hz.
            channel_mask (`torch.BoolTensor` of shape `(batch_size, 19)`): True = recorded channel.
            topomaps (`torch.FloatTensor` of shape `(batch_size, 5, H, W)`): band-power maps.
            history_eeg_values (`torch.FloatTensor` of shape `(batch_size, K, 19, 2000)`): preceding segments, oldest first.
            history_channel_mask (`torch.BoolTensor` of shape `(batch_size, K, 19)`).
            history_topomaps (`torch.FloatTensor` of shape `(batch_size, K, 5, H, W)`).
            history_mask (`torch.BoolTensor` of shape `(batch_size, K)`): True = real preceding segment (left-padded).
            history_state (`torch.FloatTensor` of shape `(batch_size, history_hidden)`): the reasoner's
                output from :meth:`get_history_states` or :meth:`advance_history`; replaces the ``history_*`` inputs.
            segment_features ([`SegmentFeatures`]): the current segments already encoded (from
                :meth:`encode_segments`); replaces ``eeg_values``/``channel_mask``/``topomaps``, so a
                segment is encoded once however many steps read it. Needs ``history_state``.
        """
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("Pass exactly one of input_ids or inputs_embeds.")
        if inputs_embeds is None:
            inputs_embeds = self.get_input_embeddings()(input_ids)
        eeg_pooled = topomap_pooled = None
        # One-token decode steps never hold placeholders: the segment was merged at prefill.
        is_decode_step = inputs_embeds.shape[1] == 1 and cache is not None and cache.get_seq_length() > 0
        if (eeg_values is not None or segment_features is not None) and not is_decode_step:
            features = segment_features
            if features is None:
                features = self.get_segment_features(eeg_values, channel_mask, topomaps)
            elif history_state is None:
                raise ValueError("segment_features come with their history_state (get_history_states).")
            if history_state is None:
                history_state = self.get_history_state(
                    features, history_eeg_values, history_channel_mask, history_topomaps, history_mask
                )
            inputs_embeds = self._merge_segment_tokens(input_ids, inputs_embeds, features, history_state)
            eeg_pooled, topomap_pooled = features.eeg_pooled, features.topomap_pooled
        kwargs.pop("return_dict", None)  # always a ModelOutput here (generate() passes it too)
        outputs = self.language_model(
            attention_mask=attention_mask,
            position_ids=position_ids,
            cache=cache,
            inputs_embeds=inputs_embeds,
            use_cache=use_cache,
            return_dict=True,
            **kwargs,
        )
        return NeuroNarratorModelOutputWithPast(
            last_hidden_state=outputs.last_hidden_state,
            cache=outputs.cache,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
            eeg_pooled=eeg_pooled,
            topomap_pooled=topomap_pooled,
            history_state=history_state,
        )


class NeuroNarratorForConditionalGeneration(NeuroNarratorPreTrainedModel, GenerationMixin):
    """NeuroNarrator with the language-model head: narratives from segments with ``generate()``.

    Build a fresh model with :meth:`build` (loads a pretrained backbone when
    ``config.text_model_path`` is set); load a trained one with ``from_pretrained``.
    """

    _tied_weights_keys = {"lm_head.weight": "model.language_model.embed_tokens.weight"}

    def __init__(self, config: NeuroNarratorConfig):
        super().__init__(config)
        self.model = NeuroNarratorModel(config)
        self.lm_head = nn.Linear(config.text_config.hidden_size, config.text_config.vocab_size, bias=False)
        self._tied_weights_keys = {"lm_head.weight": f"model.language_model.{self._input_embedding_name()}.weight"}
        self.post_init()
        if config.freeze_text_model:
            self.lm_head.requires_grad_(False)

    def _input_embedding_name(self) -> str:
        embeddings = self.model.language_model.get_input_embeddings()
        for name, module in self.model.language_model.named_modules():
            if module is embeddings:
                return name
        raise ValueError("the text backbone's input embeddings are not among its modules")

    def get_output_embeddings(self) -> nn.Module:
        return self.lm_head

    def set_output_embeddings(self, new_embeddings):
        self.lm_head = new_embeddings

    def get_input_embeddings(self):
        return self.model.get_input_embeddings()

    def set_input_embeddings(self, value):
        self.model.set_input_embeddings(value)

    def get_grounding_loss(self, *args, **kwargs) -> GroundingOutput:
        """See :meth:`NeuroNarratorModel.get_grounding_loss`."""
        return self.model.get_grounding_loss(*args, **kwargs)

    def get_segment_features(self, *args, **kwargs) -> SegmentFeatures:
        """See :meth:`NeuroNarratorModel.get_segment_features`."""
        return self.model.get_segment_features(*args, **kwargs)

    def get_findings_logits(self, features: SegmentFeatures) -> torch.Tensor:
        """See :meth:`NeuroNarratorModel.get_findings_logits`."""
        return self.model.get_findings_logits(features)

    def advance_history(self, *args, **kwargs) -> tuple[torch.Tensor, HistoryState]:
        """See :meth:`NeuroNarratorModel.advance_history`."""
        return self.model.advance_history(*args, **kwargs)

    # ------------------------------------------------------------------ construction
    @classmethod
    def build(cls, config: NeuroNarratorConfig, **load_kwargs) -> NeuroNarratorForConditionalGeneration:
        """A fresh model; when ``config.text_model_path`` names a local causal-LM folder, its weights
        are loaded into the backbone (rows for the added placeholder tokens are appended)."""
        model = cls(config)
        path = config.text_model_path
        if not path:
            return model
        pretrained = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32, **load_kwargs)
        pretrained.resize_token_embeddings(config.text_config.vocab_size, mean_resizing=False)
        base = getattr(pretrained, pretrained.base_model_prefix)
        missing, unexpected = model.model.language_model.load_state_dict(base.state_dict(), strict=False)
        if missing or unexpected:
            raise ValueError(
                f"{path}: the pretrained backbone does not match text_config (missing {missing[:5]}, unexpected "
                f"{unexpected[:5]}); build the config with NeuroNarratorConfig.from_pretrained_text_model({path!r})."
            )
        if not config.tie_word_embeddings:
            model.lm_head.weight.data.copy_(pretrained.get_output_embeddings().weight.data)
        model.tie_weights()
        logger.info("loaded the text backbone from %s", path)
        return model

    # ------------------------------------------------------------------ forward and generation
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        cache: Any = None,
        inputs_embeds: torch.FloatTensor | None = None,
        eeg_values: torch.FloatTensor | None = None,
        channel_mask: torch.BoolTensor | None = None,
        topomaps: torch.FloatTensor | None = None,
        history_eeg_values: torch.FloatTensor | None = None,
        history_channel_mask: torch.BoolTensor | None = None,
        history_topomaps: torch.FloatTensor | None = None,
        history_mask: torch.BoolTensor | None = None,
        history_state: torch.FloatTensor | None = None,
        segment_features: SegmentFeatures | None = None,
        labels: torch.LongTensor | None = None,
        use_cache: bool | None = None,
        logits_to_keep: int | torch.Tensor = 0,
        **kwargs,
    ) -> NeuroNarratorCausalLMOutputWithPast:
        r"""
        Segment arguments as in [`NeuroNarratorModel.forward`].

        labels (`torch.LongTensor` of shape `(batch_size, sequence_length)`, *optional*):
            Target ids aligned with ``input_ids`` (shifted inside the loss); -100 on the prompt, the
            placeholders and the padding, so the loss covers the narrative tokens only.

        Example:

        ```python
        >>> inputs = processor(eeg_values=segment["eeg_values"], channel_mask=segment["channel_mask"],
        ...                    topomaps=segment["topomaps"], return_tensors="pt")
        >>> ids = model.generate(**inputs, max_new_tokens=120)
        >>> processor.batch_decode(ids[:, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
        ```
        """
        outputs = self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            cache=cache,
            inputs_embeds=inputs_embeds,
            eeg_values=eeg_values,
            channel_mask=channel_mask,
            topomaps=topomaps,
            history_eeg_values=history_eeg_values,
            history_channel_mask=history_channel_mask,
            history_topomaps=history_topomaps,
            history_mask=history_mask,
            history_state=history_state,
            segment_features=segment_features,
            use_cache=use_cache,
            **kwargs,
        )
        hidden_states = outputs.last_hidden_state
        slice_indices = slice(-logits_to_keep, None) if isinstance(logits_to_keep, int) else logits_to_keep
        logits = self.lm_head(hidden_states[:, slice_indices, :])
        loss = None
        if labels is not None:
            loss = self.loss_function(
                logits=logits, labels=labels, vocab_size=self.config.text_config.vocab_size, **kwargs
            )
        return NeuroNarratorCausalLMOutputWithPast(
            loss=loss,
            logits=logits,
            cache=outputs.cache,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
            eeg_pooled=outputs.eeg_pooled,
            topomap_pooled=outputs.topomap_pooled,
            history_state=outputs.history_state,
        )

    def prepare_inputs_for_generation(self, input_ids, *args, is_first_iteration: bool | None = False, **kwargs):
        model_inputs = super().prepare_inputs_for_generation(input_ids, *args, is_first_iteration=is_first_iteration, **kwargs)
        # The segment is merged into the prompt at prefill; later steps read it from the KV cache.
        if not is_first_iteration and kwargs.get("use_cache", True):
            for name in SEGMENT_INPUT_NAMES:
                model_inputs.pop(name, None)
        return model_inputs

    # ------------------------------------------------------------------ narratives
    @torch.no_grad()
    def generate_narratives(
        self,
        processor: Any,
        features: SegmentFeatures,
        windows: torch.Tensor,
        batch_size: int = 8,
        max_new_tokens: int = 160,
        findings: Sequence[Any] | None = None,
        findings_logits_processor: Callable[..., Any] | None = None,
        **generate_kwargs,
    ) -> list[str]:
        """One greedy narrative per history window: the one inference path of the project (the
        report, the evaluator, training's validation samples and :meth:`narrate_recording`).

        Args:
            processor: a [`NeuroNarratorProcessor`] (prompt and decoding).
            features: encodings of every segment the windows use, each encoded once
                (:meth:`NeuroNarratorModel.encode_segments`).
            windows: `(b, K+1)` long rows of ``features``: the K preceding segments of each narrated
                segment, oldest first, -1 where the recording had none, the segment itself last
                (:func:`history_windows` for consecutive segments).
            batch_size: segments per ``generate`` call.
            max_new_tokens: length limit of each narrative.
            findings: the narrated segments' measured ``Findings``, one per window; required by a
                findings-conditioned model (``config.findings_in_prompt``), which reads them in its prompt.
            findings_logits_processor: ``factory(batch_findings, do_sample=..., history_lengths=...)``
                -> a ``LogitsProcessorList`` built for each ``generate`` call from its rows' findings
                and the number of preceding segments each row was given (for findings without their
                measured change window; e.g. the report's measured grammar,
                ``report.measured_decoding.measured_grammar``); needs ``findings``.

        Returns:
            ``b`` narratives, in window order.
        """
        self.eval()
        device = self.device
        windows = torch.as_tensor(windows, dtype=torch.long)
        states = self.model.get_history_states(features.eeg_pooled, features.topomap_pooled, windows)
        current = features.select(windows[:, -1].to(features.eeg_pooled.device))
        generate_kwargs.setdefault("do_sample", False)
        if findings_logits_processor is not None and findings is None:
            raise ValueError("findings_logits_processor builds each batch's processors from its findings: pass findings=")
        texts: list[str] = []
        for lo in range(0, windows.shape[0], batch_size):
            rows = slice(lo, lo + batch_size)
            n = states[rows].shape[0]
            rows_findings = None if findings is None else list(findings[lo : lo + n])
            prompt = processor.prompt_inputs(n, return_tensors="pt", findings=rows_findings)
            batch_kwargs = dict(generate_kwargs)
            if findings_logits_processor is not None:
                # Label sentences only for the keys the model learned (what its prompt names).
                keys = getattr(processor, "label_keys", None)
                learned = rows_findings if keys is None else [None if f is None else with_learned_labels(f, keys) for f in rows_findings]
                batch_kwargs["logits_processor"] = findings_logits_processor(
                    learned, do_sample=generate_kwargs["do_sample"], history_lengths=(windows[rows, :-1] >= 0).sum(-1).tolist()
                )
            generated = self.generate(
                input_ids=prompt["input_ids"].to(device),
                attention_mask=prompt["attention_mask"].to(device),
                segment_features=current.select(rows),
                history_state=states[rows],
                max_new_tokens=max_new_tokens,
                **batch_kwargs,
            )
            texts.extend(processor.post_process_narratives(generated.cpu(), prompt["input_ids"].shape[1]))
        return texts

    @torch.no_grad()
    def narrate_next_segments(
        self,
        processor: Any,
        eeg_values: torch.Tensor,
        channel_mask: torch.Tensor | None,
        topomaps: torch.Tensor,
        previous: SegmentFeatures | None = None,
        findings: Sequence[Any] | None = None,
        batch_size: int = 8,
        max_new_tokens: int = 160,
        **generate_kwargs,
    ) -> tuple[list[str], SegmentFeatures | None]:
        """Narrate consecutive segments of one recording that follow ``previous``, each with its
        ``config.history_length`` preceding segments as history, every segment encoded once.

        Args:
            eeg_values, channel_mask, topomaps: the next segments, in time order.
            previous: the encodings of the (up to K) segments just before them, as the previous
                call returned them; None at the start of the recording.
            findings: the segments' measured ``Findings`` (a findings-conditioned model reads them).

        Returns:
            The narratives and the encodings of the last K segments, for the next call.
        """
        features, windows = self.encode_next_segments(eeg_values, channel_mask, topomaps, previous)
        texts = self.generate_narratives(
            processor, features, windows, batch_size=batch_size, max_new_tokens=max_new_tokens, findings=findings, **generate_kwargs
        )
        return texts, self.history_tail(features)

    @torch.no_grad()
    def encode_next_segments(
        self, eeg_values: torch.Tensor, channel_mask: torch.Tensor | None, topomaps: torch.Tensor, previous: SegmentFeatures | None = None
    ) -> tuple[SegmentFeatures, torch.Tensor]:
        """Encode consecutive segments that follow ``previous`` (encodings of the up to K segments
        just before them, or None at the start of the recording), each once.

        Returns:
            ``previous`` and the new encodings concatenated, and the ``(n, K+1)`` history windows
            of the new segments into them (:meth:`generate_narratives`'s arguments).
        """
        k = int(self.config.history_length)
        features = self.model.encode_segments(eeg_values, channel_mask, topomaps)
        n_before = 0 if previous is None else previous.eeg_pooled.shape[0]
        if previous is not None:
            features = SegmentFeatures.concatenate([previous, features])
        total = features.eeg_pooled.shape[0]
        return features, history_windows(total - n_before, k, n_before)

    def history_tail(self, features: SegmentFeatures) -> SegmentFeatures | None:
        """The encodings of the last K segments of ``features``: the next chunk's ``previous``."""
        k = int(self.config.history_length)
        total = features.eeg_pooled.shape[0]
        return features.select(slice(total - min(k, total), total)) if k > 0 else None

    @torch.no_grad()
    def narrate_recording(
        self,
        recording: Any,
        processor: Any,
        batch_segments: int = 8,
        max_new_tokens: int = 160,
        feature_kwargs: dict | None = None,
        **generate_kwargs,
    ) -> Iterator[dict]:
        """Narrate every 10 s segment of a recording, each with its ``config.history_length``
        preceding segments as history (the window the model was trained on).

        Every segment is encoded once: the last K encodings of a chunk serve as the next chunk's
        history.

        Args:
            recording: a path, an mne Raw, or anything the processor's feature extractor accepts.
            processor: a [`NeuroNarratorProcessor`] (feature extractor + tokenizer).
            batch_segments: segments encoded and generated together (bounded memory).
            max_new_tokens: length limit of each narrative.
            feature_kwargs: passed to ``feature_extractor.iter_batches`` (e.g. ``start_s``, ``end_s``).

        Yields:
            one dict per segment: ``segment_index``, ``segment_start_s`` (s), ``text``, ``findings``.
        """
        self.eval()
        device = self.device
        tail: SegmentFeatures | None = None
        index = 0
        for batch in processor.feature_extractor.iter_batches(
            recording, batch_segments=batch_segments, return_tensors="pt", **(feature_kwargs or {})
        ):
            texts, tail = self.narrate_next_segments(
                processor,
                torch.as_tensor(batch["eeg_values"]).to(device),
                torch.as_tensor(batch["channel_mask"]).to(device),
                torch.as_tensor(batch["topomaps"]).to(device),
                previous=tail,
                findings=batch.get("findings"),
                batch_size=batch_segments,
                max_new_tokens=max_new_tokens,
                **generate_kwargs,
            )
            starts = batch["segment_start_s"]
            findings = batch.get("findings") or [None] * len(texts)
            for row, text in enumerate(texts):
                yield {
                    "segment_index": index,
                    "segment_start_s": float(starts[row]),
                    "text": text.strip(),
                    "findings": findings[row],
                }
                index += 1


# save_pretrained writes ``auto_map`` and copies the code files (see configuration_neuronarrator).
NeuroNarratorModel.register_for_auto_class("AutoModel")
NeuroNarratorForConditionalGeneration.register_for_auto_class("AutoModelForCausalLM")
