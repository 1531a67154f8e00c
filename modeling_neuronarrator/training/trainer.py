"""The two training stages with Accelerate.

Stage 1 (grounding) trains the EEG and topomap encoders with the symmetric InfoNCE loss between
their pooled embeddings and, when the model has ``finding_targets``, a findings head that reads
the yes/no findings (artifacts, PDR, slowing, asymmetry, dominant band) off the EEG tokens the
language model will get (binary cross-entropy, rare positives up-weighted). It also trains the
narrative tokenizer on the training descriptions and builds the whole model, so that its
``final`` folder is a complete ``save_pretrained`` model.

Stage 2 (narratives) starts from stage 1's folder, freezes the encoders and trains the projector,
the Mamba2 history reasoner and the language model (fully, or through LoRA adapters when
``model.lora`` is set) on the descriptions, with the K preceding segments as history; the loss
covers the narrative tokens only.

Both stages run unchanged on one CPU process, ``accelerate launch --num_processes 2 --cpu``, one
GPU or many (DDP, FSDP or DeepSpeed through an accelerate config file).
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch
from torch import nn

from ..findings_neuronarrator import finding_targets
from ..validation_neuronarrator import check_option
from .config import TrainConfig
from .data import SegmentCollator, TopomapComputer, build_datasets, parse_json_field
from .lora import DEFAULT_TARGET_MODULES, apply_lora, merge_lora
from .loop import EpochSampler, TrainerState, run_training
from .tokenizer import PLACEHOLDER_TOKENS

__all__ = ["train_stage", "GroundingStep", "NarrativeStep", "build_model_and_processor", "set_trainable"]

logger = logging.getLogger(__name__)

# Which sub-modules each trainable part names (attributes of NeuroNarratorModel).
_PARTS = {
    "eeg_encoder": ("eeg_encoder", "eeg_grounding_proj", "logit_scale", "findings_head", "rhythm_head"),
    "topomap_encoder": ("topomap_encoder", "topomap_grounding_proj"),
    "projector": ("eeg_projector", "topomap_projector", "history_projector", "findings_projector"),
    "history": ("history_reasoner",),
    "text": ("language_model",),  # its tied LM head follows the input embeddings
}
_STAGE_DEFAULT_PARTS = {"stage1": ["eeg_encoder", "topomap_encoder"], "stage2": ["projector", "history", "text"]}


def _device_batch(batch: dict[str, Any], device: torch.device) -> dict[str, Any]:
    return {k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


class GroundingStep(nn.Module):
    """Stage 1's forward: the grounding loss and retrieval accuracy of a batch.

    Wrapping the call in a module's ``forward`` lets DDP/FSDP see it (gradients are synchronised
    only for computations that go through the wrapped module's ``forward``).
    """

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, eeg_values, channel_mask, topomaps, finding_targets=None):
        return self.model.get_grounding_loss(
            eeg_values=eeg_values, channel_mask=channel_mask, topomaps=topomaps, finding_targets=finding_targets
        )


class NarrativeStep(nn.Module):
    """Stage 2's forward: the language-model loss on the narrative tokens.

    With ``label_weights`` (``SegmentCollator(measured_token_weight=...)``) the loss is the weighted
    mean of the tokens' cross-entropies instead of the plain mean.
    """

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, label_weights: Optional[torch.Tensor] = None, **inputs):
        if label_weights is None:
            return self.model(**inputs)
        labels = inputs.pop("labels")
        output = self.model(**inputs)
        output.loss = weighted_token_loss(output.logits, labels, label_weights)
        return output


def weighted_token_loss(logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Next-token cross-entropy, each target token weighted: sum(w * ce) / sum(w) over the tokens
    whose label is not -100 (``logits`` (B, T, V) at position t predict ``labels`` at t + 1, as the
    causal-LM loss shifts them)."""
    logits, labels, weights = logits[:, :-1].float(), labels[:, 1:], weights[:, 1:].float()
    token_loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100, reduction="none")
    weights = weights.reshape(-1) * (labels.reshape(-1) != -100)
    return (token_loss * weights).sum() / weights.sum().clamp_min(1e-8)


