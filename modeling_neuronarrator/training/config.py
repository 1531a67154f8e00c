"""Training configuration: one YAML file describes the model, the data and both stages.

A config file has four sections (see ``configs/*.yaml``)::

    seed: 0
    output_dir: runs/default_cpu        # relative paths resolve against the YAML file's folder
    corpus: ../../corpus/offline        # a folder written by ``neuronarrator build-corpus``
    model:    {preset: default, tokenizer_vocab_size: 2000, overrides: {...}}
    data:     {history: 3, streaming: false, num_workers: 0, max_text_tokens: 192}
    stage1:   {epochs: 20, batch_size: 32, learning_rate: 1.0e-3, ...}
    stage2:   {epochs: 30, batch_size: 16, learning_rate: 1.0e-3, train: [projector, history, text], ...}

Every key is checked: an unknown key raises a ``ValueError`` that names the file, the key and the
keys allowed there, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import yaml

from ..findings_neuronarrator import DEFAULT_HISTORY_LENGTH
from ..validation_neuronarrator import check_option
from .mirror import MIRROR_MODES

__all__ = ["ModelSection", "DataSection", "StageSection", "TrainConfig", "load_config", "STAGES"]

STAGES = ("stage1", "stage2")
MODEL_PRESETS = ("default", "tiny", "smollm2")
TRAINABLE_PARTS = ("eeg_encoder", "topomap_encoder", "projector", "history", "text")
MIXED_PRECISION = ("no", "bf16", "fp16")
SPLIT_MODES = ("corpus", "time_block", "subjects")


@dataclass
class ModelSection:
    """How to build the model before stage 1 (stage 2 always starts from stage 1's folder)."""

    preset: str = "default"  # one of MODEL_PRESETS
    overrides: dict[str, Any] = field(default_factory=dict)  # NeuroNarratorConfig keyword overrides
    tokenizer_vocab_size: int = 2000  # own BPE tokenizer trained on the train descriptions
    tokenizer_split_digits: bool = False  # one token per digit in that tokenizer (training.tokenizer)
    text_model_path: Optional[str] = None  # a pretrained causal-LM folder (smollm2 preset)
    lora: Optional[dict[str, Any]] = None  # peft LoraConfig kwargs for stage 2, e.g. {r: 8}


@dataclass
class DataSection:
    history: int = DEFAULT_HISTORY_LENGTH  # K preceding segments of the same recording given to stage 2
    streaming: bool = False  # datasets streaming=True for a corpus larger than memory
    shuffle_buffer: int = 2048  # streaming only: shuffle buffer size in rows
    num_workers: int = 0  # DataLoader worker processes
    max_text_tokens: int = 192  # narrative tokens kept (longer targets are truncated)
    train_split: str = "train"
    validation_split: str = "validation"
    limit: Optional[int] = None  # use only the first N rows of each split (smoke tests)
    blind: bool = False  # zero every EEG-derived input: the blind-baseline ablation
    # "corpus": the corpus's own (subject-disjoint) splits. "time_block": every recording's last
    # ``time_block_fraction`` of segments is held out (validation = test) and the rest trains;
    # for corpora with too few subjects to split by subject (the offline corpus has three).
    # "subjects": every row of the ``heldout_subjects`` ("source/subject") is held out (validation
    # = test) and the other subjects train, whatever the corpus's splits say: a subject-disjoint
    # test on a corpus too small for the hashed splits to land where one wants.
    split_mode: str = "corpus"
    time_block_fraction: float = 0.2
    heldout_subjects: list[str] = field(default_factory=list)
    # Held-out rows of scenario copies numbered above this are left out of the held-out set (the
    # recorded segments and copies 1..N are scored): the training corpus can carry more copies
    # than its evaluation needs, and generation is the evaluation's cost. None: every copy.
    heldout_scenario_copies: Optional[int] = None
    # Stage 2: a training row whose findings report an artifact is seen this many times per epoch
    # (artifacts are rare, and a narrator trained on the raw mix learns to say "no artifacts").
    artifact_repeats: int = 1
    # Stage 2: a training row whose source label takes one of these values is seen this many times
    # per epoch, e.g. {recording_quality: {bad_span: 3}}: a rare label value the narrator must name
    # from the EEG (the larger of this and artifact_repeats applies).
    label_repeats: dict[str, dict[str, int]] = field(default_factory=dict)
    # Stage 2: a recording's first segment (no preceding segment: the measured line says "change
    # first segment" and the narrative has no change sentence) is seen this many times per epoch.
    # First segments are 0.8 % of the offline training rows; stop 38's default wrote a change
    # sentence on all 93 validation first segments (the larger of this and the other repeats applies).
    first_segment_repeats: int = 1
    # Stage 2: the share of training rows whose EEG-derived inputs are zeroed as in the blind
    # ablation (modality dropout), so the narrator learns to copy the measured findings from its
    # prompt: with the EEG always there, it learned to read the region and the slowing site from the
    # EEG tokens as well, which on unseen subjects overrode the prompt (stop 24: held-out predominant
    # region 0.94 with EEG, 0.99 blind). Validation batches keep their EEG. Stop 25 tried 0.25 (with
    # digit tokens and balanced focal sites): s02's predominant-region flags stayed (24 of 120); off in the configs.
    eeg_dropout: float = 0.0
    # Stage 2: the share of training rows seen mirrored left to right (training.mirror), so that no
    # subject's background comes with one side only.
    hemisphere_mirror: float = 0.0
    # What a mirrored row swaps. "swap": EEG, measured findings and narrative together (a hemisphere
    # swap; stop 29's trial at 0.5: the narrator took sides from the EEG alone and ignored its prompt,
    # validation slowing side 0.94 -> 0.51). "signal": the EEG-derived inputs only; the prompt and the
    # narrative keep the measured sides, so the EEG says nothing about side that the prompt does not
    # and the narrator learns to take sides from its measured line (stop 30's trial at 0.5: slowing
    # side 0.94 -> 0.96, recording quality 0.87 -> 0.75, stimulus 0.36 -> 0.30; not in the configs).
    mirror_mode: str = "swap"
    # Stage 2, findings-conditioned: the loss weight of the narrative tokens that copy a value of the
    # measured line (sides, regions, digits; data.measured_value_token_ids), the others weighing 1;
    # the loss is the weighted mean. 1: the plain mean.
    measured_token_weight: float = 1.0
    # The measured-line fields whose values that weight applies to (names of
    # processing_neuronarrator.MEASURED_FIELDS, e.g. [asymmetry, slowing]); None: every field.
    measured_token_weight_fields: Optional[list[str]] = None
    # Of those fields, the ones whose value tokens weigh only inside the narrative's own sentences of
    # the field (data.measured_sentence_token_mask): an event's digits and channel names are tokens
    # every other sentence uses too, so weighing the ids narrative-wide spreads the weight over the
    # whole text (stop 42's trial of [asymmetry, slowing, events]). None or []: narrative-wide.
    measured_token_sentence_fields: Optional[list[str]] = None
    # The loss weight of the other tokens of the narrative's sentences that state those fields
    # (data.measured_sentence_token_mask), whatever the value: "cannot be judged from this montage"
    # has no value token of the line ("not_assessable") to weigh. 1: as every other token.
    measured_sentence_weight: float = 1.0


@dataclass
class StageSection:
    epochs: int = 1
    max_steps: Optional[int] = None  # stop after this many optimizer steps (overrides epochs)
    batch_size: int = 16  # per process
    gradient_accumulation_steps: int = 1
    learning_rate: float = 1e-3
    weight_decay: float = 0.01
    warmup_steps: int = 10
    max_grad_norm: float = 1.0
    mixed_precision: str = "no"  # one of MIXED_PRECISION
    save_every: int = 100  # optimizer steps between checkpoints (a final one is always written)
    keep_checkpoints: int = 2  # older step_* folders are deleted
    log_every: int = 10  # optimizer steps between JSONL metric lines
    validate_every_epoch: bool = True
    num_generate: int = 3  # stage 2: narratives generated and logged at each validation
    max_new_tokens: int = 160  # stage 2 generation length at validation
    train: list[str] = field(default_factory=list)  # parts to train; empty = the stage's default
    init_from: Optional[str] = None  # stage 2: folder to start from (default: stage 1's final)


@dataclass
class TrainConfig:
    path: Path  # the YAML file (for messages and relative paths)
    seed: int = 0
    output_dir: Path = Path("runs/neuronarrator")
    corpus: Optional[Path] = None
    model: ModelSection = field(default_factory=ModelSection)
    data: DataSection = field(default_factory=DataSection)
    stage1: StageSection = field(default_factory=StageSection)
    stage2: StageSection = field(default_factory=StageSection)

    def stage(self, name: str) -> StageSection:
        _check_option(self.path, "stage", name, STAGES)
        return getattr(self, name)

    def stage_dir(self, name: str) -> Path:
        """``output_dir/<stage>``: checkpoints, ``metrics.jsonl`` and the ``final`` model folder."""
        return self.output_dir / name

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["path"] = str(self.path)
        data["output_dir"] = str(self.output_dir)
        data["corpus"] = None if self.corpus is None else str(self.corpus)
        return data


def _check_option(path: Path, key: str, value: Any, allowed: tuple) -> Any:
    return check_option(key, value, allowed, where=str(path))


def _section(path: Path, name: str, cls: type, raw: Any) -> Any:
    if raw is None:
        return cls()
    if not isinstance(raw, dict):
        raise TypeError(f"{path}: section '{name}' must be a mapping of keys to values, got {type(raw).__name__}")
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ValueError(f"{path}: unknown key(s) {unknown} in section '{name}'; allowed keys are {sorted(known)}")
    return cls(**raw)


def _resolve(base: Path, value: Optional[str]) -> Optional[Path]:
    if value is None:
        return None
    candidate = Path(str(value)).expanduser()
    return candidate if candidate.is_absolute() else (base / candidate).resolve()


def load_config(path: str | Path, overrides: Optional[dict[str, Any]] = None) -> TrainConfig:
    """Read and validate a training YAML file.

    Args:
        path: the YAML file.
        overrides: top-level values that replace the file's (the CLI's ``--output-dir`` / ``--corpus``).

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError / TypeError: unknown keys, wrong types or values outside the allowed options,
            with the file name and the allowed values in the message.
    """
    path = Path(path).expanduser().resolve()
    raw = _read_yaml(path)
    raw.update({k: v for k, v in (overrides or {}).items() if v is not None})
    top = {"seed", "output_dir", "corpus", "model", "data", "stage1", "stage2"}
    unknown = sorted(set(raw) - top)
    if unknown:
        raise ValueError(f"{path}: unknown top-level key(s) {unknown}; allowed keys are {sorted(top)}")

    base = path.parent
    config = TrainConfig(
        path=path,
        seed=int(raw.get("seed", 0)),
        output_dir=_resolve(base, raw.get("output_dir", "runs/neuronarrator")),
        corpus=_resolve(base, raw.get("corpus")),
        model=_section(path, "model", ModelSection, raw.get("model")),
        data=_section(path, "data", DataSection, raw.get("data")),
        stage1=_section(path, "stage1", StageSection, raw.get("stage1")),
        stage2=_section(path, "stage2", StageSection, raw.get("stage2")),
    )
    _check_option(path, "model.preset", config.model.preset, MODEL_PRESETS)
    if not isinstance(config.model.tokenizer_split_digits, bool):
        raise ValueError(f"{path}: model.tokenizer_split_digits must be true or false, got {config.model.tokenizer_split_digits!r}")
    if config.model.text_model_path is not None:
        config.model.text_model_path = str(_resolve(base, config.model.text_model_path))
    _check_data(path, config.data)
    for name in STAGES:
        _check_stage(path, name, getattr(config, name), base)
    return config


def _read_yaml(path: Path) -> dict[str, Any]:
    """The YAML file's top-level mapping (empty for an empty file)."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: training config not found; pass an existing YAML file (see modeling_neuronarrator/training/configs/)")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise ValueError(f"{path}: not valid YAML ({error}); fix the syntax") from error
    if not isinstance(raw, dict):
        raise TypeError(f"{path}: the top level must be a mapping (seed, output_dir, corpus, model, data, stage1, stage2)")
    return raw


def _check_data(path: Path, data: DataSection) -> None:
    """Validate the ``data`` section (split mode, held-out subjects, copies, repeats, history)."""
    _check_option(path, "data.split_mode", data.split_mode, SPLIT_MODES)
    if not 0.0 < float(data.time_block_fraction) < 1.0:
        raise ValueError(f"{path}: data.time_block_fraction must be in (0, 1), got {data.time_block_fraction}")
    if data.split_mode == "subjects":
        bad = [s for s in data.heldout_subjects if not isinstance(s, str) or s.count("/") != 1]
        if not data.heldout_subjects or bad:
            raise ValueError(
                f"{path}: split_mode 'subjects' needs data.heldout_subjects, a list of 'source/subject' strings "
                f"(e.g. ['pylossless/s02']); got {data.heldout_subjects!r}"
            )
    copies = data.heldout_scenario_copies
    if copies is not None and (not isinstance(copies, int) or isinstance(copies, bool) or copies < 0):
        raise ValueError(f"{path}: data.heldout_scenario_copies must be an int >= 0 or null (every copy), got {copies!r}")
    if not isinstance(data.artifact_repeats, int) or data.artifact_repeats < 1:
        raise ValueError(f"{path}: data.artifact_repeats must be an int >= 1 (1 = no oversampling), got {data.artifact_repeats!r}")
    _check_label_repeats(path, data.label_repeats)
    if not isinstance(data.first_segment_repeats, int) or isinstance(data.first_segment_repeats, bool) or data.first_segment_repeats < 1:
        raise ValueError(
            f"{path}: data.first_segment_repeats must be an int >= 1 (1 = no oversampling), got {data.first_segment_repeats!r}"
        )
    if isinstance(data.eeg_dropout, bool) or not isinstance(data.eeg_dropout, (int, float)) or not 0.0 <= data.eeg_dropout < 1.0:
        raise ValueError(f"{path}: data.eeg_dropout must be a number in [0, 1) (the share of stage-2 rows seen without EEG), got {data.eeg_dropout!r}")
    mirror = data.hemisphere_mirror
    if isinstance(mirror, bool) or not isinstance(mirror, (int, float)) or not 0.0 <= mirror <= 1.0:
        raise ValueError(f"{path}: data.hemisphere_mirror must be a number in [0, 1] (the share of stage-2 rows seen mirrored left to right), got {mirror!r}")
    if data.mirror_mode not in MIRROR_MODES:
        raise ValueError(f"{path}: data.mirror_mode must be one of {list(MIRROR_MODES)} (what a mirrored row swaps), got {data.mirror_mode!r}")
    for name in ("measured_token_weight", "measured_sentence_weight"):
        weight = getattr(data, name)
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not weight > 0:
            raise ValueError(f"{path}: data.{name} must be a number > 0 (1 = every narrative token weighs the same), got {weight!r}")
    from ..processing_neuronarrator import MEASURED_FIELDS

    fields = data.measured_token_weight_fields
    if fields is not None:
        if not isinstance(fields, list) or not fields or any(f not in MEASURED_FIELDS for f in fields):
            raise ValueError(
                f"{path}: data.measured_token_weight_fields must be a non-empty list of measured-line fields "
                f"{list(MEASURED_FIELDS)} (or absent: every field), got {fields!r}"
            )
    scoped = data.measured_token_sentence_fields
    if scoped is not None:
        weighed = fields if fields is not None else list(MEASURED_FIELDS)
        if not isinstance(scoped, list) or any(f not in weighed for f in scoped):
            raise ValueError(
                f"{path}: data.measured_token_sentence_fields must be a list of fields of data.measured_token_weight_fields "
                f"{weighed} (the values weighed only inside their own sentences), got {scoped!r}"
            )
    if data.history < 0:
        raise ValueError(f"{path}: data.history must be >= 0 (number of preceding segments), got {data.history}")


def _check_label_repeats(path: Path, label_repeats: Any) -> None:
    """``data.label_repeats``: {label key: {value: int >= 1}}, keys and values of the label vocabulary."""
    from dataset_builder.labels import LABEL_VOCABULARY

    example = "e.g. {recording_quality: {bad_span: 3}}"
    if not isinstance(label_repeats, dict):
        raise ValueError(f"{path}: data.label_repeats must map a label key to {{value: repeats}} ({example}), got {label_repeats!r}")
    for key, values in label_repeats.items():
        if key not in LABEL_VOCABULARY:
            raise ValueError(f"{path}: data.label_repeats: unknown label key {key!r}; known: {', '.join(sorted(LABEL_VOCABULARY))}")
        if not isinstance(values, dict) or not values:
            raise ValueError(f"{path}: data.label_repeats.{key} must map label values to repeats ({example}), got {values!r}")
        for value, repeats in values.items():
            if value not in LABEL_VOCABULARY[key]:
                raise ValueError(
                    f"{path}: data.label_repeats.{key}: unknown value {value!r}; known: {', '.join(sorted(LABEL_VOCABULARY[key]))}"
                )
            if not isinstance(repeats, int) or isinstance(repeats, bool) or repeats < 1:
                raise ValueError(f"{path}: data.label_repeats.{key}.{value} must be an int >= 1, got {repeats!r}")


def _check_stage(path: Path, name: str, stage: StageSection, base: Path) -> None:
    """Validate one stage section in place: options, positive counts, floats, ``init_from`` resolved against ``base``."""
    _check_option(path, f"{name}.mixed_precision", stage.mixed_precision, MIXED_PRECISION)
    for part in stage.train:
        _check_option(path, f"{name}.train", part, TRAINABLE_PARTS)
    for key in ("epochs", "batch_size", "gradient_accumulation_steps", "save_every", "log_every"):
        if int(getattr(stage, key)) < 1:
            raise ValueError(f"{path}: {name}.{key} must be >= 1, got {getattr(stage, key)}")
    if stage.max_steps is not None and stage.max_steps < 1:
        raise ValueError(f"{path}: {name}.max_steps must be >= 1 or null, got {stage.max_steps}")
    stage.learning_rate = float(stage.learning_rate)
    stage.weight_decay = float(stage.weight_decay)
    if stage.init_from is not None:
        stage.init_from = str(_resolve(base, stage.init_from))
