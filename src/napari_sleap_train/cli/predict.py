"""``predict`` and ``evaluate``: everything checked before the models run."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .options import check_output, fraction, non_negative_int, positive_int, video_dirs
from .track import tracking_options


def add_parsers(sub) -> None:
    """The ``predict`` and ``evaluate`` sub-commands."""
    p = sub.add_parser("predict", help="predict poses with trained models")
    p.add_argument("models_dir", help="folder written by `train --out` or by `export-model`")
    p.add_argument(
        "inputs",
        nargs="+",
        metavar="input",
        help="projects (.slp), videos or folders of videos",
    )
    p.add_argument(
        "--frames",
        help="suggested | labeled | all | random:N | A:B | N,M,... (default: a project's "
        "suggested frames when it has any, else every frame)",
    )
    p.add_argument(
        "-o",
        "--out",
        required=True,
        help="where to save the predictions: a .slp for one project or video; a folder for "
        "several inputs (one OUT/<video>.predictions.slp per video and OUT/summary.json)",
    )
    p.add_argument(
        "--runtime",
        default="auto",
        choices=["auto", "torch", "onnx", "tensorrt"],
        help="auto: an exported folder's own runtime, PyTorch for a training run",
    )
    p.add_argument(
        "--workers",
        type=non_negative_int,
        help="processes decoding videos while the models run (default: the cores less one, "
        "at least 1; 0 decodes in a thread)",
    )
    p.add_argument(
        "--cluster",
        help="predict the videos as tasks of a Dask cluster: local:N, slurm:N, pbs:N or a "
        "scheduler's address (tcp://host:8786)",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="predict videos whose output is already in the output folder again",
    )
    p.add_argument("--batch-size", type=positive_int, default=4, help="frames per batch (4)")
    p.add_argument("--peak-threshold", type=fraction, help="minimum confidence (default 0.2)")
    p.add_argument("--max-instances", type=positive_int, help="at most this many animals a frame")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    p.add_argument(
        "--precision",
        default="auto",
        choices=["auto", "fp32", "bf16"],
        help="auto: bfloat16 on CPUs that compute it natively, else fp32",
    )
    video_dirs(p)
    tracking_options(p, tracker_default=None)
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("evaluate", help="compare predictions with ground truth")
    p.add_argument("ground_truth", help="project with user-labelled ground truth (.slp)")
    p.add_argument(
        "predictions",
        help="project with predicted instances (.slp), or a run folder written by train: its "
        "models then predict the labelled frames they held out for validation",
    )
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    p.add_argument(
        "--truth-from-predictions",
        action="store_true",
        help="use the ground truth file's predicted instances when it has no user labels",
    )
    p.set_defaults(func=cmd_evaluate)


def _frames_choice(args: argparse.Namespace, project) -> tuple[object, str]:
    """The frame selection, and in words what it is."""
    from ..choices import FrameTarget
    from ..inference.frames import FrameSelection

    if args.frames is not None:
        return FrameSelection.parse(args.frames), args.frames
    if project.labels.suggestions:
        return FrameSelection(FrameTarget.SUGGESTED), "the suggested frames"
    return FrameSelection(FrameTarget.ALL), "every frame (there are no suggestions)"


def _many(args: argparse.Namespace) -> bool:
    """Whether the inputs go one output per video into a folder."""
    first = Path(args.inputs[0])
    out = Path(args.out)
    return (
        len(args.inputs) > 1
        or first.is_dir()
        or args.cluster is not None
        or out.is_dir()
        or out.suffix.lower() != ".slp"
    )


def _predictor(args: argparse.Namespace, models: Path):
    """The predictor of a run or an exported folder, refused when a model is missing."""
    from ..errors import ModelFolderError
    from ..inference.pipelines import load_predictor
    from ..models.export import is_export
    from ..models.folder import RunFolder

    run = RunFolder(models)
    if run.path.is_dir() and not is_export(models):
        missing = run.missing_text(run.pipeline_models())
        if missing is not None:
            raise ModelFolderError(missing)
    return load_predictor(models, runtime=args.runtime, **_settings(args))


def _settings(args: argparse.Namespace) -> dict:
    return {
        "device": args.device,
        "peak_threshold": args.peak_threshold,
        "max_instances": args.max_instances,
        "precision": args.precision,
    }


def cmd_predict(args: argparse.Namespace) -> int:
    if _many(args):
        from .predict_many import predict_many

        return predict_many(args, _predictor, _settings(args))
    return _predict_one(args)


def _predict_one(args: argparse.Namespace) -> int:
    import time

    import sleap_io as sio

    from ..choices import FrameTarget, Smoothing
    from ..inference.frames import select_frames
    from ..inference.results import add_predictions
    from ..inference.topdown import PredictionStats
    from ..io.project import Project, load_project
    from ..io.uncertainty import uncertainty_path, write_uncertainty_csv
    from ..io.video import LazyVideo
    from ..tracking.spreads import Spreads
    from .track import smooth_project, track_project, tracking_config

    source, out = Path(args.inputs[0]), Path(args.out)
    tracking = tracking_config(args)
    check_output(out, source)
    if source.suffix.lower() == ".slp":
        project = load_project(source, search_dirs=args.video_dir or ())
    else:
        lazy = LazyVideo(str(source))  # says why a file is no video, before anything else
        lazy.close()
        project = Project(sio.Labels(videos=[sio.load_video(str(source))]), path=None)
    videos = {id(v): LazyVideo(v) for v in project.videos}
    predictor = _predictor(args, Path(args.models_dir))
    if project.labels.skeletons:
        predictor.check_skeleton(project.node_names)
    else:
        project.labels.skeletons = [sio.Skeleton(nodes=list(predictor.node_names))]
    selection, words = _frames_choice(args, project)
    print(f"frames: {words}")
    if tracking.enabled and selection.target in (FrameTarget.SUGGESTED, FrameTarget.RANDOM):
        print(
            f"note: {words} are scattered; tracks across them are guesses. Predict every "
            "frame (--frames all) or a range (--frames A:B) to track reliably."
        )
    live = sys.stderr.isatty()
    spreads, uncertainty = Spreads(), {}
    total_frames, total_inst, total_s, model_s = 0, 0, 0.0, 0.0
    for video in project.videos:
        lazy = videos[id(video)]
        frames = select_frames(project, video, selection, n_frames=len(lazy))
        if not frames:
            print(f"{Path(str(video.filename)).name}: no frames to predict for {words}")
            continue
        stats = PredictionStats()

        def progress(done: int, total: int) -> None:
            if live:
                print(f"\rpredicting {done}/{total} frames", end="", file=sys.stderr)

        preds = predictor.predict_video(
            lazy, frames, batch_size=args.batch_size, progress=progress, stats=stats
        )
        total_inst += add_predictions(project, video, preds, spreads=spreads)  # found
        lazy.close()
        if live:
            print(file=sys.stderr)
        total_frames += stats.frames
        total_s += stats.seconds
        model_s += stats.model_seconds
    if tracking.enabled and not total_inst:
        print(
            "note: no animal was found, so nothing was tracked: train longer, or lower "
            "--peak-threshold."
        )
    if tracking.enabled and total_inst:
        t0 = time.perf_counter()
        span = None
        if selection.target is FrameTarget.RANGE:
            span = (selection.start, selection.stop)
        track_project(project, tracking, span)
        total_s += time.perf_counter() - t0
    if Smoothing(tracking.smoothing) is not Smoothing.NONE and total_inst:
        raw = project.save(out.with_name(f"{out.name.removesuffix('.slp')}.raw.slp"))
        print(f"raw predictions -> {raw}")
        smooth_project(project, tracking, spreads=spreads, uncertainty=uncertainty)
    elif spreads:
        for video in project.videos:
            table = spreads.by_frame_and_track(project.labels, video)
            if table:
                uncertainty[Path(str(video.filename)).name] = table
    saved = project.save(out, backup=True)
    if uncertainty:
        csv_path = write_uncertainty_csv(uncertainty_path(out), uncertainty, project.node_names)
        print(f"uncertainty of every body part (px) -> {csv_path}")
    fps = total_frames / total_s if total_s else 0.0
    print(
        f"predicted {total_frames} frames, {total_inst} instances in {total_s:.1f} s "
        f"({fps:.1f} frames/s end to end; models {total_frames / max(model_s, 1e-9):.1f} "
        f"frames/s) -> {saved}"
    )
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    import json

    from ..evaluation import evaluate_labels, format_report
    from ..io.project import load_labels

    if Path(args.predictions).is_dir():
        from ..evaluation import to_jsonable
        from ..inference.evaluate_run import evaluate_run
        from ..io.project import load_project

        result = evaluate_run(load_project(args.ground_truth), args.predictions)
        metrics = {**to_jsonable(result.metrics), "held_out": result.held_out}
        print(json.dumps(metrics, indent=2) if args.json else result.report())
        return 0
    truth = load_labels(args.ground_truth)
    predictions = load_labels(args.predictions)
    metrics = evaluate_labels(truth, predictions, user_only_gt=not args.truth_from_predictions)
    print(json.dumps(metrics, indent=2) if args.json else format_report(metrics))
    return 0
