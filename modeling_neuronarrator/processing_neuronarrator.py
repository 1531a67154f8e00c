"""NeuroNarrator processor: the feature extractor and the tokenizer behind one call.

It builds the paper's prompt for each segment: ``<hist>`` placeholders for the preceding segments,
``<eeg>`` and ``<topo>`` placeholders for the current one, then the instruction; expands each
placeholder to its token count (from :func:`get_placeholder_counts`, the one place they are
computed); and checks the counts before and after tokenizing. The model only fills placeholders.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
from transformers import BatchFeature, ProcessorMixin

from .configuration_neuronarrator import (
    DEFAULT_HISTORY_LENGTH,
    PLACEHOLDER_TOKENS,
    NeuroNarratorConfig,
    get_placeholder_counts,
)
from .eeg_io_neuronarrator import SEGMENT_SAMPLES, SEGMENT_SECONDS, STANDARD_CHANNELS
from .findings_neuronarrator import Findings, amplitude_category, change_window_text, with_learned_labels

logger = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_INSTRUCTION",
    "NeuroNarratorProcessor",
    "annotated_labels_text",
    "measured_findings_parts",
    "measured_findings_text",
    "prompt_findings_text",
]

DEFAULT_INSTRUCTION = (
    "Describe the neurophysiological features, waveform morphology, dominant frequency components and "
    "temporal-spatial dynamics of this EEG segment in one well-structured paragraph."
)
_N_CHANNELS, _N_SAMPLES = len(STANDARD_CHANNELS), SEGMENT_SAMPLES  # the signal contract (eeg_io)


def _hz(value: float | None) -> str:
    return "none" if value is None else f"{value:.1f} Hz"


# The measured line's fields, in its order (measured_findings_parts).
MEASURED_FIELDS = ("state", "rhythm", "band", "pdr", "region", "amplitude", "asymmetry", "slowing", "artifacts", "events", "change")


def _change_value(f: Findings, window: bool) -> str:
    """The measured line's change value; with ``window`` the span it was measured over too
    ("stable over the preceding 30 s"), which the narrative's change sentence names."""
    if f.change_from_previous is None:
        return "first segment"
    changes = ", ".join(f.change_from_previous) or "stable"
    if not window:
        return changes
    if f.change_window_segments is None:
        raise ValueError(
            "these findings carry a change but not the window it was measured over (change_window_segments): they "
            "were written before it existed; rebuild the corpus (dataset_builder) or recompute them with the front-end."
        )
    return f"{changes} over the preceding {change_window_text(f.change_window_segments, SEGMENT_SECONDS)}"


def measured_findings_parts(findings: Findings | dict, categories: bool = False, change_window: bool = False) -> list[tuple[str, str]]:
    """The measured line's ``(field name, value as written)`` pairs, in its order (``measured_findings_text``);
    ``categories`` and ``change_window`` as there."""
    f = findings if isinstance(findings, Findings) else Findings.from_dict(findings)
    slowing = f.slowing.kind
    if slowing == "focal":
        slowing = f"focal {f.slowing.side or ''} {f.slowing.region or ''}".strip()
    events = [
        f"{e.kind} {_hz(e.frequency_hz)} {e.onset_s:.1f}-{e.offset_s:.1f} s {'/'.join(e.channels) or 'channels none'}"
        for e in f.events
    ]
    return [
        ("state", f"{f.state}"),
        ("rhythm", _hz(f.dominant_frequency_hz)),
        ("band", f"{f.dominant_band}"),
        ("pdr", _hz(f.posterior_dominant_rhythm_hz)),
        ("region", f"{f.predominant_region}"),
        ("amplitude", f"{f.amplitude_uv:.0f} uV" + (f" {amplitude_category(int(round(f.amplitude_uv)))}" if categories else "")),
        ("asymmetry", f"{f.asymmetry.side}"),
        ("slowing", slowing),
        ("artifacts", ", ".join(f.artifacts) or "none"),
        ("events", "; ".join(events) or "none"),
        ("change", _change_value(f, change_window)),
    ]


