"""GPU figures of the NeuroNarrator model (embedded default size). Needs CUDA; CI has none.

Run ``python eval/benchmark_gpu.py -o gpu.json`` on a CUDA machine, once with the ``gpu`` extra
(mamba-ssm + causal-conv1d) importable and once without, to see what the fused kernels add.
Figures, all measured in one process:

1. **History reasoner on CUDA vs the CPU torch path**, same weights: largest absolute difference of
   the Mamba2 output, whole sequence and step by step with a carried cache (what
   ``narrate_recording`` does). On CUDA, transformers runs mamba-ssm's kernels when they import,
   else its own torch path; ``mamba_ssm`` in the results says which.
2. **Training step** (forward + backward + AdamW, teacher-forced narrative, 3 preceding segments):
   samples/s on the CPU (the reference, fp32), on CUDA in fp32 and on CUDA under bf16 autocast, at
   several batch sizes; ratios against the CPU reference.
3. **Generation**: greedy tokens/s on CUDA against the CPU, same prompt and length.

Weights are random: speed does not depend on them, and the equivalence check holds for any weights.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
import time
from collections.abc import Callable
from typing import Any

import torch

from neuronarrator_eval.benchmark_model import benchmark_generation, best_wall_seconds, default_model, placeholder_prompt, random_segments

__all__ = ["fast_path_info", "generation_throughput", "history_equivalence", "run_benchmarks", "training_step_throughput", "main"]

logger = logging.getLogger(__name__)

HISTORY = 3  # preceding segments per training row (grounded_cpu.yaml's data.history)


def _synchronized(fn: Callable[[], Any], device: torch.device) -> Callable[[], Any]:
    """``fn`` followed by a CUDA synchronize, so that wall time counts the kernels, not their launch."""

    def run():
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    return run


def fast_path_info() -> dict[str, Any]:
    """Which Mamba2 implementation CUDA inputs take: mamba-ssm's kernels when both packages of the
    ``gpu`` extra import (transformers falls back to its torch path per function otherwise)."""
    info: dict[str, Any] = {}
    for package in ("mamba_ssm", "causal_conv1d"):
        try:
            module = importlib.import_module(package)
            info[package] = getattr(module, "__version__", "imported")
        except Exception as error:  # an ImportError, or a compiled extension built for another torch
            info[package] = f"not importable: {type(error).__name__}: {error}"[:300]
    return info


@torch.no_grad()
def history_equivalence(model, device: torch.device, batch: int = 4, length: int = 16) -> dict[str, float]:
    """Largest |CUDA - CPU| of the history reasoner's output on the same weights and inputs."""
    reasoner = model.model.history_reasoner
    embeds = torch.randn(batch, length, reasoner.input_proj.out_features, generator=torch.Generator().manual_seed(0))
    cpu_reasoner = reasoner.to("cpu").eval()
    reference, _ = cpu_reasoner(embeds)
    on_device = reasoner.to(device)
    whole, _ = on_device(embeds.to(device))
    steps, cache = [], None
    for t in range(length):
        out, cache = on_device(embeds[:, t : t + 1].to(device), cache=cache, use_cache=True)
        steps.append(out)
    stepped = torch.cat(steps, dim=1)
    reasoner.to("cpu")
    scale = reference.abs().max().item()
    return {
        "history_reference_max_abs": scale,
        "history_whole_max_abs_diff": (whole.cpu() - reference).abs().max().item(),
        "history_stepped_max_abs_diff": (stepped.cpu() - reference).abs().max().item(),
    }


def _training_batch(model, batch: int, text_tokens: int, seed: int = 0) -> dict[str, torch.Tensor]:
    from modeling_neuronarrator import get_placeholder_counts

    eeg, mask, topo = random_segments(batch, seed)
    generator = torch.Generator().manual_seed(seed + 1)
    input_ids = placeholder_prompt(model, batch, text_tokens)
    labels = input_ids.clone()
    prompt_length = 1 + sum(get_placeholder_counts(model.config).values())
    labels[:, :prompt_length] = -100  # the loss is on the narrative only, as in stage 2
    return {
        "input_ids": input_ids,
        "attention_mask": torch.ones_like(input_ids),
        "eeg_values": eeg,
        "channel_mask": mask,
        "topomaps": topo,
        "history_eeg_values": torch.randn(batch, HISTORY, *eeg.shape[1:], generator=generator),
        "history_channel_mask": mask[:, None].expand(batch, HISTORY, mask.shape[1]).clone(),
        "history_topomaps": torch.randn(batch, HISTORY, *topo.shape[1:], generator=generator),
        "history_mask": torch.ones(batch, HISTORY, dtype=torch.bool),
        "labels": labels,
    }


