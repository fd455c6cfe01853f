"""What an ID model learns from: the labelled tracks, checked before anything trains."""

from __future__ import annotations

import pytest
import torch

from napari_sleap_train.choices import PipelineKind
from napari_sleap_train.config import TrainingConfig
from napari_sleap_train.data.checks import identity_classes
from napari_sleap_train.data.datasets import BottomUpIdData, InstanceIdData
from napari_sleap_train.data.labelled import load_labelled_data
from napari_sleap_train.errors import DataError
from napari_sleap_train.io.project import load_project


@pytest.fixture
def project(sample_paths):
    return load_project(sample_paths.project)


def test_the_sample_names_every_animal_and_the_targets_say_which(project):
    data = load_labelled_data(project)
    names, notes = identity_classes(data)
    assert names == ["animal_0", "animal_1", "animal_2"]
    assert notes == ["Identities: animal_0 (20), animal_1 (20), animal_2 (20) labelled instances."]
    cfg = TrainingConfig().for_pipeline(PipelineKind.TOP_DOWN_ID).models
    section = next(s for k, s in cfg.items() if k.crops)
    rows = list(range(data.n_frames))
    ds = InstanceIdData(data, rows, section, 112, names)
    x, y = ds.batch(torch.arange(len(ds)), torch.Generator().manual_seed(0), augment=False)
    assert y.shape[1] == len(project.node_names) + 3
    ids = y[:, -3:, 0, 0].argmax(1)
    frame_rows, inst = ds.samples.unbind(1)
    assert torch.equal(ids, data.tracks[frame_rows, inst])  # the sample's tracks are in order
    assert torch.equal(y[:, -3:].sum((1, 2, 3)), torch.full((len(ds),), float(y[0, 0].numel())))


def test_instances_without_a_track_are_named(project):
    frames = project.labels.labeled_frames
    frames[2].user_instances[0].track = None
    frames[5].user_instances[1].track = None
    with pytest.raises(DataError) as err:
        identity_classes(load_labelled_data(project))
    text = str(err.value)
    assert "2 labelled instances have no track" in text
    assert f"frames {frames[2].frame_idx}, {frames[5].frame_idx}" in text


def test_one_track_cannot_be_told_apart(project):
    only = project.tracks[0]
    for lf in project.labels.labeled_frames:
        for inst in lf.user_instances:
            inst.track = only
    with pytest.raises(DataError, match="hold 1 track \\(animal_0\\).*two or more"):
        identity_classes(load_labelled_data(project))


def test_a_track_with_few_labels_is_a_warning(project):
    rare, common = project.tracks[2], project.tracks[1]
    for lf in project.labels.labeled_frames[3:]:
        for inst in lf.user_instances:
            if inst.track is rare:
                inst.track = common
    names, notes = identity_classes(load_labelled_data(project))
    assert names == ["animal_0", "animal_1", "animal_2"]
    assert any("animal_2 has fewer than 5 labelled instances" in n for n in notes)


def test_validation_reports_both_losses_that_make_the_loss(project):
    data = load_labelled_data(project)
    names, _ = identity_classes(data)
    cfg = TrainingConfig().for_pipeline(PipelineKind.TOP_DOWN_ID).models
    section = next(s for k, s in cfg.items() if k.crops)
    ds = InstanceIdData(data, list(range(data.n_frames)), section, 112, names)
    _, y = ds.batch(torch.arange(6), torch.Generator().manual_seed(0), augment=False)
    pred = y.clone()
    pred[:, : ds.n_maps] += 0.1  # maps off by 0.1 everywhere
    pred[:, ds.n_maps :] = -5.0 * y[:, ds.n_maps :]  # every animal named wrong
    pred[0, ds.n_maps :] = 5.0 * y[0, ds.n_maps :]  # but the first
    m = ds.metrics(pred, y)
    assert m["val_confmap_loss"] == pytest.approx(0.01)
    assert m["val_identity_accuracy"] == pytest.approx(1 / 6)
    assert m["val_identity_loss"] > torch.log(torch.tensor(3.0))  # mostly confidently wrong
    expected = ds.loss(pred, y)
    weight = section.class_loss_weight
    assert expected == pytest.approx(m["val_confmap_loss"] + weight * m["val_identity_loss"])


def test_bottom_up_id_targets_mark_each_track_at_its_own_animals_nodes(project):
    data = load_labelled_data(project)
    names, _ = identity_classes(data)
    section = TrainingConfig().for_pipeline(PipelineKind.BOTTOM_UP_ID).models
    section = next(iter(section.values()))
    section.input_scaling = 0.5
    rows = list(range(4))
    ds = BottomUpIdData(data, rows, section, names)
    _, y = ds.batch(torch.arange(4), torch.Generator().manual_seed(0), augment=False)
    n = len(project.node_names)
    assert y.shape[1] == n + 3 and ds.n_maps == n + 3
    stride, scale = section.backbone.output_stride, section.input_scaling
    checked = 0
    for b, row in enumerate(rows):
        for j, track in enumerate(data.tracks[row].tolist()):
            if track < 0:
                continue
            for x, yy in data.points[row, j]:
                if not torch.isfinite(x):
                    continue
                c, r = round(float(x) * scale / stride), round(float(yy) * scale / stride)
                at = y[b, n:, r, c]
                assert at[track] > 0.5 and at.argmax() == track
                checked += 1
    assert checked >= 4 * 3 * n * 0.8
    pred = y.clone()
    pred[:, n:] = y[:, n:].flip(1)  # classes 0 and 2 swapped, 1 kept
    m = ds.metrics(pred, y)
    assert 0.2 < m["val_identity_accuracy"] < 0.5
    assert m["val_confmap_loss"] == 0 and m["val_identity_loss"] > 0
    assert ds.loss(pred, y) == pytest.approx(m["val_identity_loss"])
