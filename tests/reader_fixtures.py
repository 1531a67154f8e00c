"""Fixtures in the real layouts and file formats of the 16 NeuroCorpus sources.

Every writer builds a folder tree that mirrors the real nesting and file names of a published
version of the source (TUH v2 and v3 trees, Sleep-EDF SC and ST, HMC with EDF and txt scorings,
ISRUC's subgroupI/II/III archives unpacked, ...), in the format the source publishes (EDF/EDF+ via
edfio, annotation-only EDF+ hypnograms by ``write_annotation_edf`` as the real Sleep-EDF and HMC
scorings are, GDF 1.25 by the small writer below, MATLAB files via scipy).

Label files: where a real one can be shipped (``tests/data/readers``, see its README: CHB-MIT
summaries, Siena seizure lists and subject_info.csv, copied from the epilepsy2bids 0.0.7 test data)
the fixture uses it as published and writes EDFs of the real length beside it (a low sampling
rate keeps them small: only the header matters to the index). TUH label files may not be
redistributed, so the TUSZ fixtures are written in the exact form of the real ones (seizure files
list only their seiz terms; seizure-free files one bckg term), checked against the epilepsy2bids
copy by ``test_tusz_real_csv_bi_tree`` when ``NEURONARRATOR_E2B_DATA`` points at it.

Channel names are written out literally as the real files have them (never imported from the
readers' own tables).
"""

from __future__ import annotations

import datetime
import shutil
import struct
from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = [
    "REAL_LABELS",
    "TUH_CHANNELS",
    "make_bciciv2a",
    "make_chbmit",
    "make_chbmit_signals",
    "make_eegmat",
    "make_eegmmidb",
    "make_helsinki",
    "make_hmc",
    "make_isruc",
    "make_isruc_renamed",
    "make_seed",
    "make_siena",
    "make_siena_quirks",
    "make_sleep_edf",
    "make_tuab",
    "make_tuab_v2",
    "make_tuar",
    "make_tuep",
    "make_tuev",
    "make_tusl",
    "make_tusz",
    "write_annotation_edf",
    "write_edf",
    "write_gdf",
]

REAL_LABELS = Path(__file__).parent / "data" / "readers"
# First channels of a real TUSZ 01_tcp_ar EDF header (epilepsy2bids tests/data/tuh).
TUH_CHANNELS = ("EEG FP1-REF", "EEG C3-REF", "EEG O2-REF")
TUH_AR_CHANNELS = ("EEG FP1-REF", "EEG FP2-REF", "EEG F3-REF", "EEG F4-REF", "EEG T1-REF", "EEG EKG1-REF", "PHOTIC-REF", "IBI")
TUH_LE_CHANNELS = ("EEG FP1-LE", "EEG FP2-LE", "EEG A1-LE", "EEG OZ-LE", "EEG PG1-LE", "PHOTIC PH", "DC1-DC")
NEDC_HEADER = (
    "# version = csv_v1.0.0\n# bname = {stem}\n# duration = {duration:.2f} secs\n"
    "# montage_file = $NEDC_NFC/lib/nedc_eas_default_montage.txt\n#\n"
    "channel,start_time,stop_time,label,confidence\n"
)


