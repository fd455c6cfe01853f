"""The benchmark scripts stay runnable: each compiles, answers ``--help`` and has list defaults."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = sorted((Path(__file__).parents[1] / "benchmarks").glob("bench_*.py"))


def test_there_are_benchmarks() -> None:
    assert len(BENCHMARKS) >= 5


@pytest.mark.parametrize("script", BENCHMARKS, ids=lambda p: p.stem)
def test_benchmark_compiles_and_answers_help(script: Path) -> None:
    source = script.read_text()
    compile(source, str(script), "exec")
    if "argparse" not in source:
        return
    done = subprocess.run(
        [sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "usage:" in done.stdout


def _list_options_with_a_text_default(source: str) -> list[str]:
    """Options taking several values (``nargs`` ``+`` or ``*``) whose default is one string:
    run without the option, such a default is iterated letter by letter."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "add_argument"):
            continue
        words = {k.arg: k.value for k in node.keywords}
        nargs, default = words.get("nargs"), words.get("default")
        if (
            isinstance(nargs, ast.Constant)
            and nargs.value in ("+", "*")
            and isinstance(default, ast.Constant)
            and isinstance(default.value, str)
        ):
            found.append(ast.unparse(node.args[0]) if node.args else "?")
    return found


@pytest.mark.parametrize("script", BENCHMARKS, ids=lambda p: p.stem)
def test_options_of_several_values_default_to_lists(script: Path) -> None:
    assert _list_options_with_a_text_default(script.read_text()) == []


def test_a_text_default_of_several_values_is_found() -> None:
    source = 'p.add_argument("--pipeline", default="top-down", nargs="+")'
    assert _list_options_with_a_text_default(source) == ["'--pipeline'"]
