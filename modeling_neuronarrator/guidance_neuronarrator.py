"""Measurement-guided decoding: context-aware decoding (Shi et al., 2024, "Trusting Your Evidence:
Hallucinate Less with Context-aware Decoding", NAACL) with the prompt's measured-findings line as
the context.

A findings-conditioned narrator reads the segment twice: in the measured line of its prompt and in
its EEG, topomap and history tokens. On subjects it never saw, the EEG tokens can outvote the
line (stop 30: a focal slowing measured on the left, with the right hemisphere the stronger, is
written "right" in 35 % of such validation rows). Context-aware decoding scores each next token by
how much the measured line changes its probability:

    log p~(y) = log p(y | line, EEG) + (scale - 1) * (log p(y | line, EEG) - log p(y | EEG))

so a word the line supports gains weight and one the EEG alone supports loses it. Tokens the line
does not bear on (a source label's sentence, read from the EEG) keep their probability ranking
because both terms agree on them. ``scale`` 1 is plain decoding.

The second term runs the same model on the same segment tokens with the measured line removed
from the prompt (the annotated-keys line stays: it is not a measurement), with its own KV cache,
one decoding step per step of ``generate``.
"""

from __future__ import annotations

from typing import Any

import torch
from transformers import LogitsProcessor

__all__ = ["MeasurementGuidanceLogitsProcessor"]


class MeasurementGuidanceLogitsProcessor(LogitsProcessor):
    r"""[`LogitsProcessor`] of measurement-guided decoding (see the module docstring).

    Args:
        model: the [`NeuroNarratorForConditionalGeneration`] that generates.
        scale (`float`): guidance scale; 1 leaves the scores as they are, > 1 follows the measured
            line more closely.
        input_ids, attention_mask: the prompts without their measured line, left-padded like the
            generation prompts (``NeuroNarratorProcessor.prompt_inputs(..., measured_line=False)``).
        segment_features, history_state: the segments' encodings and history states, as passed to
            ``generate``.
    """

    def __init__(
        self,
        model: Any,
        scale: float,
        input_ids: torch.LongTensor,
        attention_mask: torch.LongTensor,
        segment_features: Any,
        history_state: torch.Tensor,
    ):
        if not scale >= 1.0:
            raise ValueError(f"measurement guidance scale must be >= 1 (1 = plain decoding), got {scale!r}.")
        self.model = model
        self.scale = float(scale)
        self._first = {"input_ids": input_ids, "segment_features": segment_features, "history_state": history_state}
        self._attention_mask = attention_mask
        self._cache = None
        self._next_position: torch.Tensor | None = None

    def _unguided_log_probs(self, last_tokens: torch.LongTensor) -> torch.Tensor:
        """Log-probabilities of the next token without the measured line: the whole prompt at the first
        step, then one token per step from this processor's own cache."""
        if self._first is not None:
            first, self._first = self._first, None
            mask = self._attention_mask
            # Positions as generate gives them to left-padded rows: counted over real tokens.
            positions = (mask.long().cumsum(-1) - 1).clamp(min=0)
            out = self.model(
                input_ids=first["input_ids"], attention_mask=mask, position_ids=positions, use_cache=True,
                segment_features=first["segment_features"], history_state=first["history_state"], logits_to_keep=1,
            )  # fmt: skip
            self._next_position = positions[:, -1:] + 1
        else:
            self._attention_mask = torch.cat([self._attention_mask, self._attention_mask.new_ones((last_tokens.shape[0], 1))], dim=1)
            out = self.model(
                input_ids=last_tokens, attention_mask=self._attention_mask, position_ids=self._next_position,
                cache=self._cache, use_cache=True, logits_to_keep=1,
            )  # fmt: skip
            self._next_position = self._next_position + 1
        self._cache = out.cache
        return torch.log_softmax(out.logits[:, -1].float(), dim=-1)

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        guided = torch.log_softmax(scores.float(), dim=-1)
        if self.scale == 1.0:
            return guided
        # generate calls this once per step, after its own forward: the first call follows the
        # prefill (the unguided prompt is run whole), later ones the token just appended.
        unguided = self._unguided_log_probs(input_ids[:, -1:])
        return (unguided + self.scale * (guided - unguided)).to(scores.dtype)
