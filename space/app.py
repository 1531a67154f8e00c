"""NeuroNarrator demo Space: narrate an EEG recording, browse a built corpus, read the leaderboard.

Run locally with ``python space/app.py`` (host and port from GRADIO_SERVER_NAME /
GRADIO_SERVER_PORT, defaults 127.0.0.1:7860). ``demo`` is built at import so tests can launch and
drive it. The app is a thin face: the work is done by ``modeling_neuronarrator`` (front-end, model,
report), ``dataset_builder`` and ``neuronarrator_eval``.
"""

from __future__ import annotations

import html
import importlib.util
import io
import json
import logging
import os
import shutil
import sys
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

# On a Hugging Face Space the repository holds the package folders beside app.py's folder instead
# of an installed package: make them importable.
_ROOT = Path(__file__).resolve().parent.parent
if importlib.util.find_spec("modeling_neuronarrator") is None and (_ROOT / "modeling_neuronarrator").is_dir():
    sys.path.insert(0, str(_ROOT))

import gradio as gr
import numpy as np
import pandas as pd

from modeling_neuronarrator import STANDARD_CHANNELS, EEGInputError, read_recording
from modeling_neuronarrator.eeg_io_neuronarrator import (
    EEG_SCALE,
    READERS,
    SAMPLING_RATE_HZ,
    canonical_channel_name,
    harmonize_channels,
    raw_positions,
)
from modeling_neuronarrator.report import (
    count_text,
    default_model_path,
    findings_line,
    format_time,
    load_narrator,
    narrate_recording,
    write_report,
)
from modeling_neuronarrator.report.plots import (
    plot_band_power_timeline,
    plot_topomaps,
    plot_waveform,
)
from modeling_neuronarrator.report.render import DISCLAIMER
from modeling_neuronarrator.report.summary import EVENT_NAMES, NO_EVENTS

logger = logging.getLogger("neuronarrator.space")

# ---------------------------------------------------------------------------------------------
# Limits (stated in the UI; override with environment variables on a bigger machine).
MAX_UPLOAD_MB = float(os.environ.get("NEURONARRATOR_SPACE_MAX_MB", "200"))
MAX_WINDOW_MINUTES = float(os.environ.get("NEURONARRATOR_SPACE_MAX_MINUTES", "30"))
DEFAULT_WINDOW_MINUTES = 5.0
CONCURRENCY_LIMIT = int(os.environ.get("NEURONARRATOR_SPACE_CONCURRENCY", "2"))
# Every format the front-end reads (its reader table), but the gzipped FIF the upload check adds.
RECORDING_TYPES = [ext for ext in READERS if ext != ".fif.gz"]
COMPANION_TYPES = [".fdt", ".vmrk", ".eeg"]  # EEGLAB data file; BrainVision marker and data files

# The example recordings: plain files in the Space's examples/ folder (written with a manifest by
# `neuronarrator export space`); in a source checkout, the recordings that ship inside installed
# PyPI packages (`neuronarrator examples` lists both).
EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"


def _shipped_examples() -> dict[str, tuple[Path, str]]:
    manifest = json.loads((EXAMPLES_DIR / "examples.json").read_text(encoding="utf-8"))
    return {name: (EXAMPLES_DIR / entry["file"], entry["description"]) for name, entry in manifest.items()
            if (EXAMPLES_DIR / entry["file"]).is_file()}


def _installed_examples() -> dict[str, tuple[Path, str]]:
    try:
        from modeling_neuronarrator.commands.narrate import EXAMPLES as REGISTRY
        from modeling_neuronarrator.commands.narrate import example_path
    except ImportError:  # a Space copy without the command line and without examples/
        return {}
    found = {}
    for name, (_package, _pattern, description) in REGISTRY.items():
        try:
            found[name] = (Path(example_path(name)), description)
        except FileNotFoundError:
            continue
    return found


