"""Prediction speed per runtime on the built-in sample: PyTorch, ONNX Runtime, TorchScript.

Trains a quick top-down and a quick bottom-up run (``--steps`` batches per model, SLEAP's
networks), exports each, then for each pipeline and runtime prints:

- end-to-end frames/s: ``predict_video`` over ``--frames`` frames of the sample video at
  ``--batch-size`` (decoding in its thread, the networks, peaks and grouping);
- the rate without decoding: the same frames over the time spent in ``predict_batch``
  (``PredictionStats.model_seconds``);
- latency at batch 1: ``predict_frame`` on ``--latency-frames`` frames after a warm-up,
  50th and 99th percentile in ms.

Runtimes: ``torch fp32``, ``torch auto`` (bfloat16 where the CPU computes it natively, else
float32: the line says which), ``onnx`` (ONNX Runtime, float32), ``onnx int8`` (8-bit,
calibrated on the sample's labelled frames), ``torchscript`` (float32) and, on CUDA with
TensorRT installed, ``tensorrt``. ``vs fp32 px``: the median and 99th percentile distance of
each runtime's body parts from PyTorch float32's on the same frames.

Then many videos: four videos predicted as ``predict`` does with several inputs, decoding in
0 (a thread), 1 and all-but-one worker processes. Each predictor is warmed up on two batches
first (oneDNN and cuDNN choose their kernels on the first calls of each shape).

Run: ``.venv/bin/python benchmarks/bench_predict.py [--device cpu|cuda] [--steps 100]``
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from napari_sleap_train.choices import PipelineKind
from napari_sleap_train.config import preset
from napari_sleap_train.errors import SleapTrainError
from napari_sleap_train.inference.pipelines import load_predictor
from napari_sleap_train.inference.predictor import PredictionStats, Predictor
from napari_sleap_train.inference.quantize import calibration_frames, quantize_export
from napari_sleap_train.io.project import load_project
from napari_sleap_train.io.video import LazyVideo
from napari_sleap_train.models.device import resolve_device, resolve_precision
from napari_sleap_train.models.export import export_run
from napari_sleap_train.sample.project import write_sample
from napari_sleap_train.training.pipeline import pipeline_events

PIPELINES = (PipelineKind.TOP_DOWN, PipelineKind.BOTTOM_UP)


@dataclass
class Runs:
    """The sample and the trained runs, one per pipeline, with their exports."""

    video: Path
    runs: dict[PipelineKind, Path]
    exports: dict[tuple[PipelineKind, str], Path]


def train(project_path: Path, kind: PipelineKind, out: Path, steps: int) -> Path:
    """A run of pipeline ``kind``: SLEAP's networks, ``steps`` batches per model on the CPU
    at a learning rate of 1e-3, enough for them to find the sample's animals."""
    config = preset("sleap").for_pipeline(kind)
    config.device = "cpu"
    config.pipeline.camera_view = "side"  # ±15°: a few hundred steps do not learn ±180°
    for section in config.models.values():
        section.optimization.epochs, section.optimization.batches_per_epoch = 1, steps
        section.optimization.learning_rate = 1e-3
    list(pipeline_events(load_project(project_path), config, out))
    return out


def prepare(root: Path, steps: int) -> Runs:
    """Write the sample, train each pipeline and export it as ONNX (float32 and 8-bit,
    calibrated on the sample's labelled frames) and TorchScript."""
    paths = write_sample(root / "sample")
    runs, exports = {}, {}
    calibration = calibration_frames(paths.project)
    for kind in PIPELINES:
        t0 = time.perf_counter()
        runs[kind] = train(paths.project, kind, root / kind.value, steps)
        for fmt in ("onnx", "torchscript"):
            exports[kind, fmt] = export_run(runs[kind], root / f"{kind.value}-{fmt}", fmt)
        int8 = export_run(runs[kind], root / f"{kind.value}-int8", "onnx")
        exports[kind, "int8"] = quantize_export(int8, calibration)
        print(f"trained and exported {kind.value} in {time.perf_counter() - t0:.0f} s", flush=True)
    return Runs(paths.video, runs, exports)


def predictors(runs: Runs, kind: PipelineKind, device: str):
    """(label, loader) for each runtime to compare; a loader that fails is skipped with a note."""
    run, auto = runs.runs[kind], resolve_precision("auto", resolve_device(device))
    yield "torch fp32", lambda: load_predictor(run, "torch", device=device, precision="fp32")
    yield f"torch auto ({auto})", lambda: load_predictor(run, "torch", device=device)
    yield "onnx", lambda: load_predictor(runs.exports[kind, "onnx"], "onnx", device=device)
    yield "onnx int8", lambda: load_predictor(runs.exports[kind, "int8"], "onnx", device=device)
    yield "torchscript", lambda: load_predictor(runs.exports[kind, "torchscript"], device=device)
    if resolve_device(device).type == "cuda":
        yield (
            "tensorrt",
            lambda: load_predictor(runs.exports[kind, "onnx"], "tensorrt", device=device),
        )


def throughput(predictor: Predictor, video: LazyVideo, frames: list[int], batch: int):
    """End-to-end frames/s and frames/s without decoding, after two warm-up batches, and
    the poses ``(M, N, 2)`` of each frame."""
    for _ in predictor.predict_video(video, frames[: 2 * batch], batch_size=batch):
        pass
    stats = PredictionStats()
    poses = [p.points for p in predictor.predict_video(video, frames, batch, stats=stats)]
    return stats.fps, stats.frames / max(stats.model_seconds, 1e-9), poses


