"""Build NeuroCorpus: index the sources, run every recording through the front-end, describe each
segment, stage the rows per recording, then export Parquet shards and the dataset card.

The work unit is one recording. Its rows are written to ``out/_work/<source>/<recording>.parquet``
through a temporary file and ``os.replace``, so a unit is either completely staged or absent: a
build killed at any point and started again redoes only the missing units and ends with exactly
the rows of an uninterrupted build (the export reads the staged units in a fixed order). A file
that fails (unreadable, too few channels, too short) is logged to ``out/errors.jsonl`` and skipped
(``on_bad_files="warn"`` / ``"skip"``), or stops the build (``"error"``). Labels a reader could not
place, corrected or refused (``RecordingItem.issues``) are written to ``errors.jsonl`` too, one
line each with ``"kind": "label"``, and counted in ``build_info["label_issues"]``; the recording is
still built, with those spans unlabelled. ``build_info["split_subjects"]`` lists the subjects of
each split. A reader's per-source
front-end policy (``SourceReader.feature_extractor_kwargs``, e.g. Sleep-EDF's two-channel minimum)
is applied to its recordings and recorded in ``build_info.json``; a resume checks it too.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import multiprocessing
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping, Optional, Sequence

import numpy as np

from modeling_neuronarrator.findings_neuronarrator import DEFAULT_HISTORY_LENGTH
from modeling_neuronarrator.validation_neuronarrator import check_option

from .augment import EXCERPT_SUFFIX, SCENARIO_SUFFIX, augment_raw, copy_labels, excerpt_drawn, scenario_excerpt, scenario_seed
from .description import describe
from .export import corpus_features, export_corpus
from .labels import LABEL_VOCABULARY
from .readers.base import RecordingItem, SourceReader, available_readers, get_reader
from .splits import DEFAULT_FRACTIONS, assign_splits, split_report

__all__ = ["BuildError", "BuildSettings", "build_corpus", "offline_sources", "recompute_topomaps", "recording_rows"]

logger = logging.getLogger(__name__)

_ON_BAD_FILES = ("error", "warn", "skip")
# Imported once by the forkserver that starts the build's worker processes.
FORKSERVER_PRELOAD = ("dataset_builder.build", "modeling_neuronarrator.feature_extraction_neuronarrator")
_FLOAT16_MAX = 65000.0  # clip before casting: a float16 overflow would store inf


class BuildError(RuntimeError):
    """A recording failed and ``on_bad_files="error"``; the message names the file."""


@dataclass(frozen=True)
class BuildSettings:
    """What decides the rows of a build (a resumed build must use the same settings).

    Attributes:
        history: K, the number of preceding segments a description's change refers to.
        segment_seconds: segment length in s (hop = segment length: no overlap).
        max_segments_per_recording: keep only the first M segments of each recording (None: all).
        with_topomaps: store ``topomaps`` (5 x 32 x 32 float16, ~10 KB per row).
        split_fractions: (train, validation, test) for sources without an official split.
        batch_segments: segments per streamed front-end window (memory, not content).
        scenario_copies: per recording, this many scenario copies (``dataset_builder.augment``:
            added rhythms and artifacts, findings measured as usual) beside the original.
    """

    history: int = DEFAULT_HISTORY_LENGTH
    segment_seconds: float = 10.0
    max_segments_per_recording: Optional[int] = None
    with_topomaps: bool = False
    split_fractions: tuple[float, float, float] = DEFAULT_FRACTIONS
    batch_segments: int = 32
    scenario_copies: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.history, int) or self.history < 0:
            raise ValueError(f"history must be a non-negative int (preceding segments), got {self.history!r}")
        if self.segment_seconds <= 0:
            raise ValueError(f"segment_seconds must be positive, got {self.segment_seconds}")
        if self.max_segments_per_recording is not None and self.max_segments_per_recording < 1:
            raise ValueError(f"max_segments_per_recording must be >= 1 or None, got {self.max_segments_per_recording}")
        if self.batch_segments < 1:
            raise ValueError(f"batch_segments must be >= 1, got {self.batch_segments}")
        if not isinstance(self.scenario_copies, int) or self.scenario_copies < 0:
            raise ValueError(f"scenario_copies must be a non-negative int (copies per recording), got {self.scenario_copies!r}")

    def features(self):
        """The rows' ``datasets.Features`` (the EEG length follows the segment length at 200 Hz)."""
        return corpus_features(self.with_topomaps, n_samples=int(round(self.segment_seconds * 200)))

    def fingerprint(self) -> dict[str, Any]:
        """The settings that change rows (``batch_segments`` does not)."""
        data = dataclasses.asdict(self)
        data.pop("batch_segments")
        data["split_fractions"] = list(data["split_fractions"])
        return data


