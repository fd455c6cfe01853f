"""Learning from unlabelled frames: body parts read from maps differentiably, a pose prior
learnt from the labelled poses, the temporal loss on real frame pairs, and a short run."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch

from napari_sleap_train.choices import ModelKind, PipelineKind
from napari_sleap_train.data.confmaps import node_confmaps
from napari_sleap_train.data.datasets import SingleInstanceData
from napari_sleap_train.data.labelled import load_labelled_data
from napari_sleap_train.io.project import load_project
from napari_sleap_train.sample.project import write_sample
from napari_sleap_train.training.events import TrainingStarted
from napari_sleap_train.training.pipeline import pipeline_events
from napari_sleap_train.training.unlabelled import (
    PosePrior,
    UnlabelledLoss,
    frame_pairs,
    soft_argmax,
)

from ..conftest import require_data, tiny_config

SHAPE = np.array([[0, -20], [0, 0], [0, 20], [-10, 8], [10, 8]], float)


def _turned(rng, n, noise=0.5):
    out = []
    for a in rng.uniform(-np.pi, np.pi, n):
        rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        out.append(SHAPE @ rot.T + rng.uniform(0, 300, 2) + rng.normal(0, noise, SHAPE.shape))
    return np.stack(out)


def test_soft_argmax_finds_a_peak_between_pixels_and_passes_gradients():
    pts = torch.tensor([[[37.3, 21.6], [10.0, 50.8]]])
    maps = node_confmaps(pts, 64, 64, sigma=2.5, stride=2).requires_grad_()
    found, peak = soft_argmax(maps, (64, 64), 2)
    assert torch.allclose(found, pts, atol=0.3)
    assert peak.min() > 0.8
    found.sum().backward()
    assert maps.grad.abs().sum() > 0


def test_the_pose_prior_accepts_turned_poses_and_refuses_a_displaced_body_part():
    rng = np.random.default_rng(0)
    prior, note = PosePrior.fit(_turned(rng, 40))
    assert prior is not None and note == ""
    fresh = _turned(rng, 20)
    assert (prior.errors(fresh) <= prior.threshold * 1.5).all()
    bad = fresh.copy()
    bad[:, 3] += 15  # a leg far off the body
    assert (prior.errors(bad) > 3 * prior.threshold).all()
    both = np.concatenate([fresh, bad])
    np.testing.assert_allclose(
        prior.torch_errors(torch.as_tensor(both)).numpy(), prior.errors(both), atol=1e-4
    )


def test_no_pose_prior_without_enough_body_parts_or_poses():
    rng = np.random.default_rng(1)
    assert "no pose prior" in PosePrior.fit(_turned(rng, 40)[:, :1])[1]
    assert "only the temporal loss" in PosePrior.fit(_turned(rng, 5))[1]


@pytest.fixture(scope="module")
def one_animal(tmp_path_factory):
    return write_sample(tmp_path_factory.mktemp("one"), n_animals=1)


def test_the_temporal_loss_counts_only_moves_beyond_the_labelled_motion(one_animal):
    project = load_project(one_animal.project)
    data = load_labelled_data(project)
    config = tiny_config().for_pipeline(PipelineKind.SINGLE_INSTANCE)
    section = config.model(ModelKind.SINGLE_INSTANCE)
    train = SingleInstanceData(data, list(range(data.n_frames)), section)
    pairs = frame_pairs(project, 6)
    assert len(pairs) == len(pairs.frames) >= 4  # real consecutive frames of the video
    unsup = UnlabelledLoss(
        pairs,
        data,
        train.input_hw,
        train.scale,
        train.output_stride,
        section.augmentation,
        section.sigma,
    )
    x, zoom = unsup.batch(3, torch.Generator().manual_seed(0))
    assert x.shape == (6, data.channels, *train.input_hw) and x.max() <= 1
    h, w = train.input_hw
    pts = torch.tensor([[[w / 2 + 3 * k, h / 2 - 2 * k] for k in range(train.n_maps)]] * 3)

    def maps(points):
        return node_confmaps(points, h, w, section.sigma, train.output_stride)

    def temporal(step: float) -> float:
        unsup.loss(torch.cat([maps(pts), maps(pts + step)]), zoom)
        return unsup.last["temporal"]

    # zoom: a frame pixel's size in the input (input scaling times the random scale)
    assert temporal(0.0) == 0 and temporal(0.5 * unsup.motion * float(zoom.min())) == 0
    far = temporal(3 * unsup.motion * float(zoom.max()))
    assert 0 < far <= unsup.full  # at most what a body part's map far off its label costs
    assert unsup.last["pose"] > 0  # the body parts on a line are no labelled pose


def test_a_run_learns_from_unlabelled_frames_and_logs_their_losses(one_animal, tmp_path):
    config = tiny_config(epochs=1, batches=3).for_pipeline(PipelineKind.SINGLE_INSTANCE)
    config.pipeline.learn_from_unlabelled = True
    config.pipeline.unlabelled_pairs = 6
    events = list(pipeline_events(load_project(one_animal.project), config, tmp_path / "run"))
    (started,) = [e for e in events if isinstance(e, TrainingStarted)]
    assert any("Learning from" in n and "pose prior" in n for n in started.notes)
    with open(tmp_path / "run" / "single_instance" / "training_log.csv") as f:
        row = next(csv.DictReader(f))
    assert float(row["temporal_loss"]) >= 0 and float(row["pose_loss"]) >= 0


def test_a_project_without_readable_video_frames_has_no_pairs_and_says_why():
    project = load_project(require_data("minimal_instance.pkg.slp"))
    pairs = frame_pairs(project, 8)
    assert len(pairs) == 0 and any("too short" in n for n in pairs.notes)
