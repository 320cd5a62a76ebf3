"""``drrender.render``: the functional entry point (fast path)."""

from __future__ import annotations

import torch
from torch import Tensor

from ._constants import DEFAULT_SHARPNESS, DEFAULT_SIZE, DEPTH_GAIN
from .raster import rasterize, resolve_backend
from .scene import Scene, prepare

_INACTIVE_RADIUS = -1e30


def pack(scene: Scene) -> tuple[Tensor, Tensor]:
    """Scene -> ``prims (N, P, 8)``, ``colors (N, P, 3)`` with P = E (+ J when joints are drawn).

    Inactive (masked) primitives get a hugely negative radius: they have empty support and no gradient.
    """

    def rad(r, active):
        return torch.where(active, r, torch.full_like(r, _INACTIVE_RADIUS))

    bones = torch.cat(
        [
            scene.bone_a,
            scene.bone_depth_a[..., None],
            scene.bone_b,
            scene.bone_depth_b[..., None],
            rad(scene.bone_radius, scene.bone_active)[..., None],
            scene.bone_opacity[..., None],
        ],
        -1,
    )
    if not scene.draw_joints:
        return bones, scene.bone_color
    zj = scene.joint_depth[..., None]
    joints = torch.cat(
        [
            scene.joint_uv,
            zj,
            scene.joint_uv,
            zj,
            rad(scene.joint_radius, scene.joint_active)[..., None],
            scene.joint_opacity[..., None],
        ],
        -1,
    )
    return torch.cat([bones, joints], 1), torch.cat([scene.bone_color, scene.joint_color], 1)


def render_scene(scene: Scene, backend: str | None = None) -> Tensor:
    """Rasterise a prepared :class:`~drrender.scene.Scene` -> ``(N, 3, H, W)``."""
    name = resolve_backend(backend, scene.joint_uv.device)
    if name == "reference":
        from .reference import rasterize_scene

        return rasterize_scene(scene)
    prims, colors = pack(scene)
    return rasterize(
        prims,
        colors,
        scene.background,
        scene.size,
        sharpness=scene.sharpness,
        depth_gain=scene.depth_gain,
        backend=name,
    )


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
    backend: str | None = None,
) -> Tensor:
    """Render skeleton sequences to images, differentiably.

    Args:
        joints: ``(..., T, J, 2 or 3)`` positions (world units, y up). 2D input lies in the z = 0 plane.
        edges: ``(E, 2)`` joint index pairs (tensor, array or list).
        size: ``(H, W)`` in pixels.
        joint_radius: disc radius in pixels, number or tensor broadcastable to ``(..., T, J)``; a number
            <= 0 draws no discs. Default ``0.6 * bone_width``.
        bone_width: full bone width in pixels, number or ``(..., T, E)``. Default ``max(2, min(H, W) / 32)``.
        joint_colors: ``(..., T, J, 3)`` in [0, 1] (broadcastable). Default light grey.
        bone_colors: ``(..., T, E, 3)``. Default: mean of the endpoint joint colours if those are given,
            else one hue per edge.
        opacity: per-joint opacity in [0, 1], ``(..., T, J)``; a bone takes the mean of its endpoints'.
        mask: ``(..., T, J)``; 0 = joint not drawn (nor its bones, nor used to fit the camera); values in
            (0, 1] scale the opacity.
        camera: :class:`drrender.Camera` (learnable tensors), ``"orthographic"``/``"pinhole"`` or None: a
            camera fitted to each sequence's bounding box (front view) so the body fills the frame.
        background: scalar or ``(3,)`` / ``(..., 3)`` colour.
        sharpness: edge steepness per pixel; large values approach a hard z-buffer rasteriser.
        depth_gain: weight of depth against image distance in the soft z-buffer (per unit sharpness).
        backend: ``"auto"`` (default, or ``$DRRENDER_BACKEND``), ``"cpp"``, ``"triton"``, ``"torch"`` or
            ``"reference"``.

    Returns:
        ``(..., T, 3, H, W)`` in [0, 1] (leading dims broadcast with the camera's), differentiable w.r.t.
        joints, colours, widths, radii, opacity, background and camera tensors.
    """
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
    img = render_scene(scene, backend)
    return img.reshape(*scene.out_shape, 3, *scene.size)
