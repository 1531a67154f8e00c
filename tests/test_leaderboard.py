"""Results files and the leaderboard: schema, ordering, Markdown / CSV / PNG, model-index."""

from __future__ import annotations

import csv
import io
import json

import pytest
import yaml

from neuronarrator_eval.leaderboard import (
    PRIMARY_METRIC,
    collect_results,
    leaderboards,
    model_index,
    model_index_yaml,
    paired_bootstrap,
    to_csv,
    to_markdown,
    write_bar_chart,
)
from neuronarrator_eval.leaderboard_cli import add_arguments, run
from neuronarrator_eval.results import SCHEMA_VERSION, ResultsError, build_results, read_results, results_filename, write_results


def _record(name, kind="baseline", clinical=0.5, cider=1.0, bleu4=0.2, split="test", leave_out=None, fingerprint="abc123", role=None, per_row=None,
            per_source=None):
    metrics = {"clinical_accuracy": clinical, "cider_d": cider, "bleu_4": bleu4, "bleu_1": 0.6, "rouge_l": 0.5, "meteor": 0.4, "bertscore_f1": 0.9}
    return build_results(
        system={"name": name, "kind": kind},
        dataset={"name": "neurocorpus", "split": split, "leave_out": leave_out, "n_segments": 10, "fingerprint": {"sha256": fingerprint}, "role": role},
        settings={"limit": None},
        metrics=metrics,
        clinical={"fields": {}, "tasks": {"tuab_abnormal": {"balanced_accuracy": clinical, "auroc": None}}},
        per_source=per_source or {},
        metric_implementations={"bleu": {"backend": "nltk"}},
        bertscore_model={"name": "sentence-transformers/all-MiniLM-L6-v2", "num_layers": 6},
        throughput={"segments": 10, "segments_per_second": 5.0},
        per_row=per_row,
    )


@pytest.fixture()
def results_dir(tmp_path):
    out = tmp_path / "results"
    for record in (
        _record("nearest-neighbour", clinical=0.6, cider=0.9),
        _record("neuronarrator", kind="model", clinical=0.8, cider=2.0, bleu4=0.4),
        _record("oracle", kind="oracle", clinical=1.0, cider=10.0, bleu4=1.0),
        _record("findings-classifier", clinical=0.6, cider=3.5),  # ties with nearest-neighbour on clinical
        _record("blind-model", clinical=None, cider=0.1),
        _record("neuronarrator", kind="model", clinical=0.3, leave_out="tuab"),
        _record("nearest-neighbour", clinical=0.4, leave_out="tuab"),
    ):
        write_results(record, out)
    return out


def test_write_and_read_round_trip(tmp_path):
    record = _record("x")
    record["metrics"]["nan_metric"] = float("nan")
    path = write_results(record, tmp_path)
    assert path.name == "x__neurocorpus__test.json"
    loaded = read_results(path)
    assert loaded["schema_version"] == SCHEMA_VERSION
    assert loaded["metrics"]["clinical_accuracy"] == 0.5
    assert loaded["metrics"]["nan_metric"] is None  # NaN is not JSON: stored as null
    assert results_filename(_record("a b/c", leave_out="tuab")) == "a-b-c__neurocorpus__test__leave-out-tuab.json"


def test_read_results_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ResultsError, match="bad.json: not a JSON file"):
        read_results(bad)
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"metrics": {}}))
    with pytest.raises(ResultsError, match=r"other.json: not a NeuroNarrator results file, keys \['schema_version'"):
        read_results(other)
    old = _record("x")
    old["schema_version"] = 0
    path = tmp_path / "old.json"
    path.write_text(json.dumps(old))
    with pytest.raises(ResultsError, match="schema version 0"):
        read_results(path)
    with pytest.raises(ResultsError, match="no results files"):
        collect_results(_empty(tmp_path))
    with pytest.raises(FileNotFoundError, match="results folder not found"):
        collect_results(tmp_path / "nope")


