"""Tracking benchmark: identity accuracy and cost of the tracker (``napari_sleap_train.tracking``).

Three parts (``--parts a b c``, default all):

(a) Jittered ground truth of the built-in sample (3 animals, 300 frames): the true poses
    with Gaussian noise (1.5 px per node), 10 % of the nodes dropped, hidden nodes dropped
    and the instance order shuffled on every frame (fixed seeds), as untracked predicted
    instances. Every tracker setting worth comparing (method simple/flow × similarity
    centroid/oks/iou/instance × max tracks none/3) tracks every frame (3 noise seeds) and
    every 15th frame (3 start offsets); prints identity switches (mean and per run), IDF1,
    track count and the tracker's own frames/s (``TrackingSummary.seconds``: data
    preparation and scoring are not timed).
(b) Predictions of a model trained on the sample's labelled frames (``sample_dir().project``)
    with this machine's default preset and its default CPU time budget (``--minutes``
    overrides it; ``--sample-models DIR`` reuses models trained earlier), on all 300 frames
    (labelled ones too), tracked with the settings of (a) (``TrackingConfig()`` is
    simple/centroid/none; the target is it with ``max_tracks=3``), plus the same tracking
    seeded by the project's user-labelled tracks. Switches are listed with their frame and
    the distance to the nearest other animal. With ``--id``, a top-down-ID model trained on
    the same frames (their tracks as its classes) and budget (``--id-models DIR`` reuses
    one) names the animals of every frame, and its names are scored the same way with no
    tracker.
(c) The added cost of tracking on ``../shared/data/centered_pair_low_quality.mp4`` (1,100
    frames, two flies): a model trained as in ``bench_realdata.py`` (``--pair-minutes``,
    or ``--pair-models DIR``) predicts every frame (``predict_video`` + ``add_predictions``,
    timed end to end), then simple and flow tracking (frames from a ``LazyVideo``) with max
    tracks 2 and none are timed against it.

(d) A real video at a lower frame rate: SLEAP's own predictions of the two flies
    (``centered_pair_predictions.slp``, 2 to 5 instances a frame) tracked at every frame
    (flow, max tracks and target count 2) serve as the reference; every 15th frame (3
    start offsets) is tracked with each setting at max tracks 2 and compared with it.

It ends with a targets block, each target marked met / not met.

Run: ``.venv/bin/python benchmarks/bench_tracking.py [--parts a b c d] [--minutes M]
[--sample-models DIR] [--id] [--id-models DIR] [--pair-minutes 3] [--pair-models DIR]
[--out-dir DIR]``
(about 15-20 minutes on a 2-core CPU, training dominates).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import sleap_io as sio

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_realdata import DATA, split, training_project  # noqa: E402
from napari_sleap_train.choices import PipelineKind, Similarity, TrackerMethod  # noqa: E402
from napari_sleap_train.config import PIPELINE_MODELS, default_preset, preset  # noqa: E402
from napari_sleap_train.config.tracking import TrackingConfig  # noqa: E402
from napari_sleap_train.evaluation.identity import identity_frame  # noqa: E402
from napari_sleap_train.evaluation.labels import evaluate_labels  # noqa: E402
from napari_sleap_train.inference.pipelines import predictor_from_run  # noqa: E402
from napari_sleap_train.inference.results import add_predictions  # noqa: E402
from napari_sleap_train.inference.topdown import FramePrediction, PredictionStats, TopDownPredictor
from napari_sleap_train.io.project import Project, load_project  # noqa: E402
from napari_sleap_train.io.video import LazyVideo  # noqa: E402
from napari_sleap_train.models.folder import RunFolder  # noqa: E402
from napari_sleap_train.sample.project import SampleData, make_sample, sample_dir  # noqa: E402
from napari_sleap_train.tracking import clear_tracks, track_video  # noqa: E402
from napari_sleap_train.training import TrainingFinished  # noqa: E402
from napari_sleap_train.training.pipeline import pipeline_events  # noqa: E402

SIGMA_PX = 1.5
DROP_FRACTION = 0.1
STRIDE = 15
OFFSETS = (0, 5, 10)
METHODS = (TrackerMethod.SIMPLE, TrackerMethod.FLOW)
SIMILARITIES = (Similarity.CENTROID, Similarity.OKS, Similarity.IOU, Similarity.INSTANCE)
PAIR_VIDEO = DATA / "centered_pair_low_quality.mp4"

# One frame's instances: (points (N, 2), point scores (N,), instance score).
Instances = list[tuple[np.ndarray, np.ndarray, float]]
ImageSource = Callable[[int], np.ndarray]


@dataclass
class Switch:
    """One identity switch of a ground-truth track."""

    frame: int
    gt_track: str
    before: str
    after: str
    nearest_px: float = float("nan")  # centroid distance to the nearest other animal


@dataclass
class Run:
    """One tracking pass, scored."""

    switches: int
    idf1: float
    tracks: int
    fps: float
    seconds: float
    untracked: int
    events: list[Switch] = field(default_factory=list)
    named_right: float = float("nan")  # matched animals whose name is their true track's


@dataclass
class Row:
    """A setting's runs at every frame and at every 15th frame."""

    label: str
    config: TrackingConfig
    every: list[Run] = field(default_factory=list)
    strided: list[Run] = field(default_factory=list)


