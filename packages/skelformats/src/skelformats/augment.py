"""Random transforms of a :class:`Motion` for view- and format-invariant training.

Each transform is a pure function ``f(motion, rng, **settings) -> Motion`` of a ``numpy.random.Generator``:
rotation about the layout's up axis with small tilts, scale, per-joint jitter, joint and limb dropout,
temporal crop, speed change and a random 3D -> 2D camera projection. :class:`Augment` composes them with a
probability each; :func:`rng_for` gives the generator of one (seed, epoch, index) key, so a training run
sees the same augmented data however often it is resumed. Missing joints (confidence 0) stay missing and
keep their coordinates.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from .layout import Layout
from .motion import Motion

_AXES = {"x": 0, "y": 1, "z": 2}


def rng_for(*key: int) -> np.random.Generator:
    """The generator of one key, e.g. ``rng_for(seed, epoch, index)`` (a pure function of the key)."""
    return np.random.default_rng([int(k) & 0xFFFFFFFF for k in key])


def _up(layout: Layout) -> int:
    return _AXES[(layout.up_axis or "y").lstrip("-")]


def _axis_rotation(axis: int, theta: float) -> np.ndarray:
    """3x3 right-handed rotation by ``theta`` about coordinate ``axis``."""
    c, s = math.cos(theta), math.sin(theta)
    a, b = [(1, 2), (2, 0), (0, 1)][axis]
    R = np.eye(3)
    R[a, a], R[a, b], R[b, a], R[b, b] = c, -s, s, c
    return R


def _centre(motion: Motion) -> np.ndarray:
    """Mean of the observed joints of the first frame with any (all people): the pivot of rotations."""
    data = motion.data.reshape(-1, *motion.data.shape[-3:]) if motion.multi else motion.data[None]
    mask = motion.mask.reshape(-1, *motion.mask.shape[-2:]) if motion.multi else motion.mask[None]
    seen = mask.any(axis=(0, 2))
    if not seen.any():
        return np.zeros(motion.dims)
    t = int(np.flatnonzero(seen)[0])
    return data[:, t][mask[:, t]].astype(np.float64).mean(0)


def _linear(motion: Motion, M: np.ndarray, *, layout: Layout | None = None) -> Motion:
    """Apply the (C_out, C_in) map ``M`` about the pivot to the observed joints (missing ones stay put)."""
    c = _centre(motion)
    x = (motion.data.astype(np.float64) - c) @ M.T
    if layout is None:
        x = x + c
        out = np.where(motion.mask[..., None], x, motion.data)
    else:
        out = np.where(motion.mask[..., None], x, 0.0)
    return motion.replace(data=out.astype(np.float32), layout=layout or motion.layout)


def random_rotation(layout: Layout, rng: np.random.Generator, *, yaw: float, tilt: float):
    """A (3, 3) rotation: uniform yaw in ``[-yaw, yaw]`` degrees about the up axis after tilts in
    ``[-tilt, tilt]`` degrees about the two horizontal axes."""
    up = _up(layout)
    R = np.eye(3)
    for ax in (i for i in range(3) if i != up):
        R = _axis_rotation(ax, math.radians(rng.uniform(-tilt, tilt))) @ R
    return _axis_rotation(up, math.radians(rng.uniform(-yaw, yaw))) @ R


def rotate(motion: Motion, rng: np.random.Generator, *, yaw: float = 180.0, tilt: float = 10.0):
    """Rigid rotation about the first frame's centre: about the up axis (3D) or in the image plane by at
    most ``tilt`` degrees (2D). Bone lengths are preserved."""
    if motion.dims == 2:
        th = math.radians(rng.uniform(-tilt, tilt))
        M = np.array([[math.cos(th), -math.sin(th)], [math.sin(th), math.cos(th)]])
    else:
        M = random_rotation(motion.layout, rng, yaw=yaw, tilt=tilt)
    return _linear(motion, M)


def scale(
    motion: Motion,
    rng: np.random.Generator,
    *,
    low: float = 0.85,
    high: float = 1.15,
    anisotropy: float = 0.05,
):
    """Uniform scale in ``[low, high]`` times an independent factor in ``1 +- anisotropy`` per axis."""
    s = rng.uniform(low, high) * (1 + rng.uniform(-anisotropy, anisotropy, motion.dims))
    return _linear(motion, np.diag(s))


def _size(motion: Motion) -> float:
    from .normalize import body_size

    return body_size(motion.person(0) if motion.multi else motion)


def jitter(motion: Motion, rng: np.random.Generator, *, sigma: float = 0.02):
    """Gaussian noise on every observed joint, ``sigma`` in units of the body size (torso length)."""
    noise = rng.normal(0.0, sigma * _size(motion), motion.data.shape)
    out = np.where(motion.mask[..., None], motion.data + noise, motion.data)
    return motion.replace(data=out.astype(np.float32))


def _drop(motion: Motion, drop: np.ndarray) -> Motion:
    """Mark ``drop`` (broadcastable to the mask) missing: confidence 0 and coordinates 0."""
    drop = np.broadcast_to(drop, motion.mask.shape) & motion.mask
    conf = np.where(drop, 0.0, motion.confidence_or_ones()).astype(np.float32)
    data = np.where(drop[..., None], 0.0, motion.data).astype(np.float32)
    return motion.replace(data=data, confidence=conf)


def drop_joints(motion: Motion, rng: np.random.Generator, *, rate: float = 0.05):
    """Each (frame, joint) goes missing with probability ``rate`` (tracking dropouts)."""
    return _drop(motion, rng.random(motion.mask.shape) < rate)


def _subtree(layout: Layout, j: int) -> list[int]:
    out, stack = [], [j]
    while stack:
        k = stack.pop()
        out.append(k)
        stack += layout.children(k)
    return out


def drop_limb(motion: Motion, rng: np.random.Generator, *, max_fraction: float = 0.25):
    """A random limb (the subtree of a non-root joint, at most ``max_fraction`` of the joints; for a
    layout without parents a random joint and its edge neighbours) goes missing in every frame."""
    lay = motion.layout
    J = lay.num_joints
    if lay.parents is not None:
        limbs = [s for j in range(J) if lay.parents[j] >= 0 for s in [_subtree(lay, j)]]
    else:
        edges = np.asarray(lay.edges).reshape(-1, 2)
        limbs = [[j, *edges[edges[:, 0] == j, 1], *edges[edges[:, 1] == j, 0]] for j in range(J)]
    limbs = [s for s in limbs if len(s) <= max(1, int(max_fraction * J))]
    if not limbs:
        return motion
    drop = np.zeros(J, bool)
    drop[limbs[int(rng.integers(len(limbs)))]] = True
    return _drop(motion, drop)


def _resample(motion: Motion, t: np.ndarray) -> Motion:
    """Linear interpolation at fractional frame positions ``t``; confidence is the lower neighbour's."""
    T = motion.num_frames
    lo = np.clip(np.floor(t).astype(int), 0, T - 1)
    hi = np.minimum(lo + 1, T - 1)
    frac = t - lo
    w = frac.astype(np.float32)[:, None, None]
    data, mask = motion.data, motion.mask
    a, b = np.take(data, lo, axis=-3), np.take(data, hi, axis=-3)
    # at whole-frame positions the upper neighbour plays no part (a crop copies frames exactly)
    ma, mb = np.take(mask, lo, axis=-2), np.take(mask, hi, axis=-2) & (frac > 0)[:, None]
    out = np.where((ma & mb)[..., None], (1 - w) * a + w * b, np.where((mb & ~ma)[..., None], b, a))
    conf = None
    if motion.confidence is not None:
        ca, cb = np.take(motion.confidence, lo, axis=-2), np.take(motion.confidence, hi, axis=-2)
        cb = np.where(mb, cb, 0.0)
        conf = np.where(ma & mb, np.minimum(ca, cb), np.maximum(ca, cb))
    return motion.replace(data=out.astype(np.float32), confidence=conf)