def _examples() -> dict[str, tuple[Path, str]]:
    """name -> (path, description) of the available example recordings."""
    return _shipped_examples() if (EXAMPLES_DIR / "examples.json").is_file() else _installed_examples()


def example_recordings() -> dict[str, Path]:
    """The available example recordings: name (as in `narrate --example NAME`) -> path."""
    return {name: path for name, (path, _description) in _examples().items()}


@lru_cache(maxsize=1)
def _narrator():
    # The trained default when it ships, else the template writer (said clearly in the output).
    narrator = load_narrator(device="cpu", batch_size=8)
    if narrator.kind == "model":
        import torch

        # Decoding a small model is latency-bound: extra threads mostly synchronize, and requests
        # already run side by side (the queue's concurrency limit).
        torch.set_num_threads(int(os.environ.get("NEURONARRATOR_SPACE_THREADS", "1")))
    return narrator


# ---------------------------------------------------------------------------------------------
# Narrate tab


def _user_error(error: BaseException) -> gr.Error:
    """A one-line message for the UI; the traceback stays in the server log."""
    if isinstance(error, (EEGInputError, ValueError, FileNotFoundError, TypeError)):
        return gr.Error(str(error), title="Cannot use this recording")
    logger.exception("unexpected error in the Space")
    return gr.Error(f"Unexpected error ({type(error).__name__}): {error}. Please report it with the file type you used.")


def _stage_upload(files) -> Path:
    """Copy the uploaded files into one folder (companion files must sit beside their header) and
    return the recording to open."""
    if not isinstance(files, (list, tuple)):
        files = [files]
    paths = [Path(getattr(f, "name", f)) for f in files if f]
    if not paths:
        raise ValueError("no file uploaded: upload an EDF/BDF/FIF/SET/VHDR recording or pick an example")
    total_mb = sum(p.stat().st_size for p in paths) / 1e6
    if total_mb > MAX_UPLOAD_MB:
        raise ValueError(f"upload is {total_mb:.0f} MB; this Space accepts at most {MAX_UPLOAD_MB:.0f} MB: crop the recording or run `neuronarrator narrate` locally")
    folder = Path(tempfile.mkdtemp(prefix="neuronarrator_upload_"))
    for path in paths:
        shutil.copy(path, folder / path.name)
    primary = [folder / p.name for p in paths if any(p.name.lower().endswith(ext) for ext in RECORDING_TYPES + [".fif.gz"])]
    if not primary:
        names = ", ".join(p.name for p in paths)
        raise ValueError(f"{names}: no recording among the uploaded files; upload one of {', '.join(RECORDING_TYPES)} (with its companion .vmrk/.eeg or .fdt files)")
    if len(primary) > 1:
        raise ValueError(f"{', '.join(p.name for p in primary)}: several recordings uploaded; upload one at a time")
    return primary[0]


def _channel_table(raw, path: Path) -> str:
    """Markdown table: each recorded channel, its 10-20 name and what the front-end does with it."""
    names = list(raw.ch_names)
    types = raw.get_channel_types()
    try:
        mapping = harmonize_channels(names, types, raw_positions(raw), path=str(path))
        used = set(mapping.channels_used)
        by_position = bool(getattr(mapping, "position_source", None)) and not mapping.recorded.any()
    except EEGInputError:
        used, by_position = set(), False
    rows = ["| Channel | Type | 10-20 name | Use |", "|---|---|---|---|"]
    shown = 0
    for name, kind in zip(names, types):
        canonical = canonical_channel_name(name)
        if name in used:
            use = "interpolation source (position)" if by_position else "copied"
        elif kind != "eeg" or canonical is None:
            use = "dropped (not EEG)" if kind != "eeg" else "not used"
        else:
            use = "not used (duplicate)"
        rows.append(f"| {name} | {kind} | {canonical or '-'} | {use} |")
        shown += 1
        if shown >= 40 and len(names) > 45:
            rows.append(f"| ... {len(names) - shown} more | | | |")
            break
    return "\n".join(rows)


