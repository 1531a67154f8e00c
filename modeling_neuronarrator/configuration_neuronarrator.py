"""NeuroNarrator configuration: EEG encoder, topomap encoder, Mamba2 history reasoner, projector and
any causal language model, following transformers' composite configs (LLaVA, Qwen2-Audio).

The config is the single source of truth for the prompt layout: how many placeholder tokens stand
for one segment's EEG, its topomaps and the history is computed by :func:`get_placeholder_counts`,
which both the processor (to expand the placeholders) and the model (to check them) call.
"""

from __future__ import annotations

import math
from typing import Any

from transformers import AutoConfig, Mamba2Config, PreTrainedConfig
from transformers.configuration_utils import SubConfigSpec

from .findings_neuronarrator import DEFAULT_HISTORY_LENGTH

__all__ = [
    "DEFAULT_HISTORY_LENGTH",
    "PLACEHOLDER_KINDS",
    "PLACEHOLDER_TOKENS",
    "NeuroNarratorConfig",
    "NeuroNarratorEEGConfig",
    "NeuroNarratorTopomapConfig",
    "get_placeholder_counts",
]

# The order in which the placeholders appear in the prompt: history first (it comes from the
# preceding segments), then the current segment's EEG and topomaps.
PLACEHOLDER_KINDS = ("history", "eeg", "topomap")
# The placeholder string of each kind (config.<kind>_token; a tokenizer must hold them as tokens).
PLACEHOLDER_TOKENS = {"eeg": "<eeg>", "topomap": "<topo>", "history": "<hist>"}

# Small Mamba2 stack over one pooled vector per segment: hidden 128, 8 heads of 32 = 128 * 2.
_HISTORY_DEFAULTS = {
    "hidden_size": 128,
    "num_heads": 8,
    "head_dim": 32,
    "expand": 2,
    "state_size": 32,
    "n_groups": 1,
    "num_hidden_layers": 2,
    "conv_kernel": 4,
    "chunk_size": 64,
    # The reasoner reads inputs_embeds only; a 4-row table keeps the unused embedding tiny and the
    # inherited pad/bos/eos ids (0-2) inside the vocabulary.
    "vocab_size": 4,
}

# The embedded default backbone: a Llama-style decoder small enough to train on a 2-core CPU.
_DEFAULT_TEXT = {
    "model_type": "llama",
    "hidden_size": 256,
    "intermediate_size": 768,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 1024,
    "vocab_size": 4096,
    "tie_word_embeddings": True,
    "rms_norm_eps": 1e-5,
}


def _check_mamba2_shape(history: dict) -> None:
    """Mamba2's constraint, checked before Mamba2Config would raise a non-ValueError wrapper."""
    hidden, expand = int(history.get("hidden_size", 0)), int(history.get("expand", 2))
    heads, head_dim = int(history.get("num_heads", 0)), int(history.get("head_dim", 0))
    if hidden * expand != heads * head_dim:
        raise ValueError(
            f"NeuroNarratorConfig.history_config: hidden_size * expand ({hidden} * {expand} = {hidden * expand}) "
            f"must equal num_heads * head_dim ({heads} * {head_dim} = {heads * head_dim}); change num_heads or head_dim."
        )


