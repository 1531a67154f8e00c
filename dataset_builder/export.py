"""NeuroCorpus on disk: the row schema, Parquet shards per split and the README.md dataset card.

Layout written by ``export_corpus``::

    out/
      README.md                                   # YAML header (configs, dataset_info) + card
      data/train-00000-of-00003.parquet ...       # shards, rows in (source, recording, segment) order
      errors.jsonl                                # one line per file that could not be built
      build_info.json                             # settings and counts of the build

so that ``datasets.load_dataset("out")`` returns the splits with the declared features.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Optional, Sequence

import datasets
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml

from .corpus import corpus_shards, current_schema, current_table
from .labels import LABEL_VOCABULARY, vocabulary_markdown

__all__ = ["N_CHANNELS", "N_SAMPLES", "corpus_features", "export_corpus", "export_hub_corpus", "restricted_sources", "write_card"]

logger = logging.getLogger(__name__)

N_CHANNELS = 19  # harmonized 10-20 channels
N_SAMPLES = 2000  # 10 s at 200 Hz
DEFAULT_SHARD_ROWS = 2000  # ~150 MB of float16 EEG per shard
ROW_GROUP_ROWS = 100  # small row groups: a random row reads ~8 MB, not the whole shard
SPLIT_ORDER = ("train", "validation", "test")


def corpus_features(with_topomaps: bool = False, n_samples: int = N_SAMPLES, topomap_size: int = 32) -> datasets.Features:
    """The ``datasets.Features`` of a NeuroCorpus row.

    Columns: ``id`` (``source/recording/segment``), ``source``, ``subject``, ``recording``,
    ``segment_index`` (position of the segment in its recording, hop = segment length),
    ``start_s`` (s from recording start), ``eeg_values`` ``(19, n_samples)`` float16 in µV/100 at
    200 Hz, ``channel_mask`` ``(19,)`` bool (True = recorded, False = interpolated), ``findings``
    (``Findings`` as JSON), ``labels`` (one nullable string per ``LABEL_VOCABULARY`` key),
    ``description``, ``split``; with ``with_topomaps`` also ``topomaps`` ``(5, size, size)`` float16.
    """
    features = {
        "id": datasets.Value("string"),
        "source": datasets.Value("string"),
        "subject": datasets.Value("string"),
        "recording": datasets.Value("string"),
        "segment_index": datasets.Value("int32"),
        "start_s": datasets.Value("float64"),
        "eeg_values": datasets.Array2D((N_CHANNELS, n_samples), "float16"),
        "channel_mask": datasets.List(datasets.Value("bool"), length=N_CHANNELS),
        "findings": datasets.Value("string"),
        "labels": {key: datasets.Value("string") for key in LABEL_VOCABULARY},
        "description": datasets.Value("string"),
        "split": datasets.Value("string"),
    }
    if with_topomaps:
        features["topomaps"] = datasets.Array3D((5, topomap_size, topomap_size), "float16")
    return datasets.Features(features)


def _shard_plan(row_counts: Mapping[str, int], shard_rows: int) -> dict[str, int]:
    return {split: max(1, math.ceil(n / shard_rows)) for split, n in row_counts.items() if n > 0}


def _staging_dir(out_dir: Path) -> Path:
    staging = out_dir / "_data.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    return staging


def _swap_in(staging: Path, data_dir: Path) -> None:
    shutil.rmtree(data_dir, ignore_errors=True)
    os.replace(staging, data_dir)


def _write_split(staging: Path, split: str, n_shards: int, tables: Iterable[pa.Table], shard_rows: int, schema: pa.Schema) -> set[tuple[str, str]]:
    """Write one split's rows as ``{split}-00000-of-{n_shards:05d}.parquet`` ... shards of at most
    ``shard_rows`` rows (row groups of ``ROW_GROUP_ROWS``); return the ``(source, subject)`` pairs seen."""
    shard, writer, in_shard = 0, None, 0
    subjects: set[tuple[str, str]] = set()
    for table in tables:
        table = table.replace_schema_metadata(schema.metadata)
        subjects.update(zip(table.column("source").to_pylist(), table.column("subject").to_pylist()))
        offset = 0
        while offset < table.num_rows:
            if writer is None:
                writer = pq.ParquetWriter(staging / f"{split}-{shard:05d}-of-{n_shards:05d}.parquet", schema)
            take = min(shard_rows - in_shard, table.num_rows - offset)
            writer.write_table(table.slice(offset, take), row_group_size=ROW_GROUP_ROWS)
            offset += take
            in_shard += take
            if in_shard == shard_rows:
                writer.close()
                writer, in_shard, shard = None, 0, shard + 1
    if writer is not None:
        writer.close()
    return subjects


def export_corpus(
    units: Sequence[tuple[str, str, str, str]],
    out_dir: str | os.PathLike,
    features: datasets.Features,
    *,
    shard_rows: int = DEFAULT_SHARD_ROWS,
    licences: Optional[Mapping[str, str]] = None,
    titles: Optional[Mapping[str, str]] = None,
    errors: Sequence[Mapping[str, Any]] = (),
    settings: Optional[Mapping[str, Any]] = None,
) -> dict[str, Any]:
    """Write the Parquet shards and the card from staged per-recording files.

    Args:
        units: ``(source, recording, split, parquet_path)`` of every built recording; rows are
            written in ``(source, recording)`` order whatever the order given, so the output does
            not depend on the build's parallelism or on resumes.
        out_dir: corpus folder; ``data/`` is replaced as a whole (written aside, then swapped in).
        features: the rows' features (``corpus_features``).
        shard_rows: at most this many rows per shard.
        licences, titles: per source, for the card.
        errors: files that could not be built (listed in the card and in ``errors.jsonl``).
        settings: build settings, recorded in ``build_info.json``.

    Returns:
        ``build_info``: ``{"splits": {split: rows}, "sources": {source: {split: rows}}, ...}``.
    """
    if shard_rows < 1:
        raise ValueError(f"shard_rows must be >= 1, got {shard_rows}")
    out_dir = Path(out_dir)
    by_split, counts, split_bytes, recording_rows = _staged_units(units)
    split_rows = {split: sum(counts[s][split] for s in counts) for split in SPLIT_ORDER}
    plan = _shard_plan(split_rows, shard_rows)
    schema = features.arrow_schema
    subjects: dict[str, set] = {}
    staging = _staging_dir(out_dir)
    for split, n_shards in plan.items():
        subjects[split] = _write_split(staging, split, n_shards, _staged_tables(by_split[split], schema), shard_rows, schema)
    _swap_in(staging, out_dir / "data")

    info = {
        "splits": {split: n for split, n in split_rows.items() if n},
        "sources": {source: {split: counts[source][split] for split in SPLIT_ORDER if counts[source][split]} for source in sorted(counts)},
        "bytes": {split: n for split, n in split_bytes.items() if n},
        "subjects": {split: len(subjects[split]) for split in SPLIT_ORDER if subjects.get(split)},
        "recordings": len(recording_rows),
        "errors": len(errors),
        "settings": dict(settings or {}),
    }
    info["composition"] = _composition(recording_rows)
    _write_metadata(out_dir, features, info, errors, licences or {}, titles or {})
    logger.info("exported %s rows to %s", info["splits"], out_dir / "data")
    return info


def _staged_units(
    units: Sequence[tuple[str, str, str, str]],
) -> tuple[dict[str, list[str]], dict[str, Counter], Counter, Counter]:
    """The staged files that hold rows, per split in ``(source, recording)`` order, rows per source and
    split, bytes per split and rows per ``(source, recording)`` (from the Parquet footers only). A unit
    with no rows (a scenario copy's excerpt of a recording too short to cut) is left out."""
    by_split: dict[str, list[str]] = defaultdict(list)
    counts: dict[str, Counter] = defaultdict(Counter)
    split_bytes: Counter = Counter()
    recording_rows: Counter = Counter()
    for source, recording, split, path in sorted(units):
        metadata = pq.read_metadata(path)
        if metadata.num_rows == 0:
            continue
        split_bytes[split] += sum(metadata.row_group(i).total_byte_size for i in range(metadata.num_row_groups))
        by_split[split].append(path)
        counts[source][split] += metadata.num_rows
        recording_rows[(source, recording)] += metadata.num_rows
    return by_split, counts, split_bytes, recording_rows


def _staged_tables(paths: Sequence[str], schema: pa.Schema) -> Iterator[pa.Table]:
    """The staged tables of one split, each checked against the corpus schema."""
    for path in paths:
        table = current_table(pq.read_table(path))  # staged by an older build: eeg -> eeg_values
        if not table.schema.equals(schema, check_metadata=False):
            raise ValueError(f"{path}: staged rows have another schema than the corpus features; delete the _work folder and rebuild")
        yield table


def _write_metadata(out_dir: Path, features: datasets.Features, info: Mapping[str, Any], errors: Sequence[Mapping[str, Any]],
                    licences: Mapping[str, str], titles: Mapping[str, str]) -> None:  # fmt: skip
    """``errors.jsonl``, ``build_info.json`` and the card of a corpus folder."""
    with open(out_dir / "errors.jsonl", "w", encoding="utf-8") as stream:
        for error in errors:
            stream.write(json.dumps(dict(error), sort_keys=True) + "\n")
    with open(out_dir / "build_info.json", "w", encoding="utf-8") as stream:
        json.dump(info, stream, indent=2, sort_keys=True)
    write_card(out_dir, features, info, licences, titles)


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def write_card(
    out_dir: str | os.PathLike,
    features: datasets.Features,
    info: Mapping[str, Any],
    licences: Mapping[str, str],
    titles: Mapping[str, str],
) -> Path:
    """Write ``README.md``: the YAML header that ``load_dataset`` reads (``configs`` with the
    ``data_files`` of each split, ``dataset_info`` features and split sizes) and the card text."""
    out_dir = Path(out_dir)
    settings = info.get("settings", {})
    body = _card_intro(features, settings) + "\n" + _card_tables(info, licences, titles, settings)
    text = "---\n" + yaml.safe_dump(_card_header(features, info), sort_keys=False, allow_unicode=True) + "---\n\n" + body
    path = out_dir / "README.md"
    tmp = out_dir / "README.md.tmp"
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


def _card_header(features: datasets.Features, info: Mapping[str, Any]) -> dict[str, Any]:
    """The card's YAML header: ``configs`` with each split's ``data_files``, features and split sizes."""
    splits = [split for split in SPLIT_ORDER if info["splits"].get(split)]
    dataset_info = datasets.DatasetInfo(features=features)._to_yaml_dict()
    dataset_info["splits"] = [
        {"name": split, "num_bytes": int(info.get("bytes", {}).get(split, 0)), "num_examples": int(info["splits"][split])}
        for split in splits
    ]
    return {
        "pretty_name": "NeuroCorpus",
        "license": "other",
        "language": ["en"],
        "task_categories": ["text-generation"],
        "tags": ["eeg", "neuroscience", "clinical", "medical"],
        "configs": [
            {
                "config_name": "default",
                "data_files": [{"split": split, "path": f"data/{split}-*"} for split in splits],
            }
        ],
        "dataset_info": dataset_info,
    }


def _card_intro(features: datasets.Features, settings: Mapping[str, Any]) -> str:
    """What a row is, how to load the corpus, the columns and the split rule."""
    return f"""# NeuroCorpus

EEG segments paired with clinical descriptions, built by `neuronarrator build-corpus` from the
sources below. Each row is one {settings.get('segment_seconds', 10)} s segment of a recording,
harmonized to the 19 channels of the 10-20 system (Fp1 Fp2 F7 F3 Fz F4 F8 T7 C3 Cz C4 T8 P7 P3 Pz
P4 P8 O1 O2; missing channels interpolated and flagged), resampled to 200 Hz, band-passed 0.3-75 Hz
with a mains notch, in µV/100. The description is written from the segment's quantitative
findings and the source's harmonized labels by `dataset_builder.describe`; `dataset_builder.parse`
recovers those fields from the text exactly.

```python
from datasets import load_dataset
corpus = load_dataset("path/to/this/folder")
```

## Columns

| column | type | meaning |
|---|---|---|
| id | string | `source/recording/segment_index` (unique) |
| source, subject, recording | string | where the segment comes from |
| segment_index | int32 | position in the recording (segment length hop); gaps are skipped segments |
| start_s | float64 | start of the segment, s from the recording start |
| eeg_values | float16 (19, {features['eeg_values'].shape[1]}) | signal in µV/100, 200 Hz, channel order as above |
| channel_mask | bool (19) | True = recorded, False = interpolated |
| findings | string (JSON) | `modeling_neuronarrator.Findings` of the segment |
| labels | struct of strings | harmonized source labels (null where the source has none) |
| description | string | clinical paragraph |
| split | string | train / validation / test |
{'| topomaps | float16 (5, 32, 32) | band-power topomaps (delta..gamma) |' if 'topomaps' in features else ''}

Splits are subject-disjoint and deterministic (a hash of source and subject, {settings.get('split_fractions', (0.8, 0.1, 0.1))} for
train/validation/test); official test sets (TUAB/TUEV `eval`) are kept as test. The K preceding
segments of a row (its history) are found with `dataset_builder.HistoryIndex`.
"""


def _card_tables(info: Mapping[str, Any], licences: Mapping[str, str], titles: Mapping[str, str], settings: Mapping[str, Any]) -> str:
    """Rows per source and split, licences and redistribution, the label vocabulary and the build settings."""
    return f"""## Rows per source and split

{_counts_table(info)}

Subjects per split: {", ".join(f"{split} {n}" for split, n in info.get("subjects", {}).items())}.
Recordings: {info.get("recordings", 0)}; files that could not be built: {info.get("errors", 0)} (see `errors.jsonl`).
{_scenario_section(info, settings)}
## Sources and licences

The recordings keep the terms of their sources; this corpus may only be shared where those terms
allow it (the TUH corpora, for instance, require a signed data-sharing agreement).

{_licence_table(info, licences, titles)}

## Label vocabulary

{vocabulary_markdown()}

## Build settings

```json
{json.dumps(dict(settings), indent=2, sort_keys=True, default=str)}
```
"""


def _composition(recording_rows: Mapping[tuple[str, str], int]) -> dict[str, dict[str, int]]:
    """Rows and recordings (with rows) of each kind (``augment.recording_kind``), from the rows of each
    ``(source, recording)``."""
    from .augment import recording_kind

    out = {kind: {"rows": 0, "recordings": 0} for kind in ("recorded", "scenario copies", "excerpts")}
    for (_, recording), rows in recording_rows.items():
        if rows:
            counts = out[recording_kind(recording)]
            counts["rows"] += rows
            counts["recordings"] += 1
    return out


def _scenario_section(info: Mapping[str, Any], settings: Mapping[str, Any]) -> str:
    """What the scenario copies are, how they are named, and how many rows each kind holds (empty
    for a corpus without them)."""
    composition = info.get("composition") or {}
    if not any(kind != "recorded" and counts.get("rows") for kind, counts in composition.items()):
        return ""
    rows = [(kind, counts.get("rows", 0), counts.get("recordings", 0)) for kind, counts in composition.items()]
    return f"""
## Scenario copies

Besides the segments as recorded, the corpus holds {settings.get("scenario_copies", "N")} scenario copies
per recording (`--scenario-copies`, `dataset_builder.augment`): the recording's real background with
added rhythms, slowing, spike-and-wave discharges and up to two artifacts, seen through a montage view
(as recorded, 6 or 3 channels, or bipolar). Their descriptions are measured by the same front-end and
findings rules as any segment's, never assumed. Copy n of recording R is recording `R-scn<n>` (same
source, subject and split): odd copies keep the source's labels; even copies are unannotated, as a
user's file is, and half of those have a short excerpt beside them, `R-scn<n>-excerpt`, under the
sleep stager's 5 min minimum (its state is "not assessed" unless the recording's own events give one,
such as a subject's button presses).

{_table(["kind", "rows", "recordings"], rows)}

The segments as recorded only: `corpus.filter(lambda row: "-scn" not in row["recording"])`.
"""


def _counts_table(info: Mapping[str, Any]) -> str:
    return _table(
        ["source", *SPLIT_ORDER, "total"],
        [
            [source, *(info["sources"][source].get(split, 0) for split in SPLIT_ORDER), sum(info["sources"][source].values())]
            for source in sorted(info["sources"])
        ]
        + [["**all**", *(info["splits"].get(split, 0) for split in SPLIT_ORDER), sum(info["splits"].values())]],
    )


def _licence_table(info: Mapping[str, Any], licences: Mapping[str, str], titles: Mapping[str, str]) -> str:
    """Licence and redistribution per source, plus the sources left out of this copy."""
    sources = sorted(info["sources"])
    restricted = restricted_sources(sources)
    table = _table(
        ["source", "dataset", "licence / access", "redistributable"],
        [[s, titles.get(s, s), licences.get(s, "see the source"), "no" if s in restricted else "yes"] for s in sources],
    )
    left_out = dict(info.get("left_out") or {})
    if left_out:
        table += "\n\nLeft out of this copy (their terms forbid redistribution): " + "; ".join(
            f"{source} ({note})" for source, note in sorted(left_out.items())
        ) + "."
    return table


# Sources whose terms forbid redistribution (a reader may also say so with ``redistributable = False``):
# every TUH corpus (the NEDC data-sharing agreement) and SEED (licence agreement with the BCMI lab).
_NOT_REDISTRIBUTABLE = {"seed"}


def restricted_sources(sources: Iterable[str]) -> dict[str, str]:
    """The sources among ``sources`` that may not be redistributed: ``{source: licence note}``.

    A source is restricted when its reader says ``redistributable = False``, is a TUH reader, or is
    listed in ``_NOT_REDISTRIBUTABLE``; sources without a registered reader are taken as free.
    """
    from .readers.base import available_readers
    from .readers.tuh_common import TUHReader

    readers = available_readers()
    restricted = {}
    for source in sources:
        reader = readers.get(source)
        if reader is None:
            continue
        flag = getattr(reader, "redistributable", None)
        if flag is False or (flag is None and (issubclass(reader, TUHReader) or source in _NOT_REDISTRIBUTABLE)):
            restricted[source] = reader.licence
    return restricted


def _corpus_shards(corpus_dir: Path) -> dict[str, list[Path]]:
    """``{split: [shard paths]}`` of a built corpus (``data/<split>-NNNNN-of-NNNNN.parquet``)."""
    if not (corpus_dir / "README.md").is_file() or not (corpus_dir / "data").is_dir():
        raise FileNotFoundError(
            f"{corpus_dir}: not a built corpus (no README.md and data/ folder); build one with "
            f"`neuronarrator build-corpus --out {corpus_dir}`"
        )
    shards = corpus_shards(corpus_dir)
    for split, paths in shards.items():
        if split not in SPLIT_ORDER:
            raise ValueError(f"{paths[0]}: shard name does not start with a split ({', '.join(SPLIT_ORDER)}); rebuild the corpus")
    if not shards:
        raise FileNotFoundError(f"{corpus_dir}/data: no Parquet shards; rebuild the corpus with `neuronarrator build-corpus`")
    return shards


def _kept_tables(paths: Sequence[Path], left_out: set[str]) -> Iterator[pa.Table]:
    """The rows of ``paths``, one row group at a time, without the rows of ``left_out`` sources."""
    for path in paths:
        parquet = pq.ParquetFile(path)
        for group in range(parquet.num_row_groups):
            table = current_table(parquet.read_row_group(group))
            if left_out:
                table = table.filter(pc.invert(pc.is_in(table.column("source"), pa.array(sorted(left_out)))))
            if table.num_rows:
                yield table


def export_hub_corpus(
    corpus_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    holds_rights: bool = False,
    public: bool = False,
    shard_rows: int = DEFAULT_SHARD_ROWS,
) -> dict[str, Any]:
    """Write the Hub dataset repository of a built corpus: Parquet shards per split, ``README.md``
    (``configs``/``data_files``, features, split sizes, licence and redistribution per source,
    build settings), ``build_info.json`` and ``errors.jsonl``.

    Args:
        corpus_dir: a folder written by ``neuronarrator build-corpus``.
        out_dir: the repository folder to write (created; its ``data/`` is replaced).
        holds_rights: the user holds the rights to the restricted sources (``restricted_sources``);
            without it a corpus holding them is refused.
        public: the folder is for a public repository: restricted sources are left out (and the
            card says so) even with ``holds_rights``.
        shard_rows: at most this many rows per shard.

    Returns:
        the written ``build_info`` (rows per split and source, ``left_out`` sources, settings).

    Raises:
        ValueError: the corpus holds restricted sources and ``holds_rights`` is False.
    """
    corpus_dir, out_dir = Path(corpus_dir), Path(out_dir)
    if out_dir.resolve() == corpus_dir.resolve():
        raise ValueError(f"{out_dir}: the export folder must differ from the corpus folder; choose another OUT")
    shards = _corpus_shards(corpus_dir)
    present = _rows_per_source_and_split(shards)
    left_out = _left_out(corpus_dir, restricted_sources(sorted({source for source, _ in present})), holds_rights, public)
    split_rows = {split: sum(n for (source, s), n in present.items() if s == split and source not in left_out) for split in SPLIT_ORDER}
    if not any(split_rows.values()):
        raise ValueError(f"{corpus_dir}: no rows left once the restricted sources {sorted(left_out)} are left out; nothing to publish")
    schema = current_schema(pq.read_schema(shards[next(iter(shards))][0]))
    features = datasets.Features.from_arrow_schema(schema)

    out_dir.mkdir(parents=True, exist_ok=True)
    staging = _staging_dir(out_dir)
    subjects = {}
    for split, n_shards in _shard_plan(split_rows, shard_rows).items():
        subjects[split] = _write_split(staging, split, n_shards, _kept_tables(shards[split], set(left_out)), shard_rows, schema)
    _swap_in(staging, out_dir / "data")

    kept_sources = sorted({source for source, _ in present} - set(left_out))
    info = _exported_info(corpus_dir, out_dir / "data", present, kept_sources, split_rows, subjects, left_out)
    errors = [e for e in _read_jsonl(corpus_dir / "errors.jsonl") if e.get("source") not in left_out]
    info["errors"] = len(errors)
    _write_metadata(out_dir, features, info, errors, *_source_notes(kept_sources))
    logger.info("exported %s rows of %s to %s (left out: %s)", info["splits"], corpus_dir, out_dir, sorted(left_out) or "none")
    return info


def _rows_per_source_and_split(shards: Mapping[str, Sequence[Path]]) -> Counter:
    """``{(source, split): rows}`` of a built corpus's shards (the ``source`` column only)."""
    present = Counter()
    for split, paths in shards.items():
        for path in paths:
            present.update((source, split) for source in pq.read_table(path, columns=["source"]).column("source").to_pylist())
    return present


def _left_out(corpus_dir: Path, restricted: Mapping[str, str], holds_rights: bool, public: bool) -> dict[str, str]:
    """The restricted sources an export leaves out (all of them for a public repository); without
    ``holds_rights`` a corpus holding any is refused."""
    if restricted and not holds_rights:
        raise ValueError(
            f"{corpus_dir}: holds rows of {', '.join(sorted(restricted))}, whose terms forbid redistribution "
            f"({'; '.join(f'{s}: {note}' for s, note in sorted(restricted.items()))}); the export refuses them. "
            "If you hold the rights (a signed agreement) pass --i-hold-the-rights (they are still left out of a public push), "
            "or rebuild the corpus without those sources"
        )
    return dict(restricted) if public else {}


def _exported_info(corpus_dir: Path, data_dir: Path, present: Counter, kept_sources: list[str], split_rows: dict[str, int],
                   subjects: dict[str, set], left_out: dict[str, str]) -> dict[str, Any]:  # fmt: skip
    """``build_info`` of an exported copy: its rows, bytes, subjects and recordings, the sources left
    out, and the settings of the build it was exported from."""
    recording_rows = _shard_recording_rows(data_dir)
    return {
        "splits": {split: n for split, n in split_rows.items() if n},
        "sources": {
            source: {split: present[(source, split)] for split in SPLIT_ORDER if present[(source, split)]} for source in kept_sources
        },
        "bytes": {split: sum(p.stat().st_size for p in data_dir.glob(f"{split}-*.parquet")) for split in split_rows if split_rows[split]},
        "subjects": {split: len(subjects[split]) for split in SPLIT_ORDER if subjects.get(split)},
        "recordings": len(recording_rows),
        "composition": _composition(recording_rows),
        "left_out": left_out,
        "settings": dict(_read_json(corpus_dir / "build_info.json").get("settings") or {}),
    }


def _source_notes(sources: Sequence[str]) -> tuple[dict[str, str], dict[str, str]]:
    """Licence and title of each source with a registered reader."""
    from .readers.base import available_readers

    readers = available_readers()
    known = [s for s in sources if s in readers]
    return {s: readers[s].licence for s in known}, {s: readers[s].title for s in known}


def _shard_recording_rows(data_dir: Path) -> Counter:
    """Rows per ``(source, recording)`` of a folder of shards (their two columns only)."""
    rows: Counter = Counter()
    for path in data_dir.glob("*.parquet"):
        table = pq.read_table(path, columns=["source", "recording"])
        rows.update(zip(table.column("source").to_pylist(), table.column("recording").to_pylist()))
    return rows


def _read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
