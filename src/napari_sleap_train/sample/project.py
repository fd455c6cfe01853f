"""Synthetic multi-animal sample project, generated deterministically in code.

The sample is a grayscale video of a few insect-like animals walking, turning,
meeting and climbing over each other on a textured arena, with ground-truth poses
for every frame. It is used for demos, tests and benchmarks and needs no download.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..atomic import atomic_path
from .scene import (
    BODY_LENGTH,
    EXTENT,
    MARGIN,
    draw_animal,
    make_background,
    opaque_q,
    pose_geometry,
    simulate,
    z_orders,
)

if TYPE_CHECKING:
    import sleap_io as sio

__all__ = [
    "EDGES",
    "NODE_NAMES",
    "SAMPLE_VERSION",
    "SYMMETRIES",
    "SampleData",
    "SamplePaths",
    "make_sample",
    "sample_dir",
    "write_sample",
]

SAMPLE_VERSION: int = 2

NODE_NAMES: list[str] = [
    "head",
    "thorax",
    "abdomen",
    "tail_tip",
    "wing_left",
    "wing_right",
    "leg_left",
    "leg_right",
]
EDGES: list[tuple[str, str]] = [
    ("thorax", "head"),
    ("thorax", "abdomen"),
    ("abdomen", "tail_tip"),
    ("thorax", "wing_left"),
    ("thorax", "wing_right"),
    ("thorax", "leg_left"),
    ("thorax", "leg_right"),
]
SYMMETRIES: list[tuple[str, str]] = [
    ("wing_left", "wing_right"),
    ("leg_left", "leg_right"),
]

N_ANIMALS = 3
FPS = 30.0
VIDEO_NAME = "sample.avi"
PROJECT_NAME = "sample.slp"
GROUND_TRUTH_NAME = "sample_ground_truth.slp"
N_LABELLED = 20
N_SUGGESTED = 36


# Video codec, chosen by the decode error of the seed-0 sample read back through
# sleap-io (OpenCV plugin), in grey levels:
#   mp4v (.mp4): mean 1.88, max 29; MJPG (.avi): mean 1.66, max 23;
#   HFYU (.avi): mean 0.47, max 1; FFV1 (.avi): mean 0, max 0 (lossless, ~20 MB).
_FOURCC = "FFV1"
VIDEO_DECODE_TOLERANCE: int = 0  # max abs grey-level error of the written video


@dataclass(frozen=True, eq=False)
class SampleData:
    """In-memory synthetic sample.

    Attributes
    ----------
    frames : np.ndarray
        ``(T, H, W)`` uint8 grayscale video frames.
    poses : np.ndarray
        ``(T, A, N, 2)`` float64 ground-truth ``x, y`` in pixels (pixel centres at
        integer coordinates). Occluded nodes keep their true coordinates.
    visible : np.ndarray
        ``(T, A, N)`` bool, False where a node is hidden under another animal's body.
    node_names : list of str
        Skeleton node names.
    edges : list of tuple of str
        Skeleton edges as ``(source, destination)`` node names.
    symmetries : list of tuple of str
        Left/right symmetric node pairs.
    labelled_frames : list of int
        Sorted frame indices marked as labelled in the project.
    suggested_frames : list of int
        Sorted suggestion frame indices, disjoint from ``labelled_frames``.
    """

    frames: np.ndarray
    poses: np.ndarray
    visible: np.ndarray
    node_names: list[str]
    edges: list[tuple[str, str]]
    symmetries: list[tuple[str, str]]
    labelled_frames: list[int]
    suggested_frames: list[int]

    @property
    def n_frames(self) -> int:
        """Number of frames."""
        return int(self.frames.shape[0])

    @property
    def n_animals(self) -> int:
        """Number of animals."""
        return int(self.poses.shape[1])

    @property
    def track_names(self) -> list[str]:
        """Track name of each animal."""
        return [f"animal_{i}" for i in range(self.n_animals)]


@dataclass(frozen=True)
class SamplePaths:
    """Files of a sample project written to disk.

    Attributes
    ----------
    video : Path
        Video file.
    project : Path
        ``sample.slp`` with the labelled frames and suggestions.
    ground_truth : Path
        ``sample_ground_truth.slp`` with user instances on every frame.
    """

    video: Path
    project: Path
    ground_truth: Path


# ---------------------------------------------------------------------------
# Random signals
# ---------------------------------------------------------------------------


def _select_frames(rng: np.random.Generator, n_frames: int) -> tuple[list[int], list[int]]:
    """Spread-out labelled frames and disjoint suggestion frames."""
    n_lab = min(N_LABELLED, max(1, n_frames // 10))
    edges = np.linspace(0, n_frames, n_lab + 1).astype(int)
    labelled = sorted({int(rng.integers(lo, hi)) for lo, hi in zip(edges[:-1], edges[1:])})
    taken = set(labelled)
    n_sug = min(N_SUGGESTED, max(0, (n_frames - len(labelled)) // 4))
    edges = np.linspace(0, n_frames, n_sug + 1).astype(int)
    suggested = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        free = [f for f in range(lo, hi) if f not in taken]
        if free:
            suggested.append(int(free[rng.integers(len(free))]))
    return labelled, sorted(suggested)


def make_sample(
    seed: int = 0, n_frames: int = 300, size: int = 384, n_animals: int = N_ANIMALS
) -> SampleData:
    """Generate the synthetic sample in memory.

    Parameters
    ----------
    seed : int
        Random seed; the output is a deterministic function of the arguments.
    n_frames : int
        Number of video frames.
    size : int
        Frame height and width in pixels.
    n_animals : int
        Number of animals (the built-in sample has three).

    Returns
    -------
    SampleData
        Frames, ground-truth poses and visibility, skeleton and frame selections.
    """
    if n_frames < 1:
        raise ValueError("n_frames must be positive")
    if size < 2 * (MARGIN + EXTENT * BODY_LENGTH * 1.25) + 40:
        raise ValueError(f"size {size} is too small for the sample animals")
    rng_bg, rng_motion, rng_render, rng_select = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4)
    )
    background = make_background(rng_bg, size)

    scales = np.linspace(0.8, 1.25, n_animals) * rng_motion.uniform(0.97, 1.0, n_animals)
    scales = scales[rng_motion.permutation(n_animals)]
    tones = rng_motion.uniform(-12.0, 12.0, n_animals)
    lengths = BODY_LENGTH * scales
    geo = pose_geometry(simulate(rng_motion, n_frames, size, scales), scales)
    poses = geo["poses"]
    orders = z_orders(rng_render, poses, lengths)

    n_nodes = len(NODE_NAMES)
    visible = np.ones((n_frames, n_animals, n_nodes), dtype=bool)
    frames = np.empty((n_frames, size, size), dtype=np.uint8)
    img = np.empty((size, size), dtype=np.float32)
    for t in range(n_frames):
        img[:] = background
        order = orders[t]
        for rank, i in enumerate(order):
            draw_animal(img, geo, t, int(i), float(lengths[i]), float(tones[i]))
            for j in order[rank + 1 :]:
                q = opaque_q(geo, t, int(j), float(lengths[j]), poses[t, i])
                visible[t, i] &= q >= 1.0
        img += rng_render.integers(-3, 4, (size, size), dtype=np.int8)
        np.clip(img, 0.0, 255.0, out=img)
        np.rint(img, out=frames[t], casting="unsafe")

    labelled, suggested = _select_frames(rng_select, n_frames)
    return SampleData(
        frames=frames,
        poses=poses.astype(np.float64),
        visible=visible,
        node_names=list(NODE_NAMES),
        edges=list(EDGES),
        symmetries=list(SYMMETRIES),
        labelled_frames=labelled,
        suggested_frames=suggested,
    )


# ---------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------


def _write_video(path: Path, frames: np.ndarray, fourcc: str = _FOURCC) -> None:
    """Write grayscale ``frames`` to ``path`` atomically with OpenCV."""
    import cv2

    h, w = frames.shape[1:3]
    with atomic_path(path) as tmp:
        writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*fourcc), FPS, (w, h), False)
        try:
            if not writer.isOpened():
                raise RuntimeError(f"OpenCV cannot write {fourcc} video to {tmp}")
            for frame in frames:
                writer.write(np.ascontiguousarray(frame))
        finally:
            writer.release()


def _labels(
    sample: SampleData, video_path: Path, frame_indices: list[int], with_suggestions: bool
) -> sio.Labels:
    """Build a ``sio.Labels`` with user instances on ``frame_indices``."""
    import sleap_io as sio

    skeleton = sio.Skeleton(
        nodes=list(sample.node_names),
        edges=[list(e) for e in sample.edges],
        symmetries=[list(s) for s in sample.symmetries],
        name="sample_insect",
    )
    video = sio.Video.from_filename(str(video_path), grayscale=True)
    tracks = [sio.Track(name=name) for name in sample.track_names]
    n_nodes = len(sample.node_names)
    lfs = []
    for t in frame_indices:
        instances = []
        for a, track in enumerate(tracks):
            pts = np.empty((n_nodes, 4))
            pts[:, :2] = sample.poses[t, a]
            pts[:, 2] = sample.visible[t, a]
            pts[:, 3] = 1.0
            instances.append(sio.Instance.from_numpy(pts, skeleton=skeleton, track=track))
        lfs.append(sio.LabeledFrame(video=video, frame_idx=int(t), instances=instances))
    suggestions = (
        [sio.SuggestionFrame(video=video, frame_idx=int(t)) for t in sample.suggested_frames]
        if with_suggestions
        else []
    )
    return sio.Labels(
        labeled_frames=lfs,
        videos=[video],
        skeletons=[skeleton],
        tracks=tracks,
        suggestions=suggestions,
    )


def _save_labels(labels: sio.Labels, path: Path) -> None:
    """Save labels to ``path`` atomically."""
    import sleap_io as sio

    with atomic_path(path) as tmp:
        sio.save_slp(labels, str(tmp), verbose=False)


def write_sample(out_dir: str | Path, seed: int = 0, n_animals: int = N_ANIMALS) -> SamplePaths:
    """Write the sample video and SLEAP projects to ``out_dir``.

    Parameters
    ----------
    out_dir : str or Path
        Destination folder, created if missing.
    seed : int
        Random seed passed to :func:`make_sample`.
    n_animals : int
        Number of animals (one makes a single-animal project).

    Returns
    -------
    SamplePaths
        The video, ``sample.slp`` (labelled frames as user instances, suggestions,
        one track per animal, skeleton with symmetries) and ``sample_ground_truth.slp``
        (user instances on every frame).
    """
    out = Path(out_dir).expanduser().resolve()
    out.mkdir(parents=True, exist_ok=True)
    paths = SamplePaths(
        video=out / VIDEO_NAME,
        project=out / PROJECT_NAME,
        ground_truth=out / GROUND_TRUTH_NAME,
    )
    sample = make_sample(seed, n_animals=n_animals)
    _write_video(paths.video, sample.frames)
    _save_labels(_labels(sample, paths.video, sample.labelled_frames, True), paths.project)
    all_frames = list(range(sample.n_frames))
    _save_labels(_labels(sample, paths.video, all_frames, False), paths.ground_truth)
    return paths


def _cache_root() -> Path:
    """Root folder of the per-user sample cache."""
    env = os.environ.get("NAPARI_SLEAP_TRAIN_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "napari-sleap-train"


def sample_dir(seed: int = 0) -> SamplePaths:
    """Return a cached on-disk copy of the sample, writing it on first use.

    The cache lives in ``$NAPARI_SLEAP_TRAIN_CACHE`` if set, otherwise in
    ``$XDG_CACHE_HOME/napari-sleap-train`` (default ``~/.cache/napari-sleap-train``),
    under ``sample-v{SAMPLE_VERSION}-seed{seed}``.

    Parameters
    ----------
    seed : int
        Random seed of the sample.

    Returns
    -------
    SamplePaths
        Paths of the cached files.
    """
    out = (_cache_root() / f"sample-v{SAMPLE_VERSION}-seed{seed}").resolve()
    paths = SamplePaths(
        video=out / VIDEO_NAME,
        project=out / PROJECT_NAME,
        ground_truth=out / GROUND_TRUTH_NAME,
    )
    if all(p.is_file() for p in (paths.video, paths.project, paths.ground_truth)):
        return paths
    return write_sample(out, seed)
