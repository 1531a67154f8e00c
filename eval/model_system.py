"""A trained NeuroNarrator checkpoint as a system of the leaderboard: narratives for corpus rows
(each with its K preceding segments of the same recording as history) and the pooled EEG /
topomap embeddings for the retrieval metric.

``blind=True`` runs a checkpoint the way the blind baseline was trained (``neuronarrator train
stage2 --blind``, ``SegmentCollator(blind=True)``): every EEG-derived input zero, every channel
mask "all recorded", every history slot empty, so every row gets the same model input.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from dataset_builder.agreement import read_findings
from dataset_builder.description import stated_change_window

__all__ = ["ModelSystem", "default_model_path"]

logger = logging.getLogger(__name__)

# Sample-and-check's sampling temperature: strict mode's (report.narrators.ModelNarrator.regenerate).
SAMPLE_TEMPERATURE = 0.7


def default_model_path() -> Path:
    """``modeling_neuronarrator.DEFAULT_MODEL_PATH`` when the embedded default is shipped.

    Raises:
        FileNotFoundError: no default checkpoint in this install (the message says what to pass).
    """
    import modeling_neuronarrator

    path = getattr(modeling_neuronarrator, "DEFAULT_MODEL_PATH", None)
    if path is None or not (Path(path) / "config.json").is_file():
        raise FileNotFoundError(
            "no embedded default model in this install (modeling_neuronarrator.DEFAULT_MODEL_PATH"
            f"{'' if path is None else ' = ' + str(path)} holds no config.json); pass --model CHECKPOINT, "
            "--predictions FILE.jsonl, or --no-model to score the baselines only"
        )
    return Path(path)


class ModelSystem:
    """Greedy narratives of a saved NeuroNarrator model for corpus rows.

    Args:
        model_path: folder written by ``save_pretrained`` (config, safetensors, processor files).
        device: ``"cpu"`` or ``"cuda[:n]"``.
        batch_size: segments per ``generate`` call.
        max_new_tokens: narrative length cap in tokens.
        blind: run the checkpoint blind (see the module docstring).
        sample_and_check: strict mode's first remedy, as the report runs it: a greedy narrative that
            contradicts its row's measured findings (``report.pipeline.regeneration_score``) is
            narrated again with this many samples at temperature 0.7, and the best replaces it when
            it contradicts less; 0: greedy only.
        measured_grammar: decode under each row's measured grammar, as the report does by default
            (``report.measured_decoding``: every sentence one the measured findings do not
            contradict); False: free greedy decoding, the model's own figures.
    """

    kind = "model"

    def __init__(
        self,
        model_path: str | os.PathLike,
        device: str = "cpu",
        batch_size: int = 8,
        max_new_tokens: int = 192,
        blind: bool = False,
        sample_and_check: int = 0,
        measured_grammar: bool = False,
    ):
        import torch

        from modeling_neuronarrator import NeuroNarratorForConditionalGeneration, NeuroNarratorProcessor
        from modeling_neuronarrator.training.data import TopomapComputer

        model_path = Path(model_path)
        if not (model_path / "config.json").is_file():
            raise FileNotFoundError(f"{model_path}: no config.json, not a saved NeuroNarrator model; pass the folder written by save_pretrained")
        if batch_size < 1:
            raise ValueError(f"--batch-size must be at least 1, got {batch_size}")
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise ValueError(f"--device {device}: CUDA is not available on this machine; use --device cpu")
        self.path = model_path
        self.device = torch.device(device)
        self.model = NeuroNarratorForConditionalGeneration.from_pretrained(model_path).to(self.device).eval()
        self.processor = NeuroNarratorProcessor.from_pretrained(model_path)
        self.topomaps = TopomapComputer(self.processor.feature_extractor)
        self.history_segments = int(getattr(self.model.config, "history_length", 3))
        self.batch_size = int(batch_size)
        self.max_new_tokens = int(max_new_tokens)
        self.blind = bool(blind)
        if sample_and_check < 0 or (sample_and_check and (blind or not getattr(self.processor, "findings_in_prompt", False))):
            raise ValueError(
                f"--sample-and-check {sample_and_check}: it narrates again what contradicts the measured findings, so it needs a "
                "findings-conditioned model (findings_in_prompt) run with its EEG, and a count >= 1"
            )
        if measured_grammar and (blind or not getattr(self.processor, "findings_in_prompt", False)):
            raise ValueError("--measured-grammar decodes each row under its measured findings: it needs a findings-conditioned model (findings_in_prompt) run with its EEG")
        self.sample_and_check = int(sample_and_check)
        self.measured_grammar = None
        if measured_grammar:
            from modeling_neuronarrator.report.measured_decoding import measured_grammar as grammar_factory

            self.measured_grammar = grammar_factory(self.processor.tokenizer)
        self.name = f"neuronarrator-{model_path.name}" if model_path.name else "neuronarrator"
        if self.measured_grammar is not None:
            self.name += "-measured-grammar"
        if self.sample_and_check:
            self.name += f"-sample-and-check{self.sample_and_check}"

    def settings(self) -> dict[str, Any]:
        return {
            "model_path": str(self.path.resolve()),
            "decoding": "greedy" + (" under the measured grammar" if self.measured_grammar is not None else "")
            + (f" + sample-and-check ({self.sample_and_check} samples at {SAMPLE_TEMPERATURE})" if self.sample_and_check else ""),
            "max_new_tokens": self.max_new_tokens,
            "history_segments": self.history_segments,
            "batch_size": self.batch_size,
            "device": str(self.device),
            "blind": self.blind,
        }

    def _segments(self, split_rows, indices: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        if len(indices) == 0:
            return np.zeros((0, 19, 2000), np.float32), np.zeros((0, 19), bool)
        chunk = split_rows.select(list(indices)).with_format("numpy", columns=["eeg_values", "channel_mask"])
        return np.asarray(chunk["eeg_values"], dtype=np.float32), np.asarray(chunk["channel_mask"]).astype(bool)

    def _blind_inputs(self, n: int) -> dict[str, Any]:
        """The one input a blind model gets for each of ``n`` rows (as ``SegmentCollator(blind=True)``)."""
        eeg = np.zeros((n, 19, 2000), np.float32)
        mask = np.ones((n, 19), bool)
        maps = np.zeros_like(self.topomaps(eeg[:1]))  # the maps' shape, then zeros
        inputs: dict[str, Any] = {"eeg_values": eeg, "channel_mask": mask, "topomaps": np.repeat(maps, n, axis=0)}
        k = self.history_segments
        if k == 0:
            inputs["history"] = False
            return inputs
        inputs["history_eeg_values"] = np.zeros((n, k, 19, 2000), np.float32)
        inputs["history_channel_mask"] = np.ones((n, k, 19), bool)
        inputs["history_topomaps"] = np.zeros((n, k, *maps.shape[1:]), np.float32)
        inputs["history_mask"] = np.zeros((n, k), bool)
        return inputs

    def _inputs(self, split_rows, indices: Sequence[int], history_table: np.ndarray | None) -> dict[str, Any]:
        if self.blind:
            return self._blind_inputs(len(indices))
        eeg, mask = self._segments(split_rows, indices)
        inputs: dict[str, Any] = {"eeg_values": eeg, "channel_mask": mask, "topomaps": self.topomaps(eeg)}
        k = self.history_segments
        if k == 0 or history_table is None:
            inputs["history"] = False
            return inputs
        table = history_table[list(indices)]  # (b, K) row indices, -1 = none (oldest first)
        present = table >= 0
        if not present.any():
            inputs["history"] = False
            return inputs
        flat = table[present]
        h_eeg, h_mask = self._segments(split_rows, flat.tolist())
        b = len(indices)
        inputs["history_eeg_values"] = np.zeros((b, k, *eeg.shape[1:]), np.float32)
        inputs["history_channel_mask"] = np.zeros((b, k, mask.shape[1]), bool)
        inputs["history_topomaps"] = np.zeros((b, k, *inputs["topomaps"].shape[1:]), np.float32)
        inputs["history_eeg_values"][present] = h_eeg
        inputs["history_channel_mask"][present] = h_mask
        inputs["history_topomaps"][present] = self.topomaps(h_eeg)
        inputs["history_mask"] = present
        return inputs

    def predict(self, split_rows, indices: Sequence[int]) -> list[str]:
        """Narratives of ``split_rows[indices]``; histories come from the whole split (``--limit``
        samples rows but each keeps its true preceding segments)."""
        if self.blind and len(indices) > 0 and not getattr(self.processor, "findings_in_prompt", False):
            # One input for every row, so greedy decoding writes one narrative: generated once for
            # the first and last row (which must agree) and repeated. (A findings-conditioned blind model reads
            # each row's measured findings in its prompt: every row is narrated.)
            texts = self._generate(split_rows, [indices[0], indices[-1]], None)
            if texts[0] != texts[-1]:
                raise RuntimeError(f"{self.path}: blind narratives differ between rows; the blind inputs are not constant")
            return texts[:1] * len(indices)
        history_table = None
        if self.history_segments > 0:
            from dataset_builder.history import HistoryIndex

            history_table = HistoryIndex(split_rows, k=self.history_segments).table()
        return self._generate(split_rows, indices, history_table)

    def _generate(self, split_rows, indices: Sequence[int], history_table: np.ndarray | None) -> list[str]:
        """Greedy narratives through the model's one inference path (each segment and history
        segment encoded once; a findings-conditioned model also reads the rows' measured findings)."""
        from modeling_neuronarrator.training.trainer import generate_narratives

        texts: list[str] = []
        for start in range(0, len(indices), self.batch_size):
            chunk = list(indices[start : start + self.batch_size])
            findings = None
            if getattr(self.processor, "findings_in_prompt", False):
                findings = [read_findings(f) for f in split_rows.select(chunk)["findings"]]
            arrays = self._inputs(split_rows, chunk, history_table)
            greedy = generate_narratives(self.model, self.processor, arrays, self.max_new_tokens, findings, findings_logits_processor=self.measured_grammar)
            if self.sample_and_check:
                # Each row's change window as its reference names it (the writer wrote it for the row's history).
                windows = [stated_change_window(text) for text in split_rows.select(chunk)["description"]]
                greedy = self._sample_and_check(split_rows, chunk, history_table, findings, greedy, seed=start, change_windows=windows)
            texts.extend(greedy)
            logger.info("%s: %d / %d segments narrated", self.name, len(texts), len(indices))
        return texts

    def _sample_and_check(
        self, split_rows, chunk: list[int], history_table, findings: list, greedy: list[str], seed: int, change_windows: list | None = None
    ) -> list[str]:
        """The chunk's narratives after sample-and-check (``sample_and_check`` samples for each greedy
        narrative that contradicts its measured findings; reproducible: seeded by the chunk's position)."""
        import torch

        from modeling_neuronarrator.report.narrators import best_of_samples
        from modeling_neuronarrator.report.pipeline import regeneration_score, sample_and_check
        from modeling_neuronarrator.training.trainer import generate_narratives

        k = self.sample_and_check

        def best_samples(redo: list[int]) -> dict[int, str]:
            repeated = [chunk[i] for i in redo for _ in range(k)]
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                samples = generate_narratives(
                    self.model, self.processor, self._inputs(split_rows, repeated, history_table), self.max_new_tokens,
                    [findings[i] for i in redo for _ in range(k)], do_sample=True, temperature=SAMPLE_TEMPERATURE, top_k=0, top_p=1.0,
                    findings_logits_processor=self.measured_grammar,
                )  # fmt: skip
            return best_of_samples(samples, redo, [findings[i] for i in redo], k, regeneration_score)

        _, better = sample_and_check(greedy, findings, best_samples, change_windows)
        return [better.get(i, text) for i, text in enumerate(greedy)]

    def pooled_embeddings(self, split_rows, indices: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """Grounding-space embeddings ``(n, grounding_dim)`` of the EEG and of the topomaps of the rows."""
        import torch

        eeg_parts, topo_parts = [], []
        for start in range(0, len(indices), self.batch_size):
            chunk = list(indices[start : start + self.batch_size])
            eeg, mask = self._segments(split_rows, chunk)
            with torch.no_grad():
                features = self.model.get_segment_features(
                    eeg_values=torch.from_numpy(eeg).to(self.device),
                    channel_mask=torch.from_numpy(mask).to(self.device),
                    topomaps=torch.from_numpy(self.topomaps(eeg)).to(self.device),
                )
                inner = self.model.model
                eeg_parts.append(inner.eeg_grounding_proj(features.eeg_pooled).cpu().numpy())
                topo_parts.append(inner.topomap_grounding_proj(features.topomap_pooled).cpu().numpy())
        return np.concatenate(eeg_parts), np.concatenate(topo_parts)
