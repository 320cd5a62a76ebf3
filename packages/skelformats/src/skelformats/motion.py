"""The data model: one skeleton sequence (optionally several people) in one layout."""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import EmptySequenceError, JointCountError, ShapeError, SkelFormatWarning
from .layout import Layout


@dataclass(eq=False)
class Motion:
    """A skeleton sequence.

    data:        float32 (T, J, C) or (M, T, J, C) for M people; C == layout.dims.
    layout:      a :class:`Layout` or the name of a registered one.
    fps:         frames per second (> 0).
    confidence:  None (everything observed) or float32 with shape ``data.shape[:-1]``; 0 = missing.
    meta:        free-form dict (source file, subject, view, take, action, ...).

    Non-finite coordinates are recoverable input: they are set to 0 with confidence 0 and a
    :class:`SkelFormatWarning` is issued.
    """

    data: np.ndarray
    layout: Layout
    fps: float = 30.0
    confidence: np.ndarray | None = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        if isinstance(self.layout, str):
            from .registry import get_layout

            self.layout = get_layout(self.layout)
        if not isinstance(self.layout, Layout):
            raise TypeError(
                f"layout must be a Layout or a layout name, got {type(self.layout).__name__}"
            )
        if self.meta is None:
            self.meta = {}
        elif not isinstance(self.meta, dict):
            raise TypeError("meta must be a dict")
        src = self.meta.get("source")
        try:
            data = np.asarray(self.data, dtype=np.float32)
        except (TypeError, ValueError) as e:
            raise ShapeError(src, f"motion data is not numeric: {e}") from None
        if data.ndim not in (3, 4):
            raise ShapeError(
                src, f"motion data must be (T, J, C) or (M, T, J, C), got shape {data.shape}"
            )
        J, C = data.shape[-2], data.shape[-1]
        if J != self.layout.num_joints:
            raise JointCountError(
                src,
                f"{J} joints in the data but layout {self.layout.name!r} has {self.layout.num_joints}",
            )
        if C != self.layout.dims:
            raise ShapeError(
                src,
                f"{C} coordinates per joint but layout {self.layout.name!r} is {self.layout.dims}D",
            )
        if data.shape[-3] == 0 or (data.ndim == 4 and data.shape[0] == 0):
            raise EmptySequenceError(src, "the motion has no frames")
        try:
            fps = float(self.fps)
        except (TypeError, ValueError):
            raise ShapeError(src, f"fps must be a number, got {self.fps!r}") from None
        if not np.isfinite(fps) or fps <= 0:
            raise ShapeError(src, f"fps must be positive, got {self.fps!r}")
        self.fps = fps

        conf = self.confidence
        if conf is not None:
            conf = np.asarray(conf, dtype=np.float32)
            if conf.shape != data.shape[:-1]:
                raise ShapeError(
                    src,
                    f"confidence shape {conf.shape} does not match data shape {data.shape[:-1]}",
                )
            if not np.all(np.isfinite(conf)) or conf.min() < 0:
                raise ShapeError(src, "confidence must be finite and >= 0")
        bad = ~np.isfinite(data).all(axis=-1)
        if bad.any():
            warnings.warn(
                f"{src or 'motion'}: {int(bad.sum())} joint positions are NaN/inf; marked missing (confidence 0)",
                SkelFormatWarning,
                stacklevel=3,
            )
            data = np.where(bad[..., None], np.float32(0), data)
            conf = np.ones(data.shape[:-1], np.float32) if conf is None else conf.copy()
            conf[bad] = 0
        self.data = np.ascontiguousarray(data)
        self.confidence = None if conf is None else np.ascontiguousarray(conf)

    # -- convenience -----------------------------------------------------------------------------
    @property
    def num_frames(self) -> int:
        return int(self.data.shape[-3])

    @property
    def num_people(self) -> int:
        return int(self.data.shape[0]) if self.data.ndim == 4 else 1

    @property
    def num_joints(self) -> int:
        return int(self.data.shape[-2])

    @property
    def dims(self) -> int:
        return int(self.data.shape[-1])

    @property
    def multi(self) -> bool:
        return self.data.ndim == 4

    @property
    def duration(self) -> float:
        return self.num_frames / self.fps

    @property
    def mask(self) -> np.ndarray:
        """bool ``data.shape[:-1]``: True where the joint is observed."""
        if self.confidence is None:
            return np.ones(self.data.shape[:-1], bool)
        return self.confidence > 0

    def confidence_or_ones(self) -> np.ndarray:
        return (
            np.ones(self.data.shape[:-1], np.float32)
            if self.confidence is None
            else self.confidence
        )

    def missing_joints(self) -> list[str]:
        """Names of joints missing (confidence 0) in every frame."""
        m = self.mask.reshape(-1, self.num_joints)
        return [self.layout.joints[j] for j in np.flatnonzero(~m.any(axis=0))]

    def person(self, m: int) -> Motion:
        if not self.multi:
            if m != 0:
                raise IndexError(f"single-person motion has no person {m}")
            return self
        conf = None if self.confidence is None else self.confidence[m]
        return self.replace(data=self.data[m], confidence=conf)

    def replace(self, **changes: Any) -> Motion:
        changes.setdefault("meta", dict(self.meta))
        return dataclasses.replace(self, **changes)

    def __repr__(self) -> str:
        people = f"{self.num_people} people, " if self.multi else ""
        return (
            f"Motion({people}{self.num_frames} frames, layout={self.layout.name!r}, fps={self.fps:g}"
            f"{', with confidence' if self.confidence is not None else ''})"
        )


__all__ = ["Motion"]
