"""Tiny fixtures in the real layouts and file formats of the 16 NeuroCorpus sources.

Every writer builds a few seconds of signal on a few channels, in the format the source publishes
(EDF/EDF+ via edfio, GDF 1.25 by the small writer below, MATLAB files via scipy), with label files
in the source's own syntax, so the reader tests exercise the real parsing paths without licensed
data.
"""

from __future__ import annotations

import datetime
import struct
from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = [
    "TUH_CHANNELS",
    "make_bciciv2a",
    "make_chbmit",
    "make_eegmat",
    "make_eegmmidb",
    "make_helsinki",
    "make_hmc",
    "make_isruc",
    "make_seed",
    "make_siena",
    "make_sleep_edf",
    "make_tuab",
    "make_tuar",
    "make_tuep",
    "make_tuev",
    "make_tusl",
    "make_tusz",
    "write_edf",
    "write_gdf",
]

TUH_CHANNELS = ("EEG FP1-REF", "EEG C3-REF", "EEG O2-REF")
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
    for split, status, stem in [
        ("train", "normal", "aaaaaaaa_s001_t000"),
        ("train", "abnormal", "aaaaaaab_s002_t001"),
        ("eval", "normal", "aaaaaaac_s001_t000"),
        ("eval", "abnormal", "aaaaaaad_s001_t000"),
    ]:
        write_edf(root / "edf" / split / status / "01_tcp_ar" / f"{stem}.edf", TUH_CHANNELS, seconds=12)
    return root


def make_tuev(root: Path) -> Path:
    train = write_edf(root / "edf/train/aaaaaaar/aaaaaaar_00000001.edf", TUH_CHANNELS, seconds=20)
    # The same spsw event on two channels (deduplicated), a bckg span, and touching eyem events.
    train.with_suffix(".rec").write_text("13,2.0,3.0,1\n14,2.0,3.0,1\n0,5.0,10.0,6\n3,12.0,13.0,4\n3,13.0,14.0,4\n")
    ev = write_edf(root / "edf/eval/000/pled_000_a_1.edf", TUH_CHANNELS, seconds=20)
    ev.with_suffix(".rec").write_text("20,1.0,2.0,3\n21,1.0,2.0,3\n")
    return root


def make_tusz(root: Path) -> Path:
    specs = [
        ("train", "aaaaaaac", "s001_2002_12_23", "aaaaaaac_s001_t000", [("TERM", 0.0, 5.0, "bckg"), ("TERM", 5.0, 9.0, "seiz"), ("TERM", 9.0, 20.0, "bckg")],
         [("FP1-F7", 0.0, 5.0, "bckg"), ("FP1-F7", 5.0, 9.0, "cpsz"), ("F7-T3", 5.5, 9.0, "cpsz"), ("FP1-F7", 9.0, 20.0, "bckg")]),
        ("dev", "aaaaaaba", "s002_2010_01_01", "aaaaaaba_s002_t000", [("TERM", 0.0, 20.0, "bckg")], [("FP1-F7", 0.0, 20.0, "bckg")]),
        ("eval", "aaaaaqvx", "s003_2015_08_24", "aaaaaqvx_s003_t001", [("TERM", 0.0, 2.0, "bckg"), ("TERM", 2.0, 6.0, "seiz"), ("TERM", 6.0, 20.0, "bckg")],
         [("FP1-F7", 2.0, 6.0, "gnsz"), ("FP2-F8", 2.0, 6.0, "gnsz")]),
    ]  # fmt: skip
    for split, patient, session, stem, term_rows, channel_rows in specs:
        edf = write_edf(root / "edf" / split / patient / session / "01_tcp_ar" / f"{stem}.edf", TUH_CHANNELS, seconds=20)
        _nedc(edf.with_suffix(".csv_bi"), stem, 20.0, term_rows)
        _nedc(edf.with_suffix(".csv"), stem, 20.0, channel_rows)
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
    write_edf(root / "00_epilepsy/aaaaaawu/s001_2005_01_01/02_tcp_le/aaaaaawu_s001_t000.edf", ("EEG FP1-LE", "EEG C3-LE"), seconds=12)
    write_edf(root / "01_no_epilepsy/aaaaabdn/s003_2012_06_07/01_tcp_ar/aaaaabdn_s003_t001.edf", TUH_CHANNELS, seconds=12)
    return root


# --- PhysioNet and others --------------------------------------------------------------------
# The CHB-MIT channel list (chb01): double banana, midline chain, FT9/FT10 links, a placeholder.
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