def measured_findings_text(findings: Findings | dict, categories: bool = False, change_window: bool = False) -> str:
    """One compact line of a segment's measured findings, as a findings-conditioned model reads it in its prompt.

    Every field the narrative states from the measurement, in the narrative's reading order (state
    first) and at its precision; no source labels (those the EEG tokens must give). ``categories``:
    the amplitude's category word too (``NeuroNarratorConfig.measured_categories``), of the value
    as written (rounded to 1 uV, as the narrative's is). ``change_window``: the span the change was
    measured over too (``NeuroNarratorConfig.measured_change_window``).
    """
    parts = measured_findings_parts(findings, categories, change_window)
    return "Measured: " + "; ".join(f"{name} {value}" for name, value in parts) + "."


def annotated_labels_text(findings: Findings | dict) -> str:
    """The source-label keys a segment is annotated with, without their values ("Annotated: eyes,
    stimulus." or "Annotated: none."): a findings-conditioned model states a label only where the recording
    carries one, and reads its value from the EEG. A user's file has none."""
    f = findings if isinstance(findings, Findings) else Findings.from_dict(findings)
    keys = sorted(key for key, value in f.labels.items() if value is not None)
    return "Annotated: " + (", ".join(keys) or "none") + "."


def prompt_findings_text(
    findings: Findings | dict,
    annotations: bool = False,
    categories: bool = False,
    change_window: bool = False,
    label_keys: Sequence[str] | None = None,
) -> str:
    """What a findings-conditioned prompt says about the segment: the measured line (with ``categories``
    its amplitude category too, with ``change_window`` the change's window), and with ``annotations`` the
    annotated-keys line (``NeuroNarratorConfig.annotations_in_prompt``, ``measured_categories``,
    ``measured_change_window``; ``label_keys``: the annotated line names only these keys,
    ``NeuroNarratorConfig.label_keys``, ``findings_neuronarrator.with_learned_labels``)."""
    f = findings if isinstance(findings, Findings) else Findings.from_dict(findings)  # read once for both lines
    measured = measured_findings_text(f, categories, change_window)
    return f"{measured}\n{annotated_labels_text(with_learned_labels(f, label_keys))}" if annotations else measured


def _as_float_array(name: str, value: Any, ndim: int) -> np.ndarray:
    """numpy float32 copy of an array-like (numpy, torch, list), with a batch axis added if needed."""
    if hasattr(value, "detach"):  # torch tensor, without importing torch here
        value = value.detach().cpu().float().numpy()
    array = np.asarray(value, dtype=np.float32)
    if array.ndim == ndim - 1:
        array = array[None]
    if array.ndim != ndim:
        raise ValueError(f"{name} must have {ndim - 1} or {ndim} dimensions (a segment or a batch), got shape {array.shape}.")
    return array


def _as_bool_array(name: str, value: Any, ndim: int) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    array = np.asarray(value).astype(bool)
    if array.ndim == ndim - 1:
        array = array[None]
    if array.ndim != ndim:
        raise ValueError(f"{name} must have {ndim - 1} or {ndim} dimensions, got shape {array.shape}.")
    return array


