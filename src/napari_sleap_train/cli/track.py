"""``track``: identities for the predictions of a project, and the tracking options that
``predict --tracker`` shares."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ..choices import Matching, Similarity, TrackerMethod
from .options import check_output, positive_int, quantile, unit_floor, video_dirs

if TYPE_CHECKING:
    from ..config.tracking import TrackingConfig
    from ..io.project import Project


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
    saved = project.save(out, backup=True)
    print(f"saved {len(project.labels.tracks)} tracks -> {saved}")
    return 0
