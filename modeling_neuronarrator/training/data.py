"""Corpus -> training batches: read the Parquet corpus, attach histories, compute topomaps, collate.

The corpus is a folder written by ``neuronarrator build-corpus`` (Parquet shards + README card),
one row per 10 s segment: ``id, source, subject, recording, segment_index, start_s, eeg_values`` (19 x
2000, float16, µV/100 at 200 Hz), ``channel_mask`` (19 bool), ``findings`` (JSON), ``labels``,
``description``, ``split``.

Two ways to read it:

- ``SegmentDataset`` (map-style, default): ``dataset_builder.corpus.load_corpus`` (``datasets.load_dataset``,
  a corpus built before the ``eeg`` -> ``eeg_values`` rename read alike) memory-maps the Arrow
  cache, so a corpus larger than RAM still works; each item carries the row's K preceding segments
  of the same recording (``dataset_builder.HistoryIndex``), missing ones flagged.
- ``StreamingSegmentDataset`` (``data.streaming: true``): ``load_corpus(..., streaming=True)``,
  rows read shard by shard; the K preceding rows of each recording are kept in a small buffer as
  the stream passes (the builder writes a recording's segments in order), then a shuffle buffer
  mixes recordings.

Topomaps are not stored in the corpus: ``TopomapComputer`` recomputes them from the ``eeg_values`` arrays
with the feature extractor's own band-power and head-grid functions, for the whole batch at once in
the collate function (so it runs in DataLoader workers when ``num_workers > 0``).
"""

from __future__ import annotations

import copy
import logging
from collections import defaultdict, deque
from pathlib import Path
from typing import Any, Iterator, Optional, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset, IterableDataset

from ..eeg_io_neuronarrator import SEGMENT_SAMPLES, STANDARD_CHANNELS
from ..findings_neuronarrator import finding_targets
from ..processing_neuronarrator import MEASURED_FIELDS, measured_findings_parts
from .mirror import MIRROR_MODES, mirror_example

__all__ = [
    "load_corpus_split",
    "time_block_split",
    "subject_split",
    "build_datasets",
    "SegmentDataset",
    "StreamingSegmentDataset",
    "TopomapComputer",
    "SegmentCollator",
    "corpus_texts",
    "measured_value_token_ids",
    "measured_sentence_token_mask",
    "FIELD_SENTENCE_GROUPS",
]

logger = logging.getLogger(__name__)

N_CHANNELS = len(STANDARD_CHANNELS)
N_SAMPLES = SEGMENT_SAMPLES
REQUIRED_COLUMNS = ("id", "recording", "segment_index", "eeg_values", "channel_mask", "description")


def load_corpus_split(corpus_dir: Path, split: str, streaming: bool = False, limit: Optional[int] = None):
    """Load one split of a built corpus with ``datasets`` (through ``dataset_builder.corpus.load_corpus``,
    which renames the ``eeg`` column of a corpus built before issue 18 to ``eeg_values``).

    Raises:
        FileNotFoundError: ``corpus_dir`` does not exist.
        ValueError: the split is absent or required columns are missing (the message lists what
            the folder has and how to build a corpus).
    """
    from dataset_builder.corpus import load_corpus

    corpus_dir = Path(corpus_dir)
    if not corpus_dir.is_dir():
        raise FileNotFoundError(
            f"{corpus_dir}: corpus folder not found; build one with `neuronarrator build-corpus --source offline --out {corpus_dir}`"
        )
    try:
        dataset = load_corpus(corpus_dir, split, streaming=streaming)
    except ValueError as error:
        raise ValueError(f"{corpus_dir}: cannot load split '{split}' ({error}); check the corpus card's splits") from error
    missing = [c for c in REQUIRED_COLUMNS if c not in (dataset.column_names or [])]
    if missing:
        raise ValueError(
            f"{corpus_dir}: split '{split}' lacks column(s) {missing}; it has {dataset.column_names}. "
            "Rebuild it with `neuronarrator build-corpus`."
        )
    if limit is not None:
        dataset = dataset.take(limit) if streaming else dataset.select(range(min(limit, len(dataset))))
    return dataset


