"""Suggestions from a trained model: uncertainty under rotation, novelty of poses, and the
mix spread over the video."""

from __future__ import annotations

import numpy as np
import pytest

from napari_sleap_train.inference.predictor import FramePrediction
from napari_sleap_train.suggestions.from_model import (
    FrameDoubt,
    frame_novelty,
    pick_spread,
    pose_novelty,
    rank_doubts,
    rotate_frames,
    suggest_with_model,
    tta_doubt,
)

POSE = np.array([[0, 0], [10, 0], [20, 0], [20, 10]], float)  # 20 px wide


def _pred(points: np.ndarray, scores: float = 1.0) -> FramePrediction:
    points = np.asarray(points, float).reshape(-1, 4, 2)
    n = len(points)
    return FramePrediction(0, points, np.full((n, 4), scores), np.ones(n))


def test_a_pose_that_stays_put_under_rotation_is_sure_and_one_that_moves_is_not():
    base = _pred([POSE + 100])
    assert tta_doubt(base, [POSE[None] + 100, POSE[None] + 100]) == pytest.approx(0.0)
    moved = POSE[None] + 100
    moved[0, 3] += [0, 4]  # one body part moves by twice a tenth of the 20 px animal
    assert tta_doubt(base, [moved, moved]) == pytest.approx(0.5 / 4)  # (1 + 0) / 2 on 1 of 4
    lost = moved.copy()
    lost[0, 0] = np.nan  # found in one prediction only
    assert tta_doubt(base, [lost, lost]) > tta_doubt(base, [moved, moved])
    # weak peaks count even when nothing moves; an animal found only after rotation counts 1
    assert tta_doubt(_pred([POSE + 100], 0.2), [POSE[None] + 100] * 2) == pytest.approx(0.4)
    extra = np.concatenate([POSE[None] + 100, POSE[None] + 300])
    assert tta_doubt(base, [extra, extra]) == pytest.approx(0.5)


def test_animals_no_prediction_finds_are_full_doubt():
    nothing = FramePrediction(0, np.zeros((0, 4, 2)), np.zeros((0, 4)), np.zeros(0))
    empty = np.zeros((0, 4, 2))
    assert tta_doubt(nothing, [empty, empty]) == 0.0  # no animals expected, none found
    assert tta_doubt(nothing, [empty, empty], expected=2) == pytest.approx(1.0)
    one = _pred([POSE + 100])
    assert tta_doubt(one, [POSE[None] + 100] * 2, expected=2) == pytest.approx(0.5)
    assert frame_novelty(np.zeros(0), missing=2) == 1.0 and frame_novelty(np.zeros(0), 0) == 0
    assert frame_novelty(np.array([0.2, 1.5]), missing=1) == 1.5
    doubts = [
        FrameDoubt(0, 0.1, 0.1, 2),
        FrameDoubt(5, tta_doubt(nothing, [empty, empty], 2), frame_novelty(empty, 2), 0, missing=2),
    ]
    rank_doubts(doubts, "mix", 15.0)
    assert pick_spread(doubts, 1, 1)[0].frame == 5
    assert doubts[1].reason == "unsure: 2 animals fewer than labelled frames hold"


def test_novelty_is_the_distance_to_the_nearest_labelled_pose_centred_and_scaled():
    labelled = np.stack([POSE, POSE * 2 + 50])  # the same pose, larger and elsewhere
    assert pose_novelty((POSE * 3 + 7)[None], labelled)[0] == pytest.approx(0.0, abs=1e-9)
    turned = POSE[:, ::-1].copy()  # the animal facing another way
    assert pose_novelty(turned[None], labelled)[0] > 0.3
    missing = POSE.copy()
    missing[1] = np.nan  # body parts only one of the poses has are left out
    assert pose_novelty(missing[None], labelled)[0] < pose_novelty(turned[None], labelled)[0]
    assert pose_novelty(POSE[None], labelled[:0])[0] == 1.0  # nothing labelled: all new


def test_rotated_frames_map_back_to_the_same_pixels():
    frames = np.zeros((1, 60, 80, 1), np.uint8)
    frames[0, 20, 50] = 255
    turned, back = rotate_frames(frames, 30.0)
    y, x = np.unravel_index(turned[0, ..., 0].argmax(), turned.shape[1:3])
    assert np.allclose(np.array([x, y], float) @ back[:, :2].T + back[:, 2], [50, 20], atol=1.0)


