"""Grouping body parts into animals with part affinity fields, as SLEAP does it.

1. Every pair of peaks of an edge's source and destination nodes is a candidate
   connection, scored by the line integral of the edge's PAF: the mean dot product of the
   field at ``n_points`` points along the segment with the segment's direction, plus a
   distance penalty ``min(max_edge_length / length - 1, 0) * dist_penalty_weight``
   (``max_edge_length`` is ``max_edge_length_ratio`` times the image's larger side).
2. Per edge, candidates are matched one to one (Hungarian, scipy's
   ``linear_sum_assignment``) and matches scoring below ``min_line_score`` are dropped.
3. Matches are assembled into instances along the skeleton's edges from its root
   (breadth first): a match extends the instance holding one of its peaks, or starts a new
   one; a match joining two instances that share no node merges them; an instance's
   score is the sum of its connections' scores.

Candidate scoring runs for a whole batch in one gather; matching and assembly are small
per-frame loops over edges.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from torch import Tensor

__all__ = ["GroupingSettings", "edge_order", "group_instances", "score_candidates"]


@dataclass(frozen=True)
class GroupingSettings:
    """SLEAP's ``PAFScorer`` settings (its defaults)."""

    max_edge_length_ratio: float = 0.25
    dist_penalty_weight: float = 1.0
    n_points: int = 10
    min_line_score: float = 0.25
    min_instance_peaks: int = 0


def edge_order(edges: list[tuple[int, int]]) -> list[int]:
    """Edge indices breadth first from the skeleton's roots (nodes no edge points to), so
    instances grow from the root outwards; edges not reached that way follow in order."""
    children: dict[int, list[int]] = {}
    targets = {d for _, d in edges}
    for k, (s, _) in enumerate(edges):
        children.setdefault(s, []).append(k)
    roots = [s for s, _ in edges if s not in targets]
    order, seen, nodes = [], set(), set()
    queue = deque(dict.fromkeys(roots))
    while queue:
        node = queue.popleft()
        if node in nodes:
            continue
        nodes.add(node)
        for k in children.get(node, []):
            if k not in seen:
                seen.add(k)
                order.append(k)
                queue.append(edges[k][1])
    return order + [k for k in range(len(edges)) if k not in seen]


def score_candidates(
    pafs: Tensor,
    frame: Tensor,
    edge: Tensor,
    src: Tensor,
    dst: Tensor,
    stride: int,
    settings: GroupingSettings,
) -> Tensor:
    """Line-integral scores of candidate connections.

    ``pafs`` is ``(B, E, 2, h, w)`` at output stride ``stride``; ``frame`` and ``edge``
    ``(C,)`` long say whose PAF a candidate uses; ``src`` and ``dst`` ``(C, 2)`` are its
    ends ``(x, y)`` in input pixels. Returns ``(C,)`` scores.
    """
    if not len(frame):
        return torch.zeros(0, device=pafs.device)
    h, w = pafs.shape[-2:]
    t = torch.linspace(0, 1, settings.n_points, device=pafs.device)
    line = src[:, None] + t[None, :, None] * (dst - src)[:, None]  # (C, P, 2)
    cols = (line[..., 0] / stride).round().long().clamp(0, w - 1)
    rows = (line[..., 1] / stride).round().long().clamp(0, h - 1)
    vectors = pafs[frame[:, None], edge[:, None], :, rows, cols]  # (C, P, 2)
    length = (dst - src).norm(dim=-1)
    unit = (dst - src) / length.clamp_min(1e-6)[:, None]
    scores = (vectors * unit[:, None]).sum(-1).mean(-1)
    max_length = settings.max_edge_length_ratio * max(h, w) * stride
    penalty = (max_length / length.clamp_min(1e-6) - 1).clamp(max=0)
    return scores + penalty * settings.dist_penalty_weight


