"""``neuronarrator leaderboard``: results folder -> leaderboard Markdown, CSV, PNG chart and model-index.

    neuronarrator leaderboard results/ -o leaderboard.md
    # writes leaderboard.md, leaderboard.csv, leaderboard.png and model-index.yaml beside it
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

__all__ = ["add_arguments", "run"]

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", type=Path, help="folder of results JSON files written by `neuronarrator evaluate`")
    parser.add_argument("-o", "--output", type=Path, default=Path("leaderboard.md"), help="Markdown file (CSV, PNG and model-index.yaml go beside it)")
    parser.add_argument("--system", help="system whose results fill the model-index block (default: the one evaluated model)")
    parser.add_argument("--model-name", default="NeuroNarrator", help="model name in the model-index block (default: NeuroNarrator)")
    parser.add_argument("--no-chart", action="store_true", help="skip the PNG bar chart")


def run(args: argparse.Namespace) -> int:
    from .leaderboard import collect_results, model_index_yaml, to_csv, to_markdown, write_bar_chart

    records = collect_results(args.results)
    try:
        block = model_index_yaml(records, system=args.system, model_name=args.model_name)
    except ValueError as error:
        if args.system is not None:
            raise
        # Baselines only (no model evaluated yet): the leaderboard is still useful without the block.
        logger.warning("no model-index block: %s", error)
        block = None
    output = args.output
    if output.suffix.lower() != ".md":
        raise ValueError(f"-o {output}: the leaderboard is written as Markdown; give a .md path (CSV and PNG go beside it)")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(to_markdown(records, model_index_block=block), encoding="utf-8")
    written = [output]
    csv_path = output.with_suffix(".csv")
    csv_path.write_text(to_csv(records), encoding="utf-8")
    written.append(csv_path)
    if not args.no_chart:
        written.append(write_bar_chart(records, output.with_suffix(".png")))
    if block is not None:
        index_path = output.with_name("model-index.yaml")
        index_path.write_text(block, encoding="utf-8")
        written.append(index_path)
    print(f"leaderboard of {len(records)} results: " + ", ".join(str(p) for p in written))
    return 0