def set_trainable(model: nn.Module, parts: list[str]) -> list[nn.Parameter]:
    """Freeze everything, then unfreeze the named parts; returns the trainable parameters."""
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    base = model.model if hasattr(model, "model") else model
    for part in parts:
        for attribute in _PARTS[part]:
            module = getattr(base, attribute, None)
            if module is None:
                continue
            if isinstance(module, nn.Parameter):
                module.requires_grad_(True)
                continue
            for parameter in module.parameters():
                parameter.requires_grad_(True)
    if "text" in parts and hasattr(model, "lm_head"):
        for parameter in model.lm_head.parameters():
            parameter.requires_grad_(True)
    trainable = [p for p in model.parameters() if p.requires_grad]
    if not trainable:
        raise ValueError(f"no trainable parameters for parts {parts}; check the stage's 'train' list")
    return trainable


def _row_repeats(train_data, config) -> Optional[list[int]]:
    """Per-row repeats for stage 2's oversampling (None when there is none): a row with an artifact
    ``data.artifact_repeats`` times, a recording's first segment (no ``change_from_previous``)
    ``data.first_segment_repeats`` times, a row with a label value of ``data.label_repeats`` that
    many times; the largest applies."""
    k, first, by_label = config.data.artifact_repeats, config.data.first_segment_repeats, config.data.label_repeats
    if k == 1 and first == 1 and not by_label:
        return None
    findings = [parse_json_field(f) for f in train_data.column("findings")]
    repeats = [k if f.get("artifacts") else 1 for f in findings]
    if k > 1:
        logger.info("artifact oversampling: %d of %d training rows x%d", sum(r > 1 for r in repeats), len(repeats), k)
    if first > 1:
        firsts = [i for i, f in enumerate(findings) if f.get("change_from_previous") is None]
        for i in firsts:
            repeats[i] = max(repeats[i], first)
        logger.info("first-segment oversampling: %d of %d training rows x%d", len(firsts), len(repeats), first)
    if by_label:
        matched = {(key, value): 0 for key, values in by_label.items() for value in values}
        for i, labels in enumerate(train_data.column("labels")):
            labels = parse_json_field(labels, "labels") if labels is not None else {}
            for key, values in by_label.items():
                if labels.get(key) in values:
                    matched[key, labels[key]] += 1
                    repeats[i] = max(repeats[i], values[labels[key]])
        for (key, value), count in matched.items():
            logger.info("label oversampling: %d training rows with %s=%s x%d", count, key, value, by_label[key][value])
    return repeats


MAX_POS_WEIGHT = 30.0


def _findings_pos_weight(train_data, targets: list[str]) -> list[float]:
    """Negatives / positives per finding target over the training rows, clipped to [1, 30] (a
    target absent from the training rows gets the cap)."""
    if not hasattr(train_data, "column"):
        raise ValueError(
            "the findings head's class weights are counted over the training rows, which a streamed corpus does not "
            "hold in memory; set data.streaming: false for stage 1 or give model.overrides.findings_pos_weight"
        )
    positives = np.stack([finding_targets(parse_json_field(f), targets) for f in train_data.column("findings")]).sum(0)
    ratio = (len(train_data) - positives) / np.maximum(positives, 1e-9)
    return [round(float(w), 3) for w in np.clip(ratio, 1.0, MAX_POS_WEIGHT)]


