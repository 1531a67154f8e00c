"""Small helpers shared by the source readers (folder checks, span arithmetic, EDF headers).

Private to the readers package: nothing outside ``dataset_builder.readers`` should import it.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from .base import LabelSpan

logger = logging.getLogger(__name__)

__all__ = [
    "LabelIssues",
    "check_root",
    "clock_to_seconds",
    "complement_spans",
    "describe_folder",
    "edf_header_duration",
    "merge_spans",
    "no_recordings_error",
    "read_edf_any_extension",
    "standard_case_names",
]


def _layout(reader) -> str:
    return getattr(reader, "layout", "") or "see the source's documentation"


def check_root(root: str | Path | None, reader) -> Path:
    """Return ``root`` as a Path if it is an existing folder, else raise a ValueError that names the
    folder and the layout the source expects."""
    if root is None:
        raise ValueError(
            f"{reader.name}: no folder given; {reader.title} is licence-gated, download it and pass its "
            f"root folder (expected layout: {_layout(reader)})"
        )
    path = Path(root).expanduser()
    if not path.is_dir():
        raise ValueError(
            f"{reader.name}: folder {str(path)!r} does not exist or is not a folder; pass the root of "
            f"{reader.title} (expected layout: {_layout(reader)})"
        )
    return path


def describe_folder(root: Path, max_entries: int = 8, max_files: int = 20000) -> str:
    """What a folder holds, in one line: its first entries and the file types below it.

    Used by the "no recordings found" errors so that a user sees what was found next to what was
    expected (e.g. ``found: subgroupI/, subgroupIII/; files: 110 .rec, 110 .txt``).
    """
    try:
        entries = sorted(root.iterdir(), key=lambda p: p.name)
    except OSError as error:
        return f"found: unreadable folder ({error})"
    if not entries:
        return "found: an empty folder"
    shown = [f"{p.name}/" if p.is_dir() else p.name for p in entries[:max_entries]]
    more = f" and {len(entries) - max_entries} more" if len(entries) > max_entries else ""
    suffixes: dict[str, int] = {}
    for n, path in enumerate(root.rglob("*")):
        if n >= max_files:
            break
        if path.is_file():
            suffix = "".join(path.suffixes[-1:]).lower() or "(no extension)"
            suffixes[suffix] = suffixes.get(suffix, 0) + 1
    files = ", ".join(f"{count} {suffix}" for suffix, count in sorted(suffixes.items(), key=lambda kv: (-kv[1], kv[0]))[:8])
    return f"found: {', '.join(shown)}{more}; files: {files or 'none'}"


def no_recordings_error(root: Path, reader, detail: str = "") -> ValueError:
    """The error raised when a folder holds no recording of the source: it names the folder, the
    layout the reader expected and what the folder holds."""
    extra = f" ({detail})" if detail else ""
    return ValueError(
        f"{reader.name}: no {reader.title} recordings found under {str(root)!r}{extra}; "
        f"expected layout: {_layout(reader)}; {describe_folder(root)}"
    )


class LabelIssues:
    """Collects, for one recording, the labels a reader could not place, corrected or refused.

    ``add`` logs a warning the first time per label file (not once per row) and keeps every line;
    the lines go to ``RecordingItem.issues`` and from there to the build's ``errors.jsonl``.
    """

    def __init__(self, source: str) -> None:
        self.source = source
        self.lines: list[str] = []
        self._warned: set[str] = set()

    def add(self, where: str | Path, message: str) -> None:
        line = f"{where}: {message}"
        self.lines.append(line)
        if str(where) not in self._warned:
            self._warned.add(str(where))
            logger.warning("%s: %s", self.source, line)

    def take(self) -> list[str]:
        """The lines collected since the last call (for the next recording)."""
        lines, self.lines = self.lines, []
        return lines


def edf_header_duration(path: str | Path) -> float:
    """Duration in seconds of an EDF/EDF+ file from its 256-byte fixed header (no signal decoded).

    Reads ``number of data records`` (bytes 236-244) times ``duration of a data record``
    (bytes 244-252). Raises a ValueError naming the file when the header is not EDF.
    """
    with open(path, "rb") as fid:
        header = fid.read(256)
    if len(header) < 256 or header[:8].strip() not in (b"0", b"\xffBIOSEMI"):
        raise ValueError(f"{path}: not an EDF file (bad fixed header); check that the download is complete")
    try:
        n_records = int(header[236:244].decode("ascii").strip())
        record_s = float(header[244:252].decode("ascii").strip())
    except ValueError as error:
        raise ValueError(f"{path}: unreadable EDF header ({error}); check that the download is complete") from None
    if n_records < 0:
        raise ValueError(f"{path}: EDF header has an unknown number of data records (-1); the file was not closed properly")
    return n_records * record_s


def merge_spans(spans: Iterable[LabelSpan], gap_s: float = 1e-6) -> list[LabelSpan]:
    """Sort spans and merge touching or overlapping ones that carry identical labels.

    Spans with different labels are kept apart (they may overlap: the builder then takes, per
    key, the span that covers most of each segment).
    """
    merged: list[LabelSpan] = []
    by_labels: dict[tuple, list[LabelSpan]] = {}
    for span in sorted(spans, key=lambda s: (s.start_s, s.end_s)):
        key = tuple(sorted(span.labels.items()))
        group = by_labels.setdefault(key, [])
        if group and span.start_s <= group[-1].end_s + gap_s:
            last = group[-1]
            group[-1] = LabelSpan(last.start_s, max(last.end_s, span.end_s), last.labels)
        else:
            group.append(span)
    for group in by_labels.values():
        merged.extend(group)
    return sorted(merged, key=lambda s: (s.start_s, s.end_s, tuple(sorted(s.labels.items()))))


def complement_spans(
    covered: Sequence[tuple[float, float]], duration_s: float, labels: dict[str, str]
) -> list[LabelSpan]:
    """Spans carrying ``labels`` over the parts of [0, duration_s) not in ``covered``."""
    spans = []
    cursor = 0.0
    for start, end in sorted(covered):
        if start > cursor:
            spans.append(LabelSpan(cursor, min(start, duration_s), dict(labels)))
        cursor = max(cursor, end)
    if cursor < duration_s:
        spans.append(LabelSpan(cursor, duration_s, dict(labels)))
    return [s for s in spans if s.end_s > s.start_s]


_CLOCK = re.compile(r"^\s*(\d{1,2})\s*[.:]\s*(\d{1,2})\s*[.:]\s*(\d{1,2})\s*$")


def clock_to_seconds(text: str, *, where: str) -> int:
    """``"19.39.33"``, ``"19:39:33"``, ``"4:11:04"`` or ``"1 6.49.25"`` (a stray space inside the
    hour, seen in Siena's lists) -> seconds since midnight."""
    compact = re.sub(r"(?<=\d)\s+(?=\d)", "", text)
    match = _CLOCK.match(compact)
    if match is None:
        raise ValueError(f"{where}: cannot read clock time {text!r}; expected hh.mm.ss or hh:mm:ss")
    hours, minutes, seconds = (int(g) for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def read_edf_any_extension(path: str | Path, **kwargs):
    """Open an EDF file whose extension is not ``.edf`` (ISRUC ``.rec``) with MNE.

    ``mne.io.read_raw_edf`` refuses other extensions, so the file is linked (or copied where links
    are not allowed) into a temporary folder as ``.edf`` and read with ``preload=True`` before the
    link disappears.
    """
    import mne

    path = Path(path)
    with tempfile.TemporaryDirectory(prefix="neuronarrator_edf_") as tmp:
        link = Path(tmp) / (path.stem + ".edf")
        try:
            os.symlink(path.resolve(), link)
        except OSError:
            shutil.copyfile(path, link)
        kwargs.setdefault("verbose", "error")
        return mne.io.read_raw_edf(link, preload=True, **kwargs)


_STANDARD_NAMES: dict[str, str] | None = None


def standard_case_names(names: Sequence[str]) -> dict[str, str]:
    """Map upper-case 10-05 names (``FP1``, ``FCZ``) to MNE's standard spelling (``Fp1``, ``FCz``).

    Names that are not 10-05 positions (``CB1``, ``EOG``) are left out of the mapping.
    """
    global _STANDARD_NAMES
    if _STANDARD_NAMES is None:
        import mne

        # MNE 1.13 renamed the 10-05 template (colin27_1005); older versions only know standard_1005.
        builtin = mne.channels.get_builtin_montages()
        montage = mne.channels.make_standard_montage("colin27_1005" if "colin27_1005" in builtin else "standard_1005")
        _STANDARD_NAMES = {name.upper(): name for name in montage.ch_names}
    return {name: _STANDARD_NAMES[name.upper()] for name in names if name.upper() in _STANDARD_NAMES}


def spans_from_annotations(
    onsets: Sequence[float],
    durations: Sequence[float],
    descriptions: Sequence[str],
    mapping: dict[str, dict[str, str]],
    *,
    where: str,
    ignore: Iterable[str] = (),
    issues: LabelIssues | None = None,
) -> list[LabelSpan]:
    """One span per annotation whose description is in ``mapping``.

    Args:
        onsets, durations: seconds from the recording start.
        descriptions: annotation texts (``"Sleep stage W"``).
        mapping: description -> harmonized labels.
        ignore: descriptions that are known and deliberately not labels (``Lights off``,
            ``Sleep stage ?``); they are skipped quietly.
        issues: where a description that is neither mapped nor ignored is reported (one warning
            per file, every occurrence counted); without it such descriptions are logged at debug.
    """
    spans = []
    skipped: dict[str, int] = {}
    ignored = {str(text).strip() for text in ignore}
    for onset, duration, text in zip(onsets, durations, descriptions):
        labels = mapping.get(str(text).strip())
        if labels is None:
            if str(text).strip() not in ignored:
                skipped[str(text)] = skipped.get(str(text), 0) + 1
            continue
        if duration > 0:
            spans.append(LabelSpan(float(onset), float(onset) + float(duration), dict(labels)))
    if skipped:
        if issues is not None:
            detail = ", ".join(f"{text!r} x{count}" for text, count in sorted(skipped.items()))
            issues.add(where, f"annotations that map to no harmonized label, left unlabelled: {detail}")
        else:
            logger.debug("%s: annotations without a harmonized label, skipped: %s", where, skipped)
    return spans
