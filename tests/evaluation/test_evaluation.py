import json
import math

import numpy as np
import pytest
import sleap_io as sio

from napari_sleap_train.evaluation import (
    compute_oks,
    compute_voc_metrics,
    evaluate_frames,
    evaluate_labels,
    format_report,
    instance_area,
    match_frame,
)

from ..conftest import require_data

REQUIRED_KEYS = {
    "oks_map",
    "oks_mar",
    "oks_mean",
    "pck",
    "dist_p50",
    "dist_p75",
    "dist_p90",
    "dist_p95",
    "dist_p99",
    "dist_per_node",
    "vis_precision",
    "vis_recall",
    "n_frames",
    "instances_gt",
    "instances_pred",
    "instances_matched",
    "instances_missed",
    "instances_extra",
    "found_fraction",
}

# Four nodes on the corners of a 100 x 50 px box: bounding-box area 5000 px².
BOX = np.array([[0.0, 0.0], [100.0, 0.0], [0.0, 50.0], [100.0, 50.0]])
NAMES = ["a", "b", "c", "d"]


def _offset_oks(d: float, area: float, sigma: float = 0.025) -> float:
    return math.exp(-(d**2) / (2 * sigma) ** 2 / (2 * area))


def _animals(n: int, rng: np.random.Generator, n_nodes: int = 6) -> np.ndarray:
    """``n`` well separated animals of about 60 x 60 px."""
    base = rng.uniform(0, 60, size=(n, n_nodes, 2))
    return base + (np.arange(n) * 300.0)[:, None, None]


def test_perfect_predictions():
    rng = np.random.default_rng(0)
    frames = []
    for _ in range(5):
        gt = _animals(3, rng)
        frames.append((gt, gt.copy(), np.array([0.9, 0.5, 0.7])))
    m = evaluate_frames(frames, [f"n{i}" for i in range(6)])
    assert set(m) >= REQUIRED_KEYS
    assert m["oks_map"] == pytest.approx(1.0)
    assert m["oks_mar"] == pytest.approx(1.0)
    assert m["oks_mean"] == pytest.approx(1.0)
    assert m["pck"] == {"1": 1.0, "2": 1.0, "5": 1.0, "10": 1.0}
    for key in ("dist_mean", "dist_p50", "dist_p75", "dist_p90", "dist_p95", "dist_p99"):
        assert m[key] == 0.0
    assert all(s["p95"] == 0.0 and s["n"] == 15 for s in m["dist_per_node"].values())
    assert m["vis_precision"] == 1.0 and m["vis_recall"] == 1.0
    assert (m["n_frames"], m["instances_gt"], m["instances_pred"]) == (5, 15, 15)
    assert (m["instances_matched"], m["instances_missed"], m["instances_extra"]) == (15, 0, 0)
    assert m["found_fraction"] == 1.0


def test_instance_area_uses_visible_nodes_only():
    pts = np.vstack([BOX, [[500.0, np.nan]]])
    assert instance_area(pts)[0] == pytest.approx(5000.0)
    assert np.isnan(instance_area(np.full((3, 2), np.nan))[0])


@pytest.mark.parametrize("d", [0.5, 2.0, 5.0])
def test_known_offset_gives_analytic_oks(d):
    direction = np.array([3.0, 4.0]) / 5.0
    pred = BOX + d * direction
    oks = compute_oks(BOX[None], pred[None])
    assert oks.shape == (1, 1)
    assert oks[0, 0] == pytest.approx(_offset_oks(d, 5000.0), rel=1e-12)
    m = evaluate_frames([(BOX[None], pred[None], [1.0])], NAMES)
    assert m["oks_mean"] == pytest.approx(_offset_oks(d, 5000.0), rel=1e-12)
    assert m["dist_p50"] == pytest.approx(d) and m["dist_p99"] == pytest.approx(d)
    assert m["pck"]["10"] == 1.0 and m["pck"]["1"] == (1.0 if d < 1 else 0.0)


