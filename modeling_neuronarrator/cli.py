"""The ``neuronarrator`` command line: a thin face over the package.

Each sub-command lives in its own module exposing ``add_arguments(parser)`` and ``run(args) -> int``;
the module is imported only when its command runs (``--help`` imports them all), so that
``neuronarrator narrate`` does not pay for importing the corpus builder or the evaluator.
"""

from __future__ import annotations

import argparse
import faulthandler
import importlib
import logging
import sys

__all__ = ["main", "COMMANDS"]

# command -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "sources": ("dataset_builder.cli_sources", "list the NeuroCorpus sources: task, labels, licence, download needed"),
    "build-corpus": ("dataset_builder.cli_build", "build NeuroCorpus (Parquet shards + dataset card) from local copies of the sources"),
    "narrate": ("modeling_neuronarrator.commands.narrate", "describe every 10 s segment of a recording and write a report"),
    "examples": ("modeling_neuronarrator.commands.examples", "list the real example recordings `narrate --example NAME` can use"),
    "train": ("modeling_neuronarrator.training.cli", "train stage 1 (grounding) or stage 2 (narratives) with Accelerate"),
    "evaluate": ("neuronarrator_eval.evaluate_cli", "score the model, prediction files and the baselines on a corpus split"),
    "leaderboard": ("neuronarrator_eval.leaderboard_cli", "leaderboard Markdown/CSV/PNG and the model-index block from results files"),
    "export": ("modeling_neuronarrator.commands.export", "write (and --push) the Hub repository of the model, the corpus or the Space"),
}


def _build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The full parser; with ``only``, sub-command arguments are added for that command alone, so
    that running one command imports one module."""
    parser = argparse.ArgumentParser(
        prog="neuronarrator",
        description="NeuroNarrator: clinical EEG to clinical narratives.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name, (module_name, help_text) in COMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(_module=module_name)
        if only is None or name == only:
            importlib.import_module(module_name).add_arguments(sub)
    return parser


def trace_native_crashes() -> None:
    """A crash inside a C extension (stop 34: a segmentation fault in regex's matching during a
    measured-grammar evaluation, not reproduced) prints the Python stack on the process's stderr
    instead of ending the run without a word. The process's own stderr (``sys.__stderr__``): a
    captured or notebook ``sys.stderr`` has no file descriptor to write to from a signal handler."""
    try:
        faulthandler.enable(file=sys.__stderr__)
    except (AttributeError, OSError, ValueError):  # no stderr at all (pythonw, a closed descriptor)
        pass


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    command = next((arg for arg in argv if not arg.startswith("-")), None)
    parser = _build_parser(only=command if command in COMMANDS else None)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    trace_native_crashes()
    module = importlib.import_module(args._module)
    try:
        return int(module.run(args) or 0)
    except (ValueError, FileNotFoundError, TypeError) as error:
        # EEGInputError and the other user-facing errors already name the file, problem and fix:
        # show that one line, not a traceback (``-v`` shows the traceback too).
        if args.verbose:
            logging.exception("neuronarrator %s failed", args.command)
        print(f"neuronarrator {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"neuronarrator {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
