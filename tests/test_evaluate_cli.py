"""``neuronarrator evaluate`` end to end on a tiny generated corpus: prediction files, baselines,
leave-one-source-out, --limit, the results JSON contents and the error messages."""

from __future__ import annotations

import json
import shutil

import pytest

from eval_fixtures import write_corpus
from modeling_neuronarrator.cli import main
from neuronarrator_eval.corpus import corpus_fingerprint, leave_one_source_out, load_split, read_predictions, up_to_scenario_copy

FAST_METRICS = "bleu,rouge_l,cider_d"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="module")
def test_rows(corpus):
    return load_split(corpus, "test")


def _write_predictions(path, rows, narrative=lambda row: row["description"], scores=None):
    with open(path, "w", encoding="utf-8") as handle:
        for row in rows:
            record = {"id": row["id"], "narrative": narrative(row)}
            if scores is not None:
                record["scores"] = scores(row)
            handle.write(json.dumps(record) + "\n")
    return path


def test_commands_are_registered():
    from modeling_neuronarrator.cli import COMMANDS

    assert COMMANDS["evaluate"][0] == "neuronarrator_eval.evaluate_cli"
    assert COMMANDS["leaderboard"][0] == "neuronarrator_eval.leaderboard_cli"


def test_predictions_file_scored_with_every_metric(corpus, test_rows, tmp_path):
    predictions = _write_predictions(
        tmp_path / "perfect.jsonl", test_rows, scores=lambda row: {"abnormal": 1.0 if row["labels"]["abnormal"] == "abnormal" else 0.0}
    )
    assert main(["evaluate", "--predictions", str(predictions), "--baselines", "none", "--corpus", str(corpus), "-o", str(tmp_path / "out")]) == 0
    path = tmp_path / "out" / "perfect__neurocorpus__test.json"
    results = json.loads(path.read_text())
    metrics = results["metrics"]
    assert metrics["clinical_accuracy"] == 1.0
    assert metrics["bleu_4"] == pytest.approx(1.0) and metrics["rouge_l"] == pytest.approx(1.0)
    assert metrics["meteor"] > 0.99 and metrics["bertscore_f1"] == pytest.approx(1.0, abs=1e-4)
    assert metrics["cider_d"] == pytest.approx(10.0)
    assert results["system"] == {"name": "perfect", "kind": "predictions", "path": str(predictions.resolve())}
    dataset = results["dataset"]
    assert dataset["split"] == "test" and dataset["n_segments"] == len(test_rows) == 16
    assert dataset["sources"] == {"sleep_edf": 8, "tuab": 8}
    assert len(dataset["fingerprint"]["sha256"]) == 64 and dataset["fingerprint"]["n_rows"] == 16
    assert set(results["per_source"]) == {"sleep_edf", "tuab"}
    assert results["per_source"]["tuab"]["metrics"]["clinical_accuracy"] == 1.0
    assert results["per_source"]["tuab"]["metrics"]["bleu_4"] == pytest.approx(1.0)
    assert results["clinical"]["tasks"]["tuab_abnormal"]["auroc"] == 1.0
    assert results["clinical"]["tasks"]["sleep_stage"]["balanced_accuracy"] == 1.0
    assert set(results["metric_implementations"]) == {"bleu", "rouge_l", "meteor", "cider_d", "bertscore"}
    assert results["bertscore_model"]["name"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert results["throughput"]["segments"] == 16 and results["throughput"]["scoring_segments_per_second"] > 0
    assert results["settings"]["split"] == "test"


def test_missing_ids_are_listed(corpus, test_rows, tmp_path, capsys):
    rows = list(test_rows)[7:]
    predictions = _write_predictions(tmp_path / "partial.jsonl", rows)
    code = main(["evaluate", "--predictions", str(predictions), "--baselines", "none", "--corpus", str(corpus), "-o", str(tmp_path / "o")])
    assert code == 2
    err = capsys.readouterr().err
    assert "partial.jsonl: no prediction for 7 of the 16 evaluated rows" in err
    assert repr(test_rows[0]["id"]) in err and "and 2 more" in err


def test_malformed_prediction_lines(test_rows, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "narrative": "x"}\nnot json\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:2: not valid JSON"):
        read_predictions(bad, ["a"])
    bad.write_text('{"id": "a", "text": "x"}\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:1: .*'id' and 'narrative'"):
        read_predictions(bad, ["a"])
    bad.write_text('{"id": "a", "narrative": "x"}\n{"id": "a", "narrative": "y"}\n')
    with pytest.raises(ValueError, match="duplicate id 'a'"):
        read_predictions(bad, ["a"])
    with pytest.raises(FileNotFoundError, match="predictions file not found"):
        read_predictions(tmp_path / "none.jsonl", ["a"])


def test_baselines_and_leave_one_source_out(corpus, tmp_path):
    out = tmp_path / "zs"
    code = main(["evaluate", "--no-model", "--baselines", "oracle,nearest-neighbour", "--leave-out", "tuab", "--metrics", FAST_METRICS,
                 "--corpus", str(corpus), "-o", str(out)])
    assert code == 0
    names = sorted(p.name for p in out.glob("*.json"))
    assert names == ["nearest-neighbour__neurocorpus__test__leave-out-tuab.json", "oracle__neurocorpus__test__leave-out-tuab.json"]
    results = json.loads((out / names[0]).read_text())
    assert results["dataset"]["leave_out"] == "tuab" and results["dataset"]["sources"] == {"tuab": 8}
    assert results["settings"]["leave_out"] == "tuab"
    assert results["system"]["kind"] == "baseline"
    assert results["throughput"]["segments_per_second"] > 0 and results["settings"]["fit_seconds"] >= 0
    oracle = json.loads((out / names[1]).read_text())
    assert oracle["metrics"]["clinical_accuracy"] == 1.0 and oracle["system"]["kind"] == "oracle"


def test_a_corpus_built_before_the_eeg_values_rename_evaluates_alike(corpus, tmp_path):
    """A corpus whose EEG column is still ``eeg`` (built before issue 18) loads with ``eeg_values``
    and scores exactly as the current corpus, EEG-reading baseline included."""
    from eval_fixtures import make_rows

    legacy = write_corpus(tmp_path / "legacy", make_rows(), eeg_column="eeg")
    assert "eeg_values" in load_split(legacy, "test").column_names and "eeg" not in load_split(legacy, "test").column_names
    scores = {}
    for name, folder in (("current", corpus), ("legacy", legacy)):
        args = ["evaluate", "--no-model", "--baselines", "nearest-neighbour", "--metrics", FAST_METRICS, "--corpus", str(folder), "-o", str(tmp_path / name)]
        assert main(args) == 0
        (path,) = (tmp_path / name).glob("*.json")
        scores[name] = json.loads(path.read_text())["metrics"]
    assert scores["legacy"] == scores["current"]


def test_max_scenario_copy_keeps_the_recorded_rows_and_the_first_copies(corpus, test_rows, tmp_path):
    recordings = sorted(set(test_rows["recording"]))
    # Name the test rows' recordings as a scenario-copy corpus does: rec, rec-scn1, rec-scn2, ...
    renamed = {name: (recordings[0] if i == 0 else f"{recordings[0]}-scn{i}") for i, name in enumerate(recordings)}
    rows = test_rows.map(lambda r: {"recording": renamed[r]}, input_columns=["recording"])
    for n in range(len(recordings)):
        kept = up_to_scenario_copy(rows, n)
        assert sorted(set(kept["recording"])) == sorted(renamed[name] for name in recordings[: n + 1])
    with pytest.raises(ValueError, match="--max-scenario-copy must be an int >= 0"):
        up_to_scenario_copy(rows, -1)
    out = tmp_path / "copies"
    assert main(["evaluate", "--no-model", "--baselines", "oracle", "--metrics", FAST_METRICS, "--max-scenario-copy", "0",
                 "--corpus", str(corpus), "-o", str(out)]) == 0  # fmt: skip
    results = json.loads(next(out.glob("*.json")).read_text())
    assert results["settings"]["max_scenario_copy"] == 0 and results["dataset"]["n_segments"] == len(test_rows)  # no copies here


def test_fit_cache_reuses_a_baseline_fitted_on_the_same_rows(corpus, tmp_path):
    cache = tmp_path / "fits"

    def run(out, *extra, corpus=corpus):
        assert main(["evaluate", "--no-model", "--baselines", "nearest-neighbour", "--metrics", FAST_METRICS, "--fit-cache", str(cache),
                     *extra, "--corpus", str(corpus), "-o", str(tmp_path / out)]) == 0  # fmt: skip
        return json.loads(next((tmp_path / out).glob("*.json")).read_text())

    first, second = run("a"), run("b")
    assert len(list(cache.glob("nearest-neighbour-*.pkl"))) == 1
    assert first["settings"]["fit_from_cache"] is False and second["settings"]["fit_from_cache"] is True
    assert second["metrics"]["clinical_accuracy"] == first["metrics"]["clinical_accuracy"]
    assert second["per_row"]["correct"] == first["per_row"]["correct"]
    # Other training rows: another fit, another file.
    other = run("c", "--train-exclude", "tuab")
    assert other["settings"]["fit_from_cache"] is False and len(list(cache.glob("nearest-neighbour-*.pkl"))) == 2
    # The same row ids rebuilt under other rules (another narrative): another fit, another file.
    import datasets

    rebuilt = tmp_path / "rebuilt"
    shutil.copytree(corpus, rebuilt)
    for shard in sorted(rebuilt.rglob("*.parquet")):
        table = datasets.Dataset.from_parquet(str(shard), cache_dir=str(tmp_path / "hf"))
        table.map(lambda row: {"description": row["description"] + " Rebuilt."}).to_parquet(str(shard))
    again = run("rebuilt-out", corpus=rebuilt)
    assert again["settings"]["fit_from_cache"] is False and len(list(cache.glob("nearest-neighbour-*.pkl"))) == 3


def test_leave_one_source_out_split(corpus, test_rows):
    train, held_out = leave_one_source_out(load_split(corpus, "train"), test_rows, "sleep_edf")
    assert set(train["source"]) == {"tuab"} and set(held_out["source"]) == {"sleep_edf"}
    with pytest.raises(ValueError, match=r"--leave-out 'chbmit': no rows of that source; the corpus has sources \['sleep_edf', 'tuab'\]"):
        leave_one_source_out(load_split(corpus, "train"), test_rows, "chbmit")


def test_leave_one_subject_out_split(corpus):
    everything = load_split(corpus, "all")
    subject = f"{everything[0]['source']}/{everything[0]['subject']}"
    train, held_out = leave_one_source_out(everything, everything, subject)
    keys = lambda rows: {f"{s}/{u}" for s, u in zip(rows["source"], rows["subject"])}  # noqa: E731
    assert keys(held_out) == {subject} and subject not in keys(train)
    assert len(train) + len(held_out) == len(everything)
    with pytest.raises(ValueError, match=r"--leave-out 'tuab/nobody': no rows of that subject; the corpus has subjects \["):
        leave_one_source_out(everything, everything, "tuab/nobody")
    # Several at once: a subject and a whole source.
    other = next(s for s in set(everything["source"]) if s != everything[0]["source"])
    train, held_out = leave_one_source_out(everything, everything, f"{subject}, {other}")
    assert keys(held_out) == {subject} | {k for k in keys(everything) if k.startswith(other + "/")}
    assert not set(train["source"]) & {other} and subject not in keys(train)


def test_limit_draws_a_seeded_sample(corpus, tmp_path):
    for run in ("a", "b"):
        assert main(["evaluate", "--no-model", "--baselines", "oracle", "--limit", "5", "--metrics", "bleu", "--corpus", str(corpus), "-o", str(tmp_path / run)]) == 0
    a = json.loads((tmp_path / "a" / "oracle__neurocorpus__test.json").read_text())
    b = json.loads((tmp_path / "b" / "oracle__neurocorpus__test.json").read_text())
    assert a["dataset"]["n_segments"] == 5 and a["settings"]["limit"] == 5
    assert a["dataset"]["fingerprint"]["ids_sha256"] == b["dataset"]["fingerprint"]["ids_sha256"]


def test_user_errors_exit_2_with_one_line(corpus, tmp_path, capsys, monkeypatch):
    import modeling_neuronarrator

    cases = [
        (["--no-model", "--baselines", "magic"], "unknown baseline(s) ['magic']"),
        (["--no-model", "--baselines", "oracle", "--split", "nosuch"], "no rows in split 'nosuch'; available splits are ['test', 'train']"),
        (["--no-model", "--baselines", "none"], "nothing to evaluate"),
        (["--no-model", "--baselines", "blind-model"], "--baselines blind-model needs --blind-model CHECKPOINT"),
        (["--no-model", "--baselines", "oracle,majority", "--split", "all", "--train-split", "all"], "overlap the evaluated rows"),
        (["--no-model", "--baselines", "oracle", "--metrics", "bleu,wer"], "unknown metric(s) ['wer']"),
    ]
    monkeypatch.setattr(modeling_neuronarrator, "DEFAULT_MODEL_PATH", tmp_path / "no_model", raising=False)
    cases.append(([], "no embedded default model"))
    for extra, message in cases:
        code = main(["evaluate", *extra, "--corpus", str(corpus), "-o", str(tmp_path / "err")])
        err = capsys.readouterr().err
        assert code == 2, extra
        assert message in err, (extra, err)
    assert main(["evaluate", "--no-model", "--corpus", str(tmp_path / "nowhere"), "-o", str(tmp_path / "err")]) == 2
    assert "corpus folder not found" in capsys.readouterr().err


def test_fingerprint_tracks_ids_and_file_contents(corpus, tmp_path):
    ids = ["a", "b"]
    first = corpus_fingerprint(corpus, ids)
    assert corpus_fingerprint(corpus, ids) == first
    assert corpus_fingerprint(corpus, ["b", "a"])["sha256"] != first["sha256"]
    copy = shutil.copytree(corpus, tmp_path / "copy")
    shard = next((copy / "data").glob("test-*.parquet"))
    shard.write_bytes(shard.read_bytes() + b"\0")
    changed = corpus_fingerprint(copy, ids)
    assert changed["ids_sha256"] == first["ids_sha256"] and changed["sha256"] != first["sha256"]
    assert set(first["files"]) == {"data/test-00000-of-00001.parquet", "data/train-00000-of-00001.parquet"}


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory):
    import model_fixtures

    config = model_fixtures.tiny_config()
    model_dir = tmp_path_factory.mktemp("models") / "tiny-model"
    model_fixtures.tiny_model(config).save_pretrained(model_dir)
    model_fixtures.tiny_processor(config).save_pretrained(model_dir)
    return model_dir


@pytest.mark.slow
def test_model_checkpoint_with_retrieval_and_blind_baseline(corpus, tiny_model_dir, tmp_path):
    """A tiny random NeuroNarrator saved with save_pretrained: narratives with history, retrieval
    recall from its pooled embeddings, and the blind-model baseline (a checkpoint run blind)."""
    out = tmp_path / "out"
    code = main(["evaluate", "--model", str(tiny_model_dir), "--blind-model", str(tiny_model_dir), "--baselines", "blind-model",
                 "--limit", "4", "--metrics", "bleu", "--max-new-tokens", "8", "--role", "validation", "--corpus", str(corpus), "-o", str(out)])
    assert code == 0
    results = json.loads((out / "neuronarrator-tiny-model__neurocorpus__test.json").read_text())
    assert results["system"]["kind"] == "model" and results["dataset"]["role"] == "validation"
    retrieval = results["retrieval"]
    assert retrieval["n_segments"] == 4 and 0.0 <= retrieval["mean_recall@1"] <= 1.0
    assert retrieval["eeg_to_topomap_recall@5"] == 1.0  # 4 candidates: every partner is in the top 5
    import model_fixtures

    assert results["settings"]["history_segments"] == model_fixtures.tiny_config().history_length and results["settings"]["blind"] is False
    assert results["throughput"]["segments_per_second"] > 0
    blind = json.loads((out / "blind-model__neurocorpus__test.json").read_text())
    assert blind["system"]["kind"] == "baseline" and blind["settings"]["baseline"]["blind"] is True
    assert blind["retrieval"] is None and blind["per_row"]["ids"] == results["per_row"]["ids"]


def test_blind_model_input_is_the_same_for_every_row_and_matches_the_training_collator(corpus, tiny_model_dir):
    """The blind baseline sees nothing of the row: two different rows (one with a history, one
    without) get identical processor inputs, and they equal what --blind training fed it."""
    import numpy as np
    import torch

    from dataset_builder.history import HistoryIndex
    from modeling_neuronarrator.training.data import SegmentCollator, SegmentDataset, TopomapComputer
    from neuronarrator_eval.model_system import ModelSystem

    blind = ModelSystem(tiny_model_dir, blind=True)
    k = blind.history_segments
    rows = load_split(corpus, "train")
    table = HistoryIndex(rows, k=k).table()
    first, later = int(np.flatnonzero((table < 0).all(axis=1))[0]), int(np.flatnonzero((table >= 0).any(axis=1))[0])
    assert not np.array_equal(np.asarray(rows[first]["eeg_values"]), np.asarray(rows[later]["eeg_values"]))
    inputs = blind.processor(**blind._inputs(rows, [first, later], table), return_tensors="pt")
    for key, value in inputs.items():
        if isinstance(value, torch.Tensor):
            assert torch.equal(value[0], value[1]), key
    assert not inputs["history_mask"].any() and not inputs["eeg_values"].any() and inputs["channel_mask"].all()
    # the training collator's blind batch of the same two rows: the same arrays
    dataset = SegmentDataset(rows, k, topomaps=None)
    collated = SegmentCollator(TopomapComputer(blind.processor.feature_extractor), blind=True).arrays([dataset[first], dataset[later]])
    ours = blind._inputs(rows, [first, later], table)
    for key, value in collated.items():
        np.testing.assert_array_equal(np.asarray(ours[key]), np.asarray(value), err_msg=key)
    # and the model without blind sees the rows apart
    seeing = ModelSystem(tiny_model_dir)._inputs(rows, [first, later], table)
    assert not np.array_equal(seeing["eeg_values"][0], seeing["eeg_values"][1])


def test_findings_conditioned_blind_model_reads_each_rows_findings(corpus, tmp_path):
    """A findings-conditioned blind model (findings in the prompt, EEG zeroed: the recipe's blind ablation)
    narrates every row from that row's measured findings: its prompts differ, so the evaluator
    must not generate once and repeat (it used to, and stopped with 'not constant')."""
    import model_fixtures
    import numpy as np

    from dataset_builder.agreement import read_findings
    from neuronarrator_eval.model_system import ModelSystem

    config = model_fixtures.tiny_config()
    config.findings_in_prompt = True
    model_dir = tmp_path / "conditioned-blind"
    model_fixtures.tiny_model(config).save_pretrained(model_dir)
    processor = model_fixtures.tiny_processor(config)
    processor.findings_in_prompt = True
    processor.save_pretrained(model_dir)
    blind = ModelSystem(model_dir, blind=True, max_new_tokens=4)
    rows = load_split(corpus, "train")
    prompts = {}
    original = blind.processor.prompt_inputs
    blind.processor.prompt_inputs = lambda n, **kw: prompts.setdefault(len(prompts), kw["findings"]) is not None and original(n, **kw)
    texts = blind.predict(rows, [0, len(rows) - 1])
    assert len(texts) == 2
    seen = [f for batch in prompts.values() for f in batch]
    expected = [read_findings(rows[i]["findings"]).to_json() for i in (0, len(rows) - 1)]
    assert expected[0] != expected[1] and [f.to_json() for f in seen] == expected
    assert not np.asarray(blind._inputs(rows, [0], None)["eeg_values"]).any()  # the EEG stays zeroed


def test_baselines_are_never_fit_on_the_left_out_subject(corpus, tmp_path, monkeypatch):
    """Fails if the baselines are fit on unfiltered rows: the captured fitting rows must hold no
    id and no subject of the evaluated (left-out) rows."""
    from neuronarrator_eval.baselines import MajorityTemplate, NearestNeighbourRetrieval

    everything = load_split(corpus, "all")
    subject = f"{everything[0]['source']}/{everything[0]['subject']}"
    fitted = {}
    for cls in (NearestNeighbourRetrieval, MajorityTemplate):
        original = cls.fit
        monkeypatch.setattr(cls, "fit", lambda self, rows, _o=original, _n=cls.name: fitted.setdefault(_n, rows) is not None and _o(self, rows))
    out = tmp_path / "loso"
    code = main(["evaluate", "--no-model", "--baselines", "nearest-neighbour,majority", "--split", "all", "--train-split", "all",
                 "--leave-out", subject, "--metrics", "bleu", "--corpus", str(corpus), "-o", str(out)])
    assert code == 0
    evaluated = json.loads(next(out.glob("nearest-neighbour__*.json")).read_text())
    held_ids = set(evaluated["per_row"]["ids"])
    assert held_ids and {i.rsplit("/", 2)[0] for i in held_ids} == {everything[0]["source"]}
    for name, rows in fitted.items():
        assert not held_ids & set(rows["id"]), name
        assert subject not in {f"{s}/{u}" for s, u in zip(rows["source"], rows["subject"])}, name
        assert len(rows) == len(everything) - len(held_ids), name
    assert subject not in evaluated["settings"]["fit_rows"]["subjects"]


def test_train_corpus_and_train_exclude(corpus, tmp_path):
    train = load_split(corpus, "train")
    subject = f"{train[0]['source']}/{train[0]['subject']}"
    n_subject = sum(f"{s}/{u}" == subject for s, u in zip(train["source"], train["subject"]))
    out = tmp_path / "sealed"
    code = main(["evaluate", "--no-model", "--baselines", "majority", "--split", "test", "--role", "test", "--train-corpus", str(corpus),
                 "--train-split", "train", "--train-exclude", subject, "--metrics", "bleu", "--corpus", str(corpus), "-o", str(out)])
    assert code == 0
    record = json.loads((out / "majority__neurocorpus__test.json").read_text())
    assert record["dataset"]["role"] == "test" and record["settings"]["train_exclude"] == subject
    assert subject not in record["settings"]["fit_rows"]["subjects"]
    assert record["settings"]["fit_rows"]["rows"] == len(train) - n_subject > 0


def test_meteor_without_wordnet_scores_everything_else(corpus, test_rows, tmp_path, monkeypatch):
    from neuronarrator_eval import language
    from neuronarrator_eval.wordnet import WordNetSetupError

    original = language.load_metric

    def no_wordnet(name):
        if name == "meteor":
            raise WordNetSetupError("/usr/share/wordnet: WordNet database (data.noun, index.sense) not found")
        return original(name)

    monkeypatch.setattr(language, "load_metric", no_wordnet)
    predictions = _write_predictions(tmp_path / "p.jsonl", test_rows)
    out = tmp_path / "nown"
    assert main(["evaluate", "--predictions", str(predictions), "--baselines", "none", "--metrics", "bleu,meteor,rouge_l",
                 "--corpus", str(corpus), "-o", str(out)]) == 0
    record = json.loads((out / "p__neurocorpus__test.json").read_text())
    assert "meteor" not in record["metrics"] and record["metrics"]["bleu_4"] == pytest.approx(1.0)
    assert record["metrics"]["clinical_accuracy"] is not None and record["metrics"]["contradiction_rate"] is not None
    assert "WordNet database" in record["not_computed"]["meteor"]["reason"]
    assert "apt-get install wordnet-base wordnet-sense-index" in record["not_computed"]["meteor"]["fix"]
    assert "meteor" not in record["metric_implementations"]


def test_predictions_of_a_model_are_a_model_row(corpus, test_rows, tmp_path):
    predictions = _write_predictions(tmp_path / "default.jsonl", test_rows)
    out = tmp_path / "kind"
    assert main(["evaluate", "--predictions", str(predictions), "--system-kind", "model", "--system-name", "neuronarrator-default",
                 "--baselines", "none", "--metrics", "bleu", "--role", "test", "--corpus", str(corpus), "-o", str(out)]) == 0
    record = json.loads((out / "neuronarrator-default__neurocorpus__test.json").read_text())
    assert record["system"]["kind"] == "model" and record["dataset"]["role"] == "test"
    assert record["per_row"]["ids"] == list(test_rows["id"]) and set(record["per_row"]["correct"]) >= {"dominant_band", "abnormal"}


def test_model_system_sample_and_check_narrates_again_only_what_contradicts(corpus, test_rows, tmp_path, monkeypatch):
    """``evaluate --sample-and-check N``: greedy narratives that contradict their row's measured
    findings are narrated again (N sampled candidates each, from the rows' own inputs) and the best
    replaces them when it contradicts less; the system is named and described as such."""
    import dataclasses

    import model_fixtures

    from dataset_builder import describe
    from dataset_builder.agreement import read_findings
    from modeling_neuronarrator.training import trainer
    from neuronarrator_eval.model_system import ModelSystem

    config = model_fixtures.tiny_config(findings_in_prompt=True)
    folder = tmp_path / "grounded"
    model_fixtures.tiny_model(config).save_pretrained(folder)
    model_fixtures.tiny_processor(config).save_pretrained(folder)
    with pytest.raises(ValueError, match="needs a findings-conditioned model"):
        ModelSystem(tiny_model_dir_of(tmp_path), sample_and_check=2)
    system = ModelSystem(folder, batch_size=4, max_new_tokens=8, sample_and_check=2)
    assert system.name == "neuronarrator-grounded-sample-and-check2"
    assert system.settings()["decoding"] == "greedy + sample-and-check (2 samples at 0.7)"

    def wrong(findings):
        return describe(dataclasses.replace(findings, dominant_band="beta", dominant_frequency_hz=25.0, posterior_dominant_rhythm_hz=None), seed=1)

    calls = []

    def narrate(model, processor, arrays, max_new_tokens, findings=None, **kwargs):
        calls.append((len(findings), kwargs.get("do_sample", False)))
        if not kwargs.get("do_sample"):
            return [describe(f, seed=0) if i % 2 == 0 else wrong(f) for i, f in enumerate(findings)]
        return [wrong(f) if j % 2 == 0 else describe(f, seed=2) for j, f in enumerate(findings)]  # the second sample is right

    monkeypatch.setattr(trainer, "generate_narratives", narrate)
    indices = list(range(4))
    texts = system.predict(test_rows, indices)
    findings = [read_findings(f) for f in test_rows.select(indices)["findings"]]
    assert texts == [describe(findings[0], seed=0), describe(findings[1], seed=2), describe(findings[2], seed=0), describe(findings[3], seed=2)]
    assert calls == [(4, False), (4, True)]  # rows 1 and 3 narrated again, 2 samples each


def tiny_model_dir_of(tmp_path):
    """A saved tiny model that is not findings-conditioned."""
    import model_fixtures

    folder = tmp_path / "plain"
    model_fixtures.tiny_model().save_pretrained(folder)
    model_fixtures.tiny_processor().save_pretrained(folder)
    return folder


def test_a_corpus_given_by_a_relative_path_loads(corpus, test_rows, monkeypatch):
    """`--corpus corpus/x` as the README writes it: datasets resolves relative data files against the
    dataset folder, so the shards are passed absolute (they were joined twice: corpus/x/corpus/x/data)."""
    import os

    monkeypatch.chdir(corpus.parent.parent)
    relative = os.path.relpath(corpus)
    assert not os.path.isabs(relative) and os.sep in relative
    rows = load_split(relative, "test")
    assert rows["id"] == test_rows["id"]


def test_model_system_under_the_measured_grammar_is_named_and_never_contradicts_the_rows(test_rows, tmp_path):
    """``evaluate --measured-grammar``: the shipped default decoded as the report decodes it; its
    narratives state no measured field against the row's findings."""
    from dataset_builder.agreement import read_findings
    from modeling_neuronarrator.report.consistency import check_consistency
    from neuronarrator_eval.model_system import ModelSystem, default_model_path

    with pytest.raises(ValueError, match="needs a findings-conditioned model"):
        ModelSystem(tiny_model_dir_of(tmp_path), measured_grammar=True)
    system = ModelSystem(default_model_path(), batch_size=4, measured_grammar=True)
    assert system.name == "neuronarrator-default_model-measured-grammar"
    assert system.settings()["decoding"] == "greedy under the measured grammar"
    indices = list(range(min(6, len(test_rows))))
    texts = system.predict(test_rows, indices)
    findings = [read_findings(f) for f in test_rows.select(indices)["findings"]]
    contradicted = [issue for text, f in zip(texts, findings) for issue in check_consistency(text, f)
                    if issue.kind == "contradicted" and not issue.field.startswith(("eyes", "stimulus", "recording_quality", "motor"))]  # fmt: skip
    assert contradicted == [] and all(texts)
