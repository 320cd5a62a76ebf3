"""Procedural motion synthesis: the project's embedded default data.

``generate(action, *, layout="ntu25", seed=0, **params) -> Motion`` drives a parametrised canonical body
(bone lengths from height and limb ratios) with smooth joint-angle profiles per action, runs forward
kinematics to every canonical joint, keeps the feet on the floor, and converts the result to any
registered layout (2D layouts through a perspective view camera).  Everything not given is sampled from
``seed``; the full ground truth is in ``motion.meta["params"]``.
"""

from __future__ import annotations

from .actions import SPECS
from .body import BodyShape, Skeleton
from .camera import ViewCamera
from .generate import (
    ACTIONS,
    COMMON_PARAMS,
    canonical_layout,
    generate,
    generate_dataset,
    resolve_params,
)


def action_params(action: str) -> tuple[str, ...]:
    """Names of the parameters ``generate(action, ...)`` accepts."""
    if action not in SPECS:
        raise ValueError(f"unknown action {action!r}; known: {list(ACTIONS)}")
    return COMMON_PARAMS + tuple(SPECS[action].extra)


__all__ = [
    "ACTIONS",
    "generate",
    "generate_dataset",
    "action_params",
    "resolve_params",
    "canonical_layout",
    "BodyShape",
    "Skeleton",
    "ViewCamera",
    "COMMON_PARAMS",
]
