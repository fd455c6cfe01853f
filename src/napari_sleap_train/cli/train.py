"""``train`` and ``export-job``: settings from the command line, progress, interrupts."""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..choices import ModelKind
from ..config import TrainingConfig
from .options import positive_float, positive_int, video_dirs


def training_options(p: argparse.ArgumentParser) -> None:
    """Options shared by ``train`` and ``export-job``: the settings of the run."""
    p.add_argument(
        "--config",
        help="training configuration JSON; settings it leaves out take this machine's "
        "defaults (default: the job's, or the preset)",
    )
    p.add_argument(
        "--preset",
        choices=["fast-cpu", "sleap"],
        help="starting settings without --config (default: fast-cpu without a GPU, else sleap)",
    )
    p.add_argument(
        "--pipeline",
        choices=["auto", "single-instance", "top-down", "bottom-up", "top-down-id", "bottom-up-id"],
        help="the models to train (default: the configuration's, top-down); auto: "
        "single-instance when no labelled frame holds more than one animal, else top-down; "
        "bottom-up: one network that groups body parts along the skeleton's edges; "
        "top-down-id: top-down whose instance model also names each animal (one of the "
        "labelled tracks); bottom-up-id: bottom-up that groups body parts by the labelled "
        "track they belong to",
    )
    p.add_argument(
        "--auto-settings",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="choose input scaling, max stride and the instance crop's scaling from the frame "
        "size and the labelled animals (printed with the reasons); given options still apply "
        "(default: on, except with --config or a job package, whose settings are kept)",
    )
    p.add_argument(
        "--adapt",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="learn from the whole video: after a first training, pseudo-labels from frames "
        "sampled across every video and a second round of training on them beside the "
        "labels (40 %% of the time budget by default)",
    )
    p.add_argument(
        "--unlabelled",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="learn from unlabelled frames too: pairs of consecutive frames from every video, "
        "with losses for body parts that jump and for implausible poses (single-instance "
        "and centered-instance models)",
    )
    p.add_argument(
        "--ensemble",
        type=positive_int,
        metavar="N",
        help="train N models of the pipeline from other random starts (sharing the time "
        "budget); predict uses them all and gives every body part an uncertainty "
        "(default 1)",
    )
    p.add_argument("--epochs", type=positive_int, help="maximum epochs per model")
    p.add_argument("--batches-per-epoch", type=positive_int, help="batches per epoch")
    p.add_argument("--batch-size", type=positive_int, help="samples per batch (default 4)")
    p.add_argument("--crop-size", type=positive_int, help="crop size in px (default: auto)")
    p.add_argument("--time-limit", type=positive_float, help="minutes per model at most")
    p.add_argument(
        "--total-time",
        type=positive_float,
        help="minutes for all models together (split between them)",
    )
    p.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"], help="default auto")
    p.add_argument(
        "--precision",
        choices=["auto", "fp32", "bf16", "fp16", "amp"],
        help="auto: bfloat16 on CPUs that compute it natively, else fp32",
    )
    video_dirs(p)


def add_parsers(sub) -> None:
    """The ``train`` and ``export-job`` sub-commands."""
    p = sub.add_parser("train", help="train the models of a pipeline (default top-down)")
    p.add_argument("labels", help="labelled project (.slp or .pkg.slp) or a training job .zip")
    p.add_argument(
        "--out", help="folder for the model folders (default with --resume or a given model)"
    )
    training_options(p)
    p.add_argument("--amp", action="store_true", help="mixed precision (bfloat16/float16 on GPUs)")
    p.add_argument(
        "--resume",
        metavar="RUN",
        help="continue an interrupted run folder: its unfinished models go on from their "
        "last checkpoint with the run's own settings and the budget left",
    )
    p.add_argument(
        "--only",
        nargs="+",
        choices=[
            "centroid",
            "centered-instance",
            "centered-instance-id",
            "single-instance",
            "bottom-up",
            "bottom-up-id",
        ],
        help="train only these models (the others: --centroid / --centered-instance)",
    )
    for kind in ModelKind:
        p.add_argument(
            f"--{kind.value.replace('_', '-')}",
            dest=f"use_{kind.value}",
            metavar="DIR",
            help=f"a trained {kind.value} model folder to use as it is",
        )
    p.set_defaults(func=cmd_train)

    p = sub.add_parser(
        "export-job", help="pack labelled frames (images embedded) and a config into one .zip"
    )
    p.add_argument("labels", help="labelled project (.slp)")
    p.add_argument("-o", "--out", required=True, help="the job file to write (.zip)")
    training_options(p)
    p.set_defaults(func=cmd_export_job)


