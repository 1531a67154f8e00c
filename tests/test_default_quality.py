"""The embedded default's published figures (default_model/quality.json and its card) are re-scored
in CI on the small fixed sample they carry: if the scoring (parser, field rules, tolerances) or the
figures change without the evaluation being rerun, these tests fail."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import modeling_neuronarrator

DEFAULT = Path(modeling_neuronarrator.__file__).resolve().parent / "default_model"


@pytest.fixture(scope="module")
def quality():
    return json.loads((DEFAULT / "quality.json").read_text())


def test_splits_say_what_was_used_for_what(quality):
    from dataset_builder.readers.offline import SEALED_TEST_SOURCES

    splits = quality["splits"]
    assert set(splits) >= {"train", "validation", "test"}
    assert splits["validation"]["subjects"] == quality["heldout"]["subjects"] and quality["heldout"]["role"] == "validation"
    assert "choosing the design" in splits["validation"]["used_for"]
    assert splits["test"]["sources"] == list(SEALED_TEST_SOURCES) and quality["sealed_test"]["description"]["role"] == "test"
    # no subject or source of the test in the training rows
    train_sources = {s.split("/")[0] for s in splits["train"]["subjects"]}
    assert not train_sources & set(SEALED_TEST_SOURCES)
    assert not set(splits["train"]["subjects"]) & set(splits["validation"]["subjects"])


@pytest.mark.parametrize("role", ["validation", "test"])
def test_fixed_sample_rescores_to_the_recorded_figures(quality, role):
    from modeling_neuronarrator.training.quality import score_fields

    sample = quality["ci_sample"][role]
    assert len(sample["ids"]) == len(sample["rows"]) >= 20
    for name, system in sample["systems"].items():
        assert len(system["narratives"]) == len(sample["ids"]), name
        rescored = score_fields(system["narratives"], sample["rows"])
        # Every published field must re-score to its figure (a field the scorer added since is not
        # a published figure yet); a changed parser, field rule or tolerance fails here.
        for field, figure in system["fields"].items():
            assert rescored.get(field) == figure, f"{role}/{name}/{field}: stale figure {figure}, now {rescored.get(field)}; rerun the evaluate step"


def test_card_shows_the_figures_of_quality_json(quality):
    """The card's tables are written from quality.json: each sealed-test row there must carry the
    recorded accuracy of the model and of the blind model."""
    card = (DEFAULT / "README.md").read_text()
    assert "## Sealed test" in card and "(VALIDATION)" in card
    sealed = quality["sealed_test"]
    section = card[card.index("## Sealed test") :]
    for field in ("dominant_band", "pdr", "artifacts"):
        model = sealed["model"]["subsets"]["all"][field]
        blind = sealed["blind_trained"]["subsets"]["all"][field]
        row = re.search(rf"^\| {field} \| {model['n']} \| ([0-9.]+) \| ([0-9.]+) \|", section, flags=re.MULTILINE)
        assert row is not None, field
        assert (float(row.group(1)), float(row.group(2))) == (round(model["accuracy"], 3), round(blind["accuracy"], 3)), field
