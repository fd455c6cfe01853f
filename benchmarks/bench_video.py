"""Frame decoding speed of `LazyVideo` against raw OpenCV.

Run from the repository root::

    .venv/bin/python benchmarks/bench_video.py [--video PATH] [--random N] [--repeats R]

Prints sequential and random-access frames/s for raw ``cv2.VideoCapture`` decoding
and for `LazyVideo` (layer indexing ``video[i]`` and engine access ``video.frame(i)``),
with the ratio LazyVideo/raw. Each figure is the median of ``--repeats`` runs, runs
interleaved and each with a freshly opened video, so no run benefits from an
earlier one's cache.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from napari_sleap_train.io.video import LazyVideo

DEFAULT_VIDEO = Path(__file__).resolve().parents[1].parent / "shared" / "data"
DEFAULT_VIDEO = DEFAULT_VIDEO / "centered_pair_low_quality.mp4"


def raw_sequential(path: str) -> int:
    """Decode every frame with a ``cap.read()`` loop; return the frame count."""
    cap = cv2.VideoCapture(path)
    n = 0
    while True:
        ok, _ = cap.read()
        if not ok:
            break
        n += 1
    cap.release()
    return n


def raw_random(path: str, inds: np.ndarray) -> int:
    """Seek to and read each of ``inds``; return the number of frames read."""
    cap = cv2.VideoCapture(path)
    for i in inds:
        cap.set(cv2.CAP_PROP_POS_FRAMES, int(i))
        ok, _ = cap.read()
        if not ok:
            raise RuntimeError(f"raw OpenCV failed to read frame {i}")
    cap.release()
    return len(inds)


def lazy_sequential(path: str, engine: bool) -> int:
    """Read every frame in order through `LazyVideo`."""
    video = LazyVideo(path)
    get = video.frame if engine else video.__getitem__
    for i in range(len(video)):
        get(i)
    video.close()
    return len(video)


def lazy_random(path: str, inds: np.ndarray, engine: bool) -> int:
    """Read ``inds`` in the given order through `LazyVideo`."""
    video = LazyVideo(path)
    get = video.frame if engine else video.__getitem__
    for i in inds:
        get(int(i))
    video.close()
    return len(inds)


def frames_per_second(runs: dict[str, Callable[[], int]], repeats: int) -> dict[str, float]:
    """Median frames/s of each run; the runs are interleaved within each repeat."""
    rates: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, fn in runs.items():
            t0 = time.perf_counter()
            n = fn()
            rates[name].append(n / (time.perf_counter() - t0))
    return {name: statistics.median(r) for name, r in rates.items()}


def open_seconds(path: str, repeats: int) -> float:
    """Median seconds to construct a `LazyVideo`."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        LazyVideo(path).close()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, default=DEFAULT_VIDEO)
    parser.add_argument("--random", type=int, default=200, help="random frames to read")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not args.video.exists():
        print(f"video not found: {args.video}", file=sys.stderr)
        return 1
    path = str(args.video)
    LazyVideo(path).close()

    n_frames = len(LazyVideo(path))
    rng = np.random.default_rng(args.seed)
    inds = rng.choice(n_frames, size=min(args.random, n_frames), replace=False)

    fps = frames_per_second(
        {
            "raw seq": lambda: raw_sequential(path),
            "lazy seq": lambda: lazy_sequential(path, engine=False),
            "frame seq": lambda: lazy_sequential(path, engine=True),
            "raw rand": lambda: raw_random(path, inds),
            "lazy rand": lambda: lazy_random(path, inds, engine=False),
            "frame rand": lambda: lazy_random(path, inds, engine=True),
        },
        args.repeats,
    )
    raw_seq, raw_rand = fps["raw seq"], fps["raw rand"]
    rows = [
        ("LazyVideo[i]", fps["lazy seq"], fps["lazy rand"]),
        ("LazyVideo.frame(i)", fps["frame seq"], fps["frame rand"]),
    ]

    print(f"video: {path}")
    print(
        f"frames: {n_frames}, random frames: {len(inds)} (seed {args.seed}), "
        f"repeats: {args.repeats} (median), OpenCV {cv2.__version__}, "
        f"{cv2.getNumThreads()} OpenCV threads"
    )
    print(f"LazyVideo open time: {open_seconds(path, args.repeats) * 1e3:.1f} ms")
    print()
    print(f"{'reader':<20} {'sequential fps':>15} {'ratio':>7} {'random fps':>12} {'ratio':>7}")
    print(f"{'raw OpenCV':<20} {raw_seq:>15.0f} {'':>7} {raw_rand:>12.1f} {'':>7}")
    for label, seq, rand in rows:
        print(
            f"{label:<20} {seq:>15.0f} {seq / raw_seq:>7.2f} {rand:>12.1f} {rand / raw_rand:>7.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
