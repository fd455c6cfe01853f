"""What a model trains on: its training and validation data, notes for the user, its
architecture and what its model folder records."""

from __future__ import annotations

import dataclasses

from ..choices import ModelKind
from ..config import TrainingConfig
from ..data.checks import (
    check_edges,
    check_single_animal,
    identity_classes,
    receptive_field_note,
    resolve_crop_size,
)
from ..data.datasets import (
    BottomUpData,
    BottomUpIdData,
    CentroidData,
    InstanceData,
    InstanceIdData,
    ModelData,
    SingleInstanceData,
)
from ..data.labelled import LabelledData, split_frames
from ..errors import DataError
from ..models import UNetSpec
from ..models.folder import ModelInfo, versions


def unet_spec(backbone, in_channels: int) -> UNetSpec:
    """The U-Net architecture of a model's backbone settings."""
    return UNetSpec(
        in_channels=in_channels,
        filters=backbone.filters,
        filters_rate=backbone.filters_rate,
        max_stride=backbone.max_stride,
        output_stride=backbone.output_stride,
        convs_per_block=backbone.convs_per_block,
    )


def datasets_for(
    kind: ModelKind, data: LabelledData, config: TrainingConfig
) -> tuple[ModelData, ModelData, list[str], dict]:
    """The training and validation data of model ``kind``, notes for the user, and what the
    model folder records beyond the configuration (the crop size)."""
    section = config.model(kind)
    split = split_frames(
        data.n_labelled, section.optimization.validation_fraction, section.optimization.seed
    )
    notes = [split.note] if split.note else []
    if data.weak and not kind.identities:
        pseudo = data.pseudo_rows()
        split = dataclasses.replace(split, train=split.train + pseudo)
        notes.append(f"Training beside {len(pseudo)} pseudo-labelled frames of the videos.")
    extra: dict = {}
    if kind is ModelKind.CENTROID:
        train, val = (
            CentroidData(data, split.train, section),
            CentroidData(data, split.val, section),
        )
    elif kind is ModelKind.BOTTOM_UP_ID:
        names, more = identity_classes(data)
        notes.extend(more)
        extra["class_names"] = names
        train = BottomUpIdData(data, split.train, section, names)
        val = BottomUpIdData(data, split.val, section, names)
        note = receptive_field_note(data, section)
        if note:
            notes.append(note)
    elif kind in (ModelKind.SINGLE_INSTANCE, ModelKind.BOTTOM_UP):
        if kind is ModelKind.SINGLE_INSTANCE:
            check_single_animal(data)
            cls = SingleInstanceData
        else:
            check_edges(data)
            cls = BottomUpData
        train, val = cls(data, split.train, section), cls(data, split.val, section)
        note = receptive_field_note(data, section)
        if note:
            notes.append(note)
    else:
        crop, report = resolve_crop_size(data, section)
        if section.crop_size is None:
            notes.append(report.message)
        extra["crop_size"] = crop
        if kind is ModelKind.CENTERED_INSTANCE_ID:
            names, more = identity_classes(data)
            notes.extend(more)
            extra["class_names"] = names
            train = InstanceIdData(data, split.train, section, crop, names)
            val = InstanceIdData(data, split.val, section, crop, names)
        else:
            train = InstanceData(data, split.train, section, crop)
            val = InstanceData(data, split.val, section, crop)
    if len(train) == 0:
        raise DataError("No labelled instance has a visible node to train on.")
    if set(split.val) != set(split.train):
        names = data.video_names
        extra["validation_frames"] = [
            (v, names[v] if v < len(names) else "", f)
            for v, f in (data.frame_ids[r] for r in split.val)
        ]
    return train, val, notes, extra


def model_info(
    kind: ModelKind,
    config: TrainingConfig,
    data: LabelledData,
    train: ModelData,
    spec: UNetSpec,
    extra: dict,
) -> ModelInfo:
    """What the model folder records of a ``kind`` model trained on ``train``."""
    section = config.model(kind)
    return ModelInfo(
        kind=kind,
        pipeline=config.pipeline.kind,
        node_names=data.node_names,
        flip_index=data.flip_index,
        anchor_part=config.pipeline.anchor_part,
        input_scaling=section.input_scaling,
        sigma=section.sigma,
        in_channels=data.channels,
        n_maps=train.n_maps,
        input_hw=train.input_hw,
        frame_hw=data.frame_hw,
        crop_size=extra.get("crop_size"),
        edges=[tuple(e) for e in data.edges] if kind is ModelKind.BOTTOM_UP else [],
        class_names=extra.get("class_names", []),
        validation_frames=extra.get("validation_frames", []),
        class_units=getattr(section, "class_units", 64),
        class_layers=getattr(section, "class_layers", 1),
        backbone=spec,
        versions=versions(),
    )
