"""Training speed in the dock's thread worker against the same config through the CLI.

Trains both models on the built-in sample with the default architecture (3 epochs of 40
batches each) once through ``napari-sleap-train train`` in a child process, once through
the dock's Run button in a real viewer, and once more through the CLI; prints samples/s of
each model from the epochs after the first (read from ``training_log.csv``) and the ratio
dock / CLI. Needs a display or ``xvfb-run``.

Run: ``xvfb-run -a .venv/bin/python benchmarks/bench_dock.py``
"""

from __future__ import annotations

import csv
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from napari_sleap_train.config import TrainingConfig  # noqa: E402
from run_main_job import open_sample, wait_until  # noqa: E402

EPOCHS, BATCHES = 3, 40


def rate(model_dir: Path, batch_size: int) -> float:
    """Samples/s over the epochs after the first (validation included, as in training)."""
    with open(model_dir / "training_log.csv") as f:
        rows = list(csv.DictReader(f))
    seconds = float(rows[-1]["seconds"]) - float(rows[0]["seconds"])
    return (len(rows) - 1) * BATCHES * batch_size / seconds


def cli_run(project: Path, config: Path, out: Path) -> dict[str, float]:
    cmd = [sys.executable, "-m", "napari_sleap_train.cli", "train", str(project)]
    subprocess.run(
        [*cmd, "--config", str(config), "--out", str(out)], check=True, stdout=subprocess.DEVNULL
    )
    return {k: rate(out / k, 4) for k in ("centroid", "centered_instance")}


def dock_run(work: Path, config: Path) -> dict[str, float]:
    viewer, dock = open_sample(work, show=False)
    dock.settings.load_config(config)
    dock.settings.form.widgets["predict_on"].value = None
    dock.runner.run_button.click()
    wait_until(lambda: not dock.runner.busy, timeout=1800)
    out = {k: rate(dock.runner.run_dir / k, 4) for k in ("centroid", "centered_instance")}
    viewer.close()
    return out


def main() -> None:
    config = TrainingConfig()
    for section in config.models.values():
        section.optimization.epochs = EPOCHS
        section.optimization.batches_per_epoch = BATCHES
        section.optimization.early_stopping_patience = EPOCHS
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cfg = config.save(tmp / "config.json")
        work = tmp / "dock"
        viewer, _ = open_sample(work, show=False)  # writes the sample project
        viewer.close()
        project = work / "sample.slp"
        first = cli_run(project, cfg, tmp / "cli1")
        dock = dock_run(work, cfg)
        second = cli_run(project, cfg, tmp / "cli2")
    print(f"{'model':<18} {'CLI':>10} {'dock':>10} {'ratio':>7}   ({EPOCHS}x{BATCHES} batches)")
    for kind in ("centroid", "centered_instance"):
        cli = (first[kind] + second[kind]) / 2
        print(f"{kind:<18} {cli:>8.1f}/s {dock[kind]:>8.1f}/s {dock[kind] / cli:>7.2f}")


if __name__ == "__main__":
    main()