def build_model_and_processor(config: TrainConfig, train_texts: list[str], tokenizer_dir: Path, accelerator):
    """Stage 1's starting point: the tokenizer (trained once, by the main process) and a fresh model."""
    from .. import NeuroNarratorConfig, NeuroNarratorFeatureExtractor, NeuroNarratorForConditionalGeneration, NeuroNarratorProcessor

    model_cfg = config.model
    # Stage-2 settings (_segment_flags_from_config) do not shape the encoders stage 1 trains.
    overrides = {k: v for k, v in model_cfg.overrides.items() if k not in _STAGE2_MODEL_FLAGS}
    if model_cfg.preset == "smollm2":
        from transformers import AutoTokenizer

        if not model_cfg.text_model_path or not Path(model_cfg.text_model_path).is_dir():
            raise FileNotFoundError(
                f"{config.path}: model.text_model_path {model_cfg.text_model_path!r} is not a folder; convert SmolLM2 first with "
                "`python -m modeling_neuronarrator.training.smollm2 <folder>` and point text_model_path at it"
            )
        tokenizer = AutoTokenizer.from_pretrained(model_cfg.text_model_path)
        tokenizer.add_special_tokens({"additional_special_tokens": list(PLACEHOLDER_TOKENS)}, replace_extra_special_tokens=False)
        model_config = NeuroNarratorConfig.from_pretrained_text_model(
            model_cfg.text_model_path, tokenizer=tokenizer, history_length=config.data.history, **overrides
        )
    else:
        from .tokenizer import train_narrative_tokenizer
        from transformers import AutoTokenizer

        if accelerator.is_main_process and not (tokenizer_dir / "tokenizer.json").is_file():
            if not train_texts:
                raise ValueError(
                    f"{config.path}: the '{model_cfg.preset}' preset trains its tokenizer on the training descriptions, "
                    "which a streamed corpus does not hold in memory; set data.streaming: false for stage 1"
                )
            tokenizer = train_narrative_tokenizer(
                train_texts, vocab_size=model_cfg.tokenizer_vocab_size, split_digits=model_cfg.tokenizer_split_digits
            )
            tokenizer.save_pretrained(str(tokenizer_dir))
        accelerator.wait_for_everyone()
        tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
        constructor = NeuroNarratorConfig.tiny if model_cfg.preset == "tiny" else NeuroNarratorConfig.default
        model_config = constructor(tokenizer=tokenizer, history_length=config.data.history, **overrides)
    torch.manual_seed(config.seed)
    if model_config.text_model_path:
        model = NeuroNarratorForConditionalGeneration.build(model_config)
    else:
        model = NeuroNarratorForConditionalGeneration(model_config)
    processor = NeuroNarratorProcessor.from_config(model_config, NeuroNarratorFeatureExtractor(), tokenizer)
    return model, processor


def _load_stage2_start(config: TrainConfig):
    from .. import NeuroNarratorForConditionalGeneration, NeuroNarratorProcessor

    start = Path(config.stage2.init_from) if config.stage2.init_from else config.stage_dir("stage1") / "final"
    if not (start / "config.json").is_file():
        raise FileNotFoundError(
            f"{start}: no stage-1 model there; run `neuronarrator train stage1 --config {config.path}` first "
            "(or set stage2.init_from to a saved model folder)"
        )
    model = NeuroNarratorForConditionalGeneration.from_pretrained(str(start))
    processor = NeuroNarratorProcessor.from_pretrained(str(start))
    return model, processor


def _apply_lora(model, lora: dict[str, Any]):
    """LoRA adapters on the language model (stage 2), from the config's peft-style keys; they are
    merged back (``merge_lora``) before saving, so the saved model needs no peft."""
    known = {"r", "lora_alpha", "lora_dropout", "target_modules"}
    unknown = set(lora) - known
    if unknown:
        raise ValueError(f"model.lora: unknown keys {sorted(unknown)}; allowed keys are {sorted(known)}")
    return apply_lora(
        model,
        r=lora.get("r", 8),
        alpha=lora.get("lora_alpha", 16),
        dropout=lora.get("lora_dropout", 0.05),
        target_modules=lora.get("target_modules", DEFAULT_TARGET_MODULES),
    )


def _prompt_flags_from_config(config: TrainConfig, model, processor) -> None:
    """Stage 2's prompt layout from its config: ``findings_in_prompt``, ``annotations_in_prompt``,
    ``measured_categories`` and ``measured_change_window`` override what the start folder was saved
    with; the last three belong to the measured line, so a prompt without findings has neither (the paper's configuration starts from
    the findings-conditioned default's stage 1)."""
    flags = ("findings_in_prompt", "annotations_in_prompt", "measured_categories", "measured_change_window")
    layout = {}
    for flag in flags:
        wanted = config.model.overrides.get(flag)
        layout[flag] = bool(getattr(model.config, flag, False) if wanted is None else wanted)
    for flag in flags[1:]:
        layout[flag] = layout[flag] and layout["findings_in_prompt"]
    for flag, value in layout.items():
        if value != getattr(model.config, flag, False):
            logger.info("stage 2: %s=%s from the config (the start folder had %s)", flag, value, not value)
            setattr(model.config, flag, value)
            setattr(processor, flag, value)