class NeuroNarratorEEGConfig(PreTrainedConfig):
    r"""
    Patch transformer over the harmonized EEG of one segment.

    Each channel's 10 s at 200 Hz (2000 samples) is cut into 1 s patches (200 samples); a patch is
    embedded linearly (with ``patch_spectrum``, plus a linear embedding of its log amplitude
    spectrum, as BIOT and LaBraM tokenize EEG: the power in a band, a flat line or muscle's
    broadband high frequencies are then one linear read-out away), channel and time embeddings
    are added (with ``channel_spectrum``, each channel also gets one token of its whole-segment
    log power spectrum: Welch, 4 s Hann windows, 0.25 Hz bins, the estimate the findings rules
    use, fine enough for a rhythm's peak over its 1/f background, which one 1 s patch's spectrum
    is too coarse to show), and
    ``num_hidden_layers`` pre-norm transformer layers mix the ``num_channels * n_patches`` tokens
    (190 by default, plus the 19 spectrum tokens). Channels
    flagged as interpolated in the channel mask are excluded as attention keys and from pooling.
    A learned-query cross-attention then resamples the tokens to ``num_output_tokens``. With
    ``rhythm_features``, the model also measures each segment's rhythm descriptors
    (``encoders_neuronarrator.rhythm_features``: alpha-peak prominence over the 1/f background,
    peak frequency and relative band power of four channel groups); the findings head reads them
    and, with ``condition_on_findings``, the language model gets them beside the head's read-out.

    Example:

    ```python
    >>> from modeling_neuronarrator import NeuroNarratorEEGConfig
    >>> config = NeuroNarratorEEGConfig(hidden_size=64, num_hidden_layers=1)
    >>> config.num_patches
    10
    ```
    """

    model_type = "neuronarrator_eeg"
    base_config_key = "eeg_config"

    num_channels: int = 19  # the 10-20 channels of the signal contract
    segment_samples: int = 2000  # 10 s at 200 Hz
    patch_samples: int = 200  # 1 s patches
    hidden_size: int = 128
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    intermediate_size: int = 256
    hidden_dropout: float = 0.0
    layer_norm_eps: float = 1e-5
    num_output_tokens: int = 16  # tokens handed to the language model per segment
    initializer_range: float = 0.02
    patch_spectrum: bool = False
    channel_spectrum: bool = False
    rhythm_features: bool = False
    # How the descriptors measure each group's alpha peak (encoders_neuronarrator.RHYTHM_ESTIMATORS):
    # "flanks" (the 1/f line through the alpha range's flanks; what checkpoints before the
    # findings-conditioned default were trained with) or "aperiodic" (the findings' own estimate, the peak over FOOOF's
    # 'fixed' 1/f fit; the shipped default's). Checkpoints saved without it load as "flanks".
    rhythm_estimator: str = "flanks"

    @property
    def num_patches(self) -> int:
        """Number of 1 s patches per channel (10 for 2000 samples of 200)."""
        return self.segment_samples // self.patch_samples

    def validate_architecture(self):
        if self.segment_samples % self.patch_samples:
            raise ValueError(
                f"NeuroNarratorEEGConfig: segment_samples ({self.segment_samples}) must be a multiple of "
                f"patch_samples ({self.patch_samples}); pick a patch length that divides the segment."
            )
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(
                f"NeuroNarratorEEGConfig: hidden_size ({self.hidden_size}) must be divisible by "
                f"num_attention_heads ({self.num_attention_heads})."
            )
        if self.num_output_tokens < 1:
            raise ValueError(f"NeuroNarratorEEGConfig: num_output_tokens must be >= 1, got {self.num_output_tokens}.")
        if self.rhythm_estimator not in ("flanks", "aperiodic"):
            raise ValueError(
                f"NeuroNarratorEEGConfig: rhythm_estimator must be 'flanks' (older checkpoints') or 'aperiodic' "
                f"(the findings' estimate, the shipped default's), got {self.rhythm_estimator!r}."
            )


class NeuroNarratorTopomapConfig(PreTrainedConfig):
    r"""
    Small CNN over the band-power topomaps of one segment (``num_bands`` x ``image_size`` x
    ``image_size``, e.g. 5 x 32 x 32).

    Three 3x3 convolutions (the last two with stride 2) give a feature grid that is average-pooled
    to ``sqrt(num_output_tokens)`` x ``sqrt(num_output_tokens)`` tokens. When the top-level config
    has a ``vision_config``, that vision model replaces the CNN and this config only sets
    ``hidden_size`` and ``num_output_tokens``.
    """

    model_type = "neuronarrator_topomap"
    base_config_key = "topomap_config"

    num_bands: int = 5
    image_size: int = 32
    hidden_size: int = 128
    conv_channels: list[int] | tuple[int, ...] = (32, 64)
    num_output_tokens: int = 16  # a square number for the CNN's token grid
    initializer_range: float = 0.02

    def validate_architecture(self):
        side = math.isqrt(self.num_output_tokens)
        if side * side != self.num_output_tokens:
            raise ValueError(
                f"NeuroNarratorTopomapConfig: num_output_tokens ({self.num_output_tokens}) must be a square "
                f"number (the CNN pools to a side x side grid), e.g. {max(side, 1) ** 2} or {(side + 1) ** 2}."
            )
        if len(self.conv_channels) < 1:
            raise ValueError("NeuroNarratorTopomapConfig: conv_channels needs at least one entry.")


