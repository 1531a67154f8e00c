"""Band-power topomaps: per-channel values projected onto a square head image by one matrix.

The interpolation matrix ``(H*W, n_channels)`` is a spherical spline from the electrode positions
to the points of an azimuthal-equidistant head grid (vertex at the centre, the equator on the
rim: the projection ``mne.viz.plot_topomap`` draws). It depends only on the channel set and the
grid size, so it is computed once, cached, and applied to a whole batch as one matrix product.
"""

from __future__ import annotations

import functools
from typing import Sequence

import numpy as np

from .eeg_io_neuronarrator import STANDARD_CHANNELS, spherical_spline_matrix, standard_unit_positions

__all__ = ["OUTSIDE_HEAD_VALUE", "COVERAGE_RAD", "topomap_matrix", "head_mask", "project_topomaps", "electrode_xy", "coverage_mask"]

# Grid points outside the head disk get this value (log relative power is <= 0 inside, so 0
# is "no data" without colliding with a plausible value other than a band holding all power).
OUTSIDE_HEAD_VALUE = 0.0
# A map point farther than this from every recorded electrode (0.4 rad = 23 degrees of arc, about
# one 10-20 inter-electrode distance) is extrapolated, not measured: reports grey it out.
COVERAGE_RAD = 0.4


@functools.lru_cache(maxsize=16)
def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors ``(size*size, 3)`` of the grid points and the inside-head mask ``(size*size,)``."""
    # Pixel centres in [-1, 1]; image row 0 is the front of the head (nose up), column 0 the left.
    coords = (np.arange(size) + 0.5) / size * 2.0 - 1.0
    x, y = np.meshgrid(coords, -coords)  # (size, size) each; y flipped so that row 0 is anterior
    radius = np.hypot(x, y).ravel()
    inside = radius <= 1.0
    polar = radius * (np.pi / 2)  # rim of the disk = equator (90 degrees from the vertex)
    azimuth = np.arctan2(y.ravel(), x.ravel())
    unit = np.stack([np.sin(polar) * np.cos(azimuth), np.sin(polar) * np.sin(azimuth), np.cos(polar)], axis=1)
    return unit, inside


@functools.lru_cache(maxsize=16)
def topomap_matrix(ch_names: tuple[str, ...] = STANDARD_CHANNELS, size: int = 32) -> np.ndarray:
    """Interpolation matrix from channel values to a ``size x size`` head image.

    Computed once per (channel set, grid size) and cached (``topomap_matrix.cache_info()``).

    Args:
        ch_names: channels, a subset of STANDARD_CHANNELS in any order.
        size: image side in pixels.

    Returns:
        ``(size*size, len(ch_names))`` float32, rows outside the head disk all zero.
    """
    if size < 4:
        raise ValueError(f"topomap size must be at least 4 pixels, got {size}; use e.g. 32")
    index = {name: i for i, name in enumerate(STANDARD_CHANNELS)}
    unknown = [n for n in ch_names if n not in index]
    if unknown:
        raise ValueError(f"topomap_matrix: channels {unknown} are not 10-20 channels; use names from STANDARD_CHANNELS")
    electrodes = standard_unit_positions()[[index[n] for n in ch_names]]
    grid, inside = _grid(size)
    matrix = np.zeros((size * size, len(ch_names)), dtype=np.float64)
    matrix[inside] = spherical_spline_matrix(electrodes, grid[inside])
    matrix = matrix.astype(np.float32)
    matrix.setflags(write=False)
    return matrix


def head_mask(size: int = 32) -> np.ndarray:
    """``(size, size)`` bool, True inside the head disk."""
    return _grid(size)[1].reshape(size, size).copy()


def project_topomaps(values: np.ndarray, ch_names: Sequence[str] = STANDARD_CHANNELS, size: int = 32) -> np.ndarray:
    """Project per-channel values onto head images, for a whole batch in one matrix product.

    Args:
        values: ``(..., n_channels, n_maps)``, e.g. ``(n_segments, 19, 5)`` log relative band powers.
        ch_names: channel names of axis -2.
        size: image side.

    Returns:
        ``(..., n_maps, size, size)`` float32; OUTSIDE_HEAD_VALUE outside the head disk.
    """
    values = np.asarray(values, dtype=np.float32)
    matrix = topomap_matrix(tuple(ch_names), size)  # (P, C)
    maps = np.swapaxes(values, -1, -2) @ matrix.T  # (..., n_maps, P): one BLAS product
    if OUTSIDE_HEAD_VALUE != 0.0:
        maps[..., ~_grid(size)[1]] = OUTSIDE_HEAD_VALUE
    return maps.reshape(*maps.shape[:-1], size, size)


def electrode_xy(ch_names: Sequence[str] = STANDARD_CHANNELS) -> np.ndarray:
    """``(n, 2)`` positions of 10-20 electrodes on the topomap disk (azimuthal equidistant, the
    grid's projection: vertex at the centre, equator on the rim; x right, y to the nose)."""
    index = {name: i for i, name in enumerate(STANDARD_CHANNELS)}
    unit = standard_unit_positions()[[index[n] for n in ch_names]]
    radius = np.arccos(np.clip(unit[:, 2], -1.0, 1.0)) / (np.pi / 2)
    azimuth = np.arctan2(unit[:, 1], unit[:, 0])
    return np.stack([radius * np.cos(azimuth), radius * np.sin(azimuth)], axis=1)


def coverage_mask(recorded: np.ndarray, size: int = 32, max_rad: float = COVERAGE_RAD) -> np.ndarray:
    """``(size, size)`` bool: head pixels within ``max_rad`` of a recorded electrode.

    Args:
        recorded: ``(19,)`` bool in STANDARD_CHANNELS order (a segment's ``channel_mask``).
    """
    recorded = np.asarray(recorded, dtype=bool)
    grid, inside = _grid(size)
    electrodes = standard_unit_positions()[recorded]
    if not len(electrodes):
        return np.zeros((size, size), dtype=bool)
    nearest = np.arccos(np.clip(grid @ electrodes.T, -1.0, 1.0)).min(axis=1)
    return ((nearest <= max_rad) & inside).reshape(size, size)
