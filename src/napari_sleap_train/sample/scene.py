"""Drawing the synthetic sample: a textured arena, animals that walk, turn and climb over
each other, their poses, and which of their nodes stay visible."""

from __future__ import annotations

import math

import numpy as np

MARGIN = 30.0  # px between the animals and the frame border
BODY_LENGTH = 56.0  # head-to-tail-tip distance in pixels at scale 1
EXTENT = 0.66  # max distance of any drawn part from the thorax, in body lengths
_HEAD_DIST = 0.27
_ABDOMEN_DIST = 0.33
_ABDOMEN_HALF = 0.27
_WING_DIST = 0.55
_LEG_DIST = 0.42


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, ...], sigma: float) -> np.ndarray:
    """Unit-variance noise along the last axis, smoothed with a Gaussian of ``sigma``."""
    n = shape[-1]
    pad = int(3 * sigma) + 1
    white = rng.standard_normal((*shape[:-1], n + 2 * pad))
    k = np.arange(-pad, pad + 1, dtype=np.float64)
    kernel = np.exp(-0.5 * (k / sigma) ** 2)
    kernel /= np.sqrt(np.sum(kernel**2))
    flat = white.reshape(-1, white.shape[-1])
    out = np.stack([np.convolve(row, kernel, mode="valid") for row in flat])
    return out.reshape(shape)


def _smooth_field(rng: np.random.Generator, size: int, sigma: float) -> np.ndarray:
    """Periodic 2-D Gaussian-smoothed noise with unit standard deviation."""
    white = rng.standard_normal((size, size))
    f = np.fft.fftfreq(size)
    transfer = np.exp(-2.0 * (np.pi * sigma) ** 2 * (f[:, None] ** 2 + f[None, :] ** 2))
    field = np.fft.ifft2(np.fft.fft2(white) * transfer).real
    return (field - field.mean()) / (field.std() + 1e-12)


def make_background(rng: np.random.Generator, size: int) -> np.ndarray:
    """Static textured arena floor as float32 ``(size, size)``."""
    bg = 150.0 + 14.0 * _smooth_field(rng, size, 24.0) + 6.0 * _smooth_field(rng, size, 3.0)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    for _ in range(7):
        cx, cy = rng.uniform(0, size, 2)
        sx, sy = rng.uniform(4.0, 22.0, 2)
        ang = rng.uniform(0, np.pi)
        amp = rng.choice([-1.0, 1.0]) * rng.uniform(12.0, 35.0)
        c, s = math.cos(ang), math.sin(ang)
        du = (xx - cx) * c + (yy - cy) * s
        dv = -(xx - cx) * s + (yy - cy) * c
        bg += amp * np.exp(-0.5 * ((du / sx) ** 2 + (dv / sy) ** 2))
    r2 = ((xx - size / 2) ** 2 + (yy - size / 2) ** 2) / (size / 2) ** 2
    bg *= 1.0 - 0.12 * r2
    return bg.astype(np.float32)


# ---------------------------------------------------------------------------
# Motion
# ---------------------------------------------------------------------------


def _wrap(a: np.ndarray | float) -> np.ndarray | float:
    """Wrap angles to ``[-pi, pi)``."""
    return (np.asarray(a) + np.pi) % (2 * np.pi) - np.pi


