"""Command line: ``napari-sleap-train sample | train | predict | evaluate``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def _cmd_sample(args: argparse.Namespace) -> int:
    from .sample_data import write_sample

    paths = write_sample(args.out_dir, seed=args.seed)
    print(f"video:        {paths.video}")
    print(f"project:      {paths.project}")
    print(f"ground truth: {paths.ground_truth}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command."""
    parser = argparse.ArgumentParser(
        prog="napari-sleap-train",
        description="Train and run SLEAP-style top-down pose estimation models.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("sample", help="write the built-in sample project to a folder")
    p.add_argument("out_dir", help="folder to write the video, project and ground truth to")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.set_defaults(func=_cmd_sample)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; errors print one clear line and exit with status 2."""
    from .config import ConfigError
    from .project import ProjectError

    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ProjectError, ConfigError, FileNotFoundError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
