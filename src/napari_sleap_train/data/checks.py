"""Checks of the labelled data before a model trains, each refusal saying what to change."""

from __future__ import annotations

import torch

from ..config import BottomUpConfig, CenteredInstanceConfig, SingleInstanceConfig
from ..errors import DataError
from ..models.receptive_field import receptive_field_px
from .geometry import CropSizeReport, auto_crop_size, instance_bbox_sides, round_up
from .labelled import LabelledData

MIN_TRACK_INSTANCES = 5
"""Fewer labelled instances of a track than this get a warning before an ID model trains."""


def identity_classes(data: LabelledData) -> tuple[list[str], list[str]]:
    """The tracks an ID model learns (those of labelled instances, in the project's order)
    and notes for the user; :class:`DataError` when training cannot tell animals apart."""
    present = torch.isfinite(data.anchors).all(-1)
    tracks = data.tracks if data.tracks is not None else torch.full(present.shape, -1)
    missing = present & (tracks < 0)
    if missing.any():
        rows = torch.nonzero(missing.any(1)).flatten().tolist()
        where = ", ".join(f"{data.frame_ids[r][1]}" for r in rows[:10])
        more = f" and {len(rows) - 10} more" if len(rows) > 10 else ""
        raise DataError(
            f"{int(missing.sum())} labelled instances have no track (frames {where}{more}). "
            "An ID model learns each animal's identity from its track: give every labelled "
            "instance its track (Tracks dock, or the instance's track in SLEAP), or choose a "
            "pipeline without ID."
        )
    counts = torch.bincount(tracks[present], minlength=len(data.track_names)).tolist()
    names = [name for name, count in zip(data.track_names, counts) if count]
    if len(names) < 2:
        raise DataError(
            f"The labelled instances hold {len(names)} track ({', '.join(names) or 'none'}): "
            "an ID model tells two or more animals apart. Label the other animals with their "
            "own tracks, or choose a pipeline without ID."
        )
    notes = [
        f"Identities: {', '.join(f'{n} ({c})' for n, c in zip(data.track_names, counts) if c)} "
        "labelled instances."
    ]
    few = [n for n, c in zip(data.track_names, counts) if 0 < c < MIN_TRACK_INSTANCES]
    if few:
        notes.append(
            f"Warning: {', '.join(few)} {'has' if len(few) == 1 else 'have'} fewer than "
            f"{MIN_TRACK_INSTANCES} labelled instances; label more of "
            f"{'it' if len(few) == 1 else 'them'} so the model learns to recognise "
            f"{'it' if len(few) == 1 else 'them'}."
        )
    return names, notes


def check_edges(data: LabelledData) -> None:
    """Refuse a skeleton without edges for a bottom-up model."""
    if not data.edges:
        raise DataError(
            "The bottom-up pipeline groups body parts into animals along the skeleton's edges "
            "(its part affinity fields need edges), but the skeleton has none. Add edges in "
            "the skeleton editor (or the labels file), or use the top-down pipeline."
        )


def receptive_field_note(
    data: LabelledData, cfg: SingleInstanceConfig | BottomUpConfig
) -> str | None:
    """A warning when the model's receptive field (on the original frame) is smaller than
    the largest labelled animal, with the max stride that would cover it."""
    sides = instance_bbox_sides(data.instances_array())
    if not len(sides):
        return None
    largest, scale = float(sides.max()), cfg.input_scaling
    convs = cfg.backbone.convs_per_block
    rf = receptive_field_px(cfg.backbone.max_stride, convs) / scale
    if rf >= largest:
        return None
    fits = [s for s in (8, 16, 32, 64) if receptive_field_px(s, convs) / scale >= largest]
    hint = (
        f"max stride {fits[0]} covers it"
        if fits
        else f"lower input scaling to {receptive_field_px(64, convs) / largest:.2f} with max "
        "stride 64"
    )
    return (
        f"The receptive field ({rf:.0f} px on the original frame) is smaller than the largest "
        f"labelled animal ({largest:.0f} px), so the model sees only part of it at a time: "
        f"{hint}."
    )


def frames_with_several_animals(data: LabelledData) -> list[tuple[int, int]]:
    """(video index, frame index) of the labelled frames that hold more than one animal."""
    present = torch.isfinite(data.points).all(-1).any(-1)  # (F, M): an instance with a node
    several = torch.nonzero(present.sum(1) > 1).flatten().tolist()
    return [data.frame_ids[i] for i in several]


def check_single_animal(data: LabelledData) -> None:
    """Refuse labels with two animals on a frame for a single-instance model, naming them."""
    several = frames_with_several_animals(data)
    if several:
        shown = ", ".join(f"video {v} frame {f}" for v, f in several[:5])
        more = f" and {len(several) - 5} more" if len(several) > 5 else ""
        raise DataError(
            f"The single-instance pipeline finds one animal per frame, but {len(several)} "
            f"labelled frame(s) hold more ({shown}{more}). Use the top-down pipeline, or "
            "delete the extra instances."
        )


def resolve_crop_size(
    data: LabelledData, cfg: CenteredInstanceConfig
) -> tuple[int, CropSizeReport]:
    """The crop size to train with and the auto-size report behind it.

    An explicit crop smaller than the largest labelled animal is refused with the auto value.
    """
    aug = cfg.augmentation
    report = auto_crop_size(
        data.instances_array(),
        cfg.backbone.max_stride,
        rotation_deg=aug.rotation_deg if aug.rotation else 0.0,
        scale_max=aug.scale_max if aug.scale else 1.0,
    )
    if cfg.crop_size is None:
        return report.size, report
    if cfg.crop_size < report.largest_side:
        least = round_up(report.largest_side, cfg.backbone.max_stride)
        raise DataError(
            f"Crop size {cfg.crop_size} px is smaller than the animals: the largest labelled "
            f"instance spans {report.largest_side:.0f} px. Use the auto crop size "
            f"({report.size} px, crop size None) or at least {least}."
        )
    return cfg.crop_size, report


def with_batch_size(dataset_len: int, batch_size: int) -> tuple[int, str]:
    """Clamp a batch size to the training set size, with a note when it was clamped."""
    if batch_size <= dataset_len:
        return batch_size, ""
    return dataset_len, (
        f"Batch size {batch_size} is larger than the training set ({dataset_len} samples); "
        f"using {dataset_len}. Label more frames to train with larger batches."
    )
