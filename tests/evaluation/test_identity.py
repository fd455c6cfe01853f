import json

import numpy as np
import pytest
import sleap_io as sio

from napari_sleap_train.evaluation import (
    IdentityFrame,
    evaluate_labels,
    format_report,
    identity_frame,
    identity_metrics,
)

# Four nodes on the corners of a 100 x 50 px box.
BOX = np.array([[0.0, 0.0], [100.0, 0.0], [0.0, 50.0], [100.0, 50.0]])
NAMES = ["a", "b", "c", "d"]


def _frame(matched=(), missed=(), extra=()):
    """A frame of ``(gt, pred)`` matched track names, missed gt and extra predictions."""
    gt = [g for g, _ in matched] + list(missed)
    pred = [p for _, p in matched] + list(extra)
    return IdentityFrame(gt, pred, [(i, i) for i in range(len(matched))])


def test_perfect_tracking():
    m = identity_metrics([_frame([("a", "A"), ("b", "B")]) for _ in range(10)])
    assert m["id_switches"] == 0
    assert m["idf1"] == m["idp"] == m["idr"] == 1.0
    assert m["mota"] == 1.0 and m["identity_correct_fraction"] == 1.0
    assert m["track_mapping"] == {"A": "a", "B": "b"}
    assert (m["tracks_gt"], m["tracks_pred"]) == (2, 2)
    assert (m["idtp"], m["idfp"], m["idfn"]) == (20, 0, 0)
    assert (m["instances_gt"], m["instances_pred"], m["misses"], m["false_positives"]) == (
        20,
        20,
        0,
        0,
    )


def test_one_swap_halfway_switches_both_tracks():
    before = [IdentityFrame(["a", "b"], ["B", "A"], [(0, 1), (1, 0)]) for _ in range(5)]
    after = [_frame([("a", "B"), ("b", "A")]) for _ in range(5)]
    m = identity_metrics(before + after)
    assert m["id_switches"] == 2
    # Either mapping keeps 5 + 5 of the 20 pairs.
    assert (m["idtp"], m["idfp"], m["idfn"]) == (10, 10, 10)
    assert m["idf1"] == 0.5 and m["idp"] == 0.5 and m["idr"] == 0.5
    assert m["mota"] == pytest.approx(1 - 2 / 20)
    assert m["identity_correct_fraction"] == 0.5
    assert sorted(m["track_mapping"]) == ["A", "B"]
    assert sorted(m["track_mapping"].values()) == ["a", "b"]


def test_fragmented_track():
    frames = [_frame([("a", "A")]) for _ in range(3)] + [_frame([("a", "A2")]) for _ in range(7)]
    m = identity_metrics(frames)
    assert m["id_switches"] == 1
    assert m["track_mapping"] == {"A2": "a"}
    assert (m["idtp"], m["idfp"], m["idfn"]) == (7, 3, 3)
    assert m["idf1"] == pytest.approx(14 / 20)
    assert m["idp"] == pytest.approx(0.7) and m["idr"] == pytest.approx(0.7)
    assert m["mota"] == pytest.approx(0.9)
    assert (m["tracks_gt"], m["tracks_pred"]) == (1, 2)


def test_the_mapping_maximises_identity_true_positives():
    # Co-occurrences a-A 3, a-B 2, b-A 2: taking a-A first would keep 3 pairs, the
    # best one-to-one mapping (B -> a, A -> b) keeps 4.
    frames = (
        [_frame([("a", "A")]) for _ in range(3)]
        + [_frame([("a", "B")]) for _ in range(2)]
        + [_frame([("b", "A")]) for _ in range(2)]
    )
    m = identity_metrics(frames)
    assert m["track_mapping"] == {"A": "b", "B": "a"}
    assert m["idtp"] == 4
    assert m["idf1"] == pytest.approx(8 / 14)
    assert m["id_switches"] == 1


