"""The training loop shared by both stages: epochs, gradient accumulation, checkpoints, resume, logs.

What a stage provides is a ``loss_fn(model, batch) -> (loss, metrics)`` and optionally a
``validate_fn(model, state) -> metrics``; everything else lives here:

- **Deterministic data order.** ``EpochSampler`` draws one permutation per epoch from
  ``(seed, epoch)``; Accelerate shards its batches across processes. Resuming sets the epoch and
  skips the batches already consumed (``accelerator.skip_first_batches``), so an interrupted run
  sees exactly the batches an uninterrupted run sees.
- **Checkpoints.** ``<stage_dir>/checkpoints/step_<N>/``: ``accelerator.save_state`` (model as
  safetensors, optimizer, scheduler, RNG states of every process) plus ``trainer_state.json``
  (step, epoch, batches consumed). Written every ``save_every`` optimizer steps and at the end.
- **Logs.** ``<stage_dir>/metrics.jsonl``: one JSON object per line (step, epoch, loss, learning
  rate, samples/s, the stage's own metrics, a CRC of the row ids of the step's batches so data
  order can be compared between runs). On resume, lines past the checkpoint's step are dropped, so
  the log of an interrupted-and-resumed run equals the log of an uninterrupted one.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import time
import zlib
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Sequence

import numpy as np
import torch
from torch.utils.data import Sampler

from .config import StageSection

__all__ = [
    "EpochSampler",
    "TrainerState",
    "JsonlLogger",
    "find_last_checkpoint",
    "save_checkpoint",
    "ids_digest",
    "run_training",
]

logger = logging.getLogger(__name__)

CHECKPOINT_PREFIX = "step_"
STATE_FILE = "trainer_state.json"


class EpochSampler(Sampler[int]):
    """A shuffling sampler whose order depends only on ``(seed, epoch)``.

    ``torch.randperm`` with a generator seeded by ``seed * 1_000_003 + epoch`` gives the same
    permutation in every process and in every run, which is what makes resume and multi-process
    sharding agree with a single uninterrupted run. ``repeats`` (one int >= 1 per row) lets a row
    appear that many times per epoch: oversampling of rare rows (e.g. segments with artifacts).
    """

    def __init__(self, num_rows: int, seed: int, shuffle: bool = True, repeats: Optional[Sequence[int]] = None):
        if num_rows < 1:
            raise ValueError("EpochSampler: the dataset is empty (0 rows); check the corpus split")
        self.seed = seed
        self.shuffle = shuffle
        self.epoch = 0
        self.rows = np.arange(num_rows)
        if repeats is not None:
            repeats = np.asarray(repeats, dtype=np.int64)
            if repeats.shape != (num_rows,) or (repeats < 1).any():
                raise ValueError(f"EpochSampler: repeats must hold one int >= 1 per row ({num_rows} rows), got shape {repeats.shape}")
            self.rows = np.repeat(self.rows, repeats)
        self.num_rows = len(self.rows)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.num_rows

    def __iter__(self) -> Iterator[int]:
        if not self.shuffle:
            return iter(self.rows.tolist())
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        return iter(self.rows[torch.randperm(self.num_rows, generator=generator).numpy()].tolist())


@dataclass
class TrainerState:
    step: int = 0  # optimizer steps done
    epoch: int = 0  # current epoch (0-based)
    batches_in_epoch: int = 0  # dataloader batches of `epoch` already consumed (per process)
    samples: int = 0  # samples seen, all processes together
    total_steps: int = 0

    def save(self, folder: Path) -> None:
        (folder / STATE_FILE).write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, folder: Path) -> "TrainerState":
        path = folder / STATE_FILE
        if not path.is_file():
            raise FileNotFoundError(f"{folder}: no {STATE_FILE}; this is not a complete checkpoint (delete it and resume from an older one)")
        return cls(**json.loads(path.read_text()))


class JsonlLogger:
    """Appends one JSON object per line; only the main process writes."""

    def __init__(self, path: Path, enabled: bool):
        self.path = Path(path)
        self.enabled = enabled

    def truncate_after(self, step: int) -> None:
        """Drop lines logged after ``step`` (they belong to the part of a run that a resume replays)."""
        if not self.enabled or not self.path.is_file():
            return
        kept = [line for line in self.path.read_text().splitlines() if line.strip() and json.loads(line).get("step", 0) <= step]
        self.path.write_text("".join(line + "\n" for line in kept))

    def reset(self) -> None:
        if self.enabled and self.path.is_file():
            self.path.unlink()

    def log(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as handle:
            handle.write(json.dumps(record, sort_keys=True) + "\n")


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def find_last_checkpoint(stage_dir: Path) -> Optional[Path]:
    """The ``step_<N>`` folder with the highest N that holds a trainer state, or None."""
    folder = Path(stage_dir) / "checkpoints"
    if not folder.is_dir():
        return None
    candidates = [p for p in folder.iterdir() if p.name.startswith(CHECKPOINT_PREFIX) and (p / STATE_FILE).is_file()]
    return max(candidates, key=lambda p: int(p.name[len(CHECKPOINT_PREFIX):]), default=None)


def save_checkpoint(accelerator, stage_dir: Path, state: TrainerState, keep: int) -> Path:
    """Write ``checkpoints/step_<N>`` (all processes take part) and prune older ones."""
    folder = Path(stage_dir) / "checkpoints" / f"{CHECKPOINT_PREFIX}{state.step:08d}"
    accelerator.save_state(str(folder))
    if accelerator.is_main_process:
        # The trainer state goes last: a folder without it is an interrupted save, ignored by resume.
        state.save(folder)
        older = sorted(p for p in folder.parent.iterdir() if p.name.startswith(CHECKPOINT_PREFIX) and p != folder)
        for stale in older[: max(0, len(older) - (keep - 1))]:
            shutil.rmtree(stale, ignore_errors=True)
    accelerator.wait_for_everyone()
    logger.info("checkpoint written: %s", folder)
    return folder


def ids_digest(ids: list[str]) -> int:
    """CRC32 of the row ids of a batch, in order: a compact fingerprint of the data order."""
    return zlib.crc32("\n".join(ids).encode())


def _steps_per_epoch(train_loader, gradient_accumulation_steps: int) -> Optional[int]:
    try:
        return max(1, math.ceil(len(train_loader) / gradient_accumulation_steps))
    except TypeError:  # an iterable (streaming) loader has no length
        return None


class _MetricsWindow:
    """Micro-batch metrics between two log lines, reduced over processes when logged."""

    def __init__(self):
        self.start, self.samples, self.metrics, self.digests = time.perf_counter(), 0, [], []

    def add(self, batch: dict, loss: torch.Tensor, metrics: dict[str, float]) -> None:
        self.samples += int(batch["eeg_values"].shape[0]) if "eeg_values" in batch else 0
        self.metrics.append({"loss": float(loss.detach()), **metrics})
        self.digests.append(ids_digest(batch.get("ids", [])))

    def record(self, accelerator, state: TrainerState, learning_rate: float) -> dict[str, Any]:
        """The log record of the window (a collective: every process calls it); starts a new window."""
        record = _reduce_window(accelerator, self.metrics, self.samples, self.digests)
        elapsed = max(time.perf_counter() - self.start, 1e-9)
        state.samples += int(record.pop("samples"))
        record.update(step=state.step, epoch=state.epoch, learning_rate=learning_rate,
                      samples_per_s=round(record["samples_window"] / elapsed, 3))  # fmt: skip
        self.__init__()
        return record


def _total_steps(stage: StageSection, steps_per_epoch: Optional[int]) -> int:
    if stage.max_steps is not None:
        return stage.max_steps
    if steps_per_epoch is not None:
        return stage.epochs * steps_per_epoch
    raise ValueError("a streaming corpus has no length: set max_steps in the stage section of the config")


def _restore(accelerator, stage_dir: Path, resume: bool, total_steps: int, metrics_log: JsonlLogger) -> tuple[TrainerState, bool]:
    """The state to start from: the last checkpoint's with ``resume`` (and True), else a fresh one."""
    checkpoint = find_last_checkpoint(stage_dir) if resume else None
    if resume and checkpoint is None:
        logger.warning("--resume: no checkpoint under %s/checkpoints; starting from step 0", stage_dir)
    if checkpoint is None:
        metrics_log.reset()
        return TrainerState(total_steps=total_steps), False
    accelerator.load_state(str(checkpoint))
    state = TrainerState.load(checkpoint)
    state.total_steps = total_steps
    metrics_log.truncate_after(state.step)
    logger.info("resumed from %s at step %d (epoch %d, batch %d)", checkpoint, state.step, state.epoch, state.batches_in_epoch)
    return state, True