def test_oks_ignores_invisible_gt_and_zeroes_missing_predictions():
    gt = BOX.copy()
    gt[3] = np.nan
    pred = BOX.copy()
    pred[3] = [1000.0, 1000.0]
    assert compute_oks(gt, pred)[0, 0] == pytest.approx(1.0)
    pred = BOX.copy()
    pred[0] = np.nan
    assert compute_oks(BOX, pred)[0, 0] == pytest.approx(0.75)


def test_oks_matrix_shape():
    gt = np.stack([BOX, BOX + 500])
    pred = np.stack([BOX + 500, BOX, BOX + 1])
    oks = compute_oks(gt, pred)
    assert oks.shape == (2, 3)
    assert oks[0, 1] == oks[1, 0] == pytest.approx(1.0)
    assert oks[0, 0] == pytest.approx(0.0)


def test_higher_score_wins_the_ground_truth():
    close = BOX + [1.0, 0.0]
    far = BOX + [6.0, 0.0]
    # The worse prediction has the higher score: it still takes the animal.
    pairs = match_frame(BOX[None], np.stack([close, far]), np.array([0.3, 0.9]))
    assert pairs == [(0, 1, pytest.approx(_offset_oks(6.0, 5000.0)))]
    m = evaluate_frames([(BOX[None], np.stack([close, far]), [0.3, 0.9])], NAMES)
    assert m["instances_matched"] == 1 and m["instances_extra"] == 1
    assert m["instances_missed"] == 0
    assert m["oks_mean"] == pytest.approx(_offset_oks(6.0, 5000.0))
    assert m["dist_p50"] == pytest.approx(6.0)


def test_each_prediction_takes_its_best_remaining_animal():
    gt = np.stack([BOX, BOX + [20.0, 0.0]])
    pred = np.stack([BOX + [19.0, 0.0], BOX + [2.0, 0.0]])
    pairs = match_frame(gt, pred, np.array([0.9, 0.8]))
    assert [(g, p) for g, p, _ in pairs] == [(1, 0), (0, 1)]


def test_missed_ground_truth_and_empty_frames():
    gt = np.stack([BOX, BOX + 1000.0])
    m = evaluate_frames([(gt, BOX[None], [0.8]), (BOX[None], np.empty((0, 4, 2)), [])], NAMES)
    assert m["n_frames"] == 2
    assert (m["instances_gt"], m["instances_pred"]) == (3, 1)
    assert (m["instances_matched"], m["instances_missed"], m["instances_extra"]) == (1, 2, 0)
    assert m["found_fraction"] == pytest.approx(1 / 3)
    assert m["oks_mar"] == pytest.approx(1 / 3)
    assert m["oks_map"] == pytest.approx(34 / 101)
    assert m["oks_mean"] == pytest.approx(1.0)


def test_nothing_predicted():
    m = evaluate_frames([(BOX[None], np.empty((0, 4, 2)), np.empty(0))], NAMES)
    assert m["oks_map"] == 0.0 and m["oks_mar"] == 0.0 and m["found_fraction"] == 0.0
    assert m["oks_mean"] is None and m["dist_p50"] is None and m["pck"]["5"] is None
    assert m["dist_per_node"]["a"] == {
        "p50": None,
        "p75": None,
        "p90": None,
        "p95": None,
        "p99": None,
        "mean": None,
        "n": 0,
    }
    json.dumps(m, allow_nan=False)


def test_nan_predicted_node():
    pred = BOX.copy()
    pred[2] = np.nan
    m = evaluate_frames([(BOX[None], pred[None], [1.0])], NAMES)
    assert m["instances_matched"] == 1
    assert m["oks_mean"] == pytest.approx(0.75)
    assert m["pck"]["1"] == pytest.approx(0.75)
    assert m["dist_p99"] == 0.0
    assert m["vis_recall"] == pytest.approx(0.75) and m["vis_precision"] == 1.0
    assert (m["vis_tp"], m["vis_fn"], m["vis_fp"], m["vis_tn"]) == (3, 1, 0, 0)
    assert m["dist_per_node"]["c"]["n"] == 0 and m["dist_per_node"]["c"]["p50"] is None
    assert m["oks_mar"] == pytest.approx(np.mean(np.linspace(0.5, 0.95, 10) <= 0.75))


