"""Reading a built NeuroCorpus folder: the one loader that every corpus reader goes through.

The EEG column is ``eeg_values``: the feature extractor's output key, the processor's and the
model's argument, one name across layers. A corpus built before that rename names the column
``eeg``; every reader (training, evaluation, the baselines, the Space, the Hub export and a resumed
build's staged files) loads through ``load_corpus`` or ``current_table``, which rename the old
column on load (a schema change: no EEG data is copied), so both layouts read alike.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Optional

__all__ = ["EEG_COLUMN", "RENAMED_COLUMNS", "corpus_shards", "current_schema", "current_table", "load_corpus", "with_current_columns"]

EEG_COLUMN = "eeg_values"  # (19, n_samples) float16, µV/100 at 200 Hz
RENAMED_COLUMNS = {"eeg": EEG_COLUMN}  # column of an older corpus -> its current name


def load_corpus(corpus_dir: str | os.PathLike, split: Optional[str] = None, *, streaming: bool = False) -> Any:
    """``datasets.load_dataset(corpus_dir, split=split, streaming=streaming)`` with the current
    column names (``RENAMED_COLUMNS`` applied).

    Returns:
        a ``DatasetDict`` (or ``IterableDatasetDict`` when streaming) without ``split``, else one
        ``Dataset`` (``IterableDataset``); errors of ``load_dataset`` pass through for the caller
        to word.
    """
    import datasets

    # The shards given explicitly: datasets (5.2) keys the Arrow cache of a folder whose card lists
    # its configs by the card alone, not by the files, so a corpus rebuilt in its folder, or another
    # in a folder of the same name, loaded the first one's cached rows. Explicit files put their
    # modification times in the cache key.
    # Absolute: datasets resolves relative data_files against the dataset folder, so a relative
    # corpus_dir ("corpus/x") would be joined twice ("corpus/x/corpus/x/data/...").
    data_files = {name: [path.resolve().as_posix() for path in paths] for name, paths in corpus_shards(corpus_dir).items()}
    return with_current_columns(
        datasets.load_dataset(os.fspath(corpus_dir), split=split, streaming=streaming, data_files=data_files or None)
    )


def corpus_shards(corpus_dir: str | os.PathLike) -> dict[str, list[Path]]:
    """``{split: [shard paths]}`` of a built corpus (``data/<split>-NNNNN-of-NNNNN.parquet``), in
    file order; empty when it has no shards there (the caller says what that means)."""
    shards: dict[str, list[Path]] = {}
    for path in sorted(Path(corpus_dir, "data").glob("*.parquet")):
        shards.setdefault(path.name.split("-", 1)[0], []).append(path)
    return shards


def _renames(names) -> dict[str, str]:
    names = set(names or ())
    return {old: new for old, new in RENAMED_COLUMNS.items() if old in names and new not in names}


def with_current_columns(dataset: Any) -> Any:
    """``dataset`` (a ``Dataset``, ``IterableDataset`` or a dict of them by split) with any old
    column renamed to its current name; returned as it is when nothing needs renaming."""
    if isinstance(dataset, dict):  # DatasetDict and IterableDatasetDict are dicts
        return type(dataset)({name: with_current_columns(part) for name, part in dataset.items()})
    renames = _renames(dataset.column_names)
    return dataset.rename_columns(renames) if renames else dataset


def current_schema(schema):
    """A ``pyarrow.Schema`` of corpus Parquet with any old column renamed, in its fields and in the
    ``datasets`` features it carries as metadata; ``schema`` itself when nothing needs renaming."""
    renames = _renames(schema.names)
    if not renames:
        return schema
    import pyarrow as pa

    metadata = dict(schema.metadata or {})
    if b"huggingface" in metadata:
        info = json.loads(metadata[b"huggingface"])
        features = (info.get("info") or {}).get("features")
        if isinstance(features, dict):
            info["info"]["features"] = {renames.get(name, name): value for name, value in features.items()}
        metadata[b"huggingface"] = json.dumps(info).encode()
    return pa.schema([f.with_name(renames.get(f.name, f.name)) for f in schema], metadata=metadata)


def current_table(table):
    """A ``pyarrow.Table`` read from corpus Parquet with any old column renamed (``current_schema``)."""
    schema = current_schema(table.schema)
    if schema is table.schema:
        return table
    return table.rename_columns(schema.names).replace_schema_metadata(schema.metadata)