# Model settings that stage 2 applies to the model it starts from (stage 1 builds without them).
_STAGE2_MODEL_FLAGS = ("side_invariant_segments",)


def _segment_flags_from_config(config: TrainConfig, model) -> None:
    """``side_invariant_segments`` from stage 2's config overrides what the start folder was saved
    with: it decides what the narrator's tokens see, not what the encoders learned in stage 1."""
    for flag in _STAGE2_MODEL_FLAGS:
        wanted = config.model.overrides.get(flag)
        if wanted is None or bool(wanted) == bool(getattr(model.config, flag, False)):
            continue
        logger.info("stage 2: %s=%s from the config (the start folder had %s)", flag, bool(wanted), not wanted)
        setattr(model.config, flag, bool(wanted))
        try:
            model.config.validate_architecture()
        except ValueError as error:
            raise ValueError(f"{config.path}: model.overrides.{flag}: {error}") from None


def _record_label_keys(train_data, model, processor) -> None:
    """The source-label keys stage 2 teaches (annotated in any training row) become the model's
    ``label_keys``: its prompt names no other key, and the measured grammar offers it no other label
    sentence, so a key it never saw is left out rather than guessed. Only with the annotated-keys line."""
    if not getattr(processor, "annotations_in_prompt", False):
        return
    if not hasattr(train_data, "column"):
        logger.warning("stage 2: a streamed corpus cannot be read ahead for its label keys; label_keys left unset (every key)")
        return
    keys = sorted({key for labels in train_data.column("labels") for key, value in parse_json_field(labels, "labels").items() if value is not None})
    logger.info("stage 2: the narrator learns the source labels %s", keys)
    model.config.label_keys = keys
    processor.label_keys = keys


def _tokenizer_texts(config: TrainConfig, train_data) -> list[str]:
    """What the own tokenizer is trained on: every text the language model reads, in proportion.
    The narratives, and each row's prompt text (the instruction, and with ``findings_in_prompt``
    its "Measured: ..." line): trained on the narratives alone, the prompt split into ~2 tokens
    per word (~220 prompt tokens per row instead of ~90, which stage 2 pays on every step)."""
    from ..processing_neuronarrator import DEFAULT_INSTRUCTION, prompt_findings_text

    texts = list(train_data.column("description"))
    if config.model.overrides.get("findings_in_prompt"):
        annotations = bool(config.model.overrides.get("annotations_in_prompt"))
        categories = bool(config.model.overrides.get("measured_categories"))
        window = bool(config.model.overrides.get("measured_change_window"))
        texts += [
            f"{prompt_findings_text(parse_json_field(f), annotations, categories, window)}\n{DEFAULT_INSTRUCTION}"
            for f in train_data.column("findings")
        ]
    else:
        texts += [DEFAULT_INSTRUCTION] * len(texts)
    return texts


class _GroundingStage:
    """Stage 1: EEG <-> topomap grounding (InfoNCE) and the findings head; no text, no history."""

    name = "stage1"
    history = False

    def load(self, config: TrainConfig, stage_dir: Path, accelerator):
        # Topomaps with the feature extractor's defaults: the processor built below uses them too.
        train_data, validation_data = build_datasets(config, history=0, topomaps=TopomapComputer())
        texts = _tokenizer_texts(config, train_data) if hasattr(train_data, "column") else []
        model, processor = build_model_and_processor(config, texts, stage_dir / "tokenizer", accelerator)
        if model.config.finding_targets and model.config.findings_pos_weight is None:
            model.config.findings_pos_weight = _findings_pos_weight(train_data, model.config.finding_targets)
            logger.info("findings head: positive-class weights %s", dict(zip(model.config.finding_targets, model.config.findings_pos_weight)))
        return model, processor, train_data, validation_data

    def trainable(self, model, config: TrainConfig, parts: list[str]) -> list[nn.Parameter]:
        return set_trainable(model, parts)

    def collator(self, config: TrainConfig, model, processor) -> SegmentCollator:
        return SegmentCollator(
            TopomapComputer(processor.feature_extractor),
            max_text_tokens=config.data.max_text_tokens,
            blind=config.data.blind,
            finding_targets=model.config.finding_targets,
        )

    def repeats(self, train_data, config: TrainConfig) -> Optional[list[int]]:
        return None

    def step_module(self, model) -> nn.Module:
        return GroundingStep(model)

    def forward(self, module, batch: dict[str, Any]):
        return module(batch["eeg_values"], batch["channel_mask"], batch["topomaps"], batch.get("finding_targets"))

    def loss(self, module, batch: dict[str, Any]):
        output = self.forward(module, batch)
        metrics = {"grounding_accuracy": float(output.accuracy)}
        if output.findings_loss is not None:
            metrics["grounding_loss"] = float(output.contrastive_loss.detach())
            metrics["findings_loss"] = float(output.findings_loss.detach())
        return output.loss, metrics

    def model_to_save(self, unwrapped, config: TrainConfig):
        return unwrapped


