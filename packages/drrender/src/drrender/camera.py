"""Cameras: world points ``(..., 3)`` -> pixel coordinates ``(..., 2)`` and depth in pixel units.

Conventions: the world is y-up and right-handed; a camera with identity rotation looks along -z (it sees the
front of a body facing +z). Image coordinates are ``(u, v)`` with u to the right and v down, in pixels; the
centre of pixel ``(row i, col j)`` is ``(j + 0.5, i + 0.5)``. Depth grows away from the camera and is
expressed in pixels (at the subject's distance) so that it can be traded against image distances.

Every field is a tensor and may require grad (rotation, translation, focal, center are learnable). Field
shapes broadcast against the leading dims of the points, i.e. a camera with ``rotation`` of shape
``(K, 3, 3)`` renders joints of shape ``(B, 1, T, J, 3)`` from K views.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import Tensor

KINDS = ("orthographic", "pinhole")


def axis_angle_to_matrix(rotvec: Tensor) -> Tensor:
    """Rodrigues' formula. ``rotvec (..., 3)`` (axis * angle, radians) -> rotation matrices ``(..., 3, 3)``."""
    rotvec = torch.as_tensor(rotvec)
    if rotvec.shape[-1:] != (3,):
        raise ValueError(f"axis_angle_to_matrix: expected (..., 3), got {tuple(rotvec.shape)}")
    # Softened angle keeps the map smooth (and its gradient finite) at the identity.
    theta = torch.sqrt((rotvec * rotvec).sum(-1, keepdim=True) + 1e-12)
    k = rotvec / theta
    kx, ky, kz = k.unbind(-1)
    zero = torch.zeros_like(kx)
    kmat = torch.stack([zero, -kz, ky, kz, zero, -kx, -ky, kx, zero], -1).reshape(
        *k.shape[:-1], 3, 3
    )
    eye = torch.eye(3, dtype=rotvec.dtype, device=rotvec.device)
    s = torch.sin(theta)[..., None]
    c = torch.cos(theta)[..., None]
    return eye + s * kmat + (1 - c) * (kmat @ kmat)


@dataclass
class Camera:
    """A camera; see the module docstring for conventions.

    rotation ``(..., 3, 3)``, translation ``(..., 3)`` (camera coords = R @ X + t), focal ``(...)`` pixels,
    center ``(..., 2)`` principal point in pixels (None: image centre), kind ``"orthographic"`` (u = c + f*x)
    or ``"pinhole"`` (u = c + f*x/depth, the scene in front of the camera has z < 0). ``depth_scale`` ``(...)``
    converts depth to pixel units for compositing (None: ``focal`` for orthographic, ``focal / |t|`` for
    pinhole, i.e. pixels per unit at the distance of the world origin).
    """

    rotation: Tensor
    translation: Tensor
    focal: Tensor
    center: Tensor | None = None
    kind: str = "orthographic"
    depth_scale: Tensor | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"Camera: kind must be one of {KINDS}, got {self.kind!r}")
        self.rotation = torch.as_tensor(self.rotation)
        dtype = self.rotation.dtype if self.rotation.is_floating_point() else torch.float32
        self.rotation = self.rotation.to(dtype)
        self.translation = torch.as_tensor(
            self.translation, dtype=dtype, device=self.rotation.device
        )
        self.focal = torch.as_tensor(self.focal, dtype=dtype, device=self.rotation.device)
        if self.center is not None:
            self.center = torch.as_tensor(self.center, dtype=dtype, device=self.rotation.device)
            if self.center.shape[-1:] != (2,):
                raise ValueError(f"Camera: center must be (..., 2), got {tuple(self.center.shape)}")
        if self.rotation.shape[-2:] != (3, 3):
            raise ValueError(
                f"Camera: rotation must be (..., 3, 3), got {tuple(self.rotation.shape)}"
            )
        if self.translation.shape[-1:] != (3,):
            raise ValueError(
                f"Camera: translation must be (..., 3), got {tuple(self.translation.shape)}"
            )

    @property
    def batch_shape(self) -> torch.Size:
        shapes = [self.rotation.shape[:-2], self.translation.shape[:-1], self.focal.shape]
        if self.center is not None:
            shapes.append(self.center.shape[:-1])
        if self.depth_scale is not None:
            shapes.append(torch.as_tensor(self.depth_scale).shape)
        return torch.broadcast_shapes(*shapes)

    def to(self, dtype=None, device=None) -> Camera:
        def cv(x):
            return None if x is None else torch.as_tensor(x).to(dtype=dtype, device=device)

        return replace(
            self,
            rotation=cv(self.rotation),
            translation=cv(self.translation),
            focal=cv(self.focal),
            center=cv(self.center),
            depth_scale=cv(self.depth_scale),
        )

    def project(
        self, points: Tensor, size: tuple[int, int], extra_dims: int = 2
    ) -> tuple[Tensor, Tensor]:
        """``points (*L, *X, 3)`` -> ``uv (*L', *X, 2)``, ``depth (*L', *X)`` in pixels.

        ``extra_dims`` is the number of point dims ``X`` that the camera does not batch over (2 for
        ``(T, J)``); the camera's batch shape broadcasts against ``L``.
        """
        H, W = size
        pad = (None,) * extra_dims
        R = self.rotation[(..., *pad, slice(None), slice(None))]
        t = self.translation[(..., *pad, slice(None))]
        f = self.focal[(..., *pad)]
        cam = (R @ points.unsqueeze(-1)).squeeze(-1) + t
        x, y, z = cam.unbind(-1)
        depth = -z
        if self.center is None:
            cu = torch.tensor(W / 2.0, dtype=points.dtype, device=points.device)
            cv = torch.tensor(H / 2.0, dtype=points.dtype, device=points.device)
        else:
            c = self.center[(..., *pad, slice(None))]
            cu, cv = c[..., 0], c[..., 1]
        if self.kind == "orthographic":
            u = cu + f * x
            v = cv - f * y
            scale = (
                f if self.depth_scale is None else torch.as_tensor(self.depth_scale)[(..., *pad)]
            )
        else:
            # Points behind the camera are clamped onto a near plane instead of flipping through infinity.
            dz = depth.clamp_min(1e-6)
            u = cu + f * x / dz
            v = cv - f * y / dz
            if self.depth_scale is None:
                scale = f / torch.linalg.vector_norm(t, dim=-1).clamp_min(1e-6)
            else:
                scale = torch.as_tensor(self.depth_scale)[(..., *pad)]
        return torch.stack([u, v], -1), depth * scale