def test_predicted_node_where_gt_is_invisible_lowers_visibility_precision():
    gt = BOX.copy()
    gt[1] = np.nan
    m = evaluate_frames([(gt[None], BOX[None], [1.0])], NAMES)
    assert m["vis_precision"] == pytest.approx(0.75) and m["vis_recall"] == 1.0
    assert m["oks_mean"] == pytest.approx(1.0)
    assert m["dist_per_node"]["b"]["n"] == 0


def test_per_node_percentiles_and_strict_pck():
    node_a = [1.0, 2.0, 3.0, 4.0, 5.0]
    frames = []
    for e in node_a:
        pred = BOX.copy()
        pred[0, 0] += e
        pred[1, 1] += 10.0
        frames.append((BOX[None], pred[None], [1.0]))
    m = evaluate_frames(frames, NAMES)
    a = m["dist_per_node"]["a"]
    for q in (50, 75, 90, 95, 99):
        assert a[f"p{q}"] == pytest.approx(np.percentile(node_a, q))
    assert a["mean"] == pytest.approx(3.0) and a["n"] == 5
    assert m["dist_per_node"]["b"]["p50"] == pytest.approx(10.0)
    assert m["dist_per_node"]["c"]["p99"] == 0.0
    everything = node_a + [10.0] * 5 + [0.0] * 10
    for q in (50, 75, 90, 95, 99):
        assert m[f"dist_p{q}"] == pytest.approx(np.percentile(everything, q))
    # Errors are counted when strictly below the threshold, as in SLEAP.
    assert m["pck"] == {"1": 0.5, "2": 0.55, "5": 0.7, "10": 0.75}


def test_map_decreases_as_noise_grows():
    rng = np.random.default_rng(1)
    gts = [_animals(3, rng) for _ in range(20)]
    noise = [rng.normal(size=g.shape) for g in gts]
    scores = [rng.uniform(size=3) for _ in gts]
    maps, means = [], []
    for level in (0.0, 0.5, 1.0, 2.0, 4.0, 8.0):
        frames = [(g, g + level * n, s) for g, n, s in zip(gts, noise, scores)]
        m = evaluate_frames(frames)
        maps.append(m["oks_map"])
        means.append(m["oks_mean"])
    assert maps[0] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(maps, maps[1:]))
    assert all(a > b for a, b in zip(means, means[1:]))
    assert maps[-1] < 0.2


def test_extra_predictions_are_false_positives_by_score():
    # An extra detection ranked above the true one halves the precision...
    m = evaluate_frames([(BOX[None], np.stack([BOX, BOX + 900]), [0.5, 0.9])], NAMES)
    assert m["oks_map_coco"] == pytest.approx(0.5)
    assert m["oks_map"] == pytest.approx(1.0)
    assert m["oks_mar"] == pytest.approx(1.0)
    # ...ranked below it, it does not matter.
    m = evaluate_frames([(BOX[None], np.stack([BOX, BOX + 900]), [0.9, 0.5])], NAMES)
    assert m["oks_map"] == pytest.approx(1.0)


def test_voc_metrics_match_a_hand_computed_curve():
    # Ranked: TP, FP, TP; two ground-truth instances in all.
    out = compute_voc_metrics(np.array([1.0, 0.0, 1.0]), np.array([0.9, 0.8, 0.7]), n_gt=2)
    # Precision 1 up to recall 0.5 (51 points), 2/3 above (50 points).
    assert out["map"] == pytest.approx((51 + 50 * 2 / 3) / 101)
    assert out["mar"] == pytest.approx(1.0)
    empty = compute_voc_metrics(np.empty(0), np.empty(0), n_gt=0)
    assert math.isnan(empty["map"])