class _NarrativeStage(_GroundingStage):
    """Stage 2: narratives (loss on the description tokens), with the K-segment history."""

    name = "stage2"
    history = True

    def load(self, config: TrainConfig, stage_dir: Path, accelerator):
        model, processor = _load_stage2_start(config)
        # Findings-conditioned narration is a property of the prompt, which stage 2 trains: a stage-1
        # folder (or an older checkpoint) saved without it is narrated findings-conditioned when the
        # config says so.
        _prompt_flags_from_config(config, model, processor)
        _segment_flags_from_config(config, model)
        if config.model.lora:
            model = _apply_lora(model, config.model.lora)
        train_data, validation_data = build_datasets(
            config, history=config.data.history, topomaps=TopomapComputer(processor.feature_extractor)
        )
        _record_label_keys(train_data, model, processor)
        return model, processor, train_data, validation_data

    def trainable(self, model, config: TrainConfig, parts: list[str]) -> list[nn.Parameter]:
        trainable = set_trainable(model, parts)
        if config.model.lora and "text" in parts:
            # Only the LoRA adapters of the language model train, not its base weights.
            base = model.model if hasattr(model, "model") else model
            for name, parameter in base.language_model.named_parameters():
                parameter.requires_grad_("lora_" in name)
            trainable = [p for p in model.parameters() if p.requires_grad]
        return trainable

    def collator(self, config: TrainConfig, model, processor) -> SegmentCollator:
        return SegmentCollator(
            TopomapComputer(processor.feature_extractor),
            processor=processor,
            max_text_tokens=config.data.max_text_tokens,
            blind=config.data.blind,
            eeg_dropout=config.data.eeg_dropout,
            seed=config.seed,
            hemisphere_mirror=config.data.hemisphere_mirror,
            mirror_mode=config.data.mirror_mode,
            measured_token_weight=config.data.measured_token_weight,
            measured_token_fields=config.data.measured_token_weight_fields,
            measured_token_sentence_fields=config.data.measured_token_sentence_fields,
            measured_sentence_weight=config.data.measured_sentence_weight,
        )

    def repeats(self, train_data, config: TrainConfig) -> Optional[list[int]]:
        return _row_repeats(train_data, config)

    def step_module(self, model) -> nn.Module:
        return NarrativeStep(model)

    def forward(self, module, batch: dict[str, Any]):
        return module(**{k: v for k, v in batch.items() if isinstance(v, torch.Tensor)})

    def loss(self, module, batch: dict[str, Any]):
        return self.forward(module, batch).loss, {}

    def model_to_save(self, unwrapped, config: TrainConfig):
        return merge_lora(unwrapped) if config.model.lora else unwrapped


_STAGES = {stage.name: stage for stage in (_GroundingStage(), _NarrativeStage())}


def _accelerator(stage_cfg, cpu: bool):
    from accelerate import Accelerator, DataLoaderConfiguration
    from accelerate.utils import DistributedDataParallelKwargs

    return Accelerator(
        cpu=cpu,
        mixed_precision=stage_cfg.mixed_precision,
        dataloader_config=DataLoaderConfiguration(even_batches=True),
        # Stage 1 without a findings head does not use the EEG encoder's token resampler, stage 2
        # not the grounding and findings heads.
        kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)],
    )


