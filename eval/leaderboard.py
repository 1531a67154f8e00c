"""The leaderboard: results files -> Markdown / CSV table, PNG bar chart, and the model card's
``model-index`` block.

Ordering: within each board (one per dataset, split, held-out source and role) systems are ranked
by the primary metric ``clinical_accuracy`` (mean per-field accuracy of the findings parsed back out
of the narratives: what the narrative says must be true), higher first; ties are broken by CIDEr-D,
then BLEU-4, then the system name. Systems without the primary metric rank last. The oracle (true
findings written by the template) is the ceiling, and is ranked like any other system.

A rank is a point estimate. Every model row is compared with every baseline on the same rows by a
paired bootstrap (rows resampled together, 2000 resamples, 95 % percentile interval of the
difference in clinical accuracy), and the Markdown says a system "ranks first" only when its
intervals against every other non-oracle system clear zero. A board's role says what its rows were
used for: ``validation`` (design choices were tuned on them) or ``test`` (sealed: fixed before
training, never used to choose anything).
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
    "label_difference",
    "paired_bootstrap",
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
    ("contradiction_rate", "Contradicted", 3),
    ("contradicted_claims", "Contradicted claims", 3),
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


def _board_key(record: Mapping[str, Any]) -> tuple[str, str, str, str]:
    dataset = record["dataset"]
    return (str(dataset["name"]), str(dataset["split"]), str(dataset.get("leave_out") or ""), str(dataset.get("role") or ""))


N_RESAMPLES = 2000


def _correct_columns(record: Mapping[str, Any]) -> tuple[list[str], dict[str, Any]] | None:
    import numpy as np

    per_row = record.get("per_row") or {}
    if not per_row.get("ids") or not per_row.get("correct"):
        return None
    columns = {
        field: np.array([np.nan if v is None else float(v) for v in values], dtype=float) for field, values in per_row["correct"].items()
    }
    return [str(i) for i in per_row["ids"]], columns


def paired_bootstrap(
    record_a: Mapping[str, Any], record_b: Mapping[str, Any], n_resamples: int = N_RESAMPLES, seed: int = 0
) -> dict[str, Any] | None:
    """Clinical accuracy of A minus B on the same rows, with a 95 % paired bootstrap interval.

    Rows are resampled together (both systems answered them); in each resample the clinical
    accuracy of each system is recomputed as in ``clinical.py`` (mean over fields of the accuracy on
    the resampled rows where the field applies). Returns ``{"difference", "ci95": [low, high],
    "n"}``, or None when either record lacks per-row results or they cover different rows.
    """
    import numpy as np

    a, b = _correct_columns(record_a), _correct_columns(record_b)
    if a is None or b is None or a[0] != b[0] or set(a[1]) != set(b[1]):
        return None
    n = len(a[0])
    fields = sorted(a[1])
    rng = np.random.default_rng(seed)
    index = rng.integers(0, n, size=(n_resamples, n))

    def clinical(columns, rows):
        per_field = []
        for field in fields:
            values = columns[field][rows]
            applies = ~np.isnan(values)
            count = applies.sum(axis=-1)
            with np.errstate(invalid="ignore", divide="ignore"):
                per_field.append(np.where(count > 0, np.nansum(values, axis=-1) / np.maximum(count, 1), np.nan))
        return np.nanmean(np.stack(per_field), axis=0)

    point = float(clinical(a[1], np.arange(n)) - clinical(b[1], np.arange(n)))
    samples = clinical(a[1], index) - clinical(b[1], index)
    low, high = np.percentile(samples, [2.5, 97.5])
    return {"difference": round(point, 4), "ci95": [round(float(low), 4), round(float(high), 4)], "n": n}


def _sort_key(record: Mapping[str, Any]):
    metrics = record["metrics"]
    values = [metrics.get(PRIMARY_METRIC), *(metrics.get(m) for m in TIE_BREAKERS)]
    # Missing values sort after every present one; higher is better, so negate.
    return (*[(v is None, -(v or 0.0)) for v in values], record["system"]["name"])


def leaderboards(records: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str, str, str], list[Mapping[str, Any]]]:
    """Records grouped by (dataset name, split, held-out source, role) and ranked (see module docstring).

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
    retrieval = any(r.get("retrieval") for r in board)
    header = ["Rank", "System", "Kind", *(h for _, h, _ in COLUMNS), *(h for _, _, h in tasks)]
    header += ["EEG-topomap R@1"] if retrieval else []
    header += ["Segments", "Segments/s"]
    rows = []
    for rank, record in enumerate(board, start=1):
        metrics = record["metrics"]
        row: list[Any] = [rank, record["system"]["name"], record["system"].get("kind", "")]
        row += [metrics.get(key) for key, _, _ in COLUMNS]
        task_scores = (record.get("clinical") or {}).get("tasks") or {}
        row += [task_scores.get(task, {}).get(metric) for task, metric, _ in tasks]
        if retrieval:
            row.append((record.get("retrieval") or {}).get("mean_recall@1"))
        row += [record["dataset"].get("n_segments"), record["throughput"].get("segments_per_second")]
        rows.append(row)
    return header, rows


