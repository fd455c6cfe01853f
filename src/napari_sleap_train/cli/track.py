"""``track``: identities for the predictions of a project, and the tracking options that
``predict --tracker`` shares."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ..choices import Matching, Similarity, Smoothing, TrackerMethod
from .options import check_output, positive_int, quantile, unit_floor, video_dirs

if TYPE_CHECKING:
    from ..config.tracking import TrackingConfig
    from ..io.project import Project
    from ..io.uncertainty import Uncertainty
    from ..tracking.spreads import Spreads


def tracking_options(p: argparse.ArgumentParser, tracker_default: str | None) -> None:
    """The tracker's options (``--tracker`` defaults to ``tracker_default``)."""
    g = p.add_argument_group("tracking")
    g.add_argument(
        "--tracker",
        default=tracker_default,
        choices=[m.value for m in TrackerMethod],
        help="simple | flow (optical-flow shift) | none"
        + (f" (default {tracker_default})" if tracker_default else " (default: no tracking)"),
    )
    g.add_argument("--max-tracks", type=positive_int, help="at most this many tracks (animals)")
    g.add_argument("--similarity", choices=[s.value for s in Similarity], help="default centroid")
    g.add_argument("--match", choices=[m.value for m in Matching], help="default hungarian")
    g.add_argument("--track-window", type=positive_int, help="frames compared (default 5)")
    g.add_argument("--robust-quantile", type=quantile, help="1 = best candidate (default)")
    g.add_argument("--min-similarity", type=unit_floor, help="below it a new track starts (0)")
    g.add_argument("--target-instances", type=positive_int, help="cull extras to this count")
    g.add_argument(
        "--no-connect-breaks", action="store_true", help="do not join single track breaks"
    )
    g.add_argument(
        "--no-size-cue", action="store_true", help="do not compare the animals' body sizes"
    )
    smoothing_options(p)


def smoothing_options(
    p: argparse.ArgumentParser, flag: str = "--smooth", default: str = "none"
) -> None:
    """How tracked predictions are smoothed over time (``flag`` names the method)."""
    g = p.add_argument_group("smoothing")
    g.add_argument(
        flag,
        dest="smooth",
        choices=[m.value for m in Smoothing],
        help="kalman (sets jumps aside, fills gaps) | median | savgol (movement's filters) "
        f"| none (default {default}); the raw predictions are kept",
    )
    g.add_argument("--max-gap", type=int, help="fill gaps of at most this many frames (10)")
    g.add_argument("--smooth-window", type=int, help="frames of median/savgol (5)")


def tracking_config(args: argparse.Namespace) -> TrackingConfig:
    """The :class:`TrackingConfig` the options ask for, checked."""
    from ..config.settings import problems
    from ..config.tracking import TrackingConfig
    from ..errors import ConfigError

    config = TrackingConfig(method=TrackerMethod(args.tracker or "none"))
    given = {
        "max_tracks": args.max_tracks,
        "similarity": args.similarity and Similarity(args.similarity),
        "matching": args.match and Matching(args.match),
        "window": args.track_window,
        "robust_quantile": args.robust_quantile,
        "min_similarity": args.min_similarity,
        "target_instances": args.target_instances,
    }
    for name, value in given.items():
        if value is not None:
            setattr(config, name, value)
    smoothing = {
        "smoothing": getattr(args, "smooth", None) and Smoothing(args.smooth),
        "max_gap": getattr(args, "max_gap", None),
        "smoothing_window": getattr(args, "smooth_window", None),
    }
    for name, value in smoothing.items():
        if value is not None:
            setattr(config, name, value)
    config.connect_breaks = not args.no_connect_breaks
    config.size_cue = not args.no_size_cue
    found = problems(config)
    if found:
        raise ConfigError(found)
    return config


def add_parsers(sub) -> None:
    """The ``track`` sub-command."""
    p = sub.add_parser("track", help="give the predictions of a project identities (tracks)")
    p.add_argument("input", help="a project with predictions (.slp)")
    p.add_argument("-o", "--out", required=True, help="where to save the tracked project (.slp)")
    p.add_argument("--frames", help="A:B: track only these frames (default: all)")
    tracking_options(p, tracker_default="simple")
    video_dirs(p)
    p.set_defaults(func=cmd_track)

    p = sub.add_parser("smooth", help="smooth tracked predictions over time and fill short gaps")
    p.add_argument("input", help="a project with tracked predictions (.slp)")
    p.add_argument("-o", "--out", required=True, help="where to save the smoothed project")
    smoothing_options(p, flag="--method", default="kalman")
    video_dirs(p)
    p.set_defaults(func=cmd_smooth)