# ----- data --------------------------------------------------------------------------------
def jittered(sample: SampleData, seed: int) -> dict[int, Instances]:
    """The sample's true poses as noisy, partly missing, shuffled detections per frame."""
    rng = np.random.default_rng(seed)
    out: dict[int, Instances] = {}
    for t in range(sample.n_frames):
        pts = sample.poses[t] + rng.normal(0.0, SIGMA_PX, sample.poses[t].shape)
        keep = sample.visible[t] & (rng.random(sample.visible[t].shape) >= DROP_FRACTION)
        pts[~keep] = np.nan
        out[t] = [
            (pts[a], keep[a].astype(np.float64), float(keep[a].mean()))
            for a in rng.permutation(sample.n_animals)
            if keep[a].any()
        ]
    return out


def from_predictions(preds: Sequence[FramePrediction]) -> dict[int, Instances]:
    """Model predictions as per-frame instances (all-missing ones left out, as
    ``add_predictions`` does)."""
    return {
        p.frame_idx: [
            (pts, ps, float(s))
            for pts, ps, s in zip(p.points, p.point_scores, p.scores)
            if np.isfinite(pts).any()
        ]
        for p in preds
    }


def prediction_labels(
    instances: dict[int, Instances], frames: Sequence[int], video: sio.Video, skeleton: sio.Skeleton
) -> sio.Labels:
    """A labels file of untracked predicted instances on ``frames``."""
    lfs = [
        sio.LabeledFrame(
            video=video,
            frame_idx=f,
            instances=[
                sio.PredictedInstance.from_numpy(p, skeleton=skeleton, point_scores=s, score=sc)
                for p, s, sc in instances.get(f, [])
            ],
        )
        for f in frames
    ]
    return sio.Labels(
        labeled_frames=[lf for lf in lfs if lf.instances], videos=[video], skeletons=[skeleton]
    )


def subset(truth: sio.Labels, frames: Sequence[int]) -> sio.Labels:
    """The ground truth of ``frames`` only."""
    wanted = set(frames)
    return sio.Labels(
        labeled_frames=[lf for lf in truth.labeled_frames if lf.frame_idx in wanted],
        videos=list(truth.videos),
        skeletons=list(truth.skeletons),
        tracks=list(truth.tracks),
    )


# ----- scoring -----------------------------------------------------------------------------
def _track_name(inst: sio.Instance) -> str | None:
    return None if inst.track is None else str(inst.track.name)