def _header_markdown(report, raw, path: Path) -> str:
    info = report.recording_info
    interpolated = list(info.get("channels_interpolated") or [])
    recorded = [c for c in STANDARD_CHANNELS if c not in interpolated]
    lines = [
        f"### {html.escape(path.name)}",
        f"**Duration** {format_time(info.get('duration_s') or 0)} · **analysed** {format_time(report.segments[0].start_s)}-"
        f"{format_time(report.segments[-1].end_s)} ({count_text(len(report.segments))} of {report.segment_seconds:g} s) · "
        f"**sampling rate** {info.get('sampling_rate')} Hz → {report.sampling_rate:g} Hz · **mains notch** {info.get('line_freq') or 'none'}",
        "",
        f"**10-20 channels recorded ({len(recorded)}/19):** {', '.join(recorded) or 'none (all interpolated from electrode positions)'}  ",
        f"**Interpolated ({len(interpolated)}):** {', '.join(interpolated) or 'none'}",
        "",
        "<details><summary>Channel mapping (file → 10-20)</summary>\n",
        _channel_table(raw, path),
        "\n</details>",
    ]
    return "\n".join(lines)


def _summary_markdown(report) -> str:
    if report.narrator_kind == "template":
        who = ("⚠️ **No trained model available: narratives are written by the template writer** "
               "(`dataset_builder.describe`) from the measured findings, not generated by the model.")
    else:
        who = f"Narratives generated by **{report.narrator_name}**, each segment with its {report.settings['history_segments']} preceding segments."
    flagged = report.n_flagged
    consistency = (f"**Consistency check:** {flagged} of {len(report.segments)} narratives state something the measured findings do not support."
                   if flagged else f"**Consistency check:** all {len(report.segments)} narratives agree with the measured findings.")
    if report.settings.get("measured_grammar"):
        consistency += (f"  \n**Measured grammar:** the model decoded under its measurements; in {report.n_steered} of "
                        f"{len(report.segments)} narratives its own first choice of a word would have contradicted them and was steered.")
    if report.settings.get("strict") and report.narrator_kind != "template":
        consistency += (f"  \n**Strict mode:** {report.n_first_drafts_flagged} of the model's narratives contradicted the measurement; "
                        f"{report.n_regenerated} were narrated again by the model (sample-and-check) and {report.n_repaired} rewritten "
                        "by the template writer to state it (the segment view shows the model's own text).")
    timeline = ["| From | To | State |", "|---|---|---|"]
    for episode in report.summary.timeline[:30]:
        timeline.append(f"| {format_time(episode.start_s)} | {format_time(episode.end_s)} | {episode.state} |")
    more = f"\n\n… {len(report.summary.timeline) - 30} more episodes in the downloadable report." if len(report.summary.timeline) > 30 else ""
    return "\n\n".join([who, "#### Summary", report.summary.paragraph, _state_and_events_markdown(report), consistency,
                        "#### Timeline", "\n".join(timeline) + more])


def _state_and_events_markdown(report) -> str:
    """How the vigilance state was staged (or why not) and the table of detected events."""
    vigilance = report.recording_info.get("vigilance") or {}
    if vigilance.get("reason") or not vigilance:
        state = f"**Vigilance state:** not assessed ({vigilance.get('reason', 'no staging information')})."
    else:
        state = f"**Vigilance state:** {vigilance['method']} on {vigilance['derivation']}."
    events = report.summary.events
    if not events:
        return state + f"  \n**Events:** {NO_EVENTS[0].lower() + NO_EVENTS[1:]} detected."
    rows = ["| From | To | Event | Rate | Channels |", "|---|---|---|---|---|"]
    for e in events[:20]:
        rate = f"{e.frequency_hz:.1f} Hz" if e.frequency_hz is not None else "-"
        rows.append(f"| {format_time(e.onset_s)} | {format_time(e.offset_s)} | {EVENT_NAMES.get(e.kind, e.kind)} ({e.duration_s:.1f} s) | {rate} | {', '.join(e.channels)} |")
    return state + f"\n\n**Events ({len(events)}):**\n\n" + "\n".join(rows)


