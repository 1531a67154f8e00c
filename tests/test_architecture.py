"""The package layout and the one-way dependency direction of DESIGN.md, checked on the source."""

from __future__ import annotations

import ast
import configparser
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODEL_DIR = ROOT / "modeling_neuronarrator"
# Faces beside the model files: they may use the builder and the evaluator; nothing imports them.
FACES = {"cli.py", "commands", "training", "report"}
HUB_ALLOWED = {"transformers", "torch", "numpy", "scipy", "mne"}


def _imports(path: Path) -> set[str]:
    """Top-level names of the absolute imports a file requires (relative imports excluded; imports
    inside a ``try`` block are optional, as transformers' remote-code import check treats them)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    optional = {id(inner) for node in ast.walk(tree) if isinstance(node, ast.Try) for stmt in node.body for inner in ast.walk(stmt)}
    names = set()
    for node in ast.walk(tree):
        if id(node) in optional:
            continue
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def _model_core_files() -> list[Path]:
    return [p for p in MODEL_DIR.glob("*.py") if p.name not in FACES]


def test_setup_cfg_lists_every_package():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    listed = set(cfg["options"]["packages"].split())
    found = set()
    for top, name in (("modeling_neuronarrator", "modeling_neuronarrator"), ("dataset_builder", "dataset_builder"), ("eval", "neuronarrator_eval")):
        for init in (ROOT / top).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / top)
            if "__pycache__" in rel.parts or "metrics" in rel.parts or "default_model" in rel.parts:
                continue
            found.add(".".join((name, *rel.parts)))
    assert found <= listed, f"packages missing from setup.cfg [options] packages: {sorted(found - listed)}"


def test_no_installed_module_shadows_eval():
    import neuronarrator_eval

    assert Path(neuronarrator_eval.__file__).parent == ROOT / "eval"
    assert "eval" not in sys.modules or not hasattr(sys.modules.get("eval"), "__file__")


@pytest.mark.parametrize("path", _model_core_files(), ids=lambda p: p.name)
def test_model_files_import_only_hub_safe_modules(path):
    """The files copied into a Hub repo import only each other and transformers/torch/numpy/scipy/mne."""
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    bad = {name for name in _imports(path) if name not in HUB_ALLOWED and name not in stdlib}
    assert not bad, f"{path.name} imports {sorted(bad)}; model files may import only {sorted(HUB_ALLOWED)} and the stdlib"
    # transformers' own check, which a trust_remote_code load runs on these files, agrees.
    from transformers.dynamic_module_utils import get_imports

    required = {name.split(".")[0] for name in get_imports(str(path))}
    assert required - stdlib <= HUB_ALLOWED, f"{path.name}: transformers would require {sorted(required - stdlib - HUB_ALLOWED)}"


@pytest.mark.parametrize(
    "package, forbidden",
    [
        ("dataset_builder", {"neuronarrator_eval", "space"}),
        ("eval", {"space"}),
    ],
)
def test_dependency_direction(package, forbidden):
    for path in (ROOT / package).rglob("*.py"):
        bad = _imports(path) & forbidden
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)} against the dependency direction"


def test_every_corpus_reader_goes_through_the_one_loader():
    """``datasets.load_dataset`` is called in ``dataset_builder/corpus.py`` only: the one place that
    renames the columns of a corpus built before a rename (``eeg`` -> ``eeg_values``)."""
    callers = []
    for top in ("modeling_neuronarrator", "dataset_builder", "eval", "space"):
        for path in (ROOT / top).rglob("*.py"):
            tree = ast.parse(path.read_text(), filename=str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.Call):
                    func = node.func
                    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
                    if name in ("load_dataset", "load_from_disk"):
                        callers.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert callers and all(c.startswith("dataset_builder/corpus.py:") for c in callers), (
        f"corpus loaded outside dataset_builder.corpus.load_corpus: {callers}"
    )


# File and folder names that keep the old word: trainings and corpus builds read and write them.
_GROUNDED_PATH_NAMES = re.compile(r"grounded_cpu|offline_grounded")


def test_grounded_is_used_only_in_path_names():
    """One word, one meaning (issue 18): "grounding" is the stage-1 InfoNCE alignment of the EEG and
    topomap encoders; a model that reads the measured findings in its prompt is "findings-conditioned".
    "grounded" (either meaning) appears in the project's Python source only inside path names."""
    found = []
    for top in ("modeling_neuronarrator", "dataset_builder", "eval", "space"):
        for path in sorted((ROOT / top).rglob("*.py")):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if "grounded" in _GROUNDED_PATH_NAMES.sub("", line).lower():
                    found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not found, "say 'findings-conditioned' (findings in the prompt) or 'grounding' (InfoNCE):\n" + "\n".join(found)


def test_model_core_never_imports_builder_or_evaluator():
    for path in _model_core_files():
        bad = _imports(path) & {"dataset_builder", "neuronarrator_eval", "space"}
        assert not bad, f"{path.name} imports {sorted(bad)}"


def test_ci_runs_the_readme_test_command():
    """.ci/run must run exactly the test command that the README gives (the two set-up commands
    are the first two bash blocks of the README)."""
    readme = (ROOT / "README.md").read_text()
    blocks = [block.split("```", 1)[0].strip() for block in readme.split("```bash")[1:]]
    assert len(blocks) >= 2, "README must start with the two set-up commands in ```bash blocks"
    main_job, test_command = blocks[0], blocks[1]
    assert "neuronarrator narrate" in main_job
    assert "pytest" in test_command
    assert test_command in (ROOT / ".ci" / "run").read_text()


def test_shipped_default_holds_no_code_copies_and_loads():
    """The shipped default holds weights, configs and card only: the package's registered classes
    load it, and `neuronarrator export model` writes the code files fresh (tests/test_export.py)."""
    from transformers import AutoModelForCausalLM, AutoProcessor

    import modeling_neuronarrator

    shipped = modeling_neuronarrator.DEFAULT_MODEL_PATH
    assert (shipped / "config.json").is_file() and (shipped / "model.safetensors").is_file()
    copies = sorted(p.name for p in shipped.glob("*.py"))
    assert not copies, f"{shipped} holds code copies {copies}; the package's own files are the only copy"
    # Nor an auto_map naming code files that are not beside it (export writes both for the Hub).
    naming = sorted(p.name for p in shipped.glob("*.json") if '"auto_map"' in p.read_text())
    assert not naming, f"{naming} carry auto_map entries for code files the folder does not hold"
    model = AutoModelForCausalLM.from_pretrained(shipped)
    processor = AutoProcessor.from_pretrained(shipped)
    assert type(model) is modeling_neuronarrator.NeuroNarratorForConditionalGeneration
    assert type(processor) is modeling_neuronarrator.NeuroNarratorProcessor
