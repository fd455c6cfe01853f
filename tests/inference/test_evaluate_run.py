"""A trained run measured on the project's labels: the frames it held out, else all."""

from __future__ import annotations

import pytest

from napari_sleap_train.errors import InferenceError
from napari_sleap_train.inference.evaluate_run import evaluate_run, labelled_frames
from napari_sleap_train.io.project import load_project
from napari_sleap_train.models.folder import ModelFolder


def test_the_run_is_measured_on_the_frames_it_held_out(sample_paths, bottom_up_run):
    project = load_project(sample_paths.project)
    held = ModelFolder(bottom_up_run / "bottom_up").read_info().validation_frames
    labelled = labelled_frames(project)
    assert held and all(f in labelled[v] for v, _, f in held)
    assert len(held) < sum(len(frames) for frames in labelled.values())
    result = evaluate_run(project, bottom_up_run)
    assert result.held_out and result.n_frames == len(held)
    m = result.metrics
    assert m["n_frames"] == len(held) and m["instances_gt"] == 3 * len(held)
    assert m["found_fraction"] > 0.5 and m["dist_p50"] < 10
    # the sample's instances carry tracks; a bottom-up run names none of them
    assert m["identity"]["named_right_fraction"] == 0.0
    text = result.report()
    assert text.startswith(f"Measured on the {len(held)} labelled frames the run held out")
    assert "Identity:" in text and "Named right" not in text  # no names were learnt


def test_without_its_held_out_frames_every_labelled_frame_counts(sample_paths, bottom_up_run):
    project = load_project(sample_paths.project)
    held = {f for _, _, f in ModelFolder(bottom_up_run / "bottom_up").read_info().validation_frames}
    labels = project.labels
    labels.labeled_frames = [lf for lf in labels.labeled_frames if lf.frame_idx not in held]
    result = evaluate_run(project, bottom_up_run)
    assert not result.held_out
    assert result.n_frames == sum(len(f) for f in labelled_frames(project).values())
    assert "frames it trained on flatter these figures" in result.report()


def test_another_skeleton_is_refused(sample_paths, bottom_up_run):
    project = load_project(sample_paths.project)
    project.labels.skeletons[0].nodes[0].name = "renamed"
    with pytest.raises(InferenceError, match="another skeleton"):
        evaluate_run(project, bottom_up_run)