def _segment_outputs(report, index: int):
    """Waveform figure, topomap figure and the findings/narrative text of one segment."""
    index = int(max(0, min(int(index or 0), len(report.segments) - 1)))
    segment = report.segments[index]
    arrays = report.arrays
    waveform = plot_waveform(arrays["eeg_values"][index] / EEG_SCALE, report.ch_names, report.sampling_rate, segment.start_s,
                             arrays["channel_mask"][index], title=f"Segment {index} · {format_time(segment.start_s)}-{format_time(segment.end_s)}")
    topomaps = plot_topomaps(arrays["topomaps"][index], title=f"Band-power topomaps · segment {index}")
    flags = [f"- **{i.kind}**: {i.message}" for i in segment.issues if i.kind != "omitted"]
    omitted = [i.message for i in segment.issues if i.kind == "omitted"]
    text = [
        f"#### Segment {index} · {format_time(segment.start_s)}-{format_time(segment.end_s)}",
        f"**Narrative** ({_narrative_author(report, segment)}):",
        f"> {segment.narrative}",
        f"**Measured findings:** {findings_line(segment.findings)}",
        "**Consistency check:** " + ("consistent with the measured findings" if not flags else "claims not supported by the signal:\n" + "\n".join(flags)),
    ]
    if omitted:
        text.append("*Not mentioned:* " + "; ".join(omitted))
    return waveform, topomaps, "\n\n".join(text + _model_texts(segment))


def _narrative_author(report, segment) -> str:
    """Who wrote the narrative shown: the template writer, the model, or the model on a second try
    (strict mode's sample-and-check), or the template writer over the model's text (strict repair)."""
    if report.narrator_kind == "template":
        return "template writer"
    if segment.original_narrative is not None:
        return f"template writer: strict mode rewrote the model's narrative, which contradicted {', '.join(segment.repaired_fields)}"
    if segment.draft_narrative is not None:
        return f"model, narrated again: its first narrative contradicted {', '.join(segment.draft_fields)}"
    return "model, decoded under its measurements" if report.settings.get("measured_grammar") else "model"


def _model_texts(segment) -> list[str]:
    """The model's own narratives that strict mode replaced, first to last."""
    texts = []
    if segment.draft_narrative is not None:
        texts.append(f"*The model's first narrative:* {segment.draft_narrative}")
    if segment.original_narrative is not None:
        texts.append(f"*The model's narrative that strict mode rewrote:* {segment.original_narrative}")
    return texts


