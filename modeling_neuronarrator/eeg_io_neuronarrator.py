"""Reading EEG recordings and harmonizing their channels onto the 19 channels of the 10-20 system.

One entry point, :func:`read_recording`, maps a file extension to its MNE reader (like
``mne.io.read_raw``) and turns every reader failure into an :class:`EEGInputError` that names the
file, the problem and the fix. :func:`harmonize_channels` works out, once per channel set, a
``(19, n_source)`` matrix that maps the recorded EEG channels onto the 19 harmonized channels:
identity rows for channels found under a 10-20 name (after alias mapping), spherical-spline rows
for channels that must be interpolated from electrode positions.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import re
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

import mne
import numpy as np
from numpy.polynomial import legendre

__all__ = [
    "EEG_SCALE",
    "SAMPLING_RATE_HZ",
    "SEGMENT_SAMPLES",
    "SEGMENT_SECONDS",
    "BAD_CHANNEL_CRITERIA",
    "EEGInputError",
    "EEGFileNotFoundError",
    "STANDARD_CHANNELS",
    "TCP_PAIRS",
    "MIN_RECORDED_CHANNELS",
    "MIN_SAMPLING_RATE_HZ",
    "READERS",
    "ChannelMap",
    "bids_line_freq",
    "MONTAGE_POLICY",
    "canonical_channel_name",
    "find_bad_channels",
    "check_min_recorded_channels",
    "parse_derivation",
    "harmonize_channels",
    "raw_positions",
    "read_recording",
    "spherical_spline_matrix",
    "standard_unit_positions",
    "tcp_bipolar",
]

logger = logging.getLogger(__name__)

# The harmonized montage: 10-20 system, modern (ACNS 2006) names, in the model's channel order.
STANDARD_CHANNELS = (
    "Fp1", "Fp2", "F7", "F3", "Fz", "F4", "F8",
    "T7", "C3", "Cz", "C4", "T8",
    "P7", "P3", "Pz", "P4", "P8",
    "O1", "O2",
)  # fmt: skip

# The rest of the signal contract every layer reads: the model input is 10 s segments of the 19
# channels at 200 Hz, in microvolts scaled by EEG_SCALE (so that typical EEG sits near unit range).
SAMPLING_RATE_HZ = 200
SEGMENT_SECONDS = 10.0
SEGMENT_SAMPLES = int(SAMPLING_RATE_HZ * SEGMENT_SECONDS)  # 2000
EEG_SCALE = 0.01  # model input = microvolts x EEG_SCALE; microvolts = model input / EEG_SCALE

# The longitudinal bipolar "double banana" (TCP) montage: left temporal, left parasagittal,
# right temporal, right parasagittal chains, anterior to posterior; 16 pairs (anode, cathode).
TCP_PAIRS = (
    ("Fp1", "F7"), ("F7", "T7"), ("T7", "P7"), ("P7", "O1"),
    ("Fp1", "F3"), ("F3", "C3"), ("C3", "P3"), ("P3", "O1"),
    ("Fp2", "F8"), ("F8", "T8"), ("T8", "P8"), ("P8", "O2"),
    ("Fp2", "F4"), ("F4", "C4"), ("C4", "P4"), ("P4", "O2"),
)  # fmt: skip

# One montage policy for every caller (narrate, the feature extractor, the Space, the corpus
# builder): any recording with at least one usable EEG electrode is accepted. An electrode is
# usable when its label names a 10-05 site, referential (``O1``, ``EEG C4-M1``, ``F3-A2``,
# ``EEG FP1-REF``) or bipolar between two scalp sites (Sleep-EDF's ``EEG Fpz-Cz``: placed at its
# first electrode, Fpz, and flagged bipolar), or when it has a position. The 19 channels are
# always produced (spherical spline from what was recorded), ``channel_mask`` says which were
# measured, and ``ChannelMap.spatial`` which of those support spatial claims (not a bipolar
# derivation: its signal is the difference of two sites). The findings then state a spatial
# field only where the recorded electrodes support it (``spatial_coverage``), "not assessable"
# otherwise. A recording with no usable EEG channel at all is refused with a clear error.
MONTAGE_POLICY = (
    "every EEG channel whose label names a 10-05 electrode (referential, or bipolar X-Y placed at X and "
    "flagged) or that has a position is used; missing 10-20 sites are spherical-spline estimates, "
    "spatial findings only where the recorded referential electrodes support them"
)
# BioSemi amplifiers (their BDF files) record reference-free, against the CMS electrode beside POz:
# electrodes far from CMS carry more of everything, a gradient the spatial findings would read as
# asymmetry or focal slowing. BioSemi and MNE say to re-reference offline; the front-end takes the
# common average of the good referential electrodes it uses, when they cover the head (at least
# this many: an average of a few electrodes is mostly those electrodes). Else the data stay as recorded.
REFERENCE_FREE_FORMATS = (".bdf",)
AVERAGE_REFERENCE_MIN_CHANNELS = 16
# The fewest usable electrodes (1: the policy above); harmonize_channels(min_recorded_channels=...)
# may ask for more.
MIN_RECORDED_CHANNELS = 1
# With at least this many 10-20 names the names are used as such (copies + spline for the rest);
# below it, every electrode with a 10-05 name or position joins through the position path.
_NAMED_PATH_MIN = 4
# Ideal-sphere 10-05 template for electrodes known by name only; its origin is the sphere's
# centre, which the position path uses for fewer than 16 electrodes.
_TEMPLATE_MONTAGE = "spherical_1005"
_REFERENCE_NAMES = {"REF", "LE", "AR", "AVG", "A1", "A2", "M1", "M2", "A12", "A1A2", "M1M2", "CAR"}
# Below 100 Hz the source cannot carry even the 45 Hz gamma band (Nyquist 50 Hz); 100 Hz
# recordings (Sleep-EDF) are accepted with the low-pass capped below their Nyquist frequency.
MIN_SAMPLING_RATE_HZ = 100.0

# Old (1958) temporal names -> modern ACNS names.
_OLD_TO_MODERN = {"T3": "T7", "T4": "T8", "T5": "P7", "T6": "P8"}
_CANONICAL_BY_UPPER = {name.upper(): name for name in STANDARD_CHANNELS}
_INDEX_OF = {name: i for i, name in enumerate(STANDARD_CHANNELS)}
_CANONICAL_BY_UPPER.update({old: new for old, new in _OLD_TO_MODERN.items()})
# Vendor prefixes and reference suffixes seen in TUH, CHB-MIT, Siena, Sleep-EDF, EEGMMIDB ...
_PREFIX_RE = re.compile(r"^(EEG[\s\-_:]*)", re.IGNORECASE)
_SUFFIX_RE = re.compile(r"[\s\-_:]*(REF|LE|AR|AVG|A1|A2|M1|M2|A12|A1A2|M1M2|CAR)$", re.IGNORECASE)
# Channels that are never EEG whatever type the file gives them (EDF has no channel types, so
# MNE calls everything "eeg"): matched on the name before alias mapping.
_NON_EEG_RE = re.compile(
    r"^(EOG|EMG|ECG|EKG|RESP|PHOTIC|PHOT|STI|STIM|TRIG|TRIGGER|STATUS|SPO2|SAO2|PULSE|PLETH|HR|"
    r"BURSTS|SUPPR|IBI|DC\d|ANNOT|EVENT|MARK|POSITION|LIGHT|SNORE|TEMP|THOR|ABD|AIRFLOW|NASAL|"
    r"LOC|ROC|CHIN|LEG|X\d|MISC)",
    re.IGNORECASE,
)
_NON_EEG_TYPES = {"eog", "emg", "ecg", "stim", "resp", "misc", "bio", "syst", "mag", "grad",
                  "ref_meg", "chpi", "exci", "ias", "gsr", "temperature", "fnirs_cw_amplitude",
                  "dipole", "gof", "ecog", "seeg", "dbs"}  # fmt: skip

# extension -> (format name, MNE reader); the MNE-style table behind read_recording.
READERS = {
    ".edf": ("EDF/EDF+", "read_raw_edf"),
    ".bdf": ("BDF", "read_raw_bdf"),
    ".gdf": ("GDF", "read_raw_gdf"),  # BCI Competition IV-2a
    ".fif": ("FIF", "read_raw_fif"),
    ".fif.gz": ("FIF", "read_raw_fif"),
    ".set": ("EEGLAB", "read_raw_eeglab"),
    ".vhdr": ("BrainVision", "read_raw_brainvision"),
}
# Known companion files -> the file the user should pass instead.
_COMPANIONS = {".vmrk": ".vhdr", ".eeg": ".vhdr", ".fdt": ".set"}


class EEGInputError(ValueError):
    """A recording (or array) that the front-end cannot use; the message names the file, the
    problem and the fix."""


class EEGFileNotFoundError(EEGInputError, FileNotFoundError):
    """The recording path does not exist."""


def _extension(path: str) -> str:
    lower = path.lower()
    if lower.endswith(".fif.gz"):
        return ".fif.gz"
    return os.path.splitext(lower)[1]


def read_recording(path: str | os.PathLike, preload: bool = False) -> mne.io.BaseRaw:
    """Open an EEG recording with the MNE reader its extension calls for.

    Args:
        path: an EDF/EDF+ (.edf), BDF (.bdf), FIF (.fif, .fif.gz), EEGLAB (.set) or BrainVision
            (.vhdr) file.
        preload: load the samples now; the default leaves them on disk so that long recordings
            are read window by window (``raw.get_data(start=..., stop=...)``).

    Returns:
        ``mne.io.BaseRaw`` in volts, as MNE gives it.

    Raises:
        EEGInputError: missing, unsupported, unreadable, truncated or corrupt file.
    """
    path = os.fspath(path)
    name = os.path.basename(path)
    ext = _extension(path)
    if ext in _COMPANIONS:
        right = os.path.splitext(path)[0] + _COMPANIONS[ext]
        raise EEGInputError(
            f"{name}: a {ext} file is a companion file, not the recording's entry point; "
            f"pass the {_COMPANIONS[ext]} file instead ({os.path.basename(right)})"
        )
    if ext not in READERS:
        raise EEGInputError(
            f"{name}: unsupported file extension {ext or '(none)'!r}; supported formats are "
            + ", ".join(f"{fmt} ({e})" for e, (fmt, _) in READERS.items())
            + "; convert the recording to one of them (e.g. with MNE's mne.export.export_raw)"
        )
    if not os.path.isfile(path):
        raise EEGFileNotFoundError(f"{name}: no such file ({path}); check the path")
    if os.path.getsize(path) == 0:
        raise EEGInputError(f"{name}: the file is empty (0 bytes); copy or export the recording again")
    fmt, reader_name = READERS[ext]
    reader = getattr(mne.io, reader_name)
    try:
        raw = reader(path, preload=preload, verbose="ERROR")
    except Exception as error:  # every reader has its own failure types: report them uniformly
        raise EEGInputError(
            f"{name}: could not be read as {fmt} ({type(error).__name__}: {error}); the file may be "
            f"truncated, corrupt or not really {fmt}: export it again or check it in an EEG viewer"
        ) from error
    if raw.n_times < 1 or len(raw.ch_names) == 0:
        raise EEGInputError(f"{name}: the file holds no samples or no channels; export the recording again")
    # A truncated file often opens (the header is intact) and fails only when its last samples
    # are read: read them now, so that the error comes here and not deep inside the pipeline.
    if not preload:
        try:
            tail = raw.get_data(start=max(0, raw.n_times - 2), stop=raw.n_times)
        except Exception as error:
            raise EEGInputError(
                f"{name}: the header opens but the samples cannot be read ({type(error).__name__}: "
                f"{error}); the file is probably truncated: copy or export it again"
            ) from error
        if tail.shape[-1] == 0:
            raise EEGInputError(f"{name}: the samples cannot be read; the file is probably truncated")
    return raw


def canonical_channel_name(name: str) -> Optional[str]:
    """The harmonized 10-20 name of a channel label, or None when it is not one of the 19.

    Handles case, spaces, vendor prefixes (``EEG ``, ``EEG-``), reference suffixes (``-REF``,
    ``-LE``, ``-AR``, ``-A1``/``-A2``, ``-M1``/``-M2``), trailing dots (EEGMMIDB ``Fc5.``) and the old
    temporal names (T3/T4/T5/T6 -> T7/T8/P7/P8). Bipolar labels (``FP1-F7``) are not referential
    channels and give None.
    """
    text = name.strip().replace(".", "").replace(" ", "")
    text = _PREFIX_RE.sub("", text)
    text = _SUFFIX_RE.sub("", text)
    return _CANONICAL_BY_UPPER.get(text.upper())


@functools.lru_cache(maxsize=1)
def _template_positions() -> dict[str, tuple[str, np.ndarray]]:
    """``{UPPER name: (name, xyz)}`` of the 10-05 template electrodes (plus old temporal names)."""
    positions = mne.channels.make_standard_montage(_TEMPLATE_MONTAGE).get_positions()["ch_pos"]
    table = {name.upper(): (name, np.asarray(xyz, dtype=np.float64)) for name, xyz in positions.items()}
    for old, new in _OLD_TO_MODERN.items():
        table[old] = table[new.upper()]
    return table


def parse_derivation(name: str) -> Optional[tuple[str, Optional[str]]]:
    """The electrode a channel label records, and the second electrode of a bipolar derivation.

    ``"EEG FP1-REF"`` -> ``("Fp1", None)``; ``"C4-M1"`` -> ``("C4", None)`` (ear/mastoid reference:
    referential); ``"EEG Fpz-Cz"`` -> ``("Fpz", "Cz")`` (bipolar); ``"Oz"`` -> ``("Oz", None)``;
    ``"EOG LOC"``, ``"Resp"`` -> None. Electrode names are the 10-05 system's (``spherical_1005``),
    old temporal names mapped to modern ones.
    """
    canonical = canonical_channel_name(name)
    if canonical is not None:
        return canonical, None
    text = _PREFIX_RE.sub("", name.strip().replace(".", "").replace(" ", ""))
    table = _template_positions()
    if "-" in text:
        first, _, second = text.partition("-")
        if first.upper() in table and second.upper() in _REFERENCE_NAMES:
            return table[first.upper()][0], None
        if first.upper() in table and second.upper() in table:
            return table[first.upper()][0], table[second.upper()][0]
        return None
    text = _SUFFIX_RE.sub("", text)
    return (table[text.upper()][0], None) if text.upper() in table else None


def _is_non_eeg(name: str, ch_type: str) -> bool:
    if ch_type in _NON_EEG_TYPES:
        return True
    stripped = name.strip()
    # "EOG EOG1", "EMG Chin", "ECG", TUH's "EEG EKG1-REF": the label says what the channel is,
    # whatever the vendor prefix.
    bare = _PREFIX_RE.sub("", stripped) if stripped.upper().startswith("EEG") else stripped
    return bool(_NON_EEG_RE.match(bare)) and canonical_channel_name(stripped) is None


@functools.lru_cache(maxsize=4)
def standard_unit_positions() -> np.ndarray:
    """Unit vectors ``(19, 3)`` of STANDARD_CHANNELS on an ideal spherical head (MNE's
    ``spherical_1020`` template; x right, y front, z up)."""
    positions = mne.channels.make_standard_montage("spherical_1020").get_positions()["ch_pos"]
    xyz = np.array([positions[name] for name in STANDARD_CHANNELS], dtype=np.float64)
    return xyz / np.linalg.norm(xyz, axis=1, keepdims=True)


def _legendre_g(cosang: np.ndarray, stiffness: int = 4, n_terms: int = 50) -> np.ndarray:
    """Perrin et al. (1989) spherical-spline kernel g(cos gamma)."""
    n = np.arange(1, n_terms + 1, dtype=np.float64)
    coefs = np.concatenate([[0.0], (2 * n + 1) / (n * (n + 1)) ** stiffness / (4 * np.pi)])
    return legendre.legval(np.clip(cosang, -1.0, 1.0), coefs)


def spherical_spline_matrix(source_xyz: np.ndarray, target_xyz: np.ndarray, reg: float = 1e-5) -> np.ndarray:
    """Spherical-spline interpolation matrix (Perrin et al. 1989), as MNE's ``interpolate_bads``.

    Args:
        source_xyz: unit vectors ``(n_source, 3)`` of the electrodes with data.
        target_xyz: unit vectors ``(n_target, 3)`` of the points to estimate.
        reg: Tikhonov regularization of the source kernel (keeps the solve stable when two
            electrodes nearly coincide).

    Returns:
        ``(n_target, n_source)`` float64: ``values_target = matrix @ values_source``.
    """
    n_source = source_xyz.shape[0]
    g_ss = _legendre_g(source_xyz @ source_xyz.T) + reg * np.eye(n_source)
    g_ts = _legendre_g(target_xyz @ source_xyz.T)
    # Bordered system [[G, 1], [1^T, 0]] adds the constant term of the spline.
    system = np.zeros((n_source + 1, n_source + 1))
    system[:n_source, :n_source] = g_ss
    system[:n_source, n_source] = 1.0
    system[n_source, :n_source] = 1.0
    inverse = np.linalg.pinv(system)
    bordered = np.hstack([g_ts, np.ones((target_xyz.shape[0], 1))])
    return bordered @ inverse[:, :n_source]


def _fit_sphere_center(xyz: np.ndarray) -> np.ndarray:
    """Least-squares sphere centre of a point cloud ``(n, 3)`` (linear formulation)."""
    design = np.hstack([2 * xyz, np.ones((len(xyz), 1))])
    solution, *_ = np.linalg.lstsq(design, (xyz**2).sum(axis=1), rcond=None)
    return solution[:3]


def _to_unit_sphere(xyz: np.ndarray) -> np.ndarray:
    # A full cap fits a sphere well; with few points the fit is unstable, and the head frame's
    # origin (between the ears) is the better centre.
    center = _fit_sphere_center(xyz) if len(xyz) >= 16 else np.zeros(3)
    centered = xyz - center
    return centered / np.linalg.norm(centered, axis=1, keepdims=True)


@dataclass(frozen=True)
class ChannelMap:
    """How a recording's channels become the 19 harmonized channels.

    Attributes:
        picks: indices ``(n_source,)`` of the source channels used, into ``raw.ch_names``.
        matrix: ``(19, n_source)`` float64; ``harmonized = matrix @ source[picks]``.
        recorded: ``(19,)`` bool; True for channels found in the recording, False for interpolated.
        channels_used: source channel names (as in the file) of ``picks``.
        channels_interpolated: harmonized names estimated by interpolation.
        position_source: where positions came from when no 10-20 names were found, else "names".
        bipolar: the bipolar derivations used, as ``"Fpz=Fpz-Cz"`` (electrode = derivation).
        spatial: ``(19,)`` bool; recorded sites whose signal supports spatial claims (recorded
            and not a bipolar derivation). None: same as ``recorded``.
    """

    picks: np.ndarray
    matrix: np.ndarray
    recorded: np.ndarray
    channels_used: list[str] = field(default_factory=list)
    channels_interpolated: list[str] = field(default_factory=list)
    position_source: str = "names"
    bipolar: list[str] = field(default_factory=list)
    spatial: Optional[np.ndarray] = None


@functools.lru_cache(maxsize=32)
def _named_matrix(found: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(19, n_found) matrix for recordings with ``found`` harmonized names (in source order)."""
    unit = standard_unit_positions()
    index = {name: i for i, name in enumerate(STANDARD_CHANNELS)}
    src = unit[[index[name] for name in found]]
    matrix = spherical_spline_matrix(src, unit)
    recorded = np.zeros(len(STANDARD_CHANNELS), dtype=bool)
    for j, name in enumerate(found):
        # Recorded channels are copied exactly, not passed through the (smoothing) spline.
        matrix[index[name]] = 0.0
        matrix[index[name], j] = 1.0
        recorded[index[name]] = True
    matrix.setflags(write=False)
    recorded.setflags(write=False)
    return matrix, recorded


