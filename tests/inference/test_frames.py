"""Which frames to predict on: typed selections and the frames they pick."""

from __future__ import annotations

import pytest

from napari_sleap_train.choices import FrameTarget
from napari_sleap_train.errors import InferenceError
from napari_sleap_train.inference.frames import FrameSelection, select_frames
from napari_sleap_train.io.project import load_project


@pytest.fixture
def project(sample_paths):
    return load_project(sample_paths.project)


def test_frame_selections(project):
    video = project.videos[0]
    labelled = project.labelled_frame_indices(video)
    suggested = select_frames(project, video, FrameSelection.parse("suggested"))
    assert suggested == sorted(set(project.suggested_frames(video)) - labelled)
    assert select_frames(project, video, FrameSelection.parse("labeled")) == sorted(labelled)
    everything = select_frames(project, video, FrameSelection.parse("all"))
    assert len(everything) == 300 - len(labelled) and not set(everything) & labelled
    rand = select_frames(project, video, FrameSelection.parse("random:10"))
    assert len(rand) == 10 and not set(rand) & labelled
    assert rand == select_frames(project, video, FrameSelection.parse("random:10"))
    assert select_frames(project, video, FrameSelection.parse("10:15")) == [
        f for f in range(10, 15) if f not in labelled
    ]
    assert select_frames(project, video, FrameSelection.parse("13")) == [13]
    assert select_frames(project, video, FrameSelection.of([5, 3, 5])) == [3, 5]
    with pytest.raises(InferenceError, match="Unknown frame selection"):
        FrameSelection.parse("every other")
    assert FrameSelection.parse("random:7") == FrameSelection(FrameTarget.RANDOM, count=7)
    assert FrameSelection.parse("5:") == FrameSelection(FrameTarget.RANGE, start=5)
    with pytest.raises(InferenceError, match="outside the video"):
        select_frames(project, video, FrameSelection.of([400]))
