"""The leaderboard: results files -> Markdown / CSV table, PNG bar chart, and the model card's
``model-index`` block.

Ordering: within each board (one per dataset, split and held-out source) systems are ranked by the
primary metric ``clinical_accuracy`` (mean per-field accuracy of the findings parsed back out of the
narratives: what the narrative says must be true), higher first; ties are broken by CIDEr-D, then
BLEU-4, then the system name. Systems without the primary metric rank last. The oracle (true
findings written by the template) is the ceiling, and is ranked like any other system.
"""

from __future__ import annotations

import csv
import io
import logging
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

from .results import ResultsError, read_results

__all__ = [
    "COLUMNS",
    "PRIMARY_METRIC",
    "TIE_BREAKERS",
    "collect_results",
    "leaderboards",
    "model_index",
    "model_index_yaml",
    "to_csv",
    "to_markdown",
    "write_bar_chart",
]

logger = logging.getLogger(__name__)

PRIMARY_METRIC = "clinical_accuracy"
TIE_BREAKERS = ("cider_d", "bleu_4")
# (metric key, column header, decimals)
COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("clinical_accuracy", "Clinical acc.", 3),
    ("clinical_macro_f1", "Clinical macro-F1", 3),
    ("bleu_1", "BLEU-1", 3),
    ("bleu_2", "BLEU-2", 3),
    ("bleu_3", "BLEU-3", 3),
    ("bleu_4", "BLEU-4", 3),
    ("rouge_l", "ROUGE-L", 3),
    ("meteor", "METEOR", 3),
    ("cider_d", "CIDEr-D", 3),
    ("bertscore_f1", "BERTScore F1", 3),
)
_TASK_COLUMNS = (
    ("tuab_abnormal", "balanced_accuracy", "TUAB bal. acc."),
    ("tuab_abnormal", "auroc", "TUAB AUROC"),
    ("tuev_event", "balanced_accuracy", "TUEV bal. acc."),
    ("tuev_event", "cohen_kappa", "TUEV kappa"),
    ("tuev_event", "weighted_f1", "TUEV weighted F1"),
    ("sleep_stage", "balanced_accuracy", "Sleep bal. acc."),
    ("sleep_stage", "cohen_kappa", "Sleep kappa"),
)


def collect_results(results_dir: str | os.PathLike) -> list[dict[str, Any]]:
    """Every results file (``*.json``) in ``results_dir``, checked against the schema."""
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise FileNotFoundError(f"{results_dir}: results folder not found; write it with `neuronarrator evaluate -o {results_dir}`")
    records = []
    for path in sorted(results_dir.glob("*.json")):
        record = read_results(path)
        record["_path"] = str(path)
        records.append(record)
    if not records:
        raise ResultsError(f"{results_dir}: no results files (*.json); run `neuronarrator evaluate -o {results_dir}` first")
    return records


def _board_key(record: Mapping[str, Any]) -> tuple[str, str, str]:
    dataset = record["dataset"]
    return (str(dataset["name"]), str(dataset["split"]), str(dataset.get("leave_out") or ""))


def _sort_key(record: Mapping[str, Any]):
    metrics = record["metrics"]
    values = [metrics.get(PRIMARY_METRIC), *(metrics.get(m) for m in TIE_BREAKERS)]
    # Missing values sort after every present one; higher is better, so negate.
    return (*[(v is None, -(v or 0.0)) for v in values], record["system"]["name"])


def leaderboards(records: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str, str], list[Mapping[str, Any]]]:
    """Records grouped by (dataset name, split, held-out source) and ranked (see module docstring).

    A board whose records were computed on different corpora (fingerprints differ) is still shown,
    with a warning: its numbers are not comparable.
    """
    boards: dict[tuple[str, str, str], list[Mapping[str, Any]]] = {}
    for record in records:
        boards.setdefault(_board_key(record), []).append(record)
    for key, board in boards.items():
        board.sort(key=_sort_key)
        prints = {(r["dataset"].get("fingerprint") or {}).get("sha256") for r in board}
        if len(prints) > 1:
            logger.warning("leaderboard %s: results come from %d different corpus fingerprints; they are not comparable", key, len(prints))
    return dict(sorted(boards.items()))


def _task_columns(board: Sequence[Mapping[str, Any]]) -> list[tuple[str, str, str]]:
    present = []
    for task, metric, header in _TASK_COLUMNS:
        if any(((r.get("clinical") or {}).get("tasks") or {}).get(task, {}).get(metric) is not None for r in board):
            present.append((task, metric, header))
    return present


