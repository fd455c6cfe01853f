"""Accuracy after a fixed total training time: the fast CPU preset against SLEAP's defaults.

Datasets (``--dataset``):

- ``pair`` (default): ``../shared/data/centered_pair_predictions.slp``, two flies, 24 nodes,
  384×384; 200 training and 100 disjoint test frames split by 25-frame chunks, as in
  ``bench_realdata.py``.
- ``dance``: ``../shared/data/dance.mp4.labels.slp``, one person, 17 nodes, 406×720 RGB;
  100 training and 100 test frames, chunks of 10 frames (``--chunk 25``: of 25, as the
  pipeline issue's target has it; fewer stretches of the dance to learn from).
- ``sample`` / ``sample1024``: the built-in synthetic animals (8 nodes) on 384×384 or
  1024×1024 frames (there the animals are small); 100 training and 100 test frames of its
  ground truth.
- ``two_flies``: ``../shared/data/two_flies/``, two flies, 13 nodes, 1024×1024, 128
  proofread consecutive frames: the first 64 train, the last 64 test (split by time).

With ``--later`` the training frames come from the first 60 % of the video and the test
frames from its last quarter, as a user's later footage does. ``--camera above|side|auto``
sets the camera view (how far training rotates images); ``--jitter scale|intensity|both``
turns on scale jitter (0.9-1.1) and brightness/contrast jitter (SLEAP's ranges) for every model.

For each preset and total budget it trains the pipeline's models from scratch (``--pipeline``:
top-down, single-instance, bottom-up, top-down-id, bottom-up-id, or auto from the labels;
several are compared in one run; the budget split as the preset does),
predicts the test frames and prints median and 90th-percentile node error, OKS mAP, animals
found, extra instances (share of the true count), prediction frames/s end to end (decoding
included), each model's training samples/s next to a pure forward+backward+step of the same
network and batch, and the seconds one epoch of every model costs together. For an ID model
(the sample datasets, whose animals carry marks and their identity as their track) it also
prints the share of matched test instances named with their own track and the identity
switches over all of the video's frames, and for top-down-ID what its identity head adds
to prediction time (the same model timed with and without the head).

Run: ``.venv/bin/python benchmarks/bench_time_to_accuracy.py [--dataset pair]
[--minutes 2 5 10] [--presets fast-cpu sleap] [--pipeline top-down] [--auto-settings]
[--later] [--camera auto] [--jitter none] [--set MODEL.SETTING=VALUE ...]``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import sleap_io as sio
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_realdata import DATA, split, training_project  # noqa: E402
from bench_train import pure_step_rate  # noqa: E402
from napari_sleap_train.choices import ModelKind  # noqa: E402
from napari_sleap_train.config import TrainingConfig, preset  # noqa: E402
from napari_sleap_train.data.auto_settings import settings_from_data  # noqa: E402
from napari_sleap_train.data.labelled import load_labelled_data  # noqa: E402
from napari_sleap_train.evaluation import evaluate_frames  # noqa: E402
from napari_sleap_train.inference.pipelines import predictor_from_run  # noqa: E402
from napari_sleap_train.inference.predictor import PredictionStats  # noqa: E402
from napari_sleap_train.io.project import Project  # noqa: E402
from napari_sleap_train.io.video import LazyVideo  # noqa: E402
from napari_sleap_train.training import BatchEnded, TrainingStarted  # noqa: E402
from napari_sleap_train.training.pipeline import auto_pipeline, pipeline_events  # noqa: E402


def chunked_split(frames: list[int], chunk: int, n_train: int, n_test: int, seed: int = 0):
    """Training and test frames from disjoint contiguous chunks."""
    chunks: dict[int, list[int]] = {}
    for f in sorted(frames):
        chunks.setdefault(f // chunk, []).append(f)
    train, test = [], []
    for c in np.random.default_rng(seed).permutation(sorted(chunks)):
        (train if len(train) < n_train else test).extend(chunks[c])
        if len(test) >= n_test:
            break
    return sorted(train[:n_train]), sorted(test[:n_test])


def later_split(frames: list[int], n_frames: int, n_train: int, n_test: int):
    """Training frames evenly spaced over the first 60 % of the video, test frames over its
    last quarter: the test holds what comes later, as a user's new footage does."""
    early = sorted(f for f in frames if f < 0.6 * n_frames)
    late = sorted(f for f in frames if f >= 0.75 * n_frames)

    def spaced(pool, n):
        return sorted(
            {pool[i] for i in np.linspace(0, len(pool) - 1, min(n, len(pool))).astype(int)}
        )

    return spaced(early, n_train), spaced(late, n_test)


