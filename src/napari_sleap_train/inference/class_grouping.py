"""Grouping body parts into animals by their class maps, as SLEAP's bottom-up-ID does it.

A bottom-up-ID model predicts a class map per track beside the node maps. Each node peak
reads every class map at its pixel; per frame and node type the peaks and the classes are
matched one to one to maximise the summed class values (Hungarian, scipy's
``linear_sum_assignment``), so each animal gets at most one peak of each node. The peaks
matched to a class form that class's animal; its identity score is the mean class value at
its peaks (clipped to [0, 1]), which is also its instance score, as SLEAP's.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment
from torch import Tensor

__all__ = ["ClassGroups", "group_by_class"]

ClassGroups = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
"""Per frame: the classes found ``(M,)``, points ``(M, N, 2)`` with NaN, peak values
``(M, N)`` and identity scores ``(M,)``."""


def group_by_class(
    class_maps: Tensor,
    sample: Tensor,
    channel: Tensor,
    points: Tensor,
    values: Tensor,
    n_nodes: int,
    stride: int,
    min_instance_peaks: int = 0,
) -> list[ClassGroups]:
    """Animals of every frame of a batch from its node peaks (as
    :func:`~.peaks.local_peaks` gives them: ``sample``, ``channel``, ``points`` in input
    pixels, ``values``) and its class maps ``(B, K, h, w)`` at output stride ``stride``.
    Animals with fewer than ``min_instance_peaks`` peaks are dropped."""
    b, k, h, w = class_maps.shape
    if len(sample):
        cols = (points[:, 0] / stride).round().long().clamp(0, w - 1)
        rows = (points[:, 1] / stride).round().long().clamp(0, h - 1)
        probs = class_maps[sample, :, rows, cols].float().clamp(0, 1).cpu().numpy()  # (P, K)
    else:
        probs = np.zeros((0, k))
    sample_np, channel_np = sample.cpu().numpy(), channel.cpu().numpy()
    pts_np, vals_np = points.float().cpu().numpy(), values.float().cpu().numpy()
    out = []
    for i in range(b):
        pts = np.full((k, n_nodes, 2), np.nan)
        vals = np.zeros((k, n_nodes))
        got = np.zeros((k, n_nodes))
        found = np.zeros((k, n_nodes), bool)
        in_frame = np.flatnonzero(sample_np == i)
        for node in range(n_nodes):
            peaks = in_frame[channel_np[in_frame] == node]
            if not len(peaks):
                continue
            r, c = linear_sum_assignment(-probs[peaks])
            pts[c, node] = pts_np[peaks[r]]
            vals[c, node] = vals_np[peaks[r]]
            got[c, node] = probs[peaks[r], c]
            found[c, node] = True
        count = found.sum(1)
        keep = np.flatnonzero((count > 0) & (count >= min_instance_peaks))
        scores = got[keep].sum(1) / count[keep]
        out.append((keep, pts[keep], vals[keep], scores))
    return out
