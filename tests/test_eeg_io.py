"""Reading recordings in every supported format, channel harmonization, and the errors bad files get."""

from __future__ import annotations

import shutil

import mne
import numpy as np
import pytest

from modeling_neuronarrator import (
    STANDARD_CHANNELS,
    TCP_PAIRS,
    EEGInputError,
    canonical_channel_name,
    harmonize_channels,
    read_recording,
    tcp_bipolar,
)
from modeling_neuronarrator.eeg_io_neuronarrator import MIN_RECORDED_CHANNELS, spherical_spline_matrix, standard_unit_positions


@pytest.mark.parametrize(
    "label, expected",
    [
        ("EEG FP1-REF", "Fp1"),
        ("EEG FP1-LE", "Fp1"),
        ("EEG T3-REF", "T7"),
        ("T4", "T8"),
        ("t5", "P7"),
        ("EEG T6-AR", "P8"),
        ("O1-A1", "O1"),
        ("C4-M1", "C4"),
        ("EEG-Fz", "Fz"),
        ("Cz.", "Cz"),
        ("Fp2..", "Fp2"),
        (" pz ", "Pz"),
        ("EEG F3-A2", "F3"),
        ("Fc5.", None),  # EEGMMIDB channel outside the 19
        ("FP1-F7", None),  # bipolar derivation, not a referential channel
        ("EEG A1-REF", None),  # ear reference electrode
        ("EOG EOG1", None),
    ],
)
def test_canonical_channel_name(label, expected):
    assert canonical_channel_name(label) == expected


def test_harmonize_drops_non_eeg_and_maps_aliases():
    names = ["EEG FP1-REF", "EEG FP2-REF", "EEG T3-REF", "EEG T4-REF", "EEG O1-REF", "EEG O2-REF", "EEG EKG1-REF",
             "EOG LOC", "EMG Chin", "PHOTIC-REF", "EEG C3-REF"]  # fmt: skip
    cmap = harmonize_channels(names)
    assert cmap.channels_used == ["EEG FP1-REF", "EEG FP2-REF", "EEG T3-REF", "EEG T4-REF", "EEG O1-REF", "EEG O2-REF", "EEG C3-REF"]
    assert cmap.matrix.shape == (19, 7)
    recorded = [n for n, r in zip(STANDARD_CHANNELS, cmap.recorded) if r]
    assert recorded == ["Fp1", "Fp2", "T7", "C3", "T8", "O1", "O2"]
    assert set(cmap.channels_interpolated) == set(STANDARD_CHANNELS) - set(recorded)
    # recorded channels are copied exactly, interpolated rows are convex-ish combinations
    t7 = STANDARD_CHANNELS.index("T7")
    np.testing.assert_array_equal(cmap.matrix[t7], np.eye(7)[2])
    np.testing.assert_allclose(cmap.matrix.sum(axis=1), 1.0, atol=1e-6)  # constants are reproduced


def test_mne_channel_types_are_respected():
    cmap = harmonize_channels(["Fp1", "Fp2", "C3", "C4", "O1", "Cz"], ["eeg", "eeg", "eeg", "eeg", "eeg", "eog"])
    assert "Cz" not in cmap.channels_used and "Cz" in cmap.channels_interpolated


def test_spherical_spline_reproduces_a_smooth_field():
    unit = standard_unit_positions()
    field = unit[:, 2] * 3.0 + unit[:, 0]  # a smooth (degree-1) field over the scalp
    keep = [i for i, n in enumerate(STANDARD_CHANNELS) if n not in ("Cz", "T7")]
    matrix = spherical_spline_matrix(unit[keep], unit)
    estimate = matrix @ field[keep]
    np.testing.assert_allclose(estimate[keep], field[keep], atol=1e-2)  # regularized: near-exact
    assert abs(estimate[STANDARD_CHANNELS.index("Cz")] - field[STANDARD_CHANNELS.index("Cz")]) < 0.3


def test_too_few_channels_names_the_problem_and_fix():
    # No usable electrode at all: the one montage the policy refuses.
    with pytest.raises(EEGInputError, match=r"rec\.edf: only 0 of the 19 10-20 channels.*check the channel names"):
        harmonize_channels(["FOO1", "BAR2", "EOG LOC"], path="/data/rec.edf")
    # A caller asking for more electrodes than recorded gets the same kind of message.
    with pytest.raises(EEGInputError, match=r"rec\.edf: only 3 of the 19 10-20 channels.*check the channel names"):
        harmonize_channels(["Fp1", "Cz", "O2", "FOO1"], path="/data/rec.edf", min_recorded_channels=4)


