"""Evaluating whole label files: videos and nodes matched between ground truth and
predictions, then :func:`~.metrics.evaluate_frames` and, for tracked ground truth,
:func:`~.identity.identity_metrics`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import EvaluationError
from .identity import IdentityFrame, identity_frame, identity_metrics
from .metrics import evaluate_frames
from .oks import OKS_STDDEV, FrameTriple

if TYPE_CHECKING:
    import sleap_io as sio


def _video_key(video: sio.Video) -> str:
    filename = video.filename
    if isinstance(filename, list):
        filename = filename[0] if filename else ""
    return str(filename)


def _shape(video: sio.Video) -> tuple[int, ...] | None:
    try:
        shape = video.shape
    except Exception:
        shape = None
    if shape is None:
        shape = (getattr(video, "backend_metadata", None) or {}).get("shape")
    return tuple(shape) if shape is not None else None


def _same_frame_shape(a: sio.Video, b: sio.Video) -> bool | None:
    """True/False when both frame shapes are known, else None."""
    sa, sb = _shape(a), _shape(b)
    if sa is None or sb is None:
        return None
    return tuple(sa[1:]) == tuple(sb[1:])


def _match_videos(gt_videos: list[sio.Video], pr_videos: list[sio.Video]) -> dict[int, sio.Video]:
    """Map ``id(gt_video)`` to its prediction video by identity, path, file name, shape."""

    def paths_match(a: sio.Video, b: sio.Video, strict: bool) -> bool:
        try:
            return bool(a.matches_path(b, strict=strict))
        except Exception:
            key_a, key_b = _video_key(a), _video_key(b)
            return key_a == key_b if strict else Path(key_a).name == Path(key_b).name

    result: dict[int, sio.Video] = {}
    for gv in gt_videos:
        found = next((pv for pv in pr_videos if pv is gv), None)
        if found is None:
            found = next((pv for pv in pr_videos if paths_match(gv, pv, True)), None)
        if found is None:
            named = [pv for pv in pr_videos if paths_match(gv, pv, False)]
            same = [pv for pv in named if _same_frame_shape(gv, pv) is not False]
            found = (same or [None])[0]
        lone_pair = len(gt_videos) == 1 and len(pr_videos) == 1
        if found is None and lone_pair and _same_frame_shape(gv, pr_videos[0]) is not False:
            found = pr_videos[0]
        if found is not None:
            result[id(gv)] = found
    return result


def _node_mapping(
    skeleton: sio.Skeleton, reference: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Source and destination node indices taking ``skeleton`` nodes to ``reference``."""
    ref_index = {name: i for i, name in enumerate(reference)}
    src, dst = [], []
    for i, name in enumerate(skeleton.node_names):
        if name in ref_index:
            src.append(i)
            dst.append(ref_index[name])
    return np.asarray(src, dtype=int), np.asarray(dst, dtype=int)


def _track_names(instances: Sequence[sio.Instance]) -> list[str | None]:
    return [None if inst.track is None else str(inst.track.name) for inst in instances]


