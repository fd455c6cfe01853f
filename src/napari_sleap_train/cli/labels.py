"""``sample``, ``suggest`` and ``export``: the labelling loop without a window."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .options import positive_float, positive_int, video_dirs


def add_parsers(sub) -> None:
    """The ``sample``, ``suggest``, ``export`` and ``convert`` sub-commands."""
    p = sub.add_parser("sample", help="write the built-in sample project to a folder")
    p.add_argument("out_dir", help="folder to write the video, project and ground truth to")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("suggest", help="suggest frames to label next (adds them to a project)")
    p.add_argument("labels", help="project (.slp) to suggest frames in")
    p.add_argument(
        "--method",
        required=True,
        choices=[
            "random",
            "stride",
            "image-features",
            "low-score",
            "outliers",
            "mix",
            "uncertainty",
            "novelty",
        ],
        help="random frames, evenly spaced frames, frames from every image-feature cluster, "
        "the frames with the lowest prediction scores; or with a trained model (--models): "
        "the frames it is unsure of (uncertainty), poses unlike every labelled one (novelty), "
        "or both, spread over the video (mix)",
    )
    p.add_argument(
        "--models",
        help="mix, uncertainty, novelty: the run folder to use (default: the newest run in "
        "models/ beside the project)",
    )
    p.add_argument(
        "--sample",
        type=positive_int,
        default=200,
        help="mix, uncertainty, novelty: how many evenly spaced frames per video the model "
        "looks at (200)",
    )
    p.add_argument("--n", type=positive_int, required=True, help="frames to suggest per video")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument(
        "--include-labelled",
        action="store_true",
        help="also suggest frames that already hold user labels",
    )
    p.add_argument(
        "--clusters", type=positive_int, default=5, help="image-features: k-means clusters (5)"
    )
    p.add_argument(
        "-o", "--out", required=True, help="where to save (.slp); the input keeps a .bak if named"
    )
    video_dirs(p)
    p.set_defaults(func=cmd_suggest)

    p = sub.add_parser(
        "check", help="flag labelled instances that are likely mistakes (left/right swaps, …)"
    )
    p.add_argument("labels", help="project with user labels (.slp, or another tool's labels)")
    p.add_argument("--json", action="store_true", help="print the flags as a JSON list")
    p.add_argument(
        "--threshold",
        type=positive_float,
        help="how far out (in usual spreads) an instance is flagged (default 6)",
    )
    video_dirs(p)
    p.set_defaults(func=cmd_check)

    p = sub.add_parser(
        "export", help="export poses as .slp, SLEAP analysis HDF5, CSV or a movement dataset"
    )
    p.add_argument("labels", help="predictions or project (.slp)")
    p.add_argument(
        "--format",
        required=True,
        choices=["slp", "analysis-h5", "csv", "movement"],
        help="movement: a movement poses dataset in netCDF (.nc)",
    )
    p.add_argument("-o", "--out", required=True, help="file to write")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--user-only", action="store_true", help="only user-labelled instances")
    group.add_argument("--predicted-only", action="store_true", help="only predicted instances")
    p.add_argument(
        "--video",
        type=int,
        help="analysis-h5/csv/movement: which video (index) when several hold instances",
    )
    p.add_argument(
        "--fps", type=positive_float, help="movement: frames per second (time in seconds)"
    )
    video_dirs(p)
    p.set_defaults(func=cmd_export)
    add_convert_parser(sub)


def add_convert_parser(sub) -> None:
    """The ``convert`` sub-command."""
    from ..io.formats import READ_FORMATS, WRITE_FORMATS

    p = sub.add_parser(
        "convert",
        help="convert labels between SLEAP and other tools' formats (through sleap-io)",
        description="Reads: " + ", ".join(READ_FORMATS) + ". Writes: " + ", ".join(WRITE_FORMATS),
    )
    p.add_argument("input", help="labels file (.slp, DeepLabCut CSV, COCO JSON, NWB, ...)")
    p.add_argument("-o", "--out", required=True, help="file (or folder for ultralytics) to write")
    p.add_argument(
        "--format",
        choices=list(WRITE_FORMATS),
        help="output format (default: from the output's suffix: .slp, .nwb, .json = coco, "
        ".h5 = analysis_h5)",
    )
    video_dirs(p)
    p.set_defaults(func=cmd_convert)


def cmd_convert(args: argparse.Namespace) -> int:
    from ..atomic import check_writable
    from ..errors import ProjectError
    from ..io.formats import detect_format, save_any
    from ..io.project import load_project

    source, target = Path(args.input).expanduser(), Path(args.out).expanduser()
    if target.resolve() == source.resolve():
        raise ProjectError(
            f"-o {args.out} is the input: conversions go to a new file so the input stays as "
            "it is. Choose another output name."
        )
    if args.format != "ultralytics":
        check_writable(target, ProjectError)
    project = load_project(source, search_dirs=args.video_dir or ())
    labels = project.labels
    out = save_any(labels, target, args.format)
    n_inst = sum(len(lf.instances) for lf in labels.labeled_frames)
    fmt = args.format or detect_format(out) or out.suffix
    print(
        f"converted {n_inst} instances in {len(labels.labeled_frames)} frames of "
        f"{len(labels.videos)} video(s) from {detect_format(source)} to {fmt} -> {out}"
    )
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    from ..sample.project import write_sample

    paths = write_sample(args.out_dir, seed=args.seed)
    print(f"video:        {paths.video}")
    print(f"project:      {paths.project}")
    print(f"ground truth: {paths.ground_truth}")
    return 0


def _video_label(video) -> str:
    name = video.filename[0] if isinstance(video.filename, list) else video.filename
    return Path(str(name)).name


def cmd_check(args: argparse.Namespace) -> int:
    import json

    from ..evaluation.label_checks import THRESHOLD, check_project
    from ..io.project import load_project

    project = load_project(args.labels, search_dirs=args.video_dir or ())
    flags = check_project(project, args.threshold or THRESHOLD)
    if args.json:
        print(json.dumps([f.to_dict() for f in flags], indent=1))
        return 0
    for f in flags:
        print(
            f"video {f.video} frame {f.frame} instance {f.instance}: "
            f"{'; '.join(f.reasons)} (score {f.score:.1f})"
        )
    n = sum(len(lf.user_instances) for lf in project.user_frames())
    print(f"{len(flags)} of {n} labelled instances flagged")
    return 0


def cmd_suggest(args: argparse.Namespace) -> int:
    from ..atomic import check_writable
    from ..errors import SuggestionError
    from ..io.project import load_project
    from ..suggestions.frames import suggest
    from ..suggestions.from_model import MODEL_METHODS

    check_writable(Path(args.out).expanduser(), SuggestionError)
    project = load_project(args.labels, search_dirs=args.video_dir or ())
    if args.method in MODEL_METHODS:
        results = _suggest_with_model(project, args)
    elif args.method == "outliers":
        results = suggest(
            project.labels, "outliers", args.n, exclude_labelled=not args.include_labelled
        )
        for res in results:
            for frame, why in sorted(res.reasons.items()):
                print(f"  {_video_label(res.video)} frame {frame}: {why}")
    else:
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
        fewer = len(res.frames) < args.n
        print(
            f"video {i} ({_video_label(res.video)}): added {res.added} suggestions"
            + (f" ({kept} were already suggested)" if kept else "")
            + (f" - fewer than {args.n}: no more frames to choose" if fewer else "")
        )
    total = len(project.labels.suggestions)
    backup = f" (previous file kept as {out.name}.bak)" if same else ""
    print(f"{total} suggestions in all -> {out}{backup}")
    return 0


def _suggest_with_model(project, args: argparse.Namespace) -> list:
    """Model-based suggestions (mix, uncertainty, novelty), printing why each frame was
    chosen; returns per video the frames and how many were new."""
    from ..errors import SuggestionError
    from ..models.folder import runs_in, runs_root
    from ..suggestions.frames import SuggestionResult
    from ..suggestions.from_model import suggest_from_run

    run = args.models
    if run is None:
        root = runs_root(args.labels)
        found = runs_in(root)
        if not found:
            raise SuggestionError(
                f"--method {args.method} needs a trained run and {root} holds none: train "
                "first, or name a run folder with --models."
            )
        run = found[-1].path
    results = suggest_from_run(
        project,
        run,
        args.method,
        args.n,
        sample_size=args.sample,
        exclude_labelled=not args.include_labelled,
    )
    out = []
    for res in results:
        r = res.result
        print(
            f"{_video_label(res.video)}: looked at {len(r.sampled)} frames with {run} "
            f"({r.fps:.1f} frames/s, each predicted as it is and rotated both ways)"
        )
        for d in sorted(r.chosen, key=lambda d: d.frame):
            print(f"  frame {d.frame}: {d.reason}")
        out.append(SuggestionResult(res.video, r.frames, res.added))
    return out


def _load_for_export(path: str, search_dirs):
    """The project at ``path``; when only its video is missing, the labels without it."""
    from ..errors import ProjectError
    from ..io.project import Project, load_labels, load_project

    labels = load_labels(path)  # the file itself must be readable
    try:
        return load_project(path, search_dirs=search_dirs)
    except ProjectError:
        print(
            f"note: a video of {Path(path).name} was not found (name its folder with "
            "--video-dir); exporting the poses without it.",
            file=sys.stderr,
        )
        return Project(labels=labels, path=None)


def cmd_export(args: argparse.Namespace) -> int:
    from ..atomic import check_writable
    from ..errors import ExportError
    from ..io.export import export_labels, select_instances, tracked_instances

    source = Path(args.labels).expanduser()
    target = Path(args.out).expanduser()
    if target.resolve() == source.resolve():
        raise ExportError(
            f"-o {args.out} is the input file: exports go to a new file so the input stays "
            "as it is. Choose another output name."
        )
    check_writable(target, ExportError)
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
        labels,
        args.out,
        args.format,
        which,
        video=args.video,
        labels_path=str(source.resolve()),
        fps=args.fps,
    )
    n_inst = sum(len(lf.instances) for lf in chosen.labeled_frames)
    print(
        f"exported {n_inst} instances in {len(chosen.labeled_frames)} frames ({where}) "
        f"as {args.format} -> {out}"
    )
    return 0
