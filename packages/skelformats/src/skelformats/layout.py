"""Joint layouts: names, graph, dimensionality and the mapping to the canonical vocabulary."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .canonical import PART_IDS, is_canonical, mirror_name, part_of
from .errors import LayoutError, UnknownJointError

_UNITS = (None, "m", "cm", "mm", "in", "px", "normalized")
_UP_AXES = (None, "x", "y", "z", "-x", "-y", "-z")


_SIDE_TOKENS = (("left", "right"), ("Left", "Right"), ("LEFT", "RIGHT"))


def _mirror_joint_names(name: str) -> list[str]:
    """Candidate left/right counterparts of a joint name."""
    out = []
    for a, b in _SIDE_TOKENS:
        if a in name:
            out.append(name.replace(a, b))
        elif b in name:
            out.append(name.replace(b, a))
    for a, b in (("l", "r"), ("L", "R")):
        if len(name) > 1 and name[0] == a:
            out.append(b + name[1:])
        elif len(name) > 1 and name[0] == b:
            out.append(a + name[1:])
    return out


def _tuple_or_none(v):
    return None if v is None else tuple(v)


@dataclass(frozen=True, eq=False)
class Layout:
    """A named joint layout.

    ``parents[j]`` is the parent index of joint ``j`` (-1 for a root); give ``edges`` instead (or in
    addition, to override the drawn graph) when the graph is not a tree.  ``canonical[j]`` is the
    joint's name in :data:`skelformats.canonical.CANONICAL_JOINTS` or None.  ``flip_pairs`` are
    left/right index pairs (derived from ``canonical`` when not given).  Derived: ``edges``
    (np.ndarray (E, 2) int64, read-only), ``num_joints``, ``index(name)``.
    """

    name: str
    joints: tuple[str, ...]
    parents: tuple[int, ...] | None = None
    edges: Any = None
    dims: int = 3
    canonical: tuple[str | None, ...] | None = None
    flip_pairs: Any = None
    units: str | None = None
    up_axis: str | None = None
    _index: dict = field(init=False, repr=False, compare=False)
    _explicit_edges: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        def fail(problem):
            raise LayoutError(None, f"layout {self.name!r}: {problem}")

        set_ = object.__setattr__
        if not isinstance(self.name, str) or not self.name:
            fail("name must be a non-empty string")
        joints = tuple(self.joints)
        if not joints:
            fail("no joints")
        for j in joints:
            if not isinstance(j, str) or not j:
                fail(f"joint names must be non-empty strings, got {j!r}")
        seen: dict[str, int] = {}
        for i, j in enumerate(joints):
            if j in seen:
                fail(f"duplicate joint name {j!r} (indices {seen[j]} and {i})")
            seen[j] = i
        set_(self, "joints", joints)
        set_(self, "_index", seen)
        n = len(joints)
        if self.dims not in (2, 3):
            fail(f"dims must be 2 or 3, got {self.dims!r}")
        set_(self, "dims", int(self.dims))
        if self.units not in _UNITS:
            fail(f"units must be one of {_UNITS}, got {self.units!r}")
        if self.up_axis not in _UP_AXES:
            fail(f"up_axis must be one of {_UP_AXES}, got {self.up_axis!r}")

        parents = _tuple_or_none(self.parents)
        if parents is not None:
            if len(parents) != n:
                fail(f"{len(parents)} parents for {n} joints")
            parents = tuple(int(p) for p in parents)
            for j, p in enumerate(parents):
                if p < -1 or p >= n:
                    fail(f"parent {p} of joint {joints[j]!r} out of range [-1, {n})")
                if p == j:
                    fail(f"joint {joints[j]!r} is its own parent")
            # walk up from each joint; a path longer than n means a cycle
            state = [0] * n  # 0 unvisited, 1 on stack, 2 done
            for start in range(n):
                path = []
                j = start
                while j != -1 and state[j] == 0:
                    state[j] = 1
                    path.append(j)
                    j = parents[j]
                if j != -1 and state[j] == 1:
                    fail(f"parents form a cycle through joint {joints[j]!r}")
                for k in path:
                    state[k] = 2
        set_(self, "parents", parents)

        if self.edges is not None:
            try:
                e = np.asarray([tuple(int(x) for x in pair) for pair in self.edges], dtype=np.int64)
            except (TypeError, ValueError):
                fail("edges must be pairs of joint indices")
            e = e.reshape(-1, 2)
            if e.size and (e.min() < 0 or e.max() >= n):
                fail(f"edge index out of range [0, {n})")
            if np.any(e[:, 0] == e[:, 1]):
                fail("edge from a joint to itself")
            keys = {tuple(sorted(p)) for p in e.tolist()}
            if len(keys) != len(e):
                fail("duplicate edge")
            explicit = True
        elif parents is not None:
            e = np.asarray(
                [(p, j) for j, p in enumerate(parents) if p >= 0], dtype=np.int64
            ).reshape(-1, 2)
            explicit = False
        else:
            fail("give parents (a tree) or edges")
        e.setflags(write=False)
        set_(self, "edges", e)
        set_(self, "_explicit_edges", explicit)

        canonical = _tuple_or_none(self.canonical)
        if canonical is None:
            canonical = tuple(j if is_canonical(j) else None for j in joints)
        if len(canonical) != n:
            fail(f"{len(canonical)} canonical names for {n} joints")
        used: dict[str, int] = {}
        for i, c in enumerate(canonical):
            if c is None:
                continue
            if not is_canonical(c):
                fail(f"{c!r} (joint {joints[i]!r}) is not a canonical joint name")
            if c in used:
                fail(f"canonical name {c!r} used by joints {joints[used[c]]!r} and {joints[i]!r}")
            used[c] = i
        set_(self, "canonical", canonical)

        if self.flip_pairs is None:
            pairs = []
            for c, i in used.items():
                if c.startswith("left_") and mirror_name(c) in used:
                    pairs.append((i, used[mirror_name(c)]))
            # joints without canonical names are paired by their own names (lfemur/rfemur, LHip/RHip)
            paired = {x for p in pairs for x in p}
            for i, j in enumerate(joints):
                if i in paired:
                    continue
                for m in _mirror_joint_names(j):
                    k = seen.get(m)
                    if k is not None and k != i and k not in paired:
                        pairs.append((min(i, k), max(i, k)))
                        paired.update((i, k))
                        break
            pairs.sort()
        else:
            pairs = []
            for pair in self.flip_pairs:
                a, b = (self._resolve(x) for x in pair)
                if a == b:
                    fail(f"flip pair maps joint {joints[a]!r} to itself")
                pairs.append((a, b))
            flat = [x for p in pairs for x in p]
            if len(set(flat)) != len(flat):
                fail("a joint appears in several flip pairs")
        set_(self, "flip_pairs", tuple(pairs))

    def _resolve(self, x) -> int:
        if isinstance(x, str):
            return self.index(x)
        i = int(x)
        if not 0 <= i < len(self.joints):
            raise LayoutError(None, f"layout {self.name!r}: joint index {i} out of range")
        return i

    # -- derived ---------------------------------------------------------------------------------
    @property
    def num_joints(self) -> int:
        return len(self.joints)

    @property
    def is_tree(self) -> bool:
        return self.parents is not None

    def index(self, name: str) -> int:
        """Index of a joint by its own name (or, failing that, by its canonical name)."""
        i = self._index.get(name)
        if i is None:
            try:
                i = self.canonical.index(name)
            except ValueError:
                raise UnknownJointError(
                    None, f"layout {self.name!r} has no joint {name!r}"
                ) from None
        return i

    def canonical_index(self, name: str) -> int | None:
        """Index of the joint mapped to canonical ``name``, or None."""
        try:
            return self.canonical.index(name)
        except ValueError:
            return None

    def flip_permutation(self) -> np.ndarray:
        """(J,) int64 permutation swapping left/right joints."""
        perm = np.arange(self.num_joints, dtype=np.int64)
        for a, b in self.flip_pairs:
            perm[a], perm[b] = b, a
        return perm

    def children(self, j: int) -> list[int]:
        if self.parents is None:
            raise LayoutError(None, f"layout {self.name!r} is a graph, not a tree")
        return [k for k, p in enumerate(self.parents) if p == j]

    # -- identity / serialisation ----------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "joints": list(self.joints),
            "parents": None if self.parents is None else list(self.parents),
            "edges": self.edges.tolist() if self._explicit_edges else None,
            "dims": self.dims,
            "canonical": list(self.canonical),
            "flip_pairs": [list(p) for p in self.flip_pairs],
            "units": self.units,
            "up_axis": self.up_axis,
        }

    @classmethod
    def from_dict(cls, d: dict) -> Layout:
        d = dict(d)
        try:
            return cls(
                name=d["name"],
                joints=tuple(d["joints"]),
                parents=d.get("parents"),
                edges=d.get("edges"),
                dims=d.get("dims", 3),
                canonical=d.get("canonical"),
                flip_pairs=[tuple(p) for p in d["flip_pairs"]]
                if d.get("flip_pairs") is not None
                else None,
                units=d.get("units"),
                up_axis=d.get("up_axis"),
            )
        except KeyError as e:
            raise LayoutError(None, f"layout description lacks {e.args[0]!r}") from None

    def _key(self):
        return (
            self.name,
            self.joints,
            self.parents,
            tuple(map(tuple, self.edges.tolist())),
            self.dims,
            self.canonical,
            self.flip_pairs,
            self.units,
            self.up_axis,
        )

    def __eq__(self, other):
        if not isinstance(other, Layout):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self):
        return hash(self._key())

    def __repr__(self):
        return f"Layout({self.name!r}, {self.num_joints} joints, {self.dims}D)"


def part_tags(layout: Layout) -> np.ndarray:
    """(J,) int64 part ids (see ``canonical.PART_NAMES``).

    Joints without a canonical name inherit the part of their nearest tagged ancestor in a tree
    layout, so e.g. finger joints of a BVH hand are drawn as the arm; otherwise they are 'other'.
    """
    tags = [part_of(c) for c in layout.canonical]
    if layout.parents is not None:
        for j in range(layout.num_joints):
            k = j
            while tags[j] == "other" and layout.canonical[k] is None and layout.parents[k] >= 0:
                k = layout.parents[k]
                tags[j] = part_of(layout.canonical[k])
    return np.asarray([PART_IDS[t] for t in tags], dtype=np.int64)


def layout_from_parents(name: str, joints: Sequence[str], parents: Iterable[int], **kw) -> Layout:
    return Layout(name=name, joints=tuple(joints), parents=tuple(parents), **kw)


__all__ = ["Layout", "part_tags", "layout_from_parents"]
