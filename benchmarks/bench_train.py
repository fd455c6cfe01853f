"""Training throughput at the default settings on the built-in sample project.

For each model prints samples/s of real training steps (batch building with augmentation,
targets, forward, backward, optimiser) next to a pure forward+backward+step on one fixed
in-memory batch of the same shape (same precision and memory layout), and their ratio.
``--precision fp32`` measures without bfloat16 autocast. With ``--full`` it also trains both
models to early stopping or the epoch cap and reports the wall time.

Run: ``.venv/bin/python benchmarks/bench_train.py [--steps 40] [--full]``
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch

from napari_sleap_train.choices import ModelKind
from napari_sleap_train.config import TrainingConfig
from napari_sleap_train.data.checks import resolve_crop_size
from napari_sleap_train.data.labelled import load_labelled_data
from napari_sleap_train.io.project import load_project
from napari_sleap_train.models.device import autocast, resolve_precision, to_layout
from napari_sleap_train.models.folder import build_model
from napari_sleap_train.sample.project import sample_dir
from napari_sleap_train.training import BatchEnded, TrainingFinished, train_events
from napari_sleap_train.training.pipeline import pipeline_events
from napari_sleap_train.training.preparation import datasets_for, model_info, unet_spec


def pure_step_rate(kind: str, data, config: TrainingConfig, steps: int) -> float:
    """Samples/s of forward+backward+Adam on one fixed batch (no data work)."""
    section = config.model(kind)
    ds, _, _, extra = datasets_for(ModelKind(kind), data, config)
    gen = torch.Generator().manual_seed(0)
    bs = section.optimization.batch_size
    x, y = ds.batch(torch.arange(bs) % len(ds), gen)
    torch.manual_seed(0)
    device = torch.device("cpu")
    precision = resolve_precision(config.precision, device)
    spec = unet_spec(section.backbone, data.channels)
    model = build_model(model_info(ModelKind(kind), config, data, ds, spec, extra))
    model.to(memory_format=torch.channels_last)
    x = to_layout(x, True)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    for i in range(steps + 3):
        if i == 3:
            t0 = time.perf_counter()
        with autocast(device, precision):
            pred = model(x)
        loss = ds.loss(pred.float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return steps * bs / (time.perf_counter() - t0)


def real_step_rate(kind: str, data, config: TrainingConfig, steps: int, folder) -> float:
    """Samples/s of the trainer's own steps (batches built and augmented on the fly)."""
    section = config.model(kind)
    section.optimization.epochs = 1
    section.optimization.batches_per_epoch = steps + 3
    times = []
    for event in train_events(kind, None, config, folder, data=data):
        if isinstance(event, BatchEnded):
            times.append(event.elapsed)
    return steps * section.optimization.batch_size / (times[-1] - times[2])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40, help="timed steps per measurement")
    parser.add_argument("--full", action="store_true", help="also run a full default training")
    parser.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16"))
    args = parser.parse_args()
    project = load_project(sample_dir().project)
    data = load_labelled_data(project)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; sample project: "
        f"{data.n_frames} labelled frames, {len(data.instances_array())} instances"
    )
    print(f"{'model':<18} {'input':>14} {'train steps':>12} {'fwd+bwd':>10} {'ratio':>7}")
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("centroid", "centered_instance"):
            config = TrainingConfig(device="cpu", precision=args.precision)
            pure = pure_step_rate(kind, data, config, args.steps)
            real = real_step_rate(kind, data, config, args.steps, f"{tmp}/{kind}")
            pure2 = pure_step_rate(kind, data, config, args.steps)
            pure = (pure + pure2) / 2
            section = config.model(kind)
            shape = "96x96" if kind == "centroid" else "crop"
            if kind != "centroid":
                crop, _ = resolve_crop_size(data, section)
                shape = f"{crop}x{crop}"
            print(f"{kind:<18} {shape:>14} {real:>9.1f}/s {pure:>8.1f}/s {real / pure:>7.2f}")
        if args.full:
            t0 = time.perf_counter()
            for event in pipeline_events(project, TrainingConfig(device="cpu"), f"{tmp}/full"):
                if isinstance(event, TrainingFinished):
                    print(
                        f"full default training, {event.model}: {event.reason} after "
                        f"{event.epochs} epochs, {event.elapsed / 60:.1f} min, best val "
                        f"loss {event.best_val_loss:.3g}"
                    )
            print(
                f"full default training of both models: {(time.perf_counter() - t0) / 60:.1f} min"
            )


if __name__ == "__main__":
    main()