def evaluate_labels(
    ground_truth: sio.Labels,
    predictions: sio.Labels,
    user_only_gt: bool = True,
    sigma: float = OKS_STDDEV,
) -> dict[str, Any]:
    """Evaluate a predictions file against a ground-truth file.

    Videos are paired by path, then by file name (preferring an equal frame shape),
    and a lone video in each file is paired when the frame shapes do not disagree.
    Frames are paired by frame index. Only frames with ground-truth instances are
    evaluated; one without a prediction counts all its instances as missed.

    Parameters
    ----------
    ground_truth
        Labels whose user instances are the ground truth. When it has none and
        ``user_only_gt`` is False, its predicted instances are used instead.
    predictions
        Labels whose predicted instances, ranked by ``PredictedInstance.score``, are
        evaluated; user instances (score 1) are used when it holds no predicted ones.
        Nodes are mapped to the ground-truth skeleton by name.
    user_only_gt
        Refuse to fall back to predicted instances as ground truth.
    sigma
        OKS standard deviation.

    Returns
    -------
    dict
        Metrics of :func:`evaluate_frames` plus ``videos_unmatched``, and
        ``identity`` (:func:`~.identity.identity_metrics` over the frames in video
        and frame order) when a ground-truth instance has a track.

    Raises
    ------
    EvaluationError
        Without ground truth skeleton or instances, or when no prediction skeleton
        shares a node name with the ground truth.
    """
    if not ground_truth.skeletons:
        raise EvaluationError("The ground-truth labels have no skeleton: evaluate a project.")
    node_names = list(ground_truth.skeletons[0].node_names)

    gt_has_user = any(lf.user_instances for lf in ground_truth.labeled_frames)
    if not gt_has_user:
        if user_only_gt:
            raise EvaluationError(
                "The ground-truth labels contain no user-labelled instances. Label some "
                "frames, or score against their predicted instances with "
                "--truth-from-predictions (user_only_gt=False in Python)."
            )
        gt_has_pred = any(lf.predicted_instances for lf in ground_truth.labeled_frames)
        if not gt_has_pred:
            raise EvaluationError("The ground-truth labels contain no instances to score.")
    pr_has_pred = any(lf.predicted_instances for lf in predictions.labeled_frames)

    pr_skeletons = {id(s): s for s in predictions.skeletons}
    for lf in predictions.labeled_frames:
        for inst in lf.instances:
            pr_skeletons.setdefault(id(inst.skeleton), inst.skeleton)
    if pr_skeletons and not any(set(s.node_names) & set(node_names) for s in pr_skeletons.values()):
        raise EvaluationError(
            f"No node of the predictions' skeleton matches the ground truth's nodes "
            f"{node_names}: evaluate predictions of a model trained on this skeleton."
        )

    mappings: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def as_array(instances: Sequence[sio.Instance]) -> np.ndarray:
        out = np.full((len(instances), len(node_names), 2), np.nan)
        for k, inst in enumerate(instances):
            key = id(inst.skeleton)
            if key not in mappings:
                mappings[key] = _node_mapping(inst.skeleton, node_names)
            src, dst = mappings[key]
            out[k, dst] = np.asarray(inst.numpy(), dtype=np.float64)[src, :2]
        return out

    video_map = _match_videos(list(ground_truth.videos), list(predictions.videos))
    pr_frames: dict[tuple[int, int], list[sio.Instance]] = {}
    for lf in predictions.labeled_frames:
        insts = lf.predicted_instances if pr_has_pred else lf.user_instances
        pr_frames.setdefault((id(lf.video), int(lf.frame_idx)), []).extend(insts)

    unmatched_videos = [
        _video_key(v)
        for v in ground_truth.videos
        if id(v) not in video_map and any(lf.video is v for lf in ground_truth.labeled_frames)
    ]

    def gt_instances(lf: sio.LabeledFrame) -> list[sio.Instance]:
        return list(lf.user_instances if gt_has_user else lf.predicted_instances)

    tracked = any(
        inst.track is not None for lf in ground_truth.labeled_frames for inst in gt_instances(lf)
    )
    video_order = {id(v): i for i, v in enumerate(ground_truth.videos)}
    identity_frames: list[tuple[tuple[int, int], IdentityFrame]] = []

    def frames() -> Iterable[FrameTriple]:
        for lf in ground_truth.labeled_frames:
            gt_insts = gt_instances(lf)
            if not gt_insts:
                continue
            pv = video_map.get(id(lf.video))
            pr_insts = pr_frames.get((id(pv), int(lf.frame_idx)), []) if pv is not None else []
            scores = np.array(
                [float(i.score) if pr_has_pred else 1.0 for i in pr_insts], dtype=np.float64
            )
            gt_pts, pr_pts = as_array(gt_insts), as_array(pr_insts)
            if tracked:
                key = (video_order.get(id(lf.video), len(video_order)), int(lf.frame_idx))
                frame = identity_frame(
                    gt_pts, pr_pts, scores, _track_names(gt_insts), _track_names(pr_insts), sigma
                )
                identity_frames.append((key, frame))
            yield gt_pts, pr_pts, scores

    metrics = evaluate_frames(frames(), node_names, sigma=sigma)
    metrics["videos_unmatched"] = unmatched_videos
    if tracked:
        ordered = sorted(identity_frames, key=lambda item: item[0])
        metrics["identity"] = identity_metrics(frame for _, frame in ordered)
    return metrics