def test_untracked_predictions_are_identities_of_their_own():
    frames = [_frame([("a", name)]) for name in ("A", None, None, "A")]
    m = identity_metrics(frames)
    # A -> None, None -> another None, None -> A.
    assert m["id_switches"] == 3
    assert m["track_mapping"] == {"A": "a"}
    assert (m["idtp"], m["idfp"], m["idfn"]) == (2, 2, 2)
    assert m["idf1"] == 0.5
    assert m["mota"] == pytest.approx(1 - 3 / 4)
    assert (m["tracks_pred"], m["untracked_pred"]) == (1, 2)

    m = identity_metrics([_frame([("a", None)]) for _ in range(4)])
    assert m["id_switches"] == 3 and m["idf1"] == 0.0 and m["track_mapping"] == {}
    assert m["tracks_pred"] == 0 and m["identity_correct_fraction"] == 0.0


def test_misses_and_false_positives():
    frames = [
        _frame([("a", "A"), ("b", "B")]),
        _frame([("a", "A"), ("b", "B")]),
        _frame([("a", "A")], missed=["b"]),
        _frame([("a", "A"), ("b", "B")], extra=["C"]),
        _frame([("a", "A"), ("b", "B")]),
    ]
    m = identity_metrics(frames)
    assert m["id_switches"] == 0
    assert (m["misses"], m["false_positives"]) == (1, 1)
    assert (m["instances_gt"], m["instances_pred"]) == (10, 10)
    assert m["mota"] == pytest.approx(1 - 2 / 10)
    assert (m["idtp"], m["idfp"], m["idfn"]) == (9, 1, 1)
    assert m["idf1"] == pytest.approx(18 / 20)
    assert m["identity_correct_fraction"] == 1.0
    assert m["tracks_pred"] == 3 and m["track_mapping"] == {"A": "a", "B": "b"}


def test_unmatched_frames_do_not_break_the_last_match():
    kept = identity_metrics([_frame([("a", "A")]), _frame(missed=["a"]), _frame([("a", "A")])])
    assert kept["id_switches"] == 0
    moved = identity_metrics([_frame([("a", "A")]), _frame(missed=["a"]), _frame([("a", "B")])])
    assert moved["id_switches"] == 1


def test_untracked_ground_truth_is_left_out_with_its_match():
    frame = IdentityFrame(["a", None], ["X", "A", "E"], [(1, 0), (0, 1)])
    m = identity_metrics([frame, frame])
    assert (m["instances_gt"], m["instances_pred"], m["untracked_gt"]) == (2, 4, 2)
    assert (m["misses"], m["false_positives"]) == (0, 2)
    assert m["tracks_pred"] == 2 and m["track_mapping"] == {"A": "a"}
    assert m["idf1"] == pytest.approx(4 / 6)


def test_no_frames_and_bad_pairs():
    m = identity_metrics([])
    assert m["idf1"] is None and m["mota"] is None and m["id_switches"] == 0
    json.dumps(m, allow_nan=False)
    with pytest.raises(ValueError, match="more than one"):
        identity_metrics([IdentityFrame(["a", "b"], ["A"], [(0, 0), (1, 0)])])
    with pytest.raises(ValueError, match="does not have"):
        identity_metrics([IdentityFrame(["a"], ["A"], [(0, 1)])])


def test_identity_frame_matches_as_the_pose_metrics_do():
    gt = np.stack([BOX, BOX + 500, np.full((4, 2), np.nan)])
    pred = np.stack([np.full((4, 2), np.nan), BOX + [501, 500], BOX + [1, 0], BOX + 2000])
    frame = identity_frame(gt, pred, np.array([0.9, 0.8, 0.7, 0.6]), ["a", "b", "c"], list("WXYZ"))
    assert frame.gt_tracks == ("a", "b") and frame.pred_tracks == ("X", "Y", "Z")
    assert sorted(frame.pairs) == [(0, 1), (1, 0)]
    with pytest.raises(ValueError, match="track name"):
        identity_frame(gt, pred, np.ones(4), ["a"], list("WXYZ"))


# Through evaluate_labels.


