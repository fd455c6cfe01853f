"""Write the command-line reference page from the argument parser, so it cannot drift.

Run by the ``gen-files`` plugin of ``mkdocs.yml`` at every build; ``python
docs/gen_cli_reference.py`` prints the page instead.
"""

from __future__ import annotations

import argparse
import os

from napari_sleap_train.cli import build_parser

INTRO = """# Command-line reference

Every command and option of `napari-sleap-train`, as `--help` prints it (this page is
generated from the program itself at every build of the guide). For what to run when, see
[The command line](command-line.md).
"""


def _help(parser: argparse.ArgumentParser) -> str:
    os.environ["COLUMNS"] = "100"  # argparse wraps to the terminal's width
    return parser.format_help().rstrip()


def reference() -> str:
    """The reference page as Markdown."""
    parser = build_parser()
    parts = [INTRO, "```text", _help(parser), "```"]
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in commands.choices.items():
        parts += [f"\n## `{name}`\n", "```text", _help(sub), "```"]
    return "\n".join(parts) + "\n"


if __name__ == "__main__":
    print(reference())
else:  # run by mkdocs-gen-files
    import mkdocs_gen_files

    with mkdocs_gen_files.open("cli-reference.md", "w") as page:
        page.write(reference())
