"""Checking labels: precision and recall of the flags on real labels with errors injected.

Data sets: ``pair`` (the two-fly predictions of ``../shared/data/centered_pair_predictions.slp``
on frames with exactly two animals, taken as labels; 24 nodes, left/right pairs by name),
``mirror_mouse`` (Lightning Pose's 90 human-labelled frames, 17 keypoints) and ``sample``
(the built-in animals' ground truth). Into a copy of each, errors are injected at random:
left/right swaps of ``--swaps`` of the instances (every pair exchanged), one node of
``--moved`` of the instances moved by the animal's length in a random direction, and
duplicates of ``--duplicates`` of the instances (1 px away). A flag counts as right when it
names an injected instance; precision is over every flagged instance, so a real mistake in
the labels counts against it. Means over ``--seeds`` rounds of injected errors (with one,
the recall per kind of error too). Also prints the time one check takes on 2,000 instances.

Run: ``.venv/bin/python benchmarks/bench_label_checks.py [--dataset pair mirror_mouse sample]
[--threshold 6] [--seed 0]``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import sleap_io as sio

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_realdata import DATA  # noqa: E402
from napari_sleap_train.evaluation.label_checks import (  # noqa: E402
    THRESHOLD,
    LabelledInstances,
    check_labels,
    side_pairs,
)


def load(name: str) -> tuple[np.ndarray, list, list[str], list, list]:
    """Instances ``(M, N, 2)``, where each is, node names, edges and symmetries."""
    if name == "pair":
        labels = sio.load_slp(str(DATA / "centered_pair_predictions.slp"))
        frames = [lf for lf in labels.labeled_frames if len(lf.predicted_instances) == 2]
        rows = [
            (0, lf.frame_idx, k, p.numpy())
            for lf in frames
            for k, p in enumerate(lf.predicted_instances)
        ]
    elif name == "mirror_mouse":
        from napari_sleap_train.io.formats import load_any

        labels = load_any(DATA / "mirror_mouse" / "CollectedData.csv")
        index = {id(v): i for i, v in enumerate(labels.videos)}
        rows = [
            (index[id(lf.video)], lf.frame_idx, k, inst.numpy())
            for lf in labels.labeled_frames
            for k, inst in enumerate(lf.user_instances)
        ]
    elif name == "sample":
        from napari_sleap_train.sample.project import write_sample

        paths = write_sample(Path(tempfile.mkdtemp()))
        labels = sio.load_slp(str(paths.ground_truth), open_videos=False)
        rows = [
            (0, lf.frame_idx, k, i.numpy())
            for lf in labels.labeled_frames
            for k, i in enumerate(lf.user_instances)
        ]
    else:
        raise SystemExit(f"unknown dataset {name}")
    skeleton = labels.skeletons[0]
    pts = np.stack([r[3] for r in rows]).astype(float)
    where = [r[:3] for r in rows]
    return pts, where, skeleton.node_names, skeleton.edge_inds, skeleton.symmetry_inds


def inject(pts, where, names, symmetries, rng, swaps, moved, duplicates):
    """A copy with errors, and which instances (rows) carry one: the swapped, the moved
    and the duplicated."""
    pts, where = pts.copy(), list(where)
    m = len(pts)
    pairs = side_pairs(names, symmetries)
    order = rng.permutation(m)
    n_swap = int(round(swaps * m)) if pairs else 0
    n_move = int(round(moved * m))
    n_dup = int(round(duplicates * m))
    swapped, shifted, copied = set(), set(), set()
    for r in order[:n_swap]:
        for a, b in pairs:
            pts[r, [a, b]] = pts[r, [b, a]]
        swapped.add(int(r))
    for r in order[n_swap : n_swap + n_move]:
        seen = np.flatnonzero(np.isfinite(pts[r]).all(-1))
        if len(seen) < 3:
            continue
        lo, hi = np.nanmin(pts[r], 0), np.nanmax(pts[r], 0)
        length = float(np.max(hi - lo))
        angle = rng.uniform(0, 2 * np.pi)
        pts[r, rng.choice(seen)] += length * np.array([np.cos(angle), np.sin(angle)])
        shifted.add(int(r))
    extra = []
    for r in order[n_swap + n_move : n_swap + n_move + n_dup]:
        v, f, _ = where[r]
        k = 1 + max(i for vv, ff, i in where if (vv, ff) == (v, f))
        extra.append((pts[r] + 1.0, (v, f, k)))
    for p, w in extra:
        pts = np.concatenate([pts, p[None]])
        where.append(w)
        copied.add(len(pts) - 1)
    return pts, where, [swapped, shifted, copied]


def one_round(pts, where, names, edges, sym, args, seed):
    """Errors injected with ``seed``, checked: flagged count, precision, recall and the
    recall per kind of error."""
    rng = np.random.default_rng(seed)
    bad_pts, bad_where, kinds = inject(
        pts, where, names, sym, rng, args.swaps, args.moved, args.duplicates
    )
    bad = set().union(*kinds)
    flags = check_labels(LabelledInstances(bad_pts, bad_where), names, edges, sym, args.threshold)
    row = {w: r for r, w in enumerate(bad_where)}
    flagged = {row[(f.video, f.frame, f.instance)] for f in flags}
    hit = flagged & bad
    by_kind = " / ".join(f"{len(k & flagged)}/{len(k)}" if k else "-" for k in kinds)
    return len(flagged), len(hit) / max(len(flagged), 1), len(hit) / max(len(bad), 1), by_kind


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", nargs="+", default=["pair", "mirror_mouse", "sample"])
    parser.add_argument("--threshold", type=float, default=THRESHOLD)
    parser.add_argument("--swaps", type=float, default=0.05)
    parser.add_argument("--moved", type=float, default=0.05)
    parser.add_argument("--duplicates", type=float, default=0.02)
    parser.add_argument("--seed", type=int, default=0, help="first seed")
    parser.add_argument("--seeds", type=int, default=10, help="rounds of injected errors")
    args = parser.parse_args()
    print(
        f"{'data':<13} {'instances':>9} {'nodes':>5} {'pairs':>5} {'flagged':>7} "
        f"{'precision':>9} {'recall':>6}  flagged before injection (means over the seeds)"
    )
    for name in args.dataset:
        pts, where, names, edges, sym = load(name)
        clean = check_labels(LabelledInstances(pts, where), names, edges, sym, args.threshold)
        totals = np.zeros(3)
        for seed in range(args.seed, args.seed + args.seeds):
            flagged, precision, recall, by_kind = one_round(
                pts, where, names, edges, sym, args, seed
            )
            totals += (flagged, precision, recall)
            if args.seeds == 1:
                print(f"  seed {seed}: recall by error {by_kind}")
        flagged, precision, recall = totals / args.seeds
        print(
            f"{name:<13} {len(pts):>9} {len(names):>5} {len(side_pairs(names, sym)):>5} "
            f"{flagged:>7.1f} {precision:>9.3f} {recall:>6.3f}  {len(clean)}",
            flush=True,
        )
    pts, where, names, edges, sym = load("pair")
    reps = int(np.ceil(2000 / len(pts)))
    big = np.concatenate([pts] * reps)[:2000]
    big_where = [(rep, f, k) for rep in range(reps) for (_, f, k) in where][:2000]
    t0 = time.perf_counter()
    check_labels(LabelledInstances(big, big_where), names, edges, sym, args.threshold)
    print(f"one check of 2,000 instances ({len(names)} nodes): {time.perf_counter() - t0:.2f} s")


if __name__ == "__main__":
    main()
