"""Tests for `napari_sleap_train.io.video`."""

from __future__ import annotations

import pickle
import threading
import types
from pathlib import Path

import cv2
import numpy as np
import pytest
import sleap_io as sio

from napari_sleap_train.io import video_readers
from napari_sleap_train.io.video import LazyVideo, VideoOpenError, open_video

from ..conftest import DATA

GRAY = DATA / "centered_pair_low_quality.mp4"
RGB = DATA / "small_robot.mp4"
PKG = DATA / "minimal_instance.pkg.slp"

needs_data = pytest.mark.skipif(
    not DATA.is_dir(), reason=f"shared test data folder {DATA} is absent"
)


def _decode_sequential(path: Path, keep: set[int] | None = None) -> dict[int, np.ndarray]:
    """Decode ``path`` front to back with raw OpenCV, keeping BGR frames in ``keep``."""
    cap = cv2.VideoCapture(str(path))
    frames: dict[int, np.ndarray] = {}
    i = 0
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        if keep is None or i in keep:
            frames[i] = bgr
        i += 1
    cap.release()
    frames[-1] = np.array(i)
    return frames


def _write_avi(path: Path, n: int, size: tuple[int, int] = (48, 40), color: bool = True) -> None:
    """Write an MJPG test video whose frames are easy to tell apart."""
    w, h = size
    fourcc = cv2.VideoWriter_fourcc(*"MJPG")
    writer = cv2.VideoWriter(str(path), fourcc, 10, (w, h), isColor=color)
    assert writer.isOpened()
    yy, xx = np.mgrid[0:h, 0:w]
    for i in range(n):
        img = np.zeros((h, w, 3), np.uint8)
        img[..., 0] = (xx * 4 + i * 20) % 256
        img[..., 1] = (yy * 5 + i * 7) % 256
        img[..., 2] = (i * 19) % 256
        writer.write(img if color else img[..., 0])
    writer.release()


def _patch_capture(monkeypatch: pytest.MonkeyPatch, capture: type) -> None:
    """Make the video readers use ``capture`` instead of `cv2.VideoCapture`."""
    shim = types.SimpleNamespace(**{k: getattr(cv2, k) for k in dir(cv2) if not k.startswith("_")})
    shim.VideoCapture = capture
    monkeypatch.setattr(video_readers, "cv2", shim)


@pytest.fixture(scope="module")
def gray_truth() -> dict[int, np.ndarray]:
    keep = set(np.random.default_rng(1).choice(1100, 20, replace=False).tolist())
    keep |= {0, 1, 2, 549, 550, 1099}
    return _decode_sequential(GRAY, keep)


@pytest.fixture
def small_avi(tmp_path: Path) -> tuple[Path, np.ndarray]:
    path = tmp_path / "small.avi"
    _write_avi(path, 12)
    truth = _decode_sequential(path)
    n = int(truth.pop(-1))
    ref = np.stack([truth[i][..., ::-1] for i in range(n)])
    return path, ref


@needs_data
def test_shapes_and_dtype() -> None:
    with LazyVideo(GRAY) as gray:
        assert gray.shape == (1100, 384, 384)
        assert gray.ndim == 3 and len(gray) == 1100
        assert gray.dtype == np.uint8 and gray.channels == 1
        assert gray.filename == str(GRAY)
        assert gray[0].shape == (384, 384) and gray[0].dtype == np.uint8
        assert gray.frame(0).shape == (384, 384, 1)
    with open_video(RGB) as rgb:
        assert rgb.shape == (166, 320, 560, 3)
        assert rgb.ndim == 4 and rgb.channels == 3 and rgb.dtype == np.uint8
        assert rgb[3].shape == (320, 560, 3)
        assert rgb.frame(3).shape == (320, 560, 3)


@needs_data
def test_gray_pixels_match_raw_opencv(gray_truth: dict[int, np.ndarray]) -> None:
    video = LazyVideo(GRAY)
    for i in (0, 550, 1099):
        assert np.array_equal(video[i], gray_truth[i][..., 0])
        assert np.array_equal(video.frame(i)[..., 0], gray_truth[i][..., 2])
    assert np.array_equal(video[-1], gray_truth[1099][..., 0])


