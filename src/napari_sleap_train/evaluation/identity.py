"""Identity (tracking) metrics: CLEAR-MOT identity switches and MOTA, and IDF1.

Each frame gives the track names of its ground-truth and predicted instances and
the pairs matched by the pose metrics' greedy OKS matching
(:func:`~.oks.match_frame`). A ground-truth instance left unmatched is a miss, an
unmatched prediction a false positive.

Conventions:

* Tracks are compared by name, since ``sio.Track`` objects differ between files.
* A prediction without a track is a distinct identity of its own: it never
  continues a track, so a ground-truth track matched to it switches, and it is
  never mapped to a ground-truth track (it cannot be an identity true positive).
* Ground-truth instances without a track are left out, together with the
  predictions matched to them.
* A switch is counted when a ground-truth track's matched prediction carries
  another identity than the one it was last matched to; frames where it is
  unmatched are skipped (Bernardin & Stiefelhagen 2008).
* IDF1 uses the one-to-one mapping of predicted to ground-truth tracks that
  maximises the identity true positives, i.e. the matched pairs whose predicted
  track maps to their ground-truth track (Ristani et al. 2016).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from .metrics import to_jsonable
from .oks import OKS_STDDEV, _points, _visible, match_frame


@dataclass(frozen=True)
class IdentityFrame:
    """Track names of one frame's instances and their matched pairs.

    Attributes
    ----------
    gt_tracks
        Track name of each ground-truth instance, None when untracked.
    pred_tracks
        Track name of each predicted instance, None when untracked.
    pairs
        Matched ``(gt_index, pred_index)`` pairs; each index appears at most once.
    """

    gt_tracks: Sequence[str | None]
    pred_tracks: Sequence[str | None]
    pairs: Sequence[tuple[int, int]] = ()


def identity_frame(
    gt: np.ndarray,
    pred: np.ndarray,
    pred_scores: np.ndarray,
    gt_tracks: Sequence[str | None],
    pred_tracks: Sequence[str | None],
    sigma: float = OKS_STDDEV,
) -> IdentityFrame:
    """Match one frame as the pose metrics do and keep the track names.

    Instances without a visible node are dropped, then :func:`~.oks.match_frame`
    pairs the rest, exactly as in :func:`~.metrics.evaluate_frames`.

    Parameters
    ----------
    gt, pred
        ``(G, N, 2)`` and ``(P, N, 2)`` points, NaN for invisible or missing nodes.
    pred_scores
        ``(P,)`` instance scores.
    gt_tracks, pred_tracks
        ``G`` and ``P`` track names, None for untracked instances.
    sigma
        OKS standard deviation.

    Returns
    -------
    IdentityFrame
        The kept instances' track names and their matched pairs.
    """
    gt = _points(gt, name="gt")
    pred = _points(pred, n_nodes=gt.shape[1], name="pred")
    scores = np.asarray(pred_scores, dtype=np.float64).reshape(-1)
    if len(gt_tracks) != gt.shape[0] or len(pred_tracks) != pred.shape[0]:
        raise ValueError("one track name is needed per instance")
    if scores.shape[0] != pred.shape[0]:
        raise ValueError(f"{pred.shape[0]} predictions but {scores.shape[0]} scores")
    keep_gt = np.flatnonzero(_visible(gt).any(axis=1))
    keep_pr = np.flatnonzero(_visible(pred).any(axis=1))
    pairs = match_frame(gt[keep_gt], pred[keep_pr], scores[keep_pr], sigma=sigma)
    return IdentityFrame(
        gt_tracks=tuple(gt_tracks[i] for i in keep_gt),
        pred_tracks=tuple(pred_tracks[i] for i in keep_pr),
        pairs=tuple((g, p) for g, p, _ in pairs),
    )


def _check_pairs(frame: IdentityFrame) -> None:
    gts = [g for g, _ in frame.pairs]
    prs = [p for _, p in frame.pairs]
    if len(set(gts)) != len(gts) or len(set(prs)) != len(prs):
        raise ValueError("an instance appears in more than one matched pair")
    if any(not 0 <= g < len(frame.gt_tracks) for g in gts) or any(
        not 0 <= p < len(frame.pred_tracks) for p in prs
    ):
        raise ValueError("a matched pair refers to an instance the frame does not have")


def _best_mapping(counts: Counter[tuple[str, str]]) -> dict[str, str]:
    """Predicted -> ground-truth track names maximising the co-occurrences kept."""
    if not counts:
        return {}
    gt_names = sorted({g for g, _ in counts})
    pr_names = sorted({p for _, p in counts})
    matrix = np.zeros((len(gt_names), len(pr_names)), dtype=np.int64)
    for (g, p), n in counts.items():
        matrix[gt_names.index(g), pr_names.index(p)] = n
    rows, cols = linear_sum_assignment(matrix, maximize=True)
    mapping = {pr_names[c]: gt_names[r] for r, c in zip(rows, cols) if matrix[r, c] > 0}
    return dict(sorted(mapping.items()))


def _ratio(num: float, den: float) -> float:
    return float(num) / float(den) if den else math.nan


def identity_metrics(frames: Iterable[IdentityFrame]) -> dict[str, Any]:
    """Identity switches, MOTA and IDF1 over frames in temporal order.

    Parameters
    ----------
    frames
        One :class:`IdentityFrame` per evaluated frame, ordered by (video, frame).
        A track name is one identity over all videos, as a SLEAP track belongs to
        the labels file rather than to a video.

    Returns
    -------
    dict
        JSON-serialisable, undefined values None:

        ``id_switches``
            CLEAR-MOT identity switches summed over ground-truth tracks.
        ``mota``
            ``1 - (misses + false_positives + id_switches) / instances_gt``.
        ``idf1``, ``idp``, ``idr``
            ``2 IDTP / (2 IDTP + IDFP + IDFN)``, ``IDTP / instances_pred``,
            ``IDTP / instances_gt``.
        ``idtp``, ``idfp``, ``idfn``
            Identity true positives, ``instances_pred - idtp``, ``instances_gt - idtp``.
        ``identity_correct_fraction``
            ``idtp`` over the matched ground-truth instances.
        ``named_right_fraction``, ``per_track_named_right``
            Matched ground-truth instances whose prediction carries their own track's
            name (what an ID model is asked for, no mapping), over all and per track.
        ``track_mapping``
            Predicted track name -> ground-truth track name of the best mapping
            (tracks that never overlap a ground-truth track are left out).
        ``tracks_gt``, ``tracks_pred``
            Distinct ground-truth and predicted track names in the frames.
        ``instances_gt``, ``instances_pred``, ``misses``, ``false_positives``
            Tracked ground-truth instances, predictions, unmatched ones of each.
        ``untracked_gt``, ``untracked_pred``
            Ground-truth instances left out for lack of a track; predictions
            (of ``instances_pred``) without a track.
    """
    last: dict[str, object] = {}
    counts: Counter[tuple[str, str]] = Counter()
    gt_names: set[str] = set()
    pr_names: set[str] = set()
    matched: Counter[str] = Counter()  # per ground-truth track
    n_gt = n_pred = n_matched = n_switches = 0
    untracked_gt = untracked_pred = 0

    for frame in frames:
        _check_pairs(frame)
        match = dict(frame.pairs)
        dropped = {
            match[g] for g, name in enumerate(frame.gt_tracks) if name is None and g in match
        }
        untracked_gt += sum(name is None for name in frame.gt_tracks)
        preds = [name for p, name in enumerate(frame.pred_tracks) if p not in dropped]
        n_pred += len(preds)
        untracked_pred += sum(name is None for name in preds)
        pr_names.update(name for name in preds if name is not None)
        for g, gt_name in enumerate(frame.gt_tracks):
            if gt_name is None:
                continue
            n_gt += 1
            gt_names.add(gt_name)
            if g not in match:
                continue
            n_matched += 1
            matched[gt_name] += 1
            pr_name = frame.pred_tracks[match[g]]
            label: object = object() if pr_name is None else pr_name
            if gt_name in last and last[gt_name] != label:
                n_switches += 1
            last[gt_name] = label
            if pr_name is not None:
                counts[gt_name, pr_name] += 1

    mapping = _best_mapping(counts)
    idtp = sum(counts[g, p] for p, g in mapping.items())
    idfp, idfn = n_pred - idtp, n_gt - idtp
    misses, false_positives = n_gt - n_matched, n_pred - n_matched
    result = {
        "id_switches": n_switches,
        "mota": 1.0 - _ratio(misses + false_positives + n_switches, n_gt),
        "idf1": _ratio(2 * idtp, 2 * idtp + idfp + idfn),
        "idp": _ratio(idtp, n_pred),
        "idr": _ratio(idtp, n_gt),
        "idtp": idtp,
        "idfp": idfp,
        "idfn": idfn,
        "identity_correct_fraction": _ratio(idtp, n_matched),
        "named_right_fraction": _ratio(sum(counts[g, g] for g in matched), n_matched),
        "per_track_named_right": {g: _ratio(counts[g, g], n) for g, n in sorted(matched.items())},
        "track_mapping": mapping,
        "tracks_gt": len(gt_names),
        "tracks_pred": len(pr_names),
        "instances_gt": n_gt,
        "instances_pred": n_pred,
        "misses": misses,
        "false_positives": false_positives,
        "untracked_gt": untracked_gt,
        "untracked_pred": untracked_pred,
    }
    return to_jsonable(result)