def load_config(args: argparse.Namespace, job_config=None):
    """The configuration the options ask for, checked before anything is trained."""
    from ..config import TrainingConfig, default_config, default_preset, preset, read_json

    if args.config:
        data = read_json(args.config)
        config = TrainingConfig.from_dict(data, base=default_config())
        unset = TrainingConfig.unset_settings(data)
        if unset:
            print(
                f"note: {args.config} leaves {unset} settings out; they take this machine's "
                f"defaults (preset {default_preset().value})."
            )
    elif job_config is not None and args.preset is None:
        config = job_config
    else:
        config = preset(args.preset or default_preset())
    if getattr(args, "pipeline", None) not in (None, "auto"):
        config = config.for_pipeline(args.pipeline)
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
    if args.crop_size is not None and config.crop_model is not None:
        config.model(config.crop_model).crop_size = args.crop_size
    if args.device is not None:
        config.device = args.device
    if args.precision is not None:
        config.precision = args.precision
    if getattr(args, "amp", False):
        config.precision = "amp"
    if getattr(args, "adapt", None) is not None:
        config.pipeline.adapt_to_video = args.adapt
    if getattr(args, "unlabelled", None) is not None:
        config.pipeline.learn_from_unlabelled = args.unlabelled
    if getattr(args, "ensemble", None) is not None:
        config.pipeline.ensemble_size = args.ensemble
    if getattr(args, "auto_settings", None) is None:
        args.auto_settings = not args.config and job_config is None
    return config.validate()


class Progress:
    """One line per epoch on stdout; a live batch line on stderr when it is a terminal."""

    def __init__(self) -> None:
        self.live = sys.stderr.isatty()
        self.started = None

    def __call__(self, event) -> None:
        from ..training import (
            BatchEnded,
            EpochEnded,
            RunNoted,
            TrainingFinished,
            TrainingStarted,
        )

        if isinstance(event, RunNoted):
            for note in event.notes:
                print(note, flush=True)
        elif isinstance(event, TrainingStarted):
            self.started = event
            print(
                f"[{event.model}] training on {event.device}: {event.n_train} train / "
                f"{event.n_val} val samples, batch {event.batch_size}, input "
                f"{'x'.join(map(str, event.input_shape[1:]))}, up to {event.epochs} epochs "
                f"of {event.batches_per_epoch} batches",
                flush=True,
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
                f"{' best' if event.is_best else ''} ({event.elapsed:.0f} s)",
                flush=True,
            )
        elif isinstance(event, TrainingFinished):
            print(
                f"[{event.model}] {event.reason} after {event.epochs} epochs "
                f"({event.elapsed:.0f} s); best val loss {event.best_val_loss:.3g} at epoch "
                f"{event.best_epoch} -> {event.model_dir}",
                flush=True,
            )


@dataclass
class TrainPlan:
    """Where a ``train`` run goes and which models it trains, resumes or takes as they are."""

    out: Path
    config: TrainingConfig
    models: tuple[ModelKind, ...]
    resume: dict[ModelKind, Path]
    trained: dict[ModelKind, Path]
    spent: float = 0.0


def _run_plan(args: argparse.Namespace, config) -> TrainPlan:
    """The plan the options ask for (``--resume``, ``--only``, given model folders)."""
    from ..errors import ConfigError
    from ..models.folder import RunFolder

    kinds = tuple(config.models)
    if args.resume:
        if args.config or args.preset or args.only:
            raise ConfigError(
                {
                    "--resume": "continues with the run's own settings; leave out --config, "
                    "--preset and --only."
                }
            )
        run = RunFolder(Path(args.resume))
        settings = run.path / "training_config.json"
        if not run.path.is_dir() or not settings.exists():
            raise ConfigError(
                {
                    "--resume": f"{run.path} is not a run folder written by `train` "
                    f"(no {settings.name})."
                }
            )
        config = TrainingConfig.load(settings)
        record = run.read_record()
        todo = record.unfinished(kinds)
        resume = {k: run.model(k).path for k in todo if run.model(k).last.exists()}
        trained = {k: run.model(k).path for k in kinds if k not in todo}
        return TrainPlan(run.path, config, tuple(todo), resume, trained, record.seconds)
    given = {k: getattr(args, f"use_{k.value}") for k in kinds}
    given = {k: Path(v) for k, v in given.items() if v}
    only = tuple(ModelKind(o.replace("-", "_")) for o in args.only) if args.only else None
    models = only or tuple(k for k in kinds if k not in given)
    lacking = [k.value for k in kinds if k not in models and k not in given]
    if lacking:
        flags = " / ".join(f"--{k.replace('_', '-')} DIR" for k in lacking)
        raise ConfigError(
            {"--only": f"no {' or '.join(lacking)} model: train it, or give {flags}."}
        )
    out = args.out or (str(next(iter(given.values())).parent) if given else None)
    if out is None:
        raise ConfigError({"--out": "give the folder to write the models to (--out MODELS)."})
    return TrainPlan(Path(out), config, models, {}, given)


