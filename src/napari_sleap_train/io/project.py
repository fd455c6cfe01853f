"""A labelled project: videos, skeleton, labelled frames and suggestions.

A thin layer over :mod:`sleap_io`'s ``Labels``: loading with clear errors and a search for
moved videos, atomic saving with a backup, and the numpy views the engine trains on.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

import h5py
import numpy as np
import sleap_io as sio

from ..atomic import atomic_path
from ..errors import ProjectError, SleapTrainError
from . import lazy_labels


class Project:
    """A SLEAP labels file and the path it came from.

    Parameters
    ----------
    labels
        The sleap-io labels: videos, skeleton, labelled frames, tracks and suggestions.
        They may be lazy (the file's arrays, see :mod:`.lazy_labels`): then the frames
        become objects the first time :attr:`labels` is read, and until then a video's
        instances, counts and saving work on the arrays.
    path
        Where the project was loaded from or last saved to, if anywhere.
    replaced
        For lazy ``labels``: the labelled frames of videos (by index) that replace the
        file's rows of those videos.
    """

    def __init__(
        self,
        labels: sio.Labels,
        path: Path | None = None,
        search_dirs: list[Path] | None = None,
        missing: list[sio.Video] | None = None,
        replaced: dict[int, list[sio.LabeledFrame]] | None = None,
    ):
        self._labels = labels
        self._replaced = dict(replaced or {}) if lazy_labels.is_lazy(labels) else {}
        self._lock = threading.Lock()
        self.path = path
        self.search_dirs = list(search_dirs or [])
        self.missing = list(missing or [])  # videos not found on opening

    @property
    def labels(self) -> sio.Labels:
        """The labels, every frame as objects (made from the file's arrays on first use)."""
        with self._lock:
            if lazy_labels.is_lazy(self._labels):
                self._labels = lazy_labels.materialize(self._labels, self._replaced)
                self._replaced = {}
        return self._labels

    @labels.setter
    def labels(self, value: sio.Labels) -> None:
        with self._lock:
            self._labels, self._replaced = value, {}

    @property
    def is_lazy(self) -> bool:
        """Whether the frames are still the file's arrays (see :attr:`labels`)."""
        return lazy_labels.is_lazy(self._labels)

    @property
    def replaced(self) -> dict[int, list[sio.LabeledFrame]]:
        """Of a lazy project: the frames that replace the file's rows, by video index."""
        return dict(self._replaced)

    @property
    def header(self) -> sio.Labels:
        """The labels as they are (possibly lazy): for videos, skeletons, tracks and
        suggestions, which never need the frames."""
        return self._labels

    @property
    def has_skeleton(self) -> bool:
        return bool(self._labels.skeletons)

    @property
    def tracks(self) -> list[sio.Track]:
        return list(self._labels.tracks)

    def video_instances(self, index: int, predicted: bool) -> lazy_labels.VideoInstances:
        """The user (or predicted) instances of video ``index``, in frame order."""
        n = len(self.node_names)
        if self.is_lazy and index not in self._replaced:
            return lazy_labels.video_instances(self._labels, index, predicted)
        return lazy_labels.VideoInstances.from_frames(self.video_frames(index), n, predicted)

    def video_frames(self, index: int) -> list[sio.LabeledFrame]:
        """The labelled frames of video ``index`` in frame order (of a lazy project: new
        objects, unless they replace the file's)."""
        if self.is_lazy:
            if index in self._replaced:
                return sorted(self._replaced[index], key=lambda lf: lf.frame_idx)
            return lazy_labels.video_frames(self._labels, index)
        video = self._labels.videos[index]
        frames = (lf for lf in self._labels.labeled_frames if lf.video is video)
        return sorted(frames, key=lambda lf: lf.frame_idx)

    def user_counts(self) -> dict[int, tuple[int, int]]:
        """By video index: labelled frames (a user instance with a visible node) and such
        instances."""
        out = lazy_labels.user_counts(self._labels) if self.is_lazy else {}
        own = self._replaced if self.is_lazy else dict(enumerate(self._frames_by_video()))
        for index, frames in own.items():
            per_frame = [
                sum(1 for u in lf.user_instances if np.isfinite(u.numpy()).all(axis=1).any())
                for lf in frames
            ]
            out[index] = (sum(1 for n in per_frame if n), sum(per_frame))
        return {k: v for k, v in out.items() if v[1]}

    def instance_counts(self) -> tuple[int, int]:
        """User and predicted instances of the project."""
        if not self.is_lazy:
            frames, (users, preds) = self._labels.labeled_frames, (0, 0)
        else:  # the file's rows of the videos not replaced, plus the replacing frames
            frames = [lf for fs in self._replaced.values() for lf in fs]
            kept = set(range(len(self.videos))) - set(self._replaced)
            users, preds = lazy_labels.instance_counts(self._labels, kept)
        users += sum(len(lf.user_instances) for lf in frames)
        preds += sum(len(lf.predicted_instances) for lf in frames)
        return users, preds

    def drop_overlapping_predictions(self) -> int:
        """:func:`drop_overlapping_predictions` over the frames held as objects (of a lazy
        project, those that replace the file's: the file's own were saved as they are)."""
        if not self.is_lazy:
            return drop_overlapping_predictions(self._labels.labeled_frames)
        return sum(drop_overlapping_predictions(f) for f in self._replaced.values())

    def _frames_by_video(self) -> list[list[sio.LabeledFrame]]:
        order = {id(v): i for i, v in enumerate(self._labels.videos)}
        out: list[list[sio.LabeledFrame]] = [[] for _ in self._labels.videos]
        for lf in self._labels.labeled_frames:
            if id(lf.video) in order:
                out[order[id(lf.video)]].append(lf)
        return out

    def is_missing(self, video: sio.Video) -> bool:
        """Whether ``video`` was not found when the project was opened (nor located since)."""
        return any(v is video for v in self.missing)

    def locate(self, folder: str | os.PathLike) -> list[sio.Video]:
        """Look for the missing videos in ``folder``; returns the ones found there."""
        found = []
        for video in list(self.missing):
            try:
                _locate_video(video, self.path or Path(folder) / "x.slp", [Path(folder)])
            except ProjectError:
                continue
            self.missing.remove(video)
            found.append(video)
        return found

    @property
    def skeleton(self) -> sio.Skeleton:
        """The project's (first) skeleton."""
        if not self._labels.skeletons:
            raise ProjectError("The project has no skeleton. Define its nodes before training.")
        return self._labels.skeletons[0]

    @property
    def node_names(self) -> list[str]:
        """Node names in skeleton order."""
        return list(self.skeleton.node_names)

    @property
    def edge_inds(self) -> list[tuple[int, int]]:
        """Skeleton edges as pairs of node indices."""
        return [tuple(e) for e in self.skeleton.edge_inds]

    @property
    def flip_index(self) -> list[int]:
        """For each node, the index of its left/right mirror (itself when it has none)."""
        idx = list(range(len(self.node_names)))
        for a, b in self.skeleton.symmetry_inds:
            idx[a], idx[b] = b, a
        return idx

    @property
    def videos(self) -> list[sio.Video]:
        """The project's videos."""
        return list(self._labels.videos)

    def user_frames(self) -> list[sio.LabeledFrame]:
        """Labelled frames that hold at least one user instance, in video/frame order."""
        frames = [lf for lf in self.labels.labeled_frames if lf.user_instances]
        order = {id(v): i for i, v in enumerate(self.labels.videos)}
        return sorted(frames, key=lambda lf: (order.get(id(lf.video), 0), lf.frame_idx))

    def user_instances_array(self) -> np.ndarray:
        """All user instances as an ``(M, N, 2)`` array, NaN for invisible nodes."""
        pts = [inst.numpy() for lf in self.user_frames() for inst in lf.user_instances]
        if not pts:
            return np.zeros((0, len(self.node_names), 2))
        return np.stack(pts).astype(np.float64)

    def suggested_frames(self, video: sio.Video) -> list[int]:
        """Frame indices suggested for labelling in ``video``, sorted."""
        return sorted({s.frame_idx for s in self._labels.suggestions if s.video is video})

    def labelled_frame_indices(self, video: sio.Video) -> set[int]:
        """Frames of ``video`` that hold user instances."""
        return {lf.frame_idx for lf in self.user_frames() if lf.video is video}

    def save(self, path: str | os.PathLike | None = None, *, backup: bool = True) -> Path:
        """Save atomically to ``path`` (default: where it came from).

        The file is written to a temporary name beside the target and renamed over it, so
        an interrupted save never leaves a half-written project; the previous file is
        kept as ``<name>.bak`` when ``backup`` is set.
        """
        target = Path(path) if path is not None else self.path
        if target is None:
            raise ProjectError("This project has no file yet: choose where to save it.")
        target = target.expanduser().resolve()
        with self._lock:
            if self.is_lazy and self._replaced:
                self._labels = lazy_labels.replace_videos(
                    self._labels, self._replaced, self._labels.tracks, self._labels.suggestions
                )
                self._replaced = {}
        save_labels_atomic(self._labels, target, backup=backup)
        self.path = target
        return target


def video_name(video: sio.Video) -> str:
    """A short display name for a video: its file name, or the folder of its images."""
    if isinstance(video.filename, list):
        return Path(video.filename[0]).parent.name if video.filename else "images"
    return Path(video.filename).name


def save_labels_atomic(
    labels: sio.Labels,
    target: Path,
    *,
    backup: bool = True,
    error: type[SleapTrainError] = ProjectError,
) -> None:
    """Write ``labels`` to ``target`` atomically, keeping ``.bak`` of the old file; a target
    that cannot be written raises ``error``."""
    embed = any(_is_embedded(v) for v in labels.videos)
    with atomic_path(target, backup=backup, error=error) as tmp:
        sio.save_slp(labels, str(tmp), embed=embed, verbose=False)


def _is_embedded(video: sio.Video) -> bool:
    """Whether the video's frames live inside a ``.slp`` file (a ``.pkg.slp``)."""
    return type(video.backend).__name__ == "HDF5Video" and str(video.filename).endswith(".slp")


def load_project(
    path: str | os.PathLike,
    search_dirs: Iterable[str | os.PathLike] = (),
    allow_missing: bool = False,
) -> Project:
    """Open a ``.slp`` (or ``.pkg.slp``) project, or another tool's labels (see
    :mod:`.formats`), without modifying the file.

    Videos that are not where the file says are looked for next to the project file and
    in ``search_dirs``; when one is still missing a :class:`ProjectError` lists where, or,
    with ``allow_missing``, the project opens with it in :attr:`Project.missing`.
    Another tool's labels open as a project not saved yet (saving asks for a ``.slp``), so
    their file is never written over.
    """
    from .formats import load_any

    p = Path(path).expanduser()
    if p.exists() and not p.name.lower().endswith(".slp"):
        return Project(labels=load_any(p), path=None, search_dirs=[])
    labels = load_labels(p, lazy=True)
    dirs = [Path(d).expanduser() for d in search_dirs]
    missing = []
    for video in labels.videos:
        try:
            _locate_video(video, p, dirs)
        except ProjectError:
            if not allow_missing or len(labels.videos) == 1:
                raise
            missing.append(video)
    if missing and len(missing) == len(labels.videos):
        _locate_video(missing[0], p, dirs)  # none found: say where the first was looked for
    return Project(labels=labels, path=p.resolve(), search_dirs=dirs, missing=missing)


def load_labels(path: str | os.PathLike, lazy: bool = False) -> sio.Labels:
    """The labels of a ``.slp`` file without opening its videos (evaluation and export
    need none), with a clear error for a missing, foreign or damaged file; ``lazy``: as
    the file's arrays where it holds poses only (see :mod:`.lazy_labels`)."""
    p = Path(path).expanduser()
    if not p.exists():
        raise ProjectError(f"{p} does not exist. Check the path, or open another project.")
    if p.is_dir():
        raise ProjectError(f"{p} is a folder: open a .slp file inside it.")
    if not h5py.is_hdf5(p):
        raise ProjectError(
            f"{p} is not a SLEAP project: .slp files are HDF5 and this one is not "
            "(wrong file, or it was only partly copied)."
        )
    try:
        return lazy_labels.load_lazy(p) if lazy else sio.load_slp(str(p), open_videos=False)
    except Exception as exc:  # noqa: BLE001 - any decoder failure means an unreadable file
        raise ProjectError(
            f"{p} could not be read ({type(exc).__name__}: {exc}); it may be truncated or "
            f"corrupt. Restore it from a backup ({p.name}.bak if one exists)."
        ) from exc


def _video_path_exists(video: sio.Video) -> bool:
    names = video.filename if isinstance(video.filename, list) else [video.filename]
    return all(Path(n).exists() for n in names)


def _locate_video(video: sio.Video, slp_path: Path, search_dirs: Sequence[Path]) -> None:
    """Point ``video`` at an existing file, searching beside the project and ``search_dirs``."""
    if isinstance(video.filename, list):  # image sequence: check the first image only
        if _video_path_exists(video):
            video.open()
            return
        raise ProjectError(f"Image sequence of {slp_path.name} not found ({video.filename[0]}).")
    original = Path(video.filename)
    candidates = [original]
    if not original.is_absolute():
        candidates.append(slp_path.parent / original)
    for folder in [slp_path.parent, *search_dirs]:
        candidates.append(folder / original.name)
    for cand in candidates:
        if cand.exists():
            if cand != original:
                video.replace_filename(str(cand.resolve()), open=False)
            video.open()
            return
    looked = "\n  ".join(dict.fromkeys(str(c) for c in candidates))
    raise ProjectError(
        f"The video of {slp_path.name} was not found. Looked in:\n  {looked}\n"
        "Move the video next to the project file, or name the folder that holds it."
    )


def instances_overlap(a: np.ndarray, b: np.ndarray, tolerance: float = 0.25) -> bool:
    """Whether two poses ``(N, 2)`` (NaN = missing) show the same animal.

    They do when their mean node distance, over the nodes present in both, is under
    ``tolerance`` times the size of ``a`` (the square root of its bounding-box area), and
    at least 2 px. Poses with no node in common never overlap.
    """
    a, b = np.asarray(a, float), np.asarray(b, float)
    both = np.isfinite(a).all(axis=1) & np.isfinite(b).all(axis=1)
    if not both.any():
        return False
    present = a[np.isfinite(a).all(axis=1)]
    w, h = np.ptp(present, axis=0)
    size = float(np.sqrt(max(w, 1.0) * max(h, 1.0)))
    dist = float(np.linalg.norm(a[both] - b[both], axis=1).mean())
    return dist < max(tolerance * size, 2.0)


def drop_overlapping_predictions(
    frames: Iterable[sio.LabeledFrame], tolerance: float = 0.25
) -> int:
    """Drop every predicted instance that a user instance of the same frame replaces.

    A user instance replaces the prediction it was made from (``from_predicted``), a
    prediction of the same track, and a prediction that overlaps it (see
    :func:`instances_overlap`). Returns how many predictions were dropped.
    """
    dropped = 0
    for lf in frames:
        users = list(lf.user_instances)
        preds = list(lf.predicted_instances)
        if not users or not preds:
            continue
        sources = {id(u.from_predicted) for u in users if u.from_predicted is not None}
        user_xy = [u.numpy() for u in users]
        keep = []
        for pred in preds:
            same_track = pred.track is not None and any(
                u.track is not None and (u.track is pred.track or u.track.name == pred.track.name)
                for u in users
            )
            xy = pred.numpy()
            if (
                id(pred) in sources
                or same_track
                or any(instances_overlap(u, xy, tolerance) for u in user_xy)
            ):
                dropped += 1
            else:
                keep.append(pred)
        if len(keep) != len(preds):
            kept = {id(p) for p in keep}
            for user in users:  # a link to a dropped prediction would not be saved
                if user.from_predicted is not None and id(user.from_predicted) not in kept:
                    user.from_predicted = None
            lf.instances = [*users, *keep]
    return dropped
