"""Settings chosen from the frame size and the labelled animals' sizes."""

from __future__ import annotations

import numpy as np
import pytest

from napari_sleap_train.choices import ModelKind, PipelineKind
from napari_sleap_train.config import TrainingConfig
from napari_sleap_train.data.auto_settings import settings_from_data
from napari_sleap_train.models.receptive_field import receptive_field_px


def animals(*sides: float) -> np.ndarray:
    """One animal per side: three nodes spanning a square of that side."""
    return np.array([[[10, 10], [10 + s, 10 + s / 2], [10 + s / 2, 10 + s]] for s in sides], float)


def test_a_large_animal_is_scaled_down_to_what_it_needs_with_a_stride_that_covers_it():
    config = TrainingConfig().for_pipeline(PipelineKind.SINGLE_INSTANCE)
    out, notes = settings_from_data(config, animals(300, 400), (406, 720), cpu=True)
    section = out.model(ModelKind.SINGLE_INSTANCE)
    assert section.input_scaling == pytest.approx(0.3)  # 128 / 400, on 0.05 steps
    assert section.backbone.max_stride == 32  # 156 px covers 400 * 0.3 = 120 px, 76 does not
    assert receptive_field_px(32) >= 400 * 0.3 > receptive_field_px(16)
    assert "input scaling 0.30" in notes[0] and "needs no more than 128 px" in notes[0]
    assert config.model(ModelKind.SINGLE_INSTANCE).input_scaling == 0.5  # the input is kept


def test_small_animals_on_large_frames_trade_pixels_for_speed_on_the_cpu_only():
    config = TrainingConfig().for_pipeline(PipelineKind.BOTTOM_UP)
    cpu, notes = settings_from_data(config, animals(40, 40, 50), (1024, 1024), cpu=True)
    assert cpu.model(ModelKind.BOTTOM_UP).input_scaling == pytest.approx(0.8)  # 32 / 40 px
    assert "below 32 px" in notes[0]
    gpu, _ = settings_from_data(config, animals(40, 40, 50), (1024, 1024), cpu=False)
    assert gpu.model(ModelKind.BOTTOM_UP).input_scaling == 1.0
    mid, notes = settings_from_data(config, animals(90, 100), (1024, 1024), cpu=True)
    assert mid.model(ModelKind.BOTTOM_UP).input_scaling == pytest.approx(0.4)  # 384 / 1024
    assert "384² px trains fast" in notes[0]


def test_large_crops_are_resized_on_the_cpu_and_the_centroid_model_is_left_alone():
    config = TrainingConfig()
    out, notes = settings_from_data(config, animals(400, 380), (720, 720), cpu=True)
    instance = out.model(ModelKind.CENTERED_INSTANCE)
    assert 0 < instance.input_scaling < 1 and "resized to" in notes[-1]
    assert out.model(ModelKind.CENTROID) == config.model(ModelKind.CENTROID)
    gpu, _ = settings_from_data(config, animals(400, 380), (720, 720), cpu=False)
    assert gpu.model(ModelKind.CENTERED_INSTANCE).input_scaling == 1.0
    out.validate()


def test_without_labels_nothing_changes():
    config = TrainingConfig()
    out, notes = settings_from_data(config, np.zeros((0, 3, 2)), (100, 100), cpu=True)
    assert out == config and "Label an animal" in notes[0]


def test_small_animals_on_large_frames_train_on_crops_on_the_cpu():
    config = TrainingConfig().for_pipeline(PipelineKind.BOTTOM_UP)
    cpu, notes = settings_from_data(config, animals(40, 40, 50), (1024, 1024), cpu=True)
    section = cpu.model(ModelKind.BOTTOM_UP)
    # 50 px at scaling 0.8 is 40 px: crops of 128 px (the least) instead of 832 px frames
    assert section.training_crop == 160 and "training crops of 128 px" in notes[0]
    gpu, _ = settings_from_data(config, animals(40, 40, 50), (1024, 1024), cpu=False)
    assert gpu.model(ModelKind.BOTTOM_UP).training_crop is None
    # a large animal on a small frame: a crop would hold most of the frame anyway
    single = TrainingConfig().for_pipeline(PipelineKind.SINGLE_INSTANCE)
    big, notes = settings_from_data(single, animals(300, 400), (406, 720), cpu=True)
    assert big.model(ModelKind.SINGLE_INSTANCE).training_crop is None
    assert "training on whole frames" in notes[0]
    cpu.validate()


def test_bottom_up_drops_fragments_as_the_default_does_or_under_half_the_fewest_nodes():
    config = TrainingConfig().for_pipeline(PipelineKind.BOTTOM_UP)
    many = np.tile(animals(40), (2, 4, 1))  # two animals of 12 nodes
    out, notes = settings_from_data(config, many, (384, 384), cpu=True)
    assert out.model(ModelKind.BOTTOM_UP).min_instance_peaks == 3
    assert "min instance peaks 3 (the default for a skeleton of 12" in notes[-1]
    many[1, 4:] = np.nan  # one shows 4 body parts: animals that show few must stay
    out, notes = settings_from_data(config, many, (384, 384), cpu=True)
    assert out.model(ModelKind.BOTTOM_UP).min_instance_peaks == 2
    assert "half the fewest body parts of a labelled animal, 4" in notes[-1]
    few, _ = settings_from_data(config, animals(40)[:, :2], (384, 384), cpu=True)
    assert few.model(ModelKind.BOTTOM_UP).min_instance_peaks == 1  # two-node animals stay


def test_the_instance_crop_is_sized_for_the_rotation_training_will_use():
    rng = np.random.default_rng(0)
    body = np.array([[0, -150], [0, 0], [0, 150], [-60, 40], [60, 40]], float)
    free = []  # animals facing every way: auto trains them rotated by up to ±180°
    for i, a in enumerate(rng.uniform(-np.pi, np.pi, 12)):
        rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        free.append(body @ rot.T + [400 + 5 * i, 400])
    config = TrainingConfig()
    above, notes_above = settings_from_data(config, np.stack(free), (800, 800), cpu=True)
    config.pipeline.camera_view = "side"
    side, notes_side = settings_from_data(config, np.stack(free), (800, 800), cpu=True)
    scale = {
        v: c.model(ModelKind.CENTERED_INSTANCE).input_scaling
        for v, c in (("a", above), ("s", side))
    }
    assert scale["a"] < scale["s"]  # the ±180° crop is larger, so it is resized more