def load_dataset(name: str, work: Path, later: bool = False):
    """(video, skeleton, {frame: ground truth (n, nodes, 2)}, train frames, test frames);
    with ``later`` the test frames come after the training frames (:func:`later_split`)."""
    video, skeleton, truth, train, test = _load(name, work)
    if later:
        n_train, n_test = len(train), len(test)
        train, test = later_split(list(truth), int(video.shape[0]), n_train, n_test)
    return video, skeleton, truth, train, test


def identities_of(name: str, truth: dict) -> list[str] | None:
    """The track of the ground truth's k-th instance of each frame, where the dataset has
    identities (the built-in animals, drawn in the same order on every frame)."""
    if not name.startswith("sample"):
        return None
    return [f"animal_{k}" for k in range(max(len(t) for t in truth.values()))]


def _load(name: str, work: Path):
    if name == "pair":
        source = sio.load_slp(str(DATA / "centered_pair_predictions.slp"))
        good, train, test = split(source)
        return source.videos[0], source.skeletons[0], good, train, test
    if name == "dance":
        source = sio.load_slp(str(DATA / "dance.mp4.labels.slp"))
        truth = {}
        for lf in source.labeled_frames:
            insts = lf.user_instances or lf.predicted_instances
            if len(insts) == 1 and (~np.isnan(insts[0].numpy()[:, 0])).sum() >= 12:
                truth[lf.frame_idx] = insts[0].numpy()[None]
        train, test = chunked_split(list(truth), CHUNK, 100, 100)
        return source.videos[0], source.skeletons[0], truth, train, test
    if name == "two_flies":  # proofread: the first 64 frames train, the last 64 test
        source = sio.load_slp(str(DATA / "two_flies" / "two_flies.slp"))
        truth = {
            lf.frame_idx: np.stack([i.numpy() for i in lf.user_instances])
            for lf in source.labeled_frames
            if lf.user_instances
        }
        frames = sorted(truth)
        half = len(frames) // 2
        return source.videos[0], source.skeletons[0], truth, frames[:half], frames[half:]
    if name in ("sample", "sample1024"):
        from napari_sleap_train.sample.project import _labels, _write_video, make_sample

        size = {"sample": 384, "sample1024": 1024}[name]
        sample = make_sample(seed=1, n_frames=300, size=size)
        path = work / f"{name}.avi"
        _write_video(path, sample.frames)
        labels = _labels(sample, path, list(range(sample.n_frames)), False)
        truth = {
            lf.frame_idx: np.stack([i.numpy() for i in lf.user_instances])
            for lf in labels.labeled_frames
        }
        train, test = chunked_split(list(truth), 10, 100, 100)
        return labels.videos[0], labels.skeletons[0], truth, train, test
    raise SystemExit(f"unknown dataset {name}")


OVERRIDES: dict[str, float] = {}  # --set model.input_scaling=0.3 model.learning_rate=3e-4
AUTO = False  # --auto-settings
AUTO_SAID: list[str] = []
CAMERA: str | None = None  # --camera
JITTER: str = "none"  # --jitter
FLIP = False  # --flip
CHUNK = 10  # --chunk: frames per chunk of the dance split
ADAPT = False  # --adapt: learn from the whole video (pseudo-labels)
UNLABELLED = False  # --unlabelled: temporal and pose losses on unlabelled frame pairs
SMOOTH = "none"  # --smooth: predict the test span frame by frame, track and smooth
ENSEMBLE = 1  # --ensemble: members of the pipeline, from other random starts
NAMES: list[str] | None = None  # the dataset's identities (tracks), where it has them