class NeuroNarratorProcessor(ProcessorMixin):
    r"""
    Feature extractor ([`NeuroNarratorFeatureExtractor`]) + tokenizer.

    Args:
        feature_extractor: turns recordings into harmonized segments, topomaps and findings.
        tokenizer: the text tokenizer; it must know the three placeholder tokens.
        chat_template: optional; when None the tokenizer's own template (SmolLM2's) is used if it has one.
        eeg_token, topomap_token, history_token (`str`): the placeholder strings.
        placeholder_counts (`dict[str, int]`): tokens per placeholder kind, as returned by
            ``get_placeholder_counts(config)``; build with :meth:`from_config` to fill it.
        history_length (`int`): K, preceding segments attached to each segment of a recording.
        instruction (`str`): the request that follows the placeholders.

    Example:

    ```python
    >>> processor = NeuroNarratorProcessor.from_config(config, feature_extractor, tokenizer)
    >>> inputs = processor("recording.edf", return_tensors="pt")  # every 10 s segment, K=3 history
    >>> inputs = processor(eeg_values=row["eeg_values"], channel_mask=row["channel_mask"], topomaps=row["topomaps"],
    ...                    text=row["description"], return_tensors="pt")  # training: labels too
    ```
    """

    def __init__(
        self,
        feature_extractor=None,
        tokenizer=None,
        chat_template=None,
        eeg_token: str = PLACEHOLDER_TOKENS["eeg"],
        topomap_token: str = PLACEHOLDER_TOKENS["topomap"],
        history_token: str = PLACEHOLDER_TOKENS["history"],
        placeholder_counts: dict | None = None,
        history_length: int = DEFAULT_HISTORY_LENGTH,
        instruction: str = DEFAULT_INSTRUCTION,
        findings_in_prompt: bool = False,
        annotations_in_prompt: bool = False,
        measured_categories: bool = False,
        measured_change_window: bool = False,
        label_keys: Sequence[str] | None = None,
    ):
        if tokenizer is None or feature_extractor is None:
            raise ValueError("NeuroNarratorProcessor needs both a feature_extractor and a tokenizer.")
        self.eeg_token, self.topomap_token, self.history_token = eeg_token, topomap_token, history_token
        counts = dict(placeholder_counts) if placeholder_counts is not None else get_placeholder_counts(NeuroNarratorConfig())
        if set(counts) != {"history", "eeg", "topomap"} or any(int(v) < 1 for v in counts.values()):
            raise ValueError(
                f"placeholder_counts must map 'history', 'eeg' and 'topomap' to positive integers, got {counts}; "
                "use NeuroNarratorProcessor.from_config(config, ...)."
            )
        self.placeholder_counts = {kind: int(counts[kind]) for kind in ("history", "eeg", "topomap")}
        self.history_length = int(history_length)
        self.instruction = instruction
        self.findings_in_prompt = bool(findings_in_prompt)
        self.annotations_in_prompt = bool(annotations_in_prompt)
        if self.annotations_in_prompt and not self.findings_in_prompt:
            raise ValueError("annotations_in_prompt needs findings_in_prompt: the annotated-keys line follows the measured one.")
        self.measured_categories = bool(measured_categories)
        if self.measured_categories and not self.findings_in_prompt:
            raise ValueError("measured_categories needs findings_in_prompt: the category is part of the measured line.")
        self.measured_change_window = bool(measured_change_window)
        self.label_keys = None if label_keys is None else sorted(label_keys)
        if self.measured_change_window and not self.findings_in_prompt:
            raise ValueError("measured_change_window needs findings_in_prompt: the window is part of the measured line.")
        vocab = tokenizer.get_vocab()
        missing = [t for t in (eeg_token, topomap_token, history_token) if t not in vocab]
        if missing:
            raise ValueError(
                f"the tokenizer lacks the placeholder tokens {missing}; add them with "
                "tokenizer.add_special_tokens({'additional_special_tokens': [...]}) (and resize the model's embeddings)."
            )
        self.token_ids = {
            "history": vocab[history_token],
            "eeg": vocab[eeg_token],
            "topomap": vocab[topomap_token],
        }
        if chat_template is None:
            chat_template = getattr(tokenizer, "chat_template", None)
        super().__init__(feature_extractor, tokenizer, chat_template=chat_template)

    @classmethod
    def from_config(cls, config: NeuroNarratorConfig, feature_extractor, tokenizer, **kwargs) -> NeuroNarratorProcessor:
        """A processor whose prompt layout matches ``config`` (placeholder strings and counts, K)."""
        for kind in ("eeg", "topomap", "history"):
            expected = getattr(config, f"{kind}_token_id")
            actual = tokenizer.convert_tokens_to_ids(getattr(config, f"{kind}_token"))
            if expected is not None and actual != expected:
                raise ValueError(
                    f"config.{kind}_token_id is {expected} but the tokenizer maps {getattr(config, f'{kind}_token')!r} "
                    f"to {actual}; build the config with this tokenizer (NeuroNarratorConfig.default(tokenizer=...))."
                )
        return cls(
            feature_extractor=feature_extractor,
            tokenizer=tokenizer,
            eeg_token=config.eeg_token,
            topomap_token=config.topomap_token,
            history_token=config.history_token,
            placeholder_counts=get_placeholder_counts(config),
            history_length=config.history_length,
            findings_in_prompt=config.findings_in_prompt,
            annotations_in_prompt=getattr(config, "annotations_in_prompt", False),
            measured_categories=getattr(config, "measured_categories", False),
            measured_change_window=getattr(config, "measured_change_window", False),
            label_keys=getattr(config, "label_keys", None),
            **kwargs,
        )

    @property
    def model_input_names(self) -> list[str]:
        return [
            "input_ids",
            "attention_mask",
            "eeg_values",
            "channel_mask",
            "topomaps",
            "history_eeg_values",
            "history_channel_mask",
            "history_topomaps",
            "history_mask",
        ]

    # ------------------------------------------------------------------ prompt
    def _placeholder_string(self) -> str:
        counts = self.placeholder_counts
        return (
            self.history_token * counts["history"]
            + self.eeg_token * counts["eeg"]
            + self.topomap_token * counts["topomap"]
        )

    def build_prompt(self, instruction: str | None = None, findings: Findings | dict | None = None) -> str:
        """The prompt text of one segment, placeholders expanded, ending where the narrative starts;
        with ``findings_in_prompt``, the segment's measured findings (``measured_findings_text``,
        then with ``annotations_in_prompt`` its annotated label keys) sit between the placeholders
        and the instruction."""
        if self.findings_in_prompt and findings is None:
            raise ValueError(
                "this processor narrates from the measured findings (findings_in_prompt=True): pass findings=, one per "
                "segment (the feature extractor's 'findings')."
            )
        measured = (
            f"{prompt_findings_text(findings, self.annotations_in_prompt, self.measured_categories, self.measured_change_window, self.label_keys)}\n"
            if self.findings_in_prompt
            else ""
        )
        content = f"{self._placeholder_string()}\n{measured}{instruction or self.instruction}"
        if self.chat_template:
            messages = [{"role": "user", "content": content}]
            return self.tokenizer.apply_chat_template(
                messages, chat_template=self.chat_template, add_generation_prompt=True, tokenize=False
            )
        bos = self.tokenizer.bos_token or ""
        return f"{bos}{content}\n"

    def _check_placeholders(self, ids: Sequence[int], where: str) -> None:
        for kind, token_id in self.token_ids.items():
            found = sum(1 for i in ids if i == token_id)
            expected = self.placeholder_counts[kind]
            if found != expected:
                raise ValueError(
                    f"{where}: the prompt holds {found} {kind} placeholder tokens but the model expects {expected} "
                    f"({getattr(self, f'{kind}_token')!r} x {expected}); "
                    + (
                        "raise max_length: truncation must never cut the prompt."
                        if where.startswith("after")
                        else "do not write placeholder tokens in the instruction or the target text."
                    )
                )

    # ------------------------------------------------------------------ call
    def __call__(
        self,
        recording: Any = None,
        text: str | list[str] | None = None,
        *,
        eeg_values: Any = None,
        channel_mask: Any = None,
        topomaps: Any = None,
        history_eeg_values: Any = None,
        history_channel_mask: Any = None,
        history_topomaps: Any = None,
        history_mask: Any = None,
        history: bool = True,
        findings: Sequence[Findings | dict] | None = None,
        instruction: str | None = None,
        sampling_rate: float | None = None,
        ch_names: list[str] | None = None,
        line_freq: float | None = None,
        start_s: float | None = None,
        end_s: float | None = None,
        max_length: int | None = None,
        max_target_tokens: int | None = None,
        return_tensors: str | None = None,
        **kwargs,
    ) -> BatchFeature:
        """Model inputs for a batch of segments.

        Either ``recording`` (a path, an mne Raw, or an array (n_channels, n_samples) with
        ``sampling_rate`` and ``ch_names``): the feature extractor cuts it into 10 s segments, one
        batch row each, and (``history=True``) attaches to each the up to K preceding segments.
        Or precomputed segments: ``eeg_values`` (B, 19, 2000) float16/32 already scaled to µV/100,
        ``channel_mask`` (B, 19), ``topomaps`` (B, 5, H, W), optionally ``history_eeg_values``
        (B, K, 19, 2000) + ``history_channel_mask`` (B, K, 19) + ``history_topomaps`` (B, K, 5, H, W)
        + ``history_mask`` (B, K); or, for histories of different lengths, lists of B per-sample
        arrays (k_i, ...), left-padded here. A single segment may drop the batch axis.

        ``text``: target narratives (one per segment) for training: they follow the prompt, end
        with EOS, and ``labels`` are -100 everywhere else. ``max_length`` truncates the target,
        never the prompt; ``max_target_tokens`` caps each target (EOS included) whatever its
        prompt's length. Without targets the batch is left-padded (ready for ``generate``).

        ``findings``: the segments' measured ``Findings`` (or their dicts), one per segment; read
        only when ``findings_in_prompt`` (then required; a recording brings its own).

        Returns:
            `BatchFeature` with ``input_ids`` (B, L), ``attention_mask`` (B, L), ``eeg_values``
            (B, 19, 2000) float32, ``channel_mask`` (B, 19) bool, ``topomaps`` (B, 5, H, W),
            the ``history_*`` inputs and ``history_mask`` (B, K) when there is a history,
            and ``labels`` (B, L) when targets are given. For segment times and findings of a
            recording, use ``processor.feature_extractor`` (or ``model.narrate_recording``).
        """
        if kwargs:
            raise TypeError(f"NeuroNarratorProcessor got unexpected arguments {sorted(kwargs)}.")
        if recording is not None:
            if eeg_values is not None:
                raise ValueError("Pass either a recording or precomputed eeg_values, not both.")
            features = self.feature_extractor(
                recording, sampling_rate=sampling_rate, ch_names=ch_names, line_freq=line_freq, start_s=start_s, end_s=end_s
            )
            eeg_values, channel_mask, topomaps = features["eeg_values"], features["channel_mask"], features["topomaps"]
            findings = features["findings"] if findings is None else findings
            segments = self._segment_arrays(eeg_values, channel_mask, topomaps)
            data = dict(segments)
            if history and self.history_length > 0:
                data.update(self._history_from_recording(*segments.values()))
        else:
            if eeg_values is None:
                raise ValueError(
                    "Pass a recording (path, mne Raw or array) or precomputed eeg_values with channel_mask and topomaps."
                )
            data = dict(self._segment_arrays(eeg_values, channel_mask, topomaps))
            if history and history_eeg_values is not None:
                data.update(
                    self._history_arrays(
                        data["eeg_values"].shape[0], history_eeg_values, history_channel_mask, history_topomaps, history_mask
                    )
                )
        batch = data["eeg_values"].shape[0]
        data.update(self._tokenize(batch, text, instruction, max_length, findings, max_target_tokens))
        return BatchFeature(data=data, tensor_type=return_tensors)

    def prompt_inputs(
        self, batch: int, instruction: str | None = None, return_tensors: str | None = None, findings: Sequence | None = None
    ) -> BatchFeature:
        """``input_ids`` and ``attention_mask`` of ``batch`` generation prompts alone, for segments
        the model has encoded already (``model.generate_narratives``); ``findings`` as in ``__call__``."""
        return BatchFeature(data=self._tokenize(batch, None, instruction, None, findings), tensor_type=return_tensors)

    # ------------------------------------------------------------------ arrays
    def _segment_arrays(self, eeg_values, channel_mask, topomaps) -> dict[str, np.ndarray]:
        eeg = _as_float_array("eeg_values", eeg_values, 3)
        if eeg.shape[1:] != (_N_CHANNELS, _N_SAMPLES):
            raise ValueError(
                f"eeg_values must be (batch, {_N_CHANNELS}, {_N_SAMPLES}) (10 s at 200 Hz, µV/100), got {eeg.shape}; "
                "pass a recording instead to run the feature extractor."
            )
        batch = eeg.shape[0]
        if channel_mask is None:
            mask = np.ones((batch, _N_CHANNELS), dtype=bool)
        else:
            mask = _as_bool_array("channel_mask", channel_mask, 2)
        if mask.shape != (batch, _N_CHANNELS):
            raise ValueError(f"channel_mask must be ({batch}, {_N_CHANNELS}) to match eeg_values, got {mask.shape}.")
        if topomaps is None:
            raise ValueError("topomaps are required with eeg_values (the feature extractor and the corpus give both).")
        topo = _as_float_array("topomaps", topomaps, 4)
        if topo.shape[0] != batch:
            raise ValueError(f"topomaps hold {topo.shape[0]} segments but eeg_values hold {batch}.")
        return {"eeg_values": eeg, "channel_mask": mask, "topomaps": topo}

    def _history_from_recording(self, eeg, mask, topo) -> dict[str, np.ndarray]:
        """Segment i gets segments max(0, i-K) .. i-1 of the same recording, left-padded to K."""
        n, k = eeg.shape[0], self.history_length
        index = np.arange(n)[:, None] - k + np.arange(k)[None, :]  # (n, K): i-K .. i-1
        valid = index >= 0
        index = np.clip(index, 0, None)
        return {
            "history_eeg_values": np.where(valid[..., None, None], eeg[index], 0.0).astype(np.float32),
            "history_channel_mask": np.where(valid[..., None], mask[index], False),
            "history_topomaps": np.where(valid[..., None, None, None], topo[index], 0.0).astype(np.float32),
            "history_mask": valid,
        }

    def _history_arrays(self, batch, eeg, mask, topo, history_mask) -> dict[str, np.ndarray]:
        if isinstance(eeg, (list, tuple)):
            return self._pad_histories(batch, eeg, mask, topo)
        eeg = _as_float_array("history_eeg_values", eeg, 4)
        k = eeg.shape[1]
        if eeg.shape[0] != batch or eeg.shape[2:] != (_N_CHANNELS, _N_SAMPLES):
            raise ValueError(f"history_eeg_values must be ({batch}, K, {_N_CHANNELS}, {_N_SAMPLES}), got {eeg.shape}.")
        if topo is None:
            raise ValueError("history_topomaps are required with history_eeg_values.")
        topo = _as_float_array("history_topomaps", topo, 5)
        if topo.shape[:2] != (batch, k):
            raise ValueError(f"history_topomaps must start with ({batch}, {k}) like history_eeg_values, got {topo.shape}.")
        mask = np.ones((batch, k, _N_CHANNELS), bool) if mask is None else _as_bool_array("history_channel_mask", mask, 3)
        hmask = np.ones((batch, k), bool) if history_mask is None else _as_bool_array("history_mask", history_mask, 2)
        if mask.shape != (batch, k, _N_CHANNELS) or hmask.shape != (batch, k):
            raise ValueError(
                f"history_channel_mask must be ({batch}, {k}, {_N_CHANNELS}) and history_mask ({batch}, {k}); got "
                f"{mask.shape} and {hmask.shape}."
            )
        if (hmask[:, 1:].astype(int) < hmask[:, :-1].astype(int)).any():
            raise ValueError("history_mask must be left-padded: missing preceding segments first, the newest last.")
        return {"history_eeg_values": eeg, "history_channel_mask": mask, "history_topomaps": topo, "history_mask": hmask}

    def _pad_histories(self, batch, eeg_list, mask_list, topo_list) -> dict[str, np.ndarray]:
        """Lists of per-sample histories (k_i, ...) of different lengths -> left-padded arrays."""
        if len(eeg_list) != batch or topo_list is None or len(topo_list) != batch:
            raise ValueError(
                f"history lists must hold one entry per segment ({batch}); got {len(eeg_list)} history_eeg_values and "
                f"{None if topo_list is None else len(topo_list)} history_topomaps."
            )

        def _entries(value, name: str, tail: tuple[int, ...]) -> np.ndarray:
            if value is None or np.size(value) == 0:
                return np.zeros((0, *tail), np.float32)
            return _as_float_array(name, value, len(tail) + 1)

        eegs = [_entries(e, f"history_eeg_values[{i}]", (_N_CHANNELS, _N_SAMPLES)) for i, e in enumerate(eeg_list)]
        k = max(e.shape[0] for e in eegs)
        topo_shape = next((np.shape(t)[1:] for t in topo_list if t is not None and np.size(t)), None)
        if k == 0 or topo_shape is None:
            return {}  # no sample has a preceding segment
        out_eeg = np.zeros((batch, k, _N_CHANNELS, _N_SAMPLES), np.float32)
        out_mask = np.zeros((batch, k, _N_CHANNELS), bool)
        out_topo = np.zeros((batch, k, *topo_shape), np.float32)
        out_valid = np.zeros((batch, k), bool)
        for row, e in enumerate(eegs):
            n = e.shape[0]
            if n == 0:
                continue
            topo_row = _as_float_array(f"history_topomaps[{row}]", topo_list[row], 4)
            if topo_row.shape[0] != n:
                raise ValueError(
                    f"history of sample {row}: {n} EEG segments but {topo_row.shape[0]} topomap stacks; pass one per segment."
                )
            out_eeg[row, k - n :] = e
            out_topo[row, k - n :] = topo_row
            if mask_list is None or mask_list[row] is None:
                out_mask[row, k - n :] = True
            else:
                out_mask[row, k - n :] = _as_bool_array(f"history_channel_mask[{row}]", mask_list[row], 2)
            out_valid[row, k - n :] = True
        return {"history_eeg_values": out_eeg, "history_channel_mask": out_mask, "history_topomaps": out_topo, "history_mask": out_valid}

    # ------------------------------------------------------------------ text
    def _prompt_ids(self, instruction: str | None, findings) -> list[int]:
        prompt = self.build_prompt(instruction, findings)
        # Check 1, before tokenizing: the expanded prompt holds exactly the expected placeholders.
        for kind, count in self.placeholder_counts.items():
            found = prompt.count(getattr(self, f"{kind}_token"))
            if found != count:
                raise ValueError(f"before tokenizing: the prompt holds {found} {kind} placeholders, expected {count}.")
        prompt_ids = self.tokenizer(prompt, add_special_tokens=False)["input_ids"]
        self._check_placeholders(prompt_ids, "after tokenizing")
        return list(prompt_ids)

    def _tokenize(
        self, batch: int, text, instruction: str | None, max_length: int | None, findings=None, max_target_tokens: int | None = None
    ) -> dict[str, np.ndarray]:
        if instruction is not None and any(t in instruction for t in (self.eeg_token, self.topomap_token, self.history_token)):
            raise ValueError("instruction must not contain placeholder tokens; the processor inserts them.")
        if self.findings_in_prompt:
            if findings is None or len(findings) != batch:
                raise ValueError(
                    f"this processor narrates from the measured findings (findings_in_prompt=True): pass findings=, one per "
                    f"segment ({batch}), got {'none' if findings is None else len(findings)}."
                )
            prompts = [self._prompt_ids(instruction, f) for f in findings]
        else:
            prompts = [self._prompt_ids(instruction, None)] * batch
        prompt_ids = max(prompts, key=len)
        if text is None:
            rows = [(list(p), None) for p in prompts]
        else:
            targets = [text] if isinstance(text, str) else list(text)
            if len(targets) != batch:
                raise ValueError(f"got {len(targets)} target texts for {batch} segments; pass one narrative per segment.")
            rows = []
            eos = self.tokenizer.eos_token_id
            for target in targets:
                if not isinstance(target, str):
                    raise TypeError(f"target texts must be str, got {type(target).__name__}.")
                target_ids = self.tokenizer(target, add_special_tokens=False)["input_ids"]
                if any(i in self.token_ids.values() for i in target_ids):
                    raise ValueError("a target text contains placeholder tokens; narratives must be plain text.")
                target_ids = target_ids + ([eos] if eos is not None else [])
                if max_target_tokens is not None:
                    target_ids = target_ids[:max_target_tokens]
                rows.append((list(prompts[len(rows)]), target_ids))
        if max_length is not None:
            if len(prompt_ids) > max_length:
                raise ValueError(
                    f"max_length={max_length} is shorter than the prompt ({len(prompt_ids)} tokens, "
                    f"{sum(self.placeholder_counts.values())} of them placeholders); raise max_length."
                )
            rows = [(p, None if t is None else t[: max_length - len(p)]) for p, t in rows]
        ids_rows, label_rows = [], []
        for prompt_part, target_part in rows:
            ids = prompt_part + (target_part or [])
            # Check 2, after truncation: each row still carries every placeholder.
            self._check_placeholders(ids, "after truncation")
            ids_rows.append(ids)
            label_rows.append([-100] * len(prompt_part) + list(target_part or []))
        return self._pad(ids_rows, label_rows if text is not None else None)

    def _pad(self, ids_rows: list[list[int]], label_rows: list[list[int]] | None) -> dict[str, np.ndarray]:
        pad_id = self.tokenizer.pad_token_id
        if pad_id is None:
            pad_id = self.tokenizer.eos_token_id if self.tokenizer.eos_token_id is not None else 0
        length = max(len(r) for r in ids_rows)
        # Training batches pad on the right (labels line up with the prompt); generation on the left,
        # so every row's next token follows its last real token.
        left = label_rows is None
        input_ids = np.full((len(ids_rows), length), pad_id, dtype=np.int64)
        attention = np.zeros((len(ids_rows), length), dtype=np.int64)
        labels = np.full((len(ids_rows), length), -100, dtype=np.int64)
        for row, ids in enumerate(ids_rows):
            span = slice(length - len(ids), length) if left else slice(0, len(ids))
            input_ids[row, span] = ids
            attention[row, span] = 1
            if label_rows is not None:
                labels[row, span] = label_rows[row]
        out = {"input_ids": input_ids, "attention_mask": attention}
        if label_rows is not None:
            out["labels"] = labels
        return out

    def post_process_narratives(self, generated_ids, prompt_length: int) -> list[str]:
        """Decode the generated continuation (after ``prompt_length`` tokens) of each row."""
        return [text.strip() for text in self.batch_decode(generated_ids[:, prompt_length:], skip_special_tokens=True)]


# save_pretrained writes ``auto_map`` and copies the code files (see configuration_neuronarrator).
NeuroNarratorProcessor.register_for_auto_class("AutoProcessor")