def time_block_split(dataset, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Row indices of the training part and of the held-out last ``fraction`` of each recording.

    A recording of n segments holds out its segments with ``segment_index >= n - ceil(fraction * n)``
    (at least one, and at least one kept for training when n >= 2).

    Returns:
        ``(train_indices, heldout_indices)``, int64 arrays of row positions in ``dataset``.
    """
    keys = [f"{s}/{r}" for s, r in zip(dataset["source"] if "source" in dataset.column_names else [""] * len(dataset), dataset["recording"])]
    segment = np.asarray(dataset["segment_index"], dtype=np.int64)
    counts: dict[str, int] = defaultdict(int)
    first: dict[str, int] = {}
    for key, index in zip(keys, segment):
        counts[key] = max(counts[key], int(index) + 1)
        first[key] = min(first.get(key, int(index)), int(index))
    heldout = np.zeros(len(keys), dtype=bool)
    for row, (key, index) in enumerate(zip(keys, segment)):
        n = counts[key] - first[key]
        n_out = min(max(1, int(np.ceil(fraction * n))), max(n - 1, 1))
        heldout[row] = index >= counts[key] - n_out
    return np.flatnonzero(~heldout), np.flatnonzero(heldout)


def subject_split(dataset, heldout_subjects: list[str], where: str = "config") -> tuple[np.ndarray, np.ndarray]:
    """Row indices of the other subjects and of ``heldout_subjects`` (``"source/subject"``).

    Raises:
        ValueError: a named subject has no rows (a typo would silently test on nothing), or no
            subject is left to train on.
    """
    keys = np.array([f"{s}/{u}" for s, u in zip(dataset["source"], dataset["subject"])])
    wanted = set(heldout_subjects)
    missing = sorted(wanted - set(keys.tolist()))
    if missing:
        raise ValueError(f"{where}: held-out subject(s) {missing} have no rows; the corpus has {sorted(set(keys.tolist()))}")
    heldout = np.isin(keys, list(wanted))
    if heldout.all():
        raise ValueError(f"{where}: data.heldout_subjects {sorted(wanted)} are every subject of the corpus; leave one to train on")
    return np.flatnonzero(~heldout), np.flatnonzero(heldout)


def build_datasets(
    config, history: Optional[int] = None, topomaps: Optional["TopomapComputer"] = None
) -> tuple["SegmentDataset | StreamingSegmentDataset", Optional["SegmentDataset"]]:
    """The training and validation datasets a ``TrainConfig`` asks for.

    ``data.split_mode: corpus`` uses the corpus's splits (``data.train_split`` /
    ``data.validation_split``; validation is None when that split is absent or empty);
    ``time_block`` pools every split and holds out the last block of each recording;
    ``subjects`` pools every split and holds out every row of ``data.heldout_subjects``.
    ``history`` overrides ``data.history`` (stage 1 needs none); with ``topomaps`` a small
    corpus is held in memory with its maps precomputed (see ``SegmentDataset``).
    """
    import datasets

    from dataset_builder.corpus import load_corpus

    data = config.data
    k = data.history if history is None else int(history)
    if data.streaming:
        if data.split_mode != "corpus":
            raise ValueError(f"{config.path}: data.streaming works with split_mode 'corpus' only (a time block needs every row indexed)")
        from accelerate import PartialState

        state = PartialState()
        stream = load_corpus_split(config.corpus, data.train_split, streaming=True, limit=data.limit)
        train = StreamingSegmentDataset(stream, k, data.shuffle_buffer, config.seed, state.process_index, state.num_processes)
        try:
            validation = SegmentDataset(load_corpus_split(config.corpus, data.validation_split, limit=data.limit), k, topomaps=topomaps)
        except ValueError:
            validation = None
        return train, validation
    if data.split_mode in ("time_block", "subjects"):
        names = list(load_corpus(config.corpus).keys()) if Path(config.corpus).is_dir() else []
        if not names:
            raise FileNotFoundError(f"{config.corpus}: corpus folder not found or empty; build it with `neuronarrator build-corpus`")
        pooled = datasets.concatenate_datasets([load_corpus_split(config.corpus, name) for name in names])
        if data.limit is not None:
            pooled = pooled.select(range(min(data.limit, len(pooled))))
        if data.split_mode == "time_block":
            train_idx, heldout_idx = time_block_split(pooled, data.time_block_fraction)
        else:
            train_idx, heldout_idx = subject_split(pooled, data.heldout_subjects, where=str(config.path))
        if data.heldout_scenario_copies is not None:
            from dataset_builder.augment import within_scenario_copies

            kept = within_scenario_copies(pooled["recording"], data.heldout_scenario_copies)
            heldout_idx = heldout_idx[kept[heldout_idx]].astype(np.int64)
        logger.info("%s split: %d training rows, %d held-out rows", data.split_mode, len(train_idx), len(heldout_idx))
        train = SegmentDataset(pooled, k, train_idx, topomaps=topomaps)
        heldout = SegmentDataset(pooled, k, heldout_idx, topomaps=None)
        heldout.cache = train.cache  # the same rows: one copy
        return train, heldout
    train = SegmentDataset(load_corpus_split(config.corpus, data.train_split, limit=data.limit), k, topomaps=topomaps)
    try:
        validation_rows = load_corpus_split(config.corpus, data.validation_split, limit=data.limit)
    except ValueError:
        validation_rows = None
    validation = SegmentDataset(validation_rows, k, topomaps=topomaps) if validation_rows is not None and len(validation_rows) else None
    return train, validation


def corpus_texts(dataset) -> list[str]:
    """All descriptions of a (map-style) split: the tokenizer's training text."""
    return list(dataset["description"])


