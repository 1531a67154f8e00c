"""Movement artifacts: FASTER's bad epochs (by amplitude or variance) against the recording, tested
against mne-faster on a real recording; the slowing under them is obscured, never read as slowing."""

from __future__ import annotations

import dataclasses

import mne
import numpy as np
import pytest

from dataset_builder.description import describe, findings_to_fields, measured_sentence_patterns, parse
from modeling_neuronarrator.eeg_io_neuronarrator import STANDARD_CHANNELS
from modeling_neuronarrator.feature_extraction_neuronarrator import NeuroNarratorFeatureExtractor
from modeling_neuronarrator.findings_neuronarrator import (
    THRESHOLDS,
    Findings,
    Slowing,
    amplitude_reference,
    compute_findings,
    movement_artifacts,
)


@pytest.fixture(scope="module")
def visual_task(pylossless_edf):
    """pylossless's 19 min visual-task recording (111 segments) through the front-end."""
    return NeuroNarratorFeatureExtractor()(pylossless_edf)


def test_movement_segments_are_mne_fasters_bad_epochs_by_amplitude_and_variance(visual_task):
    """The whole recording is the reference (111 segments, under MOVEMENT_REFERENCE_SEGMENTS' 160): the
    segments called movement are exactly those mne-faster's ``find_bad_epochs`` (Nolan et al. 2010,
    |z| > 3, amplitude and variance) finds on the same harmonized segments."""
    from mne_faster import find_bad_epochs

    findings = visual_task["findings"]
    assert visual_task["recording_info"]["movement_reference_segments"] == len(findings) == 111
    recorded = np.asarray(visual_task["channel_mask"][0], dtype=bool)
    picks = np.flatnonzero(recorded)
    data_v = np.asarray(visual_task["eeg_values"], dtype=np.float64)[:, picks] * 100e-6  # uV/100 -> V
    epochs = mne.EpochsArray(data_v, mne.create_info([STANDARD_CHANNELS[i] for i in picks], 200.0, "eeg"), verbose="error")
    faster = sorted(find_bad_epochs(epochs, use_metrics=["amplitude", "variance"]))
    ours = [k for k, f in enumerate(findings) if "movement" in f.artifacts]
    assert ours == faster and len(ours) >= 2
    starts = visual_task["segment_start_s"]
    # The stop-46 finding: the burst at 270 s was read as focal slowing, and others as generalized.
    assert 270.0 in [float(starts[k]) for k in ours]
    for k in ours:
        assert findings[k].slowing == Slowing(kind="obscured", focal_assessable=findings[k].slowing.focal_assessable)
        text = describe(findings[k], seed=k)
        assert "patient movement" in text and "generalized slowing" not in text.lower() and "focal slowing" not in text.lower()
        assert parse(text) == findings_to_fields(findings[k])
    # No other segment is called movement, and none of them is obscured.
    assert all(f.slowing.kind != "obscured" for k, f in enumerate(findings) if k not in ours)


def test_a_span_is_judged_against_its_whole_recording(visual_task, pylossless_edf):
    """Narrating 250-300 s flags the same segments as the whole recording (the reference is the
    recording's, as the staging is), not the span's own outliers."""
    span = NeuroNarratorFeatureExtractor()(pylossless_edf, start_s=250.0, end_s=300.0)
    whole = {float(s): "movement" in f.artifacts for s, f in zip(visual_task["segment_start_s"], visual_task["findings"])}
    assert [whole[float(s)] for s in span["segment_start_s"]] == ["movement" in f.artifacts for f in span["findings"]]
    assert any("movement" in f.artifacts for f in span["findings"])


def test_a_long_recording_is_judged_against_even_runs_of_its_segments(visual_task, pylossless_edf, monkeypatch):
    """Above MOVEMENT_REFERENCE_SEGMENTS (160) the reference is 12 runs of 10 segments spread over the
    recording: here, with the limit at 40 and 4 runs, 40 of sub-s01's 111 segments. What stands out
    against all 111 stands out against them (four runs miss most of the movements, so more segments
    do: 8 of 111), and the analysis is the same apart from the reference."""
    from modeling_neuronarrator import feature_extraction_neuronarrator as front_end

    monkeypatch.setattr(front_end, "MOVEMENT_REFERENCE_SEGMENTS", 40)
    monkeypatch.setattr(front_end, "_REFERENCE_RUNS", 4)
    sampled = NeuroNarratorFeatureExtractor()(pylossless_edf)
    assert sampled["recording_info"]["movement_reference_segments"] == 40
    np.testing.assert_array_equal(sampled["eeg_values"], visual_task["eeg_values"])
    moved = [float(s) for s, f in zip(sampled["segment_start_s"], sampled["findings"]) if "movement" in f.artifacts]
    whole = [float(s) for s, f in zip(visual_task["segment_start_s"], visual_task["findings"]) if "movement" in f.artifacts]
    assert 270.0 in whole and set(whole) <= set(moved) and len(moved) <= 12


