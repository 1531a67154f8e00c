"""Speed benchmark of the NeuroNarrator model (embedded default size) on the CPU.

Run ``python eval/benchmark_model.py`` (or ``python -m neuronarrator_eval.benchmark_model``).
Figures, printed as a Markdown table and JSON, all measured in one process:

1. **Segment encoding**: EEG encoder + topomap encoder + one history step, ms per segment, at
   batch 1 and batch 8.
2. **Generation**: narrative tokens per second with the KV cache (greedy, fixed length), batch 1
   and batch 4.
3. **History cost per new segment** after K = 4, 64 and 1024 preceding segments:
   - ``recurrent``: the Mamba2 reasoner stepping its carried state (what ``narrate_recording``
     does): flat in K;
   - ``mamba2_recompute``: the same reasoner re-run over the whole history each segment;
   - ``self_attention``: a transformer encoder of the same width and depth re-run over the history
     (full self-attention, what a history model without a recurrent state pays): grows with K.
   Ratios are cost(K) / cost(K=4) per method and self-attention / recurrent per K.

Weights are random: speed does not depend on them.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

__all__ = ["benchmark_encode", "best_wall_seconds", "benchmark_generation", "benchmark_history", "default_model", "main", "run_benchmarks"]

logger = logging.getLogger(__name__)

HISTORY_LENGTHS = (4, 64, 1024)


def best_wall_seconds(fn: Callable[[], Any], repeats: int, warmup: int = 1) -> float:
    """Best wall time of ``fn`` over ``repeats`` runs, in seconds (the minimum, as ``timeit`` reports:
    on a shared machine the other runs measure the neighbours' load, not the code)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def default_model(seed: int = 0):
    """The embedded default (4-layer Llama-style decoder, hidden 256, vocab 4096) with random weights;
    the last three ids stand in for the placeholders (no tokenizer needed to time it)."""
    from modeling_neuronarrator import (
        NeuroNarratorConfig,
        NeuroNarratorForConditionalGeneration,
    )

    config = NeuroNarratorConfig.default(eeg_token_id=4093, topomap_token_id=4094, history_token_id=4095)
    torch.manual_seed(seed)
    return NeuroNarratorForConditionalGeneration(config).eval()


def random_segments(batch: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    eeg = torch.randn(batch, 19, 2000, generator=generator)
    mask = torch.ones(batch, 19, dtype=torch.bool)
    mask[:, 4] = False  # one interpolated channel, as in most clinical files
    topo = torch.randn(batch, 5, 32, 32, generator=generator)
    return eeg, mask, topo


def placeholder_prompt(model, batch: int, text_tokens: int = 40) -> torch.Tensor:
    from modeling_neuronarrator import get_placeholder_counts

    config = model.config
    counts = get_placeholder_counts(config)
    ids = (
        [1]
        + [config.history_token_id] * counts["history"]
        + [config.eeg_token_id] * counts["eeg"]
        + [config.topomap_token_id] * counts["topomap"]
        + list(range(10, 10 + text_tokens))  # stands in for the instruction
    )
    return torch.tensor([ids] * batch)


@torch.no_grad()
def benchmark_encode(model, batches=(1, 8), repeats: int = 5) -> dict[str, float]:
    """ms per segment for encoders + one recurrent history step."""
    results = {}
    for batch in batches:
        eeg, mask, topo = random_segments(batch)

        def encode(eeg=eeg, mask=mask, topo=topo):
            features = model.model.get_segment_features(eeg, mask, topo)
            model.model.advance_history(features.eeg_pooled[:, None], features.topomap_pooled[:, None])

        results[f"encode_ms_per_segment_b{batch}"] = 1e3 * best_wall_seconds(encode, repeats) / batch
    return results


@torch.no_grad()
def benchmark_generation(model, batches=(1, 4), new_tokens: int = 64, repeats: int = 3, device=None) -> dict[str, float]:
    """Generated tokens per second (all rows together), greedy, KV cache, fixed length; inputs on
    ``device`` (default the CPU; the model must be there already, and CUDA is synchronized)."""
    device = torch.device(device or "cpu")
    results = {}
    for batch in batches:
        eeg, mask, topo = (tensor.to(device) for tensor in random_segments(batch))
        input_ids = placeholder_prompt(model, batch).to(device)

        def generate(input_ids=input_ids, eeg=eeg, mask=mask, topo=topo):
            model.generate(
                input_ids=input_ids,
                attention_mask=torch.ones_like(input_ids),
                eeg_values=eeg,
                channel_mask=mask,
                topomaps=topo,
                max_new_tokens=new_tokens,
                min_new_tokens=new_tokens,
                do_sample=False,
                use_cache=True,
                pad_token_id=0,
            )
            if device.type == "cuda":
                torch.cuda.synchronize(device)

        seconds = best_wall_seconds(generate, repeats)
        results[f"generate_tokens_per_s_b{batch}"] = batch * new_tokens / seconds
        results[f"generate_s_b{batch}"] = seconds
    return results


class _SelfAttentionHistory(nn.Module):
    """Full self-attention over the history: same width and depth as the Mamba2 reasoner."""

    def __init__(self, hidden: int, layers: int, heads: int = 4):
        super().__init__()
        layer = nn.TransformerEncoderLayer(hidden, heads, 4 * hidden, dropout=0.0, batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)

    def forward(self, sequence: torch.Tensor) -> torch.Tensor:
        causal = nn.Transformer.generate_square_subsequent_mask(sequence.shape[1])
        return self.encoder(sequence, mask=causal, is_causal=True)[:, -1]


@torch.no_grad()
def benchmark_history(model, lengths=HISTORY_LENGTHS, repeats: int = 5) -> dict[str, Any]:
    """Seconds per new segment after K preceding segments, for the three history methods.

    All (K, method) cases are timed in interleaved rounds, so that a burst of load from other
    processes hits every case alike instead of one K; the best round of each case is kept.
    """
    reasoner = model.model.history_reasoner
    hidden = model.config.history_config.hidden_size
    attention = _SelfAttentionHistory(hidden, model.config.history_config.num_hidden_layers).eval()
    eeg_dim, topo_dim = model.config.eeg_config.hidden_size, model.config.topomap_config.hidden_size
    generator = torch.Generator().manual_seed(1)
    cases: dict[tuple[int, str], Callable[[], Any]] = {}
    for k in lengths:
        eeg = torch.randn(1, k + 1, eeg_dim, generator=generator)
        topo = torch.randn(1, k + 1, topo_dim, generator=generator)
        _, state = model.model.advance_history(eeg[:, :k], topo[:, :k])  # K segments already folded in
        new_eeg, new_topo = eeg[:, k:].clone(), topo[:, k:].clone()
        embeds = reasoner.embed_segments(eeg, topo)  # (1, K+1, H)

        def recurrent(new_eeg=new_eeg, new_topo=new_topo, state=state):
            # a fresh copy of the state each time so every repeat is "segment K+1"
            model.model.advance_history(new_eeg, new_topo, _copy_state(state))

        cases[(k, "recurrent")] = recurrent
        cases[(k, "mamba2_recompute")] = lambda embeds=embeds: reasoner(embeds)
        cases[(k, "self_attention")] = lambda embeds=embeds: attention(embeds)
    for fn in cases.values():  # warm-up
        fn()
    best = {key: float("inf") for key in cases}
    for _ in range(repeats):
        for key, fn in cases.items():
            start = time.perf_counter()
            fn()
            best[key] = min(best[key], time.perf_counter() - start)
    methods = ("recurrent", "mamba2_recompute", "self_attention")
    per_k = {k: {m: best[(k, m)] for m in methods} for k in lengths}
    base = lengths[0]
    ratios = {m: {str(k): per_k[k][m] / per_k[base][m] for k in lengths} for m in methods}
    attention_over_recurrent = {str(k): per_k[k]["self_attention"] / per_k[k]["recurrent"] for k in lengths}
    return {
        "seconds_per_segment": {str(k): v for k, v in per_k.items()},
        "growth_vs_k4": ratios,
        "self_attention_over_recurrent": attention_over_recurrent,
    }


def _copy_state(state):
    import copy

    return copy.deepcopy(state)


def run_benchmarks(repeats: int = 5, new_tokens: int = 64, threads: int | None = None) -> dict[str, Any]:
    """All figures in one process; returns a JSON-ready dict."""
    if threads:
        torch.set_num_threads(threads)
    model = default_model()
    results: dict[str, Any] = {
        "device": "cpu",
        "torch_threads": torch.get_num_threads(),
        "parameters_m": round(model.num_parameters() / 1e6, 2),
        "text_backbone": f"{model.config.text_config.model_type} hidden {model.config.text_config.hidden_size} x "
        f"{model.config.text_config.num_hidden_layers} layers, vocab {model.config.text_config.vocab_size}",
    }
    results.update(benchmark_encode(model, repeats=repeats))
    results.update(benchmark_generation(model, new_tokens=new_tokens, repeats=max(1, repeats // 2)))
    results["history"] = benchmark_history(model, repeats=repeats)
    return results


def _markdown(results: dict[str, Any]) -> str:
    lines = [
        (
            f"NeuroNarrator default model ({results['parameters_m']} M parameters; {results['text_backbone']}), "
            f"CPU, {results['torch_threads']} threads"
        ),
        "",
        "| figure | value |",
        "|---|---|",
    ]
    for key, value in results.items():
        if key.startswith(("encode_", "generate_")):
            lines.append(f"| {key} | {value:.2f} |")
    history = results["history"]
    lines += [
        "",
        "| K preceding | recurrent ms | Mamba2 recompute ms | self-attention ms | self-attn / recurrent |",
        "|---|---|---|---|---|",
    ]
    for k, row in history["seconds_per_segment"].items():
        lines.append(
            f"| {k} | {1e3 * row['recurrent']:.2f} | {1e3 * row['mamba2_recompute']:.2f} | "
            f"{1e3 * row['self_attention']:.2f} | {history['self_attention_over_recurrent'][k]:.1f}x |"
        )
    lines += ["", "growth of the per-segment cost vs K=4: " + json.dumps({m: {k: round(v, 2) for k, v in r.items()} for m, r in history["growth_vs_k4"].items()})]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="NeuroNarrator model speed on the CPU (default size).")
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats per figure (the best is kept)")
    parser.add_argument("--new-tokens", type=int, default=64, help="tokens generated per narrative")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("-o", "--output", default=None, help="write the JSON results here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    results = run_benchmarks(repeats=args.repeats, new_tokens=args.new_tokens, threads=args.threads)
    print(_markdown(results))
    if args.output:
        with open(args.output, "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
