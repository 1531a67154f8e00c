"""The evaluation side of NeuroCorpus: loading a split, leave-one-source-out selection, the corpus
fingerprint recorded in results, and external prediction files.

A corpus is the folder the builder writes (Parquet shards + README card), loaded with
``dataset_builder.corpus.load_corpus(DIR)`` (``datasets.load_dataset``; the ``eeg`` column of a
corpus built before issue 18 is renamed on load). Rows carry: id, source, subject, recording,
segment_index, start_s, eeg_values (19 x 2000), channel_mask, findings (JSON of
``modeling_neuronarrator.Findings``), labels, description, split.

Prediction files (external systems) are JSONL, one object per line::

    {"id": "<row id>", "narrative": "<generated text>"}
    {"id": "...", "narrative": "...", "scores": {"abnormal": 0.83}}   # optional class scores (AUROC)
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any, Mapping

__all__ = [
    "REQUIRED_COLUMNS",
    "corpus_fingerprint",
    "load_split",
    "leave_one_source_out",
    "read_predictions",
    "up_to_scenario_copy",
]

logger = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("id", "source", "findings", "description")
_DATA_SUFFIXES = (".parquet", ".arrow", ".jsonl", ".json", ".csv")


def _load_all(corpus_dir: Path):
    import datasets

    from dataset_builder.corpus import load_corpus

    if not corpus_dir.is_dir():
        raise FileNotFoundError(f"{corpus_dir}: corpus folder not found; pass the folder written by `neuronarrator build-corpus --out`")
    try:
        loaded = load_corpus(corpus_dir)
    except (datasets.exceptions.DataFilesNotFoundError, FileNotFoundError) as error:
        raise FileNotFoundError(f"{corpus_dir}: no corpus data files found ({error}); is this a NeuroCorpus folder?") from error
    return loaded


def load_split(corpus_dir: str | os.PathLike, split: str):
    """Rows of ``split`` (``"all"``: every split) as a ``datasets.Dataset``.

    The builder's card maps splits to shards, so ``load_dataset`` usually returns them by name; a
    corpus exported as one table is filtered on its ``split`` column instead.
    """
    import datasets

    corpus_dir = Path(corpus_dir)
    loaded = _load_all(corpus_dir)
    if split == "all":
        dataset = datasets.concatenate_datasets(list(loaded.values()))
    elif split in loaded:
        dataset = loaded[split]
    else:
        merged = datasets.concatenate_datasets(list(loaded.values()))
        if "split" not in merged.column_names:
            raise ValueError(f"{corpus_dir}: no split {split!r}; the corpus has splits {sorted(loaded)}")
        available = sorted(merged.unique("split"))  # reads the one column, not the EEG
        if split not in available:
            raise ValueError(f"{corpus_dir}: no rows in split {split!r}; available splits are {available} (or 'all')")
        dataset = merged.filter(lambda s: s == split, input_columns="split")
    missing = [c for c in REQUIRED_COLUMNS if c not in dataset.column_names]
    if missing:
        raise ValueError(f"{corpus_dir}: corpus rows lack the columns {missing}; rebuild it with `neuronarrator build-corpus`")
    return dataset


def leave_one_source_out(train, evaluation, source: str):
    """Zero-shot transfer split: ``(train rows without it, evaluation rows of it only)``.

    ``source`` names what is held out: a source (``"tuab"``), one subject of a source
    (``"pylossless/s02"``: every row of that subject, scenario copies included), or several of
    these separated by commas. A system evaluated this way must have been trained without them
    (the baselines are fit on the returned training rows); the results record what was held out.
    """
    wanted = [part.strip() for part in source.split(",") if part.strip()]
    known_sources = set(evaluation["source"]) | set(train["source"])
    known_subjects = {f"{s}/{u}" for rows in (evaluation, train) for s, u in zip(rows["source"], rows["subject"])}
    for part in wanted:
        if "/" in part and part not in known_subjects:
            raise ValueError(f"--leave-out {part!r}: no rows of that subject; the corpus has subjects {sorted(known_subjects)}")
        if "/" not in part and part not in known_sources:
            raise ValueError(f"--leave-out {part!r}: no rows of that source; the corpus has sources {sorted(known_sources)}")
    sources = {p for p in wanted if "/" not in p}
    subjects = {p for p in wanted if "/" in p}

    def held(s: str, u: str) -> bool:
        return s in sources or f"{s}/{u}" in subjects

    held_out = evaluation.filter(held, input_columns=["source", "subject"])
    if len(held_out) == 0:
        raise ValueError(f"--leave-out {source!r}: the evaluation split has no rows of it; pick another split (or 'all')")
    kept = train.filter(lambda s, u: not held(s, u), input_columns=["source", "subject"])
    return kept, held_out


def up_to_scenario_copy(rows, max_copy: int):
    """The rows of recordings as recorded and of scenario copies 1..``max_copy`` (``<rec>-scn<n>``).

    A training corpus can carry more copies of its validation subjects than their evaluation
    needs (the default recipe trains on 60 and scores copies 1-30: ``data.heldout_scenario_copies``);
    a board built this way scores the same rows as the recipe.
    """
    import numpy as np

    from dataset_builder.augment import within_scenario_copies

    return rows.select(np.flatnonzero(within_scenario_copies(rows["recording"], max_copy, what="--max-scenario-copy")))


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def corpus_fingerprint(corpus_dir: str | os.PathLike, ids) -> dict[str, Any]:
    """Identity of what was evaluated: SHA-256 of the evaluated row ids (in order) and of each data file.

    Returns:
        ``{"sha256": <combined>, "ids_sha256": ..., "n_rows": ..., "files": {relative path: sha256}}``;
        two results are comparable when their ``sha256`` match.
    """
    corpus_dir = Path(corpus_dir)
    ids_digest = hashlib.sha256("\n".join(str(i) for i in ids).encode("utf-8")).hexdigest()
    files = {
        str(path.relative_to(corpus_dir)): _sha256_file(path)
        for path in sorted(corpus_dir.rglob("*"))
        if path.is_file() and path.suffix in _DATA_SUFFIXES and not any(part.startswith(".") for part in path.relative_to(corpus_dir).parts)
    }
    combined = hashlib.sha256(json.dumps({"ids": ids_digest, "files": files}, sort_keys=True).encode("utf-8")).hexdigest()
    return {"sha256": combined, "ids_sha256": ids_digest, "n_rows": len(list(ids)), "files": files}


def read_predictions(path: str | os.PathLike, ids) -> tuple[list[str], list[Mapping[str, float] | None]]:
    """Narratives (and optional scores) of a JSONL predictions file, in the order of ``ids``.

    Raises:
        FileNotFoundError: no such file.
        ValueError: a malformed line (line number given), a duplicate id, or ids of the evaluation
            set without a prediction (the first few are listed).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: predictions file not found")
    by_id: dict[str, tuple[str, Any]] = {}
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"{path}:{number}: not valid JSON ({error.msg}); each line must be {{\"id\": ..., \"narrative\": ...}}") from error
            if not isinstance(record, dict) or "id" not in record or "narrative" not in record:
                raise ValueError(f"{path}:{number}: each line must be a JSON object with 'id' and 'narrative' keys")
            if not isinstance(record["narrative"], str):
                raise ValueError(f"{path}:{number}: 'narrative' must be a string, got {type(record['narrative']).__name__}")
            scores = record.get("scores")
            if scores is not None and not isinstance(scores, dict):
                raise ValueError(f"{path}:{number}: 'scores' must be an object like {{\"abnormal\": 0.8}}")
            key = str(record["id"])
            if key in by_id:
                raise ValueError(f"{path}:{number}: duplicate id {key!r}; give one prediction per row")
            by_id[key] = (record["narrative"], scores)
    ids = [str(i) for i in ids]
    missing = [i for i in ids if i not in by_id]
    if missing:
        shown = ", ".join(repr(i) for i in missing[:5])
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise ValueError(
            f"{path}: no prediction for {len(missing)} of the {len(ids)} evaluated rows: {shown}{more}; "
            "write one line per row id of the evaluated split (see eval/README.md)"
        )
    extra = len(set(by_id) - set(ids))
    if extra:
        logger.info("%s: %d predictions for rows outside the evaluation set were ignored", path, extra)
    return [by_id[i][0] for i in ids], [by_id[i][1] for i in ids]