def _epoch_loader(accelerator, train_loader, sampler: Optional[EpochSampler], state: TrainerState):
    """The loader for the current epoch, reshuffled for it and past the batches already seen."""
    if sampler is not None:
        sampler.set_epoch(state.epoch)
    if hasattr(train_loader, "set_epoch"):
        train_loader.set_epoch(state.epoch)
    elif hasattr(getattr(train_loader, "dataset", None), "set_epoch"):
        train_loader.dataset.set_epoch(state.epoch)  # a streamed dataset's shuffle buffer
    if state.batches_in_epoch:
        return accelerator.skip_first_batches(train_loader, state.batches_in_epoch)
    return train_loader


def _validate_into_log(validate_fn, model, state: TrainerState, metrics_log: JsonlLogger, epoch: int) -> None:
    record = validate_fn(model, state)
    if record:
        metrics_log.log({"step": state.step, "epoch": epoch, "split": "validation", **record})


def run_training(
    *,
    accelerator,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler,
    train_loader,
    sampler: Optional[EpochSampler],
    stage: StageSection,
    stage_dir: Path,
    loss_fn: Callable[[torch.nn.Module, dict], tuple[torch.Tensor, dict[str, float]]],
    validate_fn: Optional[Callable[[torch.nn.Module, TrainerState], dict[str, Any]]] = None,
    resume: bool = False,
    progress: bool = True,
    stop_after_steps: Optional[int] = None,
) -> TrainerState:
    """Train until ``stage.max_steps`` optimizer steps or ``stage.epochs`` epochs, whichever is set.

    ``model``, ``optimizer`` and ``train_loader`` must already be passed through
    ``accelerator.prepare``; ``scheduler`` is stepped here once per optimizer step (not prepared,
    so the learning-rate schedule does not depend on the number of processes) and must be
    registered with ``accelerator.register_for_checkpointing``.

    ``stop_after_steps`` ends this session after that many optimizer steps (a job time slice on
    a preemptible cluster, or an interruption in tests): a checkpoint is written and a later
    ``resume=True`` call carries on exactly where this one stopped.

    Returns the final ``TrainerState``; the last checkpoint holds the same state.
    """
    stage_dir = Path(stage_dir)
    metrics_log = JsonlLogger(stage_dir / "metrics.jsonl", enabled=accelerator.is_main_process)
    accumulation = stage.gradient_accumulation_steps
    steps_per_epoch = _steps_per_epoch(train_loader, accumulation)
    total_steps = _total_steps(stage, steps_per_epoch)
    state, resumed = _restore(accelerator, stage_dir, resume, total_steps, metrics_log)
    accelerator.wait_for_everyone()
    bar = _progress_bar(accelerator, progress, total_steps, state, stage_dir)
    model.train()
    run = _Session(
        accelerator, model, optimizer, scheduler, stage, stage_dir, loss_fn, metrics_log, bar, total_steps,
        epoch_batches=len(train_loader) if steps_per_epoch is not None else None,
        session_end=total_steps if stop_after_steps is None else min(total_steps, state.step + int(stop_after_steps)),
        last_saved_step=state.step if resumed else -1,
    )  # fmt: skip
    while state.step < run.session_end:
        if not _train_epoch(run, _epoch_loader(accelerator, train_loader, sampler, state), state):
            break
        # The loader ran out: the epoch is complete.
        state.epoch += 1
        state.batches_in_epoch = 0
        if validate_fn is not None and stage.validate_every_epoch:
            _validate_into_log(validate_fn, model, state, metrics_log, state.epoch - 1)
            model.train()
    if bar is not None:
        bar.close()
    if run.last_saved_step != state.step:
        save_checkpoint(accelerator, stage_dir, state, stage.keep_checkpoints)
    if validate_fn is not None and state.batches_in_epoch and state.step >= total_steps:
        # A run cut by max_steps mid-epoch still ends with one validation.
        _validate_into_log(validate_fn, model, state, metrics_log, state.epoch)
    return state