def narrate(files, example: str | None, start_minutes: float, window_minutes: float, progress=gr.Progress()):
    """Narrate the uploaded recording (or the chosen example) over the given window."""
    try:
        if files:
            path = _stage_upload(files)
        else:
            examples = example_recordings()
            if not example or example not in examples:
                raise ValueError("no file uploaded and no example chosen: upload a recording or pick an example")
            path = examples[example]
        start_s = max(0.0, float(start_minutes or 0.0) * 60.0)
        window_s = float(window_minutes or DEFAULT_WINDOW_MINUTES) * 60.0
        if window_s <= 0:
            raise ValueError("the analysis window must be longer than 0 minutes")
        if window_s > MAX_WINDOW_MINUTES * 60.0 + 1e-6:
            raise ValueError(f"window of {window_minutes:g} min: this Space analyses at most {MAX_WINDOW_MINUTES:g} min per run; "
                             "choose a shorter window (or run `neuronarrator narrate` locally for whole recordings)")
        raw = read_recording(path)
        duration = raw.n_times / raw.info["sfreq"]
        if start_s >= duration:
            raise ValueError(f"{path.name}: start at {format_time(start_s)} is past the end of the recording ({format_time(duration)}); choose an earlier start")
        progress(0.0, desc="Reading and harmonizing channels")

        def on_chunk(done: int, total: int | None) -> None:
            if total:
                progress(min(done / total, 1.0), desc=f"Narrating segment {done} of {total}")

        report = narrate_recording(
            raw, _narrator(), start_s=start_s, end_s=min(duration, start_s + window_s), batch_segments=16, keep_arrays=True,
            strict=True, progress=on_chunk,  # the Space never shows a narrative that contradicts its own measurement
        )
        report.recording_info.setdefault("path", str(path))
        if not report.recording_info.get("path") or str(report.recording_info.get("path")) == "None":
            report.recording_info["path"] = str(path)
        out = Path(tempfile.mkdtemp(prefix="neuronarrator_report_"))
        html_path = write_report(report, out / f"{path.stem}_report.html")
        json_path = write_report(report, out / f"{path.stem}_report.json")
        band = plot_band_power_timeline([s.start_s for s in report.segments], report.band_power_mean, report.segment_seconds,
                                        markers=[c.time_s for c in report.summary.state_changes][:60])
        waveform, topomaps, segment_text = _segment_outputs(report, 0)
    except gr.Error:
        raise
    except Exception as error:  # shown as a message, never a traceback
        raise _user_error(error) from error
    slider = gr.Slider(minimum=0, maximum=max(len(report.segments) - 1, 1), value=0, step=1, interactive=len(report.segments) > 1,
                       label=f"Segment (0-{len(report.segments) - 1})")
    return (
        _header_markdown(report, raw, path),
        _summary_markdown(report),
        band,
        slider,
        waveform,
        topomaps,
        segment_text,
        [str(html_path), str(json_path)],
        report,
    )


def show_segment(report, index):
    if report is None:
        raise gr.Error("narrate a recording first")
    try:
        return _segment_outputs(report, index)
    except Exception as error:
        raise _user_error(error) from error


# ---------------------------------------------------------------------------------------------
# Corpus explorer tab

_CORPUS_COLUMNS = ["id", "source", "start_s", "labels", "description"]
_DESCRIPTION_CHARS = 160  # in the table; the full text shows when a row is clicked


def _labels_text(value) -> str:
    """``{"sleep_stage": "N3", "event": None}`` (or its JSON) -> ``"sleep_stage=N3"``; None or an
    empty value -> ``"none"``. Read by the one row-label reader (``dataset_builder.agreement``)."""
    from dataset_builder.agreement import read_labels

    try:
        labels = read_labels(value)
    except (TypeError, ValueError):
        return str(value)  # not a label struct: shown as it is
    return ", ".join(f"{k}={v}" for k, v in labels.items()) or "none"
MAX_CORPUS_ROWS = 2000


def load_corpus(folder: str, split: str | None, source: str | None):
    """Rows of a built corpus folder (``dataset_builder.corpus.load_corpus(folder)``), without the EEG column."""
    try:
        folder = (folder or "").strip()
        if not folder:
            raise ValueError("enter the folder of a corpus built with `neuronarrator build-corpus --out FOLDER`")
        if not Path(folder).is_dir():
            raise FileNotFoundError(f"{folder}: folder not found; build a corpus with `neuronarrator build-corpus --out {folder}`")
        from dataset_builder import corpus as neurocorpus  # the one corpus loader (not this tab's load_corpus)

        corpus = neurocorpus.load_corpus(folder)
        splits = list(corpus.keys())
        split = split if split in splits else splits[0]
        data = corpus[split]
        columns = [c for c in _CORPUS_COLUMNS if c in data.column_names]
        table = data.select_columns(columns)  # no EEG column: the table stays light
        row_sources = list(table["source"]) if "source" in columns else []
        sources = sorted(set(row_sources))
        if source and source != "all" and row_sources:
            indices = [i for i, s in enumerate(row_sources) if s == source]
        else:
            indices = list(range(len(table)))
        n_rows = len(indices)
        indices = indices[:MAX_CORPUS_ROWS]
        frame = table.select(indices).to_pandas()
        if "labels" in frame:
            frame["labels"] = frame["labels"].map(_labels_text)
        frame = frame.rename(columns={"start_s": "start (s)"})
        if "description" in frame:
            frame["description"] = frame["description"].map(
                lambda t: t if len(t) <= _DESCRIPTION_CHARS else t[: _DESCRIPTION_CHARS].rsplit(" ", 1)[0] + " …"
            )
        counts = pd.Series(list(data["source"])).value_counts() if "source" in columns else pd.Series(dtype=int)
        info = (f"**{folder}** · split **{split}** ({', '.join(f'{s}: {len(corpus[s])}' for s in splits)} rows) · "
                f"sources: {', '.join(f'{k} ({v})' for k, v in counts.items()) or 'unknown'}"
                + (f" · showing the first {MAX_CORPUS_ROWS} of {n_rows}" if n_rows > MAX_CORPUS_ROWS else ""))
    except Exception as error:
        raise _user_error(error) from error
    return (
        frame,
        info,
        gr.Dropdown(choices=splits, value=split),
        gr.Dropdown(choices=["all", *sources], value=source if source in sources else "all"),
        {"folder": folder, "split": split, "indices": indices},
    )