def test_metrics_are_json_serialisable_and_reportable():
    pred = BOX + 3.0
    pred[0] = np.nan
    frames = [(BOX[None], pred[None], np.float32(0.7)), (BOX[None], np.empty((0, 4, 2)), [])]
    m = evaluate_frames(frames, NAMES)
    text = json.dumps(m, allow_nan=False)
    assert json.loads(text) == m
    report = format_report(m)
    assert "OKS mAP" in report and "PCK" in report and "missed" in report
    for name in NAMES:
        assert name in report


def test_shape_errors_are_explicit():
    with pytest.raises(ValueError, match="nodes"):
        evaluate_frames([(BOX[None], BOX[None, :3], [1.0])], NAMES)
    with pytest.raises(ValueError, match="scores"):
        match_frame(BOX[None], BOX[None], np.array([1.0, 2.0]))


# Labels-level evaluation.


def _skeleton(names):
    return sio.Skeleton(list(names))


def _labels(video, skeleton, frames, predicted, names=None):
    """Labels holding ``frames``: frame index -> list of (points, score)."""
    lfs = []
    for idx, instances in frames.items():
        insts = []
        for pts, score in instances:
            pts = np.asarray(pts, dtype=float)
            if names is not None:
                order = [names.index(n) for n in skeleton.node_names]
                pts = pts[order]
            if predicted:
                insts.append(sio.PredictedInstance.from_numpy(pts, skeleton, score=score))
            else:
                insts.append(sio.Instance.from_numpy(pts, skeleton))
        lfs.append(sio.LabeledFrame(video=video, frame_idx=idx, instances=insts))
    return sio.Labels(labeled_frames=lfs, videos=[video], skeletons=[skeleton])


def test_labels_pairing_node_mapping_and_missing_frames():
    gt_skel = _skeleton(NAMES)
    pr_skel = _skeleton(NAMES[::-1])
    gt_video = sio.Video(filename="/data/session1/fly.mp4", open_backend=False)
    pr_video = sio.Video(filename="/elsewhere/fly.mp4", open_backend=False)
    gt = _labels(gt_video, gt_skel, {0: [(BOX, 1)], 1: [(BOX, 1)], 2: [(BOX + 500, 1)]}, False)
    pr = _labels(
        pr_video,
        pr_skel,
        {0: [(BOX, 0.9)], 1: [(BOX + [0, 2], 0.8), (BOX + 900, 0.1)], 7: [(BOX, 0.5)]},
        True,
        names=NAMES,
    )
    m = evaluate_labels(gt, pr)
    assert m["node_names"] == NAMES
    assert m["n_frames"] == 3
    assert (m["instances_gt"], m["instances_pred"]) == (3, 3)
    assert (m["instances_matched"], m["instances_missed"], m["instances_extra"]) == (2, 1, 1)
    assert m["dist_per_node"]["a"]["p50"] == pytest.approx(1.0)
    assert m["dist_p99"] == pytest.approx(2.0)
    assert m["videos_unmatched"] == []
    json.dumps(m, allow_nan=False)


def test_labels_unmatched_video_counts_as_missed():
    skel = _skeleton(NAMES)
    gt = _labels(sio.Video("/a/one.mp4", open_backend=False), skel, {0: [(BOX, 1)]}, False)
    gt.videos.append(sio.Video("/a/two.mp4", open_backend=False))
    pr = _labels(sio.Video("/a/three.mp4", open_backend=False), skel, {0: [(BOX, 1)]}, True)
    pr.videos.append(sio.Video("/a/four.mp4", open_backend=False))
    m = evaluate_labels(gt, pr)
    assert m["instances_missed"] == 1 and m["instances_pred"] == 0
    assert m["videos_unmatched"] == ["/a/one.mp4"]


