"""NeuroCorpus: source readers, clinical descriptions written from the measured findings, and the corpus builder."""

from __future__ import annotations

import importlib
from typing import Any

from .description import FIELD_SPECS, NARRATIVE_FIELDS, FieldSpec, describe, findings_to_fields, parse, seed_from_id
from .labels import LABEL_VOCABULARY, check_labels, vocabulary_markdown

# The builder pulls in datasets, pyarrow and the front-end: imported on first use only, so that the
# evaluator's ``from dataset_builder import parse`` stays light.
_LAZY = {
    "build_corpus": ".build",
    "NeuroCorpus": ".hf_builder",
    "NeuroCorpusConfig": ".hf_builder",
    "HistoryIndex": ".history",
    "assign_split": ".splits",
    "export_corpus": ".export",
    "load_corpus": ".corpus",
    "recompute_topomaps": ".build",
}

__all__ = [
    "FIELD_SPECS",
    "FieldSpec",
    "LABEL_VOCABULARY",
    "NARRATIVE_FIELDS",
    "check_labels",
    "describe",
    "findings_to_fields",
    "parse",
    "seed_from_id",
    "vocabulary_markdown",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
