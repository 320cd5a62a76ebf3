"""The ``triton`` backend: launches the kernels of :mod:`drrender._triton_kernels` on CUDA tensors.

Triton is optional. Its kernels are compiled for the GPU, or run on CPU tensors by Triton's interpreter
when ``TRITON_INTERPRET=1`` is set before triton is imported (how the tests check them without a GPU).
"""

from __future__ import annotations

import importlib.util
import os

import torch
from torch import Tensor

#: Tile of one program (pixels); the backward's per-primitive sums are over a tile.
BLOCK = (16, 16)


def installed() -> bool:
    """Whether triton can be imported."""
    try:
        return importlib.util.find_spec("triton") is not None
    except (ImportError, ValueError):
        return False


def interpreting() -> bool:
    """Whether the kernels run in Triton's interpreter (``TRITON_INTERPRET=1``), on CPU tensors."""
    return os.environ.get("TRITON_INTERPRET", "0").strip().lower() in ("1", "true", "on", "yes")


def _kernels():
    from . import _triton_kernels  # imports triton

    return _triton_kernels


def usable(device: torch.device) -> bool:
    """Whether the triton backend can render tensors on ``device``."""
    if not installed():
        return False
    return device.type == "cuda" or (device.type == "cpu" and interpreting())


def _launch_args(prims: Tensor, H: int, W: int, s: float, g: float):
    N, P, _ = prims.shape
    bh, bw = BLOCK
    tiles_w = -(-W // bw)
    grid = (N, -(-H // bh) * tiles_w)
    scal = torch.tensor([s, s * g], dtype=prims.dtype, device=prims.device)
    return grid, scal, P, tiles_w


def forward(
    prims: Tensor, colors: Tensor, bg: Tensor, H: int, W: int, s: float, g: float
) -> Tensor:
    N = prims.shape[0]
    out = torch.empty(N, 3, H, W, dtype=prims.dtype, device=prims.device)
    if N == 0 or H == 0 or W == 0 or prims.shape[1] == 0:
        return out.copy_(bg[:, :, None, None].expand_as(out))
    grid, scal, P, tiles_w = _launch_args(prims, H, W, s, g)
    _kernels().raster_forward[grid](
        prims, colors, bg, scal, out, P, H, W, tiles_w, BH=BLOCK[0], BW=BLOCK[1]
    )
    return out


def backward(prims, colors, bg, grad_out, H, W, s, g):
    g_prims = torch.zeros_like(prims)
    g_col = torch.zeros_like(colors)
    N = prims.shape[0]
    if N == 0 or H == 0 or W == 0 or prims.shape[1] == 0:
        return g_prims, g_col, grad_out.to(bg.dtype).sum((2, 3))
    g_bg = torch.zeros_like(bg)
    grid, scal, P, tiles_w = _launch_args(prims, H, W, s, g)
    grad_out = grad_out.to(prims.dtype)
    _kernels().raster_backward[grid](
        prims,
        colors,
        bg,
        scal,
        grad_out,
        *grad_out.stride(),
        g_prims,
        g_col,
        g_bg,
        P,
        H,
        W,
        tiles_w,
        BH=BLOCK[0],
        BW=BLOCK[1],
    )
    return g_prims, g_col, g_bg
