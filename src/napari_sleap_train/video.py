"""Lazy, cached, thread-safe frame access to videos.

`LazyVideo` behaves like a read-only numpy array of shape ``(T, H, W)`` (grayscale)
or ``(T, H, W, 3)`` (RGB) that decodes frames on demand. It can be passed directly
as napari ``Image`` layer data, and `LazyVideo.frame` gives the training engine
``(H, W, C)`` frames.

Media files (``.mp4``, ``.avi``, ...) are decoded with OpenCV through a single open
capture that reads sequentially when possible, grabs forward over short gaps and
seeks otherwise. Other sources (embedded frames in a ``.pkg.slp``, HDF5 videos,
image sequences, cropped videos) are read through sleap-io's own backends.

Embedded videos only hold some frames. Their time axis is indexed by the frame
numbers of the original video, so that labels line up with the image layer. It
spans the original video's length when sleap-io knows it (the source video was
found, or its shape is recorded), and otherwise ends at the last embedded frame.
Indexing a frame that is not embedded gives a black (all-zero) frame, so a napari
time slider can move freely, while `LazyVideo.frame`, meant for training, raises
`IndexError` for it (see `LazyVideo.has_frame` and `LazyVideo.available_frames`).
"""

from __future__ import annotations

import operator
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import sleap_io as sio

from .errors import VideoOpenError

__all__ = ["LazyVideo", "VideoOpenError", "open_video", "MEDIA_SUFFIXES"]

MEDIA_SUFFIXES: frozenset[str] = frozenset(
    {
        ".mp4",
        ".avi",
        ".mov",
        ".mkv",
        ".mj2",
        ".m4v",
        ".mpg",
        ".mpeg",
        ".wmv",
        ".webm",
        ".flv",
        ".ts",
        ".h264",
    }
)
"""File suffixes decoded directly with OpenCV."""