@needs_data
def test_rgb_pixels_match_raw_opencv() -> None:
    truth = _decode_sequential(RGB, {0, 83, 165})
    assert int(truth[-1]) == 166
    video = LazyVideo(RGB)
    for i in (165, 0, 83):
        assert np.array_equal(video[i], truth[i][..., ::-1])
        assert np.array_equal(video.frame(i), truth[i][..., ::-1])


@needs_data
def test_random_access_matches_sequential(gray_truth: dict[int, np.ndarray]) -> None:
    video = LazyVideo(GRAY, cache_size=0)
    inds = [i for i in gray_truth if i >= 0]
    order = np.random.default_rng(7).permutation(inds)
    for i in order:
        assert np.array_equal(video[int(i)], gray_truth[int(i)][..., 0]), i
    for i in (0, 1, 2, 1, 549, 550, 2):
        assert np.array_equal(video[i], gray_truth[i][..., 0]), i


@needs_data
def test_short_jumps_and_seeks_give_same_pixels() -> None:
    truth = _decode_sequential(RGB)
    video = LazyVideo(RGB, cache_size=0)
    for i in (10, 11, 15, 47, 48, 120, 5, 6, 165, 0, 40, 72, 73):
        assert np.array_equal(video[i], truth[i][..., ::-1]), i


@needs_data
def test_napari_style_tuple_indexing(gray_truth: dict[int, np.ndarray]) -> None:
    video = LazyVideo(GRAY)
    ref = gray_truth[550][..., 0]
    assert np.array_equal(video[(550, slice(None), slice(None))], ref)
    assert np.array_equal(video[np.int64(550), :, :], ref)
    assert np.array_equal(video[np.array(550)], ref)
    assert np.array_equal(video[slice(550, 551), slice(None), slice(None)], ref[None])
    assert np.array_equal(video[np.int32(550), 10:20, ::3], ref[10:20, ::3])
    assert video[550, 5, 7] == ref[5, 7]
    stack = video[[549, 550]]
    assert stack.shape == (2, 384, 384)
    assert np.array_equal(stack[1], ref)


def test_numpy_semantics_on_small_video(small_avi: tuple[Path, np.ndarray]) -> None:
    path, ref = small_avi
    video = LazyVideo(path, cache_size=4)
    assert video.shape == ref.shape
    keys = [
        5,
        -1,
        np.uint8(3),
        (4, slice(None), slice(None)),
        (4, Ellipsis, 1),
        (slice(2, 9, 3), slice(5, 10)),
        slice(None, None, -2),
        slice(100, 200),
        [3, 1, 3, -12],
        np.array([[0, 11], [5, 5]]),
        ([1, 2], [3, 4]),
        ([1, 2], slice(None), [0, 2]),
        (slice(1, 3), [0, 5], 1),
        (7, [1, 2], slice(None), 0),
        (2, None),
        np.arange(12) % 3 == 0,
        (Ellipsis, 2),
        (None, 3),
        (),
    ]
    for key in keys:
        expected = ref[key]
        got = video[key]
        assert np.shape(got) == np.shape(expected), key
        assert np.array_equal(got, expected), key
    assert np.array_equal(np.asarray(video), ref)


def test_index_errors(small_avi: tuple[Path, np.ndarray]) -> None:
    video = LazyVideo(small_avi[0])
    for key in (12, -13, [0, 12], (np.int64(20), slice(None))):
        with pytest.raises(IndexError, match="out of range"):
            video[key]
    with pytest.raises(IndexError):
        video.frame(12)
    with pytest.raises(IndexError, match="integers"):
        video[[0.5]]


def test_results_are_writable_copies(small_avi: tuple[Path, np.ndarray]) -> None:
    path, ref = small_avi
    video = LazyVideo(path)
    a = video[3]
    a[:] = 0
    b = video.frame(3)
    b[:] = 0
    c = video[3, :, :, 0]
    c[:] = 0
    assert np.array_equal(video[3], ref[3])
    assert np.array_equal(video.frame(3), ref[3])


