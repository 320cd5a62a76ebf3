"""Argument checking and the render front end shared by every implementation of :func:`drrender.render`.

:func:`prepare` turns the user's joints, edges, colours, widths, mask and camera into per-frame joint and
bone attributes in pixel space (:class:`Scene`). The rasterisers (dense reference, tiled fast path) only ever
see a :class:`Scene`, so they are compared on exactly the same geometry.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass

import torch
from torch import Tensor

from ._constants import DEFAULT_SHARPNESS, DEPTH_GAIN
from .camera import Camera, _as_points3, fit_camera


@dataclass
class Scene:
    """Per-frame primitives, flattened to N = prod(leading dims) * T frames.

    joint_uv ``(N, J, 2)``, joint_depth ``(N, J)``, joint_radius ``(N, J)``, joint_color ``(N, J, 3)``,
    joint_opacity ``(N, J)``, joint_active ``(N, J)`` bool; bone_a/bone_b ``(N, E, 2)``,
    bone_depth_a/b ``(N, E)``, bone_radius ``(N, E)`` (half width), bone_color ``(N, E, 3)``,
    bone_opacity ``(N, E)``, bone_active ``(N, E)``; background ``(N, 3)``. ``draw_joints`` is False when
    joints are not drawn as discs. ``out_shape`` is ``(*lead, T)``.
    """

    joint_uv: Tensor
    joint_depth: Tensor
    joint_radius: Tensor
    joint_color: Tensor
    joint_opacity: Tensor
    joint_active: Tensor
    bone_a: Tensor
    bone_b: Tensor
    bone_depth_a: Tensor
    bone_depth_b: Tensor
    bone_radius: Tensor
    bone_color: Tensor
    bone_opacity: Tensor
    bone_active: Tensor
    background: Tensor
    draw_joints: bool
    size: tuple[int, int]
    sharpness: float
    depth_gain: float
    out_shape: tuple[int, ...]


def default_bone_width(size: tuple[int, int]) -> float:
    return max(2.0, min(size) / 32.0)


def default_joint_radius(size: tuple[int, int]) -> float:
    return 0.6 * default_bone_width(size)


def palette(n: int, *, saturation: float = 0.85, value: float = 1.0) -> Tensor:
    """``n`` distinct colours ``(n, 3)`` evenly spaced in hue."""
    return torch.tensor(
        [colorsys.hsv_to_rgb(i / max(n, 1), saturation, value) for i in range(n)],
        dtype=torch.float32,
    ).reshape(n, 3)


def as_edges(edges, num_joints: int, *, where: str = "render") -> Tensor:
    """Validate ``edges`` (``(E, 2)`` ints, tensor/array/list of pairs) against ``num_joints``."""
    try:
        e = torch.as_tensor(edges)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise TypeError(
            f"{where}: edges must be an (E, 2) integer tensor or a list of pairs ({exc})"
        ) from None
    if e.numel() == 0:
        return torch.zeros(0, 2, dtype=torch.long)
    if e.is_floating_point() or e.dtype == torch.bool:
        raise TypeError(f"{where}: edges must be integers, got dtype {e.dtype}")
    if e.ndim != 2 or e.shape[1] != 2:
        raise ValueError(f"{where}: edges must have shape (E, 2), got {tuple(e.shape)}")
    e = e.long().cpu()
    if int(e.min()) < 0 or int(e.max()) >= num_joints:
        raise ValueError(
            f"{where}: edges reference joint indices in [{int(e.min())}, {int(e.max())}] "
            f"but joints has J={num_joints}"
        )
    return e


def _broadcast(name: str, value, shape: tuple[int, ...], like: Tensor) -> Tensor:
    t = torch.as_tensor(value, dtype=like.dtype, device=like.device)
    try:
        return t.expand(shape)
    except RuntimeError:
        raise ValueError(
            f"render: {name} of shape {tuple(t.shape)} does not broadcast to {shape}"
        ) from None


def prepare(
    joints: Tensor,
    edges,
    *,
    size: tuple[int, int],
    joint_radius=None,
    bone_width=None,
    joint_colors=None,
    bone_colors=None,
    opacity=None,
    mask=None,
    camera: Camera | str | None = None,
    background=0.0,
    sharpness: float = DEFAULT_SHARPNESS,
    depth_gain: float = DEPTH_GAIN,
) -> Scene:
    """Check arguments, project joints and resolve defaults; see :func:`drrender.render` for the meaning."""
    if not isinstance(joints, Tensor):
        joints = torch.as_tensor(joints, dtype=torch.float32)
    if not joints.is_floating_point():
        joints = joints.float()
    if joints.ndim < 3 or joints.shape[-1] not in (2, 3):
        raise ValueError(
            f"render: joints must have shape (..., T, J, 2 or 3), got {tuple(joints.shape)}"
        )
    H, W = (int(size[0]), int(size[1]))
    if H <= 0 or W <= 0:
        raise ValueError(f"render: size must be positive (H, W), got {size}")
    if not float(sharpness) > 0:
        raise ValueError(f"render: sharpness must be > 0, got {sharpness}")
    size = (H, W)
    T_, J = joints.shape[-3], joints.shape[-2]
    edges = as_edges(edges, J).to(joints.device)
    E = edges.shape[0]
    dtype, device = joints.dtype, joints.device

    if mask is not None:
        mask = torch.as_tensor(mask, device=device)
        try:
            torch.broadcast_shapes(mask.shape, joints.shape[:-1])
        except RuntimeError:
            raise ValueError(
                f"render: mask of shape {tuple(mask.shape)} does not broadcast to joints (..., T, J) = "
                f"{tuple(joints.shape[:-1])}"
            ) from None
        mask = mask.to(dtype)
    pts = _as_points3(joints)
    if mask is not None:
        # Masked joints may hold garbage (NaN, zeros); keep them out of the geometry and its gradients.
        keep = (mask > 0).unsqueeze(-1)
        pts = torch.where(keep, pts, torch.zeros_like(pts))

    if camera is None or isinstance(camera, str):
        camera = fit_camera(pts, size, mask=mask, kind=camera or "orthographic")
    elif not isinstance(camera, Camera):
        raise TypeError(
            f"render: camera must be a drrender.Camera, 'orthographic', 'pinhole' or None, got {camera!r}"
        )
    camera = camera.to(dtype=dtype, device=device)
    uv, depth = camera.project(pts, size)
    lead = uv.shape[:-3]
    frame_shape = (*lead, T_)
    N = 1
    for s in frame_shape:
        N *= s
    uv = uv.reshape(N, J, 2)
    depth = depth.reshape(N, J)

    jshape = (*frame_shape, J)
    eshape = (*frame_shape, E)
    draw_joints = True
    if joint_radius is None:
        joint_radius = default_joint_radius(size)
    if isinstance(joint_radius, (int, float)) and joint_radius <= 0:
        draw_joints = False
        joint_radius = 0.0
    if bone_width is None:
        bone_width = default_bone_width(size)
    jr = _broadcast("joint_radius", joint_radius, jshape, uv).reshape(N, J)
    br = (_broadcast("bone_width", bone_width, eshape, uv) / 2).reshape(N, E)

    if joint_colors is not None:
        jc = _broadcast("joint_colors", joint_colors, (*jshape, 3), uv).reshape(N, J, 3)
    else:
        jc = torch.full((N, J, 3), 0.92, dtype=dtype, device=device)
    if bone_colors is not None:
        bc = _broadcast("bone_colors", bone_colors, (*eshape, 3), uv).reshape(N, E, 3)
    elif joint_colors is not None:
        bc = (jc[:, edges[:, 0]] + jc[:, edges[:, 1]]) / 2
    else:
        bc = palette(E).to(dtype=dtype, device=device).expand(N, E, 3)

    jo = (
        torch.ones(N, J, dtype=dtype, device=device)
        if opacity is None
        else (_broadcast("opacity", opacity, jshape, uv).reshape(N, J))
    )
    if mask is not None:
        m = mask.expand(jshape).reshape(N, J)
        jo = jo * m.clamp(0, 1)
        j_active = m > 0
    else:
        j_active = torch.ones(N, J, dtype=torch.bool, device=device)
    bo = (jo[:, edges[:, 0]] + jo[:, edges[:, 1]]) / 2
    b_active = j_active[:, edges[:, 0]] & j_active[:, edges[:, 1]]

    bg = torch.as_tensor(background, dtype=dtype, device=device)
    if bg.ndim == 0:
        bg = bg.expand(3)
    if bg.shape[-1] != 3:
        raise ValueError(f"render: background must be a scalar or (..., 3), got {tuple(bg.shape)}")
    if bg.ndim == 1:
        bg = bg.expand(N, 3)
    else:
        bg = _broadcast("background", bg[..., None, :], (*frame_shape, 3), uv).reshape(N, 3)

    return Scene(
        joint_uv=uv,
        joint_depth=depth,
        joint_radius=jr,
        joint_color=jc,
        joint_opacity=jo,
        joint_active=j_active,
        bone_a=uv[:, edges[:, 0]],
        bone_b=uv[:, edges[:, 1]],
        bone_depth_a=depth[:, edges[:, 0]],
        bone_depth_b=depth[:, edges[:, 1]],
        bone_radius=br,
        bone_color=bc,
        bone_opacity=bo,
        bone_active=b_active,
        background=bg,
        draw_joints=draw_joints,
        size=size,
        sharpness=float(sharpness),
        depth_gain=float(depth_gain),
        out_shape=frame_shape,
    )
