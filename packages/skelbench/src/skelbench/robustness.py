"""Input corruptions for the robustness figures: joints dropped (marked missing, confidence 0, for
the whole sequence) and Gaussian coordinate noise. Deterministic for a seed."""

from __future__ import annotations

import numpy as np

VARIANTS = {
    "drop_10": ("drop", 0.10),
    "drop_30": ("drop", 0.30),
    "noise": ("noise", 0.05),
}


def body_scale(motion) -> float:
    """RMS distance of the observed joints from their centroid: a unit that works for metres,
    millimetres and pixels alike."""
    x = motion.data.reshape(-1, motion.data.shape[-1]).astype(np.float64)
    m = motion.mask.reshape(-1)
    x = x[m] if m.any() else x
    return float(np.sqrt(((x - x.mean(0)) ** 2).sum(-1).mean()) + 1e-9)


def drop_joints(motion, fraction: float, seed: int = 0):
    """A copy with round(fraction * J) joints (at least one) missing in every frame: coordinates
    0 and confidence 0, the way readers mark occluded joints."""
    rng = np.random.default_rng(seed)
    J = motion.num_joints
    k = max(1, int(round(fraction * J)))
    idx = rng.choice(J, size=k, replace=False)
    data = motion.data.copy()
    conf = motion.confidence_or_ones().copy()
    data[..., idx, :] = 0.0
    conf[..., idx] = 0.0
    return motion.replace(data=data, confidence=conf)


def add_noise(motion, sigma: float, seed: int = 0):
    """A copy with i.i.d. Gaussian noise of std ``sigma * body_scale`` on observed joints."""
    rng = np.random.default_rng(seed)
    s = sigma * body_scale(motion)
    noise = rng.normal(0.0, s, size=motion.data.shape).astype(np.float32)
    data = motion.data + noise * motion.mask[..., None]
    return motion.replace(data=data.astype(np.float32))


def corrupt(motion, variant: str, seed: int = 0):
    kind, amount = VARIANTS[variant]
    return drop_joints(motion, amount, seed) if kind == "drop" else add_noise(motion, amount, seed)