def _signal(n_channels: int, n_samples: int, sfreq: float, seed: int = 0) -> np.ndarray:
    """(n_channels, n_samples) microvolts: a 10 Hz rhythm plus noise, different per channel."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_samples) / sfreq
    return np.stack([20 * np.sin(2 * np.pi * (8 + c) * t) + 5 * rng.standard_normal(n_samples) for c in range(n_channels)])


def write_edf(
    path: Path,
    ch_names: Sequence[str],
    sfreq: float = 128.0,
    seconds: int = 20,
    annotations: Sequence[tuple[float, float, str]] = (),
    starttime: datetime.time | None = None,
    data_uv: np.ndarray | None = None,
) -> Path:
    """Write an EDF (EDF+C when ``annotations`` are given) with µV signals; returns ``path``."""
    import edfio

    path.parent.mkdir(parents=True, exist_ok=True)
    data = _signal(len(ch_names), int(sfreq * seconds), sfreq) if data_uv is None else data_uv
    signals = [
        edfio.EdfSignal(row.astype(np.float64), sfreq, label=name, physical_dimension="uV", physical_range=(-500.0, 500.0))
        for name, row in zip(ch_names, data)
    ]
    edf = edfio.Edf(
        signals,
        annotations=[edfio.EdfAnnotation(onset, duration, text) for onset, duration, text in annotations] or None,
        starttime=starttime,
    )
    edf.write(path)
    return path


def write_annotation_edf(path: Path, annotations: Sequence[tuple[float, float, str]], start: datetime.datetime | None = None) -> Path:
    """Write an EDF+C file with no signal but ``EDF Annotations`` (one record of duration 0), the
    form of the real Sleep-EDF ``*-Hypnogram.edf`` and HMC ``*_sleepscoring.edf`` files."""
    start = start or datetime.datetime(1989, 4, 24, 16, 13)
    tal = "+0\x14\x14\x00"
    for onset, duration, text in annotations:
        tal += f"+{onset:g}" + (f"\x15{duration:g}" if duration else "") + f"\x14{text}\x14\x00"
    raw = tal.encode("latin-1")
    n_samples = len(raw) // 2 + 1
    raw = raw.ljust(2 * n_samples, b"\x00")

    def f(value, size: int) -> bytes:
        return str(value).encode("latin-1")[:size].ljust(size, b" ")

    header = (
        f("0", 8) + f("X X X X", 80) + f("Startdate " + start.strftime("%d-%b-%Y").upper() + " X X X", 80)
        + f(start.strftime("%d.%m.%y"), 8) + f(start.strftime("%H.%M.%S"), 8) + f(512, 8) + f("EDF+C", 44)
        + f(1, 8) + f(0, 8) + f(1, 4)
    )  # fmt: skip
    signal = (
        f("EDF Annotations", 16) + f("", 80) + f("", 8) + f(-32768, 8) + f(32767, 8) + f(-32768, 8) + f(32767, 8)
        + f("", 80) + f(n_samples, 8) + f("", 32)
    )  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(header + signal + raw)
    return path


def write_gdf(
    path: Path,
    ch_names: Sequence[str],
    sfreq: int,
    data_uv: np.ndarray,
    events: Sequence[tuple[float, int, float]] = (),
) -> Path:
    """Write a minimal valid GDF 1.25 file (the version of the BCI Competition IV files).

    Layout: 256-byte fixed header, 256 bytes per channel, float32 samples (GDF type 16, so that
    NaN gaps between runs survive, as in the competition files) in 1 s records (channel blocks per
    record, like EDF), then an event table in mode 3 (position, type, channel, duration).
    ``events`` are (onset_s, code, duration_s).
    """
    n_channels, n_samples = data_uv.shape
    n_records = int(np.ceil(n_samples / sfreq))
    padded = np.zeros((n_channels, n_records * sfreq))
    padded[:, :n_samples] = data_uv
    phys = 3276.7  # digital units of 0.1 µV
    digital = (padded / phys * 32767).astype("<f4")

    def field(text: str, size: int) -> bytes:
        return text.encode("latin-1")[:size].ljust(size, b" ")

    header_bytes = 256 * (n_channels + 1)
    fixed = (
        b"GDF 1.25"
        + field("X X", 80)
        + field("fixture", 80)
        + field("2008010112000000", 16)
        + struct.pack("<q", header_bytes)
        + bytes(8) * 3  # equipment, hospital, technician ids
        + bytes(20)
        + struct.pack("<q", n_records)
        + struct.pack("<II", 1, 1)  # record duration 1/1 s
        + struct.pack("<I", n_channels)
    )
    assert len(fixed) == 256
    n = n_channels
    variable = (
        b"".join(field(name, 16) for name in ch_names)
        + b"".join(field("", 80) for _ in range(n))
        + b"".join(field("uV", 8) for _ in range(n))
        + struct.pack(f"<{n}d", *[-phys] * n)
        + struct.pack(f"<{n}d", *[phys] * n)
        + struct.pack(f"<{n}q", *[-32767] * n)
        + struct.pack(f"<{n}q", *[32767] * n)
        + b"".join(field("HP:0.5Hz LP:100Hz", 80) for _ in range(n))
        + struct.pack(f"<{n}i", *[sfreq] * n)
        + struct.pack(f"<{n}i", *[16] * n)  # GDF type 16 = float32
        + bytes(32 * n)
    )
    assert len(variable) == 256 * n
    records = digital.reshape(n_channels, n_records, sfreq).transpose(1, 0, 2)  # (record, channel, sample)
    positions = [round(onset * sfreq) + 1 for onset, _, _ in events]  # 1-based
    codes = [code for _, code, _ in events]
    durations = [round(d * sfreq) for _, _, d in events]
    rate = struct.pack("<I", sfreq)[:3]
    table = (
        bytes([3])
        + rate
        + struct.pack("<I", len(events))
        + struct.pack(f"<{len(events)}I", *positions)
        + struct.pack(f"<{len(events)}H", *codes)
        + struct.pack(f"<{len(events)}H", *[0] * len(events))
        + struct.pack(f"<{len(events)}I", *durations)
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(fixed + variable + records.tobytes() + table)
    return path


def _nedc(path: Path, stem: str, duration: float, rows: Sequence[tuple[str, float, float, str]]) -> None:
    text = NEDC_HEADER.format(stem=stem, duration=duration)
    text += "".join(f"{ch},{start:.4f},{stop:.4f},{label},1.0000\n" for ch, start, stop, label in rows)
    path.write_text(text)


# --- TUH ------------------------------------------------------------------------------------
def make_tuab(root: Path) -> Path:
    """TUAB v3.0.x: ``edf/{train,eval}/{normal,abnormal}/01_tcp_ar/<patient>_sNNN_tNNN.edf`` (flat)."""
    for split, status, stem in [
        ("train", "normal", "aaaaaaaa_s001_t000"),
        ("train", "abnormal", "aaaaaaab_s002_t001"),
        ("eval", "normal", "aaaaaaac_s001_t000"),
        ("eval", "abnormal", "aaaaaaad_s001_t000"),
    ]:
        write_edf(root / "edf" / split / status / "01_tcp_ar" / f"{stem}.edf", TUH_CHANNELS, seconds=12)
    return root


def make_tuab_v2(root: Path) -> Path:
    """TUAB v2.0.0: ``v2.0.0/edf/{train,eval}/{normal,abnormal}/01_tcp_ar/<3 digits>/<8-digit patient>/
    s<NNN>_<YYYY>_<MM>_<DD>/<patient>_s<NNN>_t<NNN>.edf`` (braindecode ``datasets/tuh.py`` paths)."""
    write_edf(root / "v2.0.0/edf/train/normal/01_tcp_ar/000/00000021/s004_2013_08_15/00000021_s004_t000.edf", TUH_CHANNELS, seconds=12)
    write_edf(root / "v2.0.0/edf/eval/abnormal/01_tcp_ar/007/00000768/s003_2012_04_06/00000768_s003_t000.edf", TUH_CHANNELS, seconds=12)
    return root


def make_tuev(root: Path) -> Path:
    train = write_edf(root / "edf/train/aaaaaaar/aaaaaaar_00000001.edf", TUH_CHANNELS, seconds=20)
    # The same spsw event on two channels (deduplicated), a bckg span, and touching eyem events.
    train.with_suffix(".rec").write_text("13,2.0,3.0,1\n14,2.0,3.0,1\n0,5.0,10.0,6\n3,12.0,13.0,4\n3,13.0,14.0,4\n")
    ev = write_edf(root / "edf/eval/000/pled_000_a_1.edf", TUH_CHANNELS, seconds=20)
    ev.with_suffix(".rec").write_text("20,1.0,2.0,3\n21,1.0,2.0,3\n")
    return root


# TUSZ v2.0.x files as published: a seizure file's .csv_bi lists ONLY its seiz terms, a
# seizure-free file one bckg term over the whole file (real copies: epilepsy2bids tests/data/tuh;
# the terms of aaaaaool_s004_t002 and the durations are those of the real files).
TUSZ_FILES = [
    # split, patient, session, montage, stem, duration, term rows, per-channel typed rows
    ("dev", "aaaaaool", "s004_2013", "01_tcp_ar", "aaaaaool_s004_t002", 720,
     [("TERM", 224.0071, 258.9804, "seiz"), ("TERM", 408.9508, 430.9425, "seiz")],
     [("FP1-F7", 224.0071, 258.9804, "cpsz"), ("F7-T3", 230.0, 258.9804, "cpsz"), ("T3-T5", 408.9508, 430.9425, "cpsz")]),
    ("dev", "aaaaahln", "s001_2008", "02_tcp_le", "aaaaahln_s001_t000", 1275,
     [("TERM", 0.0, 1275.0, "bckg")], [("FP1-F7", 0.0, 1275.0, "bckg")]),
    ("eval", "aaaaarnq", "s002_2009", "03_tcp_ar_a", "aaaaarnq_s002_t001", 300,
     [("TERM", 12.5, 64.25, "seiz")], [("FP1-F7", 12.5, 64.25, "gnsz"), ("FP2-F8", 12.5, 64.25, "gnsz")]),
    ("train", "aaaaakpu", "s001_2003", "01_tcp_ar", "aaaaakpu_s001_t000", 60,
     [("TERM", 0.0, 60.0, "bckg")], [("FP1-F7", 0.0, 60.0, "bckg")]),
]  # fmt: skip


def make_tusz(root: Path) -> Path:
    """TUSZ v2.0.x: ``edf/{train,dev,eval}/<patient>/<session>/<montage>/<stem>.{edf,csv,csv_bi}``."""
    for split, patient, session, montage, stem, duration, term_rows, channel_rows in TUSZ_FILES:
        names = TUH_LE_CHANNELS if montage == "02_tcp_le" else TUH_AR_CHANNELS
        edf = write_edf(root / "edf" / split / patient / session / montage / f"{stem}.edf", names, sfreq=4.0, seconds=duration)
        _nedc(edf.with_suffix(".csv_bi"), stem, float(duration), term_rows)
        _nedc(edf.with_suffix(".csv"), stem, float(duration), channel_rows)
    return root


def make_tuar(root: Path) -> Path:
    edf = write_edf(root / "edf/01_tcp_ar/aaaaaaju_s005_t000.edf", TUH_CHANNELS, seconds=20)
    _nedc(edf.with_suffix(".csv"), edf.stem, 20.0, [
        ("FP1-F7", 1.0, 3.0, "eyem"), ("FP2-F8", 1.5, 3.5, "eyem"), ("T3-T5", 6.0, 8.0, "eyem_musc"), ("C3-CZ", 10.0, 12.0, "elec"),
    ])  # fmt: skip
    # A seizure side file of the same recording must not be taken for its artifact labels.
    _nedc(edf.with_name(f"{edf.stem}_seiz.csv"), edf.stem, 20.0, [("FP1-F7", 0.0, 20.0, "seiz")])
    write_edf(root / "edf/02_tcp_le/aaaaaakb_s001_t002.edf", ("EEG FP1-LE", "EEG C3-LE"), seconds=12)  # no csv
    return root


def make_tusl(root: Path) -> Path:
    edf = write_edf(root / "edf/aaaaaanr/s001_2014_03_05/01_tcp_ar/aaaaaanr_s001_t001.edf", TUH_CHANNELS, seconds=30)
    _nedc(edf.with_suffix(".csv"), edf.stem, 30.0, [("TERM", 0.0, 10.0, "slow"), ("TERM", 10.0, 20.0, "bckg"), ("TERM", 20.0, 30.0, "seiz")])
    return root


def make_tuep(root: Path) -> Path:
    """TUEP v2.0.1 (``00_epilepsy``/``01_no_epilepsy``) and a v2.0.0-style top folder (``epilepsy_edf``)."""
    write_edf(root / "00_epilepsy/aaaaaawu/s001_2005_01_01/02_tcp_le/aaaaaawu_s001_t000.edf", ("EEG FP1-LE", "EEG C3-LE"), seconds=12)
    write_edf(root / "01_no_epilepsy/aaaaabdn/s003_2012_06_07/01_tcp_ar/aaaaabdn_s003_t001.edf", TUH_CHANNELS, seconds=12)
    write_edf(root / "old/epilepsy_edf/aaaaaaqq/s002_2010_02_02/01_tcp_ar/aaaaaaqq_s002_t000.edf", TUH_CHANNELS, seconds=12)
    return root


# --- PhysioNet and others --------------------------------------------------------------------
# The CHB-MIT channel list (real EDF header of chb05_01, epilepsy2bids tests/data/chbmit), with a
# placeholder "-" channel as some cases have.
CHB_CHANNELS = (
    "FP1-F7", "F7-T7", "T7-P7", "P7-O1", "FP1-F3", "F3-C3", "C3-P3", "P3-O1", "FP2-F4", "F4-C4", "C4-P4", "P4-O2",
    "FP2-F8", "F8-T8", "T8-P8", "P8-O2", "FZ-CZ", "CZ-PZ", "P7-T7", "T7-FT9", "FT9-FT10", "FT10-T8", "-", "T8-P8",
)  # fmt: skip
CHB_ELECTRODES = sorted({e for name in CHB_CHANNELS if name != "-" for e in name.split("-")})


def chbmit_potentials(seconds: int, sfreq: float = 128.0, seed: int = 3) -> np.ndarray:
    """Referential potentials (µV) of ``CHB_ELECTRODES`` from which the fixture's bipolar EDFs are made."""
    return _signal(len(CHB_ELECTRODES), int(seconds * sfreq), sfreq, seed=seed)


