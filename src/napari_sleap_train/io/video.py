"""Lazy, cached, thread-safe frame access to videos.

`LazyVideo` behaves like a read-only numpy array of shape ``(T, H, W)`` (grayscale)
or ``(T, H, W, 3)`` (RGB) that decodes frames on demand. It can be passed directly
as napari ``Image`` layer data, and `LazyVideo.frame` gives the training engine
``(H, W, C)`` frames.

Media files are decoded with OpenCV, other sources through sleap-io's backends
(:mod:`.video_readers`).

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

import numpy as np
import sleap_io as sio

from ..errors import VideoOpenError
from .video_readers import MEDIA_SUFFIXES, reader_from_path, reader_from_video

__all__ = ["LazyVideo", "VideoOpenError", "open_video", "MEDIA_SUFFIXES"]


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
            reader = reader_from_video(source)
        elif isinstance(source, (str, os.PathLike)):
            reader = reader_from_path(Path(source).expanduser())
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