def configured(name: str, pipeline: str, project: Project) -> TrainingConfig:
    """Preset ``name`` for ``pipeline``, on the CPU, with the settings from the data
    (``--auto-settings``), then the ``--set`` overrides of the models it has."""
    config = preset(name).for_pipeline(pipeline)
    config.device = "cpu"
    if AUTO:
        video = project.videos[0]
        hw = (int(video.shape[1]), int(video.shape[2]))
        config, notes = settings_from_data(config, project.user_instances_array(), hw, True)
        if not AUTO_SAID:
            AUTO_SAID.extend(notes)
            print("\n".join(f"auto settings: {n}" for n in notes))
    if CAMERA:
        config.pipeline.camera_view = CAMERA
    config.pipeline.adapt_to_video = ADAPT
    config.pipeline.learn_from_unlabelled = UNLABELLED
    config.pipeline.ensemble_size = ENSEMBLE
    for section in config.models.values():
        aug = section.augmentation
        aug.scale = JITTER in ("scale", "both")
        aug.contrast = aug.brightness = JITTER in ("intensity", "both")
        aug.hflip = aug.hflip or FLIP
    for key, value in OVERRIDES.items():
        model, _, setting = key.partition(".")
        if model in {k.value for k in ModelKind} and model not in config.models:
            continue  # e.g. centered_instance_id.* for top-down beside top-down-id
        section = config.model(model)
        if setting in ("max_stride", "filters", "output_stride"):
            setattr(section.backbone, setting, int(value))
        elif setting in ("learning_rate", "batch_size", "batches_per_epoch"):
            opt = section.optimization
            setattr(opt, setting, value if setting == "learning_rate" else int(value))
        else:
            setattr(section, setting, int(value) if setting == "training_crop" else value)
    return config.validate()


def identity_figures(predictor, lazy, truth: dict, test: list[int], names: list[str]) -> dict:
    """An ID model's identities: the share of matched test instances named right, and the
    identity switches over every frame with ground truth (in frame order)."""
    from napari_sleap_train.evaluation.identity import identity_frame, identity_metrics

    def frames_of(preds):
        for p in preds:
            gt = truth[p.frame_idx]
            said = p.identities or [None] * p.n_instances
            yield identity_frame(gt, p.points, p.scores, names[: len(gt)], said)

    every = sorted(truth)
    test_set = set(test)
    preds = list(predictor.predict_video(lazy, every))
    on_test = identity_metrics(frames_of(p for p in preds if p.frame_idx in test_set))
    over_all = identity_metrics(frames_of(preds))
    return {
        "named_right": on_test["named_right_fraction"],
        "switches": over_all["id_switches"],
        "id_cost": identity_cost(predictor, lazy, test),
    }


def identity_cost(predictor, lazy, frames: list[int], repeats: int = 3) -> float | None:
    """Extra prediction time a top-down-ID model's identity head costs: the same predictor
    timed on the same frames with the head and without it (alternating, best of
    ``repeats``). None for models whose identities are not a separate head."""
    model = getattr(predictor, "instance", None)
    if getattr(model, "classes", None) is None:
        return None
    head, names = model.classes, predictor.class_names
    best = {True: float("inf"), False: float("inf")}
    try:
        for _ in range(repeats):
            for on in (True, False):
                model.classes, predictor.class_names = (head, names) if on else (None, [])
                t0 = time.perf_counter()
                list(predictor.predict_video(lazy, frames))
                best[on] = min(best[on], time.perf_counter() - t0)
    finally:
        model.classes, predictor.class_names = head, names
    return best[True] / best[False] - 1


def side_pairs(node_names: list[str]) -> list[tuple[int, int]]:
    """Left/right node pairs found by name (``left_knee``/``right_knee``)."""
    index = {n.lower(): i for i, n in enumerate(node_names)}
    return [
        (i, index[n.replace("left", "right")])
        for n, i in index.items()
        if "left" in n and n.replace("left", "right") in index
    ]


def sides_as_labelled(gt: np.ndarray, pred: np.ndarray, pairs) -> np.ndarray:
    """``pred`` with the two nodes of each left/right pair exchanged where that lies nearer
    the nearest ground-truth instance's: the score if the labels' sides were right on
    every frame (pseudo ground truth can swap them from one frame to the next)."""
    out = pred.copy()
    if not len(gt):
        return out
    for k, inst in enumerate(pred):
        err = np.nanmean(np.linalg.norm(gt - inst, axis=-1), axis=1)
        if not np.isfinite(err).any():
            continue
        truth = gt[int(np.nanargmin(err))]
        for a, b in pairs:
            kept = np.linalg.norm(inst[a] - truth[a]) + np.linalg.norm(inst[b] - truth[b])
            swapped = np.linalg.norm(inst[b] - truth[a]) + np.linalg.norm(inst[a] - truth[b])
            if swapped < kept:
                out[k, a], out[k, b] = inst[b], inst[a]
    return out