def switch_events(
    truth: sio.Labels, tracked: sio.Labels, sample: SampleData | None
) -> list[Switch]:
    """Where the identity switches happen, counted as ``identity_metrics`` counts them."""
    preds = {
        lf.frame_idx: list(lf.predicted_instances)
        for lf in tracked.labeled_frames
        if lf.predicted_instances
    }
    last: dict[str, str] = {}
    events: list[Switch] = []
    for lf in sorted(truth.labeled_frames, key=lambda lf: lf.frame_idx):
        gt = list(lf.user_instances)
        pr = preds.get(lf.frame_idx, [])
        n_nodes = len(truth.skeletons[0].nodes)
        frame = identity_frame(
            np.stack([g.numpy() for g in gt]),
            np.stack([p.numpy() for p in pr]) if pr else np.zeros((0, n_nodes, 2)),
            np.array([p.score for p in pr], dtype=np.float64),
            [_track_name(g) for g in gt],
            [_track_name(p) for p in pr],
        )
        for g, p in frame.pairs:
            name = frame.gt_tracks[g]
            if name is None:
                continue
            label = frame.pred_tracks[p]
            label = f"untracked@{lf.frame_idx}" if label is None else label
            if name in last and last[name] != label:
                events.append(Switch(lf.frame_idx, name, last[name], label))
            last[name] = label
    if sample is not None:
        centres = sample.poses.mean(axis=2)  # (T, A, 2)
        for e in events:
            a = sample.track_names.index(e.gt_track)
            d = np.linalg.norm(centres[e.frame] - centres[e.frame, a], axis=-1)
            d[a] = np.inf
            e.nearest_px = float(d.min())
    return events


def track_run(
    truth: sio.Labels,
    instances: dict[int, Instances],
    frames: Sequence[int],
    config: TrackingConfig,
    images: ImageSource,
    sample: SampleData | None,
) -> Run:
    """Track untracked predictions of ``frames`` and score them against ``truth``."""
    video, skeleton = truth.videos[0], truth.skeletons[0]
    labels = prediction_labels(instances, frames, video, skeleton)
    summary = track_video(labels, video, config, frames=images)
    return score(truth, labels, frames, summary.fps, summary.seconds, summary.untracked, sample)


def score(
    truth: sio.Labels,
    tracked: sio.Labels,
    frames: Sequence[int],
    fps: float,
    seconds: float,
    untracked: int,
    sample: SampleData | None,
) -> Run:
    """Identity metrics of ``tracked`` on ``frames``, with the switches located."""
    gt = subset(truth, frames)
    ident = evaluate_labels(gt, tracked)["identity"]
    wanted = set(frames)
    names = {
        _track_name(i)
        for lf in tracked.labeled_frames
        if lf.frame_idx in wanted
        for i in lf.predicted_instances
        if i.track is not None
    }
    events = switch_events(gt, tracked, sample)
    if len(events) != ident["id_switches"]:
        print(f"  ! located {len(events)} switches, evaluate_labels counts {ident['id_switches']}")
    return Run(
        switches=int(ident["id_switches"]),
        idf1=float(ident["idf1"]),
        tracks=len(names),
        fps=fps,
        seconds=seconds,
        untracked=untracked,
        events=events,
        named_right=float(ident["named_right_fraction"]),
    )


def settings(max_value: int) -> list[tuple[str, TrackingConfig]]:
    """Every method × similarity × max tracks (none, ``max_value``), and the simple tracker
    at max tracks without comparing body sizes."""
    out = []
    for method in METHODS:
        for sim in SIMILARITIES:
            for cap in (None, max_value):
                config = TrackingConfig(method=method, similarity=sim, max_tracks=cap)
                label = f"{method.value:<6} {sim.value:<8} {'-' if cap is None else cap:>3}"
                if config == TrackingConfig():
                    label += " (default)"
                elif config == TrackingConfig(max_tracks=max_value):
                    label += " (default+max)"
                out.append((label, config))
    for sim in SIMILARITIES:  # what comparing body sizes adds
        config = TrackingConfig(similarity=sim, max_tracks=max_value, size_cue=False)
        out.append((f"simple {sim.value:<8} {max_value:>3} no size", config))
    return out