# On a dense cap (e.g. BioSemi 128, ~2.5 cm spacing) a 10-20 site with an electrode this close
# (0.17 rad, about 15 mm on an adult head) is measured, not estimated: the site copies that
# electrode and counts as recorded in the channel mask. The spline would blend in its neighbours
# (a flat electrode kept ~40 % of the background's amplitude, a pop was halved), hiding exactly the
# channel-level findings the narrative reports.
NEAR_ELECTRODE_RAD = 0.17


@functools.lru_cache(maxsize=8)
def _position_matrix(xyz_key: tuple[tuple[float, float, float], ...]) -> tuple[np.ndarray, np.ndarray]:
    """(19, n_source) matrix from electrode positions, and which 10-20 sites have an electrode
    within ``NEAR_ELECTRODE_RAD`` (recorded: a copy of that electrode) rather than only
    interpolated (spherical spline)."""
    src = _to_unit_sphere(np.asarray(xyz_key, dtype=np.float64))
    target = standard_unit_positions()
    matrix = spherical_spline_matrix(src, target)
    angles = np.arccos(np.clip(target @ src.T, -1.0, 1.0))  # (19, n_source) radians
    recorded = angles.min(axis=1) <= NEAR_ELECTRODE_RAD
    for site in np.flatnonzero(recorded):
        matrix[site] = 0.0
        matrix[site, angles[site].argmin()] = 1.0
    matrix.setflags(write=False)
    recorded.setflags(write=False)
    return matrix, recorded


