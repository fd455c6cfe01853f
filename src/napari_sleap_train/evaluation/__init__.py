"""Pose-estimation metrics comparable with SLEAP's ``sleap.nn.evals``.

Predictions are matched to ground truth frame by frame with SLEAP's greedy OKS
matching (predictions in descending score order, each ground-truth instance used
at most once, a match needs OKS > 0). The matched pairs then give OKS, VOC-style
mAP/mAR, keypoint distances, PCK and node-visibility metrics.

Points are ``(n_instances, n_nodes, 2)`` float arrays in pixels; a node with a
NaN coordinate is invisible (ground truth) or missing (prediction). Instances
without a single visible node are dropped before matching.

OKS follows SLEAP (and COCO) exactly::

    d2    = sum((gt - pr) ** 2)                  per node
    scale = area of the bounding box of the visible ground-truth nodes
    ks    = exp(-d2 / (2 * sigma) ** 2 / (2 * (scale + eps)))
    oks   = mean of ks over ground-truth-visible nodes (ks = 0 where the
            prediction misses a node)

i.e. ``ks = exp(-d2 / (8 * sigma**2 * scale))`` with one ``sigma = 0.025`` for
every node.

Keys of the metrics dictionary (:func:`evaluate_frames`, :func:`evaluate_labels`);
every value is JSON-serialisable and an undefined number is ``None``:

======================  ===================================================================
Key                     Meaning
======================  ===================================================================
``oks_map``             OKS mAP as SLEAP reports it (``oks_voc.mAP``): mean over OKS
                        thresholds 0.50:0.05:0.95 of the 101-point interpolated average
                        precision of the matched pairs in descending score order (a pair is
                        a true positive when its OKS reaches the threshold); missed ground
                        truth lowers recall, extra predictions are not false positives.
``oks_mar``             OKS mAR: mean over the same thresholds of the recall, i.e. the
                        fraction of ground-truth instances matched with OKS >= threshold.
``oks_map_coco``        The stricter COCO convention: unmatched (extra) predictions enter
                        the curve as false positives. Equal to ``oks_map`` without extras.
``oks_ap``              Average precision per OKS threshold (``"0.50"`` ... ``"0.95"``).
``oks_ar``              Recall per OKS threshold (``"0.50"`` ... ``"0.95"``).
``oks_mean``            Mean OKS over matched pairs (SLEAP's ``oks.mOKS``); missed ground
                        truth and extra predictions do not enter it.
``pck``                 ``{"1", "2", "5", "10"}`` -> fraction of ground-truth-visible nodes
                        of matched pairs whose error is < that many pixels (strict, as in
                        SLEAP); a missing predicted node is a miss.
``pck_mean``            PCK averaged over the thresholds 1, 2, ..., 10 px (SLEAP's mPCK
                        thresholds, with the denominator of ``pck``).
``dist_mean``           Mean node error (px) over nodes visible in both ground truth and
                        prediction of matched pairs (SLEAP's ``dist.avg``).
``dist_p50``            Median node error (px) over the same nodes (SLEAP's ``dist.p50``).
``dist_p75``            75th percentile of the node errors (px).
``dist_p90``            90th percentile of the node errors (px).
``dist_p95``            95th percentile of the node errors (px).
``dist_p99``            99th percentile of the node errors (px).
``dist_per_node``       Node name -> ``{p50, p75, p90, p95, p99, mean, n}`` of that node's
                        errors (``n``: number of errors measured).
``vis_precision``       Predicted-visible nodes that are visible in the ground truth, over
                        all predicted-visible nodes of matched pairs.
``vis_recall``          Ground-truth-visible nodes that are predicted, over all
                        ground-truth-visible nodes of matched pairs.
``vis_tp``              Nodes visible in ground truth and prediction (matched pairs).
``vis_fp``              Nodes predicted but invisible in the ground truth.
``vis_fn``              Nodes visible in the ground truth but not predicted.
``vis_tn``              Nodes invisible in both.
``n_frames``            Ground-truth frames evaluated.
``instances_gt``        Ground-truth instances (with at least one visible node).
``instances_pred``      Predicted instances (with a visible node) in the evaluated frames.
``instances_matched``   Matched ground-truth/prediction pairs.
``instances_missed``    Ground-truth instances left unmatched (false negatives).
``instances_extra``     Predictions left unmatched (false positives).
``found_fraction``      ``instances_matched / instances_gt``.
``node_names``          Node names, in the order of the point arrays.
``sigma``               The OKS standard deviation used.
``videos_unmatched``    (:func:`evaluate_labels` only) ground-truth videos with no matching
                        prediction video; all their instances count as missed.
``identity``            (:func:`evaluate_labels` only, when a ground-truth instance has a
                        track) the tracking metrics of :func:`identity_metrics`, below.
======================  ===================================================================

Keys of ``identity`` (:func:`identity_metrics`). Frames are taken in (video, frame)
order with the pairs of the OKS matching above; tracks are compared by name. An
untracked prediction is an identity of its own (it never continues a track and is
never mapped); untracked ground-truth instances are left out, with the predictions
matched to them:

===============================  ==========================================================
Key                              Meaning
===============================  ==========================================================
``id_switches``                  CLEAR-MOT identity switches: frames where a ground-truth
                                 track's matched prediction has another track than the one
                                 it was last matched to (unmatched frames skipped).
``mota``                         ``1 - (misses + false_positives + id_switches) /
                                 instances_gt``.
``idf1``                         Identity F1 ``2 IDTP / (2 IDTP + IDFP + IDFN)`` under the
                                 one-to-one track mapping maximising IDTP (Ristani et al.).
``idp``, ``idr``                 Identity precision ``IDTP / instances_pred`` and recall
                                 ``IDTP / instances_gt``.
``idtp``, ``idfp``, ``idfn``     Matched pairs whose predicted track maps to their
                                 ground-truth track; ``instances_pred - idtp``;
                                 ``instances_gt - idtp``.
``identity_correct_fraction``    ``idtp`` over the matched ground-truth instances.
``named_right_fraction``         Matched ground-truth instances whose prediction has their
                                 own track's name (an ID model's accuracy, no mapping).
``per_track_named_right``        The same per ground-truth track (per-class accuracy).
``track_mapping``                Predicted track name -> ground-truth track name.
``tracks_gt``, ``tracks_pred``   Distinct ground-truth and predicted track names.
``instances_gt``                 Tracked ground-truth instances.
``instances_pred``               Predicted instances in the evaluated frames.
``misses``                       Tracked ground-truth instances left unmatched.
``false_positives``              Predictions left unmatched.
``untracked_gt``                 Ground-truth instances without a track (left out).
``untracked_pred``               Predictions without a track.
===============================  ==========================================================

Differences from SLEAP: a ground-truth frame without any prediction counts its
instances as missed (SLEAP skips such frames), ``pck`` divides by the
ground-truth-visible nodes (SLEAP by all nodes); ``oks_map_coco`` adds the COCO
view in which extra predictions are false positives.
"""

from __future__ import annotations

from .identity import IdentityFrame, identity_frame, identity_metrics
from .labels import evaluate_labels
from .metrics import evaluate_frames, to_jsonable
from .oks import (
    OKS_STDDEV,
    OKS_THRESHOLDS,
    PCK_THRESHOLDS,
    RECALL_THRESHOLDS,
    compute_oks,
    compute_voc_metrics,
    instance_area,
    match_frame,
)
from .report import format_report

__all__ = [
    "IdentityFrame",
    "OKS_STDDEV",
    "OKS_THRESHOLDS",
    "PCK_THRESHOLDS",
    "RECALL_THRESHOLDS",
    "compute_oks",
    "compute_voc_metrics",
    "evaluate_frames",
    "evaluate_labels",
    "format_report",
    "identity_frame",
    "identity_metrics",
    "instance_area",
    "match_frame",
    "to_jsonable",
]