# ----- printing ----------------------------------------------------------------------------
def _cell(runs: list[Run]) -> str:
    if not runs:
        return " " * 42
    sw = [r.switches for r in runs]
    per = " ".join(str(s) for s in sw)
    idf1 = np.mean([r.idf1 for r in runs])
    tracks = np.mean([r.tracks for r in runs])
    fps = np.mean([r.fps for r in runs])
    return f"{np.mean(sw):>6.1f} [{per:>11}] {idf1:>6.3f} {tracks:>6.1f} {fps:>7.0f}"


def print_table(title: str, rows: list[Row], every_runs: str, strided_runs: str) -> None:
    if title:
        print(title)
    head = f"{'switch':>6} {'per run':>13} {'IDF1':>6} {'tracks':>6} {'fr/s':>7}"
    every = f"every frame ({every_runs})"
    print(f"{'method similarity max':<34} | {every:<42} | every {STRIDE}th frame ({strided_runs})")
    print(f"{'':<34} | {head:<42} | {head}")
    for row in rows:
        print(f"{row.label:<34} | {_cell(row.every)} | {_cell(row.strided)}", flush=True)


def first_switches(run: Run, limit: int = 6) -> str:
    """``"; f12 animal_0 a->b, ..."``: the run's first switches, empty without any."""
    if not run.events:
        return ""
    shown = ", ".join(f"f{e.frame} {e.gt_track} {e.before}->{e.after}" for e in run.events[:limit])
    return f"; {shown}" + (" ..." if len(run.events) > limit else "")


def print_switches(rows: list[Row], limit: int = 6) -> None:
    """Frames and nearest-animal distances of the switches of each setting."""
    for row in rows:
        for name, runs in (("every frame", row.every), (f"every {STRIDE}th", row.strided)):
            events = [e for r in runs for e in r.events]
            if not events:
                continue
            d = np.array([e.nearest_px for e in events])
            shown = ", ".join(
                f"f{e.frame} {e.gt_track} {e.before}->{e.after} ({e.nearest_px:.0f} px)"
                for e in events[:limit]
            )
            more = f", ... {len(events) - limit} more" if len(events) > limit else ""
            print(
                f"  {row.label.strip()}, {name}: {len(events)} switches, nearest animal "
                f"median {np.nanmedian(d):.0f} px: {shown}{more}"
            )


def nearest_distances(sample: SampleData) -> np.ndarray:
    """(T, A) centroid distance from each animal to its nearest neighbour."""
    c = sample.poses.mean(axis=2)
    d = np.linalg.norm(c[:, :, None] - c[:, None], axis=-1)
    d[:, np.arange(sample.n_animals), np.arange(sample.n_animals)] = np.inf
    return d.min(axis=2)


# ----- training ----------------------------------------------------------------------------
def trained_models(
    project: Project,
    reuse: Path | None,
    out: Path,
    minutes: float | None,
    device: str,
    pipeline: PipelineKind = PipelineKind.TOP_DOWN,
) -> Path:
    """A folder with the models of ``pipeline``: ``reuse`` if it holds complete ones, else
    trained now (with the machine's default preset) into ``reuse`` or ``out``."""
    target = reuse or out
    if RunFolder(target).missing_text(PIPELINE_MODELS[pipeline]) is None:
        print(f"reusing the models in {target}")
        return target
    name = default_preset()
    config = preset(name).for_pipeline(pipeline)
    config.device = device
    budget = minutes or config.pipeline.time_budget_minutes
    if budget is None:  # a GPU machine's preset has none: use the CPU preset's
        budget = preset("fast-cpu").pipeline.time_budget_minutes
    config.pipeline.time_budget_minutes = budget
    print(f"training with preset {name.value}, budget {budget:g} min in total, into {target}")
    t0 = time.perf_counter()
    for event in pipeline_events(project, config, target):
        if isinstance(event, TrainingFinished):
            print(
                f"  {event.model}: {event.reason}, {event.epochs} epochs in "
                f"{event.elapsed / 60:.1f} min, best val loss {event.best_val_loss:.3g}",
                flush=True,
            )
    print(f"  trained in {(time.perf_counter() - t0) / 60:.1f} min")
    return target