def offline_sources() -> dict[str, None]:
    """``{name: None}`` for every registered source that ships inside an installed package, except
    the sealed test sources (``sealed_test = True``: never built into a training corpus unless named)."""
    return {name: None for name, cls in available_readers().items() if not cls.requires_path and not getattr(cls, "sealed_test", False)}


# ---------------------------------------------------------------------------------------------
# Rows of one recording


def _feature_extractor(settings: BuildSettings, reader: Optional[SourceReader] = None):
    """The front-end of a build, with the reader's per-source policy (``feature_extractor_kwargs``,
    e.g. Sleep-EDF's lower channel minimum) on top of the build settings."""
    from modeling_neuronarrator import NeuroNarratorFeatureExtractor

    policy = dict(reader.feature_extractor_kwargs) if reader is not None else {}
    return NeuroNarratorFeatureExtractor(
        segment_seconds=settings.segment_seconds, hop_seconds=settings.segment_seconds, batch_segments=settings.batch_segments,
        **policy,
    )  # fmt: skip


def _front_end_policies(readers: Mapping[str, SourceReader]) -> dict[str, dict[str, Any]]:
    """``{source: feature_extractor_kwargs}`` of the sources that set any (JSON-ready)."""
    return {name: dict(sorted(r.feature_extractor_kwargs.items())) for name, r in sorted(readers.items()) if r.feature_extractor_kwargs}


def _check_front_end_policies(work: Path, readers: Mapping[str, SourceReader]) -> None:
    """Refuse to resume a source whose staged rows were made with other per-source front-end
    arguments; record this build's (``_work/front_end.json``, merged over the sources built so far)."""
    path = work / "front_end.json"
    previous = json.loads(path.read_text()) if path.exists() else {}
    current = {name: dict(sorted(r.feature_extractor_kwargs.items())) for name, r in readers.items()}
    for name, kwargs in current.items():
        staged = any((work / name).glob("*.parquet"))
        if staged and name in previous and previous[name] != kwargs:
            raise ValueError(
                f"{work.parent}: holds a partial build whose {name} rows were made with front-end arguments "
                f"{previous[name]}, but the {name} reader now asks for {kwargs}; resume with the code that started "
                f"the build, or delete {work / name} to rebuild that source"
            )
    write_json_atomic(path, {**previous, **current})