def _chbmit_bipolar(seconds: int) -> np.ndarray:
    potentials = dict(zip(CHB_ELECTRODES, chbmit_potentials(seconds)))
    rows = []
    for name in CHB_CHANNELS:
        if name == "-":
            rows.append(np.zeros(int(seconds * 128.0)))
        else:
            a, b = name.split("-")
            rows.append(potentials[a] - potentials[b])
    return np.stack(rows)


# Files of the real summaries written as EDFs (1 h each; "Seizure Start Time" form in chb05,
# "Seizure 1 Start Time" form in chb08). chb05_99 is not in the summary.
CHBMIT_FILES = {"chb05": ("chb05_01", "chb05_06", "chb05_99"), "chb08": ("chb08_02", "chb08_03", "chb08_21")}


def make_chbmit(root: Path) -> Path:
    """Two real cases: chb05 and chb08 with their published summaries, EDFs of the real length."""
    for case, stems in CHBMIT_FILES.items():
        (root / case).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REAL_LABELS / "chbmit" / case / f"{case}-summary.txt", root / case / f"{case}-summary.txt")
        for stem in stems:
            write_edf(root / case / f"{stem}.edf", CHB_CHANNELS[:4], sfreq=1.0, seconds=3600)
    return root


def make_chbmit_signals(root: Path) -> Path:
    """Short chb01/chb21 recordings with a full bipolar montage of known potentials (load_raw and the
    chb21 = chb01 rule); summaries in the real "Seizure 1 Start Time" form."""
    case = root / "chb01"
    write_edf(case / "chb01_03.edf", CHB_CHANNELS, seconds=40, data_uv=_chbmit_bipolar(40))
    (case / "chb01-summary.txt").write_text(
        "Data Sampling Rate: 256 Hz\n*************************\n\nChannels in EDF Files:\n**********************\n"
        "Channel 1: FP1-F7\nChannel 2: F7-T7\n\n"
        "File Name: chb01_03.edf\nFile Start Time: 13:43:04\nFile End Time: 14:43:04\nNumber of Seizures in File: 1\n"
        "Seizure Start Time: 12 seconds\nSeizure End Time: 25 seconds\n\n"
    )
    case21 = root / "chb21"
    write_edf(case21 / "chb21_19.edf", CHB_CHANNELS, seconds=40, data_uv=_chbmit_bipolar(40))
    (case21 / "chb21-summary.txt").write_text(
        "Data Sampling Rate: 256 Hz\n\nFile Name: chb21_19.edf\nFile Start Time: 10:00:00\nFile End Time: 11:00:00\n"
        "Number of Seizures in File: 2\nSeizure 1 Start Time: 2 seconds\nSeizure 1 End Time: 6 seconds\n"
        "Seizure 2 Start Time: 30 seconds\nSeizure 2 End Time: 35 seconds\n"
    )
    return root