def deviation(poses: list[np.ndarray], reference: list[np.ndarray]) -> tuple[float, float]:
    """Median and 99th percentile (px) of how far body parts lie from the reference's on
    the same frames (each instance paired with the reference instance nearest it)."""
    gaps = []
    for mine, ref in zip(poses, reference):
        for inst in mine:
            if not len(ref):
                continue
            d = np.linalg.norm(ref - inst[None], axis=-1)  # (M_ref, N)
            if np.isfinite(d).any():
                shared = np.isfinite(d).sum(1)
                mean = np.where(shared > 0, np.nansum(d, 1) / np.maximum(shared, 1), np.inf)
                k = int(np.argmin(mean))
                gaps.extend(d[k][np.isfinite(d[k])].tolist())
    if not gaps:
        return float("nan"), float("nan")
    return float(np.percentile(gaps, 50)), float(np.percentile(gaps, 99))


def latency(predictor: Predictor, video: LazyVideo, n: int) -> tuple[float, float]:
    """p50 and p99 of ``predict_frame`` in ms over ``n`` frames (after 5 warm-up calls)."""
    images = [video.frame(f) for f in range(n)]
    for image in images[:5]:
        predictor.predict_frame(image)
    times = []
    for image in images:
        t0 = time.perf_counter()
        predictor.predict_frame(image)
        times.append((time.perf_counter() - t0) * 1000)
    return float(np.percentile(times, 50)), float(np.percentile(times, 99))


def runtimes_section(runs: Runs, args: argparse.Namespace) -> None:
    """One line per pipeline and runtime: throughput at ``--batch-size`` and latency at 1."""
    video = LazyVideo(str(runs.video))
    frames = list(range(min(args.frames, len(video))))
    print(f"\n{len(frames)} frames at batch {args.batch_size}; latency over "
          f"{args.latency_frames} single frames")  # fmt: skip
    print(f"{'pipeline':<10} {'runtime':<18} {'end to end':>11} {'no decoding':>12} "
          f"{'p50 ms':>8} {'p99 ms':>8} {'vs fp32 px':>11}  what ran")  # fmt: skip
    for kind in PIPELINES:
        reference = None
        for label, load in predictors(runs, kind, args.device):
            try:
                predictor = load()
            except SleapTrainError as exc:
                print(f"{kind.value:<10} {label:<18} skipped: {exc}")
                continue
            fps, bare, poses = throughput(predictor, video, frames, args.batch_size)
            reference = poses if reference is None else reference  # torch fp32 comes first
            med, top = deviation(poses, reference)
            p50, p99 = latency(predictor, video, args.latency_frames)
            print(f"{kind.value:<10} {label:<18} {fps:>9.1f}/s {bare:>10.1f}/s "
                  f"{p50:>8.1f} {p99:>8.1f} {med:>5.2f}/{top:<5.2f}  {predictor.runtime}",
                  flush=True)  # fmt: skip
    video.close()


def many_videos_section(runs: Runs, args: argparse.Namespace) -> None:
    """Four videos (the sample under four names) predicted by ``napari-sleap-train predict
    FOLDER -o OUT``, as a user runs it, decoding in 0 (a thread), 1 and all-but-one worker
    processes, every output written: its frames/s end to end against the rate without
    decoding (both as the command prints them, model loading left out)."""
    folder = runs.video.parent / "four"
    folder.mkdir(exist_ok=True)
    for i in range(4):
        link = folder / f"video{i}{runs.video.suffix}"
        if not link.exists():
            link.symlink_to(runs.video)
    n = len(LazyVideo(str(runs.video)))  # whole videos: starting processes costs a little
    print(f"\n4 videos x {n} frames, top-down, torch auto precision, batch {args.batch_size}")
    print(f"{'workers':<8} {'end to end':>11} {'no decoding':>12} {'ratio':>6}")
    command = Path(sys.executable).with_name("napari-sleap-train")
    for workers in sorted({0, 1, max(1, (os.cpu_count() or 1) - 1)}):
        out = folder / f"out{workers}"
        shutil.rmtree(out, ignore_errors=True)
        result = subprocess.run(
            [str(command), "predict", str(runs.runs[PipelineKind.TOP_DOWN]), str(folder),
             "-o", str(out), "--frames", "all", "--workers", str(workers),
             "--batch-size", str(args.batch_size), "--device", args.device],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        rates = re.search(r"([\d.]+) frames/s end to end, models ([\d.]+) frames/s", result.stdout)
        if rates is None:
            print(f"{workers:<8} failed: {(result.stdout + result.stderr)[-300:]}")
            continue
        fps, bare = float(rates.group(1)), float(rates.group(2))
        print(f"{workers:<8} {fps:>9.1f}/s {bare:>10.1f}/s {fps / bare:>6.2f}", flush=True)


SECTIONS = (runtimes_section, many_videos_section)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    parser.add_argument("--steps", type=int, default=200, help="training batches per model")
    parser.add_argument("--frames", type=int, default=100, help="frames for throughput")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--latency-frames", type=int, default=50)
    args = parser.parse_args()
    import onnxruntime

    device = resolve_device(args.device)
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"torch {torch.__version__} ({torch.get_num_threads()} threads), onnxruntime "
          f"{onnxruntime.__version__}, {where}, {os.cpu_count()} cores; torch auto precision "
          f"here: {resolve_precision('auto', device)}")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        runs = prepare(Path(tmp), args.steps)
        for section in SECTIONS:
            section(runs, args)


if __name__ == "__main__":
    main()
