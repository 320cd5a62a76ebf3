"""Teachers that explain a labelled skeleton sequence: a registry keyed by name.

Every teacher has ``rationale(motion, label) -> str`` and the batched ``rationales(motions, labels)``.
Built in: ``kinematic`` (the default, offline), ``openai`` (any OpenAI-compatible chat endpoint) and ``hf``
(a local Hugging Face / SkeletonLLM model, also used for logit-level distillation). Third-party teachers
register with :func:`register_teacher` or through the ``skeletonllm.teachers`` entry-point group.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points

from .base import Teacher

_REGISTRY: dict[str, Callable[..., Teacher]] = {}
ENTRY_POINT_GROUP = "skeletonllm.teachers"


def register_teacher(name: str, factory: Callable[..., Teacher] | None = None):
    """Register ``factory`` (a Teacher class or a callable returning one) under ``name``; usable as a
    decorator. Re-registering a name replaces it."""

    def deco(f):
        _REGISTRY[name] = f
        return f

    return deco(factory) if factory is not None else deco


def _load_entry_points() -> None:
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name not in _REGISTRY:
            _REGISTRY[ep.name] = ep.load()


def list_teachers() -> list[str]:
    _load_entry_points()
    return sorted(_REGISTRY)


def get_teacher(name: str = "kinematic", **kwargs) -> Teacher:
    """Build the teacher registered under ``name`` with ``kwargs``."""
    if name not in _REGISTRY:
        _load_entry_points()
    if name not in _REGISTRY:
        raise KeyError(f"unknown teacher {name!r}; registered: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name](**kwargs)


from .hf import HFTeacher, generalized_jsd_loss  # noqa: E402
from .kinematic import KinematicTeacher  # noqa: E402
from .openai import OpenAITeacher  # noqa: E402

register_teacher("kinematic", KinematicTeacher)
register_teacher("openai", OpenAITeacher)
register_teacher("hf", HFTeacher)

__all__ = [
    "HFTeacher",
    "KinematicTeacher",
    "OpenAITeacher",
    "Teacher",
    "generalized_jsd_loss",
    "get_teacher",
    "list_teachers",
    "register_teacher",
]
