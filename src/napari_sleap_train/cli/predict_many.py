"""``predict`` over many videos: one output per video in a folder, a summary beside them,
videos already predicted skipped; here with decoder processes, or on a Dask cluster."""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from pathlib import Path

from .track import tracking_config


def _check(args: argparse.Namespace, out_dir: Path) -> None:
    from ..errors import ProjectError

    if out_dir.suffix.lower() == ".slp":
        raise ProjectError(
            f"-o {out_dir} is a .slp file, but several inputs (or a folder, or a cluster) give "
            "one output per video: give a folder instead."
        )
    if out_dir.exists() and not out_dir.is_dir():
        raise ProjectError(f"-o {out_dir} is a file: give a folder for the outputs.")
    for item in map(Path, args.inputs):
        if not item.exists():
            raise ProjectError(f"{item} does not exist: give projects, videos or folders.")


def predict_many(
    args: argparse.Namespace, load: Callable[[argparse.Namespace, Path], object], settings: dict
) -> int:
    """Predict every video of ``args.inputs`` into the folder ``args.out``; exit status 1
    when a video failed (the summary names it and why)."""
    from ..inference.frames import FrameSelection
    from ..inference.many_videos import (
        VideoResult,
        plan_jobs,
        predict_jobs,
        write_predictions,
        write_summary,
    )

    out_dir, models = Path(args.out), Path(args.models_dir)
    _check(args, out_dir)
    tracking = tracking_config(args)
    tracking = tracking if tracking.enabled else None
    selection = FrameSelection.parse(args.frames) if args.frames else None
    jobs = plan_jobs(args.inputs, out_dir, selection, args.video_dir or (), args.overwrite)
    client = None
    if args.cluster is not None:
        from ..inference.cluster import connect

        client = connect(args.cluster)  # before anything is written
    out_dir.mkdir(parents=True, exist_ok=True)
    finished: list[VideoResult] = []

    def report(result: VideoResult) -> None:
        finished.append(result)
        write_summary(out_dir, finished)
        detail = f"{result.frames} frames, {result.instances} instances, {result.fps:.1f} frames/s"
        print(f"{result.video}: {result.status}: {result.error or detail}")

    t0 = time.perf_counter()
    if client is not None:
        results = _on_cluster(client, args, models, settings, jobs, tracking, report)
    else:
        predictor = load(args, models)

        def finish(job, preds) -> int:
            return write_predictions(job, preds, predictor.node_names, tracking)

        workers = args.workers
        if workers is None:
            workers = max(1, (os.cpu_count() or 1) - 1)
        results = predict_jobs(predictor, jobs, finish, workers, args.batch_size, report)
    seconds = time.perf_counter() - t0
    summary = write_summary(out_dir, results)
    return _print_totals(results, seconds, summary)


def _on_cluster(client, args, models, settings, jobs, tracking, report):
    from ..inference.cluster import PredictorSpec, predict_on_cluster

    workers = max(1, len(client.scheduler_info().get("workers", {})))
    threads = max(1, (os.cpu_count() or 1) // workers) if args.cluster.startswith("local") else None
    spec = PredictorSpec(str(models.resolve()), args.runtime, settings, threads)
    try:
        return predict_on_cluster(client, spec, jobs, tracking, args.batch_size, report)
    finally:
        cluster = getattr(client, "cluster", None)
        client.close()
        if cluster is not None:
            cluster.close()


def _print_totals(results, seconds: float, summary: Path) -> int:
    from ..inference.many_videos import totals

    t = totals(results)
    model_s = sum(r.model_seconds for r in results if r.status == "predicted")
    print(
        f"predicted {t['predicted']} videos ({t['frames']} frames, {t['instances']} instances) "
        f"in {seconds:.1f} s: {t['frames'] / max(seconds, 1e-9):.1f} frames/s end to end, "
        f"models {t['frames'] / max(model_s, 1e-9):.1f} frames/s; {t['skipped']} skipped "
        f"(already predicted), {t['failed']} failed -> {summary}"
    )
    for r in results:
        if r.status == "failed":
            print(f"failed: {r.video}: {r.error}")
    return 1 if t["failed"] else 0