def _train_loader(train_data, collate, stage_cfg, config: TrainConfig, repeats: Optional[list[int]]):
    """The training loader and, for an in-memory corpus, its resumable epoch sampler (else None)."""
    loader_kwargs = dict(batch_size=stage_cfg.batch_size, collate_fn=collate, num_workers=config.data.num_workers)
    if hasattr(train_data, "__len__") and not isinstance(train_data, torch.utils.data.IterableDataset):
        sampler = EpochSampler(len(train_data), seed=config.seed, repeats=repeats)
        loader = torch.utils.data.DataLoader(train_data, sampler=sampler, drop_last=len(train_data) > stage_cfg.batch_size, **loader_kwargs)
        return loader, sampler
    return torch.utils.data.DataLoader(train_data, **loader_kwargs), None


def _open_stage_dir(accelerator, config: TrainConfig, stage: str) -> Path:
    """Create the stage folder and write the run's config there (main process); check a corpus is set."""
    stage_dir = config.stage_dir(stage)
    if accelerator.is_main_process:
        stage_dir.mkdir(parents=True, exist_ok=True)
        (stage_dir / "config.json").write_text(json.dumps(config.to_dict(), indent=2, default=str))
    accelerator.wait_for_everyone()
    if config.corpus is None:
        raise ValueError(f"{config.path}: no corpus folder; set 'corpus:' in the config or pass --corpus")
    return stage_dir