# A subset of the real Siena EDF channels (PN00-1 header: EEG Fp1 ... EEG F10, EKG EKG, SPO2, HR,
# 1, 2, MK at 512 Hz).
SIENA_CHANNELS = ("EEG Fp1", "EEG C3", "EEG O2", "EKG EKG")
# (patient, file, registration start, registration end) of the real PN00 and PN16 lists.
SIENA_FILES = [
    ("PN00", "PN00-1", (19, 39, 33), (20, 22, 58)),
    ("PN00", "PN00-2", (2, 18, 17), (2, 56, 19)),
    ("PN00", "PN00-3", (18, 15, 44), (18, 57, 13)),
    ("PN00", "PN00-4", (20, 51, 43), (21, 26, 25)),
    ("PN00", "PN00-5", (22, 22, 4), (22, 57, 27)),
    ("PN16", "PN16-1", (20, 45, 21), (23, 3, 11)),
    ("PN16", "PN16-2", (0, 53, 55), (3, 28, 52)),
]


def _clock_s(hms: tuple[int, int, int]) -> int:
    return hms[0] * 3600 + hms[1] * 60 + hms[2]


def make_siena(root: Path) -> Path:
    """PN00 and PN16 with their published seizure lists and ``subject_info.csv`` (tests/data/readers),
    EDFs as long as the registration, starting at the registration start (as the real headers do)."""
    shutil.copyfile(REAL_LABELS / "siena" / "subject_info.csv", root / "subject_info.csv")
    for patient, stem, start, end in SIENA_FILES:
        folder = root / patient
        folder.mkdir(parents=True, exist_ok=True)
        listed = folder / f"Seizures-list-{patient}.txt"
        if not listed.exists():
            shutil.copyfile(REAL_LABELS / "siena" / patient / listed.name, listed)
        seconds = (_clock_s(end) - _clock_s(start)) % 86400
        write_edf(folder / f"{stem}.edf", SIENA_CHANNELS, sfreq=1.0, seconds=seconds, starttime=datetime.time(*start))
    return root


