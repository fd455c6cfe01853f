"""The camera view: from above the animals turn freely and training rotates by ±180°, from
the side they stay upright and each model keeps its own rotation; auto reads the labels."""

from __future__ import annotations

import numpy as np
import pytest

from napari_sleap_train.choices import CameraView, ModelKind
from napari_sleap_train.config import TrainingConfig
from napari_sleap_train.data.camera_view import orientation_alignment, resolve_camera_view

BODY = np.array([[0, -20], [0, 0], [0, 20], [-8, 5], [8, 5]], float)  # head up, legs


def turned(angles_deg) -> np.ndarray:
    """The body rotated by each angle, placed at different spots."""
    out = []
    for i, a in enumerate(np.deg2rad(angles_deg)):
        rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        out.append(BODY @ rot.T + [100 + 50 * i, 200])
    return np.stack(out)


def test_animals_facing_every_way_are_seen_from_above_and_rotate_fully():
    free = turned(np.random.default_rng(0).uniform(-180, 180, 30))
    assert orientation_alignment(free) < 0.3
    config, note = resolve_camera_view(TrainingConfig(), free)
    assert config.pipeline.camera_view is CameraView.ABOVE
    assert all(s.augmentation.rotation_deg == 180 for s in config.models.values())
    assert "from above" in note and "±180° for every model" in note
    assert TrainingConfig().pipeline.camera_view is CameraView.AUTO  # the input is kept


def test_upright_animals_are_seen_from_the_side_and_keep_their_rotation():
    upright = turned(np.random.default_rng(0).uniform(-10, 10, 30))
    assert orientation_alignment(upright) > 0.9
    config, note = resolve_camera_view(TrainingConfig(), upright)
    assert config.pipeline.camera_view is CameraView.SIDE
    assert config.model(ModelKind.CENTROID).augmentation.rotation_deg == 15
    assert "from the side" in note and "Centroid Model ±15°" in note


@pytest.mark.parametrize("view", [CameraView.ABOVE, CameraView.SIDE])
def test_a_chosen_view_wins_over_the_labels(view):
    config = TrainingConfig()
    config.pipeline.camera_view = view
    out, note = resolve_camera_view(config, turned([0, 0, 0]))
    assert out.pipeline.camera_view is view and "auto" not in note
    expected = 180 if view is CameraView.ABOVE else 15
    assert out.model(ModelKind.CENTERED_INSTANCE).augmentation.rotation_deg == expected


def test_too_few_animals_keep_the_models_own_rotation():
    config, note = resolve_camera_view(TrainingConfig(), turned([0, 90]))
    assert config.pipeline.camera_view is CameraView.SIDE and "fewer than 3" in note


def test_animals_walking_both_ways_seen_from_the_side_stay_upright():
    # a mouse from the side: nose, head, back, hips, tail along the body, nose to the left
    side = np.array([[-20, 0], [-10, -3], [0, -4], [10, -3], [20, 0]], float)
    animals = [side * [(-1) ** i, 1] + [60 * i, 100] for i in range(10)]  # every other faces right
    both_ways = np.stack(animals)
    assert orientation_alignment(both_ways) > 0.9  # along one line, though half face each way
    config, _ = resolve_camera_view(TrainingConfig(), both_ways)
    assert config.pipeline.camera_view is CameraView.SIDE


def test_animals_with_one_visible_part_say_nothing_of_their_direction():
    dots = turned(np.random.default_rng(1).uniform(-180, 180, 30))
    dots[:, 1:] = np.nan
    assert orientation_alignment(dots) is None