def histogram(instances: dict[int, Instances] | sio.Labels) -> str:
    if isinstance(instances, sio.Labels):
        counts = Counter(len(lf.predicted_instances) for lf in instances.labeled_frames)
    else:
        counts = Counter(len(v) for v in instances.values())
    return ", ".join(f"{n} on {c}" for n, c in sorted(counts.items()))


# ----- parts -------------------------------------------------------------------------------
def part_a(sample: SampleData, truth: sio.Labels, seeds: int) -> list[Row]:
    n = sample.n_frames
    print(
        f"\n(a) jittered ground truth: {n} frames, {sample.n_animals} animals, "
        f"{SIGMA_PX} px noise, {DROP_FRACTION:.0%} nodes dropped, hidden nodes dropped, "
        f"order shuffled; every frame: {seeds} noise seeds, every {STRIDE}th: offsets "
        f"{list(OFFSETS[:seeds])}"
    )
    data = [jittered(sample, 1000 + s) for s in range(seeds)]
    d = nearest_distances(sample)
    print(
        f"nearest other animal (centroids): median {np.median(d):.0f} px, 5th percentile "
        f"{np.percentile(d, 5):.0f} px, min {d.min():.0f} px (frame {int(d.min(axis=1).argmin())})"
    )

    def images(f: int) -> np.ndarray:
        return sample.frames[f]

    rows = []
    for label, config in settings(sample.n_animals):
        row = Row(label, config)
        for s in range(seeds):
            row.every.append(track_run(truth, data[s], range(n), config, images, sample))
            frames = range(OFFSETS[s % len(OFFSETS)], n, STRIDE)
            row.strided.append(track_run(truth, data[s], frames, config, images, sample))
        rows.append(row)
    print_table("", rows, f"{seeds} seeds", f"{seeds} offsets")
    print("switches (frame, ground-truth track, predicted before->after, nearest animal):")
    print_switches(rows)
    return rows


