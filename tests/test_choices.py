"""The typed choices: values for files, labels for the docks."""

from __future__ import annotations

import pytest

from napari_sleap_train.choices import FrameTarget, Preset, Schedule


def test_choices_read_values_and_labels_and_name_the_others():
    assert Preset.parse("fast-cpu") is Preset.FAST_CPU
    assert Preset.parse("fast CPU") is Preset.FAST_CPU
    assert FrameTarget.SUGGESTED.label == "suggested frames"
    assert str(Schedule.COSINE) == "cosine" and f"{Schedule.COSINE}" == "cosine"
    assert Schedule.COSINE == "cosine"  # string enums compare with their values
    with pytest.raises(ValueError, match="'linear' is unknown; use plateau or cosine"):
        Schedule.parse("linear")