def test_labels_ground_truth_source_and_user_predictions():
    skel = _skeleton(NAMES)
    video = sio.Video("/a/one.mp4", open_backend=False)
    predicted_only = _labels(video, skel, {0: [(BOX, 0.4)], 3: [(BOX + 100, 0.6)]}, True)
    with pytest.raises(ValueError, match="user_only_gt=False"):
        evaluate_labels(predicted_only, predicted_only)
    m = evaluate_labels(predicted_only, predicted_only, user_only_gt=False)
    assert m["n_frames"] == 2 and m["oks_map"] == pytest.approx(1.0)
    # A file of user instances serves as predictions with score 1.
    users = _labels(video, skel, {0: [(BOX + [1, 0], 1)], 3: [(BOX + 100, 1)]}, False)
    m = evaluate_labels(users, _labels(video, skel, {0: [(BOX, 1)]}, False))
    assert (m["instances_matched"], m["instances_missed"]) == (1, 1)
    assert m["dist_p50"] == pytest.approx(1.0)


def test_labels_with_unrelated_skeleton_are_refused():
    video = sio.Video("/a/one.mp4", open_backend=False)
    gt = _labels(video, _skeleton(NAMES), {0: [(BOX, 1)]}, False)
    pr = _labels(video, _skeleton(["w", "x", "y", "z"]), {0: [(BOX, 1)]}, True)
    with pytest.raises(ValueError, match="node"):
        evaluate_labels(gt, pr)


# Real SLEAP predictions.


@pytest.fixture(scope="module")
def centered_pair():
    return sio.load_slp(str(require_data("centered_pair_predictions.slp")))


def _as_ground_truth(labels, frame_positions):
    lfs = []
    for i in frame_positions:
        lf = labels.labeled_frames[i]
        insts = [
            sio.Instance.from_numpy(inst.numpy(), inst.skeleton) for inst in lf.predicted_instances
        ]
        lfs.append(sio.LabeledFrame(video=lf.video, frame_idx=lf.frame_idx, instances=insts))
    return sio.Labels(labeled_frames=lfs, videos=labels.videos, skeletons=labels.skeletons)


FRAME_POSITIONS = list(range(0, 1100, 55))


def test_real_predictions_against_themselves(centered_pair):
    gt = _as_ground_truth(centered_pair, FRAME_POSITIONS)
    m = evaluate_labels(gt, centered_pair)
    assert m["n_frames"] == len(FRAME_POSITIONS)
    assert m["instances_gt"] == m["instances_matched"] == m["instances_pred"] >= 20
    assert m["oks_map"] == pytest.approx(1.0)
    assert m["oks_mean"] == pytest.approx(1.0)
    assert m["dist_p99"] == 0.0 and m["pck"]["1"] == 1.0
    assert m["vis_precision"] == 1.0 and m["vis_recall"] == 1.0
    assert len(m["dist_per_node"]) == 24


def test_real_predictions_with_noise(centered_pair):
    gt = _as_ground_truth(centered_pair, FRAME_POSITIONS)
    rng = np.random.default_rng(42)
    lfs = []
    for lf in gt.labeled_frames:
        orig = centered_pair.labeled_frames[FRAME_POSITIONS[len(lfs)]]
        insts = [
            sio.PredictedInstance.from_numpy(
                inst.numpy() + rng.normal(0.0, 2.0, size=(24, 2)), inst.skeleton, score=inst.score
            )
            for inst in orig.predicted_instances
        ]
        lfs.append(sio.LabeledFrame(video=lf.video, frame_idx=lf.frame_idx, instances=insts))
    noisy = sio.Labels(labeled_frames=lfs, videos=gt.videos, skeletons=gt.skeletons)
    m = evaluate_labels(gt, noisy)
    assert "OKS mAP" in format_report(m)
    assert m["found_fraction"] == 1.0 and m["instances_extra"] == 0
    assert 0.0 < m["oks_map"] < 1.0
    assert 0.3 < m["oks_mean"] < 0.95
    # 2-D Gaussian errors: Rayleigh median 2 * sqrt(2 ln 2) = 2.35 px.
    assert 1.9 < m["dist_p50"] < 2.8
    assert m["pck"]["1"] < 0.2 and m["pck"]["10"] > 0.99
    assert m["vis_precision"] == 1.0 and m["vis_recall"] == 1.0