def test_cache_is_bounded_lru(small_avi: tuple[Path, np.ndarray]) -> None:
    path, ref = small_avi
    video = LazyVideo(path, cache_size=3)
    calls: list[int] = []
    read = video._reader.read

    def counting_read(idx: int) -> np.ndarray | None:
        calls.append(idx)
        return read(idx)

    video._reader.read = counting_read
    for i in (1, 2, 3, 1, 4, 1, 2):
        assert np.array_equal(video[i], ref[i])
    assert calls == [1, 2, 3, 4, 2]
    assert len(video._cache) == 3
    uncached = LazyVideo(path, cache_size=0)
    assert np.array_equal(uncached[[5, 5, 2]], ref[[5, 5, 2]])
    assert len(uncached._cache) == 0
    with pytest.raises(ValueError):
        LazyVideo(path, cache_size=-1)


def test_grayscale_detection(tmp_path: Path) -> None:
    path = tmp_path / "gray.avi"
    _write_avi(path, 5, color=False)
    video = LazyVideo(path)
    assert video.channels == 1 and video.shape == (5, 40, 48)
    assert video.frame(2).shape == (40, 48, 1)


def test_thread_safety(small_avi: tuple[Path, np.ndarray]) -> None:
    path, ref = small_avi
    video = LazyVideo(path, cache_size=2)
    errors: list[BaseException] = []

    def worker(seed: int) -> None:
        rng = np.random.default_rng(seed)
        try:
            for i in rng.integers(0, len(ref), 60):
                if not np.array_equal(video[int(i)], ref[i]):
                    raise AssertionError(f"frame {i} differs")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(s,)) for s in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_pickle_and_close(small_avi: tuple[Path, np.ndarray]) -> None:
    path, ref = small_avi
    video = LazyVideo(path)
    video[4]
    clone = pickle.loads(pickle.dumps(video))
    assert clone.shape == video.shape
    assert np.array_equal(clone[7], ref[7])
    video.close()
    assert np.array_equal(video[4], ref[4])


