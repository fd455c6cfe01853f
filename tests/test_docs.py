"""The user's guide: it builds with no warning, and what it tells users to run runs.

The getting-started commands and the Python API's worked example run as the pages print
them, with one change: their training budget is cut to seconds (a test trains tiny models;
the pages' budgets are for a usable model).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
QUIET = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "DISABLE_MKDOCS_2_WARNING": "true"}


def _blocks(page: str, heading: str, language: str) -> list[str]:
    """The ``language`` code blocks of the section of ``page`` under ``heading``."""
    text = (DOCS / page).read_text()
    start = text.index(f"\n{heading}\n")
    end = text.find("\n## ", start + 1)
    section = text[start : end if end > 0 else None]
    return re.findall(rf"```{language}\n(.*?)```", section, re.S)


def test_guide_builds_strictly(tmp_path):
    site = tmp_path / "site"
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=QUIET,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    reference = (site / "cli-reference" / "index.html").read_text()
    for command in ("sample", "train", "predict", "track", "evaluate", "export-job"):
        assert f"napari-sleap-train {command}" in reference
    assert "pipeline_events" in (site / "api" / "index.html").read_text()


def test_every_page_is_in_the_navigation():
    nav = (ROOT / "mkdocs.yml").read_text()
    pages = {p.name for p in DOCS.glob("*.md")} | {"cli-reference.md"}
    assert pages == set(re.findall(r":\s*([\w-]+\.md)\s*$", nav, re.M))


def test_getting_started_commands_run(tmp_path):
    (block,) = _blocks("getting-started.md", "## The same on the command line", "bash")
    lines = [line.split("  #")[0].strip() for line in block.splitlines()]
    commands = [shlex.split(line) for line in lines if line.startswith("napari-sleap-train")]
    assert [c[1] for c in commands] == ["sample", "train", "predict", "evaluate"]
    outputs = []
    for command in commands:
        command = [str(Path(sys.executable).parent / command[0]), *command[1:]]
        if "--total-time" in command:  # the page trains for minutes; a test for seconds
            command[command.index("--total-time") + 1] = "0.1"
        result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True)
        assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
        outputs.append(result.stdout)
    # what the page says each command writes and prints
    assert (tmp_path / "sample" / "sample.slp").exists()
    assert (tmp_path / "models" / "centroid" / "best.pt").exists()
    assert (tmp_path / "models" / "centered_instance" / "best.pt").exists()
    assert "frames/s" in outputs[2]
    assert (tmp_path / "predictions.slp").exists()
    assert "OKS mAP" in outputs[3] and "IDF1" in outputs[3]


def test_api_worked_example_runs(tmp_path):
    (code,) = _blocks("api.md", "## A worked example", "python")
    budget = "config.pipeline.time_budget_minutes = 3"
    assert budget in code
    script = tmp_path / "example.py"
    script.write_text(code.replace(budget, "config.pipeline.time_budget_minutes = 0.1"))
    result = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert "centroid: " in result.stdout and "centered_instance: " in result.stdout
    assert "Measured on" in result.stdout
    assert re.search(r"\d+ animals predicted on \d+ suggested frames", result.stdout)
    assert (tmp_path / "sample" / "predictions.slp").exists()
