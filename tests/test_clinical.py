"""Clinical correctness (findings parsed back out of narratives) and EEG<->topomap retrieval."""

from __future__ import annotations

import numpy as np
import pytest

from dataset_builder.description import describe
from modeling_neuronarrator import Findings
from modeling_neuronarrator.findings_neuronarrator import Asymmetry, Slowing
from neuronarrator_eval.clinical import (
    MISSING,
    categorical_scores,
    clinical_scores,
    flatten_fields,
    numeric_tolerance,
    parse_narratives,
    true_fields,
)
from neuronarrator_eval.retrieval import retrieval_recall


def _findings(freq=9.5, amplitude=40.0, pdr=9.8, artifacts=("eye_blink",), slowing=None) -> Findings:
    return Findings(
        dominant_frequency_hz=freq,
        dominant_band="alpha" if 8 <= freq < 13 else ("theta" if 4 <= freq < 8 else "delta"),
        posterior_dominant_rhythm_hz=pdr,
        band_power_by_region={},
        band_power_by_hemisphere={},
        predominant_region="occipital",
        asymmetry=Asymmetry(),
        slowing=slowing or Slowing(),
        artifacts=list(artifacts),
        amplitude_uv=amplitude,
        change_from_previous=None,
    )


def test_categorical_scores_hand_computed():
    out = categorical_scores(["a", "a", "b", "b"], ["a", "b", "b", MISSING])
    assert out["accuracy"] == 0.5
    assert out["balanced_accuracy"] == pytest.approx(0.5)  # recall a = 1/2, recall b = 1/2
    # po = 0.5; pe = P(a)P'(a) + P(b)P'(b) = 0.5 * 0.25 + 0.5 * 0.5 = 0.375 -> (0.5 - 0.375) / 0.625
    assert out["cohen_kappa"] == pytest.approx(0.2)
    assert out["macro_f1"] == pytest.approx((2 / 3 + 1 / 2) / 2)  # F1(a) = 2/3, F1(b) = 1/2
    assert out["n_missing"] == 1


def test_kappa_undefined_is_none_not_nan():
    out = categorical_scores(["a", "a"], ["a", "a"])
    assert out["accuracy"] == 1.0 and out["cohen_kappa"] is None


def test_flatten_fields():
    flat = flatten_fields({"a": {"b": 1, "c": {"d": "x"}}, "artifacts": ("muscle", "eye_blink"), "change": (), "n": None})
    assert flat == {"a.b": 1, "a.c.d": "x", "artifacts": "eye_blink+muscle", "change": "none", "n": None}


def test_round_trip_is_perfect_and_missing_sentence_is_wrong():
    findings = _findings()
    labels = {"abnormal": "normal"}
    text = describe(findings, labels, seed=3)
    truth = true_fields(findings.to_json(), labels)
    full = clinical_scores(parse_narratives([text]), [truth])
    assert full["clinical_accuracy"] == 1.0
    assert all(field["accuracy"] == 1.0 for field in full["fields"].values())
    # Drop the amplitude sentence: the amplitude fields become missing, hence wrong, not skipped.
    sentences = [s for s in text.split(". ") if "µV" not in s]
    assert len(sentences) == len(text.split(". ")) - 1
    partial = clinical_scores(parse_narratives([". ".join(sentences)]), [truth])
    for name in ("amplitude_uv", "amplitude_category"):
        assert partial["fields"][name]["accuracy"] == 0.0 and partial["fields"][name]["n_missing"] == 1
    assert partial["fields"]["dominant_band"]["accuracy"] == 1.0
    n_fields = len(full["fields"])
    assert partial["clinical_accuracy"] == pytest.approx((n_fields - 2) / n_fields)


def test_unparseable_text_counts_every_field_wrong():
    truth = true_fields(_findings(), {"abnormal": "abnormal"})
    out = clinical_scores(parse_narratives(["lorem ipsum"]), [truth])
    assert out["clinical_accuracy"] == 0.0
    assert out["tasks"]["tuab_abnormal"]["balanced_accuracy"] == 0.0