def cmd_train(args: argparse.Namespace) -> int:
    from ..io.project import load_project
    from ..models.folder import RunFolder
    from ..training import StopToken, distributed
    from ..training.pipeline import pipeline_events

    with tempfile.TemporaryDirectory(prefix="napari-sleap-train-job-") as work:
        if args.labels.lower().endswith(".zip"):
            from ..io.jobs import open_job

            project, job_config = open_job(args.labels, work)
            config = load_config(args, job_config)
        else:
            config = load_config(args)
            project = load_project(args.labels, search_dirs=args.video_dir or ())
        config = with_auto_pipeline(args, config, project)
        config = with_auto_settings(args, config, project)
        plan = _run_plan(args, config)
        config = plan.config
        if not plan.models:
            print(f"{plan.out}: every model is trained already; nothing to resume.")
            return 0
        group, config.device = distributed.init_from_env(config.device)
        stop = StopToken()

        def on_interrupt(signum, frame):  # noqa: ARG001
            if stop.requested:
                raise KeyboardInterrupt
            print("\nstopping after this batch (Ctrl+C again to abort)...", file=sys.stderr)
            stop.request()

        previous = signal.signal(signal.SIGINT, on_interrupt)
        progress = Progress()
        events = pipeline_events(
            project,
            config,
            plan.out,
            stop=stop,
            models=plan.models,
            trained=plan.trained,
            resume=plan.resume,
            spent_seconds=plan.spent,
            source=str(Path(args.labels).resolve()),
        )
        try:
            for event in events:
                if group.main:
                    progress(event)
        except KeyboardInterrupt:
            stop.request()
        finally:
            signal.signal(signal.SIGINT, previous)
            distributed.shutdown()
    missing = RunFolder(plan.out).missing_text(tuple(config.models))
    if missing is not None:
        print(f"interrupted: {missing}", file=sys.stderr)
        return 130
    return 0


def with_auto_pipeline(args: argparse.Namespace, config, project):
    """With ``--pipeline auto``: the configuration of the pipeline the labels call for."""
    if getattr(args, "pipeline", None) != "auto":
        return config
    from ..training.pipeline import auto_pipeline

    kind, why = auto_pipeline(project)
    print(f"pipeline: {kind.value} ({why})")
    return config.for_pipeline(kind).validate()


def with_auto_settings(args: argparse.Namespace, config, project):
    """With auto settings (the default without ``--config``): the settings the data call
    for, each printed with why."""
    if not getattr(args, "auto_settings", False):
        return config
    from ..data.auto_settings import settings_from_data
    from ..models.device import resolve_device

    shape = project.videos[0].shape if project.videos else None
    frame_hw = (int(shape[1]), int(shape[2])) if shape is not None else (0, 0)
    cpu = resolve_device(config.device).type == "cpu"
    config, notes = settings_from_data(config, project.user_instances_array(), frame_hw, cpu)
    for note in notes:
        print(f"auto settings: {note}")
    return config.validate()


def cmd_export_job(args: argparse.Namespace) -> int:
    from ..io.jobs import export_job, job_commands
    from ..io.project import load_project

    config = load_config(args)
    project = load_project(args.labels, search_dirs=args.video_dir or ())
    config = with_auto_pipeline(args, config, project)
    config = with_auto_settings(args, config, project)
    out = export_job(project, config, args.out)
    print(f"training job: {out} ({out.stat().st_size / 1e6:.1f} MB)")
    print("run it with:")
    print(job_commands(out.name), end="")
    return 0