def _prepare_optimisation(accelerator, recipe, config: TrainConfig, stage: str, model, train_data, collate):
    """The stage's trainable parameters, loader, optimizer and cosine schedule, prepared by accelerate.

    Returns ``(step_module, optimizer, scheduler, train_loader, sampler)``; ``sampler`` is None for
    a streamed corpus.
    """
    from transformers import get_cosine_schedule_with_warmup

    stage_cfg = config.stage(stage)
    parts = stage_cfg.train or _STAGE_DEFAULT_PARTS[stage]
    trainable = recipe.trainable(model, config, parts)
    logger.info("%s: %d trainable parameters of %d (%s)", stage, sum(p.numel() for p in trainable), sum(p.numel() for p in model.parameters()), parts)
    train_loader, sampler = _train_loader(train_data, collate, stage_cfg, config, recipe.repeats(train_data, config))
    step_module = recipe.step_module(model)
    optimizer = torch.optim.AdamW(trainable, lr=stage_cfg.learning_rate, weight_decay=stage_cfg.weight_decay)
    if sampler is not None:
        step_module, optimizer, train_loader = accelerator.prepare(step_module, optimizer, train_loader)
    else:
        # A streamed corpus is already split between processes by shards
        # (StreamingSegmentDataset); accelerate's dispatcher would need tensor-only batches.
        step_module, optimizer = accelerator.prepare(step_module, optimizer)
    steps = stage_cfg.max_steps or stage_cfg.epochs * max(1, -(-len(train_loader) // stage_cfg.gradient_accumulation_steps))
    scheduler = get_cosine_schedule_with_warmup(optimizer, min(stage_cfg.warmup_steps, steps // 2), steps)
    accelerator.register_for_checkpointing(scheduler)
    return step_module, optimizer, scheduler, train_loader, sampler


def train_stage(
    config: TrainConfig,
    stage: str,
    resume: bool = False,
    cpu: bool = False,
    progress: bool = True,
    stop_after_steps: Optional[int] = None,
) -> Optional[Path]:
    """Run one stage (or, with ``stop_after_steps``, a slice of it that a resume continues).

    Returns:
        The stage's ``final`` model folder on the main process once the stage is complete; None
        on the other processes and after a slice that did not reach the end.
    """
    from accelerate.utils import set_seed

    check_option("stage", stage, sorted(_STAGES))
    recipe, stage_cfg = _STAGES[stage], config.stage(stage)
    accelerator = _accelerator(stage_cfg, cpu)
    set_seed(config.seed)
    stage_dir = _open_stage_dir(accelerator, config, stage)
    model, processor, train_data, validation_data = recipe.load(config, stage_dir, accelerator)
    collate = recipe.collator(config, model, processor)
    step_module, optimizer, scheduler, train_loader, sampler = _prepare_optimisation(
        accelerator, recipe, config, stage, model, train_data, collate
    )

    def loss_fn(module, batch):
        return recipe.loss(module, _device_batch(batch, accelerator.device))

    def validate_fn(module, state: TrainerState) -> dict[str, Any]:
        if validation_data is None or not len(validation_data):
            return {}
        return _validate(accelerator, module, validation_data, collate.without_dropout(), recipe, stage_cfg, processor)

    state = run_training(
        accelerator=accelerator, model=step_module, optimizer=optimizer, scheduler=scheduler, train_loader=train_loader,
        sampler=sampler, stage=stage_cfg, stage_dir=stage_dir, loss_fn=loss_fn, validate_fn=validate_fn, resume=resume,
        progress=progress, stop_after_steps=stop_after_steps,
    )  # fmt: skip
    accelerator.wait_for_everyone()
    final = None
    if state.step < state.total_steps:
        logger.info("%s stopped at step %d of %d; resume with --resume", stage, state.step, state.total_steps)
    else:
        final = _save_final(accelerator, step_module, recipe, config, processor, stage_dir, state, train_loader)
    del step_module, optimizer, scheduler, train_loader, sampler, model
    _end_training(accelerator)
    return final if accelerator.is_main_process else None


def _end_training(accelerator) -> None:
    """Free what accelerate prepared (the DDP module and its reducer, the optimizer, the loader)
    while every process is still there, then destroy the process group.

    Freed after the group was destroyed, at the return of ``train_stage``, the DDP objects of one
    process of a finished 2-process CPU run could wait for ever on a peer that had already gone
    (faulthandler: stuck at ``train_stage``'s call with no deeper Python frame; stop 47, 1 of ~40
    runs under load)."""
    import gc

    accelerator.free_memory()
    gc.collect()
    accelerator.wait_for_everyone()
    accelerator.end_training()


def _save_final(accelerator, step_module, recipe, config: TrainConfig, processor, stage_dir: Path, state, train_loader) -> Path:
    """Write the stage's ``final`` folder (model, processor, training_state.json) on the main process."""
    final = stage_dir / "final"
    unwrapped = accelerator.unwrap_model(step_module).model
    state_dict = accelerator.get_state_dict(step_module)
    if not accelerator.is_main_process:
        return final
    if final.exists():
        shutil.rmtree(final)
    prefix = "model."
    clean = {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)} if state_dict else None
    if config.model.lora and recipe.name == "stage2":
        clean = None  # merged adapters: save the merged module's own weights
    recipe.model_to_save(unwrapped, config).save_pretrained(str(final), state_dict=clean)
    processor.save_pretrained(str(final))
    try:
        epochs = round(state.epoch + state.batches_in_epoch / len(train_loader), 3)
    except TypeError:  # streaming: no epoch length
        epochs = None
    (final / "training_state.json").write_text(
        json.dumps({"stage": recipe.name, "step": state.step, "epochs": epochs, "samples": state.samples}, indent=2)
    )
    logger.info("%s finished at step %d; model saved to %s", recipe.name, state.step, final)
    return final


@torch.no_grad()
def _validate(accelerator, module, validation_data, collate, recipe, stage_cfg, processor) -> dict[str, Any]:
    """Validation loss (and stage 1's retrieval accuracy over the whole split; stage 2's narratives)."""
    module.eval()
    # Each process scores every num_processes-th row; sums and counts are then added up, so the
    # result does not depend on the number of processes (no padding rows counted twice).
    rows = list(range(accelerator.process_index, len(validation_data), accelerator.num_processes))
    totals = torch.zeros(3, dtype=torch.float64, device=accelerator.device)  # loss sum, accuracy sum, batches
    targets = collate.finding_targets or []
    # Findings head, per target: true positives, positives, true negatives, negatives.
    confusion = torch.zeros(len(targets), 4, dtype=torch.float64, device=accelerator.device)
    per_process = -(-len(validation_data) // accelerator.num_processes)
    for start in range(0, max(per_process, 1), stage_cfg.batch_size):
        chunk = rows[start : start + stage_cfg.batch_size]
        if recipe.name == "stage1" and len(chunk) < 2:
            chunk = []  # InfoNCE needs negatives: a lone leftover row is skipped
        # Every process runs the same number of forwards (DDP needs matching calls): an empty
        # chunk runs a dummy forward on row 0 whose result is not counted.
        batch = _device_batch(collate([validation_data[i] for i in (chunk or [0, min(1, len(validation_data) - 1)])]), accelerator.device)
        if recipe.name == "stage1":
            output = recipe.forward(module, batch)
            accuracy = float(output.accuracy)
            if chunk and output.findings_logits is not None:
                predicted, truth = output.findings_logits > 0, batch["finding_targets"] > 0.5
                confusion += torch.stack(
                    [(predicted & truth).sum(0), truth.sum(0), (~predicted & ~truth).sum(0), (~truth).sum(0)], dim=1
                ).to(confusion)
        else:
            output = recipe.forward(module, batch)
            accuracy = 0.0
        if chunk:
            totals += torch.tensor([float(output.loss), accuracy, 1.0], dtype=torch.float64, device=accelerator.device)
    totals = accelerator.reduce(totals, reduction="sum")
    batches = max(float(totals[2]), 1.0)
    record: dict[str, Any] = {"loss": round(float(totals[0]) / batches, 6)}
    if recipe.name == "stage1":
        record["grounding_accuracy"] = round(float(totals[1]) / batches, 6)
        if targets:
            confusion = accelerator.reduce(confusion, reduction="sum").cpu()
            # Balanced accuracy (mean of the true-positive and true-negative rates); a target
            # without positives (or negatives) in the split is scored on the class it has.
            rates = [[tp / n for tp, n in ((row[0], row[1]), (row[2], row[3])) if n > 0] for row in confusion.tolist()]
            record["findings_balanced_accuracy"] = {t: round(sum(r) / len(r), 4) for t, r in zip(targets, rates) if r}
    if recipe.name == "stage2" and stage_cfg.num_generate and accelerator.is_main_process:
        examples = [validation_data[i] for i in range(min(stage_cfg.num_generate, len(validation_data)))]
        model = accelerator.unwrap_model(module).model
        texts = generate_narratives(model, processor, collate.arrays(examples), stage_cfg.max_new_tokens, collate.findings(examples))
        record["samples"] = [{"id": e["id"], "generated": t, "reference": e["description"]} for e, t in zip(examples, texts)]
    return record


@torch.no_grad()
def generate_narratives(
    model, processor, arrays: dict[str, Any], max_new_tokens: int, findings: list | None = None, **generate_kwargs
) -> list[str]:
    """Greedy narratives for the numeric part of a batch (``SegmentCollator.arrays``), through the
    model's one inference path (``generate_narratives``): the segments and their K-segment
    histories are encoded once each, the windows index those encodings. ``generate_kwargs`` go to
    ``generate`` (``do_sample=True, temperature=...``: sampled narratives)."""
    from ..modeling_neuronarrator import SegmentFeatures

    inputs = processor(return_tensors="pt", findings=findings, **arrays)
    device = next(model.parameters()).device
    inputs = {k: v.to(device) for k, v in inputs.items()}
    was_training = model.training
    model.eval()
    batch = inputs["eeg_values"].shape[0]
    parts = [model.model.encode_segments(inputs["eeg_values"], inputs["channel_mask"], inputs["topomaps"])]
    windows = torch.arange(batch)[:, None]
    if "history_eeg_values" in inputs and inputs["history_eeg_values"].shape[1] > 0:
        k = inputs["history_eeg_values"].shape[1]
        present = inputs["history_mask"].cpu().bool()  # (B, K); padding slots are not segments
        if present.any():
            rows_present = present.to(device)
            parts.append(
                model.model.encode_segments(
                    *(inputs[name][rows_present] for name in ("history_eeg_values", "history_channel_mask", "history_topomaps"))
                )
            )
        rows = torch.full((batch, k), -1, dtype=torch.long)
        rows[present] = batch + torch.arange(int(present.sum()))
        windows = torch.cat([rows, windows], dim=1)
    texts = model.generate_narratives(
        processor, SegmentFeatures.concatenate(parts), windows, batch_size=batch, max_new_tokens=max_new_tokens, findings=findings,
        **generate_kwargs,
    )
    model.train(was_training)
    return texts
