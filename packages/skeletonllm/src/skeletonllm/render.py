"""Skeleton files -> images a person can look at: GIF (Pillow), MP4 (imageio-ffmpeg or PyAV), PNG.

Two renderers: the fixed one (``drrender.render`` with a camera fitted to each sequence, one colour per
body part, ``views`` yaw angles spread over half a turn) and a checkpoint's learned ``DrAction``, which
draws exactly the frames that model receives (same normalisation, frame sampling, views and size).
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

OUTPUT_TYPES = (".gif", ".mp4", ".png")
# One colour per skelformats.PART_NAMES entry: torso, head, left arm, right arm, left leg, right leg,
# other. Left limbs warm, right limbs cool, so a mirrored pose reads as mirrored.
PART_COLORS = (
    (0.85, 0.85, 0.85),
    (1.00, 0.85, 0.20),
    (0.95, 0.25, 0.20),
    (0.20, 0.55, 1.00),
    (1.00, 0.55, 0.10),
    (0.10, 0.85, 0.85),
    (0.60, 0.60, 0.60),
)


class RenderError(ValueError):
    """A render request that cannot be carried out; the message names the file or option."""


def check_output(path: str | os.PathLike) -> Path:
    """The output path, if its type is supported and its folder exists and is writable."""
    out = Path(path)
    if out.suffix.lower() not in OUTPUT_TYPES:
        raise RenderError(f"{out}: output must end in {', '.join(OUTPUT_TYPES)}")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise RenderError(f"{out}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise RenderError(f"{out}: folder {parent} is not writable")
    if out.is_dir():
        raise RenderError(f"{out}: is a folder")
    if out.suffix.lower() == ".mp4":
        video_backend()
    return out


def video_backend() -> str:
    """``"imageio-ffmpeg"`` or ``"av"``, whichever is installed; RenderError naming the extra otherwise."""
    import importlib.util

    for module, name in (("imageio_ffmpeg", "imageio-ffmpeg"), ("av", "av")):
        if importlib.util.find_spec(module) is not None:
            return name
    raise RenderError(
        "MP4 output needs imageio-ffmpeg or PyAV: pip install 'skeletonllm[video]' "
        "(or write .gif / .png)"
    )


# ------------------------------------------------------------------------------------------- renderers
class FixedRenderer:
    """``drrender.render`` with a fitted orthographic camera per view: F evenly spaced frames of each
    sequence, K views (yaw ``k * 180 / K`` degrees; 2D input: the image plane) side by side ->
    ``(F, H, K * W, 3)`` uint8."""

    def __init__(self, *, frames: int = 8, size: tuple[int, int] = (112, 112), views: int = 1):
        self.frames, self.size, self.views = int(frames), (int(size[0]), int(size[1])), int(views)

    def __call__(self, motion) -> np.ndarray:
        import torch
        from drrender import render

        from .inputs import prepare

        s = prepare(upright(motion), normalize=True)
        joints, mask = s.joints, s.mask
        idx = torch.from_numpy(
            np.linspace(0, joints.shape[0] - 1, self.frames).round().astype(np.int64)
        )
        joints, mask = joints[idx], mask[idx]
        planar = joints.shape[-1] == 2
        if planar:
            joints = torch.cat([joints, torch.zeros_like(joints[..., :1])], -1)
        # 2D input has no depth to turn: every view shows the image plane.
        step = 0.0 if planar else math.pi / self.views
        yaw = torch.arange(self.views, dtype=torch.float32) * step
        c, sn = torch.cos(yaw), torch.sin(yaw)
        rot = torch.zeros(self.views, 3, 3)
        rot[:, 0, 0], rot[:, 0, 2], rot[:, 1, 1], rot[:, 2, 0], rot[:, 2, 2] = c, sn, 1, -sn, c
        views = torch.einsum("kij,tnj->ktni", rot, joints)
        colors = torch.tensor(PART_COLORS)[s.tags.clamp(0, len(PART_COLORS) - 1)]
        with torch.no_grad():
            img = render(
                views,
                s.edges,
                size=self.size,
                joint_colors=colors,
                mask=mask.expand(self.views, *mask.shape),
            )  # (K, F, 3, H, W)
        img = img.permute(1, 3, 0, 4, 2).reshape(self.frames, self.size[0], -1, 3)
        return to_uint8(img.numpy())


def upright(motion):
    """``motion`` with y up: layouts in image coordinates (``up_axis == "-y"``: COCO, OpenPose,
    MediaPipe) turned half a turn about x (2D: y flipped), so that they are not drawn upside down."""
    import dataclasses

    layout = motion.layout
    if getattr(layout, "up_axis", None) != "-y":
        return motion
    flip = np.array([1.0, -1.0, -1.0][: layout.dims])
    return motion.replace(data=motion.data * flip, layout=dataclasses.replace(layout, up_axis="y"))


class ModelRenderer:
    """A checkpoint's learned ``DrAction`` (read from ``config.json`` + ``renderer.safetensors``, no
    backbone): the frames the model receives, ``(F, H, W, 3)`` uint8; ``size`` re-renders larger."""

    def __init__(self, checkpoint: str | os.PathLike, *, size: tuple[int, int] | None = None):
        from .checkpoint import CheckpointError, load_tensors
        from .config import SkeletonLLMConfig
        from .model import _build_renderer

        path = Path(checkpoint)
        try:
            self.config = SkeletonLLMConfig.load(path / "config.json")
        except (FileNotFoundError, ValueError) as exc:
            raise CheckpointError(str(exc)) from exc
        self.renderer = _build_renderer(self.config).eval()
        state = load_tensors(path / "renderer.safetensors")
        try:
            self.renderer.load_state_dict(state)
        except RuntimeError as exc:
            first = str(exc).strip().splitlines()[0]
            raise CheckpointError(
                f"{path / 'renderer.safetensors'}: does not match config.json ({first})"
            ) from None
        if size is not None:  # no parameter depends on the image size
            self.renderer.size = (int(size[0]), int(size[1]))
        self.frames, self.size, self.views = (
            self.renderer.frames,
            self.renderer.size,
            self.renderer.views,
        )

    def __call__(self, motion) -> np.ndarray:
        import torch

        from .inputs import prepare

        s = prepare(motion, normalize=self.config.normalize)
        with torch.no_grad():
            img = self.renderer(s.joints[None], s.edges, mask=s.mask[None], part_tags=s.tags)
        return to_uint8(img[0].permute(0, 2, 3, 1).numpy())


def to_uint8(x: np.ndarray) -> np.ndarray:
    return (np.clip(np.nan_to_num(x), 0.0, 1.0) * 255 + 0.5).astype(np.uint8)


# ------------------------------------------------------------------------------------------- layout
def stack_rows(clips: Sequence[np.ndarray], gap: int = 2) -> np.ndarray:
    """Clips ``(F, H, W_i, 3)`` of one frame count -> ``(F, sum H + gaps, max W, 3)``, one row each."""
    f = clips[0].shape[0]
    width = max(c.shape[2] for c in clips)
    height = sum(c.shape[1] for c in clips) + gap * (len(clips) - 1)
    out = np.full((f, height, width, 3), 255, np.uint8)
    y = 0
    for c in clips:
        out[:, y : y + c.shape[1], : c.shape[2]] = c
        y += c.shape[1] + gap
    return out


def contact_sheet(clips: Sequence[np.ndarray], gap: int = 2) -> np.ndarray:
    """One row per clip, its frames left to right, on white -> ``(H', W', 3)``."""
    rows = []
    for c in clips:
        f, h, w, _ = c.shape
        row = np.full((h, f * w + gap * (f - 1), 3), 255, np.uint8)
        for i in range(f):
            row[:, i * (w + gap) : i * (w + gap) + w] = c[i]
        rows.append(row[None])
    return stack_rows(rows, gap)[0]


def _scale(frames: np.ndarray, scale: int) -> np.ndarray:
    return frames.repeat(scale, -3).repeat(scale, -2) if scale > 1 else frames


# ------------------------------------------------------------------------------------------- writers
def _atomic(path: Path, write) -> Path:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    os.close(fd)
    try:
        write(Path(tmp))
        from .checkpoint import default_mode

        default_mode(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_gif(path: Path, frames: np.ndarray, fps: float) -> Path:
    from PIL import Image

    images = [Image.fromarray(f) for f in frames]
    ms = max(20, round(1000 / max(fps, 1e-3)))
    return _atomic(
        path,
        lambda p: images[0].save(
            p, format="GIF", save_all=True, append_images=images[1:], duration=ms, loop=0
        ),
    )


def write_mp4(path: Path, frames: np.ndarray, fps: float) -> Path:
    # yuv420p (what players accept) needs even sides.
    f, h, w, _ = frames.shape
    frames = np.pad(frames, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)), constant_values=255)
    fps = max(1.0, float(fps))
    if video_backend() == "imageio-ffmpeg":
        import imageio_ffmpeg

        def write(p: Path) -> None:
            gen = imageio_ffmpeg.write_frames(
                str(p), frames.shape[2:0:-1], fps=fps, pix_fmt_out="yuv420p", macro_block_size=1
            )
            gen.send(None)
            for fr in frames:
                gen.send(np.ascontiguousarray(fr))
            gen.close()

    else:
        import av

        def write(p: Path) -> None:
            with av.open(str(p), "w", format="mp4") as box:
                stream = box.add_stream("libx264", rate=round(fps))
                stream.height, stream.width, stream.pix_fmt = *frames.shape[1:3], "yuv420p"
                for fr in frames:
                    box.mux(stream.encode(av.VideoFrame.from_ndarray(fr, format="rgb24")))
                box.mux(stream.encode())

    return _atomic(path, write)


def write_png(path: Path, image: np.ndarray) -> Path:
    from drrender.png import save_png

    return save_png(path, image)


def render_files(
    motions: Sequence,
    out: str | os.PathLike,
    renderer,
    *,
    scale: int = 1,
    fps: float | None = None,
) -> Path:
    """Render ``motions`` with ``renderer`` (a :class:`FixedRenderer` or :class:`ModelRenderer`) to ``out``:
    an animation (GIF/MP4, one row per motion) or a PNG contact sheet (one row per motion, frames across).
    ``fps`` defaults to the renderer's frames over the longest motion's duration (real time)."""
    out = check_output(out)
    clips = [_scale(renderer(m), scale) for m in motions]
    if out.suffix.lower() == ".png":
        return write_png(out, contact_sheet(clips))
    if fps is None:
        longest = max(float(getattr(m, "duration", 0.0) or 0.0) for m in motions)
        fps = renderer.frames / longest if longest > 0 else 8.0
    frames = stack_rows(clips)
    return (write_gif if out.suffix.lower() == ".gif" else write_mp4)(out, frames, fps)


__all__ = [
    "OUTPUT_TYPES",
    "FixedRenderer",
    "ModelRenderer",
    "RenderError",
    "check_output",
    "contact_sheet",
    "render_files",
    "stack_rows",
    "video_backend",
]
