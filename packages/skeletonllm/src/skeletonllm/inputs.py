"""Skeleton inputs -> per-sample tensors the renderer takes, grouped by layout for batching.

Accepted inputs: a ``skelformats.Motion`` of any layout (normalised with ``skelformats.normalize``, 3D
layouts also turned to face +z; drawn with the layout's own edges and part tags), or a
:class:`RawSkeleton` (tensors + edges, used as given).
Several people ``(M, T, J, C)`` are drawn together: their joints are concatenated and edges offset.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.nn.utils.rnn import pad_sequence


@dataclass
class RawSkeleton:
    """Raw joints ``(T, J, C)`` or ``(M, T, J, C)`` (C = 2 or 3) with edges ``(E, 2)``.

    mask: ``(T, J)`` / ``(M, T, J)`` (0 = missing); part_tags: ``(J,)`` ids of ``skelformats.PART_NAMES``.
    """

    joints: torch.Tensor | np.ndarray
    edges: torch.Tensor | np.ndarray
    mask: torch.Tensor | np.ndarray | None = None
    part_tags: torch.Tensor | np.ndarray | None = None
    name: str = "raw"


@dataclass
class Sample:
    """One skeleton ready to render: joints (T, J, C), mask (T, J), edges (E, 2), tags (J,)."""

    joints: torch.Tensor
    mask: torch.Tensor
    edges: torch.Tensor
    tags: torch.Tensor
    key: tuple

    def to(self, device) -> Sample:
        return Sample(
            self.joints.to(device),
            self.mask.to(device),
            self.edges.to(device),
            self.tags.to(device),
            self.key,
        )


def _flatten_people(joints, mask, edges, tags):
    """(M, T, J, C) -> (T, M*J, C) with edges offset per person."""
    m, t, j, c = joints.shape
    joints = joints.permute(1, 0, 2, 3).reshape(t, m * j, c)
    mask = mask.permute(1, 0, 2).reshape(t, m * j)
    edges = torch.cat([edges + p * j for p in range(m)], dim=0)
    tags = tags.repeat(m)
    return joints, mask, edges, tags


def prepare(item, *, normalize: bool = True) -> Sample:
    """A Motion, RawSkeleton or ``(joints, edges)`` tuple -> :class:`Sample` (CPU, float32)."""
    if isinstance(item, tuple) and len(item) == 2:
        item = RawSkeleton(*item)
    if isinstance(item, RawSkeleton):
        joints = torch.as_tensor(item.joints, dtype=torch.float32)
        if joints.ndim not in (3, 4) or joints.shape[-1] not in (2, 3):
            raise ValueError(
                f"raw joints must be (T, J, 2|3) or (M, T, J, 2|3), got shape {tuple(joints.shape)}"
            )
        edges = torch.as_tensor(np.asarray(item.edges), dtype=torch.long).reshape(-1, 2)
        nj = joints.shape[-2]
        if edges.numel() and (edges.min() < 0 or edges.max() >= nj):
            raise ValueError(f"edge index out of range [0, {nj}) in raw skeleton {item.name!r}")
        mask = (
            torch.ones(joints.shape[:-1])
            if item.mask is None
            else torch.as_tensor(item.mask, dtype=torch.float32)
        )
        tags = (
            torch.full((nj,), 6, dtype=torch.long)
            if item.part_tags is None
            else torch.as_tensor(np.asarray(item.part_tags), dtype=torch.long)
        )
        name = item.name
    else:
        import skelformats

        if not isinstance(item, skelformats.Motion):
            raise TypeError(
                f"expected a skelformats.Motion, RawSkeleton or (joints, edges); got {type(item).__name__}"
            )
        if normalize:
            # 3D bodies also turn to face +z at the first frame: recorded and synthetic sequences come
            # from any camera yaw, and a side view hides most limb motion in depth.
            motion = skelformats.normalize(item, face=item.layout.dims == 3)
        else:
            motion = item
        joints = torch.from_numpy(np.ascontiguousarray(motion.data, dtype=np.float32))
        mask = torch.from_numpy(motion.mask.astype(np.float32))
        edges = torch.tensor(np.asarray(motion.layout.edges), dtype=torch.long).reshape(-1, 2)
        tags = torch.tensor(np.asarray(skelformats.part_tags(motion.layout)), dtype=torch.long)
        name = motion.layout.name
    joints = torch.nan_to_num(joints)
    if joints.ndim == 4:
        joints, mask, edges, tags = _flatten_people(joints, mask, edges, tags)
    key = (name, joints.shape[1], joints.shape[2], edges.shape[0], hash(edges.numpy().tobytes()))
    return Sample(joints, mask, edges, tags, key)


@dataclass
class RenderGroup:
    """Samples of one layout padded together: joints (G, T, J, C), mask (G, T, J), lengths (G,)."""

    index: torch.Tensor
    joints: torch.Tensor
    mask: torch.Tensor
    lengths: torch.Tensor
    edges: torch.Tensor
    tags: torch.Tensor


def group(samples: list[Sample]) -> list[RenderGroup]:
    """Group samples by layout and pad time; ``index`` gives each group's positions in the batch."""
    by_key: dict[tuple, list[int]] = {}
    for i, s in enumerate(samples):
        by_key.setdefault(s.key, []).append(i)
    groups = []
    for idx in by_key.values():
        first = samples[idx[0]]
        # One padding call per group (zeros after each sequence's last frame).
        joints = pad_sequence([samples[i].joints for i in idx], batch_first=True)
        mask = pad_sequence([samples[i].mask for i in idx], batch_first=True)
        lengths = torch.tensor([samples[i].joints.shape[0] for i in idx], dtype=torch.long)
        groups.append(
            RenderGroup(torch.tensor(idx), joints, mask, lengths, first.edges, first.tags)
        )
    return groups
