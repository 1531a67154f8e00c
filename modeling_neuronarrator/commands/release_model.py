"""The model repository of ``neuronarrator export model``.

The folder is written by the save path itself: the package registers its classes with
``register_for_auto_class`` (``modeling_neuronarrator/__init__.py``), so ``save_pretrained`` copies
each defining module and its relative imports and writes ``auto_map``; nothing is kept as a copy in
the package. The card is the saved model's own README (the training recipe writes its data, size
and measured quality) under the Hub header, whose ``model-index`` comes from the leaderboard
results through ``neuronarrator_eval.leaderboard``.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

__all__ = ["CARD_TAGS", "default_results", "export_model", "model_card_header", "read_model_index"]

logger = logging.getLogger(__name__)

CARD_TAGS = ["eeg", "neuroscience", "clinical-eeg", "eeg-to-text", "mamba2", "custom_code"]
# Backbones the training recipes start from (text_model_path holds a local conversion): Hub id.
_KNOWN_BASE_MODELS = {"smollm2-135m": "HuggingFaceTB/SmolLM2-135M-Instruct"}
# Files of a saved folder carried over as they are (the code files are written fresh).
_CARRIED = ("quality.json",)


def default_results() -> Path | None:
    """The offline leaderboard beside the evaluator (``eval/leaderboards/offline``), when present."""
    try:
        import neuronarrator_eval
    except ImportError:
        return None
    folder = Path(neuronarrator_eval.__file__).resolve().parent / "leaderboards" / "offline"
    return folder if folder.is_dir() else None


def read_model_index(results: Path, system: str | None = None) -> list[dict[str, Any]]:
    """The ``model-index`` list from leaderboard results: a folder of results JSON files (read
    with ``neuronarrator_eval.leaderboard``) or the ``model-index.yaml`` the leaderboard writes.

    Raises:
        FileNotFoundError: ``results`` holds neither.
    """
    import yaml

    results = Path(results)
    if results.is_dir() and any(results.glob("*.json")):
        from neuronarrator_eval.leaderboard import collect_results, model_index

        return model_index(collect_results(results), system=system)["model-index"]
    index_file = results / "model-index.yaml" if results.is_dir() else results
    if not index_file.is_file():
        raise FileNotFoundError(
            f"{results}: no results files (*.json) and no model-index.yaml; write them with "
            f"`neuronarrator evaluate -o {results}` and `neuronarrator leaderboard {results}`"
        )
    if system is not None:
        logger.warning("%s: --system is ignored for a model-index.yaml (it names one system already)", index_file)
    data = yaml.safe_load(index_file.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict) or not isinstance(data.get("model-index"), list):
        raise ValueError(f"{index_file}: no `model-index:` list at the top; regenerate it with `neuronarrator leaderboard`")
    return data["model-index"]


def _base_model(config: Any, base_model: str | None) -> str | None:
    if base_model:
        return base_model
    path = str(getattr(config, "text_model_path", None) or "").lower()
    return next((hub_id for key, hub_id in _KNOWN_BASE_MODELS.items() if key in path), None)


def model_card_header(
    config: Any,
    *,
    model_index: list[dict[str, Any]] | None,
    datasets: list[str] | None,
    base_model: str | None,
    license: str = "apache-2.0",
) -> dict[str, Any]:
    """The card's YAML header: license, library_name, pipeline_tag, tags, datasets, base_model
    (where there is one) and model-index; checked by ``huggingface_hub.ModelCardData``."""
    from huggingface_hub import ModelCardData

    header: dict[str, Any] = {
        "license": license,
        "library_name": "transformers",
        "pipeline_tag": "text-generation",
        "tags": list(CARD_TAGS),
    }
    if datasets:
        header["datasets"] = list(datasets)
    base = _base_model(config, base_model)
    if base:
        header["base_model"] = base
    if model_index:
        header["model-index"] = model_index
    # Parses model-index into EvalResults: a malformed block fails here, not on the Hub.
    data = ModelCardData(**header)
    if model_index and not data.eval_results:
        raise ValueError("model-index: no results could be read from the leaderboard block; regenerate it with `neuronarrator leaderboard`")
    return header


def _card_body(source: Path, model: Any) -> tuple[str, dict[str, Any]]:
    """The saved folder's card text (without its header) and that header."""
    import yaml

    readme = source / "README.md"
    if readme.is_file():
        text = readme.read_text(encoding="utf-8")
    else:
        from ..model_card import build_model_card

        text = build_model_card(model.config, num_parameters=model.num_parameters())
    if text.startswith("---\n"):
        _, header, body = text.split("---\n", 2)
        return body.lstrip("\n"), yaml.safe_load(header) or {}
    return text, {}


def _with_dataset_id(model_index: list[dict[str, Any]], dataset: str | None) -> list[dict[str, Any]]:
    if not dataset:
        return model_index
    for entry in model_index:
        for result in entry.get("results", []):
            result.get("dataset", {})["type"] = dataset
    return model_index


def export_model(
    out: str | Path,
    model_path: str | Path | None = None,
    *,
    results: str | Path | None = None,
    system: str | None = None,
    dataset: str | None = None,
    base_model: str | None = None,
) -> Path:
    """Write the Hub model repository of a saved model (default: the embedded default) to ``out``.

    Args:
        results: leaderboard results for ``model-index`` (see ``read_model_index``); default for
            the embedded model: the offline leaderboard. Without results the card has no
            ``model-index`` (a warning says so).
        system: the system of the results to report (default: the one evaluated model).
        dataset: Hub id of the training corpus (``datasets`` and the model-index dataset type).
        base_model: Hub id of the pretrained language model, when the model starts from one.
    """
    import yaml

    from .. import (
        DEFAULT_MODEL_PATH,
        NeuroNarratorForConditionalGeneration,
        NeuroNarratorProcessor,
    )

    out = Path(out)
    source = Path(model_path) if model_path is not None else DEFAULT_MODEL_PATH
    if not (source / "config.json").is_file():
        raise FileNotFoundError(f"{source}: not a saved model folder (no config.json); give the folder written by `save_pretrained`")
    model = NeuroNarratorForConditionalGeneration.from_pretrained(source)
    processor = NeuroNarratorProcessor.from_pretrained(source)
    body, old_header = _card_body(source, model)
    if results is None and model_path is None:
        results = default_results()
    model_index = None
    if results is not None:
        model_index = _with_dataset_id(read_model_index(Path(results), system=system), dataset)
    else:
        logger.warning("no leaderboard results given (--results): the card carries no model-index")
    datasets = [dataset] if dataset else old_header.get("datasets")
    header = model_card_header(model.config, model_index=model_index, datasets=datasets, base_model=base_model)

    out.mkdir(parents=True, exist_ok=True)
    # save_pretrained writes the code files and auto_map (register_for_auto_class) and the
    # generation config; the processor adds its config and the tokenizer files.
    model.save_pretrained(out)
    processor.save_pretrained(out)
    for name in _CARRIED:
        if (source / name).is_file():
            shutil.copy2(source / name, out / name)
    card = "---\n" + yaml.safe_dump(header, sort_keys=False, allow_unicode=True) + "---\n\n" + body
    (out / "README.md").write_text(card, encoding="utf-8")
    missing = {"config.json", "model.safetensors", "modeling_neuronarrator.py", "processing_neuronarrator.py", "processor_config.json"} - {
        p.name for p in out.iterdir()
    }
    if missing:
        raise RuntimeError(f"{out}: save_pretrained did not write {sorted(missing)}; the Auto-class registration is broken")
    return out
