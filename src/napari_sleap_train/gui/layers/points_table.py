"""Keypoint tables: a Points layer's points as instances (numpy and pandas only).

A table is a Points layer's ``data`` (``(frame, y, x)`` rows) and ``features``
(``individual``, ``keypoint``, ``confidence``, ``instance``, ``track``, ``visible``,
``score``). :class:`PointsTable` is the one place that says in which order the nodes
come, how points group into instances, which points have no node of their own and what
the next training run uses; both docks and the layer conversions ask it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple

import numpy as np
import pandas as pd

FEATURES = ("individual", "keypoint", "confidence", "instance", "track", "visible", "score")


def node_order(features: pd.DataFrame, skeleton: Sequence[str] | None = None) -> list[str]:
    """The nodes of a keypoint table: the skeleton's when known, else the ``keypoint``
    categories, else the names in the order they first appear."""
    if skeleton:
        return list(skeleton)
    if "keypoint" not in features:
        return []
    kp = features["keypoint"]
    if isinstance(kp.dtype, pd.CategoricalDtype):
        return [str(c) for c in kp.cat.categories]
    return [str(k) for k in dict.fromkeys(kp.dropna().astype(str))]


def frames_of(data: np.ndarray) -> np.ndarray:
    """The frame index of every ``(frame, y, x)`` row."""
    return np.rint(np.asarray(data)[:, 0]).astype(int) if len(data) else np.zeros(0, int)


def empty_features(nodes: Sequence[str]) -> pd.DataFrame:
    """The feature columns of a table without points."""
    return pd.DataFrame(
        {
            "individual": pd.Categorical([]),
            "keypoint": pd.Categorical([], categories=list(nodes)),
            "confidence": np.zeros(0),
            "instance": np.zeros(0, int),
            "track": np.zeros(0, str),
            "visible": np.zeros(0, bool),
            "score": np.zeros(0),
        }
    )


def normalise_features(features: pd.DataFrame, nodes: Sequence[str]) -> pd.DataFrame:
    """The reader's feature columns with their dtypes; a keypoint not in ``nodes`` -> NaN."""
    n = len(features)
    out = features.reset_index(drop=True).copy()
    kp = out["keypoint"].astype(object) if "keypoint" in out else pd.Series([np.nan] * n)
    out["keypoint"] = pd.Categorical(kp.where(kp.isin(list(nodes))), categories=list(nodes))
    inst = out["instance"] if "instance" in out else pd.Series(np.zeros(n, int))
    out["instance"] = pd.to_numeric(inst, errors="coerce").fillna(-1).astype(int)
    track = out["track"] if "track" in out else pd.Series([""] * n)
    out["track"] = track.astype(object).where(track.notna(), "").astype(str)
    out.loc[out["track"] == "nan", "track"] = ""
    individual = out["individual"].astype(object) if "individual" in out else None
    names = np.where(
        out["track"].to_numpy(object) != "",
        out["track"].to_numpy(object),
        np.char.add("instance ", out["instance"].to_numpy().astype(str)),
    )
    if individual is not None:
        names = np.where(individual.notna() & (individual.astype(str) != ""), individual, names)
    out["individual"] = pd.Categorical(np.asarray(names, dtype=object).astype(str))
    vis = out["visible"] if "visible" in out else pd.Series(np.ones(n, bool))
    out["visible"] = vis.fillna(True).astype(bool)
    for col in ("confidence", "score"):
        out[col] = pd.to_numeric(out[col], errors="coerce") if col in out else np.nan
        out[col] = out[col].astype(float)
    return out[list(FEATURES) + [c for c in out.columns if c not in FEATURES]]


class Counts(NamedTuple):
    """What the next training run uses: labelled frames and instances (those with a visible
    node), and the points that have no node of their own."""

    frames: int
    instances: int
    without_node: int


@dataclass(frozen=True)
class Instances:
    """Points grouped into instances by (frame, ``instance``).

    ``keys`` are ``(M, 2)`` (frame, instance) pairs, sorted; ``which`` gives each point's
    instance (a row of ``keys``) and ``node`` its node index (-1: none).
    """

    keys: np.ndarray
    which: np.ndarray
    node: np.ndarray
    n_nodes: int

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def frames(self) -> np.ndarray:
        return self.keys[:, 0]

    def per_node(self, values: np.ndarray, fill: float = np.nan) -> np.ndarray:
        """``(M, N, ...)``: each point's value in its instance and node; ``fill`` elsewhere."""
        values = np.asarray(values)
        out = np.full((len(self.keys), self.n_nodes, *values.shape[1:]), fill, dtype=float)
        ok = self.node >= 0
        out[self.which[ok], self.node[ok]] = values[ok]
        return out

    @cached_property
    def rows(self) -> list[np.ndarray]:
        """The point rows of each instance."""
        order = np.argsort(self.which, kind="stable")
        return np.split(order, np.flatnonzero(np.diff(self.which[order])) + 1)