def temporal_crop(motion: Motion, rng: np.random.Generator, *, min_fraction: float = 0.8):
    """A random contiguous window of at least ``min_fraction`` of the frames (at least one)."""
    T = motion.num_frames
    n = int(rng.integers(max(1, math.ceil(min_fraction * T)), T + 1))
    s = int(rng.integers(0, T - n + 1))
    return _resample(motion, np.arange(s, s + n, dtype=np.float64))


def speed(motion: Motion, rng: np.random.Generator, *, low: float = 0.8, high: float = 1.25):
    """Play the motion ``f`` times faster (``f`` log-uniform in ``[low, high]``) at the same fps."""
    f = math.exp(rng.uniform(math.log(low), math.log(high)))
    T = motion.num_frames
    n = max(1, round(T / f))
    return _resample(motion, np.linspace(0.0, T - 1, n))


@lru_cache(maxsize=64)
def twin_2d(layout: Layout) -> Layout:
    """The same joints and graph as a 2D image-style layout (y down), named ``<name>_2d``."""
    if layout.dims == 2:
        return layout
    return Layout(
        name=f"{layout.name}_2d",
        joints=layout.joints,
        parents=layout.parents,
        edges=np.asarray(layout.edges) if layout._explicit_edges else None,
        dims=2,
        canonical=layout.canonical,
        flip_pairs=layout.flip_pairs,
        units=None,
        up_axis="-y",
    )


def camera_matrix(layout: Layout, rng: np.random.Generator, *, yaw: float, elevation: float):
    """(2, 3) orthographic camera at a random yaw (degrees, about the up axis) and elevation, with
    image x to the right and image y down."""
    up = _up(layout)
    sign = -1.0 if (layout.up_axis or "y").startswith("-") else 1.0
    a = [i for i in range(3) if i != up][0]  # y-up: a = x
    R = random_rotation(layout, rng, yaw=yaw, tilt=0.0)
    R = _axis_rotation(a, math.radians(rng.uniform(-elevation, elevation))) @ R
    P = np.zeros((2, 3))
    P[0, a] = 1.0
    P[1, up] = -sign  # image rows grow downwards
    return P @ R