def _rows(board: Sequence[Mapping[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    tasks = _task_columns(board)
    grounded = any(r.get("grounding") for r in board)
    header = ["Rank", "System", "Kind", *(h for _, h, _ in COLUMNS), *(h for _, _, h in tasks)]
    header += ["EEG-topomap R@1"] if grounded else []
    header += ["Segments", "Segments/s"]
    rows = []
    for rank, record in enumerate(board, start=1):
        metrics = record["metrics"]
        row: list[Any] = [rank, record["system"]["name"], record["system"].get("kind", "")]
        row += [metrics.get(key) for key, _, _ in COLUMNS]
        task_scores = (record.get("clinical") or {}).get("tasks") or {}
        row += [task_scores.get(task, {}).get(metric) for task, metric, _ in tasks]
        if grounded:
            row.append((record.get("grounding") or {}).get("mean_recall@1"))
        row += [record["dataset"].get("n_segments"), record["throughput"].get("segments_per_second")]
        rows.append(row)
    return header, rows


def _fmt(value: Any, decimals: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{decimals}f}"
    return str(value)


def _board_title(key: tuple[str, str, str]) -> str:
    name, split, leave_out = key
    title = f"{name}, split `{split}`"
    if leave_out:
        kind = ("subject" if "/" in leave_out else "source") + ("s" if "," in leave_out else "")
        title += f", zero-shot on held-out {kind} `{leave_out}`"
    return title


def to_markdown(records: Sequence[Mapping[str, Any]], *, model_index_block: str | None = None) -> str:
    """The leaderboard as Markdown: one table per board, then how it was computed."""
    lines = ["# NeuroNarrator leaderboard", ""]
    bertscore_models = set()
    for key, board in leaderboards(records).items():
        header, rows = _rows(board)
        fingerprints = sorted({((r["dataset"].get("fingerprint") or {}).get("sha256") or "?")[:12] for r in board})
        lines += [f"## {_board_title(key)}", "", f"Corpus fingerprint: {', '.join(f'`{f}`' for f in fingerprints)}", ""]
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "|".join("---:" if i == 0 or i > 2 else "---" for i in range(len(header))) + "|")
        for row in rows:
            lines.append("| " + " | ".join(_fmt(v, 1 if i == len(row) - 1 else 3) for i, v in enumerate(row)) + " |")
        lines.append("")
        for record in board:
            if record.get("bertscore_model"):
                bertscore_models.add(str(record["bertscore_model"].get("name")) + f", layer {record['bertscore_model'].get('num_layers')}")
    lines += [
        "## How to read it",
        "",
        (
            f"Systems are ranked by **{PRIMARY_METRIC}**: the findings and labels parsed back out of each generated "
            "narrative are compared field by field with the segment's true values (a field the narrative leaves out "
            "counts as wrong; frequencies within ±1 Hz, amplitude within ±25 %), and the per-field accuracies are "
            f"averaged. Ties are broken by {', then '.join(TIE_BREAKERS)}. The oracle writes the true findings with the "
            "corpus template: the ceiling. BLEU, ROUGE-L, METEOR and BERTScore are in [0, 1], CIDEr-D in [0, 10]."
        ),
    ]
    if bertscore_models:
        lines += ["", f"BERTScore model: {'; '.join(sorted(bertscore_models))} (no IDF, no baseline rescaling)."]
    if model_index_block:
        lines += ["", "## model-index (for the model card)", "", "```yaml", model_index_block.rstrip(), "```"]
    return "\n".join(lines) + "\n"


def to_csv(records: Sequence[Mapping[str, Any]]) -> str:
    """The leaderboard as CSV: one row per (board, system), with the board's dataset, split and held-out source."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    task_headers = [h for _, _, h in _TASK_COLUMNS]
    writer.writerow(["dataset", "split", "leave_out", "rank", "system", "kind", *(k for k, _, _ in COLUMNS), *task_headers,
                     "n_segments", "segments_per_second", "fingerprint"])
    for key, board in leaderboards(records).items():
        for rank, record in enumerate(board, start=1):
            metrics = record["metrics"]
            task_scores = (record.get("clinical") or {}).get("tasks") or {}
            writer.writerow([
                *key, rank, record["system"]["name"], record["system"].get("kind", ""),
                *("" if metrics.get(k) is None else metrics.get(k) for k, _, _ in COLUMNS),
                *("" if task_scores.get(t, {}).get(m) is None else task_scores[t][m] for t, m, _ in _TASK_COLUMNS),
                record["dataset"].get("n_segments"), record["throughput"].get("segments_per_second"),
                (record["dataset"].get("fingerprint") or {}).get("sha256", ""),
            ])
    return buffer.getvalue()


_CHART_METRICS = (("clinical_accuracy", "Clinical acc.", 1.0), ("bleu_4", "BLEU-4", 1.0), ("rouge_l", "ROUGE-L", 1.0),
                  ("meteor", "METEOR", 1.0), ("cider_d", "CIDEr-D / 10", 0.1), ("bertscore_f1", "BERTScore F1", 1.0))


def write_bar_chart(records: Sequence[Mapping[str, Any]], path: str | os.PathLike) -> Path:
    """A PNG with one grouped horizontal bar chart per board (systems in leaderboard order, best on top)."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt
    import numpy as np

    boards = leaderboards(records)
    height = sum(1.2 + 0.6 * len(board) for board in boards.values())
    fig, axes = plt.subplots(len(boards), 1, figsize=(9, max(3.0, height)), squeeze=False)
    for ax, (key, board) in zip(axes[:, 0], boards.items()):
        names = [r["system"]["name"] for r in board][::-1]
        y = np.arange(len(names))
        width = 0.8 / len(_CHART_METRICS)
        for k, (metric, label, scale) in enumerate(_CHART_METRICS):
            values = [(r["metrics"].get(metric) or 0.0) * scale for r in board][::-1]
            ax.barh(y + k * width - 0.4 + width / 2, values, height=width, label=label)
        ax.set_yticks(y, names)
        ax.set_xlim(0, 1)
        ax.set_title(_board_title(key).replace("`", ""), fontsize=10)
    # Below the last board, so it never hides a bar.
    axes[-1, 0].legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=len(_CHART_METRICS), fontsize=7, frameon=False)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


# metric key -> (model-index type, display name)
_MODEL_INDEX_METRICS = {
    "clinical_accuracy": ("accuracy", "Clinical accuracy (parsed findings)"),
    "bleu_4": ("bleu", "BLEU-4"),
    "rouge_l": ("rouge", "ROUGE-L"),
    "meteor": ("meteor", "METEOR"),
    "cider_d": ("cider", "CIDEr-D"),
    "bertscore_f1": ("bertscore", "BERTScore F1"),
}


def model_index(records: Sequence[Mapping[str, Any]], *, system: str | None = None, model_name: str = "NeuroNarrator") -> dict[str, Any]:
    """The ``model-index`` entry of the model card from the results of one system.

    Args:
        system: the system whose results to report; default: the one system of kind ``"model"``.
    """
    if system is None:
        models = sorted({r["system"]["name"] for r in records if r["system"].get("kind") == "model"})
        if len(models) != 1:
            raise ValueError(
                f"model-index: {'no' if not models else len(models)} evaluated model systems found {models}; "
                "name the one to report with --system"
            )
        system = models[0]
    chosen = [r for r in records if r["system"]["name"] == system]
    if not chosen:
        raise ValueError(f"model-index: no results for system {system!r}; systems present: {sorted({r['system']['name'] for r in records})}")
    entries = []
    for record in sorted(chosen, key=_board_key):
        dataset = record["dataset"]
        metrics = []
        for key, (kind, name) in _MODEL_INDEX_METRICS.items():
            value = record["metrics"].get(key)
            if value is not None:
                if key == "bertscore_f1" and record.get("bertscore_model"):
                    name = f"{name} ({record['bertscore_model'].get('name')})"
                metrics.append({"type": kind, "value": round(float(value), 4), "name": name})
        recall = (record.get("grounding") or {}).get("mean_recall@1")
        if recall is not None:
            metrics.append({"type": "recall", "value": round(float(recall), 4), "name": "EEG-topomap retrieval recall@1"})
        entry_dataset = {"type": str(dataset.get("hub_id") or dataset["name"]), "name": str(dataset["name"]), "split": str(dataset["split"])}
        if dataset.get("leave_out"):
            entry_dataset["args"] = {"leave_out": dataset["leave_out"]}
            entry_dataset["name"] += f" (zero-shot, held-out {dataset['leave_out']})"
        entries.append({"task": {"type": "text-generation", "name": "EEG-to-text narrative generation"}, "dataset": entry_dataset, "metrics": metrics})
    return {"model-index": [{"name": model_name, "results": entries}]}


def model_index_yaml(records: Sequence[Mapping[str, Any]], **kwargs) -> str:
    """``model_index`` as the YAML block of the model card's front matter."""
    import yaml

    return yaml.safe_dump(model_index(records, **kwargs), sort_keys=False, allow_unicode=True)