def _preceding_rows(dataset, history: int) -> np.ndarray:
    """Row indices of each row's ``history`` preceding segments (oldest first); -1 where absent.

    Returns:
        int64 array of shape ``(n_rows, history)``.
    """
    from dataset_builder.history import HistoryIndex

    return HistoryIndex(dataset, k=history).table()


def _as_segment(eeg: Any, mask: Any) -> tuple[np.ndarray, np.ndarray]:
    eeg = np.asarray(eeg, dtype=np.float32)
    mask = np.asarray(mask, dtype=bool)
    if eeg.shape != (N_CHANNELS, N_SAMPLES) or mask.shape != (N_CHANNELS,):
        raise ValueError(
            f"corpus row has eeg {eeg.shape} and channel_mask {mask.shape}; expected ({N_CHANNELS}, {N_SAMPLES}) and "
            f"({N_CHANNELS},): the corpus was built with another segment length; rebuild it with 10 s segments"
        )
    return eeg, mask


def _usable_channels(mask: np.ndarray) -> np.ndarray:
    """The channel mask the encoder gets.

    A segment with no recorded 10-20 channel comes from a montage without 10-20 names (e.g. the
    128-electrode BioSemi caps of the pylossless recordings) that the front-end interpolated onto
    the 10-20 positions from electrode positions; with tens of electrodes around every target
    the interpolated channels are as good as recorded ones, so all 19 are used (the encoder
    refuses a mask without any True).
    """
    return mask if mask.any() else np.ones_like(mask)


def _example(row: dict, history_rows: list[Optional[dict]]) -> dict[str, Any]:
    eeg, mask = _as_segment(row["eeg_values"], row["channel_mask"])
    mask = _usable_channels(mask)
    k = len(history_rows)
    history_eeg = np.zeros((k, N_CHANNELS, N_SAMPLES), dtype=np.float32)
    history_channel_mask = np.zeros((k, N_CHANNELS), dtype=bool)
    history_mask = np.zeros(k, dtype=bool)
    for slot, previous in enumerate(history_rows):
        if previous is not None:
            history_eeg[slot], previous_mask = _as_segment(previous["eeg_values"], previous["channel_mask"])
            history_channel_mask[slot] = _usable_channels(previous_mask)
            history_mask[slot] = True
    example = {
        "id": str(row["id"]),
        "description": str(row["description"]),
        "findings": row.get("findings"),
        "labels": row.get("labels"),
        "eeg_values": eeg,
        "channel_mask": mask,
        "history_eeg_values": history_eeg,
        "history_channel_mask": history_channel_mask,
        "history_mask": history_mask,
    }
    if "topomaps" in row:  # precomputed (in-memory corpus)
        example["topomaps"] = row["topomaps"]
        example["history_topomaps"] = np.zeros((k, *row["topomaps"].shape), dtype=np.float32)
        for slot, previous in enumerate(history_rows):
            if previous is not None:
                example["history_topomaps"][slot] = previous["topomaps"]
    return example