def make_siena_quirks(root: Path) -> Path:
    """Lists with the other published quirks (epilepsy2bids ``load_annotations/siena.py``): ``PN01.edf``
    for PN01-1 with two seizures, ``PNO6`` with a letter O, ``1 6.49.25`` (PN10), ``PN11-.edf``, a PN12
    block without its registration line, and an end before its start that no one-hour move fixes."""
    def edf(patient: str, stem: str, seconds: int, start: tuple[int, int, int]) -> None:
        write_edf(root / patient / f"{stem}.edf", SIENA_CHANNELS, sfreq=1.0, seconds=seconds, starttime=datetime.time(*start))

    edf("PN01", "PN01-1", 3000, (21, 51, 2))
    (root / "PN01/Seizures-list-PN01.txt").write_text(
        "Seizures list - PN01\n\nFile name: PN01.edf\nRegistration start time: 21.51.02\nRegistration end time: 22.41.02\n\n"
        "Seizure n 1\nStart time: 22.10.02\nEnd time: 22.11.02\n\nSeizure n 2\nStart time: 22.30.02\nEnd time: 22.30.42\n"
    )
    edf("PN06", "PN06-1", 1200, (4, 21, 22))
    (root / "PN06/Seizures-list-PN06.txt").write_text(
        "Seizure n 1\nFile name: PNO6-1.edf\nRegistration start time: 04.21.22\nRegistration end time: 04.41.22\n"
        "Seizure start time: 04.31.22\nSeizure end time: 04.32.22\n"
    )
    edf("PN10", "PN10-7.8.9", 1800, (16, 49, 25))
    (root / "PN10/Seizures-list-PN10.txt").write_text(
        "Seizure n 1\nFile name: PN10-7.8.9.edf\nRegistration start time:1 6.49.25\nRegistration end time: 17.19.25\n"
        "Seizure start time: 17.00.25\nSeizure end time: 17.01.05\n"
    )
    edf("PN11", "PN11-1", 1200, (9, 0, 0))
    (root / "PN11/Seizures-list-PN11.txt").write_text(
        "Seizure n 1\nFile name: PN11-.edf\nRegistration start time: 09.00.00\nRegistration end time: 09.20.00\n"
        "Seizure start time: 09.10.00\nSeizure end time: 09.10.50\n"
    )
    edf("PN12", "PN12-1.2", 3600, (16, 0, 0))
    edf("PN12", "PN12-3", 1800, (20, 0, 0))
    (root / "PN12/Seizures-list-PN12.txt").write_text(
        "Seizure n 1\nFile name: PN12-1.2.edf\nRegistration start time: 16.00.00\nRegistration end time: 17.00.00\n"
        "Seizure start time: 16.10.00\nSeizure end time: 16.11.00\n\n"
        "Seizure n 2\nFile name: PN12-1.2.edf\nSeizure start time: 16.40.00\nSeizure end time: 16.41.30\n\n"
        "Seizure n 3\nFile name: PN12-3.edf\nSeizure start time: 20.05.00\nSeizure end time: 20.06.00\n\n"
        # An end before its start that no one-hour move fixes: refused, left unlabelled.
        "Seizure n 4\nFile name: PN12-3.edf\nRegistration start time: 20.00.00\nRegistration end time: 20.30.00\n"
        "Seizure start time: 20.20.00\nSeizure end time: 20.12.00\n"
    )
    (root / "subject_info.csv").write_text(
        " patient_id, age_years, gender, seizure, localization, lateralization, eeg_channel, number_seizures, rec_time_minutes\n"
        "PN01,46,Male,IAS,T,L,29,2,809\nPN06,36,Male,FBTC,T,L,29,5,722\nPN10,25,Male,FBTC,F,Bilateral,20,10,1002\n"
        "PN11,58,Female,IAS,T,R,29,1,145\nPN12,71,Male,IAS,T,L,29,4,246\n"
    )
    return root


