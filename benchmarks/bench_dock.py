"""Training speed in the dock's thread worker against the same config through the CLI.

Trains both models on the built-in sample with the default architecture (3 epochs of 100
batches each) through ``napari-sleap-train train`` in a child process and through the
dock's Run button in a real viewer, alternating, ``--rounds`` times each (default 2, so
a busy spell of the machine falls on both); prints samples/s of each model from the
epochs after the first (read from ``training_log.csv``), each round's figures and the
ratio dock / CLI of the means, and the worst gap of a 10 ms Qt timer while the dock
trained (how long the viewer could not answer). Needs a display or ``xvfb-run``.

Run: ``xvfb-run -a .venv/bin/python benchmarks/bench_dock.py``
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from napari_sleap_train.config import TrainingConfig  # noqa: E402
from run_main_job import open_sample, wait_until  # noqa: E402

EPOCHS, BATCHES = 3, 100


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
    """Samples/s of each model in the dock, and the worst gap of a 10 ms Qt timer while
    training ran (how long the viewer could not answer), in ms."""
    from qtpy.QtCore import QTimer

    viewer, dock = open_sample(work, show=False)
    dock.settings.load_config(config)
    dock.settings.form.widgets["predict_on"].value = None
    gaps, last = [0.0], [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        if dock.runner.busy:
            gaps.append(now - last[0])
        last[0] = now

    timer = QTimer()
    timer.timeout.connect(tick)
    timer.start(10)
    dock.runner.run_button.click()
    wait_until(lambda: not dock.runner.busy, timeout=1800)
    timer.stop()
    out = {k: rate(dock.runner.run_dir / k, 4) for k in ("centroid", "centered_instance")}
    out["worst gap ms"] = max(gaps[2:] or gaps) * 1000
    viewer.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="CLI and dock runs each")
    args = parser.parse_args()
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
        cli, dock = [], []
        for r in range(args.rounds):
            cli.append(cli_run(project, cfg, tmp / f"cli{r}"))
            dock.append(dock_run(work, cfg))
            print(f"round {r + 1}: CLI {_rates(cli[-1])}; dock {_rates(dock[-1])}", flush=True)
    print(f"{'model':<18} {'CLI':>10} {'dock':>10} {'ratio':>7}   ({EPOCHS}x{BATCHES} batches)")
    for kind in ("centroid", "centered_instance"):
        c = sum(run[kind] for run in cli) / len(cli)
        d = sum(run[kind] for run in dock) / len(dock)
        print(f"{kind:<18} {c:>8.1f}/s {d:>8.1f}/s {d / c:>7.2f}")
    worst = max(run["worst gap ms"] for run in dock)
    print(f"worst event-loop gap in the dock while training: {worst:.0f} ms")


def _rates(run: dict[str, float]) -> str:
    return ", ".join(
        f"{kind} {rate:.1f}{'' if 'ms' in kind else '/s'}" for kind, rate in run.items()
    )


if __name__ == "__main__":
    main()
