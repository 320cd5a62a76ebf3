"""Hypothesis strategies for users' own tests: random valid layouts and motions.

from hypothesis import given
from skelformats.strategies import layouts, motions

@given(motions())
def test_my_code(motion): ...
"""

from __future__ import annotations

import numpy as np

try:
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp
except ImportError as e:  # pragma: no cover - depends on the install
    raise ImportError(
        "skelformats.strategies needs hypothesis: pip install 'skelformats[strategies]'"
    ) from e

from .canonical import CANONICAL_JOINTS
from .layout import Layout
from .motion import Motion
from .registry import get_layout, list_layouts

_NAME_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"


@st.composite
def layouts(
    draw, *, min_joints: int = 1, max_joints: int = 12, dims=None, tree=None, canonical: bool = True
):
    """Random valid Layouts: a tree (parents, any root position) or a graph (explicit edges, cycles allowed).

    dims: 2, 3 or None (either); tree: True, False or None (either); canonical: map a random subset
    of joints to distinct canonical names.
    """
    n = draw(st.integers(min_joints, max_joints))
    names = draw(
        st.lists(st.text(_NAME_CHARS, min_size=1, max_size=8), min_size=n, max_size=n, unique=True)
    )
    d = draw(st.sampled_from((2, 3))) if dims is None else dims
    is_tree = draw(st.booleans()) if tree is None else tree
    if canonical:
        can = draw(st.lists(st.sampled_from(CANONICAL_JOINTS), min_size=n, max_size=n, unique=True))
        keep = draw(st.lists(st.booleans(), min_size=n, max_size=n))
        can = tuple(c if k else None for c, k in zip(can, keep))
    else:
        can = (None,) * n
    if is_tree:
        # random tree: random topological order, each joint's parent drawn among earlier ones
        order = draw(st.permutations(range(n)))
        parents = [-1] * n
        for k in range(1, n):
            parents[order[k]] = order[draw(st.integers(0, k - 1))]
        return Layout(
            name=f"random{n}", joints=tuple(names), parents=tuple(parents), dims=d, canonical=can
        )
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    edges = draw(st.lists(st.sampled_from(pairs), unique=True, max_size=2 * n)) if pairs else []
    return Layout(name=f"graph{n}", joints=tuple(names), edges=tuple(edges), dims=d, canonical=can)


@st.composite
def motions(
    draw,
    layout=None,
    *,
    min_frames: int = 1,
    max_frames: int = 8,
    people=False,
    confidence=None,
    max_abs: float = 100.0,
):
    """Random Motions.  layout: a Layout/name, a strategy, or None (a built-in or random layout).

    people: False (single, (T, J, C)), True (multi, (M, T, J, C)) or None (either).
    confidence: True/False/None(either) whether a confidence array (values in {0} U [0.125, 1]) is attached.
    """
    if layout is None:
        lay = draw(st.one_of(st.sampled_from(list_layouts()).map(get_layout), layouts()))
    elif isinstance(layout, st.SearchStrategy):
        lay = draw(layout)
    else:
        lay = get_layout(layout)
    T = draw(st.integers(min_frames, max_frames))
    multi = draw(st.booleans()) if people is None else people
    shape = ((draw(st.integers(1, 3)),) if multi else ()) + (T, lay.num_joints, lay.dims)
    floats = st.floats(-max_abs, max_abs, allow_nan=False, allow_infinity=False, width=32)
    data = draw(hnp.arrays(np.float32, shape, elements=floats))
    with_conf = draw(st.booleans()) if confidence is None else confidence
    conf = None
    if with_conf:
        conf = draw(
            hnp.arrays(
                np.float32,
                shape[:-1],
                elements=st.one_of(st.just(0.0), st.floats(0.125, 1.0, width=32)),
            )
        )
    fps = draw(st.sampled_from((10.0, 24.0, 25.0, 30.0, 60.0, 120.0)))
    return Motion(data=data, layout=lay, fps=fps, confidence=conf, meta={"generated": True})


__all__ = ["layouts", "motions"]
