"""Rendered frames as PNG data URLs for image-capable chat endpoints (stdlib only: zlib + struct)."""

from __future__ import annotations

import base64
import struct
import zlib

import numpy as np


def png_bytes(image) -> bytes:
    """Encode an RGB image, (3, H, W) or (H, W, 3), floats in [0, 1] or uint8, as an 8-bit PNG."""
    a = np.asarray(image.detach().cpu().numpy() if hasattr(image, "detach") else image)
    if a.ndim != 3:
        raise ValueError(f"expected an RGB image (3, H, W) or (H, W, 3), got shape {a.shape}")
    if a.shape[0] == 3 and a.shape[-1] != 3:
        a = np.moveaxis(a, 0, -1)
    if a.shape[-1] != 3:
        raise ValueError(f"expected 3 colour channels, got shape {a.shape}")
    if a.dtype != np.uint8:
        a = (np.clip(np.nan_to_num(a.astype(np.float64)), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    h, w, _ = a.shape
    # Filter type 0 (None) per scanline.
    raw = b"".join(b"\x00" + a[y].tobytes() for y in range(h))

    def chunk(tag: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + tag
            + body
            + struct.pack(">I", zlib.crc32(tag + body) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw, 6))
        + chunk(b"IEND", b"")
    )


def png_data_url(image) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes(image)).decode("ascii")


def render_frames(motion, frames: int = 4, size: tuple[int, int] = (128, 128)):
    """``frames`` evenly spaced rendered frames of ``motion``: a float tensor (frames, 3, H, W) in [0, 1]."""
    import torch
    from drrender import render
    from skelformats import normalize

    m = motion.person(0) if getattr(motion, "multi", False) else motion
    try:
        # Facing the camera at the start: the view a person would use to explain the movement.
        m = normalize(m, face=m.layout.dims == 3)
    except Exception:  # noqa: BLE001 - normalisation needs a root; render the raw coordinates otherwise
        pass
    T = m.num_frames
    idx = np.unique(np.linspace(0, T - 1, num=max(1, frames)).round().astype(int))
    joints = torch.as_tensor(np.asarray(m.data)[idx], dtype=torch.float32)
    edges = torch.tensor(np.array(m.layout.edges), dtype=torch.long)
    with torch.no_grad():
        out = render(joints, edges, size=tuple(size))
    return out.clamp(0, 1)