def project(
    motion: Motion,
    rng: np.random.Generator,
    *,
    yaw: float = 180.0,
    elevation: float = 20.0,
    layout: str | Layout | None = None,
):
    """A 3D motion seen by a random orthographic camera: 2D data in ``layout`` (a 2D layout name, through
    :func:`skelformats.convert`) or in the layout's own 2D twin (:func:`twin_2d`). 2D motions pass."""
    if motion.dims == 2:
        return motion
    P = camera_matrix(motion.layout, rng, yaw=yaw, elevation=elevation)
    if layout is not None:
        from .convert import convert

        return convert(motion, layout, project=P)
    return _linear(motion, P, layout=twin_2d(motion.layout))


TRANSFORMS = {
    "crop": temporal_crop,
    "speed": speed,
    "rotate": rotate,
    "scale": scale,
    "project": project,
    "jitter": jitter,
    "drop_joints": drop_joints,
    "drop_limb": drop_limb,
}
"""Name -> transform, in the order :class:`Augment` applies them."""

DEFAULTS: dict[str, dict] = {
    "crop": {"p": 0.5, "min_fraction": 0.8},
    "speed": {"p": 0.5, "low": 0.8, "high": 1.25},
    "rotate": {"p": 1.0, "yaw": 180.0, "tilt": 10.0},
    "scale": {"p": 1.0, "low": 0.85, "high": 1.15, "anisotropy": 0.05},
    "project": {"p": 0.0, "yaw": 180.0, "elevation": 20.0},
    "jitter": {"p": 0.5, "sigma": 0.02},
    "drop_joints": {"p": 0.3, "rate": 0.05},
    "drop_limb": {"p": 0.1, "max_fraction": 0.25},
}
"""Settings of :class:`Augment` when a transform is not named (``p`` is its probability)."""


@dataclass(frozen=True)
class Augment:
    """A composed augmentation: ``settings[name]`` holds ``p`` (probability) and the keyword arguments of
    ``TRANSFORMS[name]``; a transform with ``p == 0`` is off. ``augment(motion, rng)`` applies the
    transforms in :data:`TRANSFORMS` order."""

    settings: Mapping[str, Mapping] = field(default_factory=lambda: dict(DEFAULTS))

    @classmethod
    def from_config(cls, cfg=None, *, source: str = "augment") -> Augment | None:
        """From a recipe block: None/True -> defaults; False -> None (off); a mapping overrides the
        defaults per transform (``{rotate: {yaw: 90}}``, ``{project: 0.5}`` for just ``p``,
        ``{drop_limb: false}`` to turn one off). Unknown names raise ``ValueError`` naming ``source``."""
        if cfg is False:
            return None
        if cfg is None or cfg is True:
            return cls()
        if isinstance(cfg, Augment):
            return cfg
        if not isinstance(cfg, Mapping):
            raise ValueError(f"{source}: expected true, false or a mapping, got {cfg!r}")
        settings = {k: dict(v) for k, v in DEFAULTS.items()}
        for name, v in cfg.items():
            if name not in TRANSFORMS:
                raise ValueError(f"{source}: unknown transform {name!r}; known: {list(TRANSFORMS)}")
            if v is False or v is None:
                v = {"p": 0.0}
            elif v is True:
                v = {"p": settings[name]["p"] or 1.0}
            elif isinstance(v, (int, float)):
                v = {"p": float(v)}
            elif not isinstance(v, Mapping):
                raise ValueError(f"{source}.{name}: expected a probability or a mapping, got {v!r}")
            bad = sorted(
                set(v) - set(DEFAULTS[name]) - ({"layout"} if name == "project" else set())
            )
            if bad:
                raise ValueError(
                    f"{source}.{name}: unknown setting(s) {bad}; known: {sorted(DEFAULTS[name])}"
                )
            p = float(v.get("p", settings[name]["p"]))
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"{source}.{name}.p: a probability in [0, 1], got {p!r}")
            settings[name].update(v)
            settings[name]["p"] = p
        return cls(settings)

    def to_dict(self) -> dict:
        return {k: dict(v) for k, v in self.settings.items()}

    def __call__(self, motion: Motion, rng: np.random.Generator) -> Motion:
        for name, fn in TRANSFORMS.items():
            s = dict(self.settings.get(name) or {"p": 0.0})
            p = s.pop("p", 0.0)
            if rng.random() < p:
                motion = fn(motion, rng, **s)
        return motion


__all__ = [
    "Augment",
    "DEFAULTS",
    "TRANSFORMS",
    "camera_matrix",
    "drop_joints",
    "drop_limb",
    "jitter",
    "project",
    "random_rotation",
    "rng_for",
    "rotate",
    "scale",
    "speed",
    "temporal_crop",
    "twin_2d",
]
