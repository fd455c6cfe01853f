"""A simulated user in the labelling loop: which suggestion method fixes the model fastest?

Start from ``--start`` frames labelled in the first part of a video (the first 30 %), train
from scratch, then ``--rounds`` times: suggest ``--per-round`` frames with a method among
the unlabelled frames before the test part, "label" them from the ground truth, and
fine-tune from the round before. After each round it prints the labelled frames, training
minutes and median / p90 node error and OKS mAP on test frames from the last quarter of the
video (never suggested). Every method starts from the same first model and trains the same
number of steps a round, so the methods are compared in one run on equal terms.

Methods: ``random``, ``image-features`` (SLEAP's), ``low-score`` (prediction score),
``uncertainty``, ``novelty`` and ``mix`` (the model-based ones of ``suggestions.from_model``),
and ``oracle``: the frames where the model is furthest from the ground truth, spread as
the model-based methods spread theirs. No user has the oracle; it is the best that
suggestions which find what the model gets wrong could do.

It also measures the loop's speed claim: on the last round of the first model-based method,
the same labels are trained from scratch too, and the time each run needed to reach the
fine-tuned run's best validation loss (its pose model) is printed.

Data (``--dataset``): ``pair`` (two flies, 1,100 frames, the predictions of
``centered_pair_predictions.slp`` on frames holding exactly two flies as ground truth) or
``sample`` (the built-in animals, whose later frames hold behaviour the first do not).

Run: ``.venv/bin/python benchmarks/bench_active_learning.py [--dataset pair]
[--methods random image-features mix] [--rounds 4]``
"""

from __future__ import annotations

import argparse
import copy
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import sleap_io as sio

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_realdata import DATA, training_project  # noqa: E402
from napari_sleap_train.config import preset  # noqa: E402
from napari_sleap_train.evaluation import evaluate_frames  # noqa: E402
from napari_sleap_train.inference.pipelines import predictor_from_run  # noqa: E402
from napari_sleap_train.io.video import LazyVideo  # noqa: E402
from napari_sleap_train.models.folder import ModelFolder  # noqa: E402
from napari_sleap_train.suggestions.frames import image_feature_frames, random_frames  # noqa: E402
from napari_sleap_train.suggestions.from_model import (
    MODEL_METHODS,
    FrameDoubt,
    pick_spread,
    sample_candidates,
    suggest_with_model,
    training_rotation,
)
from napari_sleap_train.training.pipeline import pipeline_events  # noqa: E402

METHODS = ("random", "image-features", "low-score", "uncertainty", "novelty", "mix", "oracle")


def load(name: str, work: Path):
    """(video, skeleton, {frame: truth (n, nodes, 2)}) of a dataset."""
    if name == "pair":
        labels = sio.load_slp(str(DATA / "centered_pair_predictions.slp"))
        truth = {}
        for lf in labels.labeled_frames:
            insts = lf.predicted_instances
            if len(insts) == 2 and all(np.isfinite(i.numpy()[:, 0]).sum() >= 20 for i in insts):
                truth[lf.frame_idx] = np.stack([i.numpy() for i in insts])
        return labels.videos[0], labels.skeletons[0], truth
    if name == "sample":
        from napari_sleap_train.sample.project import write_sample

        paths = write_sample(work / "sample")
        labels = sio.load_slp(str(paths.ground_truth))
        truth = {
            lf.frame_idx: np.stack([i.numpy() for i in lf.user_instances])
            for lf in labels.labeled_frames
        }
        return labels.videos[0], labels.skeletons[0], truth
    raise SystemExit(f"unknown dataset {name}")


def parts(truth: dict, n_frames: int, start: int, n_test: int, seed: int):
    """First labelled frames (first 30 %), suggestion candidates (before the last quarter)
    and test frames (the last quarter, evenly spaced)."""
    first = [f for f in truth if f < 0.3 * n_frames]
    labelled = random_frames(first, start, seed)
    candidates = [f for f in truth if f < 0.75 * n_frames and f not in labelled]
    late = sorted(f for f in truth if f >= 0.75 * n_frames)
    test = [late[i] for i in np.linspace(0, len(late) - 1, min(n_test, len(late))).astype(int)]
    return labelled, sorted(candidates), test


