"""One vocabulary, one agreement rule: the training quality check, the report's consistency check and
the evaluator judge a narrative field the same way (``dataset_builder.agreement.values_agree``),
read row labels the same way, and the field table (``FIELD_SPECS``) maps every ``Findings``
attribute and stage-1 head target it names."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from neuronarrator_eval import clinical

import modeling_neuronarrator
from dataset_builder.agreement import (
    canonical_value,
    read_findings,
    read_labels,
    segment_fields,
    values_agree,
)
from dataset_builder.description import FIELD_SPECS, describe, findings_to_fields, parse
from dataset_builder.labels import LABEL_VOCABULARY
from modeling_neuronarrator.findings_neuronarrator import (
    FINDING_TARGETS,
    Asymmetry,
    Event,
    Findings,
    Slowing,
    finding_targets,
)
from modeling_neuronarrator.report.consistency import check_consistency, fields_agree
from modeling_neuronarrator.training import quality

SPIKE_WAVE = "generalized_spike_wave 3.0Hz 2.5-7.5s F3,F4"

# (field, claimed, measured, agree): each case is judged through all three users.
CASES = [
    # frequencies within 1 Hz (boundary included: values are written to 0.1 Hz)
    ("dominant_frequency_hz", 9.0, 10.0, True),
    ("dominant_frequency_hz", 8.9, 10.0, False),
    ("dominant_frequency_hz", 11.0, 10.0, True),
    ("dominant_frequency_hz", 11.1, 10.0, False),
    ("pdr_hz", 9.3, 10.0, True),
    ("pdr_hz", 8.5, 10.0, False),
    # amplitude within 25 % of the measured value
    ("amplitude_uv", 50, 40, True),
    ("amplitude_uv", 51, 40, False),
    ("amplitude_uv", 30, 40, True),
    ("amplitude_uv", 29, 40, False),
    ("amplitude_uv", np.int64(45), 40, True),  # numpy numbers are numbers
    # not a number: never within tolerance
    ("dominant_frequency_hz", True, 1.0, False),
    ("dominant_frequency_hz", "10.0", 10.0, False),
    ("dominant_frequency_hz", float("nan"), 10.0, False),
    # categorical: case and surrounding spaces do not matter, the value does
    ("dominant_band", "Alpha ", "alpha", True),
    ("dominant_band", "beta", "alpha", False),
    ("sleep_stage", "n2", "N2", True),
    ("sleep_stage", "N3", "N2", False),
    ("asymmetry_side", "none", "not_assessable", False),
    ("state", "awake", "awake", True),
    # sets: as sets
    ("artifacts", ("muscle", "eye_blink"), ("eye_blink", "muscle"), True),
    ("artifacts", ["muscle"], ("eye_blink", "muscle"), False),
    ("artifacts", ("muscle", "Muscle"), ("muscle",), True),  # a set names each value once
    ("artifacts", (), (), True),
    ("artifacts", ("muscle",), (), False),
    ("change", ("stable",), ("stable",), True),
    ("change", ("slower", "slowing_appeared"), ("slowing_appeared",), False),
    # events: same kind, times within 0.5 s, rate within 0.5 Hz; the channel list is not compared
    ("event_details", ("generalized_spike_wave 3.4Hz 2.9-7.1s F3",), (SPIKE_WAVE,), True),
    ("event_details", ("generalized_spike_wave -Hz 3.0-8.0s F3,F4",), (SPIKE_WAVE,), True),
    ("event_details", ("generalized_spike_wave 3.0Hz 3.5-7.5s F3,F4",), (SPIKE_WAVE,), False),
    ("event_details", ("generalized_spike_wave 3.6Hz 2.5-7.5s F3,F4",), (SPIKE_WAVE,), False),
    ("event_details", (SPIKE_WAVE, "generalized_spike_wave 3.0Hz 8.0-9.5s F3,F4"), (SPIKE_WAVE,), False),
    ("event_details", (), (SPIKE_WAVE,), False),
    ("events", ("generalized_spike_wave",), (), False),
    # absent claims never agree
    ("dominant_band", None, "alpha", False),
    ("artifacts", None, (), False),
]


def _clinical_correct(field, claimed, measured) -> bool:
    """The evaluator's verdict on one row (flattened fields, as ``evaluate`` passes them)."""
    predicted = [clinical.flatten_fields({field: claimed})]
    truth = [clinical.flatten_fields({field: measured})]
    column = clinical.field_correctness(predicted, truth)[field]
    accuracy = clinical.clinical_scores(predicted, truth)["fields"][field]["accuracy"]
    assert accuracy == column[0], "clinical_scores' accuracy and field_correctness disagree"
    return bool(column[0])