def _fmt(value: Any, decimals: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{decimals}f}"
    return str(value)


_ROLE_TITLES = {
    "validation": "VALIDATION (the default's design choices were tuned on these rows)",
    "test": "SEALED TEST (fixed before training, never used to choose anything)",
}


def _board_title(key: tuple[str, ...]) -> str:
    name, split, leave_out, *rest = key
    role = rest[0] if rest else ""
    title = f"{_ROLE_TITLES[role]}: " if role in _ROLE_TITLES else ""
    title += f"{name}, split `{split}`"
    if leave_out:
        kind = ("subject" if "/" in leave_out else "source") + ("s" if "," in leave_out else "")
        title += f", zero-shot on held-out {kind} `{leave_out}`"
    return title


def _comparisons(board: Sequence[Mapping[str, Any]]) -> list[tuple[str, str, dict[str, Any] | None]]:
    """(model, baseline, paired_bootstrap) for every model row against every other non-oracle system."""
    out = []
    for model in board:
        if model["system"].get("kind") != "model":
            continue
        for other in board:
            if other is model or other["system"].get("kind") == "oracle":
                continue
            out.append((model["system"]["name"], other["system"]["name"], paired_bootstrap(model, other)))
    return out


def _first_place(board: Sequence[Mapping[str, Any]]) -> str:
    """Whether the best non-oracle system ranks first beyond resampling noise, in words."""
    contenders = [r for r in board if r["system"].get("kind") != "oracle" and r["metrics"].get(PRIMARY_METRIC) is not None]
    if len(contenders) < 2:
        return ""
    top, rest = contenders[0], contenders[1:]
    tests = [(other["system"]["name"], paired_bootstrap(top, other)) for other in rest]
    name = top["system"]["name"]
    if any(t is None for _, t in tests):
        return f"**{name}** has the highest {PRIMARY_METRIC}; without per-row results for every system no interval says whether it ranks first."
    unclear = [(other, t) for other, t in tests if t["ci95"][0] <= 0]
    if not unclear:
        return (f"**{name} ranks first**: its {PRIMARY_METRIC} is above every other system's with the 95 % paired bootstrap "
                f"interval of the difference clear of zero (closest: {_diff_text(tests[0][1])} over {tests[0][0]}).")  # fmt: skip
    other, t = unclear[0]
    return (f"**No system ranks first with confidence**: {name} has the highest {PRIMARY_METRIC}, but its lead over {other} is "
            f"{_diff_text(t)}, an interval that does not clear zero.")  # fmt: skip


def _diff_text(test: Mapping[str, Any]) -> str:
    return f"{test['difference']:+.3f} [{test['ci95'][0]:+.3f}, {test['ci95'][1]:+.3f}]"


def _per_source_table(board: Sequence[Mapping[str, Any]]) -> list[str]:
    sources = sorted({s for r in board for s in (r.get("per_source") or {})})
    if len(sources) < 2 and not any(r["dataset"].get("leave_out") or r["dataset"].get("role") == "test" for r in board):
        return []
    counts = {s: next(r["per_source"][s]["n_segments"] for r in board if s in (r.get("per_source") or {})) for s in sources}
    lines = ["Per source (clinical accuracy / contradicted share; segments in brackets):", ""]
    lines.append("| System | " + " | ".join(f"{s} ({counts[s]})" for s in sources) + " |")
    lines.append("|---|" + "---:|" * len(sources))
    for record in board:
        cells = []
        for source in sources:
            metrics = ((record.get("per_source") or {}).get(source) or {}).get("metrics") or {}
            cells.append(f"{_fmt(metrics.get(PRIMARY_METRIC))} / {_fmt(metrics.get('contradiction_rate'))}")
        lines.append(f"| {record['system']['name']} | " + " | ".join(cells) + " |")
    return lines + [""]


