"""Tests for the synthetic sample project."""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import numpy as np
import pytest

from napari_sleap_train.sample import project as sd
from napari_sleap_train.sample import scene as scene
from napari_sleap_train.sample.project import SampleData, make_sample, sample_dir

N_FRAMES, SIZE = 300, 384


@pytest.fixture(scope="module")
def sample() -> SampleData:
    return make_sample(0)


@pytest.fixture(scope="module")
def background(sample: SampleData) -> np.ndarray:
    """Temporal median of the video, which the moving animals do not survive."""
    return np.median(sample.frames[::6], axis=0)


@pytest.fixture(scope="module")
def written(sample_paths: sd.SamplePaths) -> sd.SamplePaths:
    """The session-wide sample written by ``write_sample`` (see conftest)."""
    return sample_paths


def cross(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return u[..., 0] * v[..., 1] - u[..., 1] * v[..., 0]


def body_lengths(s: SampleData) -> np.ndarray:
    head, tail = s.node_names.index("head"), s.node_names.index("tail_tip")
    return np.median(np.linalg.norm(s.poses[:, :, head] - s.poses[:, :, tail], axis=-1), axis=0)


def test_determinism() -> None:
    a = make_sample(3, n_frames=20)
    b = make_sample(3, n_frames=20)
    c = make_sample(4, n_frames=20)
    np.testing.assert_array_equal(a.frames, b.frames)
    np.testing.assert_array_equal(a.poses, b.poses)
    np.testing.assert_array_equal(a.visible, b.visible)
    assert a.labelled_frames == b.labelled_frames
    assert a.suggested_frames == b.suggested_frames
    assert not np.array_equal(a.frames, c.frames)
    assert not np.allclose(a.poses, c.poses)


def test_shapes_and_skeleton(sample: SampleData) -> None:
    n_nodes = len(sample.node_names)
    assert sample.frames.shape == (N_FRAMES, SIZE, SIZE)
    assert sample.frames.dtype == np.uint8
    assert 2 <= sample.n_animals <= 3
    assert n_nodes >= 5
    assert sample.poses.shape == (N_FRAMES, sample.n_animals, n_nodes, 2)
    assert sample.poses.dtype == np.float64
    assert sample.visible.shape == (N_FRAMES, sample.n_animals, n_nodes)
    assert sample.visible.dtype == bool
    assert np.isfinite(sample.poses).all()
    names = set(sample.node_names)
    assert all(a in names and b in names for a, b in sample.edges)
    assert len(sample.edges) == n_nodes - 1
    assert sample.symmetries
    for a, b in sample.symmetries:
        assert a.endswith("_left") and b.endswith("_right")


def test_left_right_consistent(sample: SampleData) -> None:
    idx = {n: i for i, n in enumerate(sample.node_names)}
    thorax = sample.poses[:, :, idx["thorax"]]
    fwd = sample.poses[:, :, idx["head"]] - thorax
    for left, right in sample.symmetries:
        lv = sample.poses[:, :, idx[left]] - thorax
        rv = sample.poses[:, :, idx[right]] - thorax
        # Image y points down, so the animal's left has a negative cross product.
        assert (cross(fwd, lv) < 0).all()
        assert (cross(fwd, rv) > 0).all()


def test_animals_inside_frame_and_vary_in_size(sample: SampleData) -> None:
    assert sample.poses.min() >= sd.MARGIN
    assert sample.poses.max() <= SIZE - 1 - sd.MARGIN
    lengths = body_lengths(sample)
    assert lengths.max() / lengths.min() > 1.3


def test_close_encounters_and_occlusion(sample: SampleData) -> None:
    anchors = 0.5 * (sample.poses.min(axis=2) + sample.poses.max(axis=2))
    lengths = body_lengths(sample)
    close = [
        np.linalg.norm(anchors[:, i] - anchors[:, j], axis=-1) < 1.5 * max(lengths[i], lengths[j])
        for i, j in itertools.combinations(range(sample.n_animals), 2)
    ]
    assert np.any(close)
    hidden = ~sample.visible
    assert hidden.sum() > 10
    assert hidden.mean() < 0.1
    assert sample.visible[:, :, sample.node_names.index("thorax")].mean() > 0.9


def test_frame_selection(sample: SampleData) -> None:
    lab, sug = sample.labelled_frames, sample.suggested_frames
    assert len(lab) == 20
    assert 30 <= len(sug) <= 40
    assert lab == sorted(set(lab)) and sug == sorted(set(sug))
    assert not set(lab) & set(sug)
    assert min(lab + sug) >= 0 and max(lab + sug) < N_FRAMES
    assert np.diff([0, *lab, N_FRAMES]).max() < 3 * N_FRAMES / len(lab)


def test_short_sample_selection() -> None:
    s = make_sample(1, n_frames=12)
    assert s.frames.shape[0] == 12 and len(s.labelled_frames) >= 1
    assert not set(s.labelled_frames) & set(s.suggested_frames)


def test_nodes_are_drawn_at_ground_truth(sample: SampleData, background: np.ndarray) -> None:
    t_idx, a_idx, n_idx = np.nonzero(sample.visible)
    xy = np.rint(sample.poses[t_idx, a_idx, n_idx]).astype(int)
    at_nodes = sample.frames[t_idx, xy[:, 1], xy[:, 0]].astype(float)
    contrast = np.abs(at_nodes - background[xy[:, 1], xy[:, 0]])
    assert contrast.mean() > 40
    for k, name in enumerate(sample.node_names):
        assert contrast[n_idx == k].mean() > 15, name

    # Far from every animal the frame is just the background plus noise.
    rng = np.random.default_rng(0)
    t = rng.integers(0, N_FRAMES, 2000)
    pts = rng.uniform(0, SIZE - 1, (2000, 2))
    dist = np.linalg.norm(sample.poses[t] - pts[:, None, None], axis=-1).min(axis=(1, 2))
    far = dist > body_lengths(sample).max()
    p = np.rint(pts[far]).astype(int)
    control = np.abs(sample.frames[t[far], p[:, 1], p[:, 0]] - background[p[:, 1], p[:, 0]])
    assert control.mean() < 5


def test_rendering_is_subpixel_accurate() -> None:
    """Drawn primitives are centred on their fractional coordinates."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:64, 0:64]
    for _ in range(20):
        cx, cy = rng.uniform(28, 36, 2)
        ang = rng.uniform(0, np.pi)
        d = np.array([np.cos(ang), np.sin(ang)]) * 9.0
        img = np.full((64, 64), 100.0, dtype=np.float32)
        scene._draw_segment(img, np.array([cx, cy]) - d, np.array([cx, cy]) + d, 1.0, 60.0)
        scene._draw_ellipse(img, cx, cy, ang, 7.0, 4.5, 40.0, 10.0)
        scene._draw_spot(img, cx, cy, 2.0, 0.0)
        w = 100.0 - img
        assert abs((w * xx).sum() / w.sum() - cx) < 0.05
        assert abs((w * yy).sum() / w.sum() - cy) < 0.05


def test_write_sample_project(written: sd.SamplePaths, sample: SampleData) -> None:
    import sleap_io as sio

    assert written.video.is_file() and written.video.parent == written.project.parent
    labels = sio.load_slp(str(written.project))
    assert len(labels.videos) == 1
    skeleton = labels.skeleton
    assert skeleton.node_names == sample.node_names
    assert {(e.source.name, e.destination.name) for e in skeleton.edges} == set(sample.edges)
    sym = {frozenset(n.name for n in s.nodes) for s in skeleton.symmetries}
    assert sym == {frozenset(p) for p in sample.symmetries}
    assert [t.name for t in labels.tracks] == sample.track_names

    assert sorted(lf.frame_idx for lf in labels.labeled_frames) == sample.labelled_frames
    assert sorted(s.frame_idx for s in labels.suggestions) == sample.suggested_frames
    for lf in labels.labeled_frames:
        assert len(lf.user_instances) == sample.n_animals
        for inst in lf.user_instances:
            a = sample.track_names.index(inst.track.name)
            vis = sample.visible[lf.frame_idx, a]
            np.testing.assert_array_equal(inst.points["visible"], vis)
            np.testing.assert_allclose(inst.numpy()[vis], sample.poses[lf.frame_idx, a][vis])

    gt = sio.load_slp(str(written.ground_truth))
    assert len(gt.labeled_frames) == N_FRAMES
    assert not gt.suggestions
    assert all(len(lf.user_instances) == sample.n_animals for lf in gt.labeled_frames)
    assert sum((~lf.instances[0].points["visible"]).sum() for lf in gt.labeled_frames) == (
        (~sample.visible[:, 0]).sum()
    )


def test_written_video_decodes_faithfully(written: sd.SamplePaths, sample: SampleData) -> None:
    import sleap_io as sio

    video = sio.load_slp(str(written.project)).video
    assert video.exists()
    assert len(video) == N_FRAMES
    assert video.shape == (N_FRAMES, SIZE, SIZE, 1)
    for t in (0, 1, 137, N_FRAMES - 1):
        frame = np.asarray(video[t])
        assert frame.shape == (SIZE, SIZE, 1)
        err = np.abs(frame[..., 0].astype(int) - sample.frames[t])
        assert err.max() <= sd.VIDEO_DECODE_TOLERANCE


def test_sample_dir_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sleap_io as sio

    monkeypatch.setenv("NAPARI_SLEAP_TRAIN_CACHE", str(tmp_path / "cache"))
    small = make_sample(0, n_frames=24)
    calls = []

    def fake_make_sample(seed: int = 0, n_animals: int = sd.N_ANIMALS) -> SampleData:
        assert n_animals == sd.N_ANIMALS  # the cached sample is the built-in one
        calls.append(seed)
        return small

    monkeypatch.setattr(sd, "make_sample", fake_make_sample)
    paths = sample_dir(0)
    assert paths.project.parent == tmp_path / "cache" / f"sample-v{sd.SAMPLE_VERSION}-seed0"
    assert calls == [0]
    mtimes = [p.stat().st_mtime_ns for p in (paths.video, paths.project, paths.ground_truth)]

    again = sample_dir(0)
    assert again == paths
    assert calls == [0]
    assert mtimes == [
        p.stat().st_mtime_ns for p in (paths.video, paths.project, paths.ground_truth)
    ]
    assert not list(paths.project.parent.glob(".*tmp*"))

    moved = tmp_path / "moved"
    shutil.move(str(paths.project.parent), moved)
    labels = sio.load_slp(str(moved / paths.project.name))
    assert Path(labels.video.filename).parent == moved
    assert labels.video.exists() and len(labels.video) == 24