def test_no_eeg_channels():
    with pytest.raises(EEGInputError, match=r"x\.edf: no EEG channels.*scalp EEG"):
        harmonize_channels(["EOG1", "EMG2", "ECG"], path="x.edf")


def test_tcp_bipolar_double_banana():
    assert len(TCP_PAIRS) == 16
    eeg = np.arange(19, dtype=np.float32)[None, :, None] * np.ones((2, 19, 5), dtype=np.float32)
    bipolar = tcp_bipolar(eeg)
    assert bipolar.shape == (2, 16, 5) and bipolar.dtype == np.float32
    for row, (a, b) in enumerate(TCP_PAIRS):
        assert bipolar[0, row, 0] == STANDARD_CHANNELS.index(a) - STANDARD_CHANNELS.index(b)
    with pytest.raises(EEGInputError, match="19"):
        tcp_bipolar(np.zeros((18, 10)))


# --- formats ------------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["edf", "bdf", "fif", "vhdr", "set"])
def test_every_format_reads_back(fmt, recording_writer, synth):
    data = synth.normal_background(seconds=12.0, sfreq=250.0, seed=1)
    path = recording_writer(fmt, data, STANDARD_CHANNELS, 250.0)
    raw = read_recording(path)
    assert raw.info["sfreq"] == 250.0
    assert [canonical_channel_name(n) for n in raw.ch_names] == list(STANDARD_CHANNELS)
    got = raw.get_data() * 1e6
    assert got.shape == data.shape
    # EDF stores 16-bit samples over the physical range MNE writes (the data's min to max, shared by
    # the channels): rounding errs by half a step of range / 65535; allow two steps (measured ~0.5)
    step = (data.max() - data.min()) / 65536
    np.testing.assert_allclose(got, data, rtol=0, atol=2 * step if fmt == "edf" else 1e-2)


def test_tuh_style_edf(tuh_edf):
    raw = read_recording(tuh_edf)
    cmap = harmonize_channels(raw.ch_names, raw.get_channel_types(), path=str(tuh_edf))
    assert cmap.recorded.all()
    assert "EEG EKG1-REF" not in cmap.channels_used and "PHOTIC-REF" not in cmap.channels_used
    assert cmap.channels_used[STANDARD_CHANNELS.index("T7")] == "EEG T3-REF"


def test_positions_only_recording_is_interpolated(pylossless_edf):
    raw = read_recording(pylossless_edf)
    cmap = harmonize_channels(raw.ch_names, raw.get_channel_types(), path=pylossless_edf)
    assert cmap.position_source == "electrodes.tsv"
    assert len(cmap.channels_used) == 128
    # the dense BioSemi cap has an electrode within a few mm of every 10-20 site: all measured
    assert cmap.recorded.all() and cmap.channels_interpolated == []
    # without the electrodes around O1 the site is estimated, not measured
    from modeling_neuronarrator.eeg_io_neuronarrator import (
        NEAR_ELECTRODE_RAD,
        _bids_electrodes,
        _to_unit_sphere,
        standard_unit_positions,
    )

    positions = _bids_electrodes(pylossless_edf, raw.ch_names)
    unit = _to_unit_sphere(np.array(list(positions.values())))
    o1 = standard_unit_positions()[STANDARD_CHANNELS.index("O1")]
    far = {n: p for (n, p), u in zip(positions.items(), unit) if np.arccos(np.clip(u @ o1, -1, 1)) > 2 * NEAR_ELECTRODE_RAD}
    keep = [n for n in raw.ch_names if n in far]
    sparse = harmonize_channels(keep, positions=far, path=None)
    assert "O1" in sparse.channels_interpolated and "Cz" not in sparse.channels_interpolated
    assert not sparse.recorded[STANDARD_CHANNELS.index("O1")] and sparse.recorded[STANDARD_CHANNELS.index("Cz")]
    # without the sidecar, the built-in BioSemi montage gives the positions
    bare = harmonize_channels(raw.ch_names, raw.get_channel_types(), path=None)
    assert bare.position_source == "MNE montage biosemi128"
    # both put Cz on the BioSemi vertex electrode A1
    cz = STANDARD_CHANNELS.index("Cz")
    assert cmap.channels_used[int(np.argmax(cmap.matrix[cz]))] == "A1"
    assert bare.channels_used[int(np.argmax(bare.matrix[cz]))] == "A1"
    # a measured site is a copy of its electrode (a flat or popping electrode stays itself), an
    # estimated one a spline blend
    assert np.array_equal(np.sort(cmap.matrix, axis=1)[:, -1], np.ones(19)) and (np.abs(cmap.matrix) > 0).sum(1).max() == 1
    o1 = STANDARD_CHANNELS.index("O1")
    assert (np.abs(sparse.matrix[o1]) > 1e-6).sum() > 1 and np.isclose(sparse.matrix[o1].sum(), 1.0)