class NeuroNarratorConfig(PreTrainedConfig):
    r"""
    Configuration of [`NeuroNarratorForConditionalGeneration`]: EEG and topomap encoders (aligned by
    the stage-1 InfoNCE grounding), a Mamba2 history reasoner and a causal language model.

    Args:
        eeg_config (`NeuroNarratorEEGConfig` or `dict`, *optional*): the EEG patch transformer.
        topomap_config (`NeuroNarratorTopomapConfig` or `dict`, *optional*): the topomap CNN.
        history_config (`Mamba2Config` or `dict`, *optional*): the history reasoner; only its
            mixer stack is used, over ``inputs_embeds``.
        text_config (`PreTrainedConfig` or `dict`, *optional*): any causal LM config, chosen by
            its ``model_type`` (default: the embedded Llama-style decoder).
        vision_config (`PreTrainedConfig` or `dict`, *optional*): a vision model config (e.g.
            ``ViTConfig(num_channels=5, image_size=32)``) replacing the topomap CNN.
        eeg_token, topomap_token, history_token (`str`): placeholder token strings.
        eeg_token_id, topomap_token_id, history_token_id (`int`): their ids in the tokenizer.
        num_history_tokens (`int`): tokens the history reasoner's output becomes.
        history_length (`int`): K, the preceding segments used in training (3 in the paper); at
            inference any number of preceding segments is carried in the recurrent state.
        grounding_dim (`int`): size of the shared space of the InfoNCE grounding.
        grounding_temperature_init (`float`): initial InfoNCE temperature (CLIP: 0.07).
        logit_scale_max (`float`): clamp of ``exp(logit_scale)`` (CLIP: 100).
        projector_hidden_act (`str`): activation of the projector MLPs.
        text_model_path (`str`, *optional*): local folder of a pretrained causal LM whose weights
            [`NeuroNarratorForConditionalGeneration.build`] loads into the backbone.
        freeze_text_model (`bool`): keep the language model's own weights frozen.
        finding_targets (`list[str]`, *optional*): yes/no segment findings (entries of
            ``FINDING_TARGETS``, e.g. ``"artifact:muscle"``, ``"pdr"``) that a findings head reads
            off the EEG tokens and pooled topomap; stage 1 trains it beside the grounding loss so
            the tokens the language model sees carry them. None: no head.
        findings_loss_weight (`float`): weight of the findings head's loss in stage 1.
        condition_on_findings (`bool`): add the findings head's probabilities, projected by an MLP,
            to every EEG token the language model reads, so the narrative can follow the head's
            explicit yes/no read-out as well as the tokens (needs ``finding_targets``).
        findings_pos_weight (`list[float]`, *optional*): per-target weight of the positive class
            in that loss (negatives / positives of the training rows, as the trainer sets it:
            artifacts are rare, and unweighted the head learns to say "absent" to all of them).
        rhythm_head_hidden_size (`int`): width of the two GELU layers of the MLP that adds the
            measured rhythm descriptors' vote to the findings head's logits of the non-artifact
            targets (with ``eeg_config.rhythm_features``; a PDR is an AND of conditions on them,
            beyond a linear read-out).
        findings_in_prompt (`bool`): findings-conditioned narration: the segment's measured findings (the
            front-end's ``Findings``) are written into the prompt as one compact "Measured: ..."
            line, so the narrative verbalizes the measurement and the EEG, topomap and history
            tokens add what measurement cannot give (source labels, change over time). False: the
            paper's configuration (EEG, topomaps and history only).
        annotations_in_prompt (`bool`): with ``findings_in_prompt``, a second prompt line names the
            source-label keys the segment is annotated with ("Annotated: eyes, stimulus." or
            "Annotated: none."), never their values: the narrative states a label only where the
            recording carries one, and an unannotated file (every user's) gets no label claims.
            False: checkpoints trained before the line existed.
        measured_categories (`bool`): with ``findings_in_prompt``, the measured line names the
            amplitude's category beside its value ("amplitude 73 uV medium"), so the narrative
            copies the word instead of comparing digits with the 20/75 uV bounds (a digit-split
            tokenizer, stop 26: 73 uV written "high", 106 uV "low"; sealed-test category 0.87).
            False: checkpoints trained before it.
        measured_change_window (`bool`): with ``findings_in_prompt``, the measured line's change names
            the span it was measured over ("change stable over the preceding 20 s",
            ``Findings.change_window_segments``), which the narrative's change sentence states: the
            history tokens alone left free decoding to guess it (stop 40: "30 s" on second and
            third segments, 186 validation rows). False: checkpoints trained before it.
        label_keys (`list[str]`, *optional*): the source-label keys the narrator learned to state (those
            annotated in its stage-2 training rows; the trainer records them). With
            ``annotations_in_prompt`` the annotated-keys line names only these and the measured grammar
            offers label sentences for these only: a key no training row carried (EEGMMIDB's eyes,
            stop 40) was guessed. None: every key (checkpoints trained before it).
        side_invariant_segments (`bool`): the encoders read each segment and its left-right mirror
            (homologous channels swapped, topomaps flipped) and average the two encodings, so the
            EEG, topomap, read-out and history tokens carry no side: a narrative's sides come from
            the measured line alone (needs ``findings_in_prompt``). Costs a second encoder pass.
            False: the tokens see the segment as recorded.

    Example:

    ```python
    >>> from modeling_neuronarrator import NeuroNarratorConfig, NeuroNarratorForConditionalGeneration
    >>> config = NeuroNarratorConfig.tiny()
    >>> model = NeuroNarratorForConditionalGeneration(config)
    >>> get_placeholder_counts(config)
    {'history': 2, 'eeg': 4, 'topomap': 4}
    ```
    """

    model_type = "neuronarrator"
    sub_configs_defaults = {
        "eeg_config": SubConfigSpec(config_class=NeuroNarratorEEGConfig),
        "topomap_config": SubConfigSpec(config_class=NeuroNarratorTopomapConfig),
        "history_config": SubConfigSpec(config_class=Mamba2Config, init_kwargs=_HISTORY_DEFAULTS),
        "text_config": SubConfigSpec(
            config_class=AutoConfig,
            model_type="llama",
            init_kwargs={k: v for k, v in _DEFAULT_TEXT.items() if k != "model_type"},
        ),
        "vision_config": SubConfigSpec(config_class=AutoConfig, model_type="vit", optional=True),
    }

    eeg_config: dict | PreTrainedConfig | None = None
    topomap_config: dict | PreTrainedConfig | None = None
    history_config: dict | PreTrainedConfig | None = None
    text_config: dict | PreTrainedConfig | None = None
    vision_config: dict | PreTrainedConfig | None = None
    eeg_token: str = PLACEHOLDER_TOKENS["eeg"]
    topomap_token: str = PLACEHOLDER_TOKENS["topomap"]
    history_token: str = PLACEHOLDER_TOKENS["history"]
    eeg_token_id: int | None = None
    topomap_token_id: int | None = None
    history_token_id: int | None = None
    num_history_tokens: int = 4
    history_length: int = DEFAULT_HISTORY_LENGTH
    grounding_dim: int = 128
    grounding_temperature_init: float = 0.07
    logit_scale_max: float = 100.0
    projector_hidden_act: str = "gelu"
    text_model_path: str | None = None
    freeze_text_model: bool = False
    finding_targets: list[str] | None = None
    findings_loss_weight: float = 1.0
    findings_pos_weight: list[float] | None = None
    condition_on_findings: bool = False
    rhythm_head_hidden_size: int = 256
    findings_in_prompt: bool = False
    annotations_in_prompt: bool = False
    measured_categories: bool = False
    measured_change_window: bool = False
    label_keys: list[str] | None = None
    side_invariant_segments: bool = False
    ignore_index: int = -100
    tie_word_embeddings: bool = True

    def __post_init__(self, **kwargs):
        if isinstance(self.history_config, dict):
            # A partial dict means "the small default reasoner, with these changes", not Mamba2's
            # 2.8B defaults; and its shape is checked here so the error is a plain ValueError.
            self.history_config = {**_HISTORY_DEFAULTS, **self.history_config}
            _check_mamba2_shape(self.history_config)
        super().__post_init__(**kwargs)
        for sub_config in (self.eeg_config, self.topomap_config):
            sub_config.validate_architecture()
        self.validate_architecture()
        # The backbone decides whether its head shares the embedding matrix (SmolLM2 and the
        # embedded default do); the composite follows it, as LLaVA does.
        self.tie_word_embeddings = bool(getattr(self.text_config, "tie_word_embeddings", False))

    def validate_architecture(self):
        _check_mamba2_shape(self.history_config.to_dict())
        for name in ("num_history_tokens", "history_length", "grounding_dim"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < (0 if name == "history_length" else 1):
                raise ValueError(f"NeuroNarratorConfig: {name} must be a positive integer, got {value!r}.")
        if not 0.0 < self.grounding_temperature_init <= 1.0:
            raise ValueError(
                f"NeuroNarratorConfig: grounding_temperature_init must be in (0, 1], got "
                f"{self.grounding_temperature_init} (CLIP uses 0.07)."
            )
        if self.finding_targets is not None:
            from .findings_neuronarrator import FINDING_TARGETS

            unknown = [t for t in self.finding_targets if t not in FINDING_TARGETS]
            if unknown or not self.finding_targets:
                raise ValueError(
                    f"NeuroNarratorConfig: finding_targets {unknown or '[]'} unknown or empty; use entries of "
                    f"{list(FINDING_TARGETS)} (or None for no findings head)."
                )
        if self.findings_pos_weight is not None and (
            len(self.findings_pos_weight) != len(self.finding_targets or []) or min(self.findings_pos_weight) <= 0
        ):
            raise ValueError(
                f"NeuroNarratorConfig: findings_pos_weight needs one positive weight per finding target "
                f"({len(self.finding_targets or [])}), got {self.findings_pos_weight!r}."
            )
        if self.annotations_in_prompt and not self.findings_in_prompt:
            raise ValueError("NeuroNarratorConfig: annotations_in_prompt needs findings_in_prompt (its line follows the measured one).")
        if self.measured_categories and not self.findings_in_prompt:
            raise ValueError("NeuroNarratorConfig: measured_categories needs findings_in_prompt (it is part of the measured line).")
        if self.label_keys is not None and (
            not isinstance(self.label_keys, (list, tuple)) or not all(isinstance(k, str) and k for k in self.label_keys)
        ):
            raise ValueError(f"NeuroNarratorConfig: label_keys must be a list of label key names (or None), got {self.label_keys!r}.")
        if self.measured_change_window and not self.findings_in_prompt:
            raise ValueError("NeuroNarratorConfig: measured_change_window needs findings_in_prompt (it is part of the measured line).")
        if self.side_invariant_segments and not self.findings_in_prompt:
            raise ValueError(
                "NeuroNarratorConfig: side_invariant_segments needs findings_in_prompt (side-invariant tokens leave the "
                "measured line as the narrative's only source of side)."
            )
        if self.condition_on_findings and not self.finding_targets:
            raise ValueError("NeuroNarratorConfig: condition_on_findings needs finding_targets (the head whose read-out it feeds).")
        if self.findings_loss_weight < 0:
            raise ValueError(f"NeuroNarratorConfig: findings_loss_weight must be >= 0, got {self.findings_loss_weight}.")
        if not isinstance(self.rhythm_head_hidden_size, int) or self.rhythm_head_hidden_size < 1:
            raise ValueError(
                f"NeuroNarratorConfig: rhythm_head_hidden_size must be a positive integer, got {self.rhythm_head_hidden_size!r}."
            )
        tokens = [self.eeg_token, self.topomap_token, self.history_token]
        if len(set(tokens)) != 3:
            raise ValueError(f"NeuroNarratorConfig: the three placeholder tokens must differ, got {tokens}.")
        ids = [i for i in (self.eeg_token_id, self.topomap_token_id, self.history_token_id) if i is not None]
        if len(set(ids)) != len(ids):
            raise ValueError(f"NeuroNarratorConfig: the placeholder token ids must differ, got {ids}.")
        vocab_size = getattr(self.text_config, "vocab_size", None)
        for name in ("eeg_token_id", "topomap_token_id", "history_token_id"):
            value = getattr(self, name)
            if value is not None and vocab_size is not None and not 0 <= value < vocab_size:
                raise ValueError(
                    f"NeuroNarratorConfig: {name}={value} lies outside the text model's vocabulary "
                    f"(vocab_size={vocab_size}); set text_config.vocab_size to len(tokenizer)."
                )

    # ------------------------------------------------------------------ constructors
    @classmethod
    def default(cls, tokenizer: Any = None, **kwargs) -> NeuroNarratorConfig:
        """The embedded default: 4-layer Llama-style decoder (hidden 256), EEG/topomap encoders of
        width 128 and a 2-layer Mamba2 reasoner; about 5.3 M parameters with a 4096-token vocabulary.

        ``tokenizer`` (e.g. from ``train_narrative_tokenizer``) sets the vocabulary size, the
        special token ids and the placeholder ids. Other keyword arguments override fields.
        """
        text = dict(_DEFAULT_TEXT)
        text.update(kwargs.pop("text_config", {}) or {})
        return cls._with_tokenizer(tokenizer, text_config=text, **kwargs)

    @classmethod
    def tiny(cls, tokenizer: Any = None, vocab_size: int = 300, **kwargs) -> NeuroNarratorConfig:
        """A very small configuration for tests (runs a forward pass in milliseconds on a CPU).

        Without a tokenizer the last three ids of ``vocab_size`` become the placeholders.
        """
        text = {
            "model_type": "llama",
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "max_position_embeddings": 256,
            "vocab_size": vocab_size,
            "tie_word_embeddings": True,
            "bos_token_id": 1,
            "eos_token_id": 2,
            "pad_token_id": 0,
        }
        text.update(kwargs.pop("text_config", {}) or {})
        defaults = {
            "eeg_config": {
                "hidden_size": 32,
                "num_hidden_layers": 1,
                "num_attention_heads": 4,
                "intermediate_size": 64,
                "num_output_tokens": 4,
            },
            "topomap_config": {"hidden_size": 24, "conv_channels": [8, 16], "num_output_tokens": 4},
            "history_config": dict(
                _HISTORY_DEFAULTS, hidden_size=16, num_heads=4, head_dim=8, state_size=8, num_hidden_layers=1
            ),
            "num_history_tokens": 2,
            "grounding_dim": 16,
        }
        if tokenizer is None:
            defaults.update(
                eeg_token_id=vocab_size - 3, topomap_token_id=vocab_size - 2, history_token_id=vocab_size - 1
            )
        for key in ("eeg_config", "topomap_config", "history_config"):  # a partial dict changes the tiny one
            if isinstance(kwargs.get(key), dict):
                kwargs[key] = {**defaults[key], **kwargs[key]}
        defaults.update(kwargs)
        return cls._with_tokenizer(tokenizer, text_config=text, **defaults)

    @classmethod
    def from_pretrained_text_model(cls, text_model_path: str, tokenizer: Any = None, **kwargs) -> NeuroNarratorConfig:
        """A config whose backbone is a local pretrained causal LM folder (safetensors), e.g. the
        SmolLM2-135M-Instruct folder written by ``python -m modeling_neuronarrator.training.smollm2``.

        Build the model with [`NeuroNarratorForConditionalGeneration.build`], which loads the weights.
        """
        text_config = AutoConfig.from_pretrained(text_model_path).to_dict()
        text_config.pop("transformers_version", None)
        text_config.pop("architectures", None)
        text_config.pop("quantization_config", None)
        return cls._with_tokenizer(tokenizer, text_config=text_config, text_model_path=str(text_model_path), **kwargs)

    @classmethod
    def _with_tokenizer(cls, tokenizer: Any, text_config: dict, **kwargs) -> NeuroNarratorConfig:
        if tokenizer is not None:
            tokens = {kind: kwargs.get(f"{kind}_token", token) for kind, token in PLACEHOLDER_TOKENS.items()}
            vocab = tokenizer.get_vocab()
            missing = [t for t in tokens.values() if t not in vocab]
            if missing:
                raise ValueError(
                    f"NeuroNarratorConfig: the tokenizer lacks the placeholder tokens {missing}; add them with "
                    "tokenizer.add_special_tokens({'additional_special_tokens': [...]}) or build it with "
                    "train_narrative_tokenizer."
                )
            for kind, token in tokens.items():
                kwargs[f"{kind}_token_id"] = vocab[token]
            text_config = dict(text_config)
            if kwargs.get("text_model_path"):
                # A pretrained table may be padded past the tokenizer (to a multiple of 64, say): keep it.
                text_config["vocab_size"] = max(len(tokenizer), int(text_config.get("vocab_size") or 0))
            else:
                text_config["vocab_size"] = len(tokenizer)  # a fresh backbone: exactly the tokenizer's rows
            for name in ("bos_token_id", "eos_token_id", "pad_token_id"):
                value = getattr(tokenizer, name, None)
                if value is not None:
                    text_config[name] = value
        return cls(text_config=text_config, **kwargs)


def get_placeholder_counts(config: NeuroNarratorConfig) -> dict[str, int]:
    """Number of placeholder tokens per segment, by kind, in prompt order.

    The one place these numbers are computed: the processor expands ``<hist>``, ``<eeg>`` and
    ``<topo>`` to these counts and the model checks the prompt against them before merging.

    Returns:
        `dict[str, int]`: ``{"history": num_history_tokens, "eeg": eeg tokens, "topomap": topomap
        tokens}``; the counts do not depend on how many preceding segments a sample has.
    """
    return {
        "history": int(config.num_history_tokens),
        "eeg": int(config.eeg_config.num_output_tokens),
        "topomap": int(config.topomap_config.num_output_tokens),
    }


# save_pretrained writes ``auto_map`` and copies this file, so a saved folder loads with
# trust_remote_code where this package is not installed.
NeuroNarratorConfig.register_for_auto_class("AutoConfig")