def group_instances(
    pafs: Tensor,
    sample: Tensor,
    channel: Tensor,
    points: Tensor,
    values: Tensor,
    edges: list[tuple[int, int]],
    n_nodes: int,
    stride: int,
    settings: GroupingSettings = GroupingSettings(),
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Instances of every frame from its peaks (as :func:`~.peaks.local_peaks` gives them:
    ``sample``, ``channel``, ``points`` in input pixels, ``values``) and its PAFs
    ``(B, E, 2, h, w)``.

    Returns per frame ``(points (M, N, 2) with NaN, peak values (M, N), scores (M,))``.
    """
    b = pafs.shape[0]
    sample_np, channel_np = sample.cpu().numpy(), channel.cpu().numpy()
    by_node: dict[tuple[int, int], np.ndarray] = {}
    for i in range(b):
        in_frame = np.flatnonzero(sample_np == i)
        for node in range(n_nodes):
            by_node[i, node] = in_frame[channel_np[in_frame] == node]
    cand_frame, cand_edge, cand_src, cand_dst = [], [], [], []
    for i in range(b):
        for k, (s, d) in enumerate(edges):
            ps, pd = by_node[i, s], by_node[i, d]
            if len(ps) and len(pd):
                grid_s, grid_d = np.meshgrid(ps, pd, indexing="ij")
                cand_src.append(grid_s.ravel())
                cand_dst.append(grid_d.ravel())
                cand_frame.append(np.full(grid_s.size, i))
                cand_edge.append(np.full(grid_s.size, k))
    if cand_src:
        src_idx, dst_idx = np.concatenate(cand_src), np.concatenate(cand_dst)
        frame_idx, edge_idx = np.concatenate(cand_frame), np.concatenate(cand_edge)
        device = pafs.device
        scores = score_candidates(
            pafs,
            torch.as_tensor(frame_idx, device=device),
            torch.as_tensor(edge_idx, device=device),
            points[torch.as_tensor(src_idx, device=device)],
            points[torch.as_tensor(dst_idx, device=device)],
            stride,
            settings,
        )
        scores_np = scores.float().cpu().numpy()
    else:
        frame_idx = edge_idx = src_idx = dst_idx = np.zeros(0, int)
        scores_np = np.zeros(0)
    pts_np = points.float().cpu().numpy()
    vals_np = values.float().cpu().numpy()
    order = edge_order(edges)
    out = []
    bounds = np.searchsorted(frame_idx, np.arange(b + 1))  # candidates are frame-ordered
    for i in range(b):
        part = slice(bounds[i], bounds[i + 1])
        matches = _match(
            edge_idx[part], src_idx[part], dst_idx[part], scores_np[part], order, settings
        )
        members = _assemble(matches, channel_np)
        out.append(_instances(members, pts_np, vals_np, n_nodes, settings))
    return out


def _match(
    edge_idx, src_idx, dst_idx, scores, order, settings
) -> list[tuple[int, int, int, float]]:
    """One-to-one matches ``(edge, src peak, dst peak, score)`` per edge, in ``order``,
    those scoring at least ``min_line_score``."""
    matches = []
    for k in order:
        rows = np.flatnonzero(edge_idx == k)
        if not len(rows):
            continue
        srcs, src_pos = np.unique(src_idx[rows], return_inverse=True)
        dsts, dst_pos = np.unique(dst_idx[rows], return_inverse=True)
        table = np.full((len(srcs), len(dsts)), -np.inf)
        table[src_pos, dst_pos] = scores[rows]
        cost = np.where(np.isfinite(table), -table, 1e6)
        r, c = linear_sum_assignment(cost)
        for a, bb in zip(r, c):
            if table[a, bb] >= settings.min_line_score:
                matches.append((k, int(srcs[a]), int(dsts[bb]), float(table[a, bb])))
    return matches


def _assemble(matches, channel) -> list[tuple[dict[int, int], float]]:
    """Instances as ``({node: peak}, score)`` from matches in skeleton order.

    A match whose two peaks already belong to different instances merges them when they
    share no node (two fragments of one animal, joined by a later edge), as SLEAP does."""
    instances: dict[int, tuple[dict[int, int], list[float]]] = {}
    owner: dict[int, int] = {}
    for key, (_, s, d, score) in enumerate(matches):
        a, b = owner.get(s), owner.get(d)
        if a is None and b is None:
            owner[s] = owner[d] = key
            instances[key] = ({int(channel[s]): s, int(channel[d]): d}, [score])
        elif (a is None) != (b is None):  # one end is placed: the other joins its instance
            held, peak = (a, d) if a is not None else (b, s)
            nodes, scores = instances[held]
            if int(channel[peak]) not in nodes:
                nodes[int(channel[peak])] = peak
                owner[peak] = held
                scores.append(score)
        elif a != b and not instances[a][0].keys() & instances[b][0].keys():
            nodes, scores = instances.pop(b)
            instances[a][0].update(nodes)
            instances[a][1].extend([*scores, score])
            for peak in nodes.values():
                owner[peak] = a
    return [(nodes, float(sum(scores))) for nodes, scores in instances.values()]


def _instances(members, points, values, n_nodes, settings):
    kept = [(nodes, score) for nodes, score in members if len(nodes) >= settings.min_instance_peaks]
    pts = np.full((len(kept), n_nodes, 2), np.nan)
    vals = np.zeros((len(kept), n_nodes))
    scores = np.zeros(len(kept))
    for j, (nodes, score) in enumerate(kept):
        for node, peak in nodes.items():
            pts[j, node] = points[peak]
            vals[j, node] = values[peak]
        scores[j] = score
    return pts, vals, scores
