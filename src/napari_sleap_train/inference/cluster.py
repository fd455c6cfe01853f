"""Predicting many videos on a Dask cluster: one task per video, each on a worker that
loads the models once, predicts, and writes the video's output itself (the output folder
must be one the workers can write, as on a cluster's shared file system).

``cluster`` names the cluster: ``local:N`` starts N worker processes on this machine;
``slurm:N`` or ``pbs:N`` asks dask-jobqueue for N workers as jobs of that scheduler (set up
in dask's ``jobqueue.yaml``: queue, cores, memory); anything else is the address of a
running Dask scheduler (``tcp://host:8786``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ..config.tracking import TrackingConfig
from ..errors import ClusterError, RuntimeMissingError
from .many_videos import VideoJob, VideoResult, settled, write_predictions

CONNECT_SECONDS = 20
_JOBQUEUE = {"slurm": "SLURMCluster", "pbs": "PBSCluster"}


@dataclass(frozen=True)
class PredictorSpec:
    """How a worker loads the predictor: the models' folder, the runtime, the predictor's
    settings, and the CPU threads it may use (None: torch's default)."""

    models: str
    runtime: str = "auto"
    settings: dict = field(default_factory=dict)
    threads: int | None = None


_PREDICTORS: dict = {}


def _predictor(spec: PredictorSpec):
    """The worker's predictor for ``spec``, loaded once per worker process."""
    from .pipelines import load_predictor

    key = (spec.models, spec.runtime, tuple(sorted(spec.settings.items())))
    if key not in _PREDICTORS:
        if spec.threads is not None:
            import torch

            torch.set_num_threads(spec.threads)
        _PREDICTORS[key] = load_predictor(spec.models, runtime=spec.runtime, **spec.settings)
    return _PREDICTORS[key]


def predict_job(
    spec: PredictorSpec, job: VideoJob, tracking: TrackingConfig | None, batch_size: int
) -> VideoResult:
    """One video on a worker: predicted, tracked as ``tracking`` says and saved."""
    from .many_videos import predict_jobs

    predictor = _predictor(spec)

    def finish(job: VideoJob, preds) -> int:
        return write_predictions(job, preds, predictor.node_names, tracking)

    return predict_jobs(predictor, [job], finish, workers=0, batch_size=batch_size)[0]


def connect(cluster: str):
    """A Dask client of ``cluster`` (see the module's text); a clear error when Dask is
    not installed or the cluster cannot be reached."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise RuntimeMissingError("Predicting on a cluster", "cluster", " (Dask)") from None
    local = re.fullmatch(r"local(?::(\d+))?", cluster)
    queue = re.fullmatch(r"(slurm|pbs)(?::(\d+))?", cluster)
    try:
        if local:
            n = int(local.group(1) or max(1, (os.cpu_count() or 1) // 2))
            return Client(
                LocalCluster(
                    n_workers=n, threads_per_worker=1, dashboard_address=None, processes=True
                )
            )
        if queue:
            return Client(_jobqueue(queue.group(1), int(queue.group(2) or 1)))
        return Client(cluster, timeout=f"{CONNECT_SECONDS}s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise ClusterError(
            f"Could not reach the cluster {cluster!r} ({type(exc).__name__}: {exc}). Check "
            "the scheduler's address (tcp://host:8786) and that it runs; nothing was written."
        ) from exc


def _jobqueue(kind: str, n: int):
    try:
        import dask_jobqueue
    except ImportError:
        extra = " (dask-jobqueue)"
        raise RuntimeMissingError(f"A {kind.upper()} cluster", "cluster", extra) from None
    try:
        cluster = getattr(dask_jobqueue, _JOBQUEUE[kind])()  # settings from jobqueue.yaml
    except Exception as exc:  # noqa: BLE001 - dask-jobqueue says what is missing
        raise ClusterError(
            f"dask-jobqueue could not start a {kind.upper()} cluster ({exc}): set its queue, "
            f"cores and memory under jobqueue: {kind}: in ~/.config/dask/jobqueue.yaml; "
            "nothing was written."
        ) from exc
    cluster.scale(n)
    return cluster


def predict_on_cluster(
    client,
    spec: PredictorSpec,
    jobs: Sequence[VideoJob],
    tracking: TrackingConfig | None = None,
    batch_size: int = 4,
    report: Callable[[VideoResult], None] | None = None,
) -> list[VideoResult]:
    """Predict ``jobs`` as tasks of ``client``'s cluster; a task that fails is a failed
    video (the others go on). Returns a result per job, in order."""
    from distributed import as_completed

    results: dict[int, VideoResult] = {}
    futures = {}
    for i, job in enumerate(jobs):
        result = settled(job)
        if result is not None:
            results[i] = result
            if report is not None:
                report(result)
            continue
        future = client.submit(predict_job, spec, job, tracking, batch_size, pure=False)
        futures[future] = i
    for future in as_completed(futures):
        i, job = futures[future], jobs[futures[future]]
        try:
            results[i] = future.result()
        except Exception as exc:  # noqa: BLE001 - a worker's error names this video only
            error = f"{type(exc).__name__}: {exc}"
            results[i] = VideoResult(job.name, str(job.out), "failed", error=error)
        if report is not None:
            report(results[i])
    return [results[i] for i in range(len(jobs))]
