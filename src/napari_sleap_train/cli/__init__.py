"""Command line: ``napari-sleap-train sample | train | export-job | predict | track |
evaluate | suggest | export | convert | export-model``.

Every error meant for the user is one line saying what to change, with exit status 2;
an interrupted run exits with 130 and says how to go on.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import export_model, labels, predict, track, train


class Parser(argparse.ArgumentParser):
    """Bad options end in one line saying what is wrong, and exit status 2."""

    def error(self, message: str):
        self.exit(2, f"error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command."""
    parser = Parser(
        prog="napari-sleap-train",
        description="Label, train, predict and track SLEAP-style animal pose estimation models.",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    labels.add_parsers(sub)
    train.add_parsers(sub)
    predict.add_parsers(sub)
    track.add_parsers(sub)
    export_model.add_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; errors print one clear line and exit with status 2."""
    from ..errors import SleapTrainError

    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (SleapTrainError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        print("error: out of memory: lower the batch size or the input scaling.", file=sys.stderr)
        return 2


__all__ = ["build_parser", "main"]
