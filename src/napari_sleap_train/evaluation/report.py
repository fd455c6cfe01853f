"""The evaluation report in words, as the command line prints it."""

from __future__ import annotations

import math
from typing import Any


def _fmt(value: Any, digits: int = 3, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}{unit}"
    return f"{value}{unit}"


def format_report(metrics: dict[str, Any]) -> str:
    """Human-readable multi-line summary of a metrics dictionary.

    Parameters
    ----------
    metrics
        Output of :func:`evaluate_frames` or :func:`evaluate_labels`.

    Returns
    -------
    str
        The report, without a trailing newline.
    """
    m = metrics
    lines = [
        f"Frames evaluated: {_fmt(m.get('n_frames'))}",
        (
            f"Instances: {_fmt(m.get('instances_gt'))} ground truth, "
            f"{_fmt(m.get('instances_pred'))} predicted, "
            f"{_fmt(m.get('instances_matched'))} matched, "
            f"{_fmt(m.get('instances_missed'))} missed, "
            f"{_fmt(m.get('instances_extra'))} extra"
        ),
        f"Animals found: {_fmt(_pct(m.get('found_fraction')), 1, '%')}",
        "",
        (
            f"OKS mAP: {_fmt(m.get('oks_map'))}   mAR: {_fmt(m.get('oks_mar'))}   "
            f"mean OKS: {_fmt(m.get('oks_mean'))}"
        ),
    ]
    if m.get("oks_map_coco") is not None and m.get("oks_map_coco") != m.get("oks_map"):
        lines.append(f"OKS mAP, extras as false positives (COCO): {_fmt(m['oks_map_coco'])}")
    pck = m.get("pck") or {}
    if pck:
        lines.append(
            "PCK: " + "   ".join(f"<{k} px {_fmt(_pct(v), 1, '%')}" for k, v in pck.items())
        )
    lines.append(
        "Node error (px): "
        + "   ".join(
            f"{key[5:]} {_fmt(m.get(key), 2)}"
            for key in ("dist_mean", "dist_p50", "dist_p75", "dist_p90", "dist_p95", "dist_p99")
        )
    )
    lines.append(
        f"Visibility: precision {_fmt(m.get('vis_precision'))}   recall {_fmt(m.get('vis_recall'))}"
    )
    lines += _identity_lines(m.get("identity"))
    per_node = m.get("dist_per_node") or {}
    if per_node:
        width = max(4, *(len(name) for name in per_node))
        lines += [
            "",
            f"{'node':<{width}}  {'mean':>7}  {'p50':>7}  {'p90':>7}  {'p95':>7}  {'n':>6}",
        ]
        for name, s in per_node.items():
            lines.append(
                f"{name:<{width}}  {_fmt(s.get('mean'), 2):>7}  {_fmt(s.get('p50'), 2):>7}  "
                f"{_fmt(s.get('p90'), 2):>7}  {_fmt(s.get('p95'), 2):>7}  {_fmt(s.get('n')):>6}"
            )
    unmatched = m.get("videos_unmatched") or []
    if unmatched:
        lines += ["", "Ground-truth videos without predictions (all instances missed):"]
        lines += [f"  {v}" for v in unmatched]
    return "\n".join(lines)


def _identity_lines(identity: dict[str, Any] | None) -> list[str]:
    """The identity section, empty without identity metrics."""
    if not identity:
        return []
    i = identity
    lines = [
        "",
        (
            f"Identity: {_fmt(i.get('id_switches'))} switches   IDF1 {_fmt(i.get('idf1'))} "
            f"(IDP {_fmt(i.get('idp'))}, IDR {_fmt(i.get('idr'))})   MOTA {_fmt(i.get('mota'))}"
        ),
        (
            f"Tracks: {_fmt(i.get('tracks_pred'))} predicted, {_fmt(i.get('tracks_gt'))} true;"
            f" right identity on {_fmt(_pct(i.get('identity_correct_fraction')), 1, '%')}"
            " of the animals found"
        ),
    ]
    per_track = i.get("per_track_named_right") or {}
    if per_track and i.get("named_right_fraction"):  # names were learnt (an ID model)
        lines.append(
            "Named right (same track name): "
            f"{_fmt(_pct(i.get('named_right_fraction')), 1, '%')}; per track: "
            + ", ".join(f"{name} {_fmt(_pct(v), 1, '%')}" for name, v in per_track.items())
        )
    if i.get("untracked_pred"):
        lines.append(f"Predictions without a track: {_fmt(i['untracked_pred'])}")
    if i.get("untracked_gt"):
        lines.append(
            f"Ground-truth instances without a track (left out): {_fmt(i['untracked_gt'])}"
        )
    return lines


def _pct(value: Any) -> float | None:
    return None if value is None else 100.0 * float(value)
