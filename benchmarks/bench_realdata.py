"""Real-data benchmark: two flies, 24 nodes (``../shared/data/centered_pair_predictions.slp``).

Frames with exactly two instances of at least 20 visible nodes become user labels; contiguous
25-frame chunks are split into 200 training and 100 test frames (neighbouring, near-identical
frames never sit on both sides). Both models train with the defaults within a wall budget,
then the test frames are predicted and evaluated. Prints training time per model, end-to-end
and model-only inference frames/s (test frames and the whole video), and the evaluation
report. Settings: this machine's default preset (``fast-cpu`` without a GPU) or ``--preset``,
with the total training budget ``--minutes`` split between the models as the preset does.

Run: ``.venv/bin/python benchmarks/bench_realdata.py [--minutes 20] [--preset sleap]``
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import sleap_io as sio

from napari_sleap_train.config import default_preset, preset
from napari_sleap_train.evaluation import evaluate_frames, format_report
from napari_sleap_train.inference.topdown import PredictionStats, TopDownPredictor
from napari_sleap_train.io.project import Project
from napari_sleap_train.io.video import LazyVideo
from napari_sleap_train.training import TrainingFinished
from napari_sleap_train.training.pipeline import pipeline_events

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def split(labels: sio.Labels, n_train: int = 200, n_test: int = 100, seed: int = 0):
    """Eligible frames split by contiguous 25-frame chunks."""
    good = {}
    for lf in labels.labeled_frames:
        insts = lf.predicted_instances
        if len(insts) == 2 and all((~np.isnan(i.numpy()[:, 0])).sum() >= 20 for i in insts):
            good[lf.frame_idx] = np.stack([i.numpy() for i in insts])
    chunks: dict[int, list[int]] = {}
    for f in sorted(good):
        chunks.setdefault(f // 25, []).append(f)
    order = np.random.default_rng(seed).permutation(sorted(chunks))
    train, test = [], []
    for c in order:
        if len(train) < n_train:
            train.extend(chunks[c])
        elif len(test) < n_test:
            test.extend(chunks[c])
    return good, sorted(train[:n_train]), sorted(test[:n_test])


def training_project(
    video, skeleton, truth: dict, frames: list[int], tracks: list[str] | None = None
) -> Project:
    """A project whose user labels are the ground truth of ``frames`` (``tracks``: the
    track of the ground truth's k-th instance of every frame, for ID models)."""
    named = [sio.Track(name=name) for name in tracks or []]
    labelled = [
        sio.LabeledFrame(
            video=video,
            frame_idx=f,
            instances=[
                sio.Instance.from_numpy(p, skeleton=skeleton, track=named[k] if named else None)
                for k, p in enumerate(truth[f])
            ],
        )
        for f in frames
    ]
    labels = sio.Labels(labeled_frames=labelled, videos=[video], skeletons=[skeleton])
    labels.tracks = named
    return Project(labels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=20.0, help="total training budget")
    parser.add_argument("--preset", default=default_preset(), choices=["fast-cpu", "sleap"])
    parser.add_argument("--lr", type=float, help="learning rate of both models")
    parser.add_argument("--batches-per-epoch", type=int)
    args = parser.parse_args()
    source = sio.load_slp(str(DATA / "centered_pair_predictions.slp"))
    video, skeleton = source.videos[0], source.skeletons[0]
    good, train, test = split(source)
    project = training_project(video, skeleton, good, train)
    print(
        f"{len(good)} eligible frames; {len(train)} training, {len(test)} test frames; "
        f"preset {args.preset}, budget {args.minutes:.1f} min in total"
    )
    config = preset(args.preset)
    config.device = "cpu"
    config.pipeline.time_budget_minutes = args.minutes
    for section in config.models.values():
        if args.lr is not None:
            section.optimization.learning_rate = args.lr
        if args.batches_per_epoch is not None:
            section.optimization.batches_per_epoch = args.batches_per_epoch
    with tempfile.TemporaryDirectory() as tmp:
        for event in pipeline_events(project, config, tmp):
            if isinstance(event, TrainingFinished):
                print(
                    f"{event.model}: {event.reason}, {event.epochs} epochs in "
                    f"{event.elapsed / 60:.1f} min, best val loss {event.best_val_loss:.3g}"
                )
        predictor = TopDownPredictor.from_models_dir(tmp, device="cpu")
        stats = PredictionStats()
        preds = list(predictor.predict_video(LazyVideo(video), test, stats=stats))
        frames_np = np.stack([LazyVideo(video).frame(f) for f in test[:32]])
        t0 = time.perf_counter()
        for i in range(0, len(frames_np), 4):
            predictor.predict_batch(frames_np[i : i + 4])
        model_fps = len(frames_np) / (time.perf_counter() - t0)
        whole = PredictionStats()
        for _ in predictor.predict_video(LazyVideo(video), range(video.shape[0]), stats=whole):
            pass
    print(
        f"inference ({predictor.precision}): {stats.fps:.1f} frames/s end to end on the test "
        f"frames, {model_fps:.1f} frames/s models only (ratio {stats.fps / model_fps:.2f}); "
        f"whole video ({whole.frames} frames) {whole.fps:.1f} frames/s end to end"
    )
    metrics = evaluate_frames(
        [(good[p.frame_idx], p.points, p.scores) for p in preds], skeleton.node_names
    )
    print(format_report(metrics))


if __name__ == "__main__":
    main()