def show_corpus_row(frame: pd.DataFrame, corpus_state: dict, event: gr.SelectData):
    """Description, labels and the EEG of the selected row."""
    try:
        if frame is None or len(frame) == 0 or not corpus_state:
            raise ValueError("load a corpus first")
        row_index = event.index[0] if isinstance(event.index, (list, tuple)) else int(event.index)
        row = frame.iloc[int(row_index)]
        from dataset_builder import corpus as neurocorpus

        data = neurocorpus.load_corpus(corpus_state["folder"], corpus_state["split"])
        record = data[int(corpus_state["indices"][int(row_index)])]  # decodes this one row only
        text = [f"#### {row.get('id', '')}", f"**Source:** {record.get('source', '?')} · **split:** {record.get('split', corpus_state['split'])}",
                f"**Labels:** {_labels_text(record.get('labels'))}", f"**Description:** {record.get('description', '')}"]
        figure = None
        if record.get("eeg_values") is not None:
            eeg = np.asarray(record["eeg_values"], dtype=np.float32)
            mask = np.asarray(record.get("channel_mask") or [True] * eeg.shape[0], bool)
            figure = plot_waveform(eeg / EEG_SCALE, list(STANDARD_CHANNELS)[: eeg.shape[0]], float(SAMPLING_RATE_HZ), float(record.get("start_s") or 0.0), mask,
                                   title=str(row.get("id", "")))
    except Exception as error:
        raise _user_error(error) from error
    return "\n\n".join(text), gr.Plot(value=figure, visible=figure is not None)


# ---------------------------------------------------------------------------------------------
# Leaderboard tab


def load_leaderboard(folder: str):
    """Leaderboard table and chart from a folder of results JSON files."""
    try:
        folder = (folder or "").strip()
        if not folder:
            raise ValueError("enter the folder of results files written by `neuronarrator evaluate -o FOLDER`")
        path = Path(folder)
        if not path.is_dir():
            raise FileNotFoundError(f"{folder}: folder not found; write results with `neuronarrator evaluate -o {folder}`")
        from neuronarrator_eval import leaderboard  # shipped beside the app (`neuronarrator export space`)

        records = leaderboard.collect_results(path)
        frame = pd.read_csv(io.StringIO(leaderboard.to_csv(records)))
        frame = frame.dropna(axis=1, how="all").drop(columns=["fingerprint"], errors="ignore").round(3)
        chart = str(leaderboard.write_bar_chart(records, Path(tempfile.mkdtemp(prefix="neuronarrator_board_")) / "leaderboard.png"))
    except Exception as error:
        raise _user_error(error) from error
    return frame, chart


# ---------------------------------------------------------------------------------------------
# About tab