def _recording(synth, n_segments: int = 30, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.stack([synth.normal_background(seed=int(rng.integers(1 << 30))) for _ in range(n_segments)])


def test_large_slow_swings_in_a_few_segments_are_movement_and_obscure_the_slowing(synth):
    x = _recording(synth)
    t = np.arange(x.shape[-1]) / 200.0
    for k in (7, 21):  # 0.5 Hz swings of 400 uV over every channel, irregular across channels
        x[k] += 400.0 * np.sin(2 * np.pi * 0.5 * t + np.linspace(0, 3, 19)[:, None])
    reference = amplitude_reference(x)
    assert reference.n_segments == 30
    findings = compute_findings(x, 200.0, amplitude_reference=reference)
    moved = [k for k, f in enumerate(findings) if "movement" in f.artifacts]
    assert moved == [7, 21]
    assert [findings[k].slowing.kind for k in moved] == ["obscured", "obscured"]
    # Without a reference no segment is judged for movement.
    plain = compute_findings(x, 200.0)
    assert all("movement" not in f.artifacts and f.slowing.kind != "obscured" for f in plain)
    # A spike-and-wave or rhythmic delta event names the large waves: no movement there.
    event = np.zeros(30, dtype=bool)
    event[7] = True
    assert np.flatnonzero(movement_artifacts(x, reference, np.ones((30, 19), bool), event)).tolist() == [21]
    # A quiet segment is no movement (FASTER's low side is not used).
    x[12] *= 0.05
    assert 12 not in np.flatnonzero(movement_artifacts(x, amplitude_reference(x), np.ones((30, 19), bool)))


def test_the_threshold_is_fasters_three_standard_deviations(synth):
    """A segment whose epoch amplitude (mean range over the channels) lies just above the
    reference's mean + 3 SD is movement, just below is not; likewise for the variance."""
    from modeling_neuronarrator.findings_neuronarrator import AmplitudeReference

    x = _recording(synth, n_segments=2, seed=1)[:1]
    usable = np.ones((1, 19), bool)
    amplitude, variance = np.ptp(x, axis=-1).mean(), x.var(axis=-1).mean()
    assert THRESHOLDS["movement_z"] == 3.0
    for factor, expected in ((1.01, True), (0.99, False)):
        # The segment's amplitude sits at factor x (mean + 3 SD); the variance reference is out of reach.
        by_amplitude = AmplitudeReference(amplitude=(amplitude / factor - 30.0, 10.0), variance=(1e12, 1.0), n_segments=40)
        assert bool(movement_artifacts(x, by_amplitude, usable)[0]) == expected
        by_variance = AmplitudeReference(amplitude=(1e12, 1.0), variance=(variance / factor - 300.0, 100.0), n_segments=40)
        assert bool(movement_artifacts(x, by_variance, usable)[0]) == expected


def test_obscured_slowing_is_written_and_read_back_and_changes_nothing():
    base = Findings(
        dominant_frequency_hz=None, dominant_band="delta", posterior_dominant_rhythm_hz=None, band_power_by_region={},
        band_power_by_hemisphere={}, predominant_region="central", slowing=Slowing(kind="obscured"), artifacts=["movement"],
    )  # fmt: skip
    for seed in range(6):
        text = describe(base, seed=seed)
        assert parse(text)["slowing_kind"] == "obscured" and parse(text)["artifacts"] == ("movement",)
        assert "eye movement" not in text
    patterns = measured_sentence_patterns(base)
    assert all("slowing" in p.lower() for p in patterns["slowing"]) and len(patterns["slowing"]) == 3
    # "eye movement" and "patient movement" are told apart in one artifact list.
    both = dataclasses.replace(base, artifacts=["eye_movement", "movement"])
    assert parse(describe(both, seed=2))["artifacts"] == ("eye_movement", "movement")


def test_the_background_changes_are_read_around_a_movement_not_from_it():
    """A movement segment changes only in its artifacts (its rhythm, amplitude and slow waves are the
    artifact's); the segment after it is compared with the preceding segments free of movement, and
    no slowing appears or resolves across it."""
    from modeling_neuronarrator.findings_neuronarrator import _set_change

    def segment(kind="none", hz=10.0, amplitude=40.0, artifacts=()):
        return Findings(
            dominant_frequency_hz=hz, dominant_band="alpha" if hz >= 8 else "delta", posterior_dominant_rhythm_hz=None,
            band_power_by_region={}, band_power_by_hemisphere={}, predominant_region="occipital", slowing=Slowing(kind=kind),
            amplitude_uv=amplitude, artifacts=list(artifacts), state="awake",
        )  # fmt: skip

    before = [segment(), segment(), segment()]
    moved = segment("obscured", hz=1.0, amplitude=300.0, artifacts=["movement"])
    _set_change(moved, before)
    assert moved.change_from_previous == ["artifacts_appeared"]  # not slower, higher amplitude, slowing appeared
    after = segment()
    _set_change(after, [*before[1:], moved])
    assert after.change_from_previous == ["artifacts_resolved"]  # not faster or lower amplitude than the movement
    slow_after = segment("generalized", hz=2.0)
    _set_change(slow_after, [*before[1:], moved])
    assert set(slow_after.change_from_previous) == {"artifacts_resolved", "slower", "slowing_appeared"}
    # Only movement before: nothing to compare the background with.
    lone = segment()
    _set_change(lone, [moved])
    assert lone.change_from_previous == ["artifacts_resolved"]
    # A slowing before the movement and none after it: resolved, read against the last clean segment.
    slow = segment("generalized", hz=2.0)
    cleared = segment()
    _set_change(cleared, [slow, moved])
    assert "slowing_resolved" in cleared.change_from_previous