@dataclass(frozen=True)
class PointsTable:
    """A keypoint table and its nodes; its features are normalised on construction."""

    data: np.ndarray  # (P, 3) frame, y, x
    features: pd.DataFrame
    nodes: tuple[str, ...]

    @classmethod
    def of(
        cls, data: np.ndarray, features: pd.DataFrame, nodes: Sequence[str] | None = None
    ) -> PointsTable:
        """A table over ``nodes`` (default: :func:`node_order` of the features)."""
        nodes = tuple(node_order(features) if nodes is None else nodes)
        data = np.asarray(data, float).reshape(-1, 3)
        return cls(data, normalise_features(features, nodes), nodes)

    @classmethod
    def from_layer(cls, layer, nodes: Sequence[str] | None = None) -> PointsTable:
        """The table of a napari Points layer."""
        return cls.of(layer.data, layer.features, nodes)

    @classmethod
    def empty(cls, nodes: Sequence[str]) -> PointsTable:
        return cls(np.zeros((0, 3)), empty_features(nodes), tuple(nodes))

    def __len__(self) -> int:
        return len(self.data)

    @cached_property
    def frames(self) -> np.ndarray:
        return frames_of(self.data)

    @cached_property
    def instances(self) -> Instances:
        """Every instance of the table (points without a node belong to no node)."""
        inst = self.features["instance"].to_numpy(np.int64)
        frames = np.asarray(self.frames, np.int64)
        if len(inst):  # one integer per (frame, instance): a 1-D unique is fast
            f0, i0 = int(frames.min()), int(inst.min())
            span = int(inst.max()) - i0 + 1
            codes, which = np.unique((frames - f0) * span + (inst - i0), return_inverse=True)
            keys = np.stack([codes // span + f0, codes % span + i0], axis=1).astype(int)
        else:
            keys, which = np.zeros((0, 2), int), np.zeros(0, int)
        kp = self.features["keypoint"].astype(object)
        node = pd.Categorical(kp, categories=list(self.nodes)).codes.astype(int)
        return Instances(keys, which.ravel(), node, len(self.nodes))

    def poses(self) -> np.ndarray:
        """``(M, N, 2)`` yx of each instance, NaN for missing nodes."""
        return self.instances.per_node(self.data[:, 1:3])

    def visible_xy(self) -> np.ndarray:
        """``(M, N, 2)`` xy of each instance with invisible nodes NaN (what training sees)."""
        xy = self.instances.per_node(self.data[:, [2, 1]])
        visible = self.instances.per_node(self.features["visible"].to_numpy(float), fill=0)
        xy[visible < 0.5] = np.nan
        return xy

    def problem_rows(self) -> list[int]:
        """Rows with no node of the skeleton, or repeating a node of their instance."""
        node = self.instances.node
        repeated = pd.DataFrame({"i": self.instances.which, "n": node}).duplicated().to_numpy()
        return np.flatnonzero((node < 0) | repeated).tolist()

    def counts(self) -> Counts:
        """What the next training run uses (see :class:`Counts`)."""
        if not len(self):
            return Counts(0, 0, 0)
        bad = self.problem_rows()
        good = self.features["visible"].to_numpy(bool).copy()
        good[bad] = False
        inst = self.features["instance"].to_numpy(int)
        keys = np.unique(np.stack([self.frames[good], inst[good]], 1), axis=0)
        return Counts(len(set(keys[:, 0].tolist())), len(keys), len(bad))

    def track_counts(self) -> tuple[dict[str, int], list[int]]:
        """Labelled instances (a visible node) per track, and the frames holding such an
        instance without a track (what an ID model cannot learn from)."""
        inst = self.instances
        visible = self.features["visible"].to_numpy(bool)
        labelled = np.zeros(len(inst), bool)
        labelled[inst.which[visible]] = True
        tracks = np.full(len(inst), "", dtype=object)
        tracks[inst.which] = self.features["track"].to_numpy(object)
        named = labelled & (tracks != "")
        names, counts = np.unique(tracks[named].astype(str), return_counts=True)
        missing = sorted(set(inst.frames[labelled & ~named].tolist()))
        return dict(zip(names.tolist(), counts.tolist())), missing

    def without_rows(self, rows: Sequence[int]) -> PointsTable:
        """The table without ``rows``."""
        keep = np.ones(len(self), bool)
        keep[list(rows)] = False
        features = self.features[keep].reset_index(drop=True)
        return PointsTable(self.data[keep], features, self.nodes)

    def edge_rows(self, edge_inds: Sequence[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
        """Rows of the two ends of every skeleton segment; points without a node (or a
        repeated one) are left out."""
        none = (np.zeros(0, int), np.zeros(0, int))
        if not len(self) or not edge_inds:
            return none
        problems = self.problem_rows()
        kept = np.setdiff1d(np.arange(len(self)), problems)
        if not len(kept):
            return none
        table = self.without_rows(problems) if problems else self
        lookup = table.instances.per_node(kept.astype(float), fill=-1).astype(int)
        src = lookup[:, [a for a, _ in edge_inds]].ravel()
        dst = lookup[:, [b for _, b in edge_inds]].ravel()
        ok = (src >= 0) & (dst >= 0)
        return src[ok], dst[ok]

    def edges(self, edge_inds: Sequence[tuple[int, int]]) -> np.ndarray:
        """Skeleton segments ``(E, 2, 3)`` of every instance (see :meth:`edge_rows`)."""
        src, dst = self.edge_rows(edge_inds)
        if not len(src):
            return np.zeros((0, 2, 3))
        return np.stack([self.data[src], self.data[dst]], axis=1)
