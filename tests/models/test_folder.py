"""Model folders as a type: metadata round trip, the first format, clear errors."""

from __future__ import annotations

import json

import pytest

from napari_sleap_train.choices import ModelKind, PipelineKind
from napari_sleap_train.errors import ModelFolderError
from napari_sleap_train.models import UNetSpec
from napari_sleap_train.models.folder import ModelFolder, ModelInfo, RunFolder, runs_in

INFO = ModelInfo(
    kind=ModelKind.CENTERED_INSTANCE,
    node_names=["head", "tail"],
    flip_index=[0, 1],
    anchor_part=None,
    input_scaling=1.0,
    sigma=2.5,
    in_channels=1,
    n_maps=2,
    input_hw=(96, 96),
    frame_hw=(384, 384),
    backbone=UNetSpec(in_channels=1, filters=8, max_stride=8, output_stride=4),
    crop_size=96,
)


def test_info_round_trips_and_reads_the_first_format(tmp_path):
    folder = ModelFolder(tmp_path)
    folder.write_info(INFO)
    (tmp_path / "best.pt").write_bytes(b"")
    assert folder.read_info() == INFO
    assert (INFO.max_stride, INFO.output_stride) == (8, 4)
    first = {k: v for k, v in INFO.to_dict().items() if k not in ("pipeline", "versions")}
    first.update(format_version=1, max_stride=8, output_stride=4)  # as format 1 wrote it
    folder.info_file.write_text(json.dumps(first))
    old = folder.read_info()
    assert old.pipeline is PipelineKind.TOP_DOWN and old.backbone == INFO.backbone
    assert old.class_names == []  # written before ID models: no identity head


def test_an_id_model_folder_names_its_tracks_and_rebuilds_its_head(tmp_path):
    import dataclasses

    import torch

    from napari_sleap_train.models.folder import build_model

    info = dataclasses.replace(
        INFO, kind=ModelKind.CENTERED_INSTANCE_ID, class_names=["f", "m"], class_units=16
    )
    folder = ModelFolder(tmp_path)
    folder.write_info(info)
    model = build_model(info)
    folder.save_best(model.state_dict())
    assert folder.read_info() == info
    loaded, _ = folder.load_model()
    assert loaded(torch.rand(1, 1, 96, 96)).shape == (1, 2 + 2, 24, 24)


def test_a_bottom_up_id_model_has_class_maps_and_no_identity_head(tmp_path):
    import dataclasses

    import torch

    from napari_sleap_train.models.folder import build_model

    info = dataclasses.replace(
        INFO, kind=ModelKind.BOTTOM_UP_ID, n_maps=2 + 3, class_names=["a", "b", "c"]
    )
    model = build_model(info)
    assert model.classes is None
    assert model(torch.rand(1, 1, 96, 96)).shape == (1, 5, 24, 24)


@pytest.mark.parametrize(
    ("content", "words"),
    [("{}", "lacks 'kind'"), ("[]", "does not describe a model"), ("{not json", "corrupt")],
)
def test_broken_metadata_is_a_clear_error(tmp_path, content, words):
    (tmp_path / "best.pt").write_bytes(b"")
    (tmp_path / "model_info.json").write_text(content)
    with pytest.raises(ModelFolderError, match=words):
        ModelFolder(tmp_path).read_info()
    data = INFO.to_dict() | {"n_maps": "two"}
    (tmp_path / "model_info.json").write_text(json.dumps(data))
    with pytest.raises(ModelFolderError, match="wrong kind"):
        ModelFolder(tmp_path).read_info()


def test_runs_are_listed_when_they_hold_every_model_trained(tmp_path):
    kinds = (ModelKind.CENTROID, ModelKind.CENTERED_INSTANCE)
    whole, half = RunFolder(tmp_path / "run_1"), RunFolder(tmp_path / "run_2")
    cancelled = RunFolder(tmp_path / "run_3")  # stopped before its first checkpoint
    for run, models in ((whole, kinds), (half, kinds[:1]), (cancelled, kinds)):
        for kind in models:
            run.model(kind).path.mkdir(parents=True)
            if run is not cancelled:
                run.model(kind).best.write_bytes(b"")
    assert runs_in(tmp_path, kinds) == [whole]
    assert runs_in(tmp_path, kinds[:1]) == [whole, half]
    assert RunFolder.new(tmp_path).path.name.startswith("run_")
    assert runs_in(tmp_path / "none", kinds) == []