_SIO_SUFFIXES = frozenset(
    {".h5", ".hdf5", ".slp", ".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".seq"}
)
_GRAB_AHEAD = 32


def _cv_error(path: str, problem: str, advice: str) -> VideoOpenError:
    return VideoOpenError(f"Cannot open video {path!r}: {problem}. {advice}")


class _CvReader:
    """Decode a media file with one persistent `cv2.VideoCapture`.

    Parameters
    ----------
    path
        Media file to decode.
    grayscale
        Force grayscale (`True`) or RGB (`False`) output; `None` detects it from
        the first frame (grayscale when all its channels are equal).
    """

    available: np.ndarray | None = None

    def __init__(self, path: str, grayscale: bool | None = None) -> None:
        self.path = path
        self._cap: cv2.VideoCapture | None = None
        self._next: int | None = None
        cap = self._capture()
        reported = int(round(cap.get(cv2.CAP_PROP_FRAME_COUNT)))
        ok, first = cap.read()
        if not ok or first is None:
            self.close()
            if reported > 0:
                raise _cv_error(
                    path,
                    f"the container reports {reported} frames but none could be decoded",
                    "The file may be truncated or use an unsupported codec; re-encode it "
                    "(e.g. `ffmpeg -i in.mp4 -c:v libx264 -pix_fmt yuv420p out.mp4`).",
                )
            raise _cv_error(
                path,
                "the video has zero frames",
                "Check that recording finished and the file was fully copied.",
            )
        self._next = 1
        if first.ndim == 2:
            first = first[..., None]
        if grayscale is None:
            grayscale = first.shape[2] == 1 or all(
                np.array_equal(first[..., 0], first[..., c]) for c in range(1, first.shape[2])
            )
        self.channels = 1 if grayscale else 3
        self.height, self.width = (int(s) for s in first.shape[:2])
        self.dtype = np.dtype(np.uint8)
        self.first = self._convert(first)
        self.n_frames = self._count_frames(reported)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_cap"] = None
        state["_next"] = None
        return state

    def _capture(self) -> cv2.VideoCapture:
        cap = self._cap
        if cap is None:
            cap = cv2.VideoCapture(self.path, cv2.CAP_FFMPEG)
            if not cap.isOpened():
                cap = cv2.VideoCapture(self.path)
            if not cap.isOpened():
                raise _cv_error(
                    self.path,
                    "it is not a video that OpenCV can decode",
                    "Check that it is a complete, uncorrupted video file (.mp4, .avi, "
                    ".mov, .mkv); re-encode it with ffmpeg if other players can open it.",
                )
            self._cap = cap
            self._next = 0
        return cap

    def _convert(self, bgr: np.ndarray) -> np.ndarray:
        if bgr.ndim == 2:
            return bgr if self.channels == 1 else cv2.cvtColor(bgr, cv2.COLOR_GRAY2RGB)
        if self.channels == 1:
            return cv2.extractChannel(bgr, 2)
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def _read_raw(self, idx: int) -> np.ndarray | None:
        cap = self._capture()
        nxt = self._next
        self._next = None
        if nxt != idx:
            if nxt is not None and 0 < idx - nxt <= _GRAB_AHEAD:
                for _ in range(idx - nxt):
                    if not cap.grab():
                        return None
            else:
                cap.set(cv2.CAP_PROP_POS_FRAMES, idx)
        ok, bgr = cap.read()
        if not ok or bgr is None:
            return None
        self._next = idx + 1
        return bgr

    def _count_frames(self, reported: int) -> int:
        if reported <= 0:
            cap = self._capture()
            n = self._next or 0
            while cap.grab():
                n += 1
            self._next = None
            return max(n, 1)
        if reported == 1 or self._read_raw(reported - 1) is not None:
            return reported
        lo, hi = 0, reported - 1
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self._read_raw(mid) is not None:
                lo = mid
            else:
                hi = mid
        return lo + 1

    def read(self, idx: int) -> np.ndarray | None:
        """Decode frame ``idx`` in layer layout ((H, W) or (H, W, 3))."""
        bgr = self._read_raw(idx)
        if bgr is None:
            raise IndexError(
                f"Frame {idx} of {self.path!r} could not be decoded although the video "
                f"reports {self.n_frames} frames; the file may be truncated or corrupt."
            )
        return self._convert(bgr)

    def close(self) -> None:
        """Release the capture; it is reopened on the next read."""
        cap, self._cap, self._next = self._cap, None, None
        if cap is not None:
            cap.release()


class _SioReader:
    """Read frames through a sleap-io video backend.

    Parameters
    ----------
    video
        An opened `sleap_io.Video`.
    """

    def __init__(self, video: sio.Video) -> None:
        self.video = video
        backend = video.backend
        self.path = _video_filename(video)
        if hasattr(backend, "dataset") and not backend.dataset:
            raise VideoOpenError(
                f"Cannot open video {self.path!r}: the HDF5 file holds no image dataset "
                "(a .slp file without embedded frames). Open the video file it refers to "
                "instead, e.g. `LazyVideo(sleap_io.load_slp(path).video)`."
            )
        frame_map = getattr(backend, "frame_map", None) or {}
        try:
            if frame_map:
                available = np.array(sorted(int(i) for i in frame_map), dtype=np.int64)
                n_frames = int(available[-1]) + 1
                n_frames = max(n_frames, _source_length(video.source_video))
                self.available: np.ndarray | None = available
            else:
                self.available = None
                n_frames = int(backend.num_frames)
            if n_frames <= 0:
                raise VideoOpenError(
                    f"Cannot open video {self.path!r}: the video has zero frames. "
                    "Check that the file holds image data."
                )
            first_idx = 0 if self.available is None else int(self.available[0])
            first = np.asarray(backend.get_frame(first_idx))
        except VideoOpenError:
            raise
        except Exception as exc:
            raise VideoOpenError(
                f"Cannot read frames from {self.path!r} ({type(backend).__name__}): {exc}. "
                "Check that the file is complete and readable."
            ) from exc
        if first.ndim == 2:
            first = first[..., None]
        self.channels = 1 if first.shape[2] < 3 else 3
        self.height, self.width = (int(s) for s in first.shape[:2])
        self.dtype = first.dtype
        self.n_frames = n_frames
        self.first = self._convert(first)
        self._available_set = None if self.available is None else set(self.available.tolist())

    def _convert(self, img: np.ndarray) -> np.ndarray:
        if img.ndim == 2:
            img = img[..., None]
        if self.channels == 1:
            return np.ascontiguousarray(img[..., 0])
        if img.shape[2] < 3:
            return np.repeat(img[..., :1], 3, axis=2)
        return np.ascontiguousarray(img[..., :3])

    def read(self, idx: int) -> np.ndarray | None:
        """Read frame ``idx`` in layer layout, or `None` if it is not embedded."""
        if self._available_set is not None and idx not in self._available_set:
            return None
        return self._convert(np.asarray(self.video.backend.get_frame(idx)))

    def close(self) -> None:
        """Release the backend's open file handles; they reopen on the next read."""
        backend = self.video.backend
        if backend is not None:
            backend.close()


def _video_filename(video: sio.Video) -> str:
    name = video.filename
    if isinstance(name, (list, tuple)):
        return str(Path(name[0]).parent) if name else ""
    return str(name)


def _source_length(source: sio.Video | None) -> int:
    """Frame count of an embedded video's source, 0 when unknown."""
    if source is None:
        return 0
    shape = source.backend_metadata.get("shape")
    if shape:
        return int(shape[0])
    if source.backend is not None:
        try:
            return max(int(source.backend.num_frames), 0)
        except Exception:
            return 0
    return 0


def _is_plain_media(video: sio.Video) -> bool:
    from sleap_io.io.video_reading import MediaVideo

    if video.backend is not None:
        return type(video.backend) is MediaVideo
    name = video.filename
    return (
        isinstance(name, str)
        and Path(name).suffix.lower() in MEDIA_SUFFIXES
        and video.backend_metadata.get("crop") is None
    )


def _reader_from_video(video: sio.Video) -> _CvReader | _SioReader:
    if _is_plain_media(video):
        path = _video_filename(video)
        if not Path(path).exists():
            raise VideoOpenError(
                f"Cannot open video {path!r}: the file does not exist. Fix the path stored "
                "in the labels (e.g. `labels.replace_filenames(...)`) or pass the video "
                "file directly."
            )
        grayscale = None
        if video.backend is not None:
            grayscale = video.backend.grayscale
        if grayscale is None:
            grayscale = video.backend_metadata.get("grayscale")
        return _CvReader(path, grayscale=grayscale)
    if video.backend is None:
        try:
            video.open()
        except Exception as exc:
            raise VideoOpenError(
                f"Cannot open video {_video_filename(video)!r}: {exc}. Check that the file "
                "exists and is a supported video, image sequence or .pkg.slp."
            ) from exc
        if video.backend is None:
            raise VideoOpenError(
                f"Cannot open video {_video_filename(video)!r}: the file was not found. "
                "Fix the path stored in the labels or pass the video file directly."
            )
    return _SioReader(video)


def _reader_from_path(path: Path) -> _CvReader | _SioReader:
    if not path.exists():
        raise VideoOpenError(
            f"Cannot open video {str(path)!r}: the file does not exist. Check the path "
            "(relative paths are resolved from the current working directory)."
        )
    if path.is_file() and path.suffix.lower() not in _SIO_SUFFIXES:
        return _CvReader(str(path))
    try:
        video = sio.load_video(str(path))
    except Exception as exc:
        raise VideoOpenError(
            f"Cannot open video {str(path)!r}: {exc}. Supported inputs are media files "
            f"({', '.join(sorted(MEDIA_SUFFIXES))}), HDF5/.pkg.slp videos and image folders."
        ) from exc
    return _reader_from_video(video)


class LazyVideo:
    """Read-only, lazily decoded array view of a video.

    Parameters
    ----------
    source
        Path to a media file, image folder or HDF5 video, or a `sleap_io.Video`
        (including embedded-frame videos from a ``.pkg.slp``).
    cache_size
        Number of decoded frames kept in an LRU cache (0 disables caching).

    Attributes
    ----------
    shape
        ``(T, H, W)`` for grayscale or ``(T, H, W, 3)`` for RGB videos.
    dtype
        Pixel type (``uint8`` for media files).
    ndim
        Number of dimensions (3 or 4).
    channels
        1 for grayscale, 3 for RGB.
    filename
        The video's file (or folder, for image sequences).
    available_frames
        Sorted frame indices that hold images for embedded videos; `None` when
        every frame is available.

    Raises
    ------
    VideoOpenError
        If the source does not exist, cannot be decoded or has no frames.

    Notes
    -----
    Indexing follows numpy rules with the first index over frames, e.g.
    ``video[5]``, ``video[5, :, :]``, ``video[10:20:2, 100:200]`` or
    ``video[[3, 1, 3]]``. Results are new, writable arrays. Access is
    serialised by a lock, so the object can be shared between threads.
    Frames of an embedded video that are not stored read as zeros.
    """

    def __init__(self, source: str | os.PathLike[str] | sio.Video, cache_size: int = 64) -> None:
        if cache_size < 0:
            raise ValueError(f"cache_size must be >= 0, got {cache_size}")
        if isinstance(source, sio.Video):
            reader = _reader_from_video(source)
        elif isinstance(source, (str, os.PathLike)):
            reader = _reader_from_path(Path(source).expanduser())
        else:
            raise TypeError(
                f"LazyVideo source must be a path or a sleap_io.Video, not {type(source).__name__}"
            )
        self._reader = reader
        self.cache_size = int(cache_size)
        self.filename: str = reader.path
        self.channels: int = reader.channels
        self.dtype: np.dtype = np.dtype(reader.dtype)
        frame_shape = (reader.height, reader.width)
        if reader.channels == 3:
            frame_shape += (3,)
        self._frame_shape: tuple[int, ...] = frame_shape
        self.shape: tuple[int, ...] = (reader.n_frames, *frame_shape)
        self.ndim: int = len(self.shape)
        self._init_runtime()
        self._store(0 if reader.available is None else int(reader.available[0]), reader.first)
        reader.first = None

    def _init_runtime(self) -> None:
        self._lock = threading.RLock()
        self._pid = os.getpid()
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._zeros: np.ndarray | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        for key in ("_lock", "_cache", "_zeros", "_pid"):
            state.pop(key)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._init_runtime()

    def __repr__(self) -> str:
        return f"LazyVideo({self.filename!r}, shape={self.shape}, dtype={self.dtype})"

    def __len__(self) -> int:
        return self.shape[0]

    def __enter__(self) -> LazyVideo:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def size(self) -> int:
        """Total number of pixel values."""
        return int(np.prod(self.shape))

    @property
    def available_frames(self) -> np.ndarray | None:
        """Frame indices that hold images, or `None` when all frames do."""
        available = self._reader.available
        return None if available is None else available.copy()

    def has_frame(self, idx: int) -> bool:
        """Return whether frame ``idx`` exists and holds an image.

        Parameters
        ----------
        idx
            Frame index (negative values count from the end).

        Returns
        -------
        bool
            `False` for out-of-range indices and non-embedded frames.
        """
        n = self.shape[0]
        idx = operator.index(idx)
        if not -n <= idx < n:
            return False
        available = self._reader.available
        return available is None or bool(np.isin(idx % n, available))

    def _check_process(self) -> None:
        if self._pid != os.getpid():
            self._init_runtime()
            self._reader.close()

    def _store(self, idx: int, img: np.ndarray) -> None:
        if self.cache_size == 0:
            return
        img.flags.writeable = False
        self._cache[idx] = img
        self._cache.move_to_end(idx)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    def _get(self, idx: int) -> np.ndarray | None:
        """Return frame ``idx`` (normalised) in layer layout, `None` if missing."""
        with self._lock:
            img = self._cache.get(idx)
            if img is not None:
                self._cache.move_to_end(idx)
                return img
            img = self._reader.read(idx)
            if img is not None:
                self._store(idx, img)
            return img

    def _get_or_zeros(self, idx: int) -> np.ndarray:
        img = self._get(idx)
        if img is None:
            if self._zeros is None:
                zeros = np.zeros(self._frame_shape, dtype=self.dtype)
                zeros.flags.writeable = False
                self._zeros = zeros
            img = self._zeros
        return img

    def _normalize_index(self, idx: Any) -> int:
        n = self.shape[0]
        i = operator.index(idx)
        if not -n <= i < n:
            raise IndexError(f"frame index {i} is out of range for a video with {n} frames")
        return i % n

    def _stack(self, inds: np.ndarray) -> np.ndarray:
        out = np.empty((len(inds), *self._frame_shape), dtype=self.dtype)
        for j in np.argsort(inds, kind="stable"):
            out[j] = self._get_or_zeros(int(inds[j]))
        return out

    def __getitem__(self, key: Any) -> np.ndarray:
        self._check_process()
        if not isinstance(key, tuple):
            key = (key,)
        if not key:
            key = (slice(None),)
        first, rest = key[0], key[1:]
        if first is Ellipsis or first is None:
            return self._stack(np.arange(self.shape[0]))[key]
        if isinstance(first, slice):
            inds = np.arange(*first.indices(self.shape[0]))
            return self._stack(inds)[(slice(None), *rest)]
        if isinstance(first, (list, np.ndarray)) or hasattr(first, "__array__"):
            sel = np.asarray(first)
            if sel.dtype == bool:
                if sel.shape != (self.shape[0],):
                    raise IndexError(
                        f"boolean frame mask has shape {sel.shape}, expected ({self.shape[0]},)"
                    )
                sel = np.flatnonzero(sel)
            if sel.ndim > 0 or not np.issubdtype(sel.dtype, np.integer):
                if sel.size and not np.issubdtype(sel.dtype, np.integer):
                    raise IndexError("frame indices must be integers")
                sel = sel.astype(np.int64)
                n = self.shape[0]
                if sel.size and (sel.min() < -n or sel.max() >= n):
                    bad = sel[(sel < -n) | (sel >= n)][0]
                    raise IndexError(
                        f"frame index {bad} is out of range for a video with {n} frames"
                    )
                uniq, inv = np.unique(sel % n, return_inverse=True)
                return self._stack(uniq)[(inv.reshape(sel.shape), *rest)]
        idx = self._normalize_index(first)
        img = self._get_or_zeros(idx)
        out = img[None][(0, *rest)]
        if isinstance(out, np.ndarray) and np.may_share_memory(out, img):
            out = out.copy()
        return out

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        if copy is False:
            raise ValueError("a LazyVideo cannot be converted to an array without decoding")
        arr = self[:]
        return arr if dtype is None else arr.astype(dtype, copy=False)

    def frame(self, idx: int) -> np.ndarray:
        """Return one frame as a new ``(H, W, C)`` array.

        Parameters
        ----------
        idx
            Frame index (negative values count from the end).

        Returns
        -------
        numpy.ndarray
            ``(H, W, 1)`` for grayscale or ``(H, W, 3)`` RGB, of `dtype`.

        Raises
        ------
        IndexError
            If ``idx`` is out of range, the frame is not embedded in the file, or
            it cannot be decoded.
        """
        self._check_process()
        i = self._normalize_index(idx)
        img = self._get(i)
        if img is None:
            raise IndexError(
                f"Frame {i} is not embedded in {self.filename!r}; only frames "
                f"{_summarize(self._reader.available)} are stored. Use `has_frame` or "
                "`available_frames` to pick readable frames."
            )
        out = np.array(img, copy=True)
        return out[..., None] if out.ndim == 2 else out

    def close(self) -> None:
        """Release the decoder and clear the cache; later reads reopen it."""
        with self._lock:
            self._reader.close()
            self._cache.clear()


def _summarize(inds: np.ndarray | None, limit: int = 10) -> str:
    if inds is None:
        return "all"
    shown = ", ".join(str(int(i)) for i in inds[:limit])
    return f"[{shown}{', ...' if len(inds) > limit else ''}]"


def open_video(path: str | os.PathLike[str] | sio.Video, cache_size: int = 64) -> LazyVideo:
    """Open a video as a `LazyVideo`.

    Parameters
    ----------
    path
        Media file, HDF5/.pkg.slp video, image folder or `sleap_io.Video`.
    cache_size
        Number of decoded frames to cache.

    Returns
    -------
    LazyVideo
        The opened video.
    """
    return LazyVideo(path, cache_size=cache_size)
