"""Command line: ``napari-sleap-train sample | train | export-job | predict | evaluate |
suggest | export``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def _cmd_sample(args: argparse.Namespace) -> int:
    from .sample_data import write_sample

    paths = write_sample(args.out_dir, seed=args.seed)
    print(f"video:        {paths.video}")
    print(f"project:      {paths.project}")
    print(f"ground truth: {paths.ground_truth}")
    return 0


def _load_config(args: argparse.Namespace, job_config=None):
    from .config import TrainingConfig, default_preset, preset

    if args.config:
        config = TrainingConfig.load(args.config)
    elif job_config is not None and args.preset is None:
        config = job_config
    else:
        config = preset(args.preset or default_preset())
    if args.total_time is not None:
        config.pipeline.time_budget_minutes = args.total_time
    for section in config.models.values():
        opt = section.optimization
        if args.epochs is not None:
            opt.epochs = args.epochs
        if args.batches_per_epoch is not None:
            opt.batches_per_epoch = args.batches_per_epoch
        if args.batch_size is not None:
            opt.batch_size = args.batch_size
        if args.time_limit is not None:
            opt.time_limit_minutes = args.time_limit
    if args.crop_size is not None:
        config.model("centered_instance").crop_size = args.crop_size
    if args.device is not None:
        config.device = args.device
    if args.precision is not None:
        config.precision = args.precision
    if getattr(args, "amp", False):
        config.precision = "amp"
    return config.validate()


class _Progress:
    """One line per epoch on stdout; a live batch line on stderr when it is a terminal."""

    def __init__(self) -> None:
        self.live = sys.stderr.isatty()
        self.started = None

    def __call__(self, event) -> None:
        from .training import BatchEnded, EpochEnded, TrainingFinished, TrainingStarted

        if isinstance(event, TrainingStarted):
            self.started = event
            print(
                f"[{event.model}] training on {event.device}: {event.n_train} train / "
                f"{event.n_val} val samples, batch {event.batch_size}, input "
                f"{'x'.join(map(str, event.input_shape[1:]))}, up to {event.epochs} epochs "
                f"of {event.batches_per_epoch} batches"
            )
            for note in event.notes:
                print(f"[{event.model}] {note}")
        elif isinstance(event, BatchEnded) and self.live:
            total = self.started.batches_per_epoch if self.started else 0
            done = int(20 * (event.batch + 1) / max(total, 1))
            print(
                f"\r[{event.model}] epoch {event.epoch + 1} [{'#' * done:<20}] "
                f"{event.batch + 1}/{total} loss {event.loss:.3g}",
                end="",
                file=sys.stderr,
            )
        elif isinstance(event, EpochEnded):
            if self.live:
                print("\r" + " " * 70 + "\r", end="", file=sys.stderr)
            print(
                f"[{event.model}] epoch {event.epoch + 1}: train {event.train_loss:.3g} "
                f"val {event.val_loss:.3g} lr {event.learning_rate:.2g}"
                f"{' best' if event.is_best else ''} ({event.elapsed:.0f} s)"
            )
        elif isinstance(event, TrainingFinished):
            print(
                f"[{event.model}] {event.reason} after {event.epochs} epochs "
                f"({event.elapsed:.0f} s); best val loss {event.best_val_loss:.3g} at epoch "
                f"{event.best_epoch} -> {event.model_dir}"
            )


def _cmd_train(args: argparse.Namespace) -> int:
    import signal

    from .project import load_project
    from .training import StopToken, distributed
    from .training.pipeline import pipeline_events

    if args.labels.lower().endswith(".zip"):
        from .jobs import open_job

        project, job_config = open_job(args.labels)
        config = _load_config(args, job_config)
    else:
        config = _load_config(args)
        project = load_project(args.labels, search_dirs=args.video_dir or ())
    group, config.device = distributed.init_from_env(config.device)
    stop = StopToken()

    def on_interrupt(signum, frame):  # noqa: ARG001
        if stop.requested:
            raise KeyboardInterrupt
        print("\nstopping after this batch (Ctrl+C again to abort)...", file=sys.stderr)
        stop.request()

    previous = signal.signal(signal.SIGINT, on_interrupt)
    progress = _Progress()
    try:
        for event in pipeline_events(project, config, args.out, stop=stop):
            if group.main:
                progress(event)
    finally:
        signal.signal(signal.SIGINT, previous)
        distributed.shutdown()
    return 0


def _cmd_export_job(args: argparse.Namespace) -> int:
    from .jobs import export_job, job_commands
    from .project import load_project

    config = _load_config(args)
    project = load_project(args.labels, search_dirs=args.video_dir or ())
    out = export_job(project, config, args.out)
    print(f"training job: {out} ({out.stat().st_size / 1e6:.1f} MB)")
    print("run it with:")
    print(job_commands(out.name), end="")
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .errors import ProjectError
    from .inference.frames import FrameSelection, select_frames
    from .inference.results import add_predictions
    from .inference.topdown import PredictionStats, TopDownPredictor
    from .project import Project, load_project
    from .video import LazyVideo

    source = Path(args.input)
    if Path(args.out).resolve() == source.resolve():
        raise ProjectError(
            f"-o {args.out} is the input file: predictions are saved to a new file so your "
            "labels stay as they are. Choose another output name."
        )
    predictor = TopDownPredictor.from_models_dir(
        args.models_dir,
        device=args.device,
        peak_threshold=args.peak_threshold,
        max_instances=args.max_instances,
        precision=args.precision,
    )
    if source.suffix.lower() == ".slp":
        project = load_project(source, search_dirs=args.video_dir or ())
        predictor.check_skeleton(project.node_names)
    else:
        import sleap_io as sio

        skeleton = sio.Skeleton(nodes=predictor.node_names)
        video = sio.load_video(str(source))
        project = Project(sio.Labels(videos=[video], skeletons=[skeleton]), path=None)
    selection = FrameSelection.parse(args.frames)
    live = sys.stderr.isatty()
    total_frames, total_inst, total_s = 0, 0, 0.0
    model_s = 0.0
    for video in project.videos:
        frames = select_frames(project, video, selection)
        if not frames:
            print(f"{Path(str(video.filename)).name}: no frames to predict for '{args.frames}'")
            continue
        stats = PredictionStats()
        lazy = LazyVideo(video)

        def progress(done: int, total: int) -> None:
            if live:
                print(f"\rpredicting {done}/{total} frames", end="", file=sys.stderr)

        preds = predictor.predict_video(
            lazy, frames, batch_size=args.batch_size, progress=progress, stats=stats
        )
        add_predictions(project, video, preds, mode="replace")
        if live:
            print(file=sys.stderr)
        total_frames += stats.frames
        total_inst += stats.instances
        total_s += stats.seconds
        model_s += stats.model_seconds
    out = project.save(args.out, backup=True)
    fps = total_frames / total_s if total_s else 0.0
    print(
        f"predicted {total_frames} frames, {total_inst} instances in {total_s:.1f} s "
        f"({fps:.1f} frames/s end to end; models {total_frames / max(model_s, 1e-9):.1f} "
        f"frames/s) -> {out}"
    )
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    import json

    import sleap_io as sio

    from .evaluation import evaluate_labels, format_report
    from .project import load_project

    gt = load_project(args.ground_truth).labels
    pred = load_project(args.predictions).labels if args.predictions else sio.Labels()
    metrics = evaluate_labels(gt, pred)
    print(json.dumps(metrics, indent=2) if args.json else format_report(metrics))
    return 0


def _training_options(p: argparse.ArgumentParser) -> None:
    """Options shared by ``train`` and ``export-job``: the settings of the run."""
    p.add_argument(
        "--config", help="training configuration JSON (default: the job's, or the preset)"
    )
    p.add_argument(
        "--preset",
        choices=["fast-cpu", "sleap"],
        help="starting settings without --config (default: fast-cpu without a GPU, else sleap)",
    )
    p.add_argument("--epochs", type=int, help="maximum epochs per model")
    p.add_argument("--batches-per-epoch", type=int, help="batches per epoch")
    p.add_argument("--batch-size", type=int, help="samples per batch (default 4)")
    p.add_argument("--crop-size", type=int, help="crop size in px (default: auto)")
    p.add_argument("--time-limit", type=float, help="minutes per model at most")
    p.add_argument(
        "--total-time", type=float, help="minutes for both models together (split between them)"
    )
    p.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"], help="default auto")
    p.add_argument(
        "--precision",
        choices=["auto", "fp32", "bf16", "fp16", "amp"],
        help="auto: bfloat16 on CPUs that compute it natively, else fp32",
    )


def _video_label(video) -> str:
    from pathlib import Path

    name = video.filename[0] if isinstance(video.filename, list) else video.filename
    return Path(str(name)).name


def _cmd_suggest(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .project import load_project
    from .suggestions import suggest

    project = load_project(args.labels, search_dirs=args.video_dir or ())
    results = suggest(
        project.labels,
        args.method,
        args.n,
        seed=args.seed,
        exclude_labelled=not args.include_labelled,
        n_clusters=args.clusters,
    )
    same = Path(args.out).expanduser().resolve() == project.path
    out = project.save(args.out, backup=True)
    for i, res in enumerate(results):
        kept = len(res.frames) - res.added
        print(
            f"video {i} ({_video_label(res.video)}): added {res.added} suggestions"
            + (f" ({kept} were already suggested)" if kept else "")
            + (
                f" - fewer than {args.n}: no more frames to choose"
                if len(res.frames) < args.n
                else ""
            )
        )
    total = len(project.labels.suggestions)
    backup = f" (previous file kept as {out.name}.bak)" if same else ""
    print(f"{total} suggestions in all -> {out}{backup}")
    return 0


def _load_for_export(path: str, search_dirs):
    """The project at ``path``; when only its video is missing, the labels without it."""
    from pathlib import Path

    import sleap_io as sio

    from .errors import ProjectError
    from .project import Project, load_project

    try:
        return load_project(path, search_dirs=search_dirs)
    except ProjectError as exc:
        try:
            labels = sio.load_slp(str(path), open_videos=False)
        except Exception:  # noqa: BLE001 - the file itself is unreadable: report that
            raise exc from None
        print(
            f"note: a video of {Path(path).name} was not found (name its folder with "
            "--video-dir); exporting the poses without it.",
            file=sys.stderr,
        )
        return Project(labels=labels, path=None)


def _cmd_export(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .errors import ExportError
    from .export import export_labels, select_instances, tracked_instances

    source = Path(args.labels).expanduser()
    if Path(args.out).expanduser().resolve() == source.resolve():
        raise ExportError(
            f"-o {args.out} is the input file: exports go to a new file so the input stays "
            "as it is. Choose another output name."
        )
    which = "user" if args.user_only else "predicted" if args.predicted_only else "all"
    project = _load_for_export(str(source), args.video_dir or ())
    labels = project.labels
    if args.format == "slp":
        chosen = select_instances(labels, which)
        where = f"{len(chosen.videos)} video(s)"
    else:
        chosen = tracked_instances(labels, args.video, which)
        index = next(i for i, v in enumerate(labels.videos) if v is chosen.videos[0])
        where = f"video {index}, {len(chosen.tracks)} tracks"
    out = export_labels(
        labels, args.out, args.format, which, video=args.video, labels_path=str(source.resolve())
    )
    n_inst = sum(len(lf.instances) for lf in chosen.labeled_frames)
    print(
        f"exported {n_inst} instances in {len(chosen.labeled_frames)} frames ({where}) "
        f"as {args.format} -> {out}"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command."""
    parser = argparse.ArgumentParser(
        prog="napari-sleap-train",
        description="Train and run SLEAP-style top-down pose estimation models.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("sample", help="write the built-in sample project to a folder")
    p.add_argument("out_dir", help="folder to write the video, project and ground truth to")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.set_defaults(func=_cmd_sample)

    p = sub.add_parser("train", help="train the centroid and centered-instance models")
    p.add_argument("labels", help="labelled project (.slp or .pkg.slp) or a training job .zip")
    p.add_argument("--out", required=True, help="folder for the model folders")
    _training_options(p)
    p.add_argument("--amp", action="store_true", help="mixed precision (bfloat16/float16 on GPUs)")
    p.add_argument("--video-dir", action="append", help="folder to look for moved videos in")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser(
        "export-job", help="pack labelled frames (images embedded) and a config into one .zip"
    )
    p.add_argument("labels", help="labelled project (.slp)")
    p.add_argument("-o", "--out", required=True, help="the job file to write (.zip)")
    _training_options(p)
    p.add_argument("--video-dir", action="append", help="folder to look for moved videos in")
    p.set_defaults(func=_cmd_export_job)

    p = sub.add_parser("predict", help="predict poses with trained models")
    p.add_argument("models_dir", help="folder written by `train --out`")
    p.add_argument("input", help="a project (.slp) or a video")
    p.add_argument(
        "--frames",
        default="suggested",
        help="suggested | labeled | all | random:N | A:B (default suggested)",
    )
    p.add_argument("-o", "--out", required=True, help="where to save the predictions (.slp)")
    p.add_argument("--batch-size", type=int, default=4, help="frames per batch (default 4)")
    p.add_argument("--peak-threshold", type=float, help="minimum confidence (default 0.2)")
    p.add_argument("--max-instances", type=int, help="at most this many animals per frame")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    p.add_argument(
        "--precision",
        default="auto",
        choices=["auto", "fp32", "bf16"],
        help="auto: bfloat16 on CPUs that compute it natively, else fp32",
    )
    p.add_argument("--video-dir", action="append", help="folder to look for moved videos in")
    p.set_defaults(func=_cmd_predict)

    p = sub.add_parser("evaluate", help="compare predictions with ground truth")
    p.add_argument("ground_truth", help="project with user-labelled ground truth (.slp)")
    p.add_argument("predictions", help="project with predicted instances (.slp)")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("suggest", help="suggest frames to label next (adds them to a project)")
    p.add_argument("labels", help="project (.slp) to suggest frames in")
    p.add_argument(
        "--method",
        required=True,
        choices=["random", "stride", "image-features", "low-score"],
        help="random frames, evenly spaced frames, frames from every image-feature cluster, "
        "or the frames with the lowest prediction scores",
    )
    p.add_argument("--n", type=int, required=True, help="frames to suggest per video")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument(
        "--include-labelled",
        action="store_true",
        help="also suggest frames that already hold user labels",
    )
    p.add_argument(
        "--clusters", type=int, default=5, help="image-features: k-means clusters (default 5)"
    )
    p.add_argument(
        "-o", "--out", required=True, help="where to save (.slp); the input keeps a .bak if named"
    )
    p.add_argument("--video-dir", action="append", help="folder to look for moved videos in")
    p.set_defaults(func=_cmd_suggest)

    p = sub.add_parser("export", help="export poses as .slp, SLEAP analysis HDF5 or CSV")
    p.add_argument("labels", help="predictions or project (.slp)")
    p.add_argument("--format", required=True, choices=["slp", "analysis-h5", "csv"])
    p.add_argument("-o", "--out", required=True, help="file to write")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--user-only", action="store_true", help="only user-labelled instances")
    group.add_argument("--predicted-only", action="store_true", help="only predicted instances")
    p.add_argument(
        "--video",
        type=int,
        help="analysis-h5/csv: which video (index) when several hold instances",
    )
    p.add_argument("--video-dir", action="append", help="folder to look for moved videos in")
    p.set_defaults(func=_cmd_export)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; errors print one clear line and exit with status 2."""
    from .errors import SleapTrainError

    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (SleapTrainError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