def part_b(
    sample: SampleData, truth: sio.Labels, paths, args: argparse.Namespace, out: Path
) -> list[Row]:
    print(f"\n(b) predictions of a model trained on {paths.project.name}'s labelled frames")
    project = load_project(paths.project)
    print(
        f"{len(project.user_frames())} labelled frames, "
        f"{len(project.labels.suggestions)} suggestions"
    )
    models = trained_models(
        project, args.sample_models, out / "sample_models", args.minutes, args.device
    )
    predictor = TopDownPredictor.from_models_dir(models, device=args.device)
    stats = PredictionStats()
    lazy = LazyVideo(truth.videos[0])
    preds = list(predictor.predict_video(lazy, range(sample.n_frames), stats=stats))
    lazy.close()
    instances = from_predictions(preds)
    pose = evaluate_labels(
        truth,
        prediction_labels(instances, range(sample.n_frames), truth.videos[0], truth.skeletons[0]),
    )
    print(
        f"predicted {stats.frames} frames at {stats.fps:.1f} frames/s; instances per frame: "
        f"{histogram(instances)}; median error {pose['dist_p50']:.2f} px, p90 "
        f"{pose['dist_p90']:.2f} px, OKS mAP {pose['oks_map']:.3f}, found "
        f"{pose['found_fraction']:.1%}, {pose['instances_extra']} extra instances"
    )

    def images(f: int) -> np.ndarray:
        return sample.frames[f]

    n = sample.n_frames
    rows = []
    for label, config in settings(sample.n_animals):
        row = Row(label, config)
        row.every.append(track_run(truth, instances, range(n), config, images, sample))
        for off in OFFSETS:
            frames = range(off, n, STRIDE)
            row.strided.append(track_run(truth, instances, frames, config, images, sample))
        rows.append(row)
    print_table("", rows, "1 run", f"{len(OFFSETS)} offsets")
    print("switches (frame, ground-truth track, predicted before->after, nearest animal):")
    print_switches(rows)

    print(
        "seeded: predictions added to the project (its 20 user frames carry the tracks), "
        "every frame:"
    )
    for config in (TrackingConfig(), TrackingConfig(max_tracks=sample.n_animals)):
        labels = load_project(paths.project).labels
        video = labels.videos[0]
        add_predictions(Project(labels), video, preds)
        summary = track_video(labels, video, config, frames=images)
        run = score(
            truth, labels, range(n), summary.fps, summary.seconds, summary.untracked, sample
        )
        names = sorted(
            {
                _track_name(i)
                for lf in labels.labeled_frames
                for i in lf.predicted_instances
                if i.track is not None
            }
        )
        labelled = Project(labels).labelled_frame_indices(video)
        near = sum(e.frame in labelled or e.frame - 1 in labelled for e in run.events)
        shown = ", ".join(names) if len(names) <= 6 else f"{', '.join(names[:6])}, ..."
        print(
            f"  max tracks {config.max_tracks}: {run.switches} switches ({near} on a labelled "
            f"frame or the one after), IDF1 {run.idf1:.3f}, {len(names)} tracks ({shown}), "
            f"{run.untracked} untracked, {summary.fps:.0f} frames/s" + first_switches(run)
        )
    if args.id:
        id_model(sample, truth, paths, args, out)
    return rows


def id_model(sample: SampleData, truth: sio.Labels, paths, args, out: Path) -> None:
    """A top-down-ID model trained on the same labelled frames (their tracks its classes)
    and budget names every animal of all frames; no tracker runs."""
    print("\nID model: top-down-ID trained on the same frames, every frame named by it alone")
    project = load_project(paths.project)
    models = trained_models(
        project,
        args.id_models,
        out / "id_models",
        args.minutes,
        args.device,
        PipelineKind.TOP_DOWN_ID,
    )
    predictor = predictor_from_run(models, device=args.device)
    stats = PredictionStats()
    lazy = LazyVideo(truth.videos[0])
    preds = list(predictor.predict_video(lazy, range(sample.n_frames), stats=stats))
    lazy.close()
    labels = project.labels
    add_predictions(project, labels.videos[0], preds)
    untracked = sum(p.identities is None for p in preds)
    run = score(truth, labels, range(sample.n_frames), stats.fps, 0.0, untracked, sample)
    print(
        f"  {run.switches} switches, IDF1 {run.idf1:.3f}, named right {run.named_right:.2%}, "
        f"{run.tracks} tracks, {stats.fps:.1f} frames/s predicted (identities included)"
        + first_switches(run)
    )


@dataclass
class Cost:
    label: str
    max_tracks: int | None
    seconds: float
    tracks: int
    untracked: int