def run(project: Project, config: TrainingConfig, minutes: float, video, truth, test, work):
    config.pipeline.time_budget_minutes = minutes
    kinds = [k.value for k in config.models]
    for section in config.models.values():
        section.optimization.time_limit_minutes = None
    batches = {k: 0 for k in kinds}
    elapsed = {k: 0.0 for k in kinds}
    bs, before = {}, {k: 0.0 for k in kinds}
    t0 = time.perf_counter()
    for event in pipeline_events(project, config, work):
        if isinstance(event, TrainingStarted):  # again for a second round or a member
            bs[event.model] = event.batch_size
            before[event.model] = elapsed[event.model]
        elif isinstance(event, BatchEnded):
            batches[event.model] += 1
            elapsed[event.model] = before[event.model] + event.elapsed
    train_min = (time.perf_counter() - t0) / 60
    predictor = predictor_from_run(work, device="cpu")
    lazy = LazyVideo(video)
    stats = PredictionStats()
    m = scored(predictor, lazy, video, truth, test, stats, SMOOTH)
    others = {}
    ways = [(True, "none"), (True, SMOOTH), (False, "none"), (False, SMOOTH)]
    for together, smooth in dict.fromkeys(ways[:2] if ENSEMBLE == 1 else ways):
        if (together, smooth) == (True, SMOOTH):
            continue
        alone = predictor if together else predictor_from_run(work, False, device="cpu")
        label = f"{'ensemble' if ENSEMBLE > 1 and together else 'one model'}, smooth {smooth}"
        others[label] = scored(alone, lazy, video, truth, test, PredictionStats(), smooth)
    preds = m.pop("preds")
    pairs = side_pairs(predictor.node_names)
    sided = None
    if pairs:
        sided = evaluate_frames(
            [
                (
                    truth[p.frame_idx],
                    sides_as_labelled(truth[p.frame_idx], p.points, pairs),
                    p.scores,
                )
                for p in preds
            ],
            predictor.node_names,
        )
    rates = {k: batches[k] * bs.get(k, 0) / max(elapsed[k], 1e-9) for k in kinds}
    ids = {"named_right": None, "switches": None, "id_cost": None}
    if predictor.class_names and NAMES:
        ids = identity_figures(predictor, lazy, truth, test, NAMES)
    return {
        "train_min": train_min,
        "rates": rates,
        "fps": stats.fps,
        "sided": sided,
        "others": others,
        **m,
        **ids,
    }


def scored(predictor, lazy, video, truth, test, stats, smooth: str) -> dict:
    """The test frames' figures (and ``preds``), smoothed over their span or not."""
    if smooth == "none":
        preds = list(predictor.predict_video(lazy, test, stats=stats))
    else:
        preds = smoothed_predictions(predictor, lazy, video, truth, test, stats, smooth)
    m = evaluate_frames(
        [(truth[p.frame_idx], p.points, p.scores) for p in preds], predictor.node_names
    )
    return {**m, "preds": preds}


def smoothed_predictions(predictor, lazy, video, truth, test, stats, smooth: str):
    """The test frames' predictions after predicting every frame of their span, tracking
    (at most as many tracks as animals) and smoothing (an ensemble's spreads weighting the
    frames)."""
    from napari_sleap_train.config.tracking import TrackingConfig
    from napari_sleap_train.inference.predictor import FramePrediction
    from napari_sleap_train.inference.results import add_predictions
    from napari_sleap_train.tracking import track_video
    from napari_sleap_train.tracking.smoothing import smooth_video
    from napari_sleap_train.tracking.spreads import Spreads

    span = range(min(test), max(test) + 1)
    skeleton = sio.Skeleton(nodes=list(predictor.node_names))
    project = Project(sio.Labels(videos=[video], skeletons=[skeleton]))
    spreads = Spreads()
    found = add_predictions(
        project, video, predictor.predict_video(lazy, span, stats=stats), spreads=spreads
    )
    animals = max(len(t) for t in truth.values())
    t0 = time.perf_counter()
    if found and animals > 1:
        track_video(project.labels, video, TrackingConfig(max_tracks=animals))
    if found:
        summary = smooth_video(project.labels, video, smooth, spreads=spreads)
        print(f"  {summary.text()} ({time.perf_counter() - t0:.1f} s with tracking)")
    wanted = set(test)
    out = []
    for lf in project.labels.labeled_frames:
        if lf.frame_idx not in wanted:
            continue
        insts = lf.predicted_instances
        out.append(
            FramePrediction(
                lf.frame_idx,
                np.stack([i.numpy() for i in insts])
                if insts
                else np.zeros((0, len(skeleton.nodes), 2)),
                np.stack([np.asarray(i.points["score"], float) for i in insts])
                if insts
                else np.zeros((0, len(skeleton.nodes))),
                np.array([i.score for i in insts], float),
            )
        )
    found = {p.frame_idx for p in out}
    n = len(skeleton.nodes)
    out += [
        FramePrediction(f, np.zeros((0, n, 2)), np.zeros((0, n)), np.zeros(0))
        for f in wanted - found
    ]
    return sorted(out, key=lambda p: p.frame_idx)


