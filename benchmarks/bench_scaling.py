"""Data-parallel scaling: training samples/s with 1 and N processes (torchrun + DDP).

Exports the built-in sample as a training job, trains it through ``torchrun`` with 1 and
then N processes (gloo on CPU, NCCL with one GPU per process with ``--device cuda``), and
prints each model's samples/s over the epochs after the first (all processes together,
validation included) and the ratio to one process. On a CPU the processes share its cores,
so the ratio shows the cost of data parallelism, not a speed-up.

Run: ``.venv/bin/python benchmarks/bench_scaling.py [--procs 2] [--device cpu|cuda]``
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
from pathlib import Path

from napari_sleap_train.config import preset
from napari_sleap_train.io.jobs import export_job
from napari_sleap_train.io.project import load_project
from napari_sleap_train.sample.project import sample_dir

KINDS = ("centroid", "centered_instance")
EPOCHS, BATCHES, BATCH = 3, 30, 4


def rates(folder: Path, procs: int) -> dict[str, float]:
    out = {}
    for kind in KINDS:
        with open(folder / kind / "training_log.csv") as f:
            rows = list(csv.DictReader(f))
        seconds = float(rows[-1]["seconds"]) - float(rows[0]["seconds"])
        out[kind] = (len(rows) - 1) * BATCHES * BATCH * procs / seconds
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--procs", type=int, default=2, help="processes of the parallel run")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    args = parser.parse_args()
    config = preset("sleap")
    config.device = args.device
    for section in config.models.values():
        section.optimization.epochs = EPOCHS
        section.optimization.batches_per_epoch = BATCHES
        section.optimization.batch_size = BATCH
        section.optimization.early_stopping_patience = EPOCHS
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        job = export_job(load_project(sample_dir().project), config, tmp / "job.zip")
        results = {}
        for procs in (1, args.procs):
            out = tmp / f"models_{procs}"
            cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
            cmd += [f"--nproc_per_node={procs}", "-m", "napari_sleap_train", "train", str(job)]
            subprocess.run([*cmd, "--out", str(out)], check=True, stdout=subprocess.DEVNULL)
            results[procs] = rates(out, procs)
    print(f"{args.device}: samples/s per model, batch {BATCH} per process, {EPOCHS}x{BATCHES}")
    print(f"{'model':<18} {'1 process':>10} {f'{args.procs} processes':>12} {'ratio':>6}")
    for kind in KINDS:
        one, many = results[1][kind], results[args.procs][kind]
        print(f"{kind:<18} {one:>10.1f} {many:>12.1f} {many / one:>6.2f}")


if __name__ == "__main__":
    main()
