"""Frame readers behind :class:`~napari_sleap_train.io.video.LazyVideo`.

Media files (``.mp4``, ``.avi``, ...) are decoded with OpenCV through a single open
capture that reads sequentially when possible, grabs forward over short gaps and seeks
otherwise (:class:`CvReader`). Other sources (embedded frames in a ``.pkg.slp``, HDF5
videos, image sequences, cropped videos) are read through sleap-io's own backends
(:class:`SioReader`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import sleap_io as sio

from ..errors import VideoOpenError

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


class CvReader:
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
        seeked = False
        if nxt != idx:
            if nxt is not None and 0 < idx - nxt <= _GRAB_AHEAD:
                for _ in range(idx - nxt):
                    if not cap.grab():
                        return None
            else:
                cap.set(cv2.CAP_PROP_POS_FRAMES, idx)
                seeked = True
        ok, bgr = cap.read()
        if not ok or bgr is None:
            return None
        if seeked and int(cap.get(cv2.CAP_PROP_POS_FRAMES)) != idx + 1:
            # A seek past the end of a truncated file reads the last frame it holds.
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


class SioReader:
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


def reader_from_video(video: sio.Video) -> CvReader | SioReader:
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
        return CvReader(path, grayscale=grayscale)
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
    return SioReader(video)


def reader_from_path(path: Path) -> CvReader | SioReader:
    if not path.exists():
        raise VideoOpenError(
            f"Cannot open video {str(path)!r}: the file does not exist. Check the path "
            "(relative paths are resolved from the current working directory)."
        )
    if path.is_file() and path.suffix.lower() not in _SIO_SUFFIXES:
        return CvReader(str(path))
    try:
        video = sio.load_video(str(path))
    except Exception as exc:
        raise VideoOpenError(
            f"Cannot open video {str(path)!r}: {exc}. Supported inputs are media files "
            f"({', '.join(sorted(MEDIA_SUFFIXES))}), HDF5/.pkg.slp videos and image folders."
        ) from exc
    return reader_from_video(video)
