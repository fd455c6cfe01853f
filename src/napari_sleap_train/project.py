"""Kept so that ``from napari_sleap_train.project import load_project`` keeps working: the
labelled project lives in :mod:`napari_sleap_train.io.project`."""

from .io.project import (
    Project,
    drop_overlapping_predictions,
    instances_overlap,
    load_labels,
    load_project,
    save_labels_atomic,
    video_name,
)

__all__ = [
    "Project",
    "drop_overlapping_predictions",
    "instances_overlap",
    "load_labels",
    "load_project",
    "save_labels_atomic",
    "video_name",
]