def _progress_bar(accelerator, progress: bool, total_steps: int, state: TrainerState, stage_dir: Path):
    """A tqdm bar over the stage's steps on the local main process with ``progress``, else None."""
    if not (progress and accelerator.is_local_main_process):
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total_steps, initial=state.step, desc=stage_dir.name, unit="step", dynamic_ncols=True)


@dataclass
class _Session:
    """What one ``run_training`` call steps with: the prepared objects, the metrics log and bar,
    ``total_steps`` of the stage, ``epoch_batches`` (None when streaming), ``session_end`` (the
    step this call stops at) and the last step checkpointed."""

    accelerator: Any
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Any
    stage: StageSection
    stage_dir: Path
    loss_fn: Callable[[torch.nn.Module, dict], tuple[torch.Tensor, dict[str, float]]]
    metrics_log: JsonlLogger
    bar: Any
    total_steps: int
    epoch_batches: Optional[int]
    session_end: int
    last_saved_step: int
    window: _MetricsWindow = field(default_factory=_MetricsWindow)


def _train_epoch(run: _Session, loader, state: TrainerState) -> bool:
    """Train on the rest of the epoch's ``loader``: True when it ran out (the epoch is complete),
    False when the session's last step was reached first."""
    accumulation = run.stage.gradient_accumulation_steps
    for batch in loader:
        state.batches_in_epoch += 1
        sync = state.batches_in_epoch % accumulation == 0 or state.batches_in_epoch == run.epoch_batches
        # Gradient all-reduce only on the micro-batch that ends an accumulation window.
        with nullcontext() if sync else run.accelerator.no_sync(run.model):
            with run.accelerator.autocast():
                loss, metrics = run.loss_fn(run.model, batch)
            run.accelerator.backward(loss / accumulation)
        run.window.add(batch, loss, metrics)
        if not sync:
            continue
        _optimizer_step(run, state)
        if state.step >= run.session_end:
            return False
    return True


