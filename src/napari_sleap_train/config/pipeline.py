"""The pipeline part: which pipeline it is, and how its models work together."""

from __future__ import annotations

from dataclasses import dataclass

from ..choices import CameraView, PipelineKind
from .settings import Setting


@dataclass
class PipelineConfig:
    """Which pipeline, and how its models work together."""

    kind: PipelineKind = Setting(
        "Pipeline type",
        "top-down: a centroid model finds each animal, a centered-instance model its body "
        "parts in a crop around it. single-instance: one model finds the body parts of the "
        "one animal on the whole frame (one network instead of two). bottom-up: one model "
        "finds every body part on the whole frame and groups them into animals along the "
        "skeleton's edges (for animals in close contact; the skeleton needs edges). "
        "top-down-id: top-down whose instance model also names each animal as one of the "
        "labelled tracks (animals that can be told apart; every labelled instance needs its "
        "track). bottom-up-id: one model finds every body part and a map per track, and "
        "groups the body parts by the track they belong to (no edges needed).",
    ).field(PipelineKind.TOP_DOWN)
    camera_view: CameraView = Setting(
        "Camera view",
        "from above: the animals turn freely in the image, so training rotates images by "
        "up to ±180°; from the side: they stay upright, so each model's own rotation "
        "(±15° by default) applies; auto: from above when the labelled animals face every "
        "direction, else from the side.",
    ).field(CameraView.AUTO)
    anchor_part: str | None = Setting(
        "Anchor part",
        "The body part that marks where an animal is. None uses the centre of its visible "
        "nodes; a part that is always visible and central (e.g. thorax) is best.",
        none="centre of visible nodes",
    ).field(None)
    peak_threshold: float = Setting(
        "Peak threshold",
        "Lowest confidence (0-1) at which an animal or a body part counts as found.",
        lo=0,
        hi=1,
        lo_open=True,
        hi_open=True,
        step=0.05,
    ).field(0.2)
    max_instances: int | None = Setting(
        "Max instances",
        "Keep at most this many animals per frame (the highest scores).",
        lo=1,
        none="no limit",
    ).field(None)
    time_budget_minutes: float | None = Setting(
        "Time budget",
        "Train every model for at most this many minutes in total; the centroid model gets "
        "about a third, the instance model the rest. Best checkpoints are kept.",
        unit="min",
        lo=0,
        lo_open=True,
        none="no budget",
        step=1,
    ).field(None)
    adapt_to_video: bool = Setting(
        "Learn from the whole video",
        "After a first training, predict frames sampled across every video of the project, "
        "keep the body parts that hold when the frame is rotated and agree with the frames "
        "before and after (pseudo-labels, kept in the run folder, never in your labels), "
        "and train again on them beside your labels. Costs the adaptation share of the time "
        "budget; helps most where later footage looks unlike the labelled frames.",
    ).field(False)
    adaptation_share: float = Setting(
        "Adaptation share",
        "Share of the time budget (or of the epochs, without a budget) for learning from "
        "the whole video.",
        lo=0,
        hi=1,
        lo_open=True,
        hi_open=True,
        step=0.05,
    ).field(0.4)
    pseudo_label_frames: int = Setting(
        "Pseudo-labelled frames",
        "Frames sampled evenly across the videos for pseudo-labels (each is predicted five "
        "times: as it is, rotated both ways, and with its two neighbours).",
        unit="frames",
        lo=1,
        hi=100000,
    ).field(100)
    learn_from_unlabelled: bool = Setting(
        "Learn from unlabelled frames",
        "Beside each labelled batch, show the model pairs of consecutive unlabelled frames "
        "from every video and teach it that body parts do not jump further than the labels "
        "move, and that poses look like the labelled ones (single-instance and "
        "centered-instance models). Each training step costs about half as much again.",
    ).field(False)
    unlabelled_pairs: int = Setting(
        "Unlabelled frame pairs",
        "Pairs of consecutive frames sampled evenly across the videos, decoded once.",
        unit="pairs",
        lo=1,
        hi=10000,
    ).field(64)
    unlabelled_weight: float = Setting(
        "Unlabelled loss weight",
        "How much the unlabelled losses count: 1 makes a body part that moves too far cost "
        "what a label that far off costs.",
        lo=0,
        lo_open=True,
        step=0.1,
    ).field(1.0)
    ensemble_size: int = Setting(
        "Ensemble members",
        "Train this many models of the pipeline, each from another random start, and "
        "predict with all of them: each body part is where most of them put it, and how "
        "far they disagree is its uncertainty (px), which smoothing over time uses to trust "
        "each frame. The members share the time budget, and predicting costs as many "
        "times as there are members. 1: one model.",
        unit="members",
        lo=1,
        hi=10,
    ).field(1)
    centroid_time_share: float = Setting(
        "Centroid time share",
        "Share of the time budget for the centroid model.",
        lo=0,
        hi=1,
        lo_open=True,
        hi_open=True,
    ).field(0.35)


# ----- tracking ----------------------------------------------------------------------------