class SegmentDataset(Dataset):
    """Map-style view of a corpus split: item ``i`` is row ``i`` with its K preceding segments.

    Each item is a dict: ``id``, ``description``, ``findings`` (JSON), ``labels``, ``eeg_values``
    ``(19, 2000)`` float32 in µV/100, ``channel_mask`` ``(19,)`` bool, ``history_eeg_values``
    ``(K, 19, 2000)``, ``history_channel_mask`` ``(K, 19)``, ``history_mask`` ``(K,)`` bool
    (False where the recording has fewer than K preceding segments; the slot is zeros).

    ``indices`` restricts the items to a subset of rows (a held-out time block) while histories
    are still looked up among all rows, so a held-out segment keeps its preceding context.

    A corpus smaller than ``in_memory_mb`` is loaded once into RAM with its topomaps computed in
    one vectorized pass (``topomaps``: a ``TopomapComputer``); items then carry ``topomaps`` and
    ``history_topomaps`` and cost an index lookup. Larger corpora stay memory-mapped and the
    collator computes topomaps per batch.
    """

    def __init__(
        self,
        dataset,
        history: int = 0,
        indices: Optional[np.ndarray] = None,
        topomaps: Optional["TopomapComputer"] = None,
        in_memory_mb: float = 4096.0,
    ):
        self.rows = dataset.with_format("numpy", columns=["eeg_values", "channel_mask"], output_all_columns=True)
        self.history = int(history)
        self.preceding = _preceding_rows(dataset, self.history) if self.history else np.zeros((len(dataset), 0), np.int64)
        self.indices = np.arange(len(dataset)) if indices is None else np.asarray(indices, dtype=np.int64)
        self.cache: Optional[dict[str, Any]] = None
        # float16 EEG + float32 topomaps + metadata, per row: ~0.09 MB, so the 4 GB default holds
        # the offline corpus with 60 scenario copies (24k rows, 2.2 GB); memory-mapped, its topomaps
        # were computed per batch and stage 1 ran ~8x slower (12 vs 90-120 samples/s).
        row_mb = (N_CHANNELS * N_SAMPLES * 2 + 5 * 32 * 32 * 4) / 2**20
        if topomaps is not None and len(dataset) * row_mb <= in_memory_mb:
            self._load_in_memory(dataset, topomaps)

    def _load_in_memory(self, dataset, topomaps: "TopomapComputer", chunk: int = 256) -> None:
        plain = dataset.with_format(None)
        eeg = np.empty((len(dataset), N_CHANNELS, N_SAMPLES), dtype=np.float16)
        maps = None
        numeric = dataset.with_format("numpy", columns=["eeg_values"])
        for start in range(0, len(dataset), chunk):
            block = np.asarray(numeric[start : start + chunk]["eeg_values"])
            eeg[start : start + len(block)] = block
            block_maps = topomaps(block.astype(np.float32))
            if maps is None:
                maps = np.empty((len(dataset), *block_maps.shape[1:]), dtype=np.float32)
            maps[start : start + len(block)] = block_maps
        self.cache = {
            "eeg_values": eeg,
            "topomaps": maps,
            "channel_mask": np.asarray(plain["channel_mask"], dtype=bool),
            **{name: list(plain[name]) for name in ("id", "description", "findings", "labels") if name in plain.column_names},
        }
        logger.info("corpus split held in memory: %d rows, %.0f MB", len(dataset), (eeg.nbytes + maps.nbytes) / 2**20)

    def _cached_row(self, row: int) -> dict[str, Any]:
        cache = self.cache
        return {
            "id": cache["id"][row],
            "description": cache["description"][row],
            "findings": cache.get("findings", [None] * (row + 1))[row],
            "labels": cache.get("labels", [None] * (row + 1))[row],
            "eeg_values": cache["eeg_values"][row],
            "channel_mask": cache["channel_mask"][row],
            "topomaps": cache["topomaps"][row],
        }

    def __len__(self) -> int:
        return len(self.indices)

    def column(self, name: str) -> list:
        """One column's values for this dataset's rows (e.g. ``description``, ``id``)."""
        values = self.rows.with_format(None)[name]
        return [values[int(i)] for i in self.indices]

    def __getitem__(self, index: int) -> dict[str, Any]:
        row_index = int(self.indices[int(index)])
        fetch = self._cached_row if self.cache is not None else (lambda r: self.rows[r])
        row = fetch(row_index)
        history_rows = [None if j < 0 else fetch(int(j)) for j in self.preceding[row_index]]
        return _example(row, history_rows)


class StreamingSegmentDataset(IterableDataset):
    """Iterable view of a streamed corpus split, for corpora larger than memory.

    Rows arrive shard by shard in the builder's order (a recording's segments consecutive); the
    last ``history`` rows of each open recording are buffered to form histories, then examples
    pass through a shuffle buffer of ``shuffle_buffer`` items seeded by ``(seed, epoch)``.
    Processes and DataLoader workers each read a disjoint set of shards
    (``datasets.distributed.split_dataset_by_node``), so a recording stays in one stream.
    """

    def __init__(self, dataset, history: int = 0, shuffle_buffer: int = 2048, seed: int = 0, rank: int = 0, world_size: int = 1):
        from datasets.distributed import split_dataset_by_node

        self.dataset = split_dataset_by_node(dataset, rank=rank, world_size=world_size) if world_size > 1 else dataset
        self.history = int(history)
        self.shuffle_buffer = int(shuffle_buffer)
        self.seed = int(seed)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def _examples(self) -> Iterator[dict[str, Any]]:
        recent: dict[str, deque] = defaultdict(lambda: deque(maxlen=self.history or 1))
        worker = torch.utils.data.get_worker_info()
        for position, row in enumerate(self.dataset):
            if worker is not None and position % worker.num_workers != worker.id:
                # Workers split the stream row by row but all of them still see every row's
                # history buffer update below, so histories stay complete.
                self._remember(recent, row)
                continue
            key = f"{row.get('source', '')}/{row['recording']}"
            previous = {int(r["segment_index"]): r for r in recent[key]} if self.history else {}
            index = int(row["segment_index"])
            history_rows = [previous.get(index - self.history + slot) for slot in range(self.history)]
            yield _example(row, history_rows)
            self._remember(recent, row)

    def _remember(self, recent, row) -> None:
        if self.history:
            recent[f"{row.get('source', '')}/{row['recording']}"].append(row)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        rng = np.random.default_rng(self.seed * 1_000_003 + self.epoch)
        buffer: list[dict[str, Any]] = []
        for example in self._examples():
            if len(buffer) < self.shuffle_buffer:
                buffer.append(example)
                continue
            slot = int(rng.integers(len(buffer)))
            yield buffer[slot]
            buffer[slot] = example
        rng.shuffle(buffer)
        yield from buffer