def epoch_seconds(config: TrainingConfig, rates: dict[str, float]) -> float:
    """Seconds one epoch of every model costs at these samples/s."""
    return sum(
        section.optimization.batches_per_epoch
        * section.optimization.batch_size
        / max(rates[k.value], 1e-9)
        for k, section in config.models.items()
    )


def _num(value, width: int, digits: int) -> str:
    """A number for the table; ``-`` when there is none (e.g. nothing was found)."""
    return f"{value:>{width}.{digits}f}" if value is not None else "-".rjust(width)


def main() -> None:
    global AUTO, CAMERA, JITTER, FLIP, CHUNK, NAMES, ADAPT, SMOOTH, UNLABELLED, ENSEMBLE
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dataset", default="pair", choices=["pair", "dance", "sample", "sample1024", "two_flies"]
    )
    parser.add_argument(
        "--later",
        action="store_true",
        help="train on the first 60 %% of the video, test on its last quarter",
    )
    parser.add_argument(
        "--camera", choices=["auto", "above", "side"], help="camera view (default: auto)"
    )
    parser.add_argument(
        "--jitter",
        default="none",
        choices=["none", "scale", "intensity", "both"],
        help="turn on scale jitter (0.9-1.1) and/or brightness and contrast jitter "
        "(SLEAP's ranges) for every model",
    )
    parser.add_argument(
        "--flip",
        action="store_true",
        help="mirror half the training samples left-right for every model, exchanging the "
        "skeleton's left/right pairs (found by name where it declares none)",
    )
    parser.add_argument(
        "--chunk", type=int, default=CHUNK, help=f"frames per chunk of the dance split ({CHUNK})"
    )
    parser.add_argument("--minutes", type=float, nargs="*", default=[2, 5, 10])
    parser.add_argument("--presets", nargs="+", default=["fast-cpu", "sleap"])
    parser.add_argument("--steps", type=int, default=40, help="steps of the pure measurement")
    parser.add_argument(
        "--pipeline",
        default=["top-down"],
        nargs="+",
        choices=["top-down", "single-instance", "bottom-up", "top-down-id", "bottom-up-id", "auto"],
        help="one or more, compared in one run (top-down-id: the sample datasets only)",
    )
    parser.add_argument(
        "--set",
        nargs="*",
        default=[],
        metavar="MODEL.SETTING=VALUE",
        help="e.g. single_instance.input_scaling=0.3 single_instance.max_stride=32 "
        "bottom_up.learning_rate=3e-4 (a peak rate under fast-cpu)",
    )
    parser.add_argument(
        "--auto-settings", action="store_true", help="settings chosen from the data first"
    )
    parser.add_argument("--keep", help="keep the trained model folders under this folder")
    parser.add_argument(
        "--adapt",
        action="store_true",
        help="learn from the whole video: pseudo-labels and a second round of training",
    )
    parser.add_argument(
        "--unlabelled",
        action="store_true",
        help="learn from unlabelled frames: temporal and pose losses on consecutive pairs",
    )
    parser.add_argument(
        "--smooth",
        default="none",
        choices=["none", "kalman", "median", "savgol"],
        help="predict every frame of the test span, track and smooth before scoring",
    )
    parser.add_argument(
        "--ensemble",
        type=int,
        default=1,
        help="members trained from other random starts, sharing the budget; the first "
        "member alone is scored too",
    )
    args = parser.parse_args()
    ENSEMBLE = args.ensemble
    AUTO, CAMERA, JITTER, FLIP = args.auto_settings, args.camera, args.jitter, args.flip
    ADAPT, SMOOTH, UNLABELLED = args.adapt, args.smooth, args.unlabelled
    CHUNK = args.chunk
    for item in args.set:
        key, _, value = item.partition("=")
        OVERRIDES[key] = float(value)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        video, skeleton, truth, train, test = load_dataset(args.dataset, tmp, args.later)
        if FLIP and not skeleton.symmetries:
            names = skeleton.node_names
            pairs = [(names[a], names[b]) for a, b in side_pairs(names)]
            print(f"flip: left/right pairs by name: {len(pairs)}")
            skeleton = sio.Skeleton(
                nodes=names,
                edges=[(e.source.name, e.destination.name) for e in skeleton.edges],
                symmetries=pairs,
            )
        NAMES = identities_of(args.dataset, truth)
        project = training_project(video, skeleton, truth, train, NAMES)
        pipelines = []
        for pipeline in args.pipeline:
            if pipeline == "auto":
                kind, why = auto_pipeline(project)
                pipeline = kind.value
                print(f"pipeline auto: {pipeline} ({why})")
            if pipeline.endswith("-id") and NAMES is None:
                raise SystemExit(f"{args.dataset} has no identities: {pipeline} needs sample")
            pipelines.append(pipeline)
        h, w = video.shape[1:3]
        print(
            f"dataset {args.dataset}: {w}x{h} frames, {len(skeleton.nodes)} nodes, "
            f"{len(train)} training / {len(test)} test frames, pipelines "
            f"{', '.join(pipelines)}; torch {torch.__version__}, "
            f"{torch.get_num_threads()} threads"
        )
        data = load_labelled_data(project)
        pure = {}
        for pipeline in pipelines:
            for name in args.presets:
                config = configured(name, pipeline, project)
                pure[pipeline, name] = rates = {
                    k.value: pure_step_rate(k.value, data, config, args.steps)
                    for k in config.models
                }
                said = ", ".join(f"{k} {v:.1f}" for k, v in rates.items())
                print(
                    f"pure forward+backward+step, {pipeline} {name}: {said} samples/s; one "
                    f"epoch of every model {epoch_seconds(config, rates):.1f} s"
                )
        print(
            f"{'pipeline':<12} {'preset':<9} {'budget':>6} {'trained':>8} {'median':>7} "
            f"{'p90':>7} {'mAP':>6} {'found':>6} {'extra':>6} {'pred/s':>6} {'ID right':>8} "
            f"{'switches':>8}  samples/s per model (pure), epoch s"
        )
        for minutes in args.minutes:
            for pipeline in pipelines:
                for name in args.presets:
                    config = configured(name, pipeline, project)
                    work = (Path(args.keep) if args.keep else tmp) / f"{pipeline}_{name}_{minutes}"
                    r = run(project, config, minutes, video, truth, test, work)
                    pure_rates = pure[pipeline, name]
                    per_model = "  ".join(
                        f"{k} {v:.1f} ({pure_rates[k]:.1f})" for k, v in r["rates"].items()
                    )
                    right = r["named_right"]
                    print(
                        f"{pipeline:<12} {name:<9} {minutes:>4g} m {r['train_min']:>6.1f} m "
                        f"{_num(r['dist_p50'], 5, 2)}px {_num(r['dist_p90'], 5, 2)}px "
                        f"{_num(r['oks_map'], 6, 3)} "
                        f"{_num(100 * (r['found_fraction'] or 0), 5, 1)}%"
                        f" {100 * r['instances_extra'] / max(r['instances_gt'], 1):5.1f}%"
                        f" {r['fps']:6.1f}"
                        f" {_num(None if right is None else 100 * right, 7, 2)}%"
                        f" {_num(r['switches'], 8, 0)}"
                        f"  {per_model}  epoch {epoch_seconds(config, r['rates']):.1f} s",
                        flush=True,
                    )
                    if r["sided"] is not None:
                        sd = r["sided"]
                        print(
                            f"  {pipeline}: with each left/right pair as the frame's labels "
                            f"have it: median {_num(sd['dist_p50'], 5, 2)} px, "
                            f"p90 {_num(sd['dist_p90'], 5, 2)} px, OKS mAP "
                            f"{_num(sd['oks_map'], 5, 3)}"
                        )
                    for label, o in r["others"].items():
                        print(
                            f"  {pipeline}, {label}: median {_num(o['dist_p50'], 5, 2)} px, "
                            f"p90 {_num(o['dist_p90'], 5, 2)} px, OKS mAP "
                            f"{_num(o['oks_map'], 5, 3)}, found "
                            f"{_num(100 * (o['found_fraction'] or 0), 5, 1)}%"
                        )
                    if r["id_cost"] is not None:
                        print(
                            f"  {pipeline}: the identity head adds {100 * r['id_cost']:.1f} % "
                            "to prediction time (same model and frames, with and without it)"
                        )


if __name__ == "__main__":
    main()