def _about_markdown() -> str:
    model = default_model_path()
    card = ""
    if model is not None and (model / "README.md").is_file():
        text = (model / "README.md").read_text(encoding="utf-8")
        if text.startswith("---"):  # drop the YAML metadata block of the model card
            text = text.split("---", 2)[-1]
        card = "## Model card\n\n" + text.strip()
    else:
        card = ("## Model\n\nNo trained checkpoint ships with this copy of NeuroNarrator yet: the Narrate tab shows narratives "
                "written by the corpus' template writer from the measured findings, and says so on every report.")
    return f"""
# NeuroNarrator

EEG → clinical narrative. Every 10 s segment of a recording is harmonized onto the 19 channels of the
10-20 system (aliases mapped, missing channels interpolated), filtered 0.3-75 Hz, resampled to 200 Hz, and
measured (dominant frequency, posterior dominant rhythm, band powers by region, asymmetry, slowing,
artifacts, changes from the preceding segments). A narrative is written for each segment; it is parsed
back and compared with the measurements, and claims the signal does not support are flagged.

> **{DISCLAIMER}**

## Limitations
- Not a medical device; not validated for clinical use. Do not use it to diagnose or treat anyone.
- Measurements are rule-based estimates on 10 s windows; artifacts can mimic or mask findings.
- Recordings with few 10-20 channels are interpolated: interpolated channels (marked *) carry no new information.
- Uploads: at most {MAX_UPLOAD_MB:.0f} MB and {MAX_WINDOW_MINUTES:g} min analysed per run in this Space.

{card}
"""


# ---------------------------------------------------------------------------------------------
# Layout

_CSS = """
.disclaimer {border-left: 4px solid #b91c1c; padding: 6px 12px; background: #fef2f2;}
#nn-summary {min-height: 120px}
"""


def _narrate_inputs(examples: dict[str, tuple[Path, str]]):
    """The Narrate tab's left column: upload, example, window and the button; returns the components."""
    files = gr.File(label="EEG recording", file_types=RECORDING_TYPES + COMPANION_TYPES, file_count="multiple", height=150)
    gr.Markdown(
        f"EDF, BDF, GDF, FIF, EEGLAB (.set + .fdt) or BrainVision (.vhdr + .vmrk + .eeg); at most {MAX_UPLOAD_MB:.0f} MB, "
        f"{MAX_WINDOW_MINUTES:g} min analysed per run."
    )
    example = gr.Dropdown(
        choices=[(f"{name}: {description}", name) for name, (_path, description) in examples.items()],
        value=next(iter(examples), None),
        label="…or a bundled real recording", info="used when nothing is uploaded",
    )
    with gr.Row():
        start = gr.Number(value=0, minimum=0, label="Start (min)", precision=1)
        # No maximum here: narrate() explains the limit better than the component's generic message.
        window = gr.Number(value=DEFAULT_WINDOW_MINUTES, minimum=0.2,
                           label=f"Window (min, ≤ {MAX_WINDOW_MINUTES:g})", precision=1)
    run = gr.Button("Narrate", variant="primary", elem_id="narrate-button")
    downloads = gr.File(label="Recording report (HTML, JSON)", file_count="multiple", interactive=False)
    return files, example, start, window, run, downloads


def _narrate_tab(examples: dict[str, tuple[Path, str]]) -> None:
    """Upload or pick a recording, narrate it, browse its segments."""
    report_state = gr.State(None)
    with gr.Row():
        with gr.Column(scale=1, min_width=320):
            files, example, start, window, run, downloads = _narrate_inputs(examples)
        with gr.Column(scale=2):
            header = gr.Markdown("Upload a recording or pick an example, then press **Narrate**.")
            summary = gr.Markdown(elem_id="nn-summary")
    band = gr.Plot(label="Band power over time", show_label=False)
    gr.Markdown("### Segment viewer")
    segment = gr.Slider(minimum=0, maximum=1, value=0, step=1, label="Segment", interactive=False)
    segment_text = gr.Markdown()
    with gr.Row():
        waveform = gr.Plot(label="Waveform (10 s)", show_label=False)
    with gr.Row():
        topomaps = gr.Plot(label="Band-power topomaps", show_label=False)
    run.click(
        narrate,
        inputs=[files, example, start, window],
        outputs=[header, summary, band, segment, waveform, topomaps, segment_text, downloads, report_state],
        api_name="narrate",
    )
    segment.release(show_segment, inputs=[report_state, segment], outputs=[waveform, topomaps, segment_text], api_name="segment")