class TopomapComputer:
    """Band-power topomaps ``(n, 5, H, W)`` from segments ``(n, 19, 2000)`` (µV/100, 200 Hz).

    The same steps as the feature extractor (Welch spectra -> band powers -> log relative power
    -> the cached head-grid matrix, one product for the whole batch), with its functions, so
    training sees the maps inference computes. The corpus EEG is already notch-filtered, while
    the extractor measures before the notch; the notch sits at 50/60 Hz, above every band (the
    gamma band ends at 45 Hz): delta to beta maps agree within 1e-3 and gamma maps within 0.01
    (log10 relative power), the notch's skirt reaching 45 Hz.
    """

    def __init__(self, feature_extractor=None):
        if feature_extractor is None:
            from ..feature_extraction_neuronarrator import NeuroNarratorFeatureExtractor

            feature_extractor = NeuroNarratorFeatureExtractor()
        self.sampling_rate = float(feature_extractor.sampling_rate)
        self.eeg_scale = float(feature_extractor.eeg_scale)
        self.size = int(feature_extractor.topomap_size)

    def __call__(self, eeg: np.ndarray) -> np.ndarray:
        from ..eeg_io_neuronarrator import STANDARD_CHANNELS
        from ..findings_neuronarrator import band_power, segment_psd
        from ..topomap_neuronarrator import project_topomaps

        if len(eeg) == 0:
            return np.zeros((0, 5, self.size, self.size), dtype=np.float32)
        micro_volts = np.asarray(eeg, dtype=np.float64) / self.eeg_scale  # (n, 19, 2000) uV
        psd, freqs = segment_psd(micro_volts, self.sampling_rate)
        powers = band_power(psd, freqs)  # (n, 19, 5) uV^2
        relative = powers / np.maximum(powers.sum(axis=-1, keepdims=True), 1e-12)
        log_relative = np.log10(relative + 1e-6)  # the extractor's floor
        return project_topomaps(log_relative, STANDARD_CHANNELS, self.size).astype(np.float32)


