"""``neuronarrator train stage1|stage2 --config FILE [--resume]``.

Runs in this process (one CPU, or one GPU), or starts ``accelerate launch`` for several processes
with ``--num-processes N`` (add ``--accelerate-config FILE`` for FSDP/DeepSpeed, see
``training/configs/accelerate_*.yaml``). The module is also an entry point of its own, so
``accelerate launch`` can start it directly::

    accelerate launch --multi_gpu --num_processes 2 -m modeling_neuronarrator.training.cli stage1 --config CONFIG --cpu

(on a CPU-only machine ``--multi_gpu`` selects accelerate's torchrun launcher, the processes train on
the CPU and communicate over gloo; ``accelerate launch --cpu`` would need mpirun).
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
from pathlib import Path

__all__ = ["add_arguments", "run", "main", "launch_command"]

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("stage", choices=("stage1", "stage2"), help="stage1: grounding of the encoders; stage2: narratives")
    parser.add_argument("--config", required=True, type=Path, help="training YAML (see modeling_neuronarrator/training/configs/)")
    parser.add_argument("--resume", action="store_true", help="continue from the stage's last checkpoint")
    parser.add_argument("--output-dir", type=Path, default=None, help="override the config's output_dir")
    parser.add_argument("--corpus", type=Path, default=None, help="override the config's corpus folder")
    parser.add_argument("--max-steps", type=int, default=None, help="override the stage's max_steps")
    parser.add_argument("--init-from", type=Path, default=None, help="stage 2: start from this model folder instead of stage 1's final")
    parser.add_argument("--blind", action="store_true", help="zero every EEG-derived input (the blind-baseline ablation)")
    parser.add_argument("--seed", type=int, default=None, help="override the config's seed (initialization and sample order)")
    parser.add_argument(
        "--stop-after-steps", type=int, default=None, metavar="S",
        help="end this session after S optimizer steps with a checkpoint (a job time slice); --resume continues",
    )  # fmt: skip
    parser.add_argument("--num-processes", type=int, default=1, help="start this many processes with accelerate launch")
    parser.add_argument("--accelerate-config", type=Path, default=None, help="accelerate config file (FSDP, DeepSpeed, GPUs)")
    parser.add_argument("--cpu", action="store_true", help="force CPU even when a GPU is present")
    parser.add_argument("--no-progress", action="store_true", help="no tqdm progress bar")


def _forwarded(args: argparse.Namespace) -> list[str]:
    """The arguments the launched processes get (everything except the launcher's own)."""
    argv = [args.stage, "--config", str(Path(args.config).resolve())]
    if args.resume:
        argv.append("--resume")
    for flag, value in (
        ("--output-dir", args.output_dir),
        ("--corpus", args.corpus),
        ("--max-steps", args.max_steps),
        ("--stop-after-steps", args.stop_after_steps),
        ("--init-from", args.init_from),
        ("--seed", args.seed),
    ):
        if value is not None:
            argv += [flag, str(Path(value).resolve()) if isinstance(value, Path) else str(value)]
    if args.cpu:
        argv.append("--cpu")
    if args.blind:
        argv.append("--blind")
    if args.no_progress:
        argv.append("--no-progress")
    return argv


def launch_command(args: argparse.Namespace) -> list[str]:
    """``python -m accelerate.commands.launch ... -m modeling_neuronarrator.training.cli ...``."""
    command = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", str(args.num_processes)]
    if args.accelerate_config is not None:
        command += ["--config_file", str(Path(args.accelerate_config).resolve())]
    else:
        command += ["--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
        if args.num_processes > 1:
            # accelerate's torchrun launcher; without CUDA (or with --cpu, forwarded to the
            # processes) they train on the CPU and talk over gloo. accelerate's own --cpu flag would
            # pick its MPI launcher instead, which needs mpirun.
            command.append("--multi_gpu")
            # A free rendezvous port, not torchrun's fixed 29500: a second launch on the machine
            # (another training, a stale process) would otherwise wait on the first one's port.
            command += ["--main_process_port", str(_free_port())]
    forwarded = _forwarded(args)
    if not args.cpu and not _has_cuda():
        forwarded.append("--cpu")
    return command + ["-m", "modeling_neuronarrator.training.cli", *forwarded]


def _free_port() -> int:
    """A TCP port nothing listens on now (the OS picks it)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def run(args: argparse.Namespace) -> int:
    if args.num_processes < 1:
        raise ValueError(f"--num-processes must be >= 1, got {args.num_processes}")
    launched_by_accelerate = "LOCAL_RANK" in os.environ or "ACCELERATE_MIXED_PRECISION" in os.environ
    if (args.num_processes > 1 or args.accelerate_config is not None) and not launched_by_accelerate:
        command = launch_command(args)
        print("launching:", " ".join(command), file=sys.stderr)
        return subprocess.call(command)

    from .config import load_config
    from .trainer import train_stage

    # Paths given on the command line are relative to the working directory (the config's own
    # paths are relative to the config file).
    overrides = {key: None if value is None else str(Path(value).resolve()) for key, value in (("output_dir", args.output_dir), ("corpus", args.corpus))}
    config = load_config(args.config, overrides=overrides)
    if args.max_steps is not None:
        config.stage(args.stage).max_steps = args.max_steps
    if args.init_from is not None:
        config.stage2.init_from = str(Path(args.init_from).resolve())
    if args.blind:
        config.data.blind = True
    if args.seed is not None:
        config.seed = args.seed
    final = train_stage(
        config, args.stage, resume=args.resume, cpu=args.cpu, progress=not args.no_progress, stop_after_steps=args.stop_after_steps
    )
    if final is not None:
        print(f"{args.stage}: model saved to {final}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m modeling_neuronarrator.training.cli", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true")
    add_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        return run(args)
    except (ValueError, FileNotFoundError, TypeError) as error:
        print(f"neuronarrator train {args.stage}: error: {error}", file=sys.stderr)
        return 2


def _exit_launched_worker(code: int) -> None:
    """End a process ``accelerate launch`` started for a run of several processes, skipping the
    interpreter's teardown: ``os._exit`` once its output is flushed.

    Its work is done and written (the stage's folders are moved into place atomically), but the
    teardown can hang: one rank of a finished 2-process CPU run (stop 46's CI; 1 of 7 runs under
    load here) never exited after "model saved", stuck in C++ finalization with no Python frame
    left (faulthandler), and the launcher waits on it for ever (pytorch/pytorch#75097 describes the
    same at process-group teardown)."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    code = main()
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        _exit_launched_worker(code)
    sys.exit(code)