def part_c(args: argparse.Namespace, out: Path) -> tuple[float, list[Cost]]:
    print(f"\n(c) added cost of tracking on {PAIR_VIDEO.name}")
    source = sio.load_slp(str(DATA / "centered_pair_predictions.slp"))
    video, skeleton = source.videos[0], source.skeletons[0]
    good, train, _ = split(source)
    project = training_project(video, skeleton, good, train)
    print(f"{len(train)} training frames (as bench_realdata.py)")
    models = trained_models(
        project, args.pair_models, out / "pair_models", args.pair_minutes, args.device
    )
    predictor = TopDownPredictor.from_models_dir(models, device=args.device)
    n = video.shape[0]
    labels = sio.Labels(videos=[video], skeletons=[skeleton])
    stats = PredictionStats()
    t0 = time.perf_counter()
    lazy = LazyVideo(video)
    add_predictions(Project(labels), video, predictor.predict_video(lazy, range(n), stats=stats))
    lazy.close()
    predict_s = time.perf_counter() - t0
    print(
        f"prediction of {n} frames (predict_video + add_predictions): {predict_s:.1f} s "
        f"({n / predict_s:.1f} frames/s; models {stats.model_seconds:.1f} s); instances per "
        f"frame: {histogram(labels)}"
    )
    costs: list[Cost] = []
    if not labels.labeled_frames:
        print("the model found no animal: nothing to track (train longer, --pair-minutes)")
        return predict_s, costs
    print(
        f"{'tracker':<8} {'max':>4} {'seconds':>8} {'% of predict':>12} {'fr/s':>7} "
        f"{'tracks':>6} {'untracked':>9}"
    )
    for method in METHODS:
        for cap in (2, None):
            config = TrackingConfig(method=method, max_tracks=cap)
            clear_tracks(labels, video)
            t0 = time.perf_counter()
            lazy = LazyVideo(video) if method is TrackerMethod.FLOW else None
            summary = track_video(
                labels, video, config, frames=lazy.frame if lazy is not None else None
            )
            if lazy is not None:
                lazy.close()
            seconds = time.perf_counter() - t0
            cost = Cost(method.value, cap, seconds, len(summary.tracks), summary.untracked)
            costs.append(cost)
            print(
                f"{method.value:<8} {'-' if cap is None else cap:>4} {seconds:>8.2f} "
                f"{100 * seconds / predict_s:>11.1f}% {n / seconds:>7.0f} "
                f"{cost.tracks:>6} {cost.untracked:>9}",
                flush=True,
            )
    return predict_s, costs


# ----- (d) a real video at a lower frame rate ---------------------------------------------
def part_d() -> None:
    """SLEAP's own predictions of the two flies, tracked at every frame (flow, max tracks and
    target count 2) as the reference; then every 15th frame with each setting."""
    path = DATA / "centered_pair_predictions.slp"
    print(f"\n(d) {path.name}: tracked at every {STRIDE}th frame against every frame")

    def load() -> sio.Labels:
        labels = sio.load_slp(str(path), open_videos=False)
        labels.videos[0].replace_filename(str(PAIR_VIDEO), open=False)
        clear_tracks(labels, labels.videos[0])
        return labels

    ref = load()
    lazy = LazyVideo(str(PAIR_VIDEO))
    reference = TrackingConfig(method=TrackerMethod.FLOW, max_tracks=2, target_instances=2)
    print("  reference (every frame, flow, max tracks 2, target 2):", end=" ")
    print(track_video(ref, ref.videos[0], reference, frames=lazy.frame).text())
    truth = sio.Labels(videos=ref.videos, skeletons=ref.skeletons, tracks=ref.tracks)
    for lf in ref.labeled_frames:
        users = [
            sio.Instance.from_numpy(p.numpy(), skeleton=ref.skeletons[0], track=p.track)
            for p in lf.predicted_instances
            if p.track is not None
        ]
        truth.append(sio.LabeledFrame(video=ref.videos[0], frame_idx=lf.frame_idx, instances=users))
    print("  setting                      | offset: switches, right identity")
    for label, config in settings(2):
        if "no size" not in label and config.method is TrackerMethod.FLOW:
            continue  # flow over 15 frames is measured in (a) and (b)
        cells = []
        for offset in OFFSETS:
            labels = load()
            labels.labeled_frames = [
                lf for lf in labels.labeled_frames if lf.frame_idx % STRIDE == offset
            ]
            track_video(labels, labels.videos[0], config)
            ident = evaluate_labels(truth, labels)["identity"]
            cells.append(
                f"{offset}: {ident['id_switches']}, {ident['identity_correct_fraction']:.3f}"
            )
        print(f"  {label:<28} | " + " | ".join(cells))
    lazy.close()