@pytest.mark.parametrize("reported", [17.0, 13.0, 0.0, -1.0])
def test_wrong_frame_count_is_corrected(
    reported: float, small_avi: tuple[Path, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, ref = small_avi

    class Capture:
        def __init__(self, *args: object) -> None:
            self._cap = cv2.VideoCapture(*args)

        def get(self, prop: int) -> float:
            value = self._cap.get(prop)
            return reported if prop == cv2.CAP_PROP_FRAME_COUNT else value

        def __getattr__(self, name: str) -> object:
            return getattr(self._cap, name)

    _patch_capture(monkeypatch, Capture)
    video = LazyVideo(path)
    assert len(video) == len(ref)
    assert np.array_equal(video[-1], ref[-1])
    assert np.array_equal(video[[0, 6, 2]], ref[[0, 6, 2]])


def test_undecodable_frame_raises_index_error(
    small_avi: tuple[Path, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, ref = small_avi

    class Capture:
        def __init__(self, *args: object) -> None:
            self._cap = cv2.VideoCapture(*args)

        def read(self) -> tuple[bool, np.ndarray | None]:
            if self._cap.get(cv2.CAP_PROP_POS_FRAMES) == 7:
                return False, None
            return self._cap.read()

        def __getattr__(self, name: str) -> object:
            return getattr(self._cap, name)

    _patch_capture(monkeypatch, Capture)
    video = LazyVideo(path, cache_size=0)
    with pytest.raises(IndexError, match="could not be decoded"):
        video[7]
    assert np.array_equal(video[8], ref[8])
    assert np.array_equal(video[3], ref[3])


def test_missing_path_error(tmp_path: Path) -> None:
    with pytest.raises(VideoOpenError, match="does not exist") as info:
        LazyVideo(tmp_path / "nope.mp4")
    assert "nope.mp4" in str(info.value)


def test_random_bytes_error(tmp_path: Path) -> None:
    path = tmp_path / "noise.mp4"
    path.write_bytes(np.random.default_rng(0).bytes(20_000))
    with pytest.raises(VideoOpenError, match="decode") as info:
        LazyVideo(path)
    message = str(info.value)
    assert "noise.mp4" in message and "re-encode" in message


def test_zero_frames_error(tmp_path: Path) -> None:
    path = tmp_path / "empty.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (32, 32))
    writer.release()
    with pytest.raises(VideoOpenError, match="zero frames") as info:
        LazyVideo(path)
    assert "empty.avi" in str(info.value)


def test_image_folder(tmp_path: Path) -> None:
    frames = np.random.default_rng(3).integers(0, 255, (3, 20, 30, 3), dtype=np.uint8)
    for i, img in enumerate(frames):
        cv2.imwrite(str(tmp_path / f"img_{i:03d}.png"), img[..., ::-1])
    video = LazyVideo(tmp_path)
    assert video.shape == (3, 20, 30, 3)
    assert np.array_equal(video[:], frames)
    assert np.array_equal(video.frame(-1), frames[-1])


def test_bad_source_type() -> None:
    with pytest.raises(TypeError):
        LazyVideo(42)  # type: ignore[arg-type]


def test_sleap_video_with_missing_file(tmp_path: Path) -> None:
    video = sio.Video(filename=str(tmp_path / "gone.mp4"), open_backend=False)
    with pytest.raises(VideoOpenError, match="does not exist"):
        LazyVideo(video)


@needs_data
def test_slp_without_frames_error() -> None:
    with pytest.raises(VideoOpenError, match="without embedded frames"):
        LazyVideo(DATA / "minimal_instance.slp")


@needs_data
def test_sleap_media_video_uses_opencv() -> None:
    labels = sio.load_slp(str(DATA / "small_robot_minimal.slp"))
    video = LazyVideo(labels.video)
    assert isinstance(video._reader, video_readers.CvReader)
    assert video.shape == (166, 320, 560, 3)
    assert np.array_equal(video.frame(10), np.asarray(labels.video[10]))


@needs_data
def test_embedded_pkg_slp() -> None:
    labels = sio.load_slp(str(PKG))
    expected = np.asarray(labels.video[0])
    video = LazyVideo(labels.video)
    assert isinstance(video._reader, video_readers.SioReader)
    assert video.filename == str(PKG)
    assert video.shape[1:] == (384, 384) and video.channels == 1
    assert video.available_frames.tolist() == [0]
    assert np.array_equal(video.frame(0), expected)
    assert np.array_equal(video[0, :, :], expected[..., 0])
    assert video.has_frame(0)
    if len(video) > 1:
        assert not video.has_frame(1)
        assert not video[1].any()
        with pytest.raises(IndexError, match="not embedded"):
            video.frame(1)
    closed = sio.load_slp(str(PKG), open_videos=False)
    by_video = LazyVideo(closed.video)
    by_path = LazyVideo(PKG)
    for v in (by_video, by_path):
        assert v.shape == (1, 384, 384)
        assert np.array_equal(v.frame(0), expected)
        with pytest.raises(IndexError, match="out of range"):
            v.frame(1)
    clone = pickle.loads(pickle.dumps(by_path))
    assert np.array_equal(clone[0], expected[..., 0])


@needs_data
def test_napari_image_layer(gray_truth: dict[int, np.ndarray]) -> None:
    napari = pytest.importorskip("napari")
    from napari.components import Dims

    video = LazyVideo(GRAY)
    layer = napari.layers.Image(video, contrast_limits=[0, 255])
    assert layer.data is video
    assert layer.ndim == 3 and not layer.rgb
    assert np.array_equal(layer.data[550, :, :], gray_truth[550][..., 0])
    layer._slice_dims(Dims(ndim=3, ndisplay=2, range=[(0, 1099, 1)] * 3, point=(550, 0, 0)))
    assert np.array_equal(np.asarray(layer._slice.image.raw), gray_truth[550][..., 0])

    rgb_video = LazyVideo(RGB)
    rgb = napari.layers.Image(rgb_video, contrast_limits=[0, 255])
    assert rgb.rgb and rgb.ndim == 3
    rgb._slice_dims(Dims(ndim=3, ndisplay=2, range=[(0, 165, 1)] * 3, point=(83, 0, 0)))
    assert np.array_equal(np.asarray(rgb._slice.image.raw), rgb_video.frame(83))
