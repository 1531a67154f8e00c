"""Cold start: the light entry points import no model code, and the Auto classes still resolve.

Each check runs in a fresh interpreter, since this test process has imported everything already.
What is bounded is *what* gets imported (transformers' modelling stack, torch), not a time.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("torch", "transformers.modeling_utils", "modeling_neuronarrator.modeling_neuronarrator")


def _loaded_after(code: str) -> dict:
    """Run ``code`` in a fresh interpreter; return which HEAVY modules it left in sys.modules."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps({{m: m in sys.modules for m in {HEAVY!r}}}))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "code",
    [
        "import dataset_builder",
        "import modeling_neuronarrator",
        "from modeling_neuronarrator import Findings, STANDARD_CHANNELS",
        "from dataset_builder import describe, parse",
        "from modeling_neuronarrator.cli import _build_parser; _build_parser()",
    ],
)
def test_light_entry_points_import_no_model_code(code):
    loaded = _loaded_after(code)
    assert not any(loaded.values()), f"{code!r} imported {[m for m, hit in loaded.items() if hit]}"


def test_the_cli_help_imports_no_model_code():
    probe = (
        "import contextlib, io, sys\n"
        "from modeling_neuronarrator.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        "    try:\n        main(['--help'])\n    except SystemExit:\n        pass\n"
        "assert 'narrate' in out.getvalue()\n"
    )
    loaded = _loaded_after(probe)
    assert not any(loaded.values()), loaded


@pytest.mark.parametrize("transformers_first", [True, False], ids=["transformers-first", "package-first"])
def test_auto_classes_resolve_the_model_type_in_either_import_order(transformers_first):
    imports = ["from transformers import AutoConfig, AutoFeatureExtractor, AutoModel, AutoModelForCausalLM, AutoProcessor"]
    imports.insert(0 if transformers_first else 1, "import modeling_neuronarrator as package")
    code = "\n".join(
        imports
        + [
            "config = AutoConfig.for_model('neuronarrator')",
            "assert type(config).__name__ == 'NeuroNarratorConfig', type(config)",
            "assert type(config).__module__ == 'modeling_neuronarrator.configuration_neuronarrator'",
            "assert AutoModel._model_mapping[type(config)] is package.NeuroNarratorModel",
            "assert AutoModelForCausalLM._model_mapping[type(config)] is package.NeuroNarratorForConditionalGeneration",
            "extractor = AutoFeatureExtractor.from_pretrained(package.DEFAULT_MODEL_PATH)",
            "assert type(extractor) is package.NeuroNarratorFeatureExtractor",
            "processor = AutoProcessor.from_pretrained(package.DEFAULT_MODEL_PATH)",
            "assert type(processor) is package.NeuroNarratorProcessor",
        ]
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr


def test_unknown_attribute_is_an_attribute_error():
    import modeling_neuronarrator

    with pytest.raises(AttributeError, match="no attribute 'NotAThing'"):
        modeling_neuronarrator.NotAThing  # noqa: B018
    assert "Findings" in dir(modeling_neuronarrator)


def test_argument_checks_name_the_parameter_the_allowed_values_and_the_input():
    from modeling_neuronarrator.validation_neuronarrator import check_option, validate_type

    assert check_option("kind", "a", ("a", "b")) == "a"
    with pytest.raises(ValueError, match=r"^cfg.yaml: Invalid value for the 'kind' parameter. Allowed values are 'a', 'b', but got 'c' instead.$"):
        check_option("kind", "c", ("a", "b"), where="cfg.yaml")
    assert validate_type(3, (int, float), "n") == 3
    with pytest.raises(TypeError, match=r"^n must be an instance of int or float, got str instead.$"):
        validate_type("3", (int, float), "n")
