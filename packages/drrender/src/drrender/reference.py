"""Dense reference renderer: every pixel against every bone and joint, plain torch autograd.

Slow (O(N * (E + J) * H * W) time and memory) and deliberately simple; it is the oracle the fast path is
tested against and a baseline of the benchmark. Same signature and output as :func:`drrender.render`.

The image model (shared by all backends): each bone is a capsule (pixels within ``width / 2`` of the
segment) and each joint a disc. A primitive with radius ``r`` and opacity ``o`` covers pixel ``p`` with

    alpha = ALPHA_MAX * o * clamp((sigmoid(s * (r - d)) - eps) / (1 - eps), 0, 1)

where ``d`` is the distance from the pixel centre to the primitive and ``s`` the sharpness. Coverage is
composited with a soft z-buffer: with the per-pixel depth ``z`` (interpolated along a bone, in pixels),

    colour = (1 - prod(1 - alpha)) * sum_i w_i c_i + prod(1 - alpha) * background,
    w_i = alpha_i exp(-s * g * z_i) / sum_j alpha_j exp(-s * g * z_j)

so nearer primitives win where they overlap. As ``s`` grows, alpha becomes a 0/1 inside test and the
weights pick the nearest covering primitive: a hard z-buffer rasteriser.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ._constants import (
    ALPHA_MAX,
    DEFAULT_SHARPNESS,
    DEFAULT_SIZE,
    DEGENERATE_EPS2,
    DEPTH_GAIN,
    DIST_EPS2,
    SUPPORT_EPS,
)
from .scene import Scene, prepare


def render(
    joints: Tensor,
    edges,
    *,
    size: tuple[int, int] = DEFAULT_SIZE,
    joint_radius=None,
    bone_width=None,
    joint_colors=None,
    bone_colors=None,
    opacity=None,
    mask=None,
    camera=None,
    background=0.0,
    sharpness: float = DEFAULT_SHARPNESS,
    depth_gain: float = DEPTH_GAIN,
) -> Tensor:
    """Dense version of :func:`drrender.render` (same arguments, same result up to float rounding)."""
    scene = prepare(
        joints,
        edges,
        size=size,
        joint_radius=joint_radius,
        bone_width=bone_width,
        joint_colors=joint_colors,
        bone_colors=bone_colors,
        opacity=opacity,
        mask=mask,
        camera=camera,
        background=background,
        sharpness=sharpness,
        depth_gain=depth_gain,
    )
    img = rasterize_scene(scene)
    return img.reshape(*scene.out_shape, 3, *scene.size)


def pixel_centres(size: tuple[int, int], dtype, device) -> Tensor:
    """``(H * W, 2)`` pixel centre coordinates (u, v), row-major."""
    H, W = size
    v, u = torch.meshgrid(
        torch.arange(H, dtype=dtype, device=device) + 0.5,
        torch.arange(W, dtype=dtype, device=device) + 0.5,
        indexing="ij",
    )
    return torch.stack([u.reshape(-1), v.reshape(-1)], -1)


def rasterize_scene(scene: Scene) -> Tensor:
    """Dense soft rasterisation of a :class:`Scene` -> ``(N, 3, H, W)``."""
    H, W = scene.size
    s = scene.sharpness
    k = s * scene.depth_gain
    uv = scene.joint_uv
    p = pixel_centres(scene.size, uv.dtype, uv.device)  # (HW, 2)

    # Bones: distance from each pixel to its closest point on the segment, depth interpolated there.
    a = scene.bone_a[:, :, None, :]  # (N, E, 1, 2)
    b = scene.bone_b[:, :, None, :]
    ab = b - a
    len2 = (ab * ab).sum(-1)
    segment = len2 > DEGENERATE_EPS2
    t = ((p - a) * ab).sum(-1) / torch.where(segment, len2, torch.ones_like(len2))
    t = torch.where(segment, t.clamp(0, 1), torch.zeros_like(t))  # (N, E, HW)
    closest = a + t[..., None] * ab
    bone_dist = torch.sqrt(((p - closest) ** 2).sum(-1) + DIST_EPS2)
    bone_z = (
        scene.bone_depth_a[..., None] + t * (scene.bone_depth_b - scene.bone_depth_a)[..., None]
    )
    bone_r = scene.bone_radius[..., None]
    bone_o = torch.where(
        scene.bone_active, scene.bone_opacity, torch.zeros_like(scene.bone_opacity)
    )[..., None]

    dist, depth, radius, opac, colour = (
        [bone_dist],
        [bone_z],
        [bone_r],
        [bone_o],
        [scene.bone_color],
    )
    if scene.draw_joints:
        joint_dist = torch.sqrt(((p - uv[:, :, None, :]) ** 2).sum(-1) + DIST_EPS2)  # (N, J, HW)
        dist.append(joint_dist)
        depth.append(scene.joint_depth[..., None].expand_as(joint_dist))
        radius.append(scene.joint_radius[..., None])
        jo = torch.where(
            scene.joint_active, scene.joint_opacity, torch.zeros_like(scene.joint_opacity)
        )
        opac.append(jo[..., None])
        colour.append(scene.joint_color)
    dist = torch.cat(dist, 1)  # (N, P, HW)
    depth = torch.cat(depth, 1)
    radius = torch.cat(radius, 1)
    opac = torch.cat(opac, 1)
    colour = torch.cat(colour, 1)  # (N, P, 3)

    sig = torch.sigmoid(s * (radius - dist))
    alpha = ALPHA_MAX * opac * ((sig - SUPPORT_EPS) / (1 - SUPPORT_EPS)).clamp(min=0)  # (N, P, HW)

    transmittance = torch.prod(1 - alpha, dim=1)  # (N, HW)
    covered = alpha > 0
    logw = torch.where(
        covered,
        torch.log(torch.where(covered, alpha, torch.ones_like(alpha))) - k * depth,
        -torch.inf,
    )
    # Softmax over primitives; the shift only guards exp() and cancels out, so it carries no gradient.
    shift = logw.amax(1, keepdim=True).detach()
    shift = torch.where(torch.isfinite(shift), shift, torch.zeros_like(shift))
    w = torch.exp(logw - shift)
    norm = w.sum(1)  # (N, HW)
    blend = torch.einsum("nph,npc->nch", w, colour) / norm.clamp_min(1e-30)[:, None, :]
    out = (1 - transmittance)[:, None, :] * blend + transmittance[:, None, :] * scene.background[
        :, :, None
    ]
    return out.reshape(-1, 3, H, W)