def test_retrieval_recall_of_a_results_file_written_before_issue_18(tmp_path):
    """EEG<->topomap recall is stored under ``retrieval``; a file written when the key was called
    ``grounding`` reads the same (the leaderboard column and the model index show it)."""
    recall = {"n_segments": 10, "mean_recall@1": 0.35, "eeg_to_topomap_recall@1": 0.3}
    new = _record("neuronarrator", kind="model")
    new["retrieval"] = dict(recall)
    assert read_results(write_results(new, tmp_path / "new"))["retrieval"] == recall
    old = _record("neuronarrator", kind="model")
    old["grounding"] = dict(recall)
    del old["retrieval"]
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / results_filename(old)).write_text(json.dumps(old))
    [loaded] = collect_results(tmp_path / "old")
    assert loaded["retrieval"] == recall and "grounding" not in loaded
    table = to_markdown([loaded])
    assert "EEG-topomap R@1" in table and "0.35" in table
    values = {m["name"]: m["value"] for m in model_index([loaded])["model-index"][0]["results"][0]["metrics"]}
    assert values["EEG-topomap retrieval recall@1"] == 0.35


def _empty(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    return empty


def test_ordering_by_primary_metric_then_tie_breakers(results_dir):
    boards = leaderboards(collect_results(results_dir))
    assert list(boards) == [("neurocorpus", "test", "", ""), ("neurocorpus", "test", "tuab", "")]
    order = [r["system"]["name"] for r in boards[("neurocorpus", "test", "", "")]]
    # 1.0, 0.8, then the 0.6 tie broken by CIDEr-D (3.5 > 0.9), and no primary metric last
    assert order == ["oracle", "neuronarrator", "findings-classifier", "nearest-neighbour", "blind-model"]
    assert PRIMARY_METRIC == "clinical_accuracy"
    assert [r["system"]["name"] for r in boards[("neurocorpus", "test", "tuab", "")]] == ["nearest-neighbour", "neuronarrator"]


def test_markdown_table(results_dir):
    text = to_markdown(collect_results(results_dir), model_index_block="model-index: []\n")
    lines = text.splitlines()
    assert "## neurocorpus, split `test`" in lines
    assert "## neurocorpus, split `test`, zero-shot on held-out source `tuab`" in lines
    rows = [line for line in lines if line.startswith("| ")]
    assert rows[1].startswith("| 1 | oracle | oracle | 1.000 |")
    assert rows[5].startswith("| 5 | blind-model | baseline | – |")
    assert "Contradicted" in rows[0]
    # no per-row results in these records: no interval, so no claim that anyone ranks first
    assert "without per-row results for every system no interval says whether it ranks first" in text
    assert "TUAB bal. acc." in rows[0]
    assert "all-MiniLM-L6-v2" in text and "```yaml" in text
    assert "Corpus fingerprint: `abc123`" in text


def test_csv(results_dir):
    rows = list(csv.DictReader(io.StringIO(to_csv(collect_results(results_dir)))))
    assert len(rows) == 7
    first = rows[0]
    assert first["system"] == "oracle" and first["rank"] == "1" and float(first["clinical_accuracy"]) == 1.0
    assert first["leave_out"] == "" and rows[-1]["leave_out"] == "tuab"
    blind = next(r for r in rows if r["system"] == "blind-model")
    assert blind["clinical_accuracy"] == ""


def test_bar_chart_is_a_png(results_dir, tmp_path):
    path = write_bar_chart(collect_results(results_dir), tmp_path / "chart.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 5000


def test_chart_titles_wrap_to_the_figure(results_dir):
    from neuronarrator_eval.leaderboard import _board_title, _chart_title, leaderboards

    key = next(iter(leaderboards(collect_results(results_dir))))
    held_out = ",".join(["pylossless/s02", "alice/alice-01", "eegmmidb_s001/S001"] * 3)
    for board in (key, ("neurocorpus", "all", held_out, "validation")):
        title = _chart_title(board)
        assert "".join(title.split()) == "".join(_board_title(board).replace("`", "").split())  # only whitespace changed
        assert max(len(line) for line in title.split("\n")) <= 60


def test_model_index(results_dir):
    records = collect_results(results_dir)
    index = model_index(records)
    entry = index["model-index"][0]
    assert entry["name"] == "NeuroNarrator"
    assert len(entry["results"]) == 2
    standard, zero_shot = entry["results"]
    assert standard["dataset"] == {"type": "neurocorpus", "name": "neurocorpus", "split": "test"}
    values = {m["name"]: m["value"] for m in standard["metrics"]}
    assert values["Clinical accuracy (parsed findings)"] == 0.8 and values["CIDEr-D"] == 2.0
    assert any("all-MiniLM-L6-v2" in name for name in values)
    assert zero_shot["dataset"]["args"] == {"leave_out": "tuab"}
    parsed = yaml.safe_load(model_index_yaml(records))
    assert parsed == index
    with pytest.raises(ValueError, match="no results for system 'nope'"):
        model_index(records, system="nope")
    without_model = [r for r in records if r["system"]["kind"] != "model"]
    with pytest.raises(ValueError, match="no evaluated model systems"):
        model_index(without_model)


def test_leaderboard_cli(results_dir, tmp_path, capsys):
    import argparse

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    out = tmp_path / "board" / "leaderboard.md"
    assert run(parser.parse_args([str(results_dir), "-o", str(out)])) == 0
    for name in ("leaderboard.md", "leaderboard.csv", "leaderboard.png", "model-index.yaml"):
        assert (out.parent / name).is_file(), name
    assert yaml.safe_load((out.parent / "model-index.yaml").read_text())["model-index"][0]["name"] == "NeuroNarrator"
    assert "leaderboard of 7 results" in capsys.readouterr().out
    with pytest.raises(ValueError, match="give a .md path"):
        run(parser.parse_args([str(results_dir), "-o", str(tmp_path / "x.txt")]))


# --- intervals, ranks, roles, per source ------------------------------------------------------


def _per_row(correct: dict[str, list]) -> dict:
    n = len(next(iter(correct.values())))
    return {"ids": [f"s/r/{i:05d}" for i in range(n)], "correct": correct, "contradicted": [0] * n}


def test_paired_bootstrap_of_clinical_accuracy_hand_checked():
    # field a applies to 4 rows, field b to 2; model right on all, baseline right on half of a, none of b
    model = _record("m", kind="model", per_row=_per_row({"a": [1, 1, 1, 1], "b": [1, None, 1, None]}))
    base = _record("b", per_row=_per_row({"a": [1, 0, 1, 0], "b": [0, None, 0, None]}))
    test = paired_bootstrap(model, base)
    assert test["n"] == 4 and test["difference"] == pytest.approx(((1 + 1) - (0.5 + 0)) / 2)  # 0.75
    assert 0 < test["ci95"][0] <= 0.75 <= test["ci95"][1] <= 1.0
    same = paired_bootstrap(model, model)
    assert same["difference"] == 0.0 and same["ci95"] == [0.0, 0.0]
    other_rows = _record("o", per_row={**_per_row({"a": [1, 1, 1, 1], "b": [1, None, 1, None]}), "ids": ["x", "y", "z", "w"]})
    assert paired_bootstrap(model, other_rows) is None  # different rows: no paired comparison


def test_ranks_first_only_when_the_intervals_clear_zero(tmp_path):
    many = 200
    strong = _per_row({"a": [1] * many})
    weak = _per_row({"a": [1 if i % 2 else 0 for i in range(many)]})
    close = _per_row({"a": [1] * (many - 2) + [0, 0]})
    records = [
        _record("model", kind="model", clinical=1.0, per_row=strong, role="test"),
        _record("majority", clinical=0.5, per_row=weak, role="test"),
        _record("oracle", kind="oracle", clinical=1.0, per_row=strong, role="test"),
    ]
    text = to_markdown(records)
    assert "## SEALED TEST (fixed before training, never used to choose anything): neurocorpus, split `test`" in text
    assert "**model ranks first**" in text
    assert "| model | majority | +0.500 | [+0.43" in text and "| better |" in text
    records.append(_record("neighbour", clinical=0.99, per_row=close, role="test"))
    text = to_markdown(records)
    assert "**No system ranks first with confidence**: model has the highest clinical_accuracy, but its lead over neighbour is +0.010" in text
    assert "| model | neighbour | +0.010 |" in text and "| not separated |" in text
    validation = [_record("model", kind="model", per_row=strong, role="validation")]
    assert "## VALIDATION (the default's design choices were tuned on these rows)" in to_markdown(validation)


def test_per_source_table_and_metrics_not_computed(tmp_path):
    per_source = {
        "ssvepy": {"n_segments": 6, "metrics": {"clinical_accuracy": 0.25, "contradiction_rate": 0.5}},
        "eegbase_p300": {"n_segments": 4, "metrics": {"clinical_accuracy": 0.75, "contradiction_rate": 0.0}},
    }
    record = _record("model", kind="model", role="test", per_source=per_source)
    record["not_computed"] = {"meteor": {"reason": "WordNetSetupError: no WordNet", "fix": "apt-get install wordnet-base"}}
    text = to_markdown([record])
    assert "| System | eegbase_p300 (4) | ssvepy (6) |" in text
    assert "| model | 0.750 / 0.000 | 0.250 / 0.500 |" in text
    assert "METEOR not computed (WordNetSetupError: no WordNet); fix: apt-get install wordnet-base." in text


def test_label_field_table_per_source_marks_cells_below_the_findings_classifier():
    ids = ["eegmmidb_s001/S001R02/00000", "eegmmidb_s001/S001R02/00001", "pylossless/s02/00000", "pylossless/s02/00001"]
    # eyes applies to EEGMMIDB rows only, stimulus to pylossless rows only; "pdr" is a measured field, not a label
    model = {"ids": ids, "correct": {"eyes": [1, 0, None, None], "stimulus": [None, None, 1, 1], "pdr": [1, 1, 1, 1]}}
    classifier = {"ids": ids, "correct": {"eyes": [1, 1, None, None], "stimulus": [None, None, 0, 1], "pdr": [0, 0, 0, 0]}}
    records = [
        _record("model", kind="model", role="test", per_row=model),
        _record("findings-classifier", role="test", per_row=classifier),
    ]
    text = to_markdown(records)
    assert "| System | eyes · eegmmidb_s001 (2) | stimulus · pylossless (2) |" in text
    assert "| model | 0.500 * | 1.000 |" in text  # eyes below the classifier's 1.000, stimulus above its 0.500
    assert "| findings-classifier | 1.000 | 0.500 |" in text
    assert "pdr ·" not in text


def test_label_difference_with_its_interval_and_the_chance_corrected_table():
    """Each model minus the findings-classifier on a label, on that source's rows, with a paired
    bootstrap interval (hand-checked), and balanced accuracy / kappa from the clinical fields."""
    from neuronarrator_eval.leaderboard import label_difference

    many = 100
    ids = [f"pylossless/s02/{i:05d}" for i in range(many)] + ["eegmmidb_s001/S001R02/00000"]
    model = {"ids": ids, "correct": {"stimulus": [1] * many + [None], "eyes": [None] * many + [0]}}
    # the classifier right on half the stimulus rows: the model +0.5, clear of zero
    classifier = {"ids": ids, "correct": {"stimulus": [i % 2 for i in range(many)] + [None], "eyes": [None] * many + [1]}}
    records = [_record("model", kind="model", role="test", per_row=model), _record("findings-classifier", role="test", per_row=classifier)]
    records[0]["clinical"]["fields"] = {"stimulus": {"accuracy": 1.0, "balanced_accuracy": 1.0, "cohen_kappa": 1.0}}
    records[1]["clinical"]["fields"] = {"stimulus": {"accuracy": 0.5, "balanced_accuracy": 0.5, "cohen_kappa": 0.0}}
    test = label_difference(records[0], records[1], "stimulus", "pylossless")
    assert test["n"] == many and test["difference"] == 0.5 and 0.38 < test["ci95"][0] < 0.5 < test["ci95"][1] < 0.62
    assert label_difference(records[0], records[1], "stimulus", "eegmmidb_s001") is None  # no row of that source carries it
    assert label_difference(records[0], records[1], "eyes", "eegmmidb_s001")["difference"] == -1.0
    text = to_markdown(records)
    assert "| model | stimulus · pylossless (100) | +0.500 | [+0.4" in text and "| above |" in text
    assert "| model | eyes · eegmmidb_s001 (1) | -1.000 | [-1.000, -1.000] | below |" in text
    assert "| model | 1.000 / 1.000 |" in text and "| findings-classifier | 0.500 / 0.000 |" in text