def make_chbmit(root: Path) -> Path:
    case = root / "chb01"
    write_edf(case / "chb01_01.edf", CHB_CHANNELS, seconds=40, data_uv=_chbmit_bipolar(40))
    write_edf(case / "chb01_03.edf", CHB_CHANNELS, seconds=40, data_uv=_chbmit_bipolar(40))
    write_edf(case / "chb01_99.edf", CHB_CHANNELS, seconds=10, data_uv=_chbmit_bipolar(10))  # not in the summary: skipped
    (case / "chb01-summary.txt").write_text(
        "Data Sampling Rate: 256 Hz\n*************************\n\nChannels in EDF Files:\n**********************\n"
        "Channel 1: FP1-F7\nChannel 2: F7-T7\nChannel 3: T8-P8\nChannel 4: T8-P8\n\n"
        "File Name: chb01_01.edf\nFile Start Time: 11:42:54\nFile End Time: 12:42:54\nNumber of Seizures in File: 0\n\n"
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


SIENA_CHANNELS = ("EEG Fp1", "EEG C3", "EEG O2", "EKG EKG")


def make_siena(root: Path) -> Path:
    pn00 = root / "PN00"
    write_edf(pn00 / "PN00-1.edf", SIENA_CHANNELS, seconds=40, starttime=datetime.time(19, 39, 33))
    write_edf(pn00 / "PN00-2.edf", SIENA_CHANNELS, seconds=40, starttime=datetime.time(23, 59, 50))
    (pn00 / "Seizures-list-PN00.txt").write_text(
        "Seizures list - PN00\n\nSeizure n 1\nFile name: PN00-1.edf\nRegistration start time: 19.39.33\n"
        "Registration end time:  20.22.58\nSeizure start time: 19.39.43\nSeizure end time: 19.39.53\n\n"
        # Crosses midnight, written with colons and the "Start time" variant.
        "Seizure n 2\nFile name: PN00-2.edf\nRegistration start time: 23:59:50\nRegistration end time: 00:30:00\n"
        "Start time: 00:00:05\nEnd time: 00:00:15\n"
    )
    pn06 = root / "PN06"
    write_edf(pn06 / "PN06-1.edf", SIENA_CHANNELS, seconds=30)
    # Letter O for zero, a stray space in the hour.
    (pn06 / "Seizures-list-PN06.txt").write_text(
        "Seizure n 1\nFile name: PNO6-1.edf\nRegistration start time: 1 6.49.25\nSeizure start time: 16.49.45\nSeizure end time: 16.49.50\n"
    )
    (root / "subject_info.csv").write_text(
        "patient_id, age_years, gender, seizure, localization, lateralization, n_seizures\n"
        "PN00,55,Male,IAS,T,R,5\nPN06,36,Male,FBTC,T,L,5\n"
    )
    return root


SLEEP_EDF_CHANNELS = ("EEG Fpz-Cz", "EEG Pz-Oz", "EOG horizontal")


def make_sleep_edf(root: Path) -> Path:
    sc = root / "sleep-cassette"
    write_edf(sc / "SC4001E0-PSG.edf", SLEEP_EDF_CHANNELS, sfreq=100.0, seconds=300)
    # Hypnograms are EDF+ files with only annotations: edfio needs a signal, give it a 1 Hz dummy.
    write_edf(
        sc / "SC4001EC-Hypnogram.edf", ("Dummy",), sfreq=1.0, seconds=300,
        annotations=[(0, 120, "Sleep stage W"), (120, 30, "Sleep stage 1"), (150, 60, "Sleep stage 2"),
                     (210, 30, "Sleep stage 4"), (240, 30, "Sleep stage R"), (270, 30, "Sleep stage ?")],
    )  # fmt: skip
    st = root / "sleep-telemetry"
    write_edf(st / "ST7011J0-PSG.edf", SLEEP_EDF_CHANNELS, sfreq=100.0, seconds=120)
    write_edf(
        st / "ST7011JP-Hypnogram.edf", ("Dummy",), sfreq=1.0, seconds=120,
        annotations=[(0, 60, "Sleep stage 3"), (60, 30, "Movement time"), (90, 30, "Sleep stage W")],
    )  # fmt: skip
    write_edf(sc / "SC4002E0-PSG.edf", SLEEP_EDF_CHANNELS, sfreq=100.0, seconds=30)  # no hypnogram: skipped
    return root


HMC_CHANNELS = ("EEG F4-M1", "EEG C4-M1", "EEG O2-M1", "EMG chin")


def make_hmc(root: Path) -> Path:
    rec = root / "recordings"
    write_edf(rec / "SN001.edf", HMC_CHANNELS, seconds=120)
    write_edf(
        rec / "SN001_sleepscoring.edf", ("Dummy",), sfreq=1.0, seconds=120,
        annotations=[(0, 0, "Lights off"), (0, 30, "Sleep stage W"), (30, 30, "Sleep stage N1"), (60, 30, "Sleep stage N2"),
                     (90, 30, "Sleep stage R"), (120, 0, "Lights on")],
    )  # fmt: skip
    write_edf(rec / "SN002.edf", HMC_CHANNELS, seconds=90)
    (rec / "SN002_sleepscoring.txt").write_text(
        "Date, Time, Recording onset, Duration, Annotation, Linked channel\n"
        "2018-01-01, 22:00:00, 0.0, 30.0, Sleep stage N3, \n"
        "2018-01-01, 22:00:30, 30.0, 30.0, Sleep stage N3, \n"
        "2018-01-01, 22:01:00, 60.0, 30.0, Sleep stage W, \n"
    )
    return root


ISRUC_CHANNELS = ("F3-A2", "C3-A2", "O1-A2", "LOC-A2")


def make_isruc(root: Path) -> Path:
    def rec(path: Path, seconds: int, codes: Sequence[int]) -> None:
        edf = write_edf(path.with_suffix(".edf"), ISRUC_CHANNELS, sfreq=50.0, seconds=seconds)
        edf.rename(path)  # ISRUC ships EDF under a .rec extension
        path.with_name(f"{path.stem}_1.txt").write_text("".join(f"{c}\n" for c in codes) + "\n")
        path.with_name(f"{path.stem}_2.txt").write_text("".join("0\n" for _ in codes))

    rec(root / "Subgroup_1/1/1.rec", 90, [0, 1, 5, 2])  # one label more than the signal holds
    rec(root / "Subgroup_2/8/1/1.rec", 60, [3, 2])
    rec(root / "Subgroup_2/8/2/2.rec", 60, [2, 2])
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
    from dataset_builder.readers.bciciv2a import BCI_IV_2A_CHANNELS

    n = len(BCI_IV_2A_CHANNELS) + 3
    rng = np.random.default_rng(2)
    empty = np.zeros((0, 1))
    runs = np.empty((1, 2), dtype=object)
    runs[0, 0] = {"X": rng.normal(0, 10, (500, n)), "trial": empty, "y": empty, "fs": 250, "artifacts": empty}
    runs[0, 1] = {
        "X": rng.normal(0, 10, (5000, n)),
        "trial": np.array([[1], [1001], [2501]]),
        "y": np.array([[4], [1], [2]]),
        "fs": 250,
        "artifacts": np.array([[0], [1], [0]]),
    }
    scipy.io.savemat(root / "bnci/A03T.mat", {"data": runs})
    return root


def make_seed(root: Path) -> Path:
    import scipy.io

    from dataset_builder.readers.seed import SEED_CHANNELS

    folder = root / "Preprocessed_EEG"
    folder.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(folder / "label.mat", {"label": np.array([[1, 0, -1, -1, 0, 1, -1, 0, 1, 1, 0, -1, 0, 1, -1]])})
    n = len(SEED_CHANNELS)
    rng = np.random.default_rng(1)
    scipy.io.savemat(folder / "1_20131027.mat", {"djc_eeg1": rng.normal(0, 20, (n, 400)), "djc_eeg3": rng.normal(0, 20, (n, 600))})
    scipy.io.savemat(folder / "2_20140404.mat", {"jl_eeg2": rng.normal(0, 20, (n, 400))})
    (folder / "readme.txt").write_text("SEED preprocessed EEG\n")
    return root


EEGMAT_CHANNELS = ("EEG Fp1", "EEG T3", "EEG O2", "ECG ECG")


def make_eegmat(root: Path) -> Path:
    for name in ("Subject00_1", "Subject00_2", "Subject07_1"):
        write_edf(root / f"{name}.edf", EEGMAT_CHANNELS, sfreq=100.0, seconds=12)
    (root / "subject-info.csv").write_text("Subject,Age,Gender,Recording year,Number of subtractions,Count quality\nSubject00,21,F,2011,9.7,0\n")
    return root


HELSINKI_CHANNELS = ("EEG Fp1-REF", "EEG C3-REF", "ECG EKG-REF")


def make_helsinki(root: Path) -> Path:
    write_edf(root / "eeg1.edf", HELSINKI_CHANNELS, seconds=10)
    write_edf(root / "eeg2.edf", HELSINKI_CHANNELS, seconds=6)
    # Per second, recording 1 (10 s) and recording 2 (6 s, NaN-padded after).
    a1, b1, c1 = [0, 0, 1, 1, 1, 1, 0, 0, 0, 0], [0, 0, 0, 1, 1, 1, 1, 0, 0, 0], [0, 0, 0, 0, 1, 1, 0, 0, 0, 1]
    a2, b2, c2 = [0] * 6, [1, 0, 0, 0, 0, 0], [0] * 6
    for who, (r1, r2) in {"A": (a1, a2), "B": (b1, b2), "C": (c1, c2)}.items():
        lines = ["1,2"] + [f"{x},{r2[i] if i < len(r2) else 'NaN'}" for i, x in enumerate(r1)]
        (root / f"annotations_2017_{who}.csv").write_text("\n".join(lines) + "\n")
    return root
