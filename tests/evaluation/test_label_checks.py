"""Checking labels against the project's own poses: planted mistakes are flagged with
their reason, marks as correct silence them, and the command line prints them."""

from __future__ import annotations

import json

import numpy as np
import sleap_io as sio

from napari_sleap_train.cli import main
from napari_sleap_train.evaluation.label_checks import (
    LabelledInstances,
    check_labels,
    check_project,
    mark_correct,
    side_pairs,
)
from napari_sleap_train.io.project import load_project


def test_left_right_pairs_from_symmetries_or_names():
    names = ["head", "wingL", "wingR", "left_ear", "right_ear", "paw1LH", "paw4RH", "tail"]
    pairs = [(names[a], names[b]) for a, b in side_pairs(names)]
    assert pairs == [("wingL", "wingR"), ("left_ear", "right_ear"), ("paw1LH", "paw4RH")]
    assert side_pairs(names, [(2, 1)]) == [(1, 2)]


def _ground_truth(sample_paths):
    labels = sio.load_slp(str(sample_paths.ground_truth), open_videos=False)
    rows = [
        (lf.frame_idx, k, inst.numpy())
        for lf in labels.labeled_frames
        for k, inst in enumerate(lf.user_instances)
    ]
    pts = np.stack([r[2] for r in rows]).astype(float)
    return labels.skeletons[0], pts, [(0, f, k) for f, k, _ in rows]


def test_planted_mistakes_are_flagged_with_their_reasons(sample_paths):
    skeleton, pts, where = _ground_truth(sample_paths)
    names = skeleton.node_names
    pairs = side_pairs(names, skeleton.symmetry_inds)
    assert pairs
    pts = pts.copy()
    for a, b in pairs:  # instance 10: left and right exchanged
        pts[10, [a, b]] = pts[10, [b, a]]
    pts[20, 0] += 60  # instance 20: a node far away
    pts = np.concatenate([pts, pts[30:31] + 0.5])  # a duplicate of instance 30
    f, k = where[30][1], max(i for _, ff, i in where if ff == where[30][1]) + 1
    where = [*where, (0, f, k)]
    flags = check_labels(
        LabelledInstances(pts, where), names, skeleton.edge_inds, skeleton.symmetry_inds
    )
    by_row = {where.index((fl.video, fl.frame, fl.instance)): fl for fl in flags}
    assert "left/right swapped" in by_row[10].reasons
    assert f"{names[0]} is off the pose" in by_row[20].reasons
    assert any(r.startswith("duplicate of instance") for r in by_row[len(pts) - 1].reasons)
    assert len(flags) <= 6  # the sample's own poses are right
    scores = [fl.score for fl in flags]
    assert scores == sorted(scores, reverse=True)


def test_marked_correct_stays_silent_until_edited(sample_paths, tmp_path):
    labels = sio.load_slp(str(sample_paths.project))
    lf = labels.user_labeled_frames[2]
    inst = lf.user_instances[0]
    xy = inst.numpy().copy()
    xy[1] += 70
    lf.instances[lf.instances.index(inst)] = sio.Instance.from_numpy(xy, skeleton=inst.skeleton)
    path = tmp_path / "p.slp"
    sio.save_slp(labels, str(path))
    project = load_project(path)
    flag = next(f for f in check_project(project) if f.frame == lf.frame_idx)
    mark_correct(project, flag)
    assert lf.frame_idx not in [f.frame for f in check_project(project)]
    project.save(path)
    assert lf.frame_idx not in [f.frame for f in check_project(load_project(path))]


def test_check_prints_the_flags_as_json(sample_paths, tmp_path, capsys):
    labels = sio.load_slp(str(sample_paths.project))
    lf = labels.user_labeled_frames[5]
    inst = lf.user_instances[0]
    xy = inst.numpy().copy()
    xy[2] -= 70
    lf.instances[lf.instances.index(inst)] = sio.Instance.from_numpy(xy, skeleton=inst.skeleton)
    path = tmp_path / "p.slp"
    sio.save_slp(labels, str(path))
    assert main(["check", str(path), "--json"]) == 0
    flags = json.loads(capsys.readouterr().out)
    mine = [f for f in flags if f["frame"] == lf.frame_idx and f["instance"] == 0]
    assert len(mine) == 1 and set(mine[0]) == {"video", "frame", "instance", "reasons", "score"}
    assert main(["check", str(path)]) == 0
    assert "labelled instances flagged" in capsys.readouterr().out
