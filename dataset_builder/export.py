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
from typing import Any, Iterable, Mapping, Optional, Sequence

import datasets
import pyarrow.parquet as pq
import yaml

from .labels import LABEL_VOCABULARY, vocabulary_markdown

__all__ = ["N_CHANNELS", "N_SAMPLES", "corpus_features", "export_corpus", "write_card"]

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
    ``start_s`` (s from recording start), ``eeg`` ``(19, n_samples)`` float16 in µV/100 at
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
        "eeg": datasets.Array2D((N_CHANNELS, n_samples), "float16"),
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
    by_split: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    counts: dict[str, Counter] = defaultdict(Counter)
    split_bytes: Counter = Counter()
    subjects: dict[str, set] = defaultdict(set)
    for source, recording, split, path in sorted(units):
        metadata = pq.read_metadata(path)
        n_rows = metadata.num_rows
        split_bytes[split] += sum(metadata.row_group(i).total_byte_size for i in range(metadata.num_row_groups))
        by_split[split].append((source, recording, path))
        counts[source][split] += n_rows
    split_rows = {split: sum(counts[s][split] for s in counts) for split in SPLIT_ORDER}
    plan = _shard_plan(split_rows, shard_rows)

    staging = out_dir / "_data.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    schema = features.arrow_schema
    for split, n_shards in plan.items():
        shard, writer, in_shard = 0, None, 0
        for _source, _recording, path in by_split[split]:
            table = pq.read_table(path)
            if not table.schema.equals(schema, check_metadata=False):
                raise ValueError(f"{path}: staged rows have another schema than the corpus features; delete the _work folder and rebuild")
            table = table.replace_schema_metadata(schema.metadata)
            subjects[split].update(zip(table.column("source").to_pylist(), table.column("subject").to_pylist()))
            offset = 0
            while offset < table.num_rows:
                if writer is None:
                    name = f"{split}-{shard:05d}-of-{n_shards:05d}.parquet"
                    writer = pq.ParquetWriter(staging / name, schema)
                take = min(shard_rows - in_shard, table.num_rows - offset)
                writer.write_table(table.slice(offset, take), row_group_size=ROW_GROUP_ROWS)
                offset += take
                in_shard += take
                if in_shard == shard_rows:
                    writer.close()
                    writer, in_shard, shard = None, 0, shard + 1
        if writer is not None:
            writer.close()
    data_dir = out_dir / "data"
    shutil.rmtree(data_dir, ignore_errors=True)
    os.replace(staging, data_dir)

    info = {
        "splits": {split: n for split, n in split_rows.items() if n},
        "sources": {source: {split: counts[source][split] for split in SPLIT_ORDER if counts[source][split]} for source in sorted(counts)},
        "bytes": {split: n for split, n in split_bytes.items() if n},
        "subjects": {split: len(subjects[split]) for split in SPLIT_ORDER if subjects[split]},
        "recordings": len(units),
        "errors": len(errors),
        "settings": dict(settings or {}),
    }
    with open(out_dir / "errors.jsonl", "w", encoding="utf-8") as stream:
        for error in errors:
            stream.write(json.dumps(dict(error), sort_keys=True) + "\n")
    with open(out_dir / "build_info.json", "w", encoding="utf-8") as stream:
        json.dump(info, stream, indent=2, sort_keys=True)
    write_card(out_dir, features, info, licences or {}, titles or {})
    logger.info("exported %s rows to %s", info["splits"], data_dir)
    return info


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
    splits = [split for split in SPLIT_ORDER if info["splits"].get(split)]
    dataset_info = datasets.DatasetInfo(features=features)._to_yaml_dict()
    dataset_info["splits"] = [
        {"name": split, "num_bytes": int(info.get("bytes", {}).get(split, 0)), "num_examples": int(info["splits"][split])}
        for split in splits
    ]
    header = {
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
    sources = sorted(info["sources"])
    counts = _table(
        ["source", *SPLIT_ORDER, "total"],
        [
            [source, *(info["sources"][source].get(split, 0) for split in SPLIT_ORDER), sum(info["sources"][source].values())]
            for source in sources
        ]
        + [["**all**", *(info["splits"].get(split, 0) for split in SPLIT_ORDER), sum(info["splits"].values())]],
    )
    licence_table = _table(["source", "dataset", "licence / access"], [[s, titles.get(s, s), licences.get(s, "see the source")] for s in sources])
    settings = info.get("settings", {})
    body = f"""# NeuroCorpus

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
| eeg | float16 (19, {features['eeg'].shape[1]}) | signal in µV/100, 200 Hz, channel order as above |
| channel_mask | bool (19) | True = recorded, False = interpolated |
| findings | string (JSON) | `modeling_neuronarrator.Findings` of the segment |
| labels | struct of strings | harmonized source labels (null where the source has none) |
| description | string | clinical paragraph |
| split | string | train / validation / test |
{'| topomaps | float16 (5, 32, 32) | band-power topomaps (delta..gamma) |' if 'topomaps' in features else ''}

Splits are subject-disjoint and deterministic (a hash of source and subject, {settings.get('split_fractions', (0.8, 0.1, 0.1))} for
train/validation/test); official test sets (TUAB/TUEV `eval`) are kept as test. The K preceding
segments of a row (its history) are found with `dataset_builder.HistoryIndex`.

## Rows per source and split

{counts}

Subjects per split: {", ".join(f"{split} {n}" for split, n in info.get("subjects", {}).items())}.
Recordings: {info.get("recordings", 0)}; files that could not be built: {info.get("errors", 0)} (see `errors.jsonl`).

## Sources and licences

The recordings keep the terms of their sources; this corpus may only be shared where those terms
allow it (the TUH corpora, for instance, require a signed data-sharing agreement).

{licence_table}

## Label vocabulary

{vocabulary_markdown()}

## Build settings

```json
{json.dumps(dict(settings), indent=2, sort_keys=True, default=str)}
```
"""
    text = "---\n" + yaml.safe_dump(header, sort_keys=False, allow_unicode=True) + "---\n\n" + body
    path = out_dir / "README.md"
    tmp = out_dir / "README.md.tmp"
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path