def test_montage_positions_are_used(synth):
    montage = mne.channels.make_standard_montage("biosemi32")
    info = mne.create_info(montage.ch_names, 256.0, "eeg")
    raw = mne.io.RawArray(np.zeros((32, 256)), info, verbose="ERROR").set_montage(montage)
    from modeling_neuronarrator.eeg_io_neuronarrator import raw_positions

    cmap = harmonize_channels(raw.ch_names, raw.get_channel_types(), positions=raw_positions(raw))
    # biosemi32 carries 10-20 names: found by name, no positions needed
    assert cmap.position_source == "names" and cmap.recorded.sum() >= 15


# --- bad files ----------------------------------------------------------------------------------

def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.edf: no such file.*check the path"):
        read_recording(tmp_path / "nope.edf")
    with pytest.raises(EEGInputError):
        read_recording(tmp_path / "nope.edf")


def test_unsupported_extension(tmp_path):
    path = tmp_path / "rec.xyz"
    path.write_bytes(b"1234")
    with pytest.raises(EEGInputError, match=r"rec\.xyz: unsupported file extension '\.xyz'.*EDF.*convert"):
        read_recording(path)


@pytest.mark.parametrize("companion, entry", [(".vmrk", ".vhdr"), (".eeg", ".vhdr"), (".fdt", ".set")])
def test_companion_file_suggests_the_entry_file(tmp_path, companion, entry):
    path = tmp_path / f"rec{companion}"
    path.write_bytes(b"x")
    with pytest.raises(EEGInputError, match=rf"rec\{companion}: .*companion file.*pass the \{entry} file instead \(rec\{entry}\)"):
        read_recording(path)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.edf"
    path.write_bytes(b"")
    with pytest.raises(EEGInputError, match=r"empty\.edf: the file is empty.*export the recording again"):
        read_recording(path)


def test_corrupt_file(tmp_path):
    path = tmp_path / "garbage.edf"
    path.write_bytes(np.random.default_rng(0).bytes(5000))
    with pytest.raises(EEGInputError, match=r"garbage\.edf: could not be read as EDF/EDF\+.*truncated, corrupt.*export it again"):
        read_recording(path)


def test_truncated_file(tmp_path, recording_writer, synth):
    path = recording_writer("edf", synth.background(seconds=60.0, sfreq=200.0), STANDARD_CHANNELS, 200.0)
    cut = tmp_path / "cut.edf"
    header_bytes = 256 * (1 + 19)
    with open(path, "rb") as src, open(cut, "wb") as dst:
        dst.write(src.read(header_bytes + 1000))  # header plus a sliver of the first record
    with pytest.raises(EEGInputError, match=r"cut\.edf: .*(truncated|corrupt)"):
        from modeling_neuronarrator import NeuroNarratorFeatureExtractor

        NeuroNarratorFeatureExtractor()(cut)


def test_truncated_brainvision_data(tmp_path, recording_writer, synth):
    path = recording_writer("vhdr", synth.background(seconds=30.0, sfreq=200.0), STANDARD_CHANNELS, 200.0)
    data_file = path.with_suffix(".eeg")
    data_file.unlink()
    with pytest.raises(EEGInputError, match=r"rec\.vhdr: could not be read as BrainVision"):
        read_recording(path)


def test_copy_keeps_companions(tmp_path, recording_writer, synth):
    # sanity of the fixture: a BrainVision set moved together still reads
    path = recording_writer("vhdr", synth.background(seconds=12.0, sfreq=200.0), STANDARD_CHANNELS, 200.0)
    moved = tmp_path / "moved"
    moved.mkdir()
    for suffix in (".vhdr", ".vmrk", ".eeg"):
        shutil.copy(path.with_suffix(suffix), moved / f"rec{suffix}")
    assert read_recording(moved / "rec.vhdr").n_times == 2400


def test_min_recorded_channels_is_documented():
    assert MIN_RECORDED_CHANNELS == 1  # the montage policy: any usable electrode
    cmap = harmonize_channels(["F3", "F4", "O1", "O2"])
    assert cmap.recorded.sum() == 4


# --- low-density policy: min_recorded_channels ----------------------------------------------------

_TWO_CHANNEL_REFUSAL = (
    "rec.edf: only 2 of the 19 10-20 channels found (['O1', 'O2']) and no electrode positions for the other "
    "EEG channels; at least 4 are needed to interpolate the rest"
)