def _label_accuracies(record: Mapping[str, Any], labels: Sequence[str]) -> dict[tuple[str, str], tuple[float, int]]:
    """``{(label field, source): (accuracy, rows)}`` from the record's per-row results; a row's
    source is the first part of its id (``source/recording/segment``)."""
    per_row = record.get("per_row") or {}
    ids, correct = per_row.get("ids") or [], per_row.get("correct") or {}
    tally: dict[tuple[str, str], list[int]] = {}
    for field in labels:
        for row_id, value in zip(ids, correct.get(field) or []):
            if value is not None:
                counts = tally.setdefault((field, str(row_id).split("/", 1)[0]), [0, 0])
                counts[0] += int(bool(value))
                counts[1] += 1
    return {key: (hit / n, n) for key, (hit, n) in tally.items()}


def _label_field_table(board: Sequence[Mapping[str, Any]]) -> list[str]:
    """Accuracy on each source label (eyes, stimulus, recording quality, ...) per source: what the
    measurement cannot give, so the model must read it from the EEG. Each cell is marked where it
    falls below the findings-classifier's on the same rows (the issue's floor for label fields)."""
    from dataset_builder.labels import LABEL_VOCABULARY

    accuracies = {record["system"]["name"]: _label_accuracies(record, list(LABEL_VOCABULARY)) for record in board}
    columns = sorted({key for table in accuracies.values() for key in table})
    if not columns:
        return []
    floor = accuracies.get("findings-classifier", {})
    lines = [
        "Source labels (accuracy per label and source, rows in brackets; * below the findings-classifier on the same rows):",
        "",
        "| System | " + " | ".join(f"{field} · {source} ({next(t[(field, source)][1] for t in accuracies.values() if (field, source) in t)})" for field, source in columns) + " |",
        "|---|" + "---:|" * len(columns),
    ]
    for record in board:
        name = record["system"]["name"]
        cells = []
        for key in columns:
            value = accuracies[name].get(key)
            below = value is not None and key in floor and name != "findings-classifier" and value[0] < floor[key][0]
            cells.append("–" if value is None else f"{value[0]:.3f}{' *' if below else ''}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines + [""]


def label_difference(
    record_a: Mapping[str, Any], record_b: Mapping[str, Any], field: str, source: str, n_resamples: int = N_RESAMPLES, seed: int = 0
) -> dict[str, Any] | None:
    """Accuracy of A minus B on one source label (``field``) over that source's rows where it
    applies, with a 95 % paired bootstrap interval (rows resampled together, as ``paired_bootstrap``).
    Returns ``{"difference", "ci95", "n"}``, or None when either record lacks per-row results, they
    cover different rows, or no row carries the label."""
    import numpy as np

    a, b = _correct_columns(record_a), _correct_columns(record_b)
    if a is None or b is None or a[0] != b[0] or field not in a[1] or field not in b[1]:
        return None
    from_source = np.array([row_id.split("/", 1)[0] == source for row_id in a[0]])
    rows = from_source & ~np.isnan(a[1][field]) & ~np.isnan(b[1][field])
    if not rows.any():
        return None
    difference = a[1][field][rows] - b[1][field][rows]
    index = np.random.default_rng(seed).integers(0, difference.size, size=(n_resamples, difference.size))
    low, high = np.percentile(difference[index].mean(axis=1), [2.5, 97.5])
    return {"difference": round(float(difference.mean()), 4), "ci95": [round(float(low), 4), round(float(high), 4)], "n": int(difference.size)}


def _label_difference_table(board: Sequence[Mapping[str, Any]]) -> list[str]:
    """Each model minus the findings-classifier on every source label, with its interval: whether a
    gap to the issue's floor is more than resampling noise."""
    from dataset_builder.labels import LABEL_VOCABULARY

    floor = next((r for r in board if r["system"]["name"] == "findings-classifier"), None)
    models = [r for r in board if r["system"].get("kind") == "model" or r["system"]["name"] == "blind-model"]
    if floor is None or not models:
        return []
    columns = sorted(_label_accuracies(floor, list(LABEL_VOCABULARY)))
    rows = []
    for record in models:
        for field, source in columns:
            test = label_difference(record, floor, field, source)
            if test is not None:
                verdict = "above" if test["ci95"][0] > 0 else "below" if test["ci95"][1] < 0 else "not separated"
                rows.append(f"| {record['system']['name']} | {field} · {source} ({test['n']}) | {test['difference']:+.3f} | "
                            f"[{test['ci95'][0]:+.3f}, {test['ci95'][1]:+.3f}] | {verdict} |")  # fmt: skip
    if not rows:
        return []
    return ["Source labels, system minus findings-classifier, accuracy on the same rows (95 % paired bootstrap interval):", "",
            "| System | Label · source (rows) | Difference | 95 % CI | Separated |", "|---|---|---:|---|---|", *rows, ""]  # fmt: skip


def _label_agreement_table(board: Sequence[Mapping[str, Any]]) -> list[str]:
    """Balanced accuracy and Cohen's kappa of every source label over the board's rows: an imbalanced
    label (stimulus 'none' on ~9 of 10 rows) rewards always writing its majority value in accuracy
    alone; these two count each class, or agreement beyond chance."""
    from dataset_builder.labels import LABEL_VOCABULARY

    columns = sorted({f for r in board for f, v in ((r.get("clinical") or {}).get("fields") or {}).items()
                      if f in LABEL_VOCABULARY and isinstance(v, Mapping) and v.get("balanced_accuracy") is not None})  # fmt: skip
    if not columns:
        return []
    lines = ["Source labels over all rows that carry them: balanced accuracy / Cohen's kappa:", "",
             "| System | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(columns)]  # fmt: skip
    for record in board:
        fields = (record.get("clinical") or {}).get("fields") or {}
        cells = []
        for field in columns:
            value = fields.get(field) or {}
            bal, kappa = value.get("balanced_accuracy"), value.get("cohen_kappa")
            cells.append("–" if bal is None else f"{bal:.3f} / {kappa:.3f}" if kappa is not None else f"{bal:.3f}")
        lines.append(f"| {record['system']['name']} | " + " | ".join(cells) + " |")
    return lines + [""]


def to_markdown(records: Sequence[Mapping[str, Any]], *, model_index_block: str | None = None) -> str:
    """The leaderboard as Markdown: one table per board, then how it was computed."""
    lines = ["# NeuroNarrator leaderboard", ""]
    bertscore_models = set()
    for key, board in leaderboards(records).items():
        lines += [f"## {_board_title(key)}", ""]
        lines += _board_provenance(board)
        lines += _board_table(board)
        skipped = {name: info for r in board for name, info in (r.get("not_computed") or {}).items()}
        for name, info in sorted(skipped.items()):
            lines += [f"{name.upper()} not computed ({info.get('reason')}); fix: {info.get('fix')}.", ""]
        lines += _comparison_table(board)
        first = _first_place(board)
        if first:
            lines += [first, ""]
        lines += _per_source_table(board)
        lines += _label_field_table(board)
        lines += _label_difference_table(board)
        lines += _label_agreement_table(board)
        for record in board:
            if record.get("bertscore_model"):
                bertscore_models.add(str(record["bertscore_model"].get("name")) + f", layer {record['bertscore_model'].get('num_layers')}")
    lines += _how_to_read()
    if bertscore_models:
        lines += ["", f"BERTScore model: {'; '.join(sorted(bertscore_models))} (no IDF, no baseline rescaling)."]
    if model_index_block:
        lines += ["", "## model-index (for the model card)", "", "```yaml", model_index_block.rstrip(), "```"]
    return "\n".join(lines) + "\n"


def _board_provenance(board: Sequence[Mapping[str, Any]]) -> list[str]:
    """The corpus fingerprint, the evaluated sources and the rows the baselines were fit on."""
    fingerprints = sorted({((r["dataset"].get("fingerprint") or {}).get("sha256") or "?")[:12] for r in board})
    lines = [f"Corpus fingerprint: {', '.join(f'`{f}`' for f in fingerprints)}", ""]
    sources = sorted({s for r in board for s in (r["dataset"].get("sources") or {})})
    fits = [(r.get("settings") or {}).get("fit_rows") for r in board if (r.get("settings") or {}).get("fit_rows")]
    if sources:
        lines += [f"Evaluated sources: {', '.join(sources)}."]
    if fits:
        lines += [f"Baselines fit on {fits[0]['rows']} rows of {', '.join(fits[0]['subjects'])} (no subject in common with the evaluated rows).", ""]
    elif sources:
        lines += [""]
    return lines


def _board_table(board: Sequence[Mapping[str, Any]]) -> list[str]:
    """The ranked table of one board (rank and metrics right-aligned)."""
    header, rows = _rows(board)
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---:" if i == 0 or i > 2 else "---" for i in range(len(header))) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(_fmt(v, 1 if i == len(row) - 1 else 3) for i, v in enumerate(row)) + " |")
    lines.append("")
    return lines


def _comparison_table(board: Sequence[Mapping[str, Any]]) -> list[str]:
    """Model minus each baseline with the paired bootstrap interval; empty when the board has no pair."""
    comparisons = _comparisons(board)
    if not comparisons:
        return []
    lines = ["Model minus baseline, clinical accuracy on the same rows (95 % paired bootstrap interval):", "",
             "| Model | Baseline | Difference | 95 % CI | Separated |", "|---|---|---:|---|---|"]  # fmt: skip
    for model, other, test in comparisons:
        if test is None:
            lines.append(f"| {model} | {other} | – | – | no per-row results |")
        else:
            verdict = "better" if test["ci95"][0] > 0 else "worse" if test["ci95"][1] < 0 else "not separated"
            lines.append(f"| {model} | {other} | {test['difference']:+.3f} | [{test['ci95'][0]:+.3f}, {test['ci95'][1]:+.3f}] | {verdict} |")
    lines.append("")
    return lines


def _how_to_read() -> list[str]:
    """The section that says how the boards were computed and how to read a rank."""
    return [
        "## How to read it",
        "",
        (
            f"Systems are ranked by **{PRIMARY_METRIC}**: the findings and labels parsed back out of each generated "
            "narrative are compared field by field with the segment's true values (a field the narrative leaves out "
            "counts as wrong; frequencies within ±1 Hz, amplitude within ±25 %), and the per-field accuracies are "
            f"averaged. Ties are broken by {', then '.join(TIE_BREAKERS)}. The oracle writes the true findings with the "
            "corpus template: the ceiling. BLEU, ROUGE-L, METEOR and BERTScore are in [0, 1], CIDEr-D in [0, 10]. "
            "*Contradicted* is the share of narratives the report's consistency check flags (a stated value the measured "
            "findings contradict, or nothing checkable stated), *Contradicted claims* the share of all stated fields that "
            "the measurement contradicts; lower is better for both."
        ),
        "",
        (
            "Every system is scored by the same rule, baselines included: *blind-model* is the same recipe trained and run "
            "with every EEG input zeroed and no history; *majority* writes every finding at its most frequent training value; "
            "the baselines are fit on rows that share no subject with the evaluated rows. A rank is a point estimate: "
            "'ranks first' is said only when the paired bootstrap intervals against every other system clear zero."
        ),
    ]


def to_csv(records: Sequence[Mapping[str, Any]]) -> str:
    """The leaderboard as CSV: one row per (board, system), with the board's dataset, split and held-out source."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    task_headers = [h for _, _, h in _TASK_COLUMNS]
    writer.writerow(["dataset", "split", "leave_out", "role", "rank", "system", "kind", *(k for k, _, _ in COLUMNS), *task_headers,
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


def _chart_title(key, width: int = 60) -> str:
    """A board's title for the chart, wrapped to the width of its bars (a long held-out list ran off the figure)."""
    import textwrap

    return textwrap.fill(_board_title(key).replace("`", ""), width, break_on_hyphens=False)


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
        ax.set_title(_chart_title(key), fontsize=10)
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
        recall = (record.get("retrieval") or {}).get("mean_recall@1")
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