@pytest.mark.parametrize("field, claimed, measured, agree", CASES)
def test_the_three_users_judge_a_value_alike(field, claimed, measured, agree):
    verdicts = {
        "rule": values_agree(field, claimed, measured),
        "training quality": quality.field_matches(field, claimed, measured),
        "consistency check": fields_agree(field, claimed, measured),
        "evaluator": _clinical_correct(field, claimed, measured),
    }
    assert verdicts == dict.fromkeys(verdicts, agree)


@pytest.mark.parametrize("field, claimed", [("pdr_hz", 10.0), ("sleep_stage", "N2"), ("slowing_side", "left")])
def test_a_measured_absence_is_never_agreed_with_and_not_scored(field, claimed):
    assert not values_agree(field, claimed, None) and not quality.field_matches(field, claimed, None) and not fields_agree(field, claimed, None)
    assert clinical.field_correctness([{field: claimed}], [{field: None}]) == {}  # the field does not apply


def test_fields_the_table_does_not_know_are_compared_exactly():
    assert values_agree("future_hz", 10.0, 10.0) and not values_agree("future_hz", 10.5, 10.0)
    assert clinical.numeric_tolerance("future_hz") == ("abs", 0.0)
    assert values_agree("future_word", " Yes", "yes") and not values_agree("future_word", "no", "yes")


def test_canonical_values_read_every_form_of_a_set():
    assert canonical_value("artifacts", "muscle+eye_blink") == canonical_value("artifacts", ["eye_blink", "muscle"]) == ("eye_blink", "muscle")
    assert canonical_value("artifacts", "none") == canonical_value("artifacts", ()) == ()
    assert canonical_value("state", " rem ") == "REM" and canonical_value("amplitude_uv", np.int32(4)) == 4.0


# ----------------------------------------------------------------------------- end to end, real text


def _findings(freq=10.0, band="alpha", pdr=10.0, amplitude=40.0, artifacts=(), events=(), state="awake", labels=None,
              slowing=None, asymmetry="none") -> Findings:  # fmt: skip
    return Findings(
        dominant_frequency_hz=freq, dominant_band=band, posterior_dominant_rhythm_hz=pdr,
        band_power_by_region={}, band_power_by_hemisphere={}, predominant_region="occipital",
        asymmetry=Asymmetry(side=asymmetry), slowing=slowing or Slowing(), artifacts=list(artifacts),
        amplitude_uv=amplitude, change_from_previous=None, state=state, events=list(events), labels=dict(labels or {}),
    )  # fmt: skip


def _verdicts(narrative: str, findings: Findings, labels) -> dict[str, dict[str, bool]]:
    """Per field the narrative states and the measurement has: each user's verdict."""
    row = {"findings": findings.to_json(), "labels": labels}
    claimed, measured = parse(narrative), segment_fields(findings, labels)
    fields = [f for f in FIELD_SPECS if claimed.get(f) is not None and measured.get(f) is not None]
    training = quality.field_correctness([narrative], [row], fields)
    evaluator = clinical.field_correctness(clinical.parse_narratives([narrative]), [clinical.true_fields(row["findings"], row["labels"])])
    flagged = {i.field for i in check_consistency(narrative, findings, labels) if i.kind in ("contradicted", "unverified")}
    return {
        f: {"training quality": training[f][0], "evaluator": bool(evaluator[f][0]), "consistency check": f not in flagged}
        for f in fields
    }