def simulate(
    rng: np.random.Generator, n_frames: int, size: int, scales: np.ndarray
) -> dict[str, np.ndarray]:
    """Simulate centre positions, headings and posture signals for each animal."""
    n = len(scales)
    lengths = BODY_LENGTH * scales
    lo = MARGIN + EXTENT * lengths
    hi = size - 1 - MARGIN - EXTENT * lengths

    speed = np.clip(1.1 + 0.9 * _smooth_noise(rng, (n, n_frames), 12.0), 0.0, 2.8) * scales[:, None]
    turn_noise = 0.05 * _smooth_noise(rng, (n, n_frames), 6.0)
    approach = _smooth_noise(rng, (n, n_frames), 25.0) > 0.2
    head_turn = np.clip(0.15 * _smooth_noise(rng, (n, n_frames), 8.0), -0.3, 0.3)
    bend = np.clip(0.18 * _smooth_noise(rng, (n, n_frames), 10.0), -0.4, 0.4)
    wing = np.clip(0.6 + 0.15 * _smooth_noise(rng, (n, n_frames), 15.0), 0.32, 1.0)

    pos = np.empty((n_frames, n, 2))
    theta = np.empty((n_frames, n))
    p = np.empty((n, 2))
    for i in range(n):
        for _ in range(100):
            p[i] = rng.uniform(lo[i], hi[i], 2)
            if all(np.hypot(*(p[i] - p[j])) > 0.5 * (lengths[i] + lengths[j]) for j in range(i)):
                break
    th = rng.uniform(-np.pi, np.pi, n)
    centre = np.full(2, (size - 1) / 2.0)
    for t in range(n_frames):
        for i in range(n):
            dturn = turn_noise[i, t]
            ahead = p[i] + 30.0 * np.array([math.cos(th[i]), math.sin(th[i])])
            if np.any(ahead < lo[i]) or np.any(ahead > hi[i]):
                to_c = math.atan2(*(centre - p[i])[::-1])
                dturn += 0.09 * np.sign(_wrap(to_c - th[i]))
            elif approach[i, t]:
                d = np.hypot(*(p - p[i]).T)
                d[i] = np.inf
                j = int(np.argmin(d))
                if d[j] > 0.6 * lengths[i]:
                    to_j = math.atan2(*(p[j] - p[i])[::-1])
                    dturn += 0.06 * np.clip(_wrap(to_j - th[i]), -1.0, 1.0)
            th[i] = _wrap(th[i] + np.clip(dturn, -0.12, 0.12))
            p[i] += speed[i, t] * np.array([math.cos(th[i]), math.sin(th[i])])
        for i in range(n):
            for j in range(i + 1, n):
                delta = p[j] - p[i]
                dist = float(np.hypot(*delta))
                dmin = 0.25 * (lengths[i] + lengths[j])
                if dist < dmin:
                    u = delta / dist if dist > 1e-6 else np.array([1.0, 0.0])
                    p[i] -= 0.5 * (dmin - dist) * u
                    p[j] += 0.5 * (dmin - dist) * u
        p[:] = np.clip(p, lo[:, None], hi[:, None])
        pos[t] = p
        theta[t] = th

    gait = np.cumsum(speed, axis=1) / (0.35 * lengths[:, None]) * np.pi
    swing = 0.3 * np.sin(gait).T
    return {
        "pos": pos,
        "theta": theta,
        "head_turn": head_turn.T,
        "bend": bend.T,
        "wing": wing.T,
        "swing": swing,
    }


def _unit(angle: np.ndarray) -> np.ndarray:
    """Unit vectors ``(..., 2)`` for angles in image coordinates (y down)."""
    return np.stack([np.cos(angle), np.sin(angle)], axis=-1)


def pose_geometry(motion: dict[str, np.ndarray], scales: np.ndarray) -> dict[str, np.ndarray]:
    """Node positions and body-part geometry for every frame and animal."""
    blen = (BODY_LENGTH * scales)[None, :, None]
    c = motion["pos"]
    th = motion["theta"]
    head_ang = th + motion["head_turn"]
    abd_ang = th + np.pi + motion["bend"]
    # Left of an animal heading `th` is at `th - pi/2` in image coordinates (y down).
    wing_l = th + np.pi + motion["wing"]
    wing_r = th + np.pi - motion["wing"]
    leg_l = th - np.pi / 2 + 0.55 + motion["swing"]
    leg_r = th + np.pi / 2 - 0.55 + motion["swing"]

    head = c + _HEAD_DIST * blen * _unit(head_ang)
    abdomen = c + _ABDOMEN_DIST * blen * _unit(abd_ang)
    tail = c + (_ABDOMEN_DIST + _ABDOMEN_HALF) * blen * _unit(abd_ang)
    wl = c + _WING_DIST * blen * _unit(wing_l)
    wr = c + _WING_DIST * blen * _unit(wing_r)
    ll = c + _LEG_DIST * blen * _unit(leg_l)
    lr = c + _LEG_DIST * blen * _unit(leg_r)
    poses = np.stack([head, c, abdomen, tail, wl, wr, ll, lr], axis=2)
    return {
        "poses": poses,
        "theta": th,
        "head_ang": head_ang,
        "abd_ang": abd_ang,
        "wing_ang": np.stack([wing_l, wing_r], axis=-1),
    }


# ---------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------


