"""The declarative configuration: declarations, validation, JSON formats and presets."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from napari_sleap_train.choices import ModelKind, PipelineKind, Schedule
from napari_sleap_train.config import (
    FORMAT_VERSION,
    MODEL_CONFIGS,
    PIPELINE_MODELS,
    ConfigError,
    TrainingConfig,
    preset,
)
from napari_sleap_train.config.settings import walk

V1_FILE = Path(__file__).parents[1] / "files" / "config_v1_fast_cpu.json"


def test_a_file_of_the_first_format_still_loads():
    config = TrainingConfig.load(V1_FILE)
    expected = preset("fast-cpu")
    expected.pipeline.anchor_part = "thorax"
    expected.model("centered_instance").crop_size = 128
    expected.model("centroid").augmentation.hflip = True
    expected.model("centroid").optimization.time_limit_minutes = 2.5
    assert config == expected
    assert config.model("centroid").optimization.schedule is Schedule.COSINE
    assert list(config.models) == [ModelKind.CENTROID, ModelKind.CENTERED_INSTANCE]


def test_json_round_trip_writes_the_current_format(tmp_path):
    config = preset("fast-cpu")
    config.model("centered_instance").optimization.epochs = 7
    saved = json.loads(config.save(tmp_path / "c.json").read_text())
    assert saved["format_version"] == FORMAT_VERSION
    assert list(saved["models"]) == ["centroid", "centered_instance"]
    assert saved["models"]["centroid"]["optimization"]["schedule"] == "cosine"
    assert TrainingConfig.load(tmp_path / "c.json") == config
    assert TrainingConfig.from_dict({}) == TrainingConfig()  # missing settings: defaults


def test_every_problem_of_a_file_is_reported_at_once():
    data = {
        "centroid": {"sigma": "big", "optimization": {"epochs": 2.5, "batch_size": True}},
        "pipeline": None,
        "colour": "red",
        "models": {"centered_instance": {"crop_size": -16}, "bottom_up": {}},
    }
    with pytest.raises(ConfigError) as info:
        TrainingConfig.from_dict(data)
    problems = info.value.problems
    assert problems["colour"] == "unknown setting; check its spelling."
    assert "must be a set of settings" in problems["pipeline"]
    assert problems["centroid"] == "unknown setting; check its spelling."  # belongs in models
    assert "outside the range" in problems["models.centered_instance.crop_size"]
    assert "not a model of the top-down pipeline" in problems["models.bottom_up"]
    data.pop("models")  # format 1: the model parts at the top
    problems = pytest.raises(ConfigError, TrainingConfig.from_dict, data).value.problems
    assert problems["models.centroid.sigma"] == "'big' is not a number (default 2.5)."
    assert "2.5 is not a whole number" in problems["models.centroid.optimization.epochs"]
    assert "True is not a whole number" in problems["models.centroid.optimization.batch_size"]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[]", "must hold a set of settings"),
        ('"abc"', "must hold a set of settings"),
        ("{not json", "not valid JSON"),
        ('{"format_version": 99}', "newer than this version reads"),
    ],
)
def test_unreadable_files_say_why(tmp_path, text, words):
    path = tmp_path / "config.json"
    path.write_text(text)
    with pytest.raises(ConfigError, match=words):
        TrainingConfig.load(path)
    with pytest.raises(ConfigError, match="does not exist"):
        TrainingConfig.load(tmp_path / "none.json")


def test_ranges_choices_and_rules_come_from_the_declarations():
    config = TrainingConfig()
    centroid, instance = config.model("centroid"), config.model("centered_instance")
    centroid.augmentation.hflip_prob = 2
    centroid.augmentation.contrast_min_gamma = 3.0
    centroid.optimization.validation_fraction = 1.0
    centroid.backbone.max_stride = 12
    instance.backbone.output_stride = 32
    instance.crop_size = 100
    config.pipeline.peak_threshold = 0
    config.precision = "fp8"
    config.device = "tpu"
    problems = config.problems()
    assert "must be between 0 and 1" in problems["models.centroid.augmentation.hflip_prob"]
    assert (
        "needs contrast_min_gamma <= contrast_max_gamma"
        in (problems["models.centroid.augmentation.contrast_min_gamma"])
    )
    assert "must be in [0, 1)" in problems["models.centroid.optimization.validation_fraction"]
    assert "12 is not a power of two" in problems["models.centroid.backbone.max_stride"]
    assert (
        "larger than max stride 16" in problems["models.centered_instance.backbone.output_stride"]
    )
    assert (
        "not a multiple of max stride 16; use 96 or 112"
        in (problems["models.centered_instance.crop_size"])
    )
    assert "must be in (0, 1)" in problems["pipeline.peak_threshold"]
    assert "'fp8' is unknown" in problems["precision"]
    assert "'tpu' is unknown" in problems["device"]
    with pytest.raises(ConfigError):
        config.validate()


def test_every_pipeline_is_built_and_needs_its_own_models():
    assert set(PIPELINE_MODELS) == set(PipelineKind)
    with pytest.raises(ConfigError, match="no bottom_up model"):
        TrainingConfig().model("bottom_up")
    config = TrainingConfig()
    config.pipeline.kind = PipelineKind.BOTTOM_UP
    assert "a bottom-up pipeline trains bottom_up" in config.problems()["models"]


def test_every_setting_is_declared_with_words():
    for cls in MODEL_CONFIGS.values():
        for path, decl in walk(cls):
            assert decl.label and decl.help.endswith("."), path
    settings = dict(walk(type(TrainingConfig().pipeline)))
    assert settings["time_budget_minutes"].unit == "min"
    assert settings["peak_threshold"].range_text() == "in (0, 1)"


def test_presets_differ_only_in_how_they_train():
    sleap, fast = preset("sleap"), preset("fast-cpu")
    for kind in sleap.models:
        a, b = sleap.model(kind), fast.model(kind)
        assert dataclasses.replace(a, optimization=b.optimization) == b
    with pytest.raises(ConfigError, match="'turbo' is unknown"):
        preset("turbo")