EVENT = Event("generalized_spike_wave", 2.5, 7.5, ["F3", "F4"], 3.0)
PAIRS = [  # (claimed findings, measured findings): what a narrative says vs what was measured
    (_findings(freq=9.2), _findings(freq=10.0)),
    (_findings(freq=8.8, pdr=8.8), _findings(freq=10.0, pdr=10.0)),
    (_findings(amplitude=52.0), _findings(amplitude=40.0)),
    (_findings(amplitude=70.0), _findings(amplitude=40.0)),
    (_findings(freq=6.0, band="theta", pdr=None), _findings()),
    (_findings(artifacts=["muscle"]), _findings(artifacts=["muscle", "eye_blink"])),
    (_findings(events=[Event("generalized_spike_wave", 2.9, 7.1, ["F3"], 3.4)]), _findings(events=[EVENT])),
    (_findings(events=[Event("generalized_spike_wave", 3.5, 7.5, ["F3", "F4"], 3.0)]), _findings(events=[EVENT])),
    (_findings(state="N2", freq=2.0, band="delta", pdr=None), _findings(state="awake")),
    (_findings(state="awake"), _findings(state="not_assessed")),
    (_findings(slowing=Slowing("focal", "left", "temporal")), _findings(slowing=Slowing("focal", "right", "temporal"))),
    (_findings(asymmetry="left"), _findings(asymmetry="not_assessable")),
]


@pytest.mark.parametrize("claimed, measured", PAIRS)
@pytest.mark.parametrize("labels", [None, {"sleep_stage": "W"}])
def test_narratives_are_judged_alike_end_to_end(claimed, measured, labels):
    narrative = describe(claimed, labels, seed=7)
    verdicts = _verdicts(narrative, measured, labels)
    assert verdicts, "nothing was compared"
    split = {f: v for f, v in verdicts.items() if len(set(v.values())) > 1}
    assert not split, f"the users disagree on {split}\n{narrative}"
    # and the comparison did find the difference the pair was built with
    differing = {f for f, v in findings_to_fields(claimed, labels).items() if v != findings_to_fields(measured, labels).get(f)}
    assert {f for f, v in verdicts.items() if not v["training quality"]} <= differing


def test_the_shipped_defaults_stored_narratives_are_judged_alike():
    """Real generated text (the default's CI sample, model and blind model): on every field a
    narrative states, the three users agree."""
    stored = json.loads((Path(modeling_neuronarrator.__file__).parent / "default_model" / "quality.json").read_text())
    n_compared = n_wrong = 0
    for sample in stored["ci_sample"].values():
        for system in sample["systems"].values():
            for narrative, row in zip(system["narratives"], sample["rows"]):
                verdicts = _verdicts(narrative, read_findings(row["findings"]), row["labels"])
                split = {f: v for f, v in verdicts.items() if len(set(v.values())) > 1}
                assert not split, f"the users disagree on {split}\n{narrative}"
                n_compared += len(verdicts)
                n_wrong += sum(not v["evaluator"] for v in verdicts.values())
    assert n_compared > 500 and 0 < n_wrong < n_compared  # right and wrong answers were both compared


# ------------------------------------------------------------------------------------ row labels


def test_one_reader_for_row_labels():
    struct = {key: None for key in LABEL_VOCABULARY} | {"sleep_stage": "N2"}
    for form in (struct, json.dumps(struct), json.dumps(struct).encode()):
        assert read_labels(form) == {"sleep_stage": "N2"}
    assert read_labels(None) == read_labels("") == read_labels(" ") == {}
    with pytest.raises(ValueError, match="labels: not valid JSON"):
        read_labels("{sleep_stage: N2}")
    with pytest.raises(TypeError, match="labels must be a mapping"):
        read_labels(["N2"])
    from neuronarrator_eval.evaluation import row_labels

    assert row_labels(json.dumps(struct)) == read_labels(struct)