def _corpus_tab() -> None:
    """Load a built corpus folder, filter by split and source, show a clicked segment."""
    corpus_state = gr.State({})
    with gr.Row():
        folder = gr.Textbox(label="Corpus folder (written by `neuronarrator build-corpus`)",
                            value=os.environ.get("NEURONARRATOR_CORPUS", ""), scale=3)
        split = gr.Dropdown(choices=[], label="Split", allow_custom_value=True, scale=1)
        source = gr.Dropdown(choices=["all"], value="all", label="Source", allow_custom_value=True, scale=1)
        load = gr.Button("Load", scale=1, elem_id="corpus-load")
    corpus_info = gr.Markdown()
    rows = gr.Dataframe(label="Segments (click a row)", interactive=False, wrap=True, max_height=420,
                        column_widths=["17%", "9%", "7%", "15%", "52%"])
    row_text = gr.Markdown()
    row_plot = gr.Plot(label="EEG of the selected segment", show_label=False, visible=False)
    load.click(load_corpus, inputs=[folder, split, source], outputs=[rows, corpus_info, split, source, corpus_state], api_name="corpus")
    rows.select(show_corpus_row, inputs=[rows, corpus_state], outputs=[row_text, row_plot])


def _leaderboard_tab() -> None:
    """Show the leaderboard table and chart of an evaluation results folder."""
    with gr.Row():
        results = gr.Textbox(label="Results folder (written by `neuronarrator evaluate -o`)",
                             value=os.environ.get("NEURONARRATOR_RESULTS", ""), scale=4)
        show = gr.Button("Show", scale=1, elem_id="leaderboard-show")
    board = gr.Dataframe(label="Leaderboard (click a header to sort)", interactive=False)
    chart = gr.Image(label="Leaderboard chart", type="filepath")
    show.click(load_leaderboard, inputs=[results], outputs=[board, chart], api_name="leaderboard")


def build_demo() -> gr.Blocks:
    examples = _examples()
    # analytics off: the Space must not phone home (and the test machines have no internet).
    with gr.Blocks(title="NeuroNarrator", analytics_enabled=False) as demo:
        gr.Markdown("# NeuroNarrator\nClinical EEG → segment narratives and a recording report.")
        gr.Markdown(f"⚠️ {DISCLAIMER}", elem_classes=["disclaimer"])
        with gr.Tabs():
            with gr.Tab("Narrate"):
                _narrate_tab(examples)
            with gr.Tab("Corpus explorer"):
                _corpus_tab()
            with gr.Tab("Leaderboard"):
                _leaderboard_tab()
            with gr.Tab("About"):
                gr.Markdown(_about_markdown())
    demo.queue(default_concurrency_limit=CONCURRENCY_LIMIT, max_size=32)
    return demo


demo = build_demo()

# Gradio 6 takes the theme, CSS and upload limit at launch; tests launch with the same options.
# System fonts only: a web font would be fetched from the internet by every visitor's browser.
LAUNCH_OPTIONS: dict[str, Any] = {
    "theme": gr.themes.Soft(font=["system-ui", "Segoe UI", "Roboto", "sans-serif"], font_mono=["ui-monospace", "monospace"]),
    "css": _CSS,
    "max_file_size": f"{int(MAX_UPLOAD_MB)}mb",
}

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    # Without GRADIO_SERVER_PORT, Gradio takes the first free port from 7860 on (and prints it).
    port = os.environ.get("GRADIO_SERVER_PORT")
    demo.launch(server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"), server_port=int(port) if port else None, **LAUNCH_OPTIONS)
