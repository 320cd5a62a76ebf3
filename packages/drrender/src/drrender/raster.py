"""Fast soft rasterisation of capsules (bones) and discs (joints), with a recomputing backward.

A frame's primitives are packed as ``prims (N, P, 8)`` = ``(ax, ay, az, bx, by, bz, radius, opacity)`` in
pixels (a disc has ``a == b``) and ``colors (N, P, 3)``. Work is proportional to the pixels each primitive
covers: only the pixels inside its support are visited (C++: per-row spans of the capsule; torch: the
list of (primitive, pixel) pairs inside bounding boxes). :class:`Rasterize` is a custom autograd function
whose backward recomputes coverage from ``prims`` instead of keeping per-primitive images.

Backends: ``"cpp"`` (vectorised C++ kernel built on first use, on torch's CPU threads, CPU tensors),
``"triton"`` (Triton kernel, CUDA tensors; CPU tensors only in Triton's interpreter), ``"torch"``
(vectorised pure torch, any device) and ``"reference"`` (dense, :mod:`drrender.reference`). ``"auto"``
picks ``cpp`` for CPU tensors and ``triton`` for CUDA tensors when they are available, ``torch``
otherwise. The environment variable ``DRRENDER_BACKEND`` sets the default.
"""

from __future__ import annotations

import os
import warnings

import torch
from torch import Tensor

from . import _cpp, _triton
from ._constants import ALPHA_MAX, DEGENERATE_EPS2, DIST_EPS2, LOGIT_EPS, SUPPORT_EPS

BACKENDS = ("auto", "cpp", "triton", "torch", "reference")
_warned = False


def cpp_available() -> bool:
    """Whether the C++ kernel is (or can be) built and loaded in this process."""
    return _cpp.load() is not None


def resolve_backend(backend: str | None, device: torch.device) -> str:
    """Concrete backend name for ``backend`` (None: ``$DRRENDER_BACKEND`` or ``"auto"``)."""
    global _warned
    name = backend if backend is not None else os.environ.get("DRRENDER_BACKEND", "auto")
    name = name.strip().lower()
    if name not in BACKENDS:
        raise ValueError(
            f"drrender: unknown backend {name!r} (from {'argument' if backend else 'DRRENDER_BACKEND'}); "
            f"choose one of {BACKENDS}"
        )
    if name == "cpp":
        if device.type != "cpu":
            raise ValueError(
                f"drrender: the cpp backend renders CPU tensors only, got device {device}"
            )
        if not cpp_available():
            raise RuntimeError(
                f"drrender: cpp backend requested but the kernel could not be built: {_cpp.error()}"
            )
        return "cpp"
    if name == "triton":
        if not _triton.usable(device):
            raise RuntimeError(
                "drrender: the triton backend needs triton installed and CUDA tensors (CPU tensors "
                f"only with TRITON_INTERPRET=1); got device {device}, triton "
                f"{'installed' if _triton.installed() else 'not installed'}"
            )
        return "triton"
    if name == "auto":
        if device.type == "cuda" and _triton.usable(device):
            return "triton"
        if device.type == "cpu":
            if cpp_available():
                return "cpp"
            if not _warned:
                _warned = True
                warnings.warn(
                    f"drrender: C++ kernel unavailable, using the torch backend ({_cpp.error()})",
                    stacklevel=3,
                )
        return "torch"
    return name