def recording_rows(
    reader: SourceReader,
    item: RecordingItem,
    split: str,
    settings: BuildSettings = BuildSettings(),
    feature_extractor=None,
) -> Iterator[list[dict[str, Any]]]:
    """Rows of one recording, one list per streamed front-end window (bounded memory).

    Each row: ``id`` (``source/recording/segment_index:05d``), ``source``, ``subject``,
    ``recording``, ``segment_index``, ``start_s``, ``eeg_values`` ``(19, 2000)`` float16 in µV/100,
    ``channel_mask`` ``(19,)`` bool, ``findings`` (JSON, labels included), ``labels`` (every
    vocabulary key, None where absent), ``description``, ``split`` (+ ``topomaps``).
    """
    from modeling_neuronarrator.findings_neuronarrator import apply_state
    from modeling_neuronarrator.vigilance_neuronarrator import SLEEP_STAGE_TO_STATE

    fe = feature_extractor or _feature_extractor(settings, reader)
    raw = reader.load_raw(item)
    blocks = None  # a scenario copy's blocks (what it planted where)
    if "scenario_copy" in item.extra:
        seed = scenario_seed(item.extra["scenario_of"], item.extra["scenario_copy"])
        if item.extra.get("excerpt"):
            # An unannotated copy's excerpt (a user's short file): no source label has to follow the cut.
            excerpt = scenario_excerpt(seed, raw.times[-1])
            if excerpt is None:
                return  # the recording is too short to cut: no excerpt rows
            raw = raw.crop(*excerpt, include_tmax=False)  # its rows' times are the excerpt's own, from 0
        raw, blocks = augment_raw(raw, seed, line_freq=item.line_freq)
    end_s = None
    if settings.max_segments_per_recording is not None:
        # Only the span of the first M segments is read and filtered.
        end_s = settings.max_segments_per_recording * settings.segment_seconds
    history: list = []
    n_rows = 0
    for batch in fe.iter_batches(raw, line_freq=item.line_freq, end_s=end_s, batch_segments=settings.batch_segments):
        rows = []
        eeg = np.clip(np.asarray(batch["eeg_values"]), -_FLOAT16_MAX, _FLOAT16_MAX).astype(np.float16)
        for j, findings in enumerate(batch["findings"]):
            if settings.max_segments_per_recording is not None and n_rows >= settings.max_segments_per_recording:
                break
            start_s = float(batch["segment_start_s"][j])
            segment_index = int(round(start_s / settings.segment_seconds))
            row_id = f"{item.source}/{item.recording}/{segment_index:05d}"
            labels = {} if item.extra.get("unannotated") else item.labels_for_segment(start_s, start_s + settings.segment_seconds)
            if blocks is not None:
                labels = copy_labels(labels, blocks, start_s, start_s + settings.segment_seconds)
            findings.labels = dict(sorted(labels.items()))
            if labels.get("sleep_stage") in SLEEP_STAGE_TO_STATE:
                # The source's expert stage overrides the stager's state (and slowing is read in its light).
                apply_state([findings], [SLEEP_STAGE_TO_STATE[labels["sleep_stage"]]], previous=history[-3:])
            text = describe(
                findings, history=history[-settings.history :] if settings.history else None, seed=row_id,
                segment_seconds=settings.segment_seconds,
            )  # fmt: skip
            row = {
                "id": row_id,
                "source": item.source,
                "subject": item.subject,
                "recording": item.recording,
                "segment_index": segment_index,
                "start_s": start_s,
                "eeg_values": eeg[j],
                "channel_mask": np.asarray(batch["channel_mask"][j], dtype=bool).tolist(),
                "findings": findings.to_json(),
                "labels": {key: labels.get(key) for key in LABEL_VOCABULARY},
                "description": text,
                "split": split,
            }
            if settings.with_topomaps:
                row["topomaps"] = np.asarray(batch["topomaps"][j], dtype=np.float16)
            rows.append(row)
            history.append(findings)
            n_rows += 1
        if rows:
            yield rows


def recompute_topomaps(eeg: np.ndarray, feature_extractor=None) -> np.ndarray:
    """Band-power topomaps of stored corpus segments (what ``with_topomaps`` would have stored, up
    to the mains notch the stored signal already went through).

    Args:
        eeg: ``(n_segments, 19, n_samples)`` in µV/100 at the extractor's rate (corpus ``eeg_values`` rows).
        feature_extractor: a ``NeuroNarratorFeatureExtractor`` (default settings if None).

    Returns:
        ``(n_segments, 5, size, size)`` float32: log10 relative band power on the head grid.
    """
    from modeling_neuronarrator import NeuroNarratorFeatureExtractor

    fe = feature_extractor or NeuroNarratorFeatureExtractor()
    return np.asarray(fe.topomaps_from_segments(np.asarray(eeg, dtype=np.float32)), dtype=np.float32)


# ---------------------------------------------------------------------------------------------
# Work units


def _unit_name(recording: str) -> str:
    # Recording ids may hold "/" or spaces; the hash keeps sanitized names distinct.
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", recording)[:80]
    return f"{safe}-{hashlib.sha1(recording.encode('utf-8')).hexdigest()[:8]}"


@dataclass
class _Unit:
    reader: SourceReader
    item: RecordingItem
    split: str
    path: str  # staged parquet
    settings: BuildSettings

    @property
    def error_path(self) -> str:
        return self.path[: -len(".parquet")] + ".error.json"


def _run_unit(unit: _Unit) -> tuple[str, int, float, Optional[dict]]:
    """Build one recording into its staged file. Returns (path, rows, seconds of EEG, error)."""
    from datasets.arrow_writer import ParquetWriter

    started = time.perf_counter()
    tmp = f"{unit.path}.tmp-{os.getpid()}"
    n_rows = 0
    try:
        writer = ParquetWriter(features=unit.settings.features(), path=tmp, writer_batch_size=100)
        try:
            for rows in recording_rows(unit.reader, unit.item, unit.split, unit.settings):
                writer.write_batch({key: [row[key] for row in rows] for key in rows[0]})
                n_rows += len(rows)
            writer.finalize()
        finally:
            writer.close()
        os.replace(tmp, unit.path)
    except Exception as error:  # a bad file must not end a batch build: reported to the parent
        if os.path.exists(tmp):
            os.remove(tmp)
        record = {
            "source": unit.item.source,
            "recording": unit.item.recording,
            "file": unit.item.path,
            "error": f"{type(error).__name__}: {error}",
        }
        write_json_atomic(unit.error_path, record)
        return unit.path, 0, 0.0, record
    if os.path.exists(unit.error_path):
        os.remove(unit.error_path)  # a retry succeeded
    logger.debug("%s: %d rows in %.1f s", unit.item.recording, n_rows, time.perf_counter() - started)
    return unit.path, n_rows, n_rows * unit.settings.segment_seconds, None