# Sleep-EDF Expanded channels as the real PSG headers name them (braindecode sleep_physionet,
# PhysioNet page); SC's EMG, respiration, temperature and marker are 1 Hz, ST's EMG is 100 Hz.
SLEEP_EDF_CHANNELS = ("EEG Fpz-Cz", "EEG Pz-Oz", "EOG horizontal")
SLEEP_EDF_SC_SLOW = ("Resp oro-nasal", "EMG submental", "Temp rectal", "Event marker")


def _write_sleep_psg(path: Path, seconds: int, slow: Sequence[str], fast_extra: Sequence[str] = ()) -> Path:
    import edfio

    fast = (*SLEEP_EDF_CHANNELS, *fast_extra)
    data = _signal(len(fast), seconds * 100, 100.0)
    signals = [edfio.EdfSignal(row, 100.0, label=name, physical_dimension="uV", physical_range=(-500.0, 500.0)) for name, row in zip(fast, data)]
    signals += [edfio.EdfSignal(np.zeros(seconds), 1.0, label=name, physical_dimension="", physical_range=(-1.0, 1.0)) for name in slow]
    path.parent.mkdir(parents=True, exist_ok=True)
    edfio.Edf(signals, starttime=datetime.time(16, 13)).write(path)
    return path


def make_sleep_edf(root: Path) -> Path:
    """``sleep-cassette/SC4001E0-PSG.edf`` + ``SC4001EC-Hypnogram.edf`` and ``sleep-telemetry/ST7011J0-PSG.edf`` +
    ``ST7011JP-Hypnogram.edf`` (hypnograms: annotation-only EDF+)."""
    sc = root / "sleep-cassette"
    _write_sleep_psg(sc / "SC4001E0-PSG.edf", 300, SLEEP_EDF_SC_SLOW)
    write_annotation_edf(sc / "SC4001EC-Hypnogram.edf", [
        (0, 120, "Sleep stage W"), (120, 30, "Sleep stage 1"), (150, 60, "Sleep stage 2"),
        (210, 30, "Sleep stage 4"), (240, 30, "Sleep stage R"), (270, 30, "Sleep stage ?"),
    ])  # fmt: skip
    st = root / "sleep-telemetry"
    _write_sleep_psg(st / "ST7011J0-PSG.edf", 120, ("Event marker",), fast_extra=("EMG submental",))
    write_annotation_edf(st / "ST7011JP-Hypnogram.edf", [(0, 60, "Sleep stage 3"), (60, 30, "Movement time"), (90, 30, "Sleep stage W")])
    _write_sleep_psg(sc / "SC4002E0-PSG.edf", 30, SLEEP_EDF_SC_SLOW)  # no hypnogram: skipped
    return root


HMC_CHANNELS = ("EEG F4-M1", "EEG C4-M1", "EEG O2-M1", "EEG C3-M2", "EOG E1-M2", "EOG E2-M2", "EMG chin", "ECG")