def _optimizer_step(run: _Session, state: TrainerState) -> None:
    """One optimizer step (gradients clipped to ``max_grad_norm``), then the progress bar, the
    ``log_every`` metrics record and the ``save_every`` checkpoint."""
    stage = run.stage
    if stage.max_grad_norm:
        run.accelerator.clip_grad_norm_([p for p in run.model.parameters() if p.requires_grad], stage.max_grad_norm)
    run.optimizer.step()
    run.scheduler.step()
    run.optimizer.zero_grad(set_to_none=True)
    state.step += 1
    if run.bar is not None:
        run.bar.update(1)
        run.bar.set_postfix(loss=f"{run.window.metrics[-1]['loss']:.3f}")
    if state.step % stage.log_every == 0 or state.step == run.total_steps:
        run.metrics_log.log(run.window.record(run.accelerator, state, run.scheduler.get_last_lr()[0]))
    if state.step % stage.save_every == 0 or state.step == run.total_steps:
        save_checkpoint(run.accelerator, run.stage_dir, state, stage.keep_checkpoints)
        run.last_saved_step = state.step


def _reduce_window(accelerator, window_metrics, window_samples, window_digests) -> dict[str, Any]:
    """Average the window's metrics over micro-batches and processes (a collective: all ranks call it)."""
    keys = sorted({k for m in window_metrics for k in m})
    local = torch.tensor(
        [sum(m.get(k, 0.0) for m in window_metrics) / max(len(window_metrics), 1) for k in keys] + [float(window_samples)],
        dtype=torch.float64,
        device=accelerator.device,
    )
    gathered = accelerator.gather(local.unsqueeze(0)).reshape(-1, len(keys) + 1).cpu()
    means = gathered[:, :-1].mean(dim=0).tolist()
    samples = float(gathered[:, -1].sum())
    digest = zlib.crc32(json.dumps(window_digests).encode())
    digests = accelerator.gather(torch.tensor([digest], dtype=torch.int64, device=accelerator.device)).cpu().tolist()
    record = {k: round(v, 6) for k, v in zip(keys, means)}
    record.update(samples=samples, samples_window=samples, data_crc=digests)
    return record
