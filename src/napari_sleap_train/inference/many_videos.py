"""Predicting many videos: one output per video in a folder with a summary beside them,
videos already predicted skipped, a video that fails named without stopping the others.

Frames are decoded in worker processes while the networks run in this one, batch after
batch from whichever video is ready, so the networks never wait for a decoder.
"""

from __future__ import annotations

import multiprocessing as mp
import queue
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import sleap_io as sio

from ..atomic import write_json_atomic
from ..config.tracking import TrackingConfig
from ..errors import SleapTrainError
from ..io.decoder import decode_batches
from ..io.project import Project, load_project, video_name
from ..io.video import LazyVideo
from ..io.video_readers import MEDIA_SUFFIXES
from .frames import FrameSelection, select_frames
from .predictor import FramePrediction, PredictionStats, Predictor
from .results import add_predictions

SUMMARY = "summary.json"
"""The summary written beside the outputs."""


@dataclass
class VideoJob:
    """One video to predict: where its frames come from, which, and where its output goes."""

    name: str
    video: LazyVideo | None
    out: Path
    frames: list[int] = field(default_factory=list)
    skeleton: sio.Skeleton | None = None
    filename: str | list[str] = ""  # the video as the output names it (images: their files)
    problem: str = ""  # why it cannot be predicted (found while planning)


@dataclass
class VideoResult:
    """What became of one video: ``predicted``, ``skipped`` (its output was there) or
    ``failed`` (with the reason)."""

    video: str
    output: str
    status: str
    frames: int = 0
    instances: int = 0
    seconds: float = 0.0
    model_seconds: float = 0.0
    error: str = ""

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds else 0.0


Finish = Callable[[VideoJob, list[FramePrediction]], int]
"""Writes one video's predictions (returns the instances written)."""


def _output_name(path: str, taken: set[str]) -> str:
    stem = re.sub(r"[^\w.-]+", "_", Path(path).name.removesuffix(".slp"))
    name, i = f"{stem}.predictions.slp", 2
    while name in taken:
        name, i = f"{stem}-{i}.predictions.slp", i + 1
    taken.add(name)
    return name


def _video_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in MEDIA_SUFFIXES)


def plan_jobs(
    inputs: Sequence[str | Path],
    out_dir: Path,
    selection: FrameSelection | None = None,
    search_dirs: Sequence[str | Path] = (),
    overwrite: bool = False,
) -> list[VideoJob]:
    """A job for every video of ``inputs`` (videos, folders of videos, projects): the
    frames ``selection`` picks (default: a project's suggested frames when it has any, else
    every frame), its output ``out_dir/<video>.predictions.slp``. A video that cannot be
    opened becomes a job with its ``problem``; with ``overwrite`` unset, a video whose output
    exists keeps it (``video`` None: it is skipped)."""
    out_dir = Path(out_dir)
    taken: set[str] = set()
    jobs: list[VideoJob] = []
    for item in map(Path, inputs):
        if item.is_dir():
            files = _video_files(item)
            if not files:
                raise SleapTrainError(
                    f"{item} holds no video ({', '.join(sorted(MEDIA_SUFFIXES))})."
                )
            sources = [(str(f.resolve()), None, None) for f in files]
        elif item.suffix.lower() == ".slp" or item.name.endswith(".csv"):
            project = load_project(item, search_dirs=search_dirs, allow_missing=True)
            sources = [(video_name(v), v, project) for v in project.videos]
        else:
            sources = [(str(item.resolve()), None, None)]
        for path, video, project in sources:
            out = out_dir / _output_name(path, taken)
            jobs.append(_job(path, video, project, out, selection, overwrite))
    return jobs