def _frame_range(text: str | None) -> tuple[int, int | None] | None:
    import re

    from ..errors import TrackingError

    if text is None:
        return None
    m = re.fullmatch(r"\s*(\d*):(\d*)\s*", text)
    if not m:
        raise TrackingError(
            f"--frames {text!r}: use a range A:B (tracking needs consecutive frames)."
        )
    return int(m.group(1) or 0), (int(m.group(2)) if m.group(2) else None)


def track_project(
    project: Project,
    config: TrackingConfig,
    frame_range: tuple[int, int | None] | None = None,
    echo: Callable[[str], None] = print,
) -> int:
    """Track every video of ``project`` that has predictions; returns instances tracked."""
    from ..choices import TrackerMethod
    from ..errors import TrackingError
    from ..io.video import LazyVideo
    from ..tracking import track_video

    flow = TrackerMethod(config.method) is TrackerMethod.FLOW
    total, problems = 0, []
    for video in project.videos:
        name = Path(str(video.filename)).name
        lazy = LazyVideo(video) if flow else None
        try:
            summary = track_video(
                project.labels,
                video,
                config,
                frames=lazy.frame if lazy is not None else None,
                frame_range=frame_range,
            )
        except TrackingError as exc:
            problems.append(f"{name}: {exc}")
            continue
        finally:
            if lazy is not None:
                lazy.close()
        echo(f"{name}: {summary.text()}")
        total += summary.instances
    if not total:
        raise TrackingError(" ".join(problems) or "Nothing to track.")
    for line in problems:
        echo(line)
    return total


def smooth_project(
    project: Project,
    config: TrackingConfig,
    echo: Callable[[str], None] = print,
    spreads: Spreads | None = None,
    uncertainty: dict[str, Uncertainty] | None = None,
) -> int:
    """Smooth the tracked predictions of every video as ``config`` says; returns the
    instances smoothed (0 with smoothing none). An ensemble's ``spreads`` weight the frames;
    each video's uncertainty goes to ``uncertainty`` (keyed by the video's file name)."""
    from ..choices import Smoothing
    from ..tracking.smoothing import smooth_video

    if Smoothing(config.smoothing) is Smoothing.NONE:
        return 0
    total = 0
    for video in project.videos:
        summary = smooth_video(
            project.labels,
            video,
            config.smoothing,
            config.max_gap,
            config.smoothing_window,
            spreads,
        )
        name = Path(str(video.filename)).name
        if summary.tracks:
            echo(f"{name}: {summary.text()}")
        if uncertainty is not None and summary.uncertainty:
            uncertainty[name] = summary.uncertainty
        total += summary.instances
    return total


def cmd_track(args: argparse.Namespace) -> int:
    from ..errors import TrackingError
    from ..io.project import load_project

    source, out = Path(args.input), Path(args.out)
    config = tracking_config(args)
    if not config.enabled:
        raise TrackingError("--tracker none tracks nothing; use simple or flow.")
    frame_range = _frame_range(args.frames)
    check_output(out, source)
    project = load_project(source, search_dirs=args.video_dir or ())
    track_project(project, config, frame_range)
    smooth_project(project, config)
    saved = project.save(out, backup=True)
    print(f"saved {len(project.labels.tracks)} tracks -> {saved}")
    return 0


def cmd_smooth(args: argparse.Namespace) -> int:
    from ..config.settings import problems
    from ..config.tracking import TrackingConfig
    from ..errors import ConfigError, TrackingError
    from ..io.project import load_project

    source, out = Path(args.input), Path(args.out)
    config = TrackingConfig(smoothing=Smoothing(args.smooth or Smoothing.KALMAN))
    config.max_gap = args.max_gap if args.max_gap is not None else config.max_gap
    if args.smooth_window is not None:
        config.smoothing_window = args.smooth_window
    found = problems(config)
    if found:
        raise ConfigError(found)
    if Smoothing(config.smoothing) is Smoothing.NONE:
        raise TrackingError("--method none smooths nothing; use kalman, median or savgol.")
    check_output(out, source)
    project = load_project(source, search_dirs=args.video_dir or ())
    if not smooth_project(project, config):
        raise TrackingError(f"{source.name} holds no predictions to smooth; predict first.")
    saved = project.save(out, backup=True)
    print(f"saved the smoothed predictions -> {saved} (the raw ones stay in {source.name})")
    return 0