def training_step_throughput(
    device: torch.device, batch: int, bf16: bool = False, text_tokens: int = 96, repeats: int = 5, warmup: int = 2
) -> dict[str, float]:
    """Samples/s of one optimizer step (forward, backward, AdamW) of a fresh default-size model."""
    model = default_model().to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    inputs = {key: value.to(device) for key, value in _training_batch(model, batch, text_tokens).items()}
    losses: list[float] = []

    def step():
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            loss = model(**inputs).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.detach().float().item())

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    seconds = best_wall_seconds(_synchronized(step, device), repeats, warmup)
    result = {"samples_per_s": batch / seconds, "step_s": seconds, "first_loss": losses[0], "last_loss": losses[-1]}
    if device.type == "cuda":
        result["peak_gib"] = torch.cuda.max_memory_allocated(device) / 2**30
    return result


def generation_throughput(model, device: torch.device, batches=(1, 16), new_tokens: int = 64, repeats: int = 2) -> dict[str, float]:
    """``benchmark_model.benchmark_generation`` with the model and its inputs on ``device``: tokens/s."""
    model.to(device)
    try:
        results = benchmark_generation(model, batches=batches, new_tokens=new_tokens, repeats=repeats, device=device)
    finally:
        model.to("cpu")
    return {key: value for key, value in results.items() if "tokens_per_s" in key}


def run_benchmarks(batches=(8, 64), new_tokens: int = 64, cpu_batch: int = 8) -> dict[str, Any]:
    if not torch.cuda.is_available():
        raise SystemExit("benchmark_gpu: no CUDA device here; run it on a GPU machine (CI has none).")
    device = torch.device("cuda")
    torch.backends.cuda.matmul.allow_tf32 = False  # fp32 means fp32: bf16 is measured on its own
    results: dict[str, Any] = {
        "gpu": torch.cuda.get_device_name(device),
        "torch": torch.__version__,
        "cpu_threads": torch.get_num_threads(),
        **fast_path_info(),
    }
    import transformers

    results["transformers"] = transformers.__version__
    model = default_model()
    results["parameters_m"] = round(model.num_parameters() / 1e6, 2)
    results.update(history_equivalence(model, device))

    training: dict[str, Any] = {"cpu_fp32": {cpu_batch: training_step_throughput(torch.device("cpu"), cpu_batch, repeats=2, warmup=1)}}
    for name, bf16 in (("cuda_fp32", False), ("cuda_bf16", True)):
        training[name] = {batch: training_step_throughput(device, batch, bf16=bf16) for batch in batches}
    cpu_rate = training["cpu_fp32"][cpu_batch]["samples_per_s"]
    training["speedup_vs_cpu"] = {
        f"{name}_b{batch}": training[name][batch]["samples_per_s"] / cpu_rate for name in ("cuda_fp32", "cuda_bf16") for batch in batches
    }
    training["bf16_over_fp32"] = {
        f"b{batch}": training["cuda_bf16"][batch]["samples_per_s"] / training["cuda_fp32"][batch]["samples_per_s"] for batch in batches
    }
    results["training"] = training

    model.eval()
    results["generation_cpu"] = generation_throughput(model, torch.device("cpu"), new_tokens=new_tokens)
    results["generation_cuda"] = generation_throughput(model, device, new_tokens=new_tokens)
    return results


def _markdown(results: dict[str, Any]) -> str:
    training = results["training"]
    lines = [
        f"{results['gpu']}, torch {results['torch']}, transformers {results['transformers']}; "
        f"mamba_ssm: {results['mamba_ssm']}; causal_conv1d: {results['causal_conv1d']}",
        "",
        f"history reasoner, CUDA vs CPU torch path: max |diff| whole {results['history_whole_max_abs_diff']:.2e}, "
        f"stepped {results['history_stepped_max_abs_diff']:.2e} (output scale {results['history_reference_max_abs']:.2f})",
        "",
        "| training step | batch | samples/s | vs CPU fp32 | peak GiB |",
        "|---|---|---|---|---|",
    ]
    for name in ("cpu_fp32", "cuda_fp32", "cuda_bf16"):
        for batch, row in training[name].items():
            ratio = training["speedup_vs_cpu"].get(f"{name}_b{batch}", 1.0)
            lines.append(f"| {name} | {batch} | {row['samples_per_s']:.1f} | {ratio:.1f}x | {row.get('peak_gib', float('nan')):.2f} |")
    lines.append("")
    lines.append("bf16 / fp32 on CUDA: " + ", ".join(f"{k} {v:.2f}x" for k, v in training["bf16_over_fp32"].items()))
    for name in ("generation_cpu", "generation_cuda"):
        lines.append(f"{name}: " + ", ".join(f"{k} {v:.1f}" for k, v in results[name].items() if "tokens_per_s" in k))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="NeuroNarrator model figures on a CUDA GPU (default size).")
    parser.add_argument("--batches", default="8,64", help="comma-separated training batch sizes on CUDA")
    parser.add_argument("--new-tokens", type=int, default=64, help="tokens generated per narrative")
    parser.add_argument("-o", "--output", default=None, help="write the JSON results here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    results = run_benchmarks(batches=tuple(int(b) for b in args.batches.split(",")), new_tokens=args.new_tokens)
    print(_markdown(results))
    if args.output:
        with open(args.output, "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=2, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