# ----- targets -----------------------------------------------------------------------------
def _mark(ok: bool) -> str:
    return "met" if ok else "NOT MET"


def targets(a: list[Row], b: list[Row], c: tuple[float, list[Cost]] | None, animals: int) -> None:
    print("\ntargets")
    if b:
        row = next(r for r in b if r.config == TrackingConfig(max_tracks=animals))
        for name, runs in (("every frame", row.every), (f"every {STRIDE}th", row.strided)):
            sw = max(r.switches for r in runs)
            idf1 = min(r.idf1 for r in runs)
            print(
                f"  (b) default+max tracks, {name}: 0 switches and IDF1 >= 0.99 "
                f"(worst run: {sw} switches, IDF1 {idf1:.3f}): {_mark(sw == 0 and idf1 >= 0.99)}"
            )
    if c is not None:
        predict_s, costs = c
        for method, limit in (("simple", 5.0), ("flow", 30.0)):
            shares = [100 * k.seconds / predict_s for k in costs if k.label == method]
            if not shares:
                print(f"  (c) {method} tracking <= {limit:g} % of prediction time: not measured")
                continue
            worst = max(shares)
            print(
                f"  (c) {method} tracking <= {limit:g} % of prediction time (worst "
                f"{worst:.1f} %): {_mark(worst <= limit)}"
            )
    over = []
    for part, rows in (("a", a), ("b", b)):
        for row in rows:
            cap = row.config.max_tracks
            over += [
                f"({part}) {row.label.strip()}: {r.tracks}"
                for r in row.every + row.strided
                if cap is not None and r.tracks > cap
            ]
    if c is not None:
        over += [
            f"(c) {k.label}: {k.tracks}"
            for k in c[1]
            if k.max_tracks is not None and k.tracks > k.max_tracks
        ]
    print(
        f"  track count never above max tracks: {_mark(not over)}"
        + (f" ({'; '.join(over)})" if over else "")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--parts", nargs="+", default=["a", "b", "c", "d"], choices=["a", "b", "c", "d"]
    )
    parser.add_argument("--seeds", type=int, default=3, help="noise seeds in (a)")
    parser.add_argument(
        "--minutes",
        type=float,
        help="training budget of (b) (default: the machine's default preset's CPU budget)",
    )
    parser.add_argument("--sample-models", type=Path, help="(b): reuse (or train into) DIR")
    parser.add_argument(
        "--id",
        action="store_true",
        help="(b): also train a top-down-ID model with the same budget and score its names",
    )
    parser.add_argument("--id-models", type=Path, help="(b) --id: reuse (or train into) DIR")
    parser.add_argument("--pair-minutes", type=float, default=3.0, help="training budget of (c)")
    parser.add_argument("--pair-models", type=Path, help="(c): reuse (or train into) DIR")
    parser.add_argument(
        "--out-dir",
        type=Path,
        help="where new models go (default: a new folder under the system's temporary folder)",
    )
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    out = args.out_dir or Path(tempfile.mkdtemp(prefix="bench_tracking_"))
    print(f"models of this run go under {out}")
    paths = sample_dir()
    sample = make_sample(0)
    truth = sio.load_slp(str(paths.ground_truth))
    a = part_a(sample, truth, args.seeds) if "a" in args.parts else []
    b = part_b(sample, truth, paths, args, out) if "b" in args.parts else []
    c = part_c(args, out) if "c" in args.parts else None
    if "d" in args.parts:
        part_d()
    targets(a, b, c, sample.n_animals)


if __name__ == "__main__":
    main()