def _bids_electrodes(
    path: Optional[str], names: Sequence[str], min_recorded_channels: int = MIN_RECORDED_CHANNELS
) -> Optional[dict[str, np.ndarray]]:
    """Electrode positions from a BIDS ``*_electrodes.tsv`` beside the recording, if any."""
    if not path:
        return None
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        return None
    candidates = sorted(f for f in os.listdir(folder) if f.endswith("_electrodes.tsv"))
    subject = os.path.basename(path).split("_")[0]
    candidates.sort(key=lambda f: not f.startswith(subject))
    for candidate in candidates:
        positions: dict[str, np.ndarray] = {}
        with open(os.path.join(folder, candidate), encoding="utf-8-sig") as handle:
            header = handle.readline().rstrip("\n").split("\t")
            try:
                i_name, i_x, i_y, i_z = (header.index(k) for k in ("name", "x", "y", "z"))
            except ValueError:
                continue
            for line in handle:
                cols = line.rstrip("\n").split("\t")
                try:
                    positions[cols[i_name]] = np.array([float(cols[i_x]), float(cols[i_y]), float(cols[i_z])])
                except (ValueError, IndexError):
                    continue  # "n/a" positions
        if sum(name in positions for name in names) >= min_recorded_channels:
            logger.info("positions of %s from %s", os.path.basename(path), candidate)
            return positions
    return None