def write_json_atomic(path: str | Path, data: Any, sort_keys: bool = True) -> None:
    """Write JSON through a temporary file of this process renamed over ``path``: a killed writer
    leaves the old file, and concurrent writers never share a temporary file."""
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as stream:
        json.dump(data, stream, indent=2, sort_keys=sort_keys, default=str)
    os.replace(tmp, path)


def _init_worker() -> None:
    # One BLAS/OpenMP thread per process: the pool already uses the cores.
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:  # optional: only a speed matter
        pass
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass


# ---------------------------------------------------------------------------------------------
# The build


def _index(sources: Mapping[str, Any]) -> list[tuple[SourceReader, RecordingItem]]:
    indexed = []
    for name, path in sources.items():
        reader = name if isinstance(name, SourceReader) else get_reader(name)
        if path is None and reader.requires_path:
            raise ValueError(f"source {reader.name!r} needs the path of its local copy (--source {reader.name}=PATH)")
        items = list(reader.index(path))
        seen = set()
        for item in items:
            if item.recording in seen:
                raise ValueError(f"{reader.name}: recording id {item.recording!r} is indexed twice; the reader must give unique ids")
            seen.add(item.recording)
        logger.info("%s: %d recordings indexed", reader.name, len(items))
        indexed.extend((reader, item) for item in items)
    return indexed


def _with_scenario_copies(indexed: list[tuple[SourceReader, RecordingItem]], copies: int) -> list[tuple[SourceReader, RecordingItem]]:
    """Each recording followed by its scenario copies ``<recording>-scn<n>`` (same source, subject
    and split; ``recording_rows`` makes the signal from the original). Odd copies keep the source's
    labels; even copies are *unannotated*, as a user's file is: no labels, so a model that reads the
    annotated keys in its prompt learns to state a label only where the recording carries one. Half
    of the unannotated copies have a short excerpt beside them, ``<recording>-scn<n>-excerpt``
    (``augment.scenario_excerpt``: under the stager's 5 min; none of a recording too short to cut)."""
    out = []
    for reader, item in indexed:
        out.append((reader, item))
        for n in range(1, copies + 1):
            extra = {**item.extra, "scenario_of": item.recording, "scenario_copy": n, "unannotated": n % 2 == 0}
            recording = f"{item.recording}{SCENARIO_SUFFIX}{n}"
            out.append((reader, dataclasses.replace(item, recording=recording, extra=extra)))
            if extra["unannotated"] and excerpt_drawn(scenario_seed(item.recording, n)):
                excerpt = {**extra, "excerpt": True}
                out.append((reader, dataclasses.replace(item, recording=f"{recording}{EXCERPT_SUFFIX}", extra=excerpt)))
    return out


def _take_lock(work: Path) -> Path:
    lock = work / ".lock"
    if lock.exists():
        try:
            pid = int(lock.read_text().strip())
            os.kill(pid, 0)
        except (ValueError, ProcessLookupError):
            pass  # left by a build that was killed: take it over
        except PermissionError:
            raise ValueError(f"{work}: another build (pid {lock.read_text().strip()}) is writing this folder; wait or use another --out") from None
        else:
            if pid != os.getpid():
                raise ValueError(f"{work}: another build (pid {pid}) is writing this folder; wait for it or use another --out")
    lock.write_text(str(os.getpid()))
    return lock


