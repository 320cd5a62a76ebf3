"""``DrAction``: the learnable renderer that turns a batch of skeleton sequences into a few images.

Pipeline: per-sequence normalisation -> learnable temporal sampling (T -> F frames) -> per-joint appearance
from a small MLP -> K learnable virtual views -> soft rasterisation (:func:`drrender.render_scene`).
No parameter depends on the number of joints J, so one instance renders any layout.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ._constants import DEFAULT_SHARPNESS, DEPTH_GAIN
from .camera import Camera, axis_angle_to_matrix
from .render import render_scene
from .scene import as_edges, default_bone_width, default_joint_radius, prepare

VIEW_LAYOUTS = ("tile", "stack")


class TemporalSampler(nn.Module):
    """Learnable soft selection of F frames out of the valid prefix of each sequence.

    Frame f is centred at ``tau_f = p_f * L - 1/2`` (L = the sequence's length) where the positions
    ``p_f = cumsum(g)_f - g_f / 2`` come from learnable gaps ``g = softmax(logits)``, so they stay increasing
    and inside the sequence; at initialisation they are evenly spaced. Each output frame is a Gaussian
    (learnable width ``sigma`` in frames) weighting of the valid frames only, so padded frames are never
    sampled and everything is differentiable with respect to the positions and the width.
    """

    def __init__(self, frames: int, sigma: float = 0.5):
        super().__init__()
        if frames < 1:
            raise ValueError(f"TemporalSampler: frames must be >= 1, got {frames}")
        self.frames = frames
        self.gap_logits = nn.Parameter(torch.zeros(frames))
        self.log_sigma = nn.Parameter(torch.tensor(math.log(sigma)))

    def centres(self, lengths: Tensor, offset: Tensor | float = 0.0) -> Tensor:
        """Frame centres ``(B, F)`` (in frames) for sequences of ``lengths (B,)``, shifted by ``-offset``."""
        gaps = torch.softmax(self.gap_logits, 0)
        pos = torch.cumsum(gaps, 0) - gaps / 2
        return pos[None, :] * lengths[:, None] - 0.5 - offset

    def weights(self, lengths: Tensor, T: int, offset: Tensor | float = 0.0) -> Tensor:
        """``(B, F, T)`` sampling weights, each row a distribution over the valid frames ``t < length``."""
        tau = self.centres(lengths, offset)
        t = torch.arange(T, dtype=tau.dtype, device=tau.device)
        sigma = self.log_sigma.exp().clamp_min(1e-3)
        logits = -0.5 * ((t[None, None, :] - tau[..., None]) / sigma) ** 2
        valid = t[None, None, :] < lengths[:, None, None]
        logits = logits.masked_fill(~valid, -torch.inf)
        return torch.softmax(logits, -1)


class Appearance(nn.Module):
    """MLP: normalised position (3), velocity (3), part embedding -> colour (3), radius, width, opacity."""

    def __init__(self, num_part_tags: int, part_dim: int = 8, hidden: int = 32):
        super().__init__()
        self.num_part_tags = num_part_tags
        # Index num_part_tags is the embedding used when no tags are given.
        self.parts = nn.Embedding(num_part_tags + 1, part_dim)
        self.mlp = nn.Sequential(
            nn.Linear(6 + part_dim, hidden),
            nn.SiLU(),
            nn.Linear(hidden, hidden),
            nn.SiLU(),
            nn.Linear(hidden, 6),
        )
        with torch.no_grad():
            self.mlp[-1].bias.copy_(torch.tensor([0.0, 0.0, 0.0, 0.0, 0.0, 2.0]))
            # Saturated colours from the start, so that parts are told apart before any training.
            self.mlp[-1].weight[:3] *= 6.0

    def forward(self, pos: Tensor, vel: Tensor, tags: Tensor) -> dict[str, Tensor]:
        """pos, vel ``(B, F, J, 3)``, tags ``(B, J)`` -> colour ``(B,F,J,3)``, radius/width/opacity ``(B,F,J)``
        (radius and width as multipliers in (0, 2) of the defaults)."""
        emb = self.parts(tags)[:, None].expand(*pos.shape[:-1], -1)
        out = self.mlp(torch.cat([pos, vel, emb], -1))
        return {
            "color": torch.sigmoid(out[..., :3]),
            "radius": 2 * torch.sigmoid(out[..., 3]),
            "width": 2 * torch.sigmoid(out[..., 4]),
            "opacity": torch.sigmoid(out[..., 5]),
        }


class DrAction(nn.Module):
    """Learnable differentiable skeleton renderer.

    Args:
        frames: F, number of output frames sampled from the T input frames.
        size: ``(H, W)`` of each output image.
        views: K learnable virtual views (orthographic cameras: rotation, zoom, shift).
        num_part_tags: size of the part vocabulary (default 7: torso, head, left/right arm, left/right leg,
            other); tags are optional at call time.
        view_layout: ``"tile"`` arranges the K views in a grid of ``ceil(sqrt(K))`` columns inside each
            ``H x W`` image (each view gets an ``H // rows x W // cols`` tile; the rest is background) and
            returns ``(B, F, 3, H, W)``; ``"stack"`` renders each view at ``H x W`` and returns
            ``(B, F * K, 3, H, W)`` ordered frame-major (index ``f * K + k``).
        velocity_color: blend each joint's colour with an RGB encoding of its 3D velocity
            (``0.5 + 0.5 tanh(gain * v)``) through a learnable gate.
        trails: number of fading past poses drawn behind each frame (0 = none); their opacity decays
            geometrically (learnable) and they are placed behind the current pose.
        hidden, part_dim: appearance MLP sizes.
        sharpness, depth_gain, background: see :func:`drrender.render`.
        backend: rasteriser backend (see :func:`drrender.render`).

    Input 2D joints (C = 2) lie in the image plane (y up); views then only rotate in-plane.
    """

    def __init__(
        self,
        frames: int = 8,
        size: tuple[int, int] = (112, 112),
        views: int = 1,
        num_part_tags: int = 7,
        *,
        view_layout: str = "tile",
        velocity_color: bool = True,
        trails: int = 0,
        hidden: int = 32,
        part_dim: int = 8,
        sharpness: float = DEFAULT_SHARPNESS,
        depth_gain: float = DEPTH_GAIN,
        background: float | tuple[float, float, float] = 0.0,
        backend: str | None = None,
    ):
        super().__init__()
        if views < 1:
            raise ValueError(f"DrAction: views must be >= 1, got {views}")
        if view_layout not in VIEW_LAYOUTS:
            raise ValueError(
                f"DrAction: view_layout must be one of {VIEW_LAYOUTS}, got {view_layout!r}"
            )
        if trails < 0:
            raise ValueError(f"DrAction: trails must be >= 0, got {trails}")
        bg = torch.as_tensor(background, dtype=torch.float32).expand(3).clone()
        if bg.min() < 0 or bg.max() > 1:
            raise ValueError(f"DrAction: background must be in [0, 1], got {background}")
        self.frames, self.size, self.views = int(frames), (int(size[0]), int(size[1])), int(views)
        self.num_part_tags, self.view_layout = int(num_part_tags), view_layout
        self.velocity_color, self.trails = bool(velocity_color), int(trails)
        self.sharpness, self.depth_gain, self.backend = float(sharpness), float(depth_gain), backend
        self.register_buffer("background", bg, persistent=False)

        self.sampler = TemporalSampler(self.frames)
        self.appearance = Appearance(self.num_part_tags, part_dim, hidden)
        # Views start spread in yaw over half a turn (front, then sides); zoom and shift start neutral.
        yaw = torch.arange(self.views, dtype=torch.float32) * (math.pi / self.views)
        self.view_rotvec = nn.Parameter(
            torch.stack([torch.zeros_like(yaw), yaw, torch.zeros_like(yaw)], -1)
        )
        self.view_log_zoom = nn.Parameter(torch.zeros(self.views))
        self.view_shift = nn.Parameter(torch.zeros(self.views, 2))
        if self.velocity_color:
            self.velocity_gate = nn.Parameter(torch.tensor(-1.0))  # sigmoid -> 0.27
            self.velocity_gain = nn.Parameter(torch.tensor(3.0))
        if self.trails:
            self.trail_decay = nn.Parameter(torch.tensor(0.0))  # sigmoid -> 0.5 per step
            self.trail_spacing = nn.Parameter(
                torch.tensor(0.0)
            )  # softplus-ish spacing, see _trail_offsets

    # ------------------------------------------------------------------------------------------- helpers
    @property
    def grid(self) -> tuple[int, int]:
        """(rows, cols) of the tiled view layout."""
        if self.view_layout == "stack":
            return 1, 1
        cols = math.ceil(math.sqrt(self.views))
        return math.ceil(self.views / cols), cols

    @property
    def view_size(self) -> tuple[int, int]:
        rows, cols = self.grid
        return self.size[0] // rows, self.size[1] // cols

    def extra_repr(self) -> str:
        return (
            f"frames={self.frames}, size={self.size}, views={self.views}, layout={self.view_layout}, "
            f"num_part_tags={self.num_part_tags}, velocity_color={self.velocity_color}, trails={self.trails}"
        )

    def _check(self, joints, edges, mask, part_tags, lengths):
        if not isinstance(joints, Tensor) or joints.ndim != 4 or joints.shape[-1] not in (2, 3):
            shape = tuple(joints.shape) if isinstance(joints, Tensor) else type(joints).__name__
            raise ValueError(f"DrAction: joints must be a (B, T, J, 2 or 3) tensor, got {shape}")
        B, T, J, _ = joints.shape
        edges = as_edges(edges, J, where="DrAction").to(joints.device)
        if mask is None:
            mask = torch.ones(B, T, J, device=joints.device)
        elif tuple(mask.shape) != (B, T, J):
            raise ValueError(
                f"DrAction: mask must have shape (B, T, J) = {(B, T, J)}, got {tuple(mask.shape)}"
            )
        if lengths is None:
            lengths = torch.full((B,), T, device=joints.device)
        else:
            lengths = torch.as_tensor(lengths, device=joints.device)
            if lengths.shape != (B,) or lengths.is_floating_point():
                raise ValueError(
                    f"DrAction: lengths must be (B,) = ({B},) integers, got {tuple(lengths.shape)}"
                )
            if int(lengths.min()) < 1 or int(lengths.max()) > T:
                raise ValueError(
                    f"DrAction: lengths must lie in [1, T={T}], got {lengths.tolist()}"
                )
        if part_tags is None:
            tags = torch.full((B, J), self.num_part_tags, dtype=torch.long, device=joints.device)
        else:
            tags = torch.as_tensor(part_tags, device=joints.device)
            if tags.is_floating_point():
                raise TypeError(f"DrAction: part_tags must be integers, got {tags.dtype}")
            if tags.shape == (J,):
                tags = tags[None].expand(B, J)
            if tags.shape != (B, J):
                raise ValueError(
                    f"DrAction: part_tags must be (J,) or (B, J) with J={J}, got {tuple(tags.shape)}"
                )
            if tags.numel() and (int(tags.min()) < 0 or int(tags.max()) >= self.num_part_tags):
                raise ValueError(
                    f"DrAction: part_tags must lie in [0, {self.num_part_tags}), got values in "
                    f"[{int(tags.min())}, {int(tags.max())}]"
                )
            tags = tags.long()
        return edges, mask, tags, lengths

    @staticmethod
    def _normalise(joints: Tensor, valid: Tensor) -> Tensor:
        """Centre each sequence on its valid joints and scale it into the unit ball -> ``(B, T, J, 3)``."""
        x = (
            joints
            if joints.shape[-1] == 3
            else torch.cat([joints, torch.zeros_like(joints[..., :1])], -1)
        )
        v = valid[..., None]
        x = torch.where(v, x, torch.zeros_like(x))
        count = v.sum((1, 2), keepdim=True).clamp_min(1)
        centre = x.sum((1, 2), keepdim=True) / count
        x = torch.where(v, x - centre, torch.zeros_like(x))
        radius = torch.sqrt((x * x).sum(-1, keepdim=True) + 1e-12).amax((1, 2), keepdim=True)
        return x / radius.clamp_min(1e-6)

    def _sample(self, weights: Tensor, x: Tensor, vel: Tensor, m: Tensor):
        """Sample positions, velocities and visibility ``(B, F, J, .)`` with weights ``(B, F, T)``."""
        wm = weights[..., None] * m[:, None]  # (B, F, T, J)
        den = wm.sum(2)  # (B, F, J): visibility of the sampled joint, 0 where never valid
        inv = 1 / den.clamp_min(1e-12)
        pos = torch.einsum("bftj,btjc->bfjc", wm, x) * inv[..., None]
        v = torch.einsum("bftj,btjc->bfjc", wm, vel) * inv[..., None]
        return pos, v, den

    def cameras(self, planar: bool) -> Camera:
        """The K view cameras (batch shape ``(K,)``) for unit-ball normalised joints at the view size."""
        h, w = self.view_size
        rotvec = self.view_rotvec
        if planar:  # 2D input: only in-plane rotation keeps the skeleton readable
            rotvec = torch.stack([torch.zeros_like(rotvec[:, 2])] * 2 + [rotvec[:, 2]], -1)
        focal = 0.46 * min(h, w) * self.view_log_zoom.exp()
        centre = torch.tensor(
            [w / 2.0, h / 2.0], device=rotvec.device
        ) + self.view_shift * torch.tensor([w / 2.0, h / 2.0], device=rotvec.device)
        return Camera(axis_angle_to_matrix(rotvec), torch.zeros_like(rotvec), focal, center=centre)

    # ------------------------------------------------------------------------------------------- forward
    def forward(
        self,
        joints: Tensor,
        edges,
        mask: Tensor | None = None,
        part_tags: Tensor | None = None,
        lengths: Tensor | None = None,
    ) -> Tensor:
        """joints ``(B, T, J, C)``, edges ``(E, 2)``, mask ``(B, T, J)`` (0 = missing), part_tags ``(J,)`` or
        ``(B, J)``, lengths ``(B,)`` (frames ``t >= length`` are padding) -> images in [0, 1]:
        ``(B, F, 3, H, W)`` (tile layout) or ``(B, F * K, 3, H, W)`` (stack layout)."""
        edges, mask, tags, lengths = self._check(joints, edges, mask, part_tags, lengths)
        dtype = self.view_log_zoom.dtype
        B, T, J, C = joints.shape
        joints = joints.to(dtype)
        t = torch.arange(T, device=joints.device)
        valid = (
            (mask > 0)
            & (t[None, :, None] < lengths[:, None, None])
            & torch.isfinite(joints).all(-1)
        )
        m = torch.where(valid, mask.to(dtype).clamp(0, 1), torch.zeros_like(joints[..., 0]))
        x = self._normalise(joints, valid)
        # Velocity in normalised units per output frame (forward differences between valid frames).
        stride = (lengths.to(dtype) / self.frames).clamp_min(1.0)[:, None, None, None]
        both = valid[:, 1:] & valid[:, :-1]
        dx = torch.where(both[..., None], x[:, 1:] - x[:, :-1], torch.zeros_like(x[:, 1:]))
        vel = torch.cat([dx, torch.zeros_like(x[:, :1])], 1) * stride

        layers = [0.0]
        if self.trails:
            spacing = (
                0.5 * (1 + torch.tanh(self.trail_spacing)) * stride[:, 0, 0, 0]
            )  # (B,) in (0, stride)
            layers += [spacing * i for i in range(1, self.trails + 1)]
        pos, v, vis = [], [], []
        for i, offset in enumerate(layers):
            w = self.sampler.weights(lengths.to(dtype), T, offset if i == 0 else offset[:, None])
            p_i, v_i, vis_i = self._sample(w, x, vel, m)
            if i:
                vis_i = vis_i * torch.sigmoid(self.trail_decay) ** i
            pos.append(p_i)
            v.append(v_i)
            vis.append(vis_i)
        F = self.frames
        look = self.appearance(torch.cat(pos, 2), torch.cat(v, 2), tags.repeat(1, len(layers)))
        color = look["color"]
        if self.velocity_color:
            vcol = 0.5 + 0.5 * torch.tanh(self.velocity_gain * torch.cat(v, 2))
            gate = torch.sigmoid(self.velocity_gate)
            color = (1 - gate) * color + gate * vcol
        all_edges = torch.cat([edges + i * J for i in range(len(layers))], 0)
        size = self.view_size
        base_r, base_w = default_joint_radius(size), default_bone_width(size)
        scene = prepare(
            torch.cat(pos, 2)[:, None],  # (B, 1, F, J', 3) against K cameras -> (B, K, F)
            all_edges,
            size=size,
            joint_radius=(base_r * look["radius"])[:, None],
            bone_width=(
                base_w
                * (look["width"][..., all_edges[:, 0]] + look["width"][..., all_edges[:, 1]])
                / 2
            )[:, None],
            joint_colors=color[:, None],
            opacity=look["opacity"][:, None],
            mask=torch.cat(vis, 2)[:, None],
            camera=self.cameras(planar=C == 2),
            background=self.background.to(dtype),
            sharpness=self.sharpness,
            depth_gain=self.depth_gain,
        )
        if self.trails:
            # Push each trail layer behind the current pose (in pixels of depth) so the pose stays on top.
            step = 0.25 * max(size)
            off = (
                torch.arange(len(layers), dtype=dtype, device=joints.device).repeat_interleave(J)
                * step
            )
            scene.joint_depth = scene.joint_depth + off
            scene.bone_depth_a = scene.bone_depth_a + off[all_edges[:, 0]]
            scene.bone_depth_b = scene.bone_depth_b + off[all_edges[:, 1]]
        img = render_scene(scene, self.backend).reshape(B, self.views, F, 3, *size)
        return self._layout(img)

    def _layout(self, img: Tensor) -> Tensor:
        """``(B, K, F, 3, h, w)`` views -> the documented output layout."""
        B, K, F = img.shape[:3]
        H, W = self.size
        if self.view_layout == "stack":
            return img.transpose(1, 2).reshape(B, F * K, 3, H, W)
        rows, cols = self.grid
        h, w = self.view_size
        bg = self.background.to(img.dtype)[:, None, None]
        row_imgs = []
        for r in range(rows):
            tiles = [
                img[:, r * cols + c] if r * cols + c < K else bg.expand(B, F, 3, h, w)
                for c in range(cols)
            ]
            if W > cols * w:
                tiles.append(bg.expand(B, F, 3, h, W - cols * w))
            row_imgs.append(torch.cat(tiles, -1))
        if H > rows * h:
            row_imgs.append(bg.expand(B, F, 3, H - rows * h, W))
        return torch.cat(row_imgs, -2)