def test_min_recorded_channels_can_be_raised_and_the_default_accepts_two():
    with pytest.raises(EEGInputError) as refused:
        harmonize_channels(["O1", "O2"], path="/data/rec.edf", min_recorded_channels=4)
    assert str(refused.value).startswith(_TWO_CHANNEL_REFUSAL)
    two = harmonize_channels(["O1", "O2"], path="/data/rec.edf")
    assert [n for n, r in zip(STANDARD_CHANNELS, two.recorded) if r] == ["O1", "O2"]
    assert np.isfinite(two.matrix).all() and two.matrix.shape == (19, 2)
    np.testing.assert_allclose(two.matrix.sum(axis=1), 1.0, atol=1e-6)
    # One channel: the spline from a single point is its constant term, every row copies it.
    one = harmonize_channels(["EEG CZ-REF", "EOG LOC"])
    assert one.channels_used == ["EEG CZ-REF"] and one.recorded.sum() == 1
    np.testing.assert_allclose(one.matrix, np.ones((19, 1)), atol=1e-6)
    with pytest.raises(EEGInputError, match="at least 3 are needed"):
        harmonize_channels(["O1", "O2"], min_recorded_channels=3)


def test_two_electrodes_off_the_19_go_through_the_position_path():
    """Sleep-EDF's case: Fpz (not one of the 19) and Pz with template positions; one 10-20 name is
    below the minimum of 2, so both electrodes are used by position, and only Pz counts as recorded."""
    from modeling_neuronarrator.eeg_io_neuronarrator import raw_positions

    info = mne.create_info(["Fpz", "Pz"], 100.0, "eeg")
    raw = mne.io.RawArray(np.zeros((2, 100)), info, verbose="ERROR").set_montage("spherical_1020")
    cmap = harmonize_channels(raw.ch_names, raw.get_channel_types(), positions=raw_positions(raw), min_recorded_channels=2)
    assert cmap.position_source == "montage" and cmap.channels_used == ["Fpz", "Pz"]
    assert [n for n, r in zip(STANDARD_CHANNELS, cmap.recorded) if r] == ["Pz"]
    assert np.isfinite(cmap.matrix).all()
    np.testing.assert_allclose(cmap.matrix.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(cmap.matrix[STANDARD_CHANNELS.index("Pz")], [0.0, 1.0], atol=1e-3)  # Pz ~ the Pz electrode
    fp1 = cmap.matrix[STANDARD_CHANNELS.index("Fp1")]
    assert fp1[0] > 0.8  # the frontal pole is estimated mostly from Fpz


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "4", None])
def test_min_recorded_channels_is_validated(bad):
    from modeling_neuronarrator import NeuroNarratorFeatureExtractor

    with pytest.raises(ValueError, match=r"min_recorded_channels must be an int >= 1"):
        harmonize_channels(["F3", "F4", "O1", "O2"], min_recorded_channels=bad)
    with pytest.raises(ValueError, match=r"min_recorded_channels must be an int >= 1"):
        NeuroNarratorFeatureExtractor(min_recorded_channels=bad)


def test_feature_extractor_min_recorded_channels(synth, tmp_path):
    import json

    from modeling_neuronarrator import NeuroNarratorFeatureExtractor

    data = synth.normal_background(seconds=20.0, sfreq=200.0, seed=3)[[STANDARD_CHANNELS.index("O1"), STANDARD_CHANNELS.index("O2")]]
    with pytest.raises(EEGInputError, match=r"only 2 of the 19 10-20 channels.*at least 4 are needed"):
        NeuroNarratorFeatureExtractor(min_recorded_channels=4)(data, sampling_rate=200.0, ch_names=["O1", "O2"])
    out = NeuroNarratorFeatureExtractor()(data, sampling_rate=200.0, ch_names=["O1", "O2"])
    assert [n for n, r in zip(STANDARD_CHANNELS, out["channel_mask"][0]) if r] == ["O1", "O2"]
    fe = NeuroNarratorFeatureExtractor(min_recorded_channels=2)
    out = fe(data, sampling_rate=200.0, ch_names=["O1", "O2"])
    assert out["eeg_values"].shape == (2, 19, 2000) and np.isfinite(out["eeg_values"]).all()
    assert [n for n, r in zip(STANDARD_CHANNELS, out["channel_mask"][0]) if r] == ["O1", "O2"]
    fe.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "preprocessor_config.json").read_text())["min_recorded_channels"] == 2
    assert NeuroNarratorFeatureExtractor.from_pretrained(tmp_path).min_recorded_channels == 2
    assert NeuroNarratorFeatureExtractor().min_recorded_channels == MIN_RECORDED_CHANNELS