def _builtin_montage_positions(names: Sequence[str]) -> tuple[Optional[dict[str, np.ndarray]], str]:
    best, best_name, best_hits = None, "", 0
    for montage_name in ("biosemi128", "biosemi64", "biosemi32", "biosemi256", "biosemi160", "biosemi16",
                         "GSN-HydroCel-129", "GSN-HydroCel-128", "GSN-HydroCel-257", "GSN-HydroCel-65_1.0",
                         "GSN-HydroCel-64_1.0", "GSN-HydroCel-32", "EGI_256", "easycap-M1", "easycap-M10",
                         "spherical_1005"):  # fmt: skip
        positions = mne.channels.make_standard_montage(montage_name).get_positions()["ch_pos"]
        hits = sum(name in positions for name in names)
        if hits > best_hits:
            best, best_name, best_hits = positions, montage_name, hits
        if hits == len(names):
            break
    return best, best_name


def harmonize_channels(
    ch_names: Sequence[str],
    ch_types: Optional[Sequence[str]] = None,
    positions: Optional[dict[str, np.ndarray]] = None,
    path: Optional[str] = None,
    exclude: Sequence[str] = (),
    min_recorded_channels: int = MIN_RECORDED_CHANNELS,
) -> ChannelMap:
    """Work out how to map a recording's channels onto ``STANDARD_CHANNELS``.

    The montage policy (``MONTAGE_POLICY``), shared by every caller: non-EEG channels (by MNE
    type or by name: EOG, EMG, ECG/EKG, stim, resp, MEG, misc, photic) are dropped; each other
    channel records the electrode its label names (``parse_derivation``: referential, or bipolar
    ``X-Y`` placed at X and listed in ``bipolar``). With at least 4 electrodes of the 19 (or only
    such electrodes), those are copied and the other sites interpolated by spherical spline. Else
    every electrode with a position joins: the Raw's montage, a BIDS ``*_electrodes.tsv`` beside
    the file, the 10-05 template for electrodes known by name (Sleep-EDF's Fpz and Pz), or a
    built-in MNE montage that holds the names (BioSemi A1..D32), whichever places the most
    channels; the 19 sites are interpolated from them, and a site with an electrode within
    ``NEAR_ELECTRODE_RAD`` copies it and counts as recorded.

    Args:
        ch_names: channel names as in the file.
        ch_types: MNE channel types (default: all "eeg").
        positions: ``{name: xyz}`` in any head-centred frame, e.g. ``raw.get_montage()``'s.
        path: the recording's path, for error messages and for BIDS sidecars.
        exclude: channel names to leave out (bad channels, e.g. ``raw.info["bads"]``).
        min_recorded_channels: fewest usable electrodes to accept; default
            ``MIN_RECORDED_CHANNELS`` (1). With few electrodes most of the 19 channels are a
            smooth blend of the recorded ones: ``recorded`` says which are measured, ``spatial``
            which support spatial claims, and the findings mark the rest not assessable.

    Raises:
        ValueError: ``min_recorded_channels`` is not an int >= 1.
        EEGInputError: no EEG channels, or fewer than ``min_recorded_channels`` usable ones.
    """
    check_min_recorded_channels(min_recorded_channels)
    label = os.path.basename(path) if path else "recording"
    eeg = _eeg_channel_indices(ch_names, ch_types, exclude, label)
    electrodes, found, bipolar = _electrodes_of(ch_names, eeg)
    only_named = len(electrodes) == len(found)
    if found and (len(found) >= max(_NAMED_PATH_MIN, min_recorded_channels) or (only_named and len(found) >= min_recorded_channels)):
        return _named_channel_map(ch_names, found, bipolar)

    # Few or no 10-20 names: every electrode with a position joins (the Raw's montage, a BIDS
    # electrodes.tsv, the 10-05 template for electrodes known by name, a built-in cap montage):
    # whichever places the most EEG channels.
    pos, source = _best_positions(ch_names, eeg, electrodes, positions, path, min_recorded_channels)
    with_pos = [i for i in eeg if ch_names[i] in pos]
    if len(with_pos) < min_recorded_channels:
        raise EEGInputError(
            f"{label}: only {len(found)} of the 19 10-20 channels found ({sorted(found) or 'none'}) and "
            f"no electrode positions for the other EEG channels; at least {min_recorded_channels} are needed "
            "to interpolate the rest: check the channel names (e.g. 'EEG FP1-REF', 'T3', 'O1', 'EEG Fpz-Cz') or attach a "
            "montage with positions (raw.set_montage) or an electrodes.tsv beside the file"
        )
    return _position_channel_map(ch_names, with_pos, pos, source, bipolar)


