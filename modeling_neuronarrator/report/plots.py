"""Report figures (matplotlib, Agg): waveform excerpt, band-power topomaps, band power over time.

Figures are built on ``matplotlib.figure.Figure`` directly, not through ``pyplot``: no global
figure registry, nothing to leak in a long-running Space, safe from worker threads.
``figure_to_png`` turns one into PNG bytes for the HTML report; Gradio's ``gr.Plot`` takes the
``Figure`` itself.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Circle, Polygon
from scipy import ndimage

from ..eeg_io_neuronarrator import STANDARD_CHANNELS
from ..findings_neuronarrator import BAND_EDGES_HZ, BANDS
from ..topomap_neuronarrator import coverage_mask, electrode_xy

__all__ = ["figure_to_png", "plot_band_power_timeline", "plot_hypnogram", "plot_topomaps", "plot_waveform"]

_BAND_COLOURS = {"delta": "#3b4cc0", "theta": "#7b9ff9", "alpha": "#2ca02c", "beta": "#f49a7b", "gamma": "#b40426"}


def figure_to_png(figure: Figure, dpi: int = 96) -> bytes:
    """Render ``figure`` to PNG bytes (Agg)."""
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return buffer.getvalue()


def _check_array(name: str, array, ndim: Sequence[int]) -> np.ndarray:
    array = np.asarray(array)
    if array.ndim not in ndim:
        raise ValueError(f"{name}: expected an array with {' or '.join(map(str, ndim))} dimensions, got shape {array.shape}")
    return array


def plot_waveform(
    eeg_uv,
    ch_names: Sequence[str],
    sampling_rate: float = 200.0,
    start_s: float = 0.0,
    channel_mask=None,
    title: str | None = None,
    spacing_uv: float | None = None,
) -> Figure:
    """Stacked-trace plot of one excerpt, the way EEG review software shows a page.

    Args:
        eeg_uv: signal in microvolts, shape ``(n_channels, n_samples)`` (the feature extractor's
            ``eeg_values`` are µV/100: multiply by 100 first).
        ch_names: channel names, top to bottom, length ``n_channels``.
        sampling_rate: samples per second of ``eeg_uv``.
        start_s: time of the first sample in seconds from the recording start (x-axis labels).
        channel_mask: optional ``(n_channels,)`` bool; False (interpolated) channels are drawn grey.
        title: figure title.
        spacing_uv: vertical distance between traces; default: 4 x the median channel std, so
            traces do not overlap on typical data and a scale bar states the sensitivity.
    """
    eeg_uv = _check_array("plot_waveform eeg_uv", eeg_uv, (2,)).astype(float)
    n_channels, n_samples = eeg_uv.shape
    if len(ch_names) != n_channels:
        raise ValueError(f"plot_waveform: {n_channels} channels in eeg_uv but {len(ch_names)} names")
    mask = np.ones(n_channels, bool) if channel_mask is None else np.asarray(channel_mask, bool)
    centred = eeg_uv - eeg_uv.mean(axis=1, keepdims=True)
    if spacing_uv is None:
        std = float(np.median(centred.std(axis=1)))
        spacing_uv = max(4.0 * std, 1.0)
    times = start_s + np.arange(n_samples) / float(sampling_rate)
    figure = Figure(figsize=(11, 0.32 * n_channels + 1.2))
    axes = figure.add_subplot()
    offsets = spacing_uv * np.arange(n_channels)[::-1]
    for i in range(n_channels):
        colour = "#1f2937" if mask[i] else "#9ca3af"
        axes.plot(times, centred[i] + offsets[i], color=colour, linewidth=0.6, linestyle="-" if mask[i] else "--")
    axes.set_yticks(offsets)
    axes.set_yticklabels([name if mask[i] else f"{name}*" for i, name in enumerate(ch_names)], fontsize=8)
    axes.set_xlim(times[0], times[-1])
    axes.set_ylim(-spacing_uv, offsets[0] + spacing_uv)
    axes.set_xlabel("time (s from recording start)")
    for spine in ("top", "right", "left"):
        axes.spines[spine].set_visible(False)
    # Vertical scale bar: one spacing step, labelled in µV.
    x_bar = times[-1] - 0.02 * (times[-1] - times[0])
    axes.plot([x_bar, x_bar], [offsets[-1], offsets[-1] + spacing_uv], color="#b91c1c", linewidth=2)
    axes.text(x_bar, offsets[-1] + spacing_uv / 2, f" {spacing_uv:.0f} µV", color="#b91c1c", fontsize=8, va="center", ha="left")
    note = "   (* interpolated channel)" if not mask.all() else ""
    axes.set_title((title or "EEG excerpt") + note, fontsize=10, loc="left")
    figure.tight_layout()
    return figure


def _draw_head(axes) -> None:
    # Head outline on the unit disk (the topomap grid spans [-1, 1]), nose up, ears at the sides.
    style = {"fill": False, "edgecolor": "#111827", "linewidth": 1.2}
    axes.add_patch(Circle((0.0, 0.0), 1.0, **style))
    axes.add_patch(Polygon([(-0.12, 0.99), (0.0, 1.14), (0.12, 0.99)], closed=False, **style))
    for side in (-1.0, 1.0):
        ear = [(side * 0.99, 0.12), (side * 1.06, 0.1), (side * 1.08, -0.08), (side * 1.02, -0.14), (side * 0.99, -0.12)]
        axes.add_patch(Polygon(ear, closed=False, **style))


def plot_topomaps(
    topomaps,
    row_titles: Sequence[str] | None = None,
    title: str | None = "Band-power topomaps (log relative power)",
    recorded=None,
) -> Figure:
    """Band-power topomaps with a head outline: one row per segment, one column per band.

    Args:
        topomaps: the feature extractor's ``topomaps``, shape ``(n_rows, 5, H, W)`` or ``(5, H, W)``:
            per-band log relative power on a square grid spanning the head disk ([-1, 1] on both
            axes, nose up); points outside the disk are not drawn.
        row_titles: one label per row (e.g. the segment time).
        title: figure title.
        recorded: ``(19,)`` or ``(n_rows, 19)`` bool channel mask (True = recorded electrode, in
            STANDARD_CHANNELS order). When given, recorded electrodes are marked (black dots;
            interpolated sites as hollow circles) and the map is greyed out where it lies farther
            than ``COVERAGE_RAD`` from every recorded electrode: extrapolated, not measured.
    """
    maps = _topomap_array(topomaps, row_titles)
    n_rows, n_bands, height, width = maps.shape
    ys, xs = np.mgrid[1:-1:complex(0, height), -1:1:complex(0, width)]
    outside = xs**2 + ys**2 > 1.0
    # Pixels outside the head hold a fill value, not data: replace them by the nearest pixel
    # inside, then clip the image to the head circle, so the map ends smoothly at the outline.
    _, (near_y, near_x) = ndimage.distance_transform_edt(outside, return_indices=True)
    masks = None if recorded is None else np.broadcast_to(np.asarray(recorded, dtype=bool), (n_rows, len(STANDARD_CHANNELS)))
    figure = Figure(figsize=(2.1 * n_bands + 0.6, 2.1 * n_rows + 0.7))
    grid = figure.add_gridspec(n_rows, n_bands + 1, width_ratios=[1] * n_bands + [0.06], wspace=0.08, hspace=0.25)
    for b, band in enumerate(BANDS):
        # One colour scale per band across rows, so the rows (segments) compare directly.
        values = maps[:, b][:, ~outside]
        vmin, vmax = (float(values.min()), float(values.max())) if values.size else (0.0, 1.0)
        if vmax - vmin < 1e-9:
            vmin, vmax = vmin - 0.5, vmax + 0.5
        for r in range(n_rows):
            axes = figure.add_subplot(grid[r, b])
            mappable = axes.imshow(maps[r, b][near_y, near_x], extent=(-1, 1, -1, 1), origin="upper", cmap="RdBu_r", vmin=vmin, vmax=vmax,
                                   interpolation="bilinear")  # fmt: skip
            mappable.set_clip_path(Circle((0.0, 0.0), 1.0, transform=axes.transData))
            if masks is not None:
                _draw_coverage(axes, masks[r], outside)
            _draw_head(axes)
            _frame_topomap(axes, band if r == 0 else None, row_titles[r] if b == 0 and row_titles is not None else None)
    _topomap_legend(figure, grid[:, n_bands], mappable, with_electrodes=masks is not None)
    if title:
        figure.suptitle(title, fontsize=10)
    return figure


def _topomap_array(topomaps, row_titles) -> np.ndarray:
    """``topomaps`` as a float ``(n_rows, 5, H, W)`` array, checked against the bands and the row titles."""
    maps = _check_array("plot_topomaps topomaps", topomaps, (3, 4)).astype(float)
    if maps.ndim == 3:
        maps = maps[None]
    n_rows, n_bands = maps.shape[:2]
    if n_bands != len(BANDS):
        raise ValueError(f"plot_topomaps: expected {len(BANDS)} band maps per row ({', '.join(BANDS)}), got {n_bands}")
    if row_titles is not None and len(row_titles) != n_rows:
        raise ValueError(f"plot_topomaps: {n_rows} rows of maps but {len(row_titles)} row titles")
    return maps


def _draw_coverage(axes, recorded: np.ndarray, outside: np.ndarray) -> None:
    """Grey veil over what lies beyond the recorded electrodes (extrapolated); recorded electrodes
    as black dots, interpolated sites as hollow circles."""
    height, width = outside.shape
    beyond = ~coverage_mask(recorded, height) & ~outside if height == width else np.zeros_like(outside)
    veil = np.zeros((height, width, 4))
    veil[beyond] = (0.62, 0.64, 0.68, 0.85)
    axes.imshow(veil, extent=(-1, 1, -1, 1), origin="upper", interpolation="nearest").set_clip_path(
        Circle((0.0, 0.0), 1.0, transform=axes.transData)
    )
    sites = electrode_xy(STANDARD_CHANNELS)
    axes.scatter(*sites[recorded].T, s=9, c="#111827", linewidths=0, zorder=3)
    axes.scatter(*sites[~recorded].T, s=9, facecolors="none", edgecolors="#6b7280", linewidths=0.6, zorder=3)


def _frame_topomap(axes, band: str | None, row_title: str | None) -> None:
    """Limits around the head; the band and its edges above the first row, the row title left of the first column."""
    axes.set_xlim(-1.15, 1.15)
    axes.set_ylim(-1.1, 1.2)
    axes.set_axis_off()
    if band is not None:
        low, high = BAND_EDGES_HZ[band]
        axes.set_title(f"{band}\n{low:g}-{high:g} Hz", fontsize=9)
    if row_title is not None:
        lines = [w for part in str(row_title).split("\n") for w in textwrap.wrap(part, 20, break_long_words=False)]
        axes.text(-1.25, 0.0, "\n".join(lines[:3]), rotation=90, va="center", ha="right", fontsize=8)


def _topomap_legend(figure: Figure, cell, mappable, with_electrodes: bool) -> None:
    colourbar = figure.colorbar(mappable, cax=figure.add_subplot(cell))
    # Each band has its own scale (shared across rows): the bar reads low/high, not numbers.
    low, high = mappable.get_clim()
    colourbar.set_ticks([low, high], labels=["low", "high"], fontsize=8)
    colourbar.set_label("relative power", fontsize=8)
    if with_electrodes:
        figure.text(0.01, 0.005, "• recorded electrode   ○ interpolated site   grey: beyond the recorded electrodes (extrapolated)",
                    fontsize=7, color="#374151")


def plot_band_power_timeline(
    segment_start_s,
    band_powers,
    segment_seconds: float = 10.0,
    markers: Sequence[float] | None = None,
    title: str | None = "Band power over time",
) -> Figure:
    """Relative power of the five bands across the recording (stacked areas, mean over channels).

    Args:
        segment_start_s: segment start times in seconds, shape ``(n_segments,)``.
        band_powers: shape ``(n_segments, 5)`` (already averaged over channels) or
            ``(n_segments, n_channels, 5)`` band powers (any positive unit: they are normalised to
            relative power per segment).
        segment_seconds: segment length, to place each value at the segment's centre.
        markers: times in seconds to mark with a vertical line (e.g. state changes).
        title: figure title.
    """
    starts = np.asarray(segment_start_s, dtype=float)
    powers = _check_array("plot_band_power_timeline band_powers", band_powers, (2, 3)).astype(float)
    if powers.ndim == 3:
        powers = powers.mean(axis=1)  # (n, 5): mean over channels
    if powers.shape != (starts.size, len(BANDS)):
        raise ValueError(f"plot_band_power_timeline: band_powers of shape {powers.shape} do not match {starts.size} segments x {len(BANDS)} bands")
    totals = powers.sum(axis=1, keepdims=True)
    relative = np.divide(powers, totals, out=np.zeros_like(powers), where=totals > 0)
    centres = starts + segment_seconds / 2.0
    # Long recordings read better in minutes or hours.
    span = (centres[-1] - centres[0]) if centres.size else 0.0
    unit, scale = ("h", 3600.0) if span > 3 * 3600 else ("min", 60.0) if span > 600 else ("s", 1.0)
    x = centres / scale
    figure = Figure(figsize=(11, 2.8))
    axes = figure.add_subplot()
    if x.size == 1:
        # One segment: a stacked bar instead of an area with no width.
        bottom = 0.0
        for b, band in enumerate(BANDS):
            axes.bar(x, relative[:, b], bottom=bottom, width=segment_seconds / scale, color=_BAND_COLOURS[band], label=band)
            bottom = bottom + relative[:, b]
    else:
        axes.stackplot(x, relative.T, labels=list(BANDS), colors=[_BAND_COLOURS[b] for b in BANDS], alpha=0.9)
        axes.set_xlim(x[0], x[-1])
    for t in markers or ():
        axes.axvline((t + 0.0) / scale, color="#111827", linewidth=0.6, alpha=0.5)
    axes.set_ylim(0, 1)
    axes.set_ylabel("relative power")
    axes.set_xlabel(f"time ({unit})")
    axes.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    if title:
        axes.set_title(title, fontsize=10, loc="left")
    figure.tight_layout()
    return figure


# Hypnogram rows, top to bottom as sleep laboratories draw them (wake on top, REM next, then
# deepening NREM); drowsiness sits between wake and N1.
_HYPNOGRAM_ROWS = ("awake", "drowsy", "REM", "N1", "N2", "N3")
_HYPNOGRAM_LABELS = {"awake": "Wake", "drowsy": "Drowsy", "REM": "REM", "N1": "N1", "N2": "N2", "N3": "N3"}


def plot_hypnogram(
    segment_start_s,
    states: Sequence[str],
    segment_seconds: float = 10.0,
    events: Sequence[tuple[float, float]] = (),
    title: str | None = "Vigilance state (hypnogram)",
) -> Figure:
    """The vigilance state of every segment as a hypnogram, with events marked.

    Args:
        segment_start_s: segment start times in seconds, shape ``(n_segments,)``.
        states: one state per segment (``findings_neuronarrator.STATES``); ``"not_assessed"``
            segments are left blank and shaded.
        segment_seconds: segment length.
        events: ``(onset_s, offset_s)`` spans in recording time, drawn as red bands.
        title: figure title.
    """
    starts = np.asarray(segment_start_s, dtype=float)
    if len(states) != starts.size:
        raise ValueError(f"plot_hypnogram: {len(states)} states for {starts.size} segments; give one state per segment")
    unknown = sorted({s for s in states if s not in _HYPNOGRAM_ROWS and s != "not_assessed"})
    if unknown:
        raise ValueError(f"plot_hypnogram: unknown states {unknown}; expected {list(_HYPNOGRAM_ROWS) + ['not_assessed']}")
    span = (starts[-1] + segment_seconds - starts[0]) if starts.size else 0.0
    unit, scale = ("h", 3600.0) if span > 3 * 3600 else ("min", 60.0) if span > 600 else ("s", 1.0)
    level = np.array([_HYPNOGRAM_ROWS.index(s) if s in _HYPNOGRAM_ROWS else np.nan for s in states], dtype=float)
    figure = Figure(figsize=(11, 2.4))
    axes = figure.add_subplot()
    # One horizontal step per segment, joined where consecutive segments are both assessed.
    edges = np.append(starts, starts[-1] + segment_seconds) / scale if starts.size else np.zeros(1)
    for i in range(starts.size):
        if np.isnan(level[i]):
            axes.axvspan(edges[i], edges[i + 1], color="#e5e7eb", linewidth=0)
            continue
        colour = "#b91c1c" if states[i] == "REM" else "#1f2937"
        axes.plot([edges[i], edges[i + 1]], [level[i], level[i]], color=colour, linewidth=2.2 if states[i] == "REM" else 1.6)
        if i + 1 < starts.size and not np.isnan(level[i + 1]) and level[i + 1] != level[i]:
            axes.plot([edges[i + 1], edges[i + 1]], [level[i], level[i + 1]], color="#1f2937", linewidth=0.8)
    for onset, offset in events:
        axes.axvspan(onset / scale, max(offset, onset + 0.5) / scale, color="#dc2626", alpha=0.35, linewidth=0)
    axes.set_yticks(range(len(_HYPNOGRAM_ROWS)), [_HYPNOGRAM_LABELS[s] for s in _HYPNOGRAM_ROWS], fontsize=8)
    axes.set_ylim(len(_HYPNOGRAM_ROWS) - 0.5, -0.5)
    if starts.size:
        axes.set_xlim(edges[0], edges[-1])
    axes.set_xlabel(f"time ({unit})")
    for spine in ("top", "right"):
        axes.spines[spine].set_visible(False)
    note = "   (grey: not assessed; red bands: events)" if events or np.isnan(level).any() else ""
    if title:
        axes.set_title(title + note, fontsize=10, loc="left")
    figure.tight_layout()
    return figure