def _tracked_labels(frames, predicted, shuffle=False):
    """Labels of ``frames``: frame index -> list of (points, track name or None)."""
    video = sio.Video("/a/one.mp4", open_backend=False)
    skeleton = sio.Skeleton(NAMES)
    tracks: dict[str, sio.Track] = {}
    lfs = []
    for idx, instances in frames.items():
        insts = []
        for pts, name in instances:
            track = None if name is None else tracks.setdefault(name, sio.Track(name=name))
            if predicted:
                insts.append(
                    sio.PredictedInstance.from_numpy(pts, skeleton, score=1.0, track=track)
                )
            else:
                insts.append(sio.Instance.from_numpy(pts, skeleton, track=track))
        lfs.append(sio.LabeledFrame(video=video, frame_idx=idx, instances=insts))
    if shuffle:
        lfs = [lfs[i] for i in np.random.default_rng(3).permutation(len(lfs))]
    return sio.Labels(
        labeled_frames=lfs, videos=[video], skeletons=[skeleton], tracks=list(tracks.values())
    )


def test_labels_identity_in_frame_order():
    gt = _tracked_labels({t: [(BOX, "a"), (BOX + 500, "b")] for t in range(10)}, False, True)
    pr_frames = {
        t: [(BOX + 500, "B" if t < 5 else "A"), (BOX + 1, "A" if t < 5 else "B")] for t in range(10)
    }
    m = evaluate_labels(gt, _tracked_labels(pr_frames, True, True))
    identity = m["identity"]
    assert identity["id_switches"] == 2
    assert identity["idf1"] == 0.5 and identity["mota"] == pytest.approx(0.9)
    json.dumps(m, allow_nan=False)
    report = format_report(m)
    assert "Identity: 2 switches" in report and "IDF1 0.500" in report
    assert "2 predicted, 2 true" in report


def test_labels_without_tracks_have_no_identity():
    gt = _tracked_labels({0: [(BOX, None)]}, False)
    m = evaluate_labels(gt, _tracked_labels({0: [(BOX, "A")]}, True))
    assert "identity" not in m
    assert "Identity" not in format_report(m)


def test_sample_ground_truth_against_itself(sample_paths):
    truth = sio.load_slp(str(sample_paths.ground_truth))
    m = evaluate_labels(truth, sio.load_slp(str(sample_paths.ground_truth)))
    identity = m["identity"]
    assert m["instances_gt"] == m["instances_matched"] == 900
    assert identity["id_switches"] == 0
    assert identity["idf1"] == 1.0 and identity["mota"] == 1.0
    assert (identity["tracks_gt"], identity["tracks_pred"]) == (3, 3)
    assert identity["track_mapping"] == {f"animal_{i}": f"animal_{i}" for i in range(3)}


def test_sample_with_two_tracks_swapped_halfway(sample_paths):
    truth = sio.load_slp(str(sample_paths.ground_truth))
    pred = sio.load_slp(str(sample_paths.ground_truth))
    by_name = {track.name: track for track in pred.tracks}
    swap = {"animal_0": by_name["animal_1"], "animal_1": by_name["animal_0"]}
    for lf in pred.labeled_frames:
        if lf.frame_idx >= 150:
            for inst in lf.instances:
                inst.track = swap.get(inst.track.name, inst.track)
    m = evaluate_labels(truth, pred)
    identity = m["identity"]
    assert m["oks_map"] == pytest.approx(1.0)
    assert identity["id_switches"] == 2
    # 150 + 150 pairs of the swapped animals and 300 of the third are kept.
    assert identity["idtp"] == 600
    assert identity["idf1"] == pytest.approx(2 / 3)
    assert identity["identity_correct_fraction"] == pytest.approx(2 / 3)
    assert identity["mota"] == pytest.approx(1 - 2 / 900)
    assert identity["track_mapping"]["animal_2"] == "animal_2"


def test_named_right_counts_names_without_a_mapping():
    # An ID model names animals with the labels' own tracks: a swap is wrong even though a
    # mapping would call it consistent.
    frames = [_frame([("a", "a"), ("b", "b")]) for _ in range(3)]
    frames += [_frame([("a", "b"), ("b", "a")])]
    m = identity_metrics(frames)
    assert m["named_right_fraction"] == pytest.approx(6 / 8)
    assert m["per_track_named_right"] == {"a": 0.75, "b": 0.75}
    report = format_report({"identity": m, "n_frames": 4})
    assert "Named right (same track name): 75.0%; per track: a 75.0%, b 75.0%" in report