def make_hmc(root: Path) -> Path:
    """HMC v1.1 ``recordings/``: SN001 scored in an annotation-only EDF+ (with the channel-linked
    lights events), SN002 in the ``.txt`` export only."""
    rec = root / "recordings"
    write_edf(rec / "SN001.edf", HMC_CHANNELS, seconds=120)
    write_annotation_edf(rec / "SN001_sleepscoring.edf", [
        (0, 0, "Lights off@@EEG F4-A1"), (0, 30, "Sleep stage W"), (30, 30, "Sleep stage N1"), (60, 30, "Sleep stage N2"),
        (90, 30, "Sleep stage R"), (120, 0, "Lights on@@EEG F4-A1"),
    ])  # fmt: skip
    write_edf(rec / "SN002.edf", HMC_CHANNELS, seconds=90)
    (rec / "SN002_sleepscoring.txt").write_text(
        "Date, Time, Recording onset, Duration, Annotation, Linked channel\n"
        "2018-01-01, 22:00:00, 0.0, 30.0, Sleep stage N3, \n"
        "2018-01-01, 22:00:30, 30.0, 30.0, Sleep stage N3, \n"
        "2018-01-01, 22:01:00, 60.0, 30.0, Sleep stage W, \n"
    )
    return root


ISRUC_CHANNELS = ("F3-A2", "C3-A2", "O1-A2", "LOC-A2", "X1")


def _isruc_rec(path: Path, seconds: int, codes: Sequence[int]) -> None:
    edf = write_edf(path.with_suffix(".edf"), ISRUC_CHANNELS, sfreq=50.0, seconds=seconds)
    edf.rename(path)  # ISRUC ships EDF under a .rec extension
    path.with_name(f"{path.stem}_1.txt").write_text("".join(f"{c}\n" for c in codes) + "\n")
    path.with_name(f"{path.stem}_2.txt").write_text("".join("0\n" for _ in codes))


def make_isruc(root: Path) -> Path:
    """The official archives unpacked: ``subgroupI/<n>/<n>.rec``, ``subgroupII/<n>/<s>/<s>.rec``,
    ``subgroupIII/<n>/<n>.rec`` (Roman numerals, physioex isruc/preprocess.py), archives left beside."""
    _isruc_rec(root / "subgroupI/1/1.rec", 90, [0, 1, 5, 2])  # one label more than the signal holds
    _isruc_rec(root / "subgroupII/8/1/1.rec", 60, [3, 2])
    _isruc_rec(root / "subgroupII/8/2/2.rec", 60, [2, 2])
    _isruc_rec(root / "subgroupIII/2/2.rec", 60, [0, 4])  # code 4 is not a stage
    (root / "subgroupI/1.rar").write_bytes(b"Rar!\x1a\x07\x00")  # the downloaded archive, not read
    return root


def make_isruc_renamed(root: Path) -> Path:
    """The common user rename: ``Subgroup_1/<n>/<n>.rec``, ``Subgroup_3/<n>/<n>.rec``."""
    _isruc_rec(root / "Subgroup_1/1/1.rec", 60, [0, 1])
    _isruc_rec(root / "Subgroup_3/2/2.rec", 60, [2, 3])
    return root


def make_eegmmidb(root: Path) -> Path:
    names = ("Fc5.", "Cz..", "Fp1.", "Iz..")
    write_edf(root / "S001/S001R01.edf", names, sfreq=160.0, seconds=12, annotations=[(0.0, 12.0, "T0")])
    write_edf(root / "S001/S001R04.edf", names, sfreq=160.0, seconds=20,
              annotations=[(0.0, 4.2, "T0"), (4.2, 4.1, "T1"), (8.3, 4.2, "T0"), (12.5, 4.1, "T2")])  # fmt: skip
    write_edf(root / "S002/S002R05.edf", names, sfreq=160.0, seconds=20,
              annotations=[(0.0, 4.2, "T0"), (4.2, 4.1, "T2"), (8.3, 4.2, "T0"), (12.5, 4.1, "T1")])  # fmt: skip
    return root


BCI_CHANNELS = ("EEG-Fz", "EEG-0", "EEG-C3", "EEG-Cz", "EOG-left")
# The 25 BNCI Horizon columns: 22 EEG in the MOABB order, then 3 EOG.
BNCI_COLUMNS = 25


def _bci_trials(codes: Sequence[int], first_trial_s: float = 4.0, rejected: Sequence[int] = ()) -> list[tuple[float, int, float]]:
    events = [(0.5, 32766, 0.0), (1.0, 276, 1.5)]  # new run, 1.5 s eyes-open block
    for i, code in enumerate(codes):
        start = first_trial_s + 8.0 * i
        events.append((start, 768, 6.0))
        if i in rejected:
            events.append((start, 1023, 6.0))
        events.append((start + 2.0, code, 1.25))
    return events