def test_empty_row_labels_fall_back_to_the_findings_labels_in_every_user():
    measured = _findings(labels={"abnormal": "abnormal"})
    empty_struct = {key: None for key in LABEL_VOCABULARY}
    narrative = describe(measured, {"abnormal": "normal"}, seed=1)
    row = {"findings": measured.to_json(), "labels": empty_struct}
    assert quality.score_fields([narrative], [row], ["abnormal"])["abnormal"]["accuracy"] == 0.0
    truth = clinical.true_fields(row["findings"], empty_struct)
    assert truth["abnormal"] == "abnormal"
    assert clinical.field_correctness(clinical.parse_narratives([narrative]), [truth])["abnormal"] == [0]
    issues = check_consistency(narrative, measured, empty_struct)
    assert [(i.field, i.kind) for i in issues if i.field == "abnormal"] == [("abnormal", "contradicted")]


# ---------------------------------------------------------------------------------- the one table


def _attribute(findings: Findings, path: str):
    value = findings
    for part in path.split("."):
        if part.endswith("[]"):
            return [item.kind for item in getattr(value, part[:-2])]
        value = value[part] if isinstance(value, dict) else getattr(value, part)
    return value


def test_every_field_names_a_findings_attribute():
    findings = _findings(events=[EVENT], labels={key: next(iter(values)) for key, values in LABEL_VOCABULARY.items()})
    names = {f.name for f in dataclasses.fields(Findings)}
    for spec in FIELD_SPECS.values():
        assert spec.finding, f"{spec.name}: no Findings attribute in FIELD_SPECS"
        assert spec.finding.split(".")[0].removesuffix("[]") in names, f"{spec.name}: Findings has no {spec.finding!r}"
        _attribute(findings, spec.finding)  # resolves


def test_every_head_target_belongs_to_one_field():
    owners = {}
    for spec in FIELD_SPECS.values():
        for target in spec.head_targets:
            assert target not in owners, f"{target} claimed by {owners[target]} and {spec.name}"
            owners[target] = spec.name
    assert set(owners) == set(FINDING_TARGETS)


def _target_from_fields(target: str, fields: dict) -> bool:
    """What the narrative field says about a head target (the table's reading)."""
    kind, _, value = target.partition(":")
    field = next(s.name for s in FIELD_SPECS.values() if target in s.head_targets)
    if kind == "artifact":
        return value in fields[field]
    if kind == "pdr":
        return fields[field] == "present"
    if kind == "asymmetry":
        return fields[field] in ("left", "right")
    return fields[field] == value  # band:<b>, slowing:<kind>


@pytest.mark.parametrize(
    "findings",
    [
        _findings(),
        _findings(freq=2.0, band="delta", pdr=None, artifacts=["muscle", "eye_blink"], slowing=Slowing("generalized")),
        _findings(freq=6.0, band="theta", asymmetry="left", slowing=Slowing("focal", "left", "temporal"), artifacts=["line_noise"]),
    ],
)
def test_head_targets_say_what_the_narrative_fields_say(findings):
    targets = finding_targets(findings)
    fields = findings_to_fields(findings)
    assert {t: bool(v) for t, v in zip(FINDING_TARGETS, targets)} == {t: _target_from_fields(t, fields) for t in FINDING_TARGETS}


def test_head_target_asymmetry_on_a_montage_that_cannot_assess_it():
    findings = _findings(asymmetry="not_assessable")
    targets = dict(zip(FINDING_TARGETS, finding_targets(findings)))
    assert bool(targets["asymmetry"]) == _target_from_fields("asymmetry", findings_to_fields(findings))