class SegmentCollator:
    """Stack examples into a batch dict of tensors and (optionally) tokenize their narratives.

    Output keys: ``ids`` (list[str]), ``descriptions`` (list[str]), ``eeg_values`` ``(B, 19,
    2000)`` float32, ``channel_mask`` ``(B, 19)`` bool, ``topomaps`` ``(B, 5, H, W)``, and with a
    history ``history_eeg_values`` ``(B, K, 19, 2000)``, ``history_channel_mask`` ``(B, K, 19)``,
    ``history_topomaps`` ``(B, K, 5, H, W)``, ``history_mask`` ``(B, K)`` (left-padded: missing
    preceding segments first). With a ``processor`` the batch goes through it with the
    descriptions as targets, which adds ``input_ids``, ``attention_mask`` and ``labels`` (-100
    outside the narrative); ``max_text_tokens`` caps the narrative part.

    ``blind=True`` zeroes every EEG-derived array, sets every channel mask to "all recorded" and
    every ``history_mask`` to False (the blind-baseline ablation: same model, same prompt, no
    signal, no channel layout, no position in the recording): every row's batch is identical.

    ``eeg_dropout`` blinds that share of the rows the same way (modality dropout, drawn from a
    generator seeded by ``seed``); ``hemisphere_mirror`` shows that share of the rows mirrored left
    to right, EEG, findings and narrative together (``training.mirror``), or with ``mirror_mode="signal"``
    the EEG-derived inputs only (prompt and narrative keep the measured sides); ``without_dropout()`` is the
    same collator with neither, for validation.

    ``finding_targets`` (names from ``FINDING_TARGETS``) adds ``finding_targets`` ``(B, n)``
    float32 0/1, read from the rows' findings: the stage-1 findings head's labels.

    ``measured_token_weight`` and ``measured_sentence_weight`` (with a findings-conditioned processor,
    either != 1) add ``label_weights`` ``(B, T)`` float32, and stage 2's loss is then the weighted mean
    (``trainer.NarrativeStep``): ``measured_token_weight`` on the narrative tokens that copy a value of
    the row's measured line (``measured_value_token_ids``), ``measured_sentence_weight`` on the other
    tokens of the sentences that state its fields (``measured_sentence_token_mask``) whatever the
    value, so that "cannot be judged from this montage" is taught as a side is; 1 on the other
    narrative tokens, 0 outside the narrative. ``measured_token_fields``: of those fields only;
    ``measured_token_sentence_fields`` (some of them): their value tokens weigh only inside the
    narrative's sentences of that field (an event's digits and channel names are tokens other
    sentences use too).
    """

    def __init__(
        self,
        topomaps: TopomapComputer,
        processor=None,
        max_text_tokens: Optional[int] = None,
        blind: bool = False,
        finding_targets: Optional[Sequence[str]] = None,
        eeg_dropout: float = 0.0,
        seed: int = 0,
        hemisphere_mirror: float = 0.0,
        mirror_mode: str = "swap",
        measured_token_weight: float = 1.0,
        measured_token_fields: Optional[Sequence[str]] = None,
        measured_sentence_weight: float = 1.0,
        measured_token_sentence_fields: Optional[Sequence[str]] = None,
    ):
        if not 0.0 <= float(eeg_dropout) < 1.0:
            raise ValueError(f"SegmentCollator: eeg_dropout must be in [0, 1), got {eeg_dropout!r}")
        if not 0.0 <= float(hemisphere_mirror) <= 1.0:
            raise ValueError(f"SegmentCollator: hemisphere_mirror must be in [0, 1], got {hemisphere_mirror!r}")
        if mirror_mode not in MIRROR_MODES:
            raise ValueError(f"SegmentCollator: mirror_mode must be one of {list(MIRROR_MODES)}, got {mirror_mode!r}")
        self.topomaps = topomaps
        self.processor = processor
        self.blind = blind
        self.eeg_dropout = float(eeg_dropout)
        self.hemisphere_mirror = float(hemisphere_mirror)
        self.mirror_mode = mirror_mode
        self._rng = np.random.default_rng(seed)
        self.finding_targets = list(finding_targets) if finding_targets else None
        self.max_target_tokens = None if max_text_tokens is None else int(max_text_tokens)
        for name, weight in (("measured_token_weight", measured_token_weight), ("measured_sentence_weight", measured_sentence_weight)):
            if not float(weight) > 0.0:
                raise ValueError(f"SegmentCollator: {name} must be > 0, got {weight!r}")
        self.measured_token_weight = float(measured_token_weight)
        self.measured_token_fields = None if measured_token_fields is None else tuple(measured_token_fields)
        self.measured_sentence_weight = float(measured_sentence_weight)
        scoped = tuple(measured_token_sentence_fields or ())
        if self.measured_token_fields is not None and set(scoped) - set(self.measured_token_fields):
            raise ValueError(
                f"SegmentCollator: measured_token_sentence_fields {list(scoped)} must be among measured_token_fields "
                f"{list(self.measured_token_fields)}"
            )
        self.measured_token_sentence_fields = scoped

    def without_dropout(self) -> "SegmentCollator":
        """This collator without modality dropout (validation and evaluation batches keep their EEG)."""
        other = copy.copy(self)
        other.eeg_dropout = 0.0
        other.hemisphere_mirror = 0.0
        return other

    def label_weights(self, labels: torch.Tensor, findings: list[dict[str, Any]], descriptions: Sequence[str]) -> torch.Tensor:
        """``(B, T)`` float32 loss weights of the narrative tokens: ``measured_token_weight`` where the token
        copies a value of its row's measured line, ``measured_sentence_weight`` on the rest of the sentences
        that state it, 1 elsewhere in the narrative, 0 outside it."""
        tokenizer = self.processor.tokenizer
        categories = getattr(self.processor, "measured_categories", False)
        window = getattr(self.processor, "measured_change_window", False)
        weights = (labels != -100).float()
        if self.measured_sentence_weight != 1.0:
            for row, (row_findings, text) in enumerate(zip(findings, descriptions)):
                positions = (labels[row] != -100).nonzero().flatten()
                mask = measured_sentence_token_mask(text, row_findings, tokenizer, labels[row, positions].tolist(), self.measured_token_fields)
                weights[row, positions[torch.from_numpy(mask)]] = self.measured_sentence_weight
        scoped = self.measured_token_sentence_fields
        anywhere = [f for f in (self.measured_token_fields or MEASURED_FIELDS) if f not in scoped]
        for row, (row_findings, text) in enumerate(zip(findings, descriptions) if self.measured_token_weight != 1.0 else ()):
            ids = measured_value_token_ids(row_findings, tokenizer, categories, anywhere, window)
            values = torch.tensor(sorted(ids), dtype=labels.dtype)
            weights[row, torch.isin(labels[row], values)] = self.measured_token_weight
            positions = (labels[row] != -100).nonzero().flatten() if scoped else None
            for name in scoped:  # each field's values, inside that field's own sentences only
                ids = measured_value_token_ids(row_findings, tokenizer, categories, [name], window)
                if not ids:
                    continue
                inside = torch.from_numpy(measured_sentence_token_mask(text, row_findings, tokenizer, labels[row, positions].tolist(), [name]))
                copies = torch.isin(labels[row, positions], torch.tensor(sorted(ids), dtype=labels.dtype))
                weights[row, positions[inside & copies]] = self.measured_token_weight
        return weights

    def mirrored(self, examples: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The rows with ``hemisphere_mirror`` of them drawn to be seen mirrored (``mirror_example``)."""
        if self.hemisphere_mirror <= 0.0:
            return examples
        flips = self._rng.random(len(examples)) < self.hemisphere_mirror
        signal_only = self.mirror_mode == "signal"
        return [mirror_example(e, parse_json_field(e["findings"]), signal_only) if flip else e for e, flip in zip(examples, flips)]

    def _blinded_rows(self, batch_size: int) -> Optional[np.ndarray]:
        """``(B,)`` bool: the rows seen without EEG (all of them for the blind ablation), or None."""
        if self.blind:
            return np.ones(batch_size, dtype=bool)
        if self.eeg_dropout > 0.0:
            return self._rng.random(batch_size) < self.eeg_dropout
        return None

    def findings(self, examples: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
        """The rows' measured findings, for a processor that writes them into the prompt (findings-conditioned
        narration; the blind ablation keeps them: findings in, EEG zeroed)."""
        if self.processor is None or not getattr(self.processor, "findings_in_prompt", False):
            return None
        return [parse_json_field(e["findings"]) for e in examples]

    def arrays(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        """The numeric part of a batch (no text), as numpy arrays."""
        eeg = np.stack([e["eeg_values"] for e in examples])  # (B, 19, 2000)
        k = examples[0]["history_eeg_values"].shape[0]
        batch_size = eeg.shape[0]
        history_eeg = np.stack([e["history_eeg_values"] for e in examples]) if k else None  # (B, K, 19, 2000)
        if all("topomaps" in e for e in examples):  # precomputed by an in-memory SegmentDataset (a mirrored row has none)
            maps = np.stack([e["topomaps"] for e in examples])
            if k:
                history_maps = np.stack([e["history_topomaps"] for e in examples])
                maps = np.concatenate([maps, history_maps.reshape(batch_size * k, *maps.shape[1:])])
        else:
            # One topomap pass over the current and history segments together.
            all_eeg = eeg if not k else np.concatenate([eeg, history_eeg.reshape(batch_size * k, N_CHANNELS, N_SAMPLES)])
            maps = self.topomaps(all_eeg)  # (B + B*K, 5, H, W)
        channel_mask = np.stack([e["channel_mask"] for e in examples])  # (B, 19)
        history_channel_mask = np.stack([e["history_channel_mask"] for e in examples]) if k else None  # (B, K, 19)
        blinded = self._blinded_rows(batch_size)
        if blinded is not None and blinded.any():
            # Zeroed in place: every array here is this batch's own (np.stack, the topomap pass), never a row's.
            eeg[blinded] = 0.0
            maps[:batch_size][blinded] = 0.0
            # The channel layout would tell the source (a 6-channel PSG vs a 128-electrode cap) and
            # with it the source's typical findings: a blinded row sees one constant layout.
            channel_mask[blinded] = True
            if k:
                history_eeg[blinded] = 0.0
                maps[batch_size:].reshape(batch_size, k, *maps.shape[1:])[blinded] = 0.0
                history_channel_mask[blinded] = True
        out = {
            "eeg_values": eeg,
            "channel_mask": channel_mask,
            "topomaps": maps[:batch_size],
        }
        if k:
            out["history_eeg_values"] = history_eeg
            out["history_channel_mask"] = history_channel_mask
            out["history_topomaps"] = maps[batch_size:].reshape(batch_size, k, *maps.shape[1:])
            out["history_mask"] = np.stack([e["history_mask"] for e in examples])
            if blinded is not None:
                # Which history slots hold a segment tells where the segment sits in its recording
                # (the first segments have none): a blinded row sees no history at all.
                out["history_mask"][blinded] = False
        if self.finding_targets:
            out["finding_targets"] = np.stack(
                [finding_targets(parse_json_field(e["findings"]), self.finding_targets) for e in examples]
            )
        return out

    def __call__(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        examples = self.mirrored(examples)
        arrays = self.arrays(examples)
        descriptions = [e["description"] for e in examples]
        if self.processor is not None:
            targets = arrays.pop("finding_targets", None)  # not a processor input
            findings = self.findings(examples)
            tensors = dict(
                self.processor(
                    text=descriptions,
                    max_target_tokens=self.max_target_tokens,
                    findings=findings,
                    return_tensors="pt",
                    **arrays,
                )
            )
            if targets is not None:
                tensors["finding_targets"] = torch.from_numpy(targets)
            if findings is not None and (self.measured_token_weight != 1.0 or self.measured_sentence_weight != 1.0):
                tensors["label_weights"] = self.label_weights(tensors["labels"], findings, descriptions)
        else:
            tensors = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()}
        return {"ids": [e["id"] for e in examples], "descriptions": descriptions, **tensors}


def measured_value_token_ids(
    findings: dict[str, Any], tokenizer, categories: bool = False, fields: Optional[Sequence[str]] = None,
    change_window: bool = False,
) -> set[int]:
    """The token ids of the values in a segment's measured line (``measured_findings_parts``): the tokens
    a faithful narrative copies from its prompt (sides, regions, digits, band, state and change words).

    Each value is tokenized as the line writes it (after a space); its tokens without a letter or
    digit (punctuation, spaces) are left out, and so are the field names: they are the line's layout,
    not its measurement. A field name inside a value counts ("change artifacts_resolved").
    ``fields``: only the values of these fields of the line (None: all); ``categories`` and
    ``change_window``: the line's layout (``processing_neuronarrator.measured_findings_text``).
    """
    values = set()
    for name, value in measured_findings_parts(findings, categories, change_window):
        if fields is not None and name not in fields:
            continue
        for token_id in tokenizer(" " + value, add_special_tokens=False)["input_ids"]:
            if any(ch.isalnum() for ch in tokenizer.decode([token_id])):
                values.add(token_id)
    return values


# The writer's sentence groups (``dataset_builder.description.measured_sentence_patterns``) that
# state each field of the measured line (``processing_neuronarrator.MEASURED_FIELDS``); "event:"
# stands for every measured event's sentence.
FIELD_SENTENCE_GROUPS = {
    "state": ("state",), "rhythm": ("background",), "band": ("background",), "pdr": ("pdr",), "region": ("distribution",),
    "amplitude": ("amplitude",), "asymmetry": ("asymmetry",), "slowing": ("slowing", "focal_coverage"),
    "artifacts": ("artifacts",), "events": ("events", "event:"), "change": ("change",),
}  # fmt: skip


def measured_sentence_token_mask(
    description: str, findings: dict[str, Any], tokenizer, target_ids: Sequence[int], fields: Optional[Sequence[str]] = None
) -> np.ndarray:
    """``(len(target_ids),)`` bool: the narrative's tokens inside a sentence that states a measured field
    (``dataset_builder.description.measured_sentence_spans``; ``fields``: of those fields only, None:
    all). ``target_ids`` are the narrative's label tokens (the processor's tokenization of
    ``description``, possibly truncated, EOS appended); a token counts where its characters overlap
    such a sentence (its leading space included).

    Raises:
        ValueError: ``target_ids`` are not the tokenization of ``description``.
    """
    from dataset_builder.description import measured_sentence_spans

    wanted = {g for name in (fields or FIELD_SENTENCE_GROUPS) for g in FIELD_SENTENCE_GROUPS[name]}
    spans = [(start, end) for start, end, group in measured_sentence_spans(description, findings)
             if group in wanted or (group.startswith("event:") and "event:" in wanted)]  # fmt: skip
    mask = np.zeros(len(target_ids), dtype=bool)
    if not spans:
        return mask
    encoded = tokenizer(description, add_special_tokens=False, return_offsets_mapping=True)
    n = min(len(target_ids), len(encoded["input_ids"]))
    if list(target_ids[:n]) != list(encoded["input_ids"][:n]):
        raise ValueError(f"the label tokens are not the tokenization of their narrative {description[:60]!r}...; "
                         "build labels with the processor that tokenized it")  # fmt: skip
    for k, (start, end) in enumerate(encoded["offset_mapping"][:n]):
        mask[k] = any(start < span_end and end > span_start for span_start, span_end in spans)
    return mask


def parse_json_field(value: Any, what: str = "findings") -> dict:
    """A corpus ``findings``/``labels`` value (JSON string or decoded struct) as a dict: the one
    reader of corpus structs (``dataset_builder.agreement.read_struct``), shared with the
    evaluator, training quality and the report."""
    from dataset_builder.agreement import read_struct

    return read_struct(value, what)