def _eeg_channel_indices(ch_names: Sequence[str], ch_types: Optional[Sequence[str]], exclude: Sequence[str], label: str) -> list[int]:
    """Indices of the EEG channels (non-EEG by type or name dropped, ``exclude`` left out) of
    ``harmonize_channels``; raises ``EEGInputError`` when the recording has none."""
    ch_types = list(ch_types) if ch_types is not None else ["eeg"] * len(ch_names)
    eeg = [i for i, (n, t) in enumerate(zip(ch_names, ch_types)) if not _is_non_eeg(n, t)]
    if not eeg:
        raise EEGInputError(
            f"{label}: no EEG channels (channels are {list(ch_names)[:12]}{' ...' if len(ch_names) > 12 else ''}); "
            "the front-end needs scalp EEG: pass a recording with EEG channels or fix the channel types/names"
        )
    excluded = set(exclude)
    return [i for i in eeg if ch_names[i] not in excluded]


def _electrodes_of(ch_names: Sequence[str], eeg: list[int]) -> tuple[dict[str, int], dict[str, int], dict[int, str]]:
    """``(electrodes {name: channel index}, found {10-20 name: index}, bipolar {index: "X=X-Y"})``:
    which electrode each EEG channel records (``parse_derivation``)."""
    # Which electrode each channel records (and the second one of a bipolar derivation); first
    # channel wins when an electrode appears twice (e.g. "EEG FP1-REF" and "EEG FP1-LE").
    derivations = {i: parse_derivation(ch_names[i]) for i in eeg}
    electrodes: dict[str, int] = {}
    for i in eeg:
        if derivations[i] is not None and derivations[i][0] not in electrodes:
            electrodes[derivations[i][0]] = i
    found = {name: i for name, i in electrodes.items() if name in _INDEX_OF}
    bipolar = {i: f"{d[0]}={d[0]}-{d[1]}" for i, d in derivations.items() if d is not None and d[1] is not None}
    return electrodes, found, bipolar


def _named_channel_map(ch_names: Sequence[str], found: dict[str, int], bipolar: dict[int, str]) -> ChannelMap:
    """The ``ChannelMap`` of the named path: the 10-20 electrodes found are copied, the other
    sites interpolated by spherical spline."""
    order = sorted(found, key=found.get)
    matrix, recorded = _named_matrix(tuple(order))
    spatial = recorded.copy()
    for name in order:
        spatial[_INDEX_OF[name]] = found[name] not in bipolar
    return ChannelMap(
        picks=np.array([found[n] for n in order]),
        matrix=matrix,
        recorded=recorded,
        channels_used=[ch_names[found[n]] for n in order],
        channels_interpolated=[n for n, r in zip(STANDARD_CHANNELS, recorded) if not r],
        bipolar=[bipolar[found[n]] for n in order if found[n] in bipolar],
        spatial=spatial,
    )


def _best_positions(
    ch_names: Sequence[str],
    eeg: list[int],
    electrodes: dict[str, int],
    positions: Optional[dict[str, np.ndarray]],
    path: Optional[str],
    min_recorded_channels: int,
) -> tuple[dict[str, Any], str]:
    """``(positions {channel name: xyz}, source)``: of the Raw's montage, a BIDS electrodes.tsv,
    the 10-05 template for electrodes known by name and a built-in MNE montage, the one that
    places the most EEG channels (first wins a tie; later ones are not read once all are placed)."""
    eeg_names = [ch_names[i] for i in eeg]
    template = _template_positions()
    by_name = {ch_names[i]: template[name.upper()][1] for name, i in electrodes.items()}
    candidates = [
        ("montage", {n: np.asarray(p, dtype=np.float64) for n, p in (positions or {}).items() if p is not None and np.all(np.isfinite(p))}),
        ("electrodes.tsv", lambda: _bids_electrodes(path, eeg_names, min_recorded_channels) or {}),
        (f"names ({_TEMPLATE_MONTAGE} template)", by_name),
        ("builtin", lambda: _builtin_montage_positions(eeg_names)),
    ]
    pos, source, best = {}, "montage", 0
    for name, candidate in candidates:
        if best >= len(eeg_names):
            break
        value = candidate() if callable(candidate) else candidate
        if name == "builtin":
            value, name = value[0] or {}, f"MNE montage {value[1]}"
        hits = sum(n in value for n in eeg_names)
        if hits > best:
            pos, source, best = value, name, hits
    return pos, source


def _position_channel_map(
    ch_names: Sequence[str], with_pos: list[int], pos: dict[str, Any], source: str, bipolar: dict[int, str]
) -> ChannelMap:
    """The ``ChannelMap`` of the position path: the 19 sites interpolated from every electrode
    with a position; a site with an electrode within ``NEAR_ELECTRODE_RAD`` copies it."""
    xyz = tuple(tuple(round(float(v), 6) for v in pos[ch_names[i]]) for i in with_pos)
    matrix, recorded = _position_matrix(xyz)
    spatial = recorded.copy()
    for site in np.flatnonzero(recorded):
        spatial[site] = with_pos[int(np.argmax(matrix[site]))] not in bipolar  # the copied electrode
    return ChannelMap(
        picks=np.array(with_pos),
        matrix=matrix,
        recorded=recorded,
        channels_used=[ch_names[i] for i in with_pos],
        channels_interpolated=[n for n, r in zip(STANDARD_CHANNELS, recorded) if not r],
        position_source=source,
        bipolar=[bipolar[i] for i in with_pos if i in bipolar],
        spatial=spatial,
    )


def check_min_recorded_channels(value: object) -> int:
    """``value`` as the minimum number of usable channels, or a ValueError saying what is allowed."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(
            f"min_recorded_channels must be an int >= 1 (the fewest usable EEG channels to accept; "
            f"default {MIN_RECORDED_CHANNELS}), got {value!r}"
        )
    return int(value)


def raw_positions(raw: mne.io.BaseRaw) -> dict[str, np.ndarray]:
    """Electrode positions of a Raw's montage (empty when it has none)."""
    montage = raw.get_montage()
    if montage is None:
        return {}
    return {n: p for n, p in montage.get_positions()["ch_pos"].items() if np.all(np.isfinite(p))}


@functools.lru_cache(maxsize=2)
def _tcp_matrix() -> np.ndarray:
    index = {name: i for i, name in enumerate(STANDARD_CHANNELS)}
    matrix = np.zeros((len(TCP_PAIRS), len(STANDARD_CHANNELS)), dtype=np.float32)
    for row, (anode, cathode) in enumerate(TCP_PAIRS):
        matrix[row, index[anode]] = 1.0
        matrix[row, index[cathode]] = -1.0
    matrix.setflags(write=False)
    return matrix


def tcp_bipolar(eeg: np.ndarray) -> np.ndarray:
    """The TCP double-banana view of harmonized EEG.

    Args:
        eeg: ``(..., 19, n_times)`` in STANDARD_CHANNELS order (any units).

    Returns:
        ``(..., 16, n_times)`` in TCP_PAIRS order, same units and dtype.
    """
    eeg = np.asarray(eeg)
    if eeg.ndim < 2 or eeg.shape[-2] != len(STANDARD_CHANNELS):
        raise EEGInputError(
            f"tcp_bipolar: expected an array (..., 19, n_times) in STANDARD_CHANNELS order, got shape {eeg.shape}; "
            "harmonize the channels first (NeuroNarratorFeatureExtractor)"
        )
    return np.einsum("pc,...ct->...pt", _tcp_matrix().astype(eeg.dtype, copy=False), eeg)


