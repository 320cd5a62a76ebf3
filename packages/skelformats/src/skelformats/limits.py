"""Ceilings on what a reader may allocate, so that a small hostile file cannot take gigabytes.

Readers first bound every count by what the file can hold (a declared frame needs bytes that are
present); these limits are the ceiling above that, for files that are large and valid-looking.
Change them for a block of code (per thread / task, via a context variable)::

    with skelformats.use_limits(max_frames=10_000, max_bytes=16 << 20):
        motion = skelformats.load(upload)
"""

from __future__ import annotations

import contextvars
import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

# Plausible |coordinate| per layout unit: 10 km in metric units, a 1e6-pixel image, 1e4 for
# normalised coordinates (MediaPipe's lie near [0, 1]); unknown units (BVH, ASF) up to 10 km in mm.
PLAUSIBLE_ABS = {
    "m": 1e4,
    "cm": 1e6,
    "mm": 1e7,
    "in": 4e5,
    "px": 1e6,
    "normalized": 1e4,
    None: 1e7,
}


@dataclass(frozen=True)
class Limits:
    """What one ``load`` may accept.

    max_frames:          frames of one sequence.
    max_bodies:          people (bodies, person slots) of one sequence.
    max_bytes:           bytes of one input after decompression (zip/gzip/zlib members, MAT
                         elements), and of a text file read whole.
    max_json_depth:      nesting of JSON arrays/objects.
    max_abs_coordinate:  largest plausible |coordinate| of an observed joint, in any units; None uses
                         :data:`PLAUSIBLE_ABS` for the layout's units; ``math.inf`` turns the check off.
    """

    max_frames: int = 1_000_000
    max_bodies: int = 64
    max_bytes: int = 256 << 20
    max_json_depth: int = 64
    max_abs_coordinate: float | None = None

    def __post_init__(self):
        for name in ("max_frames", "max_bodies", "max_bytes", "max_json_depth"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"Limits.{name} must be a positive integer, got {v!r}")
        v = self.max_abs_coordinate
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0):
            raise ValueError(f"Limits.max_abs_coordinate must be > 0 or None, got {v!r}")

    def abs_coordinate_bound(self, units: str | None) -> float:
        """The plausibility bound for coordinates in ``units``."""
        if self.max_abs_coordinate is not None:
            return float(self.max_abs_coordinate)
        return PLAUSIBLE_ABS.get(units, PLAUSIBLE_ABS[None])


DEFAULT = Limits()
_current: contextvars.ContextVar[Limits] = contextvars.ContextVar(
    "skelformats_limits", default=DEFAULT
)


def get_limits() -> Limits:
    """The limits in force in this thread / task."""
    return _current.get()


@contextmanager
def use_limits(**overrides) -> Iterator[Limits]:
    """Apply ``Limits`` fields (e.g. ``max_frames=1000``) over the current ones inside the block."""
    try:
        new = dataclasses.replace(_current.get(), **overrides)
    except TypeError as e:  # an unknown field name
        raise TypeError(f"use_limits: {e}") from None
    token = _current.set(new)
    try:
        yield new
    finally:
        _current.reset(token)


__all__ = ["Limits", "get_limits", "use_limits", "PLAUSIBLE_ABS", "DEFAULT"]