def _as_points3(joints: Tensor) -> Tensor:
    if joints.shape[-1] == 3:
        return joints
    return torch.cat([joints, torch.zeros_like(joints[..., :1])], -1)


def fit_camera(
    joints: Tensor,
    size: tuple[int, int],
    *,
    mask: Tensor | None = None,
    kind: str = "orthographic",
    rotation: Tensor | None = None,
    margin: float = 0.08,
) -> Camera:
    """Camera that frames the whole sequence: its bounding box (over T and J) fills the image.

    joints ``(..., T, J, 2|3)``; mask ``(..., T, J)`` (masked joints are ignored); rotation ``(..., 3, 3)``
    (default identity: front view). Returns a camera with batch shape ``...``. Differentiable in joints
    (through the extreme points); ``margin`` is the fraction of the image left empty on each side.
    """
    if kind not in KINDS:
        raise ValueError(f"fit_camera: kind must be one of {KINDS}, got {kind!r}")
    H, W = size
    pts = _as_points3(joints)
    dtype, device = pts.dtype, pts.device
    if rotation is None:
        rotation = torch.eye(3, dtype=dtype, device=device)
    rotation = torch.as_tensor(rotation, dtype=dtype, device=device)
    rot = (rotation[..., None, None, :, :] @ pts.unsqueeze(-1)).squeeze(-1)
    if mask is None:
        valid = torch.ones(rot.shape[:-1], dtype=torch.bool, device=device)
    else:
        valid = (torch.as_tensor(mask, device=device) > 0).expand(rot.shape[:-1])
    finite = torch.isfinite(rot).all(-1)
    valid = valid & finite
    v = valid.unsqueeze(-1)
    safe = torch.where(v, rot, torch.zeros_like(rot))
    big = torch.finfo(dtype).max
    lo = torch.where(v, safe, torch.full_like(rot, big)).amin(dim=(-3, -2))
    hi = torch.where(v, safe, torch.full_like(rot, -big)).amax(dim=(-3, -2))
    any_valid = valid.flatten(-2).any(-1).unsqueeze(-1)
    # A sequence with no visible joint gets a unit box around the origin.
    lo = torch.where(any_valid, lo, torch.full_like(lo, -1.0))
    hi = torch.where(any_valid, hi, torch.full_like(hi, 1.0))
    mid = (lo + hi) / 2
    ext = (hi - lo).clamp_min(1e-6)
    fill = 1.0 - 2.0 * margin
    focal = fill * torch.minimum(W / ext[..., 0], H / ext[..., 1])
    # Degenerate (single point) sequences would get an enormous zoom; cap it at the image size.
    focal = torch.minimum(focal, torch.full_like(focal, float(max(H, W))))
    translation = -mid
    if kind == "orthographic":
        return Camera(rotation.expand(*mid.shape[:-1], 3, 3), translation, focal, kind=kind)
    distance = 1.5 * torch.linalg.vector_norm(ext, dim=-1) + ext[..., 2] / 2
    translation = translation - torch.stack([torch.zeros_like(distance)] * 2 + [distance], -1)
    return Camera(
        rotation.expand(*mid.shape[:-1], 3, 3),
        translation,
        focal * distance,
        kind=kind,
        depth_scale=focal,
    )
