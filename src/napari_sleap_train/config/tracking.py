"""The tracking part: SLEAP's tracker settings."""

from __future__ import annotations

from dataclasses import dataclass

from ..choices import Candidates, Matching, Similarity, Smoothing, TrackerMethod
from .settings import Rule, Setting


@dataclass
class TrackingConfig:
    """SLEAP's tracker: how predicted instances keep their identity from frame to frame."""

    method: TrackerMethod = Setting(
        "Tracker method",
        "simple compares each animal with the tracks' earlier instances; flow first shifts "
        "those instances into the new frame by optical flow (better for fast animals or "
        "skipped frames, a little slower); none leaves predictions without tracks.",
    ).field(TrackerMethod.SIMPLE)
    max_tracks: int | None = Setting(
        "Max tracks",
        "At most this many tracks (set it to the number of animals). Once reached, an "
        "animal that matches no track is left untracked instead of starting a new one.",
        lo=1,
        none="no limit",
    ).field(None)
    similarity: Similarity = Setting(
        "Similarity",
        "centroid: distance of the animals' centres, scaled to their size (robust to "
        "turning animals and skipped frames); oks: node by node, scaled to the size; "
        "instance: SLEAP's, node distances in pixels (only for consecutive frames); iou: "
        "overlap of the bounding boxes.",
    ).field(Similarity.CENTROID)
    size_cue: bool = Setting(
        "Compare body sizes",
        "Multiply the similarity by how alike the bodies' sizes are (their node-to-node "
        "distances), so animals of different sizes are not confused after a fast move. For "
        "animals of one size it changes nothing.",
    ).field(True)
    matching: Matching = Setting(
        "Match",
        "hungarian: the best assignment of all animals of a frame at once; greedy: the "
        "most similar pair first.",
    ).field(Matching.HUNGARIAN)
    window: int = Setting(
        "Track window",
        "How many earlier frames (or instances per track) a new instance is compared with.",
        unit="frames",
        lo=1,
        hi=1000,
    ).field(5)
    candidates: Candidates = Setting(
        "Candidates",
        "window: the instances of the last frames; queues: the last instances of every "
        "track, so a track hidden for a while is found again.",
    ).field(Candidates.AUTO)
    robust_quantile: float = Setting(
        "Robust quantile",
        "Quantile of the similarities to a track's candidates that counts (1 = the best "
        "one); lower values ignore a single lucky candidate.",
        lo=0,
        hi=1,
        lo_open=True,
        step=0.05,
    ).field(1.0)
    min_similarity: float = Setting(
        "Min similarity",
        "An animal less similar than this to every track starts a new track (or stays "
        "untracked at max tracks) instead of a forced match.",
        lo=0,
        hi=1,
        hi_open=True,
        step=0.05,
    ).field(0.0)
    connect_breaks: bool = Setting(
        "Connect single track breaks",
        "When exactly one track ends and exactly one new track starts right after it, "
        "join them into one.",
    ).field(True)
    target_instances: int | None = Setting(
        "Target instance count",
        "Before tracking, keep at most this many predicted animals per frame: overlapping "
        "duplicates first, then the lowest scores go.",
        lo=1,
        none="keep all",
    ).field(None)
    cull_iou: float = Setting(
        "Cull overlap",
        "With a target count, an animal whose box overlaps a better-scored one by more "
        "than this IoU is dropped first.",
        lo=0,
        hi=1,
        lo_open=True,
        step=0.05,
    ).field(0.8)
    flow_window: int = Setting(
        "Flow window",
        "Side of the optical-flow search window (flow tracker).",
        unit="px",
        lo=3,
        hi=201,
    ).field(21)
    flow_levels: int = Setting(
        "Flow pyramid levels",
        "Image pyramid levels of the optical flow; more follow larger motion.",
        lo=0,
        hi=8,
    ).field(3)

    smoothing: Smoothing = Setting(
        "Smoothing",
        "After tracking, smooth each animal's body parts over time. kalman: a Kalman "
        "smoother that sets aside a body part jumping far for a frame or two and fills "
        "short gaps, giving every body part an uncertainty; median and savgol: the "
        "movement package's filters (an optional extra). The raw predictions are kept.",
    ).field(Smoothing.NONE)
    max_gap: int = Setting(
        "Max gap",
        "Smoothing fills a body part or an animal missing for at most this many frames "
        "between two predictions; longer gaps stay empty.",
        unit="frames",
        lo=0,
        hi=1000,
    ).field(10)
    smoothing_window: int = Setting(
        "Smoothing window",
        "Frames of the running median or the Savitzky-Golay filter.",
        unit="frames",
        lo=3,
        hi=101,
    ).field(5)

    @property
    def enabled(self) -> bool:
        """Whether predictions get tracks."""
        return TrackerMethod(self.method) is not TrackerMethod.NONE

    @property
    def uses_queues(self) -> bool:
        """Per-track queues (explicitly, or by default when the track count is capped)."""
        kind = Candidates(self.candidates)
        return kind is Candidates.QUEUES or (
            kind is Candidates.AUTO and self.max_tracks is not None
        )

    def rules(self) -> Rule:
        if self.flow_window % 2 == 0:
            yield "flow_window", f"{self.flow_window} is even; use {self.flow_window + 1}."