def configured(steps: dict[str, int]):
    """The fast CPU preset (top-down) with a fixed number of batches per model."""
    config = preset("fast-cpu")
    config.device = "cpu"
    config.pipeline.time_budget_minutes = None
    for kind, section in config.models.items():
        section.optimization.epochs = max(1, steps[kind.value] // 50)
        section.optimization.batches_per_epoch = 50
        section.optimization.early_stopping_patience = 10_000
    return config


def train(project, config, out: Path, init: Path | None = None) -> float:
    """Train (fine-tune from ``init``) into ``out``; wall minutes."""
    t0 = time.perf_counter()
    weights = {k.value: init / k.value for k in config.models} if init else None
    for _ in pipeline_events(project, config, out, init_weights=weights):
        pass
    return (time.perf_counter() - t0) / 60


def evaluate(run: Path, video, truth, frames) -> dict:
    predictor = predictor_from_run(run, device="cpu")
    preds = list(predictor.predict_video(LazyVideo(video), frames))
    return evaluate_frames(
        [(truth[p.frame_idx], p.points, p.scores) for p in preds], predictor.node_names
    )


def worst_frames(run, video, truth, candidates, n: int, sample_size: int = 200) -> list[int]:
    """The oracle: ``n`` of ``sample_size`` evenly spaced ``candidates`` where the run's
    predictions are furthest from the ground truth (frames with an animal missed first,
    then by median node error), no two closer than the model-based methods' gap."""
    predictor = predictor_from_run(run, device="cpu")
    sample, min_gap = sample_candidates(candidates, n, sample_size)
    doubts = []
    for p in predictor.predict_video(LazyVideo(video), sample.tolist()):
        gt = truth[p.frame_idx]
        m = evaluate_frames([(gt, p.points, p.scores)], predictor.node_names)
        missed = m["instances_gt"] - m["instances_matched"]
        error = m["dist_p50"] if m["dist_p50"] is not None else 0.0
        doubts.append(FrameDoubt(p.frame_idx, 0.0, 0.0, p.n_instances, score=1e6 * missed + error))
    return sorted(d.frame for d in pick_spread(doubts, n, min_gap))


def suggest(method, run, video, labelled_poses, candidates, n, seed, truth=None):
    """``n`` frames of ``candidates`` by ``method`` (and the seconds it took)."""
    t0 = time.perf_counter()
    lazy = LazyVideo(video)
    if method == "random":
        frames = random_frames(candidates, n, seed)
    elif method == "oracle":
        frames = worst_frames(run, video, truth, candidates, n)
    elif method == "image-features":
        frames = image_feature_frames(lazy, candidates, n, seed)
    elif method == "low-score":
        predictor = predictor_from_run(run, device="cpu")
        pool = np.asarray(candidates)[np.linspace(0, len(candidates) - 1, 200).astype(int)]
        scores = {
            p.frame_idx: float(np.mean(p.scores)) if p.n_instances else 0.0
            for p in predictor.predict_video(lazy, sorted(set(pool.tolist())))
        }
        frames = sorted(sorted(scores, key=lambda f: (scores[f], f))[:n])
    else:
        predictor = predictor_from_run(run, device="cpu")
        result = suggest_with_model(
            predictor,
            lazy,
            candidates,
            labelled_poses,
            n,
            method,
            angle=training_rotation(run),
        )
        frames = result.frames
    return frames, time.perf_counter() - t0


def px(value: float | None) -> str:
    """A distance in pixels, or "-" when nothing was matched."""
    return "-" if value is None else f"{value:.2f}px"


def row(method: str, r: int, labelled: int, minutes: float, secs: str, m: dict) -> str:
    """One line of the table."""
    return (
        f"{method:<15} {r:>5} {labelled:>8} {minutes:>9.1f} {secs:>9} {px(m['dist_p50']):>8} "
        f"{px(m['dist_p90']):>8} {m['oks_map']:>6.3f} {100 * m['found_fraction']:>5.1f}%"
    )


def val_curve(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """(seconds, validation loss) per epoch of a model folder."""
    log = ModelFolder(folder).read_log()
    return (
        np.array([row["seconds"] for row in log], float),
        np.array([row["val_loss"] for row in log], float),
    )


def time_to(folder: Path, target: float) -> float | None:
    seconds, loss = val_curve(folder)
    hit = np.flatnonzero(loss <= target)
    return float(seconds[hit[0]]) if len(hit) else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="pair", choices=["pair", "sample"])
    parser.add_argument(
        "--methods",
        nargs="+",
        default=[m for m in METHODS if m != "oracle"],
        choices=METHODS,
        help="suggestion methods to compare (default: all but oracle)",
    )
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--start", type=int, default=20)
    parser.add_argument("--per-round", type=int, default=20)
    parser.add_argument("--test", type=int, default=100)
    parser.add_argument(
        "--first-steps",
        nargs=2,
        type=int,
        default=[1000, 400],
        metavar=("CENTROID", "INSTANCE"),
        help="batches of the first training",
    )
    parser.add_argument(
        "--round-steps",
        nargs=2,
        type=int,
        default=[250, 150],
        metavar=("CENTROID", "INSTANCE"),
        help="batches of each fine-tuning round",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", help="keep the runs under this folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.keep) if args.keep else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        video, skeleton, truth = load(args.dataset, Path(tmp))
        n_frames = int(video.shape[0])
        first, candidates, test = parts(truth, n_frames, args.start, args.test, args.seed)
        print(
            f"dataset {args.dataset}: {n_frames} frames, {len(truth)} with ground truth; "
            f"{len(first)} first labels from frames < {0.3 * n_frames:.0f}, suggestions from "
            f"{len(candidates)} frames < {0.75 * n_frames:.0f}, {len(test)} test frames "
            f">= {0.75 * n_frames:.0f}",
            flush=True,
        )
        kinds = ("centroid", "centered_instance")
        first_cfg = configured(dict(zip(kinds, args.first_steps)))
        round_cfg = configured(dict(zip(kinds, args.round_steps)))
        project = training_project(video, skeleton, truth, first)
        run0 = work / "first"
        minutes = train(project, first_cfg, run0)
        m = evaluate(run0, video, truth, test)
        print(
            f"{'method':<15} {'round':>5} {'labelled':>8} {'train min':>9} {'suggest s':>9} "
            f"{'median':>8} {'p90':>8} {'mAP':>6} {'found':>6}"
        )
        print(row("(first)", 0, len(first), minutes, "-", m), flush=True)
        speed_checked = False
        for method in args.methods:
            labelled, run, total = list(first), run0, minutes
            for r in range(1, args.rounds + 1):
                pool = [f for f in candidates if f not in labelled]
                poses = np.concatenate([truth[f] for f in labelled])
                frames, secs = suggest(
                    method, run, video, poses, pool, args.per_round, args.seed + r, truth
                )
                labelled = sorted(set(labelled) | set(frames))
                project = training_project(video, skeleton, truth, labelled)
                out = work / f"{method}_{r}"
                total += train(project, copy.deepcopy(round_cfg), out, init=run)
                run = out
                m = evaluate(run, video, truth, test)
                print(row(method, r, len(labelled), total, f"{secs:.0f}", m), flush=True)
            if method in MODEL_METHODS and not speed_checked:
                speed_checked = True
                scratch = work / f"{method}_scratch"
                train(project, copy.deepcopy(first_cfg), scratch)
                best = float(np.nanmin(val_curve(run / "centered_instance")[1]))
                tuned = time_to(run / "centered_instance", best) or 0.0
                fresh = time_to(scratch / "centered_instance", best)
                said = f"{fresh:.0f} s" if fresh is not None else "never within its budget"
                m = evaluate(scratch, video, truth, test)
                said += f" (test: median {px(m['dist_p50'])}, mAP {m['oks_map']:.3f})"
                print(
                    f"speed: the centered-instance model fine-tuned in round {args.rounds} "
                    f"reached validation loss {best:.2e} after {tuned:.0f} s; from scratch on "
                    f"the same labels: {said}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
