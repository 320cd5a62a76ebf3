"""Exact layout conversion as a sparse linear map through the canonical vocabulary.

``convert(motion, to)`` computes ``out[..., j, :] = sum_i W[j, i] * data[..., i, :]`` with a fixed
(J_out, J_in) matrix ``W``.  A target joint is copied from the source joint with the same canonical
name, else derived by one of :data:`DERIVATIONS` (weights sum to 1, so the map commutes with
rotations, translations and scaling), else it is missing: zero row and confidence 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import scipy.sparse as sp

from .canonical import SIDES
from .errors import ConversionError
from .layout import Layout
from .motion import Motion
from .registry import get_layout


def _sided(rules: dict) -> dict:
    out = {}
    for target, alts in rules.items():
        if "{s}" in target:
            for s in SIDES:
                out[target.format(s=s)] = [
                    {k.format(s=s): w for k, w in alt.items()} for alt in alts
                ]
        else:
            out[target] = alts
    return out


# Canonical joints derived from others when a source lacks them, tried in order (first alternative
# whose sources are available wins; derived joints may feed later rules).  These are anatomical
# approximations: the derived joint's confidence is the minimum of its sources'.
DERIVATIONS: dict[str, list[dict[str, float]]] = _sided(
    {
        "pelvis": [{"left_hip": 0.5, "right_hip": 0.5}],
        "neck": [{"left_shoulder": 0.5, "right_shoulder": 0.5}],
        "chest": [{"neck": 0.75, "spine": 0.25}, {"neck": 2 / 3, "pelvis": 1 / 3}],
        "spine": [{"pelvis": 0.5, "chest": 0.5}, {"pelvis": 0.5, "neck": 0.5}],
        "head": [{"left_ear": 0.5, "right_ear": 0.5}, {"left_eye": 0.5, "right_eye": 0.5}],
        "{s}_hand": [
            {"{s}_wrist": 0.5, "{s}_hand_tip": 0.5},
            {"{s}_wrist": 1 / 3, "{s}_index": 1 / 3, "{s}_pinky": 1 / 3},
        ],
        "{s}_foot": [{"{s}_big_toe": 0.5, "{s}_small_toe": 0.5}],
    }
)


def canonical_expressions(layout: Layout) -> dict[str, dict[int, float]]:
    """For each canonical name obtainable from ``layout``: {source joint index: weight}."""
    expr: dict[str, dict[int, float]] = {
        c: {i: 1.0} for i, c in enumerate(layout.canonical) if c is not None
    }
    changed = True
    while changed:
        changed = False
        for target, alts in DERIVATIONS.items():
            if target in expr:
                continue
            for alt in alts:
                if all(s in expr for s in alt):
                    combo: dict[int, float] = {}
                    for s, w in alt.items():
                        for i, v in expr[s].items():
                            combo[i] = combo.get(i, 0.0) + w * v
                    expr[target] = combo
                    changed = True
                    break
    return expr


@dataclass(frozen=True)
class ConversionPlan:
    """How each target joint is obtained.  ``matrix`` (J_out, J_in) CSR float64; ``available`` (J_out,)."""

    src: Layout
    dst: Layout
    matrix: sp.csr_matrix
    available: np.ndarray
    how: tuple[str, ...]

    @property
    def dense(self) -> np.ndarray:
        return self.matrix.toarray()

    @property
    def dense32(self) -> np.ndarray:
        """Cached float32 dense copy used for applying the map (J is small: dense matmul is fastest)."""
        d = self.__dict__.get("_dense32")
        if d is None:
            d = self.matrix.toarray().astype(np.float32)
            d.setflags(write=False)
            object.__setattr__(self, "_dense32", d)
        return d

    @property
    def source_index(self) -> np.ndarray:
        """(J_out, K) source columns per target, padded with J_in (always observed); missing targets
        point at J_in + 1 (never observed).  Used for the confidence minimum."""
        idx = self.__dict__.get("_source_index")
        if idx is None:
            m, J_in = self.matrix, self.src.num_joints
            width = max(1, int(np.diff(m.indptr).max(initial=0)))
            idx = np.full((self.dst.num_joints, width), J_in, dtype=np.int64)
            for j in range(self.dst.num_joints):
                cols = m.indices[m.indptr[j] : m.indptr[j + 1]]
                if len(cols) == 0:
                    idx[j] = J_in + 1
                else:
                    idx[j, : len(cols)] = cols
            idx.setflags(write=False)
            object.__setattr__(self, "_source_index", idx)
        return idx


@lru_cache(maxsize=256)
def _plan(src: Layout, dst: Layout) -> ConversionPlan:
    if src == dst:
        n = src.num_joints
        mat = sp.identity(n, format="csr", dtype=np.float64)
        return ConversionPlan(
            src, dst, mat, np.ones(n, bool), tuple("same joint" for _ in range(n))
        )
    expr = canonical_expressions(src)
    rows, cols, vals, how = [], [], [], []
    available = np.zeros(dst.num_joints, bool)
    for j, c in enumerate(dst.canonical):
        e = expr.get(c) if c is not None else None
        if e is None:
            how.append("missing")
            continue
        available[j] = True
        for i, w in sorted(e.items()):
            rows.append(j)
            cols.append(i)
            vals.append(w)
        if len(e) == 1 and src.canonical[next(iter(e))] == c:
            how.append(f"copy {src.joints[next(iter(e))]}")
        else:
            how.append(
                "derived " + " + ".join(f"{w:.3g}*{src.joints[i]}" for i, w in sorted(e.items()))
            )
    mat = sp.csr_matrix(
        (vals, (rows, cols)), shape=(dst.num_joints, src.num_joints), dtype=np.float64
    )
    available.setflags(write=False)
    return ConversionPlan(src, dst, mat, available, tuple(how))


def conversion_plan(src: str | Layout, dst: str | Layout) -> ConversionPlan:
    return _plan(get_layout(src), get_layout(dst))


def conversion_matrix(src: str | Layout, dst: str | Layout) -> sp.csr_matrix:
    """The sparse (J_dst, J_src) map of :func:`convert`; rows of missing targets are zero."""
    return conversion_plan(src, dst).matrix.copy()


def projection_matrix(src: Layout, dst: Layout, project) -> np.ndarray:
    """(C_out, C_in) coordinate map for 3D -> 2D: drop one axis; flip the vertical when the target is y-down."""
    if isinstance(project, str):
        axes = {"x": 0, "y": 1, "z": 2}
        if len(project) != 2 or any(a not in axes for a in project) or project[0] == project[1]:
            raise ConversionError(None, f"project must name two axes such as 'xy', got {project!r}")
        P = np.zeros((2, 3))
        P[0, axes[project[0]]] = 1
        P[1, axes[project[1]]] = 1
        up_src = (src.up_axis or "").lstrip("-")
        if dst.up_axis == "-y" and up_src == project[1] and not (src.up_axis or "").startswith("-"):
            P[1] *= -1  # image rows grow downwards
        return P
    P = np.asarray(project, dtype=np.float64)
    if P.shape != (2, 3):
        raise ConversionError(None, f"a projection matrix must be 2x3, got {P.shape}")
    return P


_METRES = {"m": 1.0, "cm": 0.01, "mm": 0.001, "in": 0.0254}


def unit_factor(src: Layout, dst: Layout) -> float:
    """Scale from src to dst length units (1 when either is unknown or not a length unit)."""
    if src.units in _METRES and dst.units in _METRES:
        return _METRES[src.units] / _METRES[dst.units]
    return 1.0


def convert(motion: Motion, to: str | Layout, *, project=None) -> Motion:
    """``motion`` in layout ``to``.

    Length units are converted when both layouts declare one (m, cm, mm, in).  3D -> 2D needs
    ``project``: two axis letters (``"xy"``: orthographic view along z, vertical flipped for
    image-style y-down targets) or a (2, 3) matrix.  2D -> 3D raises :class:`ConversionError`.
    A target layout sharing no joint with the source raises :class:`ConversionError`.
    """
    dst = get_layout(to)
    src = motion.layout
    path = motion.meta.get("source")
    P = None
    if src.dims != dst.dims:
        if src.dims == 2:
            raise ConversionError(
                path, f"cannot convert 2D layout {src.name!r} to 3D layout {dst.name!r} (no depth)"
            )
        if project is None:
            raise ConversionError(
                path,
                f"converting 3D {src.name!r} to 2D {dst.name!r} needs a projection, e.g. project='xy'",
            )
        P = projection_matrix(src, dst, project)
    elif project is not None:
        raise ConversionError(path, "project= is only for 3D -> 2D conversion")
    plan = _plan(src, dst)
    if not plan.available.any():
        raise ConversionError(
            path,
            f"no joint of {dst.name!r} can be obtained from {src.name!r} (no shared canonical joints)",
        )
    data = np.matmul(plan.dense32, motion.data)
    f = unit_factor(src, dst)
    if f != 1.0:
        data *= np.float32(f)
    if P is not None:
        data = data @ P.T.astype(np.float32)
    conf = _confidence(plan, motion.confidence, motion.data.shape[:-1])
    meta = dict(motion.meta)
    meta["converted_from"] = src.name
    return Motion(data=data, layout=dst, fps=motion.fps, confidence=conf, meta=meta)


def _confidence(plan: ConversionPlan, conf: np.ndarray | None, shape) -> np.ndarray | None:
    """min over each target's sources; 0 for missing targets; None when everything is observed."""
    if conf is None and plan.available.all():
        return None
    idx = plan.source_index
    base = np.ones(shape, np.float32) if conf is None else conf
    ext = np.concatenate(
        [base, np.ones(shape[:-1] + (1,), np.float32), np.zeros(shape[:-1] + (1,), np.float32)], -1
    )
    return ext[..., idx].min(axis=-1)


__all__ = [
    "convert",
    "conversion_matrix",
    "conversion_plan",
    "ConversionPlan",
    "DERIVATIONS",
    "canonical_expressions",
    "projection_matrix",
]