def make_bciciv2a(root: Path) -> Path:
    """Subject A01 with both sessions (A01T, A01E) as every real subject has, A02E without its true
    labels, and subject A03 in the BNCI Horizon packaging."""
    sfreq = 50
    data = np.asarray(_signal(len(BCI_CHANNELS), 40 * sfreq, sfreq))
    data[:, 100:110] = np.nan  # runs are separated by NaN samples
    write_gdf(root / "A01T.gdf", BCI_CHANNELS, sfreq, data, _bci_trials([769, 772, 771, 770], rejected=[2]))
    write_gdf(root / "A01E.gdf", BCI_CHANNELS, sfreq, data, _bci_trials([783, 783, 783]))
    import scipy.io

    (root / "true_labels").mkdir(parents=True, exist_ok=True)
    (root / "bnci").mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(root / "true_labels/A01E.mat", {"classlabel": np.array([[2], [3], [4]], dtype=np.uint8)})
    scipy.io.savemat(root / "true_labels/A01T.mat", {"classlabel": np.array([[1], [4], [3], [2]], dtype=np.uint8)})
    write_gdf(root / "A02E.gdf", BCI_CHANNELS, sfreq, data, _bci_trials([783]))  # no labels file
    # BNCI Horizon packaging of another subject: a calibration run without trials, then a run
    # with three trials (the second flagged as an artifact).
    rng = np.random.default_rng(2)
    empty = np.zeros((0, 1))
    runs = np.empty((1, 2), dtype=object)
    runs[0, 0] = {"X": rng.normal(0, 10, (500, BNCI_COLUMNS)), "trial": empty, "y": empty, "fs": 250, "artifacts": empty}
    runs[0, 1] = {
        "X": rng.normal(0, 10, (5000, BNCI_COLUMNS)),
        "trial": np.array([[1], [1001], [2501]]),
        "y": np.array([[4], [1], [2]]),
        "fs": 250,
        "artifacts": np.array([[0], [1], [0]]),
    }
    scipy.io.savemat(root / "bnci/A03T.mat", {"data": runs})
    return root


# SEED's 62 channels in the order of its channel_62_pos.locs (torcheeg SEED_CHANNEL_LIST).
SEED_CHANNEL_NAMES = (
    "FP1", "FPZ", "FP2", "AF3", "AF4", "F7", "F5", "F3", "F1", "FZ", "F2", "F4", "F6", "F8", "FT7", "FC5",
    "FC3", "FC1", "FCZ", "FC2", "FC4", "FC6", "FT8", "T7", "C5", "C3", "C1", "CZ", "C2", "C4", "C6", "T8",
    "TP7", "CP5", "CP3", "CP1", "CPZ", "CP2", "CP4", "CP6", "TP8", "P7", "P5", "P3", "P1", "PZ", "P2", "P4",
    "P6", "P8", "PO7", "PO5", "PO3", "POZ", "PO4", "PO6", "PO8", "CB1", "O1", "OZ", "O2", "CB2",
)  # fmt: skip


def make_seed(root: Path) -> Path:
    import scipy.io

    folder = root / "Preprocessed_EEG"
    folder.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(folder / "label.mat", {"label": np.array([[1, 0, -1, -1, 0, 1, -1, 0, 1, 1, 0, -1, 0, 1, -1]])})
    n = len(SEED_CHANNEL_NAMES)
    rng = np.random.default_rng(1)
    scipy.io.savemat(folder / "1_20131027.mat", {"djc_eeg1": rng.normal(0, 20, (n, 400)), "djc_eeg3": rng.normal(0, 20, (n, 600))})
    scipy.io.savemat(folder / "2_20140404.mat", {"jl_eeg2": rng.normal(0, 20, (n, 400))})
    (folder / "readme.txt").write_text("SEED preprocessed EEG\n")
    return root


EEGMAT_CHANNELS = ("EEG Fp1", "EEG T3", "EEG O2", "EEG A2-A1", "ECG ECG")


def make_eegmat(root: Path) -> Path:
    for name in ("Subject00_1", "Subject00_2", "Subject07_1"):
        write_edf(root / f"{name}.edf", EEGMAT_CHANNELS, sfreq=100.0, seconds=12)
    (root / "subject-info.csv").write_text("Subject,Age,Gender,Recording year,Number of subtractions,Count quality\nSubject00,21,F,2011,9.7,0\n")
    return root


HELSINKI_CHANNELS = ("EEG Fp1-REF", "EEG C3-REF", "ECG EKG-REF", "Resp Effort-REF")


def make_helsinki(root: Path) -> Path:
    """The current Zenodo version: ``annotations_2017_A_fixed.csv``, ``annotations_2017_B.csv``,
    ``annotations_2017_C.csv``; cells past a recording's end are empty."""
    write_edf(root / "eeg1.edf", HELSINKI_CHANNELS, seconds=10)
    write_edf(root / "eeg2.edf", HELSINKI_CHANNELS, seconds=6)
    # Per second, recording 1 (10 s) and recording 2 (6 s, empty cells after).
    a1, b1, c1 = [0, 0, 1, 1, 1, 1, 0, 0, 0, 0], [0, 0, 0, 1, 1, 1, 1, 0, 0, 0], [0, 0, 0, 0, 1, 1, 0, 0, 0, 1]
    a2, b2, c2 = [1, 1, 0, 0, 0, 0], [1, 0, 0, 0, 0, 0], [0] * 6
    files = {"annotations_2017_A_fixed.csv": (a1, a2), "annotations_2017_B.csv": (b1, b2), "annotations_2017_C.csv": (c1, c2)}
    for name, (r1, r2) in files.items():
        lines = ["1,2"] + [f"{x},{r2[i] if i < len(r2) else ''}" for i, x in enumerate(r1)]
        (root / name).write_text("\n".join(lines) + "\n")
    return root