def test_numeric_tolerances_come_from_the_field_specs():
    assert numeric_tolerance("dominant_frequency_hz") == ("abs", 1.0)
    assert numeric_tolerance("pdr_hz") == ("abs", 1.0)
    assert numeric_tolerance("amplitude_uv") == ("rel", 0.25)


@pytest.mark.parametrize("said, correct", [("10.4", True), ("8.6", True), ("10.6", False), ("8.4", False)])
def test_dominant_frequency_within_one_hz(said, correct):
    findings = _findings(freq=9.5)
    text = describe(findings, seed=0).replace("9.5", said)
    out = clinical_scores(parse_narratives([text]), [true_fields(findings)])
    field = out["fields"]["dominant_frequency_hz"]
    assert field["accuracy"] == (1.0 if correct else 0.0)
    assert field["mean_absolute_error"] == pytest.approx(abs(float(said) - 9.5))


@pytest.mark.parametrize("said, correct", [(49, True), (31, True), (51, False), (29, False)])
def test_amplitude_within_25_percent(said, correct):
    findings = _findings(amplitude=40.0)
    text = describe(findings, seed=0).replace("40 µV", f"{said} µV")
    out = clinical_scores(parse_narratives([text]), [true_fields(findings)])
    assert out["fields"]["amplitude_uv"]["accuracy"] == (1.0 if correct else 0.0)


def test_fields_scored_only_where_true_value_exists():
    with_pdr, without_pdr = _findings(pdr=9.8), _findings(pdr=None)
    truth = [true_fields(with_pdr, {"sleep_stage": "W"}), true_fields(without_pdr, {"abnormal": "normal"})]
    texts = [describe(with_pdr, {"sleep_stage": "W"}, seed=1), describe(without_pdr, {"abnormal": "normal"}, seed=2)]
    out = clinical_scores(parse_narratives(texts), truth)
    assert out["fields"]["pdr_hz"]["n"] == 1  # no PDR frequency where none is present
    assert out["fields"]["pdr"]["n"] == 2  # presence is scored everywhere
    assert out["fields"]["sleep_stage"]["n"] == 1 and out["fields"]["abnormal"]["n"] == 1
    assert "event" not in out["fields"]
    assert set(out["tasks"]) == {"tuab_abnormal", "sleep_stage"}


def test_set_field_item_f1():
    findings = _findings(artifacts=("eye_blink", "muscle"))
    text = describe(findings, seed=0)
    said_one = text.replace("eye blink and muscle", "muscle")
    assert said_one != text
    out = clinical_scores(parse_narratives([said_one]), [true_fields(findings)])
    field = out["fields"]["artifacts"]
    assert field["kind"] == "set" and field["accuracy"] == 0.0
    assert field["item_micro_f1"] == pytest.approx(2 * 1 / (2 * 1 + 0 + 1))  # tp 1, fn 1


def test_task_metrics_auroc_from_scores():
    truth = [true_fields(_findings(), {"abnormal": v}) for v in ("abnormal", "normal", "abnormal", "normal")]
    said = ["abnormal", "normal", "normal", "normal"]
    texts = [describe(_findings(), {"abnormal": v}, seed=i) for i, v in enumerate(said)]
    scores = [{"abnormal": p} for p in (0.9, 0.2, 0.4, 0.6)]
    task = clinical_scores(parse_narratives(texts), truth, scores=scores)["tasks"]["tuab_abnormal"]
    assert task["balanced_accuracy"] == pytest.approx((1 / 2 + 1) / 2)
    # positive/negative pairs ordered correctly: (.9,.2) (.9,.6) (.4,.2) yes, (.4,.6) no -> 3/4
    assert task["auroc"] == pytest.approx(3 / 4)
    no_scores = clinical_scores(parse_narratives(texts), truth)["tasks"]["tuab_abnormal"]
    assert no_scores["auroc"] is None