def build_corpus(
    sources: Mapping[str | SourceReader, Optional[str | os.PathLike]],
    out_dir: str | os.PathLike,
    num_proc: int = 1,
    history: int = DEFAULT_HISTORY_LENGTH,
    segment_seconds: float = 10.0,
    max_segments_per_recording: Optional[int] = None,
    *,
    with_topomaps: bool = False,
    split_fractions: Sequence[float] = DEFAULT_FRACTIONS,
    on_bad_files: str = "warn",
    shard_rows: int = 2000,
    batch_segments: int = 32,
    scenario_copies: int = 0,
    keep_work: bool = False,
    progress: bool = False,
) -> dict[str, Any]:
    """Build NeuroCorpus into ``out_dir`` (resumable, parallel over recordings).

    Args:
        sources: ``{name: local path}`` (None for offline sources); a ``SourceReader`` instance
            may stand in for a name.
        out_dir: output folder (``data/``, ``README.md``, ``errors.jsonl``, ``build_info.json``).
        num_proc: worker processes (1: in this process).
        history: preceding segments the change sentence refers to (K).
        segment_seconds: segment length in s.
        max_segments_per_recording: keep the first M segments of each recording (fast builds).
        with_topomaps: also store the 5 x 32 x 32 band topomaps per row.
        split_fractions: (train, validation, test) of subjects without an official split.
        on_bad_files: ``"error"`` stops at the first failing file, ``"warn"`` logs a warning and
            skips it, ``"skip"`` skips it quietly; failures always go to ``errors.jsonl``.
        shard_rows: rows per Parquet shard.
        batch_segments: segments per streamed front-end window.
        scenario_copies: scenario copies per recording (``dataset_builder.augment``), 0: none.
        keep_work: keep the staged per-recording files after the export.
        progress: draw a tqdm bar (the CLI does; libraries stay quiet).

    Returns:
        The build info (rows per split and source, errors, settings, timings).
    """
    _check_build_arguments(sources, num_proc, on_bad_files)
    settings = BuildSettings(
        history=history, segment_seconds=float(segment_seconds), max_segments_per_recording=max_segments_per_recording,
        with_topomaps=with_topomaps, split_fractions=tuple(float(f) for f in split_fractions), batch_segments=batch_segments,
        scenario_copies=scenario_copies,
    )  # fmt: skip
    started = time.perf_counter()
    out_dir = Path(out_dir)
    work = out_dir / "_work"
    work.mkdir(parents=True, exist_ok=True)
    lock = _take_lock(work)
    try:
        _prepare_work(work, out_dir, settings)
        readers, splits, units = _plan_units(sources, work, settings)
        todo = [unit for unit in units if not os.path.exists(unit.path)]
        logger.info("%d recordings, %d already staged, %d to build", len(units), len(units) - len(todo), len(todo))
        stats = _run_units(todo, num_proc, on_bad_files, progress)
        info = _export_units(units, readers, splits, out_dir, settings, shard_rows)
    finally:
        lock.unlink(missing_ok=True)
    if not keep_work:
        shutil.rmtree(work, ignore_errors=True)
    info["timing"] = {
        "wall_s": round(time.perf_counter() - started, 2),
        "built_recordings": stats["built"],
        "built_rows": stats["rows"],
        "built_eeg_seconds": stats["eeg_seconds"],
        "num_proc": num_proc,
    }
    return info


def _check_build_arguments(sources: Mapping[Any, Any], num_proc: Any, on_bad_files: str) -> None:
    """``build_corpus``'s argument checks (``ValueError`` naming the argument and what is allowed)."""
    check_option("on_bad_files", on_bad_files, _ON_BAD_FILES)
    if not isinstance(num_proc, int) or num_proc < 1:
        raise ValueError(f"num_proc must be a positive int, got {num_proc!r}")
    if not sources:
        raise ValueError("no sources given; pass e.g. {'tuab': '/data/tuab'} or offline_sources()")


def _prepare_work(work: Path, out_dir: Path, settings: BuildSettings) -> None:
    """Prepare stage of ``build_corpus``: a partial build in ``work`` must have the same settings
    (else ``ValueError``); a fresh one records them; temp files of a killed build go."""
    settings_path = work / "settings.json"
    if settings_path.exists():
        previous = json.loads(settings_path.read_text())
        if previous != settings.fingerprint():
            raise ValueError(
                f"{out_dir}: holds a partial build with other settings ({previous}); resume with the same settings, "
                f"or delete {work} to start over"
            )
    else:
        write_json_atomic(settings_path, settings.fingerprint())
    for stale in work.glob("*/*.tmp-*"):  # temp files of a killed build
        stale.unlink()