def _job(path, video, project, out, selection, overwrite) -> VideoJob:
    """``path``: the video file (a project's video: its display name)."""
    name = Path(path).name
    skeleton = project.skeleton if project is not None and project.has_skeleton else None
    if out.exists() and not overwrite:
        return VideoJob(name, None, out, skeleton=skeleton)
    if project is not None and project.is_missing(video):
        problem = f"video not found at {video.filename}: give its folder with --video-dir"
        return VideoJob(name, None, out, problem=problem)
    try:
        lazy = LazyVideo(video if video is not None else path)
    except (SleapTrainError, OSError) as exc:
        return VideoJob(name, None, out, problem=str(exc))
    lazy.close()
    if project is None:
        project = Project(sio.Labels(videos=[sio.Video(filename=path, open_backend=False)]))
        video = project.videos[0]
    if selection is None:  # as for one input: the suggested frames, else every frame
        selection = FrameSelection.parse("suggested" if project.suggested_frames(video) else "all")
    try:
        frames = select_frames(project, video, selection, n_frames=len(lazy))
    except SleapTrainError as exc:
        return VideoJob(name, None, out, problem=str(exc))
    return VideoJob(name, lazy, out, frames, skeleton, video.filename)


def write_predictions(
    job: VideoJob,
    predictions: list[FramePrediction],
    node_names: Sequence[str],
    tracking: TrackingConfig | None = None,
) -> int:
    """Save one video's predictions to ``job.out`` (atomically), tracked and smoothed as
    ``tracking`` says, with the body parts' uncertainty beside it where there is one (an
    ensemble, or the Kalman smoother); returns the instances saved."""
    from ..choices import Smoothing, TrackerMethod
    from ..io.uncertainty import uncertainty_path, write_uncertainty_csv
    from ..tracking import track_video
    from ..tracking.smoothing import smooth_video
    from ..tracking.spreads import Spreads

    video = sio.Video(filename=job.filename or job.video.filename, open_backend=False)
    skeleton = job.skeleton or sio.Skeleton(nodes=list(node_names))
    project = Project(sio.Labels(videos=[video], skeletons=[skeleton]))
    spreads = Spreads()
    n = add_predictions(project, video, predictions, spreads=spreads)
    uncertainty = {}
    if tracking is not None and tracking.enabled and n:
        flow = TrackerMethod(tracking.method) is TrackerMethod.FLOW
        frames = job.video.frame if flow else None
        track_video(project.labels, video, tracking, frames=frames)
        if Smoothing(tracking.smoothing) is not Smoothing.NONE:
            project.save(job.out.with_name(job.out.name.replace(".slp", ".raw.slp")))
            uncertainty = smooth_video(
                project.labels,
                video,
                tracking.smoothing,
                tracking.max_gap,
                tracking.smoothing_window,
                spreads,
            ).uncertainty
    uncertainty = uncertainty or spreads.by_frame_and_track(project.labels, video)
    project.save(job.out, backup=False)
    if uncertainty:
        name = Path(str(video.filename)).name
        write_uncertainty_csv(uncertainty_path(job.out), {name: uncertainty}, project.node_names)
    return n


def write_summary(out_dir: Path, results: Sequence[VideoResult]) -> Path:
    """``out_dir/summary.json``: every video's status, frames, instances and speed."""
    path = Path(out_dir) / SUMMARY
    rows = [{**asdict(r), "fps": round(r.fps, 2)} for r in results]
    write_json_atomic(path, {"videos": rows, **totals(results)})
    return path


def totals(results: Sequence[VideoResult]) -> dict:
    """Counts by status and the frames/s of the videos predicted."""
    done = [r for r in results if r.status == "predicted"]
    frames = sum(r.frames for r in done)
    return {
        "predicted": len(done),
        "skipped": sum(r.status == "skipped" for r in results),
        "failed": sum(r.status == "failed" for r in results),
        "frames": frames,
        "instances": sum(r.instances for r in done),
    }


class _Progress:
    """One video's predictions so far."""

    def __init__(self, job: VideoJob):
        self.job = job
        self.preds: list[FramePrediction] = []
        self.stats = PredictionStats()
        self.started = time.perf_counter()


def predict_jobs(
    predictor: Predictor,
    jobs: Sequence[VideoJob],
    finish: Finish,
    workers: int = 1,
    batch_size: int = 4,
    report: Callable[[VideoResult], None] | None = None,
) -> list[VideoResult]:
    """Predict every job; ``finish`` writes each video's output as soon as its last batch
    is predicted. ``workers`` decoder processes (0: one decoding thread here, one video
    after the other). Returns a result per job, in order."""
    results: dict[int, VideoResult] = {}

    def done(i: int, result: VideoResult) -> None:
        results[i] = result
        if report is not None:
            report(result)

    todo = []
    for i, job in enumerate(jobs):
        result = settled(job) or _other_skeleton(predictor, job)
        if result is None:
            todo.append(i)
        else:
            done(i, result)
    if workers <= 0:
        for i in todo:
            done(i, _predict_here(predictor, jobs[i], finish, batch_size))
    elif todo:
        _predict_in_workers(predictor, jobs, todo, finish, workers, batch_size, done)
    return [results[i] for i in range(len(jobs))]


