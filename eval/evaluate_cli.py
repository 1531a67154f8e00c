"""``neuronarrator evaluate``: score the model, external predictions and the baselines on a corpus split.

    neuronarrator evaluate --corpus corpus/ --split test -o results/              # default model + baselines
    neuronarrator evaluate --model ckpt/ --corpus corpus/ -o results/ --limit 500
    neuronarrator evaluate --predictions mine.jsonl --baselines none --corpus corpus/ -o results/
    neuronarrator evaluate --no-model --baselines nearest-neighbour,oracle --corpus corpus/ -o results/
    neuronarrator evaluate --model ckpt/ --leave-out tuab --corpus corpus/ -o results/   # zero-shot
    neuronarrator evaluate --corpus corpus/offline_sealed_test --split test --role test \
        --train-corpus corpus/offline_grounded --train-split all --train-exclude pylossless/s02 \
        --blind-model runs/grounded_cpu_blind/stage2/final -o results/                  # sealed test

Writes one results JSON per (system, dataset, split[, held-out source]) into the output folder.
The baselines are fit on rows that share no id and no subject with the evaluated rows (checked:
a run whose fitting rows overlap the evaluated ones stops with the overlap named).
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np

from modeling_neuronarrator.report.narrators import NARRATIVE_TOKEN_LIMIT

__all__ = ["add_arguments", "run", "select_baselines"]

logger = logging.getLogger(__name__)

_ALL_BASELINES = ("blind-model", "majority", "nearest-neighbour", "findings-classifier", "oracle")
ROLES = ("validation", "test")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    system = parser.add_mutually_exclusive_group()
    system.add_argument("--model", type=Path, help="saved NeuroNarrator checkpoint (default: the embedded default model)")
    system.add_argument("--predictions", type=Path, help="JSONL of {\"id\", \"narrative\"[, \"scores\"]} from an external system (eval/README.md)")
    system.add_argument("--no-model", action="store_true", help="score the baselines only")
    parser.add_argument(
        "--sample-and-check", type=int, default=0, metavar="N",
        help="score the model as strict mode (the Space's) leaves it before its repair: each greedy narrative that contradicts "
             "its measured findings narrated again with N samples, the best kept when it contradicts less (4 in the report; "
             "default 0: greedy only)",
    )  # fmt: skip
    parser.add_argument(
        "--measured-grammar", action="store_true",
        help="score the model as the report runs it by default: decoded under each row's measured grammar (every sentence one "
             "the measured findings do not contradict; default: free greedy decoding, the model's own figures)",
    )  # fmt: skip
    parser.add_argument("--system-name", help="name of the evaluated system in the results (default: from the model folder or predictions file)")
    parser.add_argument(
        "--system-kind", choices=("predictions", "model", "baseline"), default="predictions",
        help="what a --predictions file holds: an external system (default), a model's or a baseline's narratives "
        "(e.g. the default recipe's runs/grounded_cpu/predictions/*.jsonl); model rows get the model-minus-baseline intervals",
    )  # fmt: skip
    parser.add_argument(
        "--baselines",
        default="all",
        help=f"'all', 'none' or a comma-separated subset of {', '.join(_ALL_BASELINES)} (default: all; blind-model needs --blind-model)",
    )
    parser.add_argument(
        "--blind-model", type=Path,
        help="the blind baseline's checkpoint: the same recipe trained with every EEG input zeroed (`neuronarrator train "
        "stage2 --blind`); run blind (no EEG, no channel layout, no history); the 'blind-model' baseline needs it",
    )  # fmt: skip
    parser.add_argument("--corpus", type=Path, required=True, help="NeuroCorpus folder (Parquet shards + README card)")
    parser.add_argument("--split", default="test", help="split to evaluate (default: test; 'all' for every split)")
    parser.add_argument(
        "--role", choices=ROLES,
        help="what the evaluated rows are for: 'validation' (design choices were tuned on them) or 'test' (sealed: fixed "
        "before training, never used to choose anything); recorded in the results and printed by the leaderboard",
    )  # fmt: skip
    parser.add_argument("--train-corpus", type=Path, help="corpus the baselines are fit on (default: --corpus)")
    parser.add_argument("--train-split", default="train", help="split the baselines are fit on (default: train)")
    parser.add_argument(
        "--train-exclude", metavar="SOURCE[/SUBJECT][,...]",
        help="drop these sources or subjects from the baselines' fitting rows (e.g. the validation subjects, so the "
        "baselines see exactly what the model was trained on)",
    )  # fmt: skip
    parser.add_argument(
        "--fit-cache", type=Path, metavar="DIR",
        help="keep fitted baselines here and reuse one whose name, settings and training rows (ids) match: the "
        "validation and sealed-test boards fit the findings-classifier on the same rows (~25 min each on 2 CPUs)",
    )  # fmt: skip
    parser.add_argument(
        "--max-scenario-copy", type=int, metavar="N",
        help="evaluate only segments as recorded and scenario copies 1..N (rows '<recording>-scn<n>'); the default recipe "
        "scores its validation subjects on copies 1-30 (data.heldout_scenario_copies)",
    )  # fmt: skip
    parser.add_argument("-o", "--output", type=Path, required=True, help="folder for the results JSON files")
    parser.add_argument("--limit", type=int, help="evaluate a seeded random sample of N rows (quick runs)")
    parser.add_argument(
        "--leave-out", metavar="SOURCE[/SUBJECT][,...]",
        help="zero-shot transfer: evaluate on the rows of SOURCE, or of a subject (e.g. pylossless/s02), or of several "
        "(comma-separated), and fit the baselines without them",
    )  # fmt: skip
    parser.add_argument("--metrics", default="all", help="'all' or a comma-separated subset of bleu,rouge_l,meteor,cider_d,bertscore")
    parser.add_argument("--seed", type=int, default=0, help="seed of the --limit sample (default: 0)")
    parser.add_argument("--batch-size", type=int, default=8, help="segments per generate call (default: 8)")
    parser.add_argument("--max-new-tokens", type=int, default=NARRATIVE_TOKEN_LIMIT,
                        help=f"narrative length cap in tokens (default: {NARRATIVE_TOKEN_LIMIT}, the report's)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:n] (default: cpu)")


def select_baselines(spec: str) -> list[str]:
    """``"all"`` / ``"none"`` / ``"a,b"`` -> baseline names, checked against the registry."""
    from .baselines import BASELINES

    spec = spec.strip()
    if spec == "all":
        return list(_ALL_BASELINES)
    if spec in ("none", ""):
        return []
    names = [name.strip() for name in spec.split(",") if name.strip()]
    unknown = [name for name in names if name not in BASELINES]
    if unknown:
        raise ValueError(f"--baselines: unknown baseline(s) {unknown}; choose from {sorted(BASELINES)}, 'all' or 'none'")
    return names


def _select_metrics(spec: str) -> tuple[str, ...]:
    from .language import METRIC_NAMES

    if spec.strip() == "all":
        return METRIC_NAMES
    names = tuple(name.strip() for name in spec.split(",") if name.strip())
    unknown = [name for name in names if name not in METRIC_NAMES]
    if unknown or not names:
        raise ValueError(f"--metrics: unknown metric(s) {unknown or spec!r}; choose from {list(METRIC_NAMES)} or 'all'")
    return names


def _sample(n_rows: int, limit: int | None, seed: int) -> list[int]:
    if limit is None or limit >= n_rows:
        return list(range(n_rows))
    if limit < 1:
        raise ValueError(f"--limit must be at least 1, got {limit}")
    # Sorted, so rows keep the corpus order (source, recording, segment) and sources stay mixed.
    return sorted(np.random.default_rng(seed).choice(n_rows, size=limit, replace=False).tolist())


def check_disjoint(fit_rows, eval_rows) -> dict[str, object]:
    """Stop when the rows a baseline is fit on share an id or a subject with the evaluated rows.

    Returns a summary for the results file: ``{"rows", "subjects", "sources"}`` of the fitting rows.

    Raises:
        ValueError: naming the first shared ids / subjects.
    """
    fit_ids = set(map(str, fit_rows["id"]))
    shared_ids = sorted(fit_ids & set(map(str, eval_rows["id"])))
    fit_subjects = {f"{s}/{u}" for s, u in zip(fit_rows["source"], fit_rows["subject"])}
    eval_subjects = {f"{s}/{u}" for s, u in zip(eval_rows["source"], eval_rows["subject"])}
    shared_subjects = sorted(fit_subjects & eval_subjects)
    if shared_ids or shared_subjects:
        raise ValueError(
            f"the baselines' fitting rows overlap the evaluated rows ({len(shared_ids)} ids, e.g. {shared_ids[:3]}; "
            f"subjects {shared_subjects[:5]}); evaluate a split the fitting split does not hold, or pass --leave-out / "
            "--train-exclude with those subjects"
        )
    return {"rows": len(fit_ids), "subjects": sorted(fit_subjects), "sources": sorted({s.split("/")[0] for s in fit_subjects})}


def _exclude(rows, spec: str):
    """``rows`` without the sources / ``source/subject`` entries of the comma-separated ``spec``."""
    wanted = {part.strip() for part in spec.split(",") if part.strip()}
    known = set(rows["source"]) | {f"{s}/{u}" for s, u in zip(rows["source"], rows["subject"])}
    unknown = sorted(wanted - known)
    if unknown:
        raise ValueError(f"--train-exclude: no fitting rows of {unknown}; the fitting rows have sources {sorted(set(rows['source']))}")
    return rows.filter(lambda s, u: s not in wanted and f"{s}/{u}" not in wanted, input_columns=["source", "subject"])


def _baseline(name: str, args: argparse.Namespace):
    from .baselines import TrainedBlindModel, get_baseline

    if name == "blind-model":
        return TrainedBlindModel(args.blind_model, device=args.device, batch_size=args.batch_size, max_new_tokens=args.max_new_tokens)
    return get_baseline(name)


def run(args: argparse.Namespace) -> int:
    from .corpus import leave_one_source_out, load_split, up_to_scenario_copy

    metrics = _select_metrics(args.metrics)
    baseline_names = _baseline_names(args)
    train_corpus = args.train_corpus or args.corpus
    split_rows = load_split(args.corpus, args.split)
    train_rows = None
    if args.leave_out:
        train_rows = load_split(train_corpus, args.train_split)
        train_rows, split_rows = leave_one_source_out(train_rows, split_rows, args.leave_out)
    if args.max_scenario_copy is not None:
        split_rows = up_to_scenario_copy(split_rows, args.max_scenario_copy)
    indices = _sample(len(split_rows), args.limit, args.seed)
    eval_rows = split_rows.select(indices)
    settings = {
        "split": args.split,
        "role": args.role,
        "limit": args.limit,
        "seed": args.seed,
        "leave_out": args.leave_out,
        "max_scenario_copy": args.max_scenario_copy,
        "metrics": list(metrics),
        "train_corpus": str(Path(train_corpus).resolve()),
        "train_split": args.train_split,
        "train_exclude": args.train_exclude,
    }
    common = {
        "rows": eval_rows, "corpus_dir": args.corpus, "split": args.split, "leave_out": args.leave_out, "metrics": metrics, "role": args.role,
    }  # fmt: skip
    written = []
    if args.predictions is not None:
        written.append(_evaluate_predictions(args, eval_rows, settings, common))
    elif not args.no_model:
        written.append(_evaluate_model(args, split_rows, indices, settings, common))
    if baseline_names:
        if train_rows is None and any(name not in _NO_FIT for name in baseline_names):
            train_rows = load_split(train_corpus, args.train_split)
        written += _evaluate_baselines(args, baseline_names, train_rows, eval_rows, settings, common)
    if not written:
        raise ValueError("nothing to evaluate: --no-model with --baselines none; name a system or some baselines")
    _print_results(written)
    return 0


# Baselines that learn nothing from the train split.
_NO_FIT = ("oracle", "blind-model")


def _baseline_names(args: argparse.Namespace) -> list[str]:
    """The baselines to run; the blind model only with its checkpoint (left out of ``all`` without one)."""
    baseline_names = select_baselines(args.baselines)
    if "blind-model" in baseline_names and args.blind_model is None:
        if args.baselines.strip() == "all":
            logger.warning("blind-model baseline skipped: pass --blind-model CHECKPOINT (the same recipe trained with --blind)")
            baseline_names.remove("blind-model")
        else:
            raise ValueError("--baselines blind-model needs --blind-model CHECKPOINT: the same recipe trained blind (`neuronarrator train stage2 --blind`)")
    return baseline_names


def _evaluate_predictions(args: argparse.Namespace, eval_rows, settings: dict, common: dict) -> Path:
    """Score a predictions file (``--predictions``)."""
    from .corpus import read_predictions
    from .evaluation import evaluate_narratives
    from .results import write_results

    start = time.perf_counter()
    narratives, scores = read_predictions(args.predictions, eval_rows["id"])
    if all(s is None for s in scores):
        scores = None
    system = {"name": args.system_name or args.predictions.stem, "kind": args.system_kind, "path": str(args.predictions.resolve())}
    results = evaluate_narratives(system=system, narratives=narratives, scores=scores, settings=settings, **common)
    path = write_results(results, args.output)
    logger.debug("read predictions in %.1f s", time.perf_counter() - start)
    return path


def _evaluate_model(args: argparse.Namespace, split_rows, indices, settings: dict, common: dict) -> Path:
    """Narrate the rows with a checkpoint (``--model``, else the embedded default) and score it, retrieval recall included."""
    from .evaluation import evaluate_narratives
    from .model_system import ModelSystem, default_model_path
    from .results import write_results
    from .retrieval import retrieval_recall

    model_path = args.model if args.model is not None else default_model_path()
    model = ModelSystem(model_path, device=args.device, batch_size=args.batch_size, max_new_tokens=args.max_new_tokens,
                        sample_and_check=args.sample_and_check, measured_grammar=args.measured_grammar)  # fmt: skip
    start = time.perf_counter()
    narratives = model.predict(split_rows, indices)
    seconds = time.perf_counter() - start
    eeg_embeddings, topomap_embeddings = model.pooled_embeddings(split_rows, indices)
    system = {"name": args.system_name or model.name, "kind": "model", "path": str(Path(model_path).resolve())}
    results = evaluate_narratives(
        system=system,
        narratives=narratives,
        settings={**settings, **model.settings()},
        prediction_seconds=seconds,
        retrieval=retrieval_recall(eeg_embeddings, topomap_embeddings),
        **common,
    )
    return write_results(results, args.output)


def _evaluate_baselines(args: argparse.Namespace, baseline_names: list[str], train_rows, eval_rows, settings: dict, common: dict) -> list[Path]:
    """Fit (on the train rows, checked disjoint from the evaluated ones) and score each baseline."""
    from .evaluation import evaluate_narratives
    from .results import write_results

    needs_fit = [name for name in baseline_names if name not in _NO_FIT]
    fit_summary = None
    if needs_fit:
        if args.train_exclude:
            train_rows = _exclude(train_rows, args.train_exclude)
        fit_summary = check_disjoint(train_rows, eval_rows)
    written = []
    for name in baseline_names:
        baseline = _baseline(name, args)
        start = time.perf_counter()
        cached = False
        if name in needs_fit:
            baseline, cached = _fitted(baseline, train_rows, args.fit_cache)
        fit_seconds = time.perf_counter() - start
        start = time.perf_counter()
        narratives = baseline.predict(eval_rows)
        seconds = time.perf_counter() - start
        results = evaluate_narratives(
            system={"name": baseline.name, "kind": baseline.kind},
            narratives=narratives,
            scores=baseline.predict_scores(eval_rows),
            settings={**settings, "baseline": baseline.settings(), "fit_seconds": fit_seconds, "fit_from_cache": cached,
                      "fit_rows": fit_summary if name in needs_fit else None},
            prediction_seconds=seconds,
            **common,
        )  # fmt: skip
        written.append(write_results(results, args.output))
    return written


def _fitted(baseline, train_rows, cache: Path | None):
    """``(baseline fitted on train_rows, whether it came from cache)``. The cache key is the baseline's
    name and settings and the sha256 of its training rows (id, findings, labels and description of
    each), so a different fit never matches: a corpus rebuilt under new rules keeps its row ids."""
    import hashlib
    import os
    import pickle

    if cache is None:
        baseline.fit(train_rows)
        return baseline, False
    key = hashlib.sha256(json.dumps([baseline.name, baseline.settings()], sort_keys=True, default=str).encode())
    for row in sorted(_fit_row_texts(train_rows)):
        key.update(row.encode())
    key = key.hexdigest()[:24]
    path = Path(cache) / f"{baseline.name}-{key}.pkl"
    if path.is_file():
        logger.info("%s: fitted baseline reused from %s", baseline.name, path)
        with open(path, "rb") as handle:
            return pickle.load(handle), True
    baseline.fit(train_rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    with open(tmp, "wb") as handle:
        pickle.dump(baseline, handle, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, path)  # atomic: a concurrent board reads a whole file or none
    return baseline, False


# What a fit reads of a row besides its EEG, whose findings summarise it: a rebuilt corpus changes one of these.
_FIT_KEY_COLUMNS = ("id", "findings", "labels", "description")


def _fit_row_texts(train_rows) -> list[str]:
    """One string per training row (its ``_FIT_KEY_COLUMNS``), the rows' content for the fit-cache key."""
    if isinstance(train_rows, list):
        columns = {name: [row.get(name) for row in train_rows] for name in _FIT_KEY_COLUMNS}
    else:
        columns = {name: train_rows[name] if name in train_rows.column_names else [None] * len(train_rows) for name in _FIT_KEY_COLUMNS}
    return [json.dumps(values, sort_keys=True, default=str) for values in zip(*columns.values())]


def _print_results(written: list[Path]) -> None:
    for path in written:
        record = json.loads(path.read_text())
        m = record["metrics"]
        print(
            f"{record['system']['name']:<28} clinical_accuracy={_fmt(m.get('clinical_accuracy'))} "
            f"bleu_4={_fmt(m.get('bleu_4'))} cider_d={_fmt(m.get('cider_d'))} -> {path}"
        )


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"