def _plan_units(
    sources: Mapping[str | SourceReader, Optional[str | os.PathLike]], work: Path, settings: BuildSettings
) -> tuple[dict[str, SourceReader], dict, list[_Unit]]:
    """Plan stage of ``build_corpus``: index the sources (with scenario copies), check the
    front-end policies against a partial build's, assign subject splits and name each
    recording's staging file. Returns ``(readers by name, splits, units)``."""
    indexed = _with_scenario_copies(_index(sources), settings.scenario_copies)
    readers = {reader.name: reader for reader, _ in indexed}
    _check_front_end_policies(work, readers)
    splits = assign_splits([item for _, item in indexed], settings.split_fractions)
    units = []
    for reader, item in indexed:
        folder = work / item.source
        folder.mkdir(exist_ok=True)
        path = str(folder / f"{_unit_name(item.recording)}.parquet")
        units.append(_Unit(reader, item, splits[(item.source, item.subject)], path, settings))
    return readers, splits, units


def _export_units(
    units: list[_Unit], readers: dict[str, SourceReader], splits: dict, out_dir: Path, settings: BuildSettings, shard_rows: int
) -> dict[str, Any]:
    """Export stage of ``build_corpus``: the staged recordings as shards and card
    (``export_corpus``), file errors and label issues in ``errors.jsonl``, ``build_info.json``."""
    staged = [(u.item.source, u.item.recording, u.split, u.path) for u in units if os.path.exists(u.path)]
    errors = []
    for unit in units:
        if not os.path.exists(unit.path) and os.path.exists(unit.error_path):
            errors.append(json.loads(Path(unit.error_path).read_text()))
    label_issues = [
        {"kind": "label", "source": u.item.source, "recording": u.item.recording, "file": u.item.path, "error": line}
        for u in units if "scenario_copy" not in u.item.extra for line in u.item.issues
    ]  # fmt: skip
    info = export_corpus(
        staged, out_dir, settings.features(), shard_rows=shard_rows,
        licences={name: r.licence for name, r in readers.items()}, titles={name: r.title for name, r in readers.items()},
        errors=errors, settings={**settings.fingerprint(), "sources": sorted(readers), "front_end": _front_end_policies(readers)},
    )  # fmt: skip
    if label_issues:
        with open(out_dir / "errors.jsonl", "a", encoding="utf-8") as stream:
            for record in label_issues:
                stream.write(json.dumps(record, sort_keys=True) + "\n")
    info["label_issues"] = len(label_issues)
    info["split_subjects"] = split_report(splits)
    write_json_atomic(out_dir / "build_info.json", info)
    return info


def _run_units(todo: list[_Unit], num_proc: int, on_bad_files: str, progress: bool) -> dict[str, Any]:
    stats = {"built": 0, "rows": 0, "eeg_seconds": 0.0}
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(todo), desc="recordings", unit="rec")

    def handle(result: tuple[str, int, float, Optional[dict]]) -> None:
        _, n_rows, seconds, error = result
        if bar is not None:
            bar.update(1)
            bar.set_postfix(segments=stats["rows"] + n_rows)
        if error is not None:
            message = f"{error['file']}: {error['error']}"
            if on_bad_files == "error":
                raise BuildError(f"{message} (on_bad_files='error'; use 'warn' or 'skip' to log it and go on)")
            (logger.warning if on_bad_files == "warn" else logger.debug)("skipped %s", message)
            return
        stats["built"] += 1
        stats["rows"] += n_rows
        stats["eeg_seconds"] += seconds

    try:
        if num_proc == 1 or len(todo) <= 1:
            for unit in todo:
                handle(_run_unit(unit))
        else:
            # forkserver: a clean server process imports the front-end once (FORKSERVER_PRELOAD) and
            # forks the workers, so they pay no ~10 s of imports each and inherit no OpenMP state.
            # Forking this process instead hangs a worker for good whenever this process has already
            # run an OpenMP region (torch, or YASA's LightGBM staging in the front-end): libgomp's
            # thread team does not survive fork (seen: a worker stuck in gomp_team_barrier_wait_end
            # under LGBM_BoosterLoadModelFromString after an earlier front-end call in the parent).
            method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
            context = multiprocessing.get_context(method)
            if method == "forkserver":
                context.set_forkserver_preload(list(FORKSERVER_PRELOAD))
            with context.Pool(min(num_proc, len(todo)), initializer=_init_worker) as pool:
                for result in pool.imap_unordered(_run_unit, todo, chunksize=1):
                    handle(result)
    finally:
        if bar is not None:
            bar.close()
    return stats
