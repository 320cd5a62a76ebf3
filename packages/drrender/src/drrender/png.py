"""Minimal PNG writer (zlib + struct only) so that renders can be inspected without PIL or matplotlib."""

from __future__ import annotations

import os
import struct
import tempfile
import zlib
from pathlib import Path

import numpy as np


def _chunk(tag: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + tag
        + data
        + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)
    )


def encode_png(image) -> bytes:
    """PNG bytes of an RGB image: ``(3, H, W)`` or ``(H, W, 3)`` float in [0, 1] (or uint8)."""
    arr = image.detach().cpu().numpy() if hasattr(image, "detach") else np.asarray(image)
    if arr.ndim != 3 or 3 not in (arr.shape[0], arr.shape[-1]):
        raise ValueError(
            f"encode_png: expected an RGB image (3, H, W) or (H, W, 3), got shape {arr.shape}"
        )
    if arr.shape[0] == 3 and arr.shape[-1] != 3:
        arr = arr.transpose(1, 2, 0)
    if arr.dtype != np.uint8:
        arr = (np.clip(np.nan_to_num(arr.astype(np.float64)), 0, 1) * 255 + 0.5).astype(np.uint8)
    H, W, _ = arr.shape
    raw = b"".join(b"\x00" + arr[i].tobytes() for i in range(H))
    header = struct.pack(">IIBBBBB", W, H, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(raw, 6))
        + _chunk(b"IEND", b"")
    )


def save_png(path, image) -> Path:
    """Write ``image`` (see :func:`encode_png`) to ``path`` atomically; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = encode_png(image)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
    return path


def grid(frames, *, cols: int | None = None, pad: int = 1):
    """Tile ``(F, 3, H, W)`` frames into one ``(3, H', W')`` numpy image for a quick look."""
    arr = frames.detach().cpu().numpy() if hasattr(frames, "detach") else np.asarray(frames)
    F, C, H, W = arr.shape
    cols = cols or int(np.ceil(np.sqrt(F)))
    rows = int(np.ceil(F / cols))
    out = np.ones((C, rows * (H + pad) - pad, cols * (W + pad) - pad), dtype=arr.dtype)
    for i in range(F):
        r, c = divmod(i, cols)
        out[:, r * (H + pad) : r * (H + pad) + H, c * (W + pad) : c * (W + pad) + W] = arr[i]
    return out