def settled(job: VideoJob) -> VideoResult | None:
    """The result of a job that needs no prediction (skipped, or failed while planning);
    None for a job to predict."""
    if job.problem:
        return VideoResult(job.name, str(job.out), "failed", error=job.problem)
    if job.video is None:
        return VideoResult(job.name, str(job.out), "skipped", error="already predicted")
    if not job.frames:
        return VideoResult(job.name, str(job.out), "failed", error="no frames to predict")
    return None


def _other_skeleton(predictor: Predictor, job: VideoJob) -> VideoResult | None:
    if job.skeleton is None:
        return None
    try:
        predictor.check_skeleton(job.skeleton.node_names)
    except SleapTrainError as exc:
        return VideoResult(job.name, str(job.out), "failed", error=str(exc))
    return None


def _finished(job: VideoJob, progress: _Progress, finish: Finish) -> VideoResult:
    stats = progress.stats
    try:
        instances = finish(job, progress.preds)
    except (SleapTrainError, OSError) as exc:
        return VideoResult(job.name, str(job.out), "failed", error=f"saving failed: {exc}")
    seconds = time.perf_counter() - progress.started
    return VideoResult(
        job.name, str(job.out), "predicted", stats.frames, instances, seconds, stats.model_seconds
    )


def _predict_here(predictor, job, finish, batch_size) -> VideoResult:
    progress = _Progress(job)
    try:
        progress.preds = list(
            predictor.predict_video(job.video, job.frames, batch_size, stats=progress.stats)
        )
    except Exception as exc:  # noqa: BLE001 - reported in the summary, others go on
        return VideoResult(job.name, str(job.out), "failed", error=f"{type(exc).__name__}: {exc}")
    finally:
        job.video.close()
    return _finished(job, progress, finish)


def _predict_in_workers(predictor, jobs, todo, finish, workers, batch_size, done) -> None:
    ctx = mp.get_context("spawn")  # the parent's torch threads are not forked
    tasks, out = ctx.Queue(), ctx.Queue(maxsize=2 * workers + 2)
    for i in todo:
        tasks.put((i, jobs[i].video, jobs[i].frames))
    n = min(workers, len(todo))
    for _ in range(n):
        tasks.put(None)
    procs = [
        ctx.Process(target=decode_batches, args=(tasks, out, batch_size), daemon=True)
        for _ in range(n)
    ]
    for p in procs:
        p.start()
    running = {i: _Progress(jobs[i]) for i in todo}
    try:
        while running:
            try:
                i, what, frames = out.get(timeout=1.0)
            except queue.Empty:
                if not any(p.is_alive() for p in procs):
                    for i in list(running):
                        job = running.pop(i).job
                        error = "the decoder process ended unexpectedly"
                        done(i, VideoResult(job.name, str(job.out), "failed", error=error))
                continue
            progress = running.get(i)
            if progress is None:
                continue  # a video that failed while its batches were on the way
            job = progress.job
            if what == "error":
                done(i, VideoResult(job.name, str(job.out), "failed", error=frames))
                del running[i]
            elif what == "done":
                done(i, _finished(job, progress, finish))
                del running[i]
            else:
                try:
                    _predict_batch(predictor, progress, what, frames)
                except Exception as exc:  # noqa: BLE001 - reported, the others go on
                    error = f"{type(exc).__name__}: {exc}"
                    done(i, VideoResult(job.name, str(job.out), "failed", error=error))
                    del running[i]
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
            p.join(timeout=5)


def _predict_batch(predictor, progress: _Progress, batch: list[int], frames) -> None:
    t0 = time.perf_counter()
    preds = predictor.predict_batch(frames)
    progress.stats.model_seconds += time.perf_counter() - t0
    for f, pred in zip(batch, preds):
        pred.frame_idx = f
        progress.preds.append(pred)
    progress.stats.frames += len(batch)
