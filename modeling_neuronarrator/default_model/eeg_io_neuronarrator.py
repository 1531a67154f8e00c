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
import os
import re
from dataclasses import dataclass, field
from typing import Optional, Sequence

import mne
import numpy as np
from numpy.polynomial import legendre

__all__ = [
    "EEGInputError",
    "EEGFileNotFoundError",
    "STANDARD_CHANNELS",
    "TCP_PAIRS",
    "MIN_RECORDED_CHANNELS",
    "MIN_SAMPLING_RATE_HZ",
    "READERS",
    "ChannelMap",
    "bids_line_freq",
    "canonical_channel_name",
    "check_min_recorded_channels",
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

# The longitudinal bipolar "double banana" (TCP) montage: left temporal, left parasagittal,
# right temporal, right parasagittal chains, anterior to posterior; 16 pairs (anode, cathode).
TCP_PAIRS = (
    ("Fp1", "F7"), ("F7", "T7"), ("T7", "P7"), ("P7", "O1"),
    ("Fp1", "F3"), ("F3", "C3"), ("C3", "P3"), ("P3", "O1"),
    ("Fp2", "F8"), ("F8", "T8"), ("T8", "P8"), ("P8", "O2"),
    ("Fp2", "F4"), ("F4", "C4"), ("C4", "P4"), ("P4", "O2"),
)  # fmt: skip

# Fewer recorded 10-20 channels than this and spherical-spline interpolation of the other 15+
# is guesswork: refuse. Four still covers e.g. sleep PSG montages (F3 F4 C3 C4 O1 O2 has six).
# The default of harmonize_channels(min_recorded_channels=...); a documented low-density source
# policy (e.g. Sleep-EDF's two derivations) may lower it, and the channel mask then says which
# of the 19 are estimated.
MIN_RECORDED_CHANNELS = 4
# Below 100 Hz the source cannot carry even the 45 Hz gamma band (Nyquist 50 Hz); 100 Hz
# recordings (Sleep-EDF) are accepted with the low-pass capped below their Nyquist frequency.
MIN_SAMPLING_RATE_HZ = 100.0

# Old (1958) temporal names -> modern ACNS names.
_OLD_TO_MODERN = {"T3": "T7", "T4": "T8", "T5": "P7", "T6": "P8"}
_CANONICAL_BY_UPPER = {name.upper(): name for name in STANDARD_CHANNELS}
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
    """

    picks: np.ndarray
    matrix: np.ndarray
    recorded: np.ndarray
    channels_used: list[str] = field(default_factory=list)
    channels_interpolated: list[str] = field(default_factory=list)
    position_source: str = "names"


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

    Non-EEG channels (by MNE type or by name: EOG, EMG, ECG/EKG, stim, resp, MEG, misc, photic)
    are dropped. Channels with a 10-20 name (after alias mapping) are copied; the others of the 19
    are interpolated by spherical spline from the recorded ones. When no 10-20 names are found
    but electrode positions are known (the Raw's montage, a BIDS ``*_electrodes.tsv`` beside the
    file, or a built-in MNE montage that holds the names, e.g. BioSemi A1..D32), all 19 channels
    are interpolated from those positions.

    Args:
        ch_names: channel names as in the file.
        ch_types: MNE channel types (default: all "eeg").
        positions: ``{name: xyz}`` in any head-centred frame, e.g. ``raw.get_montage()``'s.
        path: the recording's path, for error messages and for BIDS sidecars.
        exclude: channel names to leave out (bad channels, e.g. ``raw.info["bads"]``).
        min_recorded_channels: fewest usable channels (10-20 names, else electrodes with
            positions) to accept; default ``MIN_RECORDED_CHANNELS`` (4). Lower it only for a
            documented low-density source: with fewer than 4 electrodes most of the 19 channels
            are a smooth blend of the few recorded ones (``recorded`` says which are measured).
            Note that the 10-20 names win when at least this many are found, so a source whose
            channels are partly off the 19 (e.g. Fpz) should set it above its count of 10-20 names
            to have every electrode used through the position path.

    Raises:
        ValueError: ``min_recorded_channels`` is not an int >= 1.
        EEGInputError: no EEG channels, or fewer than ``min_recorded_channels`` usable ones.
    """
    check_min_recorded_channels(min_recorded_channels)
    label = os.path.basename(path) if path else "recording"
    ch_types = list(ch_types) if ch_types is not None else ["eeg"] * len(ch_names)
    eeg = [i for i, (n, t) in enumerate(zip(ch_names, ch_types)) if not _is_non_eeg(n, t)]
    if not eeg:
        raise EEGInputError(
            f"{label}: no EEG channels (channels are {list(ch_names)[:12]}{' ...' if len(ch_names) > 12 else ''}); "
            "the front-end needs scalp EEG: pass a recording with EEG channels or fix the channel types/names"
        )
    excluded = set(exclude)
    eeg = [i for i in eeg if ch_names[i] not in excluded]
    # First name wins when a channel appears twice (e.g. "EEG FP1-REF" and "EEG FP1-LE").
    found: dict[str, int] = {}
    for i in eeg:
        canonical = canonical_channel_name(ch_names[i])
        if canonical is not None and canonical not in found:
            found[canonical] = i
    if len(found) >= min_recorded_channels:
        order = sorted(found, key=found.get)
        matrix, recorded = _named_matrix(tuple(order))
        return ChannelMap(
            picks=np.array([found[n] for n in order]),
            matrix=matrix,
            recorded=recorded,
            channels_used=[ch_names[found[n]] for n in order],
            channels_interpolated=[n for n, r in zip(STANDARD_CHANNELS, recorded) if not r],
        )

    # No (or too few) 10-20 names: fall back on electrode positions.
    eeg_names = [ch_names[i] for i in eeg]
    source = "montage"
    pos = {n: np.asarray(p, dtype=np.float64) for n, p in (positions or {}).items() if p is not None and np.all(np.isfinite(p))}
    if sum(n in pos for n in eeg_names) < min_recorded_channels:
        pos, source = _bids_electrodes(path, eeg_names, min_recorded_channels) or {}, "electrodes.tsv"
    if sum(n in pos for n in eeg_names) < min_recorded_channels:
        builtin, montage_name = _builtin_montage_positions(eeg_names)
        pos, source = builtin or {}, f"MNE montage {montage_name}"
    with_pos = [i for i in eeg if ch_names[i] in pos]
    if len(with_pos) < min_recorded_channels:
        raise EEGInputError(
            f"{label}: only {len(found)} of the 19 10-20 channels found ({sorted(found) or 'none'}) and "
            f"no electrode positions for the other EEG channels; at least {min_recorded_channels} are needed "
            "to interpolate the rest: check the channel names (e.g. 'EEG FP1-REF', 'T3', 'O1') or attach a "
            "montage with positions (raw.set_montage) or an electrodes.tsv beside the file"
        )
    xyz = tuple(tuple(round(float(v), 6) for v in pos[ch_names[i]]) for i in with_pos)
    matrix, recorded = _position_matrix(xyz)
    return ChannelMap(
        picks=np.array(with_pos),
        matrix=matrix,
        recorded=recorded,
        channels_used=[ch_names[i] for i in with_pos],
        channels_interpolated=[n for n, r in zip(STANDARD_CHANNELS, recorded) if not r],
        position_source=source,
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
