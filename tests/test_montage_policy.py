"""One montage policy for every caller (narrate, the feature extractor, the corpus builder):
low-density, bipolar and ear-referenced montages are accepted, spatial fields are "not
assessable" where the electrodes cannot support them, bad electrodes are found (pyprep's
NoisyChannels criteria) and left out before the findings."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dataset_builder.description import describe, findings_to_fields, parse
from modeling_neuronarrator import STANDARD_CHANNELS, Findings, NeuroNarratorFeatureExtractor, compute_findings
from modeling_neuronarrator.eeg_io_neuronarrator import (
    READERS,
    EEGInputError,
    find_bad_channels,
    harmonize_channels,
    parse_derivation,
    read_recording,
)
from modeling_neuronarrator.findings_neuronarrator import NOT_ASSESSABLE


@pytest.mark.parametrize("label, expected", [
    ("EEG Fpz-Cz", ("Fpz", "Cz")), ("EEG Pz-Oz", ("Pz", "Oz")),  # Sleep-EDF: bipolar
    ("C4-M1", ("C4", None)), ("EEG F3-A2", ("F3", None)), ("EEG O2-M1", ("O2", None)),  # ear/mastoid: referential
    ("EEG FP1-REF", ("Fp1", None)), ("T3", ("T7", None)), ("Oz", ("Oz", None)), ("EEG T5-O1", ("P7", "O1")),
    ("EOG horizontal", None), ("EMG submental", None), ("Resp oro-nasal", None), ("X1", None),
])  # fmt: skip
def test_parse_derivation(label, expected):
    assert parse_derivation(label) == expected


def test_sleep_montages_map_under_the_one_policy():
    sleep_edf = harmonize_channels(["EEG Fpz-Cz", "EEG Pz-Oz", "EOG horizontal", "Resp oro-nasal", "EMG submental", "Event marker"])
    assert sleep_edf.channels_used == ["EEG Fpz-Cz", "EEG Pz-Oz"] and sleep_edf.bipolar == ["Fpz=Fpz-Cz", "Pz=Pz-Oz"]
    assert [n for n, r in zip(STANDARD_CHANNELS, sleep_edf.recorded) if r] == ["Pz"]
    assert not sleep_edf.spatial.any()  # a bipolar derivation is no referential electrode
    hmc = harmonize_channels(["EEG F4-M1", "EEG C4-M1", "EEG O2-M1", "EEG C3-M2", "EOG E1-M2", "EMG chin", "ECG"])
    assert [n for n, r in zip(STANDARD_CHANNELS, hmc.spatial) if r] == ["F4", "C3", "C4", "O2"] and hmc.bipolar == []
    two = harmonize_channels(["C4-M1", "F3-A2"])
    assert [n for n, r in zip(STANDARD_CHANNELS, two.recorded) if r] == ["F3", "C4"]
    with pytest.raises(EEGInputError, match=r"psg\.edf: only 0 of the 19 10-20 channels.*check the channel names"):
        harmonize_channels(["EOG E1-M2", "EMG chin", "Mystery"], path="/data/psg.edf")


def test_gdf_is_read_through_the_one_reader_table(tmp_path, monkeypatch):
    import mne

    assert READERS[".gdf"] == ("GDF", "read_raw_gdf")
    calls = []
    info = mne.create_info(["C3", "Cz", "C4"], 250.0, "eeg")
    raw = mne.io.RawArray(np.zeros((3, 500)), info, verbose="ERROR")
    monkeypatch.setattr(mne.io, "read_raw_gdf", lambda path, **kwargs: calls.append(path) or raw)
    path = tmp_path / "A01T.gdf"
    path.write_bytes(b"GDF 2.20" + bytes(300))
    assert read_recording(path) is raw and calls == [str(path)]
    monkeypatch.undo()
    # MNE's own GDF reader on a corrupt file: the front-end's clear error
    with pytest.raises(EEGInputError, match=r"A01T\.gdf: could not be read as GDF"):
        read_recording(path)


def _write_edf(tmp_path, data_uv, names, sfreq, name):
    import mne

    raw = mne.io.RawArray(np.asarray(data_uv) * 1e-6, mne.create_info(list(names), sfreq, "eeg"), verbose="ERROR")
    path = tmp_path / f"{name}.edf"
    mne.export.export_raw(path, raw, fmt="edf", overwrite=True, verbose="ERROR")
    return path


def test_two_channel_bipolar_psg_narrates_with_spatial_fields_not_assessable(tmp_path, synth, capsys):
    from modeling_neuronarrator.cli import main

    x = synth.normal_background(seconds=40.0, sfreq=100.0, seed=2)
    data = [x[STANDARD_CHANNELS.index("Fp1")] - x[STANDARD_CHANNELS.index("Cz")],
            x[STANDARD_CHANNELS.index("Pz")] - x[STANDARD_CHANNELS.index("O1")], 20 * np.sin(np.arange(4000) / 50.0)]  # fmt: skip
    path = _write_edf(tmp_path, data, ["EEG Fpz-Cz", "EEG Pz-Oz", "EOG horizontal"], 100.0, "SC4001E0-PSG")
    out = tmp_path / "report.json"
    assert main(["narrate", str(path), "--no-progress", "-o", str(out)]) == 0
    report = json.loads(out.read_text())
    recording = report["recording"]
    assert recording["channels_used"] == ["EEG Fpz-Cz", "EEG Pz-Oz"]
    assert recording["bipolar_derivations"] == ["Fpz=Fpz-Cz", "Pz=Pz-Oz"] and recording["channels_spatial"] == []
    assert "montage_policy" in recording
    segments = [Findings.from_dict(s["findings"]) for s in report["segments"]]
    assert len(segments) == 4
    for f in segments:
        assert f.predominant_region == NOT_ASSESSABLE and f.asymmetry.side == NOT_ASSESSABLE
        assert all(v == NOT_ASSESSABLE for v in f.band_power_by_region.values())
        assert not f.slowing.focal_assessable
        fields = findings_to_fields(f)
        assert parse(describe(f, seed=3)) == fields and fields["predominant_region"] == NOT_ASSESSABLE


def test_six_channel_recording_states_only_what_it_can(tmp_path, synth):
    x = synth.normal_background(seconds=30.0, sfreq=200.0, seed=3)
    names = ("F3", "F4", "C3", "C4", "O1", "O2")
    path = _write_edf(tmp_path, x[[STANDARD_CHANNELS.index(n) for n in names]], [f"EEG {n}-M2" for n in names], 200.0, "psg6")
    batch = NeuroNarratorFeatureExtractor()(path)
    assert batch["recording_info"]["channels_spatial"] == ["F3", "F4", "C3", "C4", "O1", "O2"]
    for f in batch["findings"]:
        assert f.predominant_region == NOT_ASSESSABLE
        assert f.band_power_by_region["temporal"] == NOT_ASSESSABLE and f.band_power_by_region["parietal"] == NOT_ASSESSABLE
        assert isinstance(f.band_power_by_region["occipital"], dict)
        assert f.asymmetry.side in ("none", "left", "right")  # front and back pairs recorded: assessable
        assert f.dominant_frequency_hz == pytest.approx(10.0, abs=0.6)


# --- bad channels -------------------------------------------------------------------------------


def _scalp(synth, seconds: float = 60.0, seed: int = 0) -> np.ndarray:
    """19 channels that share a common source, as volume conduction makes scalp EEG (neighbouring
    channels correlate at r ~ 0.5-0.9), plus a 10 Hz posterior rhythm."""
    own = synth.background(seconds=seconds, sfreq=200.0, seed=seed)
    shared = synth.background(seconds=seconds, sfreq=200.0, seed=seed + 1000, n_channels=1)
    gains = np.random.default_rng(seed).uniform(0.7, 1.3, size=(19, 1))
    return synth.add_sine(0.6 * own + gains * shared, ("O1", "O2", "P3", "P4", "Pz"), 10.0, 10.0)


def _bad_c4(synth, seconds: float = 60.0, seed: int = 4) -> np.ndarray:
    """A 19-channel recording whose C4 electrode lost contact: large slow wander (1-3 Hz) on it."""
    from scipy import signal

    x = _scalp(synth, seconds, seed)
    rng = np.random.default_rng(seed)
    sos = signal.butter(2, [1.0, 3.0], btype="bandpass", output="sos", fs=200.0)
    wander = signal.sosfiltfilt(sos, rng.standard_normal(x.shape[-1]))
    x[STANDARD_CHANNELS.index("C4")] += 80.0 * wander / wander.std()
    return x


def test_a_bad_electrode_is_found_masked_and_not_focal_slowing(synth):
    x = _bad_c4(synth)
    # Taken at face value the electrode is right central focal slowing (the planted truth works)...
    naive = compute_findings(x[:, :2000][None], 200.0)[0]
    assert (naive.slowing.kind, naive.slowing.side, naive.slowing.region) == ("focal", "right", "central")
    found = find_bad_channels(x, 200.0)
    assert STANDARD_CHANNELS.index("C4") in found["deviation"]
    assert all(i == STANDARD_CHANNELS.index("C4") for indices in found.values() for i in indices)
    # one electrode noisy above 50 Hz only (muscle under it) is named as suspect and kept
    emg = _scalp(synth, seed=6)
    emg[STANDARD_CHANNELS.index("T8")] += 8.0 * np.random.default_rng(6).standard_normal(emg.shape[-1])
    kept = NeuroNarratorFeatureExtractor()(emg, sampling_rate=200.0, ch_names=list(STANDARD_CHANNELS))["recording_info"]
    assert kept["channels_bad"] == {} and kept["channels_suspect"] == {"T8": ["hf_noise"]}
    # a strong posterior rhythm makes O1/O2 large but not bad (at most pyprep "deviation": suspect)
    alpha = synth.add_sine(_scalp(synth, seed=7), ("O1", "O2"), 10.0, 40.0)
    kept = NeuroNarratorFeatureExtractor()(alpha, sampling_rate=200.0, ch_names=list(STANDARD_CHANNELS))
    assert kept["recording_info"]["channels_bad"] == {} and kept["channel_mask"].all()
    # ...the front-end finds it, names it, interpolates its site and reports no focal slowing.
    batch = NeuroNarratorFeatureExtractor()(x, sampling_rate=200.0, ch_names=list(STANDARD_CHANNELS))
    info = batch["recording_info"]
    assert list(info["channels_bad"]) == ["C4"] and {"deviation", "amplitude_outlier"} <= set(info["channels_bad"]["C4"])
    assert not batch["channel_mask"][:, STANDARD_CHANNELS.index("C4")].any()
    for f in batch["findings"]:
        assert f.bad_channels == ["C4"] and "C4" in f.interpolated_channels
        assert f.slowing.kind != "focal"


def test_clean_recordings_lose_no_channel(synth):
    x = _scalp(synth, seed=5)
    assert not any(find_bad_channels(x, 200.0).values())
    batch = NeuroNarratorFeatureExtractor()(x, sampling_rate=200.0, ch_names=list(STANDARD_CHANNELS))
    assert batch["recording_info"]["channels_bad"] == {} and batch["channel_mask"].all()
    assert find_bad_channels(x[:6], 200.0)["deviation"] == []  # too few channels for robust statistics


def test_bad_channels_agree_with_pyprep_on_a_real_recording(pylossless_edf):
    pyprep = pytest.importorskip("pyprep")
    import mne

    raw = mne.io.read_raw_edf(pylossless_edf, preload=False, verbose="ERROR").crop(0, 120).load_data(verbose="ERROR")
    ours = find_bad_channels(raw.get_data() * 1e6, raw.info["sfreq"])
    names = lambda indices: sorted(raw.ch_names[i] for i in indices)  # noqa: E731
    reference = pyprep.NoisyChannels(raw.copy(), do_detrend=True, random_state=0)
    reference.find_bad_by_nan_flat()
    reference.find_bad_by_deviation()
    reference.find_bad_by_hfnoise()
    reference.find_bad_by_correlation()
    assert names(ours["deviation"]) == sorted(reference.bad_by_deviation) and "C10" in names(ours["deviation"])
    assert names(ours["hf_noise"]) == sorted(reference.bad_by_hf_noise)
    ours_corr, theirs_corr = set(names(ours["correlation"])), set(reference.bad_by_correlation)
    # Butterworth filters for pyprep's FIR ones: the 1 %-of-windows rule moves by a window or two.
    assert len(ours_corr & theirs_corr) >= 0.5 * len(ours_corr | theirs_corr)


def test_report_says_what_the_electrodes_support_and_greys_the_topomaps(tmp_path, synth):
    from modeling_neuronarrator.cli import main
    from modeling_neuronarrator.report.plots import plot_topomaps
    from modeling_neuronarrator.topomap_neuronarrator import coverage_mask, electrode_xy

    x = synth.normal_background(seconds=30.0, sfreq=200.0, seed=8)
    names = ("F3", "F4", "C3", "C4", "O1", "O2")
    path = _write_edf(tmp_path, x[[STANDARD_CHANNELS.index(n) for n in names]], list(names), 200.0, "psg6")
    out = tmp_path / "report.md"
    assert main(["narrate", str(path), "--no-progress", "-q", "-o", str(out)]) == 0
    text = out.read_text()
    assert "| Electrodes | 6 of 19 10-20 sites recorded (F3, F4, C3, C4, O1, O2); reference: as recorded. Can be judged" in text
    assert "Not assessable: temporal, parietal band power; predominant region; focal slowing." in text
    # topomaps: measured around the recorded electrodes, grey beyond them
    six = np.array([n in names for n in STANDARD_CHANNELS])
    covered = coverage_mask(six, 32)
    col, row = ((electrode_xy(["T7"])[0] + 1) / 2 * 32).astype(int)
    assert not covered[31 - row, col]  # T7's area (left temporal) lies beyond every recorded electrode
    col, row = ((electrode_xy(["O1"])[0] + 1) / 2 * 32).astype(int)
    assert covered[31 - row, col]
    assert coverage_mask(np.ones(19, dtype=bool), 32).sum() >= 0.99 * coverage_mask(np.ones(19, dtype=bool), 32, max_rad=3.2).sum()
    figure = plot_topomaps(np.zeros((5, 32, 32)) - 1.0, recorded=six)
    assert len(figure.axes) == 6 and "extrapolated" in " ".join(t.get_text() for t in figure.texts)