def bids_line_freq(path: Optional[str]) -> Optional[float]:
    """``PowerLineFrequency`` from a BIDS ``*_eeg.json`` sidecar beside the recording, if any."""
    if not path:
        return None
    stem = os.path.splitext(os.path.abspath(path))[0]
    sidecar = stem + ".json"
    if not os.path.isfile(sidecar):
        return None
    try:
        with open(sidecar, encoding="utf-8") as handle:
            value = json.load(handle).get("PowerLineFrequency")
        return float(value) if value in (50, 60, 50.0, 60.0) else None
    except (OSError, ValueError, TypeError):
        return None


# pyprep's NoisyChannels defaults (Bigdely-Shamlo et al. 2015, the PREP pipeline; pyprep 0.9):
# robust z of the channel amplitude > 5 (deviation), robust z of the >50 Hz / <50 Hz amplitude
# ratio > 5 (HF noise), maximal correlation with another channel (its 98th percentile) < 0.4 in
# more than 1 % of 1 s windows (correlation), and flat signal. RANSAC is left out (it needs a
# dense cap and minutes of CPU). The robust statistics need enough channels to be robust: below
# ``min_channels`` nothing is flagged but flat channels. The front-end leaves out a channel that
# is flat, an amplitude outlier (bad by deviation *and* ``outlier_amplitude_factor`` times larger
# or smaller than the median channel: a physiological topography, e.g. eyes-closed occipital alpha
# or frontal sleep delta, makes channels up to 3-4x larger than the rest, a lost contact 5-15x),
# or bad by both HF noise and correlation (PREP's "bad by SNR"); a channel flagged by one criterion
# alone (muscle over the temporalis, a few artifact seconds, strong alpha) is named as suspect and
# kept: it still carries EEG, and its artifacts are reported per segment.
BAD_CHANNEL_CRITERIA = {
    "deviation_z": 5.0,
    "hf_noise_z": 5.0,
    "correlation_threshold": 0.4,
    "correlation_window_s": 1.0,
    "correlation_bad_fraction": 0.01,
    "flat_std_uv": 0.5,  # the findings' flat_channel threshold
    "outlier_amplitude_factor": 5.0,
    "min_channels": 8,
}
_IQR_TO_SD = 0.7413
_MAD_TO_SD = 1.4826


