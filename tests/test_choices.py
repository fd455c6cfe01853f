"""The typed choices: values for files, labels for the docks."""

from __future__ import annotations

import pytest

from napari_sleap_train.choices import (
    CameraView,
    Candidates,
    FrameTarget,
    Preset,
    Schedule,
    VideoScope,
)


def test_choices_read_values_and_labels_and_name_the_others():
    assert Preset.parse("fast-cpu") is Preset.FAST_CPU
    assert Preset.parse("fast CPU") is Preset.FAST_CPU
    assert FrameTarget.SUGGESTED.label == "suggested frames"
    assert str(Schedule.COSINE) == "cosine" and f"{Schedule.COSINE}" == "cosine"
    assert Schedule.COSINE == "cosine"  # string enums compare with their values
    with pytest.raises(ValueError, match="'linear' is unknown; use plateau or cosine"):
        Schedule.parse("linear")


def test_members_of_two_choices_with_one_value_keep_their_own_labels():
    from napari_sleap_train.choices import FrameTarget

    assert CameraView.AUTO == Candidates.AUTO  # equal as strings ("auto") ...
    assert CameraView.AUTO.label == "auto (from the labels)"  # ... yet labelled apart
    assert Candidates.AUTO.label == "auto (per-track queues when max tracks is set)"
    assert (VideoScope.ALL.label, FrameTarget.ALL.label) == ("all videos", "entire video")
    assert VideoScope.parse("all videos") is VideoScope.ALL
