"""Rendered frames as PNG data URLs for image-capable chat endpoints (drrender renders and encodes)."""

from __future__ import annotations

import base64

import numpy as np


def png_bytes(image) -> bytes:
    """Encode an RGB image, (3, H, W) or (H, W, 3), floats in [0, 1] or uint8, as an 8-bit PNG."""
    from drrender.png import encode_png

    return encode_png(image)


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