def _median(x: np.ndarray, keepdims: bool = False) -> np.ndarray:
    """``np.median(x, axis=-1)`` from one sort of the rows (the same arithmetic, equal bit for
    bit: the middle value, or the two middle values' sum halved); finite input."""
    n = x.shape[-1]
    ordered = np.sort(x, axis=-1)
    middle = ordered[..., n // 2] if n % 2 else (ordered[..., n // 2 - 1] + ordered[..., n // 2]) / 2
    return middle[..., None] if keepdims else middle


def _quantiles(x: np.ndarray, q: Sequence[float], method: str = "linear") -> np.ndarray:
    """``np.quantile(x, q, axis=-1, method=method)`` for a sequence ``q`` and the methods
    ``"linear"`` (numpy's default) and ``"hazen"`` (MATLAB's), from one sort of the rows: numpy
    partitions along a strided copy (the quantile axis moved first), several times slower. The
    same arithmetic (virtual index, neighbours clipped to the ends, numpy's two-sided
    interpolation): equal bit for bit; finite input."""
    n = x.shape[-1]
    quantiles = np.asarray(q, dtype=np.float64)
    if method == "linear":
        virtual = (n - 1) * quantiles
    elif method == "hazen":  # numpy's _compute_virtual_index(n, q, 0.5, 0.5)
        virtual = n * quantiles + (0.5 + quantiles * (1 - 0.5 - 0.5)) - 1
    else:
        raise ValueError(f"_quantiles: method must be 'linear' or 'hazen', got {method!r}")
    previous = np.floor(virtual)
    gamma = virtual - previous  # where a neighbour is clipped both are the same value: gamma is moot
    below = np.clip(previous, 0, n - 1).astype(np.intp)
    above = np.clip(previous + 1, 0, n - 1).astype(np.intp)
    ordered = np.sort(x, axis=-1)
    out = []
    for i, j, g in zip(below, above, gamma):
        a, b = ordered[..., i], ordered[..., j]
        t = np.full((1,) * a.ndim, g)  # numpy's _lerp: a + (b - a) t, or b - (b - a)(1 - t) from t = 0.5 on
        diff = b - a
        value = np.asarray(np.add(a, diff * t))
        np.subtract(b, diff * (1 - t), out=value, where=t >= 0.5, casting="unsafe")
        out.append(value)
    return np.stack(out)


def _row_std(x: np.ndarray) -> np.ndarray:
    """``x.std(axis=-1)`` computed a few leading slices at a time: the same numbers (each row is
    reduced on its own, in the same order), but the temporaries of ~1 MB chunks stay in cache:
    ~1.7x faster on a window of EEG."""
    x = np.asarray(x)
    if x.ndim < 2:
        return x.std(axis=-1)
    step = max(1, (1 << 17) // max(1, math.prod(x.shape[1:])))
    if step >= len(x):
        return x.std(axis=-1)
    return np.concatenate([x[i : i + step].std(axis=-1) for i in range(0, len(x), step)])


def _mad(x: np.ndarray) -> np.ndarray:
    """Median absolute deviation over the last axis (``np.median`` twice, by sorting)."""
    return _median(np.abs(x - _median(x, keepdims=True)))


def _iqr(x: np.ndarray) -> np.ndarray:
    # MATLAB's quantile convention, as pyprep's _mat_quantile ("hazen" in numpy's terms).
    q75, q25 = _quantiles(x, (0.75, 0.25), method="hazen")
    return q75 - q25


@functools.lru_cache(maxsize=8)
def _bad_channel_filters(sfreq: float) -> tuple[np.ndarray, Optional[np.ndarray]]:
    from scipy import signal

    high = signal.butter(4, 1.0, btype="highpass", output="sos", fs=sfreq)  # pyprep's 1 Hz detrend
    low = signal.butter(8, 47.5, btype="lowpass", output="sos", fs=sfreq) if sfreq > 100 else None  # its 45-50 Hz FIR
    return high, low


def find_bad_channels(data_uv: np.ndarray, sfreq: float) -> dict[str, list[int]]:
    """Bad channels by pyprep's ``NoisyChannels`` criteria (``BAD_CHANNEL_CRITERIA``), vectorized.

    Args:
        data_uv: ``(n_channels, n_times)`` EEG in microvolts (a recording or excerpts of it, end
            to end); at least a few seconds.
        sfreq: Hz.

    Returns:
        ``{"flat": [...], "deviation": [...], "hf_noise": [...], "correlation": [...],
        "amplitude_outlier": [...]}``: channel indices flagged by each criterion (the first four
        are pyprep's; a test checks them against pyprep on real data), the last the deviation
        channels ``outlier_amplitude_factor`` away from the median amplitude.
    """
    criteria = BAD_CHANNEL_CRITERIA
    data = np.asarray(data_uv, dtype=np.float64)
    n_ch = data.shape[0]
    out: dict[str, list[int]] = {"flat": [], "deviation": [], "hf_noise": [], "correlation": [], "amplitude_outlier": []}
    flat = (_row_std(data) < criteria["flat_std_uv"]) | (_mad(data) < 1e-9)
    out["flat"] = np.flatnonzero(flat).tolist()
    usable = np.flatnonzero(~flat)
    if len(usable) < criteria["min_channels"]:
        return out
    high, low = _bad_channel_filters(float(sfreq))
    x = sosfiltfilt(high, data[usable])
    # Deviation: the robust amplitude of a channel far from the others'.
    amplitude = _iqr(x) * _IQR_TO_SD
    z = (amplitude - _median(amplitude)) / max(float(_iqr(amplitude) * _IQR_TO_SD), 1e-12)
    out["deviation"] = usable[np.abs(z) > criteria["deviation_z"]].tolist()
    ratio = amplitude / max(float(_median(amplitude)), 1e-12)
    factor = criteria["outlier_amplitude_factor"]
    out["amplitude_outlier"] = usable[(np.abs(z) > criteria["deviation_z"]) & ((ratio >= factor) | (ratio <= 1 / factor))].tolist()
    filtered = sosfiltfilt(low, x) if low is not None else x
    if low is not None:
        # High-frequency noise: the >50 Hz part's amplitude relative to the rest.
        noisiness = _mad(x - filtered) / np.maximum(_mad(filtered), 1e-12)
        z = (noisiness - _median(noisiness)) / max(float(_mad(noisiness) * _MAD_TO_SD), 1e-12)
        out["hf_noise"] = usable[z > criteria["hf_noise_z"]].tolist()
    # Correlation: in 1 s windows, the channel's highest correlation with another channel (the
    # 98th percentile of its absolute correlations) below 0.4 in more than 1 % of the windows.
    win = int(criteria["correlation_window_s"] * sfreq)
    n_win = (filtered.shape[-1] - 1) // win
    if n_win >= 1:
        windows = filtered[:, : n_win * win].reshape(len(usable), n_win, win).transpose(1, 0, 2)  # (w, c, win)
        windows = windows - windows.mean(-1, keepdims=True)
        norm = np.linalg.norm(windows, axis=-1, keepdims=True)
        live = norm[..., 0] > 0  # (w, c)
        windows = windows / np.where(norm > 0, norm, 1.0)
        corr = np.abs(windows @ windows.transpose(0, 2, 1))  # (w, c, c)
        corr[:, np.arange(len(usable)), np.arange(len(usable))] = 0.0
        best = _quantiles(corr.transpose(0, 2, 1), (0.98,), method="hazen")[0]  # (w, c): np.quantile over axis 1
        best[~live] = 0.0
        fraction = (best < criteria["correlation_threshold"]).mean(0)
        out["correlation"] = usable[fraction > criteria["correlation_bad_fraction"]].tolist()
    return out


# ---------------------------------------------------------------------------------------------
# Polyphase resampling (scipy.signal.resample_poly's filter, as matrix products).
# ---------------------------------------------------------------------------------------------

__all__ += ["resample_poly"]


@functools.lru_cache(maxsize=16)
def _polyphase_plan(up: int, down: int) -> tuple[int, int, int, int, int, np.ndarray]:
    """``(m0, i_lo, outputs_per_block, inputs_per_block, n_blocks, weights)`` of the polyphase
    form of ``scipy.signal.resample_poly(x, up, down)`` (its Kaiser-windowed sinc, 10 zero
    crossings per side, zero-padded in front as scipy pads it): output ``m0 + q P + p`` is
    ``sum_s x[q D + i_lo + s D : ...] @ weights[s]`` with ``P = G up`` outputs per block of
    ``D = G down`` inputs (``G`` blocks of the period taken together so that a block's inputs
    cover the filter)."""
    from scipy import signal

    max_rate = max(up, down)
    half_len = 10 * max_rate
    h = signal.firwin(2 * half_len + 1, 1.0 / max_rate, window=("kaiser", 5.0)) * up
    n_pre_pad = down - half_len % down
    h = np.concatenate([np.zeros(n_pre_pad), h])
    m0 = (half_len + n_pre_pad) // down  # scipy's n_pre_remove: the first output kept
    group = max(1, -(-len(h) // (up * down)))
    outputs, inputs = group * up, group * down
    i_lo = -((len(h) - 1 - m0 * down) // up)  # ceil((m0 down - len(h) + 1) / up)
    i_hi = ((m0 + outputs - 1) * down) // up
    n_blocks = -(-(i_hi - i_lo + 1) // inputs)
    weights = np.zeros((n_blocks * inputs, outputs))
    i = np.arange(i_lo, i_lo + n_blocks * inputs)[:, None]
    k = (m0 + np.arange(outputs))[None, :] * down - i * up  # filter tap of input i for output p
    valid = (k >= 0) & (k < len(h))
    weights[valid] = h[k[valid]]
    return m0, i_lo, outputs, inputs, n_blocks, weights.reshape(n_blocks, inputs, outputs)


def resample_poly(x: np.ndarray, up: int, down: int, padtype: str = "constant") -> np.ndarray:
    """``scipy.signal.resample_poly(x, up, down, axis=-1, padtype=padtype)`` for ``padtype``
    ``"constant"`` (zeros) or ``"line"``, computed as a few matrix products (BLAS) instead of
    scipy's per-sample loop: the same filter and the same edges, equal to it up to the order of
    the floating-point sums (~1e-15 of the signal's scale); several times faster on multichannel
    EEG. Other dtypes, pad types or very short signals go to scipy itself.

    Args:
        x: ``(..., n)`` float64.
        up, down: the rate ratio ``up / down``.
        padtype: how the signal is extended beyond its ends, as in scipy.
    """
    from scipy import signal

    x = np.asarray(x)
    g = math.gcd(int(up), int(down))
    up, down = int(up) // g, int(down) // g
    if up == down == 1:
        return x.copy()
    m0, i_lo, outputs, inputs, n_blocks, weights = _polyphase_plan(up, down)
    n_in = x.shape[-1]
    if x.dtype != np.float64 or padtype not in ("constant", "line") or n_in < 2 * n_blocks * inputs:
        return signal.resample_poly(x, up, down, axis=-1, padtype=padtype)
    n_out = -(-n_in * up // down)
    n_rows = -(-n_out // outputs)
    flat = np.ascontiguousarray(x.reshape(-1, n_in))
    if padtype == "line":  # upfirdn's "line": the straight line through the first and last samples
        slope = (flat[:, -1:] - flat[:, :1]) / (n_in - 1)

    def samples(lo: int, hi: int) -> np.ndarray:
        """Inputs ``lo ... hi - 1``, extended beyond the signal's ends as scipy extends them (a
        view of the signal where no extension is needed)."""
        if 0 <= lo and hi <= n_in:
            return flat[:, lo:hi]
        out = np.zeros((len(flat), hi - lo))
        a, b = max(lo, 0), min(hi, n_in)
        if a < b:
            out[:, a - lo : b - lo] = flat[:, a:b]
        if padtype == "line":
            before = np.arange(lo, min(hi, 0))
            out[:, : len(before)] = flat[:, :1] + before * slope
            after = np.arange(max(lo, n_in), hi)
            out[:, hi - lo - len(after) :] = flat[:, -1:] + (after - (n_in - 1)) * slope
        return out

    # Output row r (``outputs`` samples) reads input blocks r ... r + n_blocks - 1 of ``inputs``
    # samples each, from input i_lo on. Rows whose blocks lie inside the signal read it in place;
    # the few rows at each end read an extended copy.
    head = min(n_rows, max(0, -(-(-i_lo) // inputs)))  # first row whose blocks start at input >= 0
    tail = max(head, min(n_rows, (n_in - i_lo) // inputs - n_blocks + 1))  # rows from here reach past the end
    y = np.empty((len(flat), n_rows, outputs))
    for a, b in ((0, head), (head, tail), (tail, n_rows)):
        if a == b:
            continue
        first = i_lo + a * inputs
        rows = samples(first, first + (b - a + n_blocks - 1) * inputs).reshape(len(flat), b - a + n_blocks - 1, inputs)
        np.matmul(rows[:, : b - a], weights[0], out=y[:, a:b])
        for s in range(1, n_blocks):
            y[:, a:b] += rows[:, s : s + b - a] @ weights[s]
    out = y.reshape(len(flat), n_rows * outputs)[:, :n_out]
    return out if x.ndim == 2 else out.reshape(*x.shape[:-1], n_out)


# ---------------------------------------------------------------------------------------------
# Zero-phase IIR filtering (scipy.signal.sosfiltfilt's arithmetic, all channels at once).
# ---------------------------------------------------------------------------------------------

__all__ += ["sosfiltfilt"]


def _sosfiltfilt_kernel(sos, zi, x, edge, out):  # pragma: no cover  (run compiled by numba)
    """``out[:] = scipy.signal.sosfiltfilt(sos, x, axis=-1)`` for ``x`` ``(n_channels, n)``
    float64, operation for operation: the odd extension by ``edge`` samples, the forward pass
    from ``zi * first sample``, the backward pass from ``zi * last forward output``, each
    section in scipy's direct form II transposed (``_sosfilt_float``: the same products and
    sums in the same order). Only the loop order differs: scipy filters one channel after the
    other, a chain of dependent operations the processor waits on; here the channel loop is
    innermost (a ``(n + 2 edge, n_channels)`` buffer), so the channels fill the vector units."""
    n_ch, n = x.shape
    n_sec = sos.shape[0]
    n_ext = n + 2 * edge
    buf = np.empty((n_ext, n_ch))
    for k in range(n_ext):  # scipy's odd_ext: 2 x[0] - x[edge ... 1], x, 2 x[-1] - x[-2 ... -edge-1]
        t = k - edge
        for i in range(n_ch):
            if t < 0:
                buf[k, i] = 2 * x[i, 0] - x[i, -t]
            elif t >= n:
                buf[k, i] = 2 * x[i, n - 1] - x[i, 2 * n - 2 - t]
            else:
                buf[k, i] = x[i, t]
    z = np.empty((n_sec, 2, n_ch))
    for backward in range(2):
        first = n_ext - 1 if backward else 0
        for s in range(n_sec):
            for i in range(n_ch):
                z[s, 0, i] = zi[s, 0] * buf[first, i]
                z[s, 1, i] = zi[s, 1] * buf[first, i]
        for k in range(n_ext):
            t = n_ext - 1 - k if backward else k
            for s in range(n_sec):
                b0, b1, b2, a1, a2 = sos[s, 0], sos[s, 1], sos[s, 2], sos[s, 4], sos[s, 5]
                for i in range(n_ch):
                    x_cur = buf[t, i]
                    x_new = b0 * x_cur + z[s, 0, i]
                    z[s, 0, i] = b1 * x_cur - a1 * x_new + z[s, 1, i]
                    z[s, 1, i] = b2 * x_cur - a2 * x_new
                    buf[t, i] = x_new
    for t in range(n):
        for i in range(n_ch):
            out[i, t] = buf[t + edge, i]


@functools.lru_cache(maxsize=1)
def _compiled_sosfiltfilt():
    """The kernel compiled by numba (cached on disk where numba can write its cache), or None
    without numba: ``sosfiltfilt`` then calls scipy (the same numbers, ~2x slower)."""
    try:  # optional (installed with YASA's antropy): transformers' remote-code check skips guarded imports
        import numba
    except ImportError:
        logger.warning("numba is not installed: zero-phase filtering runs through scipy (same results, slower)")
        return None
    signature = "void(float64[:, ::1], float64[:, ::1], float64[:, :], int64, float64[:, ::1])"  # x: any strides
    # nogil: the feature extractor filters the next window in a thread while it measures this one.
    try:
        return numba.njit(signature, cache=True, nogil=True)(_sosfiltfilt_kernel)
    except Exception as error:  # no writable cache folder (numba refuses cache=True), or a numba fault
        logger.info("numba could not cache the filter kernel (%s); compiling it for this process", error)
    try:
        return numba.njit(signature, nogil=True)(_sosfiltfilt_kernel)
    except Exception as error:
        logger.warning("numba could not compile the filter kernel (%s): zero-phase filtering runs through scipy", error)
        return None


def sosfiltfilt(sos: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``scipy.signal.sosfiltfilt(sos, x, axis=-1)`` (odd padding, scipy's default length),
    equal to it bit for bit, 2-3x faster on multichannel EEG (``_sosfiltfilt_kernel``). Other
    shapes, dtypes, too short signals (scipy's error) or a missing numba go to scipy itself.

    Args:
        sos: ``(n_sections, 6)`` second-order sections (``a0 = 1``, as scipy's designs give).
        x: ``(n_channels, n_times)`` float64.

    Returns:
        ``(n_channels, n_times)`` float64, a new array.
    """
    from scipy import signal

    sos = np.asarray(sos)
    x = np.asarray(x)
    n_sections = sos.shape[0] if sos.ndim == 2 else 0
    ntaps = 2 * n_sections + 1 - min(int((sos[:, 2] == 0).sum()), int((sos[:, 5] == 0).sum())) if n_sections else 0
    edge = 3 * ntaps  # scipy's default padlen
    usable = (
        x.ndim == 2 and x.dtype == np.float64 and sos.dtype == np.float64 and sos.shape[-1] == 6
        and n_sections > 0 and bool(np.all(sos[:, 3] == 1.0)) and x.shape[-1] > edge
    )  # fmt: skip
    kernel = _compiled_sosfiltfilt() if usable else None
    if kernel is None:
        return signal.sosfiltfilt(sos, x, axis=-1)
    out = np.empty(x.shape)
    kernel(np.ascontiguousarray(sos), np.ascontiguousarray(signal.sosfilt_zi(sos)), x, edge, out)  # x read in place
    return out
