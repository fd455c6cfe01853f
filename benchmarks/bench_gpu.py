"""The GPU check: CUDA training of every pipeline with ``--amp``, torchrun with NCCL, and
prediction frames/s next to the forward-only rate, on the built-in sample.

For each pipeline (single-instance on a one-animal sample, top-down and bottom-up on the
three-animal sample) it trains from scratch for ``--steps`` batches per model with mixed
precision on ``cuda`` and prints training samples/s per model; then it predicts the
sample's 300 frames and prints end-to-end frames/s (decoding included) next to the rate
the models' forward passes alone would allow (their time in that run, timed by hooks).
Then NCCL: one all-reduce through a one-process NCCL group, and ``torchrun
--nproc_per_node=N`` (N = the GPUs there are) training top-down through the command line.
Last, the runtimes: ``bench_predict.py --device cuda`` (PyTorch, ONNX Runtime with CUDA and
TensorRT where installed: frames/s end to end and without decoding, batch-1 latency).

Without a CUDA GPU it says so and exits 0.

Run: ``.venv/bin/python benchmarks/bench_gpu.py [--steps 200] [--batch-size 16]``
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from napari_sleap_train.choices import PipelineKind
from napari_sleap_train.config import preset
from napari_sleap_train.inference.pipelines import predictor_from_run
from napari_sleap_train.inference.predictor import PredictionStats
from napari_sleap_train.io.project import load_project
from napari_sleap_train.io.video import LazyVideo
from napari_sleap_train.sample.project import write_sample
from napari_sleap_train.training import BatchEnded, TrainingStarted
from napari_sleap_train.training.pipeline import pipeline_events


def train(project, kind: PipelineKind, out: Path, steps: int, batch: int) -> dict[str, float]:
    """Samples/s of each model of pipeline ``kind`` trained on CUDA with amp."""
    config = preset("sleap").for_pipeline(kind)
    config.device, config.precision = "cuda", "amp"
    for section in config.models.values():
        opt = section.optimization
        opt.epochs, opt.batches_per_epoch, opt.batch_size = 1, steps, batch
    rates, first, size = {}, {}, {}
    for event in pipeline_events(project, config, out):
        if isinstance(event, TrainingStarted):
            size[event.model] = event.batch_size
        elif isinstance(event, BatchEnded):
            if event.batch == 2:  # the first batches include cuDNN's autotuning
                first[event.model] = (event.batch, event.elapsed)
            elif event.model in first:
                b0, t0 = first[event.model]
                span = max(event.elapsed - t0, 1e-9)
                rates[event.model.value] = (event.batch - b0) * size[event.model] / span
    return rates


def predict(project, run: Path, batch: int) -> tuple[float, float]:
    """End-to-end prediction frames/s on the sample video, and the rate its models' forward
    passes alone would allow (time inside the networks, timed by hooks during that run)."""
    predictor = predictor_from_run(run, device="cuda", precision="bf16")
    video = LazyVideo(project.videos[0])
    frames = list(range(len(video)))
    models = [m for m in vars(predictor).values() if isinstance(m, torch.nn.Module)]
    inside, t0 = 0.0, 0.0

    def started(*_):
        nonlocal t0
        torch.cuda.synchronize()
        t0 = time.perf_counter()

    def ended(*_):
        nonlocal inside
        torch.cuda.synchronize()
        inside += time.perf_counter() - t0

    hooks = [h for m in models for h in (m.register_forward_pre_hook(started),
                                         m.register_forward_hook(ended))]  # fmt: skip
    for _ in predictor.predict_video(video, frames[:batch], batch_size=batch):
        pass  # warm-up: cuDNN picks its kernels
    inside = 0.0
    stats = PredictionStats()
    for _ in predictor.predict_video(video, frames, batch_size=batch, stats=stats):
        pass
    for hook in hooks:
        hook.remove()
    return stats.fps, len(frames) / max(inside, 1e-9)


def nccl_all_reduce() -> str:
    """One all-reduce through a one-process NCCL group."""
    import torch.distributed as dist

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dist.init_process_group("nccl", init_method=f"tcp://127.0.0.1:{port}", rank=0, world_size=1)
    t = torch.ones(4, device="cuda")
    dist.all_reduce(t)
    dist.destroy_process_group()
    return f"NCCL all-reduce ok ({t.sum().item():.0f}), NCCL {torch.cuda.nccl.version()}"


def torchrun(project_path: Path, out: Path, steps: int) -> tuple[int, float, str]:
    """``torchrun`` on every GPU training top-down for ``steps`` batches per model."""
    n = torch.cuda.device_count()
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone",
        f"--nproc_per_node={n}", "-m", "napari_sleap_train.cli", "train", str(project_path),
        "--out", str(out), "--preset", "sleap", "--epochs", "1",
        "--batches-per-epoch", str(steps), "--device", "cuda", "--amp",
    ]  # fmt: skip
    t0 = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ})
    tail = (done.stdout + done.stderr).strip().splitlines()[-3:]
    status = " | ".join(tail) if done.returncode else "ok"
    if n == 1:
        status += " (one process: data parallelism over NCCL needs two or more GPUs)"
    return n, time.perf_counter() - t0, status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200, help="batches per model")
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("no CUDA GPU here: nothing to measure (run this on a GPU machine)")
        return
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name(0)}, "
          f"{torch.cuda.device_count()} GPU(s)")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        samples = {
            PipelineKind.SINGLE_INSTANCE: write_sample(tmp / "one", n_animals=1),
            PipelineKind.TOP_DOWN: write_sample(tmp / "three"),
        }
        for kind in (PipelineKind.BOTTOM_UP, PipelineKind.TOP_DOWN_ID, PipelineKind.BOTTOM_UP_ID):
            samples[kind] = samples[PipelineKind.TOP_DOWN]  # its animals carry their tracks
        print(f"{'pipeline':<16} {'train samples/s (amp) per model':<48} {'predict':>9} "
              f"{'forward':>9}")  # fmt: skip
        for kind, paths in samples.items():
            project = load_project(paths.project)
            run = tmp / f"run_{kind.value}"
            rates = train(project, kind, run, args.steps, args.batch_size)
            fps, forward = predict(project, run, args.batch_size)
            per_model = ", ".join(f"{k} {v:.0f}" for k, v in rates.items())
            print(f"{kind.value:<16} {per_model:<48} {fps:>7.0f}/s {forward:>7.0f}/s", flush=True)
        print(nccl_all_reduce())
        n, seconds, status = torchrun(samples[PipelineKind.TOP_DOWN].project, tmp / "ddp", 50)
        print(f"torchrun --nproc_per_node={n} (NCCL) top-down, 50 batches per model: "
              f"{seconds:.1f} s, {status}")  # fmt: skip
    runtimes(args.batch_size)


def runtimes(batch: int) -> None:
    """The runtimes on this GPU: ``bench_predict.py --device cuda`` (PyTorch, ONNX Runtime
    with CUDA, TensorRT where installed; frames/s, batch-1 latency, many videos)."""
    script = Path(__file__).with_name("bench_predict.py")
    command = [sys.executable, str(script), "--device", "cuda", "--batch-size", str(batch)]
    print(f"\n$ {' '.join(command[1:])}", flush=True)
    subprocess.run(command, check=False)


if __name__ == "__main__":
    main()