def test_the_mix_ranks_both_kinds_of_doubt_and_keeps_picks_apart():
    doubts = [
        FrameDoubt(f, u, v, 1)
        for f, u, v in [(0, 0.9, 0.0), (5, 0.8, 0.0), (40, 0.0, 0.9), (80, 0.1, 0.1)]
    ]
    rank_doubts(doubts, "mix", 15)
    picked = pick_spread(doubts, 3, min_gap=10)
    assert [d.frame for d in picked] == [0, 40, 80]  # frame 5 is too close to frame 0
    assert picked[0].reason.startswith("unsure") and picked[1].reason.startswith("new pose")
    rank_doubts(doubts, "novelty", 15)
    assert pick_spread(doubts, 1, 10)[0].frame == 40


def test_a_new_pose_once_taken_counts_as_labelled_so_picks_show_different_poses():
    labelled = POSE[None]
    turned = POSE[:, ::-1].copy()  # facing another way: far from the labelled pose
    bent = POSE.copy()
    bent[3] = [20, -10]  # one body part elsewhere: new, but less so
    doubts = []
    for f, pose in [(0, turned), (50, turned + 30), (100, bent)]:
        pred = _pred([pose])
        nov = pose_novelty(pred.points, labelled)
        doubts.append(FrameDoubt(f, 0.0, frame_novelty(nov, 0), 1, pred, animal_novelty=nov))
    assert doubts[1].novelty > doubts[2].novelty
    for method in ("novelty", "mix"):
        for d in doubts:  # fresh from the labelled poses alone
            d.novelty = frame_novelty(d.animal_novelty, 0)
        rank_doubts(doubts, method, 15)
        picked = pick_spread(doubts, 2, min_gap=10, method=method)
        assert [d.frame for d in picked] == [0, 100]  # not the same turned pose twice
        assert doubts[1].novelty == pytest.approx(0.0, abs=1e-9)  # now as if labelled
        if method == "novelty":
            assert "labelled or suggested pose" in picked[1].reason
        for d in doubts:
            d.animal_novelty = pose_novelty(d.prediction.points, labelled)
    rank_doubts(doubts, "uncertainty", 15)  # other methods take the scores as they are
    assert [d.frame for d in pick_spread(doubts, 3, 10, "uncertainty")] == [0, 50, 100]


def test_a_trained_model_suggests_spread_frames_with_reasons_and_predictions(
    sample_paths, bottom_up_run
):
    from napari_sleap_train.inference.pipelines import predictor_from_run
    from napari_sleap_train.io.project import load_project
    from napari_sleap_train.io.video import LazyVideo

    project = load_project(sample_paths.project)
    video = project.videos[0]
    labelled = project.labelled_frame_indices(video)
    candidates = [f for f in range(300) if f not in labelled]
    predictor = predictor_from_run(bottom_up_run, device="cpu")
    result = suggest_with_model(
        predictor,
        LazyVideo(video),
        candidates,
        project.user_instances_array(),
        5,
        sample_size=24,
        min_gap=20,
    )
    assert len(result.sampled) == 24 and len(result.chosen) == 5 and result.fps > 0
    frames = result.frames
    assert all(f in candidates for f in frames) and min(np.diff(frames)) >= 20
    assert all(d.reason and d.prediction.frame_idx == d.frame for d in result.chosen)
    assert result.chosen[0].score == max(d.score for d in result.sampled)
    assert max(d.uncertainty for d in result.sampled) > 0


def test_the_command_line_suggests_with_a_run_and_says_why(
    sample_paths, bottom_up_run, tmp_path, capsys
):
    import sleap_io as sio

    from napari_sleap_train.cli import main

    project = tmp_path / "sample.slp"
    project.write_bytes(sample_paths.project.read_bytes())
    before = len(sio.load_slp(str(project)).suggestions)
    out = tmp_path / "suggested.slp"
    args = ["suggest", str(project), "--method", "mix", "--n", "3", "--sample", "12"]
    # without --models it looks for runs in models/ beside the project: there are none
    assert main([*args, "-o", str(out)]) == 2
    assert "needs a trained run" in capsys.readouterr().err and not out.exists()
    assert main([*args, "--models", str(bottom_up_run), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "looked at 12 frames" in printed and printed.count("  frame ") == 3
    assert "added 3 suggestions" in printed
    assert len(sio.load_slp(str(out)).suggestions) == before + 3