def test_sleep_and_event_task_metrics():
    stages = ["W", "N2", "N3", "REM"]
    truth = [true_fields(_findings(), {"sleep_stage": s}) for s in stages]
    texts = [describe(_findings(), {"sleep_stage": s}, seed=0) for s in ("W", "N2", "N2", "REM")]
    task = clinical_scores(parse_narratives(texts), truth)["tasks"]["sleep_stage"]
    assert task["balanced_accuracy"] == pytest.approx(3 / 4)
    assert set(task) == {"label", "n", "balanced_accuracy", "cohen_kappa"}
    events = ["spsw", "bckg"]
    truth = [true_fields(_findings(), {"event": e}) for e in events]
    texts = [describe(_findings(), {"event": e}, seed=0) for e in events]
    task = clinical_scores(parse_narratives(texts), truth)["tasks"]["tuev_event"]
    assert task["balanced_accuracy"] == 1.0 and task["cohen_kappa"] == 1.0 and task["weighted_f1"] == 1.0


def test_clinical_scores_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="2 parsed narratives but 1 true rows"):
        clinical_scores([{}, {}], [{}])


# --- retrieval ------------------------------------------------------------------------------


def test_retrieval_recall_hand_computed():
    eeg = np.eye(4)
    assert retrieval_recall(eeg, eeg)["mean_recall@1"] == 1.0
    topo = eeg[[1, 0, 2, 3]]  # segments 0 and 1 get each other's maps
    out = retrieval_recall(eeg, topo, ks=(1, 2, 5))
    assert out["eeg_to_topomap_recall@1"] == 0.5
    assert out["topomap_to_eeg_recall@1"] == 0.5
    # with orthogonal embeddings every candidate ties at 0 except the match: a swapped partner ranks
    # behind all four candidates (ties count against it), so recall@2 is still 1/2
    assert out["eeg_to_topomap_recall@2"] == 0.5
    assert out["eeg_to_topomap_recall@5"] == 1.0
    assert out["n_segments"] == 4


def test_retrieval_recall_with_more_candidates_than_k_and_known_ranks():
    """Ten segments on a circle: map j at 10*j degrees, EEG i at its map's angle except EEG 3 (44
    degrees: maps 4 and 5 are nearer, its own ranks 3rd) and EEG 8 (106 degrees: map 9 is nearer,
    2nd). Cosine similarity falls with the angle, so every rank is known."""
    angles_topo = np.radians(np.arange(10) * 10.0)
    angles_eeg = angles_topo.copy()
    angles_eeg[3], angles_eeg[8] = np.radians(44.0), np.radians(106.0)
    unit = lambda a: np.stack([np.cos(a), np.sin(a)], axis=1)  # noqa: E731
    out = retrieval_recall(unit(angles_eeg), unit(angles_topo), ks=(1, 2, 3, 4))
    # EEG -> map: own ranks 1 everywhere but 3 (segment 3) and 2 (segment 8)
    assert [out[f"eeg_to_topomap_recall@{k}"] for k in (1, 2, 3, 4)] == [0.8, 0.9, 1.0, 1.0]
    # map -> EEG: map 3 (30 deg) has EEG 2 and 4 at 10 deg, its own at 14 (3rd); map 8 (80 deg) has
    # EEG 7 and 9 at 10 deg and EEG 6 at 20 before its own at 26 (4th)
    assert [out[f"topomap_to_eeg_recall@{k}"] for k in (1, 2, 3, 4)] == [0.8, 0.8, 0.9, 1.0]
    assert out["mean_recall@1"] == pytest.approx(0.8) and out["n_segments"] == 10


def test_retrieval_recall_accepts_torch_and_does_not_modify_inputs():
    import torch

    rng = np.random.default_rng(0)
    eeg = rng.normal(size=(8, 16))
    copy = eeg.copy()
    out = retrieval_recall(eeg, torch.tensor(eeg * 3.0))
    assert out["mean_recall@1"] == 1.0  # cosine: scale does not matter
    np.testing.assert_array_equal(eeg, copy)


def test_retrieval_recall_errors():
    with pytest.raises(ValueError, match="same shape"):
        retrieval_recall(np.zeros((3, 4)), np.zeros((4, 4)))
    with pytest.raises(ValueError, match="2-D"):
        retrieval_recall(np.zeros(3), np.zeros(3))
    with pytest.raises(ValueError, match="NaN"):
        retrieval_recall(np.full((2, 2), np.nan), np.ones((2, 2)))