def _window(
    shape: tuple[int, int], cx: float, cy: float, r: float
) -> tuple[slice, slice, np.ndarray, np.ndarray] | None:
    """Pixel window around ``(cx, cy)`` and its coordinates relative to the centre."""
    h, w = shape
    x0, x1 = max(int(math.floor(cx - r)), 0), min(int(math.ceil(cx + r)) + 1, w)
    y0, y1 = max(int(math.floor(cy - r)), 0), min(int(math.ceil(cy + r)) + 1, h)
    if x0 >= x1 or y0 >= y1:
        return None
    xs = np.arange(x0, x1, dtype=np.float32)[None, :] - np.float32(cx)
    ys = np.arange(y0, y1, dtype=np.float32)[:, None] - np.float32(cy)
    return slice(y0, y1), slice(x0, x1), xs, ys


def _ramp(d: np.ndarray) -> np.ndarray:
    """Pixel coverage for signed edge distance ``d`` (px, negative inside)."""
    return np.minimum(np.maximum(0.5 - d, 0.0), 1.0)


def _ellipse_q(
    xs: np.ndarray, ys: np.ndarray, ang: float, a: float, b: float
) -> tuple[np.ndarray, np.ndarray]:
    """Normalised radius ``q`` and approximate signed edge distance (px) of an ellipse."""
    c, s = math.cos(ang), math.sin(ang)
    du = xs * c + ys * s
    dv = ys * c - xs * s
    q = np.sqrt((du / a) ** 2 + (dv / b) ** 2)
    grad = np.sqrt((du / a**2) ** 2 + (dv / b**2) ** 2)
    k = np.maximum(grad / np.maximum(q, 1e-6), 1e-6)
    return q, (q - 1.0) / k


def _draw_ellipse(
    img: np.ndarray,
    cx: float,
    cy: float,
    ang: float,
    a: float,
    b: float,
    edge: float,
    inner: float,
    opacity: float = 1.0,
    stripes: float = 0.0,
) -> None:
    """Composite an anti-aliased, radially shaded ellipse onto ``img`` in place."""
    win = _window(img.shape, cx, cy, max(a, b) + 2.0)
    if win is None:
        return
    sy, sx, xs, ys = win
    q, d = _ellipse_q(xs, ys, ang, a, b)
    alpha = _ramp(d) * opacity if opacity != 1.0 else _ramp(d)
    value = edge + (inner - edge) * np.maximum(1.0 - q * q, 0.0)
    if stripes:
        du = xs * math.cos(ang) + ys * math.sin(ang)
        value = value + stripes * np.cos(du * (2.5 * np.pi / a))
    patch = img[sy, sx]
    patch += alpha * (value - patch)


def _draw_segment(
    img: np.ndarray, p0: np.ndarray, p1: np.ndarray, half_width: float, value: float
) -> None:
    """Composite an anti-aliased line segment onto ``img`` in place."""
    mid = 0.5 * (p0 + p1)
    seg = p1 - p0
    length = float(np.hypot(*seg))
    win = _window(img.shape, mid[0], mid[1], 0.5 * length + half_width + 2.0)
    if win is None or length < 1e-6:
        return
    sy, sx, xs, ys = win
    ux, uy = seg / length
    along = np.clip(xs * ux + ys * uy, -0.5 * length, 0.5 * length)
    dist = np.hypot(xs - along * ux, ys - along * uy)
    alpha = _ramp(dist - half_width)
    patch = img[sy, sx]
    patch += alpha * (value - patch)


def _draw_spot(img: np.ndarray, cx: float, cy: float, sigma: float, value: float) -> None:
    """Composite a Gaussian spot centred at ``(cx, cy)`` onto ``img`` in place."""
    win = _window(img.shape, cx, cy, 3.0 * sigma + 1.0)
    if win is None:
        return
    sy, sx, xs, ys = win
    alpha = np.exp((xs * xs + ys * ys) * (-0.5 / sigma**2))
    patch = img[sy, sx]
    patch += alpha * (value - patch)


MARKS = ("thorax dot", "abdomen dot", "both dots")
"""The painted mark of animal ``i`` is ``MARKS[i % 3]``: a white dot on the thorax, one on
the abdomen, or both, so that animals can be told apart as marked ones can. Every animal
carries a dot: a pose model learns where dots sit, and an unmarked animal among marked ones
was split in two by a briefly trained bottom-up model."""


