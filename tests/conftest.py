"""Shared fixtures: the real SLEAP data beside the checkout and the built-in sample."""

from __future__ import annotations

from pathlib import Path

import pytest

from napari_sleap_train.choices import CameraView
from napari_sleap_train.config import TrainingConfig

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SLP_FILES = sorted(DATA.glob("*.slp")) if DATA.is_dir() else []


def require_data(name: str = "") -> Path:
    """Path to a file of ../shared/data, skipping the test when the folder is absent."""
    if not DATA.is_dir():
        pytest.skip(f"real SLEAP test data not found at {DATA}")
    path = DATA / name
    if not path.exists():
        pytest.skip(f"{path} not found")
    return path


@pytest.fixture(scope="session")
def sample_paths(tmp_path_factory):
    """The built-in sample project written once per test session."""
    from napari_sleap_train.sample.project import write_sample

    return write_sample(tmp_path_factory.mktemp("sample"))


@pytest.fixture(scope="session")
def bottom_up_run(sample_paths, tmp_path_factory) -> Path:
    """A bottom-up run trained once on the sample: 320 fixed steps at input scaling 0.5."""
    from napari_sleap_train.choices import ModelKind, PipelineKind
    from napari_sleap_train.io.project import load_project
    from napari_sleap_train.training.pipeline import pipeline_events

    # learning rate 3e-4: at 1e-3 (constant, no warm-up) whether 320 steps leave the
    # empty-map plateau was luck of the seed and the precision (seeds 0-3 in bfloat16:
    # loss on the labelled frames 0.011-0.0195 against 0.0212 for empty maps, the ReLUs
    # dying); at 3e-4 seeds 0-3 reached 0.003-0.005 in bfloat16, seeds 0-1 in float32 too
    config = TrainingConfig(device="cpu").for_pipeline(PipelineKind.BOTTOM_UP)
    # ±15° rotation: the sample's animals face every way, so auto would rotate ±180°,
    # which 320 steps do not learn well enough for the tests' checks of the dock's wiring
    config.pipeline.camera_view = CameraView.SIDE
    section = config.model(ModelKind.BOTTOM_UP)
    section.input_scaling = 0.5
    opt = section.optimization
    opt.learning_rate, opt.batches_per_epoch, opt.epochs = 3e-4, 40, 8
    out = tmp_path_factory.mktemp("bottom_up") / "models"
    list(pipeline_events(load_project(sample_paths.project), config, out))
    return out


@pytest.fixture(autouse=True, scope="session")
def _isolated_user_files(tmp_path_factory):
    """Keep the sample cache and persisted settings of the tests out of the user's home."""
    import os

    root = tmp_path_factory.mktemp("user")
    old = {
        k: os.environ.get(k) for k in ("NAPARI_SLEAP_TRAIN_CACHE", "NAPARI_SLEAP_TRAIN_SETTINGS")
    }
    os.environ["NAPARI_SLEAP_TRAIN_CACHE"] = str(root / "cache")
    os.environ["NAPARI_SLEAP_TRAIN_SETTINGS"] = str(root / "settings.json")
    yield
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def tiny_config(epochs: int = 2, batches: int = 4, lr: float = 1e-3) -> TrainingConfig:
    """Small networks and few batches, so a run takes seconds."""
    cfg = TrainingConfig(device="cpu")
    # the animals' own orientations: a few batches do not learn rotations of ±180°
    cfg.pipeline.camera_view = CameraView.SIDE
    for section in cfg.models.values():
        section.backbone.filters = 8
        section.backbone.max_stride = 8
        section.optimization.epochs = epochs
        section.optimization.batches_per_epoch = batches
        section.optimization.learning_rate = lr
    return cfg
