"""Normalisation: centre on the pelvis/root, scale by body size, optionally face a fixed direction."""

from __future__ import annotations

from typing import Literal

import numpy as np

from .convert import canonical_expressions
from .errors import ConversionError
from .layout import Layout
from .motion import Motion

_AXES = {"x": 0, "y": 1, "z": 2}


def _weights(layout: Layout, *names: str) -> np.ndarray | None:
    """(J,) weights of a canonical point (direct or derived), or None."""
    expr = canonical_expressions(layout)
    for n in names:
        if n in expr:
            w = np.zeros(layout.num_joints, np.float64)
            for i, v in expr[n].items():
                w[i] = v
            return w
    return None


def root_weights(layout: Layout) -> np.ndarray:
    """(J,) weights of the centre point: canonical pelvis, else the tree root, else all joints' mean."""
    w = _weights(layout, "pelvis")
    if w is not None:
        return w
    w = np.zeros(layout.num_joints)
    if layout.parents is not None:
        w[layout.parents.index(-1)] = 1.0
    else:
        w[:] = 1.0 / layout.num_joints
    return w


def _point(data, mask, w):
    """Weighted point per frame (..., C) and whether all its sources are observed (...)."""
    p = np.einsum("j,...jc->...c", w.astype(np.float64), data.astype(np.float64))
    ok = mask[..., w != 0].all(axis=-1)
    return p, ok


# below this a "body size" is degenerate (all joints in one point): dividing by it would blow up
_MIN_SIZE = 1e-6


def body_size(motion: Motion) -> float:
    """Median over frames of the pelvis-neck distance, else of the bounding-box diagonal, else 1."""
    lay, data, mask = motion.layout, motion.data, motion.mask
    wp, wn = _weights(lay, "pelvis"), _weights(lay, "neck", "chest")
    if wp is not None and wn is not None:
        p, okp = _point(data, mask, wp)
        n, okn = _point(data, mask, wn)
        ok = okp & okn
        if ok.any():
            d = np.linalg.norm((n - p)[ok], axis=-1)
            s = float(np.median(d))
            if s > _MIN_SIZE:
                return s
    flat = data.reshape(-1, data.shape[-2], data.shape[-1]).astype(np.float64)
    m = mask.reshape(-1, data.shape[-2])
    sizes = []
    for f, mk in zip(flat, m):
        if mk.sum() >= 2:
            pts = f[mk]
            sizes.append(np.linalg.norm(pts.max(0) - pts.min(0)))
    s = float(np.median(sizes)) if sizes else 0.0
    return s if s > _MIN_SIZE else 1.0


def _up_axis(layout: Layout) -> int:
    a = (layout.up_axis or "y").lstrip("-")
    return _AXES[a]


def facing_angle(motion: Motion, frame: int = 0) -> float | None:
    """Angle (radians) about the up axis that turns the body's left (left hip/shoulder minus right)
    onto +x at ``frame`` (first person), or None when those joints are unobserved."""
    lay = motion.layout
    data = motion.data[0] if motion.multi else motion.data
    mask = motion.mask[0] if motion.multi else motion.mask
    for left, right in (("left_hip", "right_hip"), ("left_shoulder", "right_shoulder")):
        wl, wr = _weights(lay, left), _weights(lay, right)
        if wl is None or wr is None:
            continue
        pl, okl = _point(data[frame], mask[frame], wl)
        pr, okr = _point(data[frame], mask[frame], wr)
        if not (okl and okr):
            continue
        v = pl - pr
        up = _up_axis(lay)
        a, b = [i for i in range(3) if i != up]  # for y-up: a = x, b = z
        if np.hypot(v[a], v[b]) < 1e-9:
            continue
        # rotation by theta about `up` maps (a, b) -> (a cos + b sin, -a sin + b cos) for y-up
        return float(np.arctan2(v[b], v[a]))
    return None


def _rotation_about(axis: int, theta: float) -> np.ndarray:
    """3x3 matrix rotating the body's left onto +x (right-handed, about ``axis``)."""
    c, s = np.cos(theta), np.sin(theta)
    R = np.eye(3)
    a, b = [i for i in range(3) if i != axis]
    if axis == 1:
        # about y: x' = x c + z s, z' = -x s + z c
        R[a, a], R[a, b], R[b, a], R[b, b] = c, s, -s, c
    else:
        R[a, a], R[a, b], R[b, a], R[b, b] = c, s, -s, c
    return R


def normalize(
    motion: Motion,
    *,
    center: Literal["first", "frame"] | None = "first",
    scale: Literal["torso"] | float | None = "torso",
    face: bool = False,
) -> Motion:
    """Normalised copy of ``motion``.

    center: ``"first"`` subtracts the pelvis (or root) of the first observed frame from all frames
            (keeps the trajectory); ``"frame"`` centres every frame; None leaves positions.
    scale:  ``"torso"`` divides by :func:`body_size`; a number divides by it; None keeps the scale.
    face:   rotate about the up axis so the body faces +z at the first frame (3D only).
    Idempotent: normalising a normalised motion changes nothing (up to float rounding).
    Missing joints (confidence 0) stay at zero.  The applied transform is in ``meta["normalization"]``.
    """
    lay = motion.layout
    data = motion.data.astype(np.float64)
    mask = motion.mask
    info: dict = {}
    w = root_weights(lay)
    if center is not None:
        p, ok = _point(data, mask, w)
        if center == "first":
            flat_p = p.reshape(-1, p.shape[-1]) if not motion.multi else p[0]
            flat_ok = ok.reshape(-1) if not motion.multi else ok[0]
            idx = np.flatnonzero(flat_ok)
            c = flat_p[idx[0]] if len(idx) else np.zeros(lay.dims)
            data = data - c
            info["center"] = c.tolist()
        elif center == "frame":
            p = np.where(ok[..., None], p, 0.0)
            data = data - p[..., None, :]
            info["center"] = "frame"
        else:
            raise ConversionError(
                motion.meta.get("source"),
                f"center must be 'first', 'frame' or None, got {center!r}",
            )
    if face:
        if lay.dims != 3:
            raise ConversionError(motion.meta.get("source"), "face=True needs a 3D layout")
        theta = facing_angle(motion.replace(data=data.astype(np.float32)))
        if theta is not None and abs(theta) > 1e-9:
            R = _rotation_about(_up_axis(lay), theta)
            data = data @ R.T
        info["rotation"] = 0.0 if theta is None else theta
    if scale is not None:
        if scale == "torso":
            s = body_size(motion.replace(data=data.astype(np.float32)))
        else:
            s = float(scale)
            if not np.isfinite(s) or s <= 0:
                raise ConversionError(
                    motion.meta.get("source"), f"scale must be positive, got {scale!r}"
                )
        data = data / s
        info["scale"] = s
    data = np.where(mask[..., None], data, 0.0)
    meta = dict(motion.meta)
    meta["normalization"] = info
    return motion.replace(data=data.astype(np.float32), meta=meta)


__all__ = ["normalize", "body_size", "facing_angle", "root_weights"]