# --------------------------------------------------------------------------------------------- torch path
def _pairs(prims: Tensor, H: int, W: int, s: float):
    """(primitive, pixel) pairs inside each primitive's support bounding box (integer index tensors)."""
    N, P, _ = prims.shape
    flat = prims.detach().reshape(N * P, 8)
    ax, ay, _, bx, by, _, r, _ = flat.unbind(-1)
    R = r - LOGIT_EPS / s
    ok = R > 0
    R = torch.where(ok, R, torch.zeros_like(R))

    def span(lo, hi, n):
        lo = torch.ceil((lo - 0.5).clamp(-1, n + 1)).long().clamp(0, n)
        hi = torch.floor((hi - 0.5).clamp(-2, n)).long().clamp(-1, n - 1)
        return lo, (hi - lo + 1).clamp_min(0)

    x0, nx = span(torch.minimum(ax, bx) - R, torch.maximum(ax, bx) + R, W)
    y0, ny = span(torch.minimum(ay, by) - R, torch.maximum(ay, by) + R, H)
    area = torch.where(ok, nx * ny, torch.zeros_like(nx))
    prim = torch.repeat_interleave(torch.arange(N * P, device=prims.device), area)
    start = torch.cumsum(area, 0) - area
    local = torch.arange(prim.numel(), device=prims.device) - start[prim]
    w = nx[prim]
    px = x0[prim] + local % w
    py = y0[prim] + local // w
    pix = (prim // P) * (H * W) + py * W + px
    return prim, px, py, pix


def _samples(prims: Tensor, colors: Tensor, H: int, W: int, s: float):
    """Per-pair geometry and coverage, restricted to pairs inside the support."""
    N, P, _ = prims.shape
    prim, px, py, pix = _pairs(prims, H, W, s)
    q = prims.reshape(N * P, 8)[prim]
    ax, ay, az, bx, by, bz, r, o = q.unbind(-1)
    pxf = px.to(prims.dtype) + 0.5
    pyf = py.to(prims.dtype) + 0.5
    dx, dy = bx - ax, by - ay
    dd = dx * dx + dy * dy
    seg = dd > DEGENERATE_EPS2
    wx, wy = pxf - ax, pyf - ay
    t = torch.where(
        seg, ((wx * dx + wy * dy) / torch.where(seg, dd, torch.ones_like(dd))).clamp(0, 1), 0.0
    )
    qx, qy = ax + t * dx, ay + t * dy
    d = torch.sqrt((pxf - qx) ** 2 + (pyf - qy) ** 2 + DIST_EPS2)
    sig = torch.sigmoid(s * (r - d))
    keep = sig > SUPPORT_EPS
    sm = dict(
        prim=prim,
        pix=pix,
        px=pxf,
        py=pyf,
        ax=ax,
        ay=ay,
        az=az,
        bx=bx,
        by=by,
        bz=bz,
        r=r,
        o=o,
        dx=dx,
        dy=dy,
        dd=dd,
        seg=seg,
        t=t,
        qx=qx,
        qy=qy,
        d=d,
        sig=sig,
    )
    sm = {key: v[keep] for key, v in sm.items()}
    sm["st"] = (sm["sig"] - SUPPORT_EPS) / (1 - SUPPORT_EPS)
    sm["alpha"] = ALPHA_MAX * sm["o"] * sm["st"]
    sm["z"] = sm["az"] + sm["t"] * (sm["bz"] - sm["az"])
    sm["color"] = colors.reshape(N * P, 3)[sm["prim"]]
    return sm


def _composite(sm, NHW: int, k: float, dtype, device):
    pix, alpha = sm["pix"], sm["alpha"]
    pos = alpha > 0
    logw = torch.where(
        pos, torch.log(torch.where(pos, alpha, torch.ones_like(alpha))) - k * sm["z"], -torch.inf
    )
    m = torch.full((NHW,), -torch.inf, dtype=dtype, device=device).scatter_reduce(
        0, pix, logw, "amax"
    )
    m = torch.where(torch.isfinite(m), m, torch.zeros_like(m))
    e = torch.exp(logw - m[pix])
    S = torch.zeros(NHW, dtype=dtype, device=device).index_add_(0, pix, e)
    C = torch.zeros(NHW, 3, dtype=dtype, device=device).index_add_(0, pix, e[:, None] * sm["color"])
    C = C / torch.where(S > 0, S, torch.ones_like(S))[:, None]
    logT = torch.zeros(NHW, dtype=dtype, device=device).index_add_(0, pix, torch.log1p(-alpha))
    return m, S, C, torch.exp(logT)


def _torch_forward(prims, colors, bg, H, W, s, g):
    N = prims.shape[0]
    sm = _samples(prims, colors, H, W, s)
    _, _, C, Tr = _composite(sm, N * H * W, s * g, prims.dtype, prims.device)
    out = (1 - Tr)[:, None] * C + Tr[:, None] * bg.repeat_interleave(H * W, 0)
    return out.reshape(N, H, W, 3).permute(0, 3, 1, 2).contiguous()


def _torch_backward(prims, colors, bg, grad_out, H, W, s, g):
    N, P, _ = prims.shape
    k = s * g
    sm = _samples(prims, colors, H, W, s)
    m, S, C, Tr = _composite(sm, N * H * W, k, prims.dtype, prims.device)
    G = grad_out.permute(0, 2, 3, 1).reshape(N * H * W, 3)
    gC = G * (1 - Tr)[:, None]
    gT = (G * (bg.repeat_interleave(H * W, 0) - C)).sum(-1)
    g_bg = (G * Tr[:, None]).reshape(N, H * W, 3).sum(1)
    Sg = (gC * C).sum(-1)
    invS = torch.where(S > 0, 1 / torch.where(S > 0, S, torch.ones_like(S)), torch.zeros_like(S))

    pix, prim, alpha, t = sm["pix"], sm["prim"], sm["alpha"], sm["t"]
    beta = torch.exp((-k * sm["z"] - m[pix]).clamp(max=80)) * invS[pix]
    w = alpha * beta
    dot = (gC[pix] * sm["color"]).sum(-1) - Sg[pix]
    g_col = torch.zeros(N * P, 3, dtype=prims.dtype, device=prims.device).index_add_(
        0, prim, gC[pix] * w[:, None]
    )
    ga = beta * dot - gT[pix] * Tr[pix] / (1 - alpha)
    gz = -k * w * dot
    g_o = ga * ALPHA_MAX * sm["st"]
    gu = ga * ALPHA_MAX * sm["o"] * sm["sig"] * (1 - sm["sig"]) / (1 - SUPPORT_EPS)
    g_r = s * gu
    gd = -s * gu / sm["d"]
    gqx, gqy = gd * (sm["qx"] - sm["px"]), gd * (sm["qy"] - sm["py"])
    interior = sm["seg"] & (t > 0) & (t < 1)
    gt = torch.where(
        interior,
        gz * (sm["bz"] - sm["az"]) / torch.where(sm["seg"], sm["dd"], torch.ones_like(t)),
        0.0,
    )
    wx, wy = sm["px"] - sm["ax"], sm["py"] - sm["ay"]
    dx, dy = sm["dx"], sm["dy"]
    g = torch.stack(
        [
            (1 - t) * gqx + gt * (-dx - wx + 2 * t * dx),
            (1 - t) * gqy + gt * (-dy - wy + 2 * t * dy),
            (1 - t) * gz,
            t * gqx + gt * (wx - 2 * t * dx),
            t * gqy + gt * (wy - 2 * t * dy),
            t * gz,
            g_r,
            g_o,
        ],
        -1,
    )
    g_prims = torch.zeros(N * P, 8, dtype=prims.dtype, device=prims.device).index_add_(0, prim, g)
    return g_prims.reshape(N, P, 8), g_col.reshape(N, P, 3), g_bg


# ----------------------------------------------------------------------------------------------- C++ path
def _ptr(t: Tensor) -> int:
    return t.data_ptr()


def _cpp_forward(prims, colors, bg, H, W, s, g):
    lib = _cpp.load()
    N, P, _ = prims.shape
    out = torch.empty(N, 3, H, W, dtype=prims.dtype)
    fn = lib.drr_forward_f64 if prims.dtype == torch.float64 else lib.drr_forward_f32
    fn(_ptr(prims), _ptr(colors), _ptr(bg), N, P, H, W, s, g, torch.get_num_threads(), _ptr(out))
    return out


def _cpp_backward(prims, colors, bg, grad_out, H, W, s, g):
    lib = _cpp.load()
    N, P, _ = prims.shape
    g_prims = torch.zeros_like(prims)
    g_col = torch.zeros_like(colors)
    g_bg = torch.zeros_like(bg)
    fn = lib.drr_backward_f64 if prims.dtype == torch.float64 else lib.drr_backward_f32
    grad_out = grad_out.to(prims.dtype)
    strides = torch.tensor(grad_out.stride(), dtype=torch.int64)
    fn(
        _ptr(prims),
        _ptr(colors),
        _ptr(bg),
        _ptr(grad_out),
        _ptr(strides),
        N,
        P,
        H,
        W,
        s,
        g,
        torch.get_num_threads(),
        _ptr(g_prims),
        _ptr(g_col),
        _ptr(g_bg),
    )
    return g_prims, g_col, g_bg


_IMPL = {
    "torch": (_torch_forward, _torch_backward),
    "cpp": (_cpp_forward, _cpp_backward),
    "triton": (_triton.forward, _triton.backward),
}


class Rasterize(torch.autograd.Function):
    """``(prims (N,P,8), colors (N,P,3), background (N,3)) -> image (N,3,H,W)``; backward recomputes."""

    @staticmethod
    def forward(ctx, prims, colors, background, H, W, sharpness, depth_gain, backend):
        prims, colors, background = (x.contiguous() for x in (prims, colors, background))
        ctx.save_for_backward(prims, colors, background)
        ctx.args = (H, W, sharpness, depth_gain, backend)
        with torch.no_grad():
            return _IMPL[backend][0](prims, colors, background, H, W, sharpness, depth_gain)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):
        prims, colors, background = ctx.saved_tensors
        H, W, s, g, backend = ctx.args
        # The kernels read any strides (a mean/sum loss gives an expanded scalar, not worth
        # materialising as a full image); the torch path wants a dense tensor.
        if backend == "torch":
            grad_out = grad_out.contiguous()
        g_prims, g_col, g_bg = _IMPL[backend][1](prims, colors, background, grad_out, H, W, s, g)
        return g_prims, g_col, g_bg, None, None, None, None, None


def rasterize(
    prims: Tensor,
    colors: Tensor,
    background: Tensor,
    size: tuple[int, int],
    *,
    sharpness: float,
    depth_gain: float,
    backend: str | None = None,
) -> Tensor:
    """Render packed primitives; see the module docstring. Returns ``(N, 3, H, W)``."""
    backend = resolve_backend(backend, prims.device)
    if backend == "reference":
        raise ValueError(
            "rasterize: the reference backend renders scenes, use drrender.reference.render"
        )
    dtype = torch.promote_types(torch.promote_types(prims.dtype, colors.dtype), background.dtype)
    if backend in ("cpp", "triton") and dtype not in (torch.float32, torch.float64):
        dtype = torch.float32
    prims, colors, background = prims.to(dtype), colors.to(dtype), background.to(dtype)
    H, W = size
    return Rasterize.apply(
        prims, colors, background, int(H), int(W), float(sharpness), float(depth_gain), backend
    )
