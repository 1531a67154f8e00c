"""The contract between a source reader and the corpus builder.

A reader knows one source's published folder layout and label files. It does two things:

1. ``index(root)``: a cheap pass over the folder (no EEG is decoded) that yields one
   ``RecordingItem`` per recording with its subject, official split and labels as time spans;
2. ``load_raw(item)``: opens that recording as an ``mne.io.BaseRaw`` (in volts, as MNE does),
   for sources whose files MNE cannot open directly (SEED ``.mat``, ISRUC ``.rec``) too.

The builder then runs the front-end on the raw, cuts 10 s segments and gives each segment its
labels by one overlap rule (``labels_for_segment``): per key, the value whose spans cover most of
the segment in total; a dependent key (``seizure_type`` of ``seizure``, ``motor_mode`` of
``motor_task``, see ``labels.DEPENDENT_KEYS``) is taken only from spans that carry the winning value
of its key, so a segment that comes out ``seizure=none`` never carries a seizure type, and a
``rest`` segment never a motor mode. A reader that meets a label it cannot place, or corrects or
refuses a published label, adds a line to ``RecordingItem.issues`` (and logs one warning per file);
the builder writes them to ``errors.jsonl``. Readers register themselves
with ``@register_reader`` so that the CLI, the builder and the contract tests find them all.

``SourceReader.index`` is a template method: it checks the folder, walks it with the reader's
``_recordings`` (the only part that differs between sources), hands each recording the label issues
collected for it, and refuses a folder in which nothing was found, naming what it holds.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, Iterator, Mapping, Optional

from ..labels import DEPENDENT_KEYS, check_labels

if TYPE_CHECKING:
    from ._util import LabelIssues

__all__ = [
    "READERS",
    "LabelSpan",
    "RecordingItem",
    "SourceReader",
    "Walk",
    "available_readers",
    "get_reader",
    "register_reader",
]


@dataclass(frozen=True)
class LabelSpan:
    """Harmonized labels that hold from ``start_s`` to ``end_s`` (seconds from recording start)."""

    start_s: float
    end_s: float
    labels: dict[str, str]


@dataclass
class RecordingItem:
    """One recording of a source, as indexed (nothing decoded yet).

    Attributes:
        source: registry name of the source (e.g. ``"tuab"``).
        subject: subject id, unique within the source (splits are subject-disjoint).
        recording: recording id, unique within the source (e.g. ``"aaaaaaav_s004_t000"``).
        path: the main signal file.
        recording_labels: labels that hold for the whole recording (TUAB normal/abnormal).
        spans: time-resolved labels (events, stages, seizures); may be empty.
        official_split: ``"train"``/``"test"`` where the source defines one (TUAB/TUEV eval), else None.
        line_freq: mains frequency of the site (50 or 60 Hz) when known from the source.
        extra: source-specific values the reader's ``load_raw`` needs (e.g. a trial index).
        issues: labels of this recording the reader could not place, corrected or refused (one
            line each, naming the label file); written to ``errors.jsonl`` by the builder.
    """

    source: str
    subject: str
    recording: str
    path: str
    recording_labels: dict[str, str] = field(default_factory=dict)
    spans: list[LabelSpan] = field(default_factory=list)
    official_split: Optional[str] = None
    line_freq: Optional[float] = None
    extra: dict = field(default_factory=dict)
    issues: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        check_labels(self.recording_labels, where=f"{self.source}:{self.recording}")
        for span in self.spans:
            check_labels(span.labels, where=f"{self.source}:{self.recording}@{span.start_s:.1f}s")
        if self.official_split not in (None, "train", "validation", "test"):
            raise ValueError(f"{self.recording}: official_split must be train/validation/test or None, got {self.official_split!r}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def labels_for_segment(self, start_s: float, end_s: float) -> dict[str, str]:
        """Recording labels plus, per key, the value whose spans cover most of [start_s, end_s).

        Overlaps of the spans that carry the same value are summed (a 10 s segment made of rest,
        left-hand and rest blocks is ``rest`` when the rest blocks cover more of it); ties go to
        the value met first in time. A dependent key (``DEPENDENT_KEYS``: ``seizure_type`` depends
        on ``seizure``, ``motor_mode`` on ``motor_task``) is chosen among the spans whose value of
        its key is the winning one, so the two never disagree.
        """
        labels = dict(self.recording_labels)
        cover: dict[str, dict[str, float]] = {}
        first: dict[tuple[str, str], float] = {}
        parts = []
        for span in self.spans:
            overlap = min(end_s, span.end_s) - max(start_s, span.start_s)
            if overlap > 0:
                parts.append((span, overlap))
                for key, value in span.labels.items():
                    if key not in DEPENDENT_KEYS:
                        cover.setdefault(key, {})
                        cover[key][value] = cover[key].get(value, 0.0) + overlap
                        first.setdefault((key, value), span.start_s)

        def winner(values: dict[str, float], key: str) -> str:
            return max(values, key=lambda v: (values[v], -first[(key, v)]))

        for key, values in cover.items():
            labels[key] = winner(values, key)
        for key, parent in DEPENDENT_KEYS.items():
            if parent not in labels:
                continue
            values: dict[str, float] = {}
            for span, overlap in parts:
                if key in span.labels and span.labels.get(parent, labels.get(parent)) == labels[parent]:
                    values[span.labels[key]] = values.get(span.labels[key], 0.0) + overlap
                    first.setdefault((key, span.labels[key]), span.start_s)
            if values:
                labels[key] = winner(values, key)
            elif key in labels and key not in self.recording_labels:
                del labels[key]
        return labels


@dataclass
class Walk:
    """One pass of ``SourceReader.index`` over a folder, as the reader's ``_recordings`` sees it.

    Attributes:
        root: the checked folder (for an offline source: the optional folder given, else None).
        issues: label issues of the recording being indexed; ``index`` attaches them to the next
            item the reader yields.
        skipped: signal files the reader found outside its layout (``skip``); reported once after
            the walk, or named in the error when nothing was found.
    """

    root: Any
    issues: "LabelIssues"
    skipped: list[Path] = field(default_factory=list)

    def skip(self, path: Path) -> None:
        self.skipped.append(path)


class SourceReader:
    """Base class of the 16 source readers (and the offline ones).

    Subclasses set the class attributes and implement ``_recordings`` (the walk that differs per
    source); ``index`` does the shared steps around it. ``load_raw`` defaults to MNE's reader for the
    file's extension.
    """

    name: ClassVar[str]  # registry name, e.g. "tuab"
    title: ClassVar[str]  # human name, e.g. "TUH Abnormal EEG Corpus v3.0.1"
    task: ClassVar[str]  # e.g. "normal/abnormal classification"
    label_keys: ClassVar[tuple[str, ...]]  # harmonized keys it fills
    licence: ClassVar[str]  # licence / access note
    homepage: ClassVar[str] = ""
    requires_path: ClassVar[bool] = True  # False for offline sources shipped in PyPI packages
    # Per-source NeuroNarratorFeatureExtractor arguments the builder passes on (a documented
    # source policy, e.g. {"min_recorded_channels": 2}); empty: the defaults (one montage policy). Read only.
    feature_extractor_kwargs: ClassVar[Mapping[str, Any]] = MappingProxyType({})

    # Why files found outside the layout were skipped (the warning after a walk that skipped some).
    skipped_reason: ClassVar[str] = "are not in the expected layout ({layout})"

    def index(self, root: Optional[str | Path]) -> Iterator[RecordingItem]:
        """One ``RecordingItem`` per recording under ``root`` (nothing decoded).

        The steps every source shares: check the folder (a source that needs one; an offline source
        gets its optional folder as given), walk it with ``_recordings``, attach to each item the
        label issues collected since the previous one, and raise a ValueError naming the folder,
        the expected layout and what the folder holds when nothing was found.
        """
        from ._util import LabelIssues, check_root  # _util imports this module's LabelSpan

        walk = Walk(root=check_root(root, self) if self.requires_path else root, issues=LabelIssues(self.name))
        n_found = 0
        for item in self._recordings(walk):
            item.issues.extend(walk.issues.take())
            n_found += 1
            yield item
        self._end_walk(walk, n_found)

    def _recordings(self, walk: Walk) -> Iterator[RecordingItem]:
        """The source's own walk over ``walk.root``: yield one item per recording, report labels it
        cannot place to ``walk.issues`` and files outside the layout to ``walk.skip``."""
        raise NotImplementedError(f"{type(self).__name__} must implement _recordings (or index)")

    def _end_walk(self, walk: Walk, n_found: int) -> None:
        """Refuse a folder with no recording of the source; report the files skipped on the way."""
        from ._util import no_recordings_error

        skipped = walk.skipped
        suffix = skipped[0].suffix if skipped else ""
        if n_found == 0 and self.requires_path:
            raise no_recordings_error(walk.root, self, f"{len(skipped)} {suffix} file(s) found outside that layout, e.g. {skipped[0]}" if skipped else "")
        if skipped:
            logging.getLogger(type(self).__module__).warning(
                "%s: %d %s file(s) under %s %s and were skipped, e.g. %s",
                self.name, len(skipped), suffix, walk.root, self.skipped_reason.format(layout=getattr(self, "layout", "")), skipped[0],
            )  # fmt: skip

    def load_raw(self, item: RecordingItem):
        from modeling_neuronarrator import read_recording  # the front-end's one reader table, by extension

        return read_recording(item.path)


READERS: dict[str, type[SourceReader]] = {}


def register_reader(cls: type[SourceReader]) -> type[SourceReader]:
    for attr in ("name", "title", "task", "label_keys", "licence"):
        if not hasattr(cls, attr):
            raise TypeError(f"{cls.__name__} must define class attribute {attr!r} to be registered")
    if cls.name in READERS and READERS[cls.name] is not cls:
        raise ValueError(f"two readers registered as {cls.name!r}: {READERS[cls.name].__name__} and {cls.__name__}")
    READERS[cls.name] = cls
    return cls


def get_reader(name: str) -> SourceReader:
    from . import _import_all  # noqa: F401  (registers every reader module)

    if name not in READERS:
        raise ValueError(f"unknown source {name!r}; available sources are {', '.join(sorted(READERS))}")
    return READERS[name]()


def available_readers() -> dict[str, type[SourceReader]]:
    from . import _import_all  # noqa: F401

    return dict(sorted(READERS.items()))