def _draw_mark(img: np.ndarray, geo: dict[str, np.ndarray], t: int, i: int, length: float) -> None:
    """Paint animal ``i``'s identity mark (:data:`MARKS`) onto its body."""
    mark = MARKS[i % len(MARKS)]
    nodes = geo["poses"][t, i]
    for node, name in ((1, "thorax dot"), (2, "abdomen dot")):
        if mark in (name, "both dots"):
            _draw_spot(img, nodes[node][0], nodes[node][1], 0.045 * length, 245.0)


def draw_animal(
    img: np.ndarray, geo: dict[str, np.ndarray], t: int, i: int, length: float, tone: float
) -> None:
    """Draw animal ``i`` of frame ``t`` onto ``img`` in place, with its mark."""
    nodes = geo["poses"][t, i]
    th = float(geo["theta"][t, i])
    abd = float(geo["abd_ang"][t, i])
    head_ang = float(geo["head_ang"][t, i])
    thorax = nodes[1]
    for k, side in ((6, -1.0), (7, 1.0)):
        root = thorax + 0.06 * length * np.array([math.cos(th), math.sin(th)])
        root = root + side * 0.04 * length * np.array([-math.sin(th), math.cos(th)])
        _draw_segment(img, root, nodes[k], 0.018 * length + 0.3, 45.0 + tone)
        _draw_spot(img, nodes[k][0], nodes[k][1], 0.035 * length, 25.0 + tone)
    a_abd = _ABDOMEN_HALF * length
    _draw_ellipse(img, *nodes[2], abd, a_abd, 0.15 * length, 80.0 + tone, 45.0 + tone, stripes=14.0)
    _draw_spot(img, nodes[3][0], nodes[3][1], 0.04 * length, 20.0 + tone)
    _draw_ellipse(img, *thorax, th, 0.17 * length, 0.13 * length, 55.0 + tone, 20.0 + tone)
    _draw_ellipse(img, *nodes[0], head_ang, 0.12 * length, 0.10 * length, 40.0 + tone, 125.0 + tone)
    _draw_mark(img, geo, t, i, length)
    for k, wa in ((4, geo["wing_ang"][t, i, 0]), (5, geo["wing_ang"][t, i, 1])):
        root = thorax + 0.04 * length * _unit(np.float64(wa))
        mid = 0.5 * (root + nodes[k])
        half = 0.5 * float(np.hypot(*(nodes[k] - root)))
        _draw_ellipse(img, *mid, float(wa), half, 0.075 * length, 200.0, 235.0, opacity=0.45)
        _draw_spot(img, nodes[k][0], nodes[k][1], 0.03 * length, 60.0)


def opaque_q(
    geo: dict[str, np.ndarray], t: int, i: int, length: float, pts: np.ndarray
) -> np.ndarray:
    """Smallest normalised ellipse radius of animal ``i``'s opaque body at ``pts``."""
    nodes = geo["poses"][t, i]
    parts = (
        (nodes[0], float(geo["head_ang"][t, i]), 0.12, 0.10),
        (nodes[1], float(geo["theta"][t, i]), 0.17, 0.13),
        (nodes[2], float(geo["abd_ang"][t, i]), _ABDOMEN_HALF, 0.15),
    )
    q = np.full(len(pts), np.inf)
    for centre, ang, a, b in parts:
        rel = pts - centre
        qi, _ = _ellipse_q(rel[:, 0], rel[:, 1], ang, a * length, b * length)
        q = np.minimum(q, qi)
    return q


def z_orders(rng: np.random.Generator, poses: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Per-frame drawing order (bottom first); it only changes while animals are apart."""
    n_frames, n = poses.shape[:2]
    order = rng.permutation(n)
    orders = np.empty((n_frames, n), dtype=np.int64)
    centres = poses[:, :, 1]
    reach = 2.0 * EXTENT * lengths
    for t in range(n_frames):
        if t % 40 == 20:
            d = np.hypot(*(centres[t, :, None] - centres[t, None, :]).transpose(2, 0, 1))
            apart = d + np.eye(n) * 1e9 > 0.5 * (reach[:, None] + reach[None, :])
            candidate = rng.permutation(n)
            if np.all(apart):
                order = candidate
        orders[t] = order
    return orders
