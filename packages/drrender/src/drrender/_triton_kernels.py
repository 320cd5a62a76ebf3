"""Triton kernels of the soft capsule rasteriser (imported only where triton is installed).

One program renders one tile of one frame: it walks over the frame's primitives, skips those whose
support misses the tile, and keeps the soft z-buffer's running maximum, normaliser, colour sums and
transmittance per pixel (the function of :mod:`drrender.reference`, as the other backends). The
backward program recomputes those per-pixel sums, then walks over the primitives again and adds each
one's gradient, summed over the tile, to its parameters with atomics. Arithmetic is in the dtype of
the inputs (float32 or float64); sharpness and depth weight come in a 2-element tensor of that dtype.
"""

from __future__ import annotations

import triton
import triton.language as tl

from . import _constants

# Globals a Triton kernel reads must be compile-time constants.
ALPHA_MAX = tl.constexpr(_constants.ALPHA_MAX)
DEGENERATE_EPS2 = tl.constexpr(_constants.DEGENERATE_EPS2)
DIST_EPS2 = tl.constexpr(_constants.DIST_EPS2)
LOGIT_EPS = tl.constexpr(_constants.LOGIT_EPS)
SUPPORT_EPS = tl.constexpr(_constants.SUPPORT_EPS)
_NONE = tl.constexpr(
    -1e30
)  # finite "no weight yet": the running-max update never computes inf - inf


@triton.jit
def _capsule(prims, q, s, H, W, y_lo, y_hi, x_lo, x_hi):
    """Loads primitive q; whether its support can reach pixel centres in [x_lo, x_hi] x [y_lo, y_hi]."""
    ax = tl.load(prims + q)
    ay = tl.load(prims + q + 1)
    az = tl.load(prims + q + 2)
    bx = tl.load(prims + q + 3)
    by = tl.load(prims + q + 4)
    bz = tl.load(prims + q + 5)
    r = tl.load(prims + q + 6)
    o = tl.load(prims + q + 7)
    R = r - LOGIT_EPS / s
    hit = (R > 0) & (tl.maximum(ax, bx) + R >= x_lo) & (tl.minimum(ax, bx) - R <= x_hi)
    hit = hit & (tl.maximum(ay, by) + R >= y_lo) & (tl.minimum(ay, by) - R <= y_hi)
    return ax, ay, az, bx, by, bz, r, o, hit


@triton.jit
def _sample(ax, ay, az, bx, by, bz, r, o, s, px, py, inside):
    """Per-pixel geometry and coverage of one capsule (alpha = 0 outside its support)."""
    dx = bx - ax
    dy = by - ay
    dd = dx * dx + dy * dy
    seg = dd > DEGENERATE_EPS2
    inv_dd = tl.where(seg, 1.0 / tl.where(seg, dd, 1.0), 0.0)
    wx = px - ax
    wy = py - ay
    t = tl.minimum(tl.maximum((wx * dx + wy * dy) * inv_dd, 0.0), 1.0)
    ex = wx - t * dx
    ey = wy - t * dy
    d = tl.sqrt(ex * ex + ey * ey + DIST_EPS2)
    sig = 1.0 / (1.0 + tl.exp(s * (d - r)))
    keep = (sig > SUPPORT_EPS) & inside
    st = (sig - SUPPORT_EPS) / (1.0 - SUPPORT_EPS)
    alpha = tl.where(keep, ALPHA_MAX * o * st, 0.0)
    z = az + t * (bz - az)
    return dx, dy, seg, inv_dd, wx, wy, t, ex, ey, d, sig, keep, st, alpha, z


@triton.jit
def _accumulate(prims, colors, P, n, s, k, H, W, ty, tx, BH: tl.constexpr, BW: tl.constexpr):
    """Soft z-buffer sums of frame n over one tile: (max log-weight, normaliser, colour sums, T)."""
    ys = ty * BH + tl.arange(0, BH)[:, None]
    xs = tx * BW + tl.arange(0, BW)[None, :]
    inside = (ys < H) & (xs < W)
    py = ys.to(s.dtype) + 0.5
    px = xs.to(s.dtype) + 0.5
    y_lo = (ty * BH).to(s.dtype) + 0.5
    x_lo = (tx * BW).to(s.dtype) + 0.5
    y_hi = y_lo + BH - 1
    x_hi = x_lo + BW - 1
    m = tl.full((BH, BW), _NONE, s.dtype)
    S = tl.zeros((BH, BW), s.dtype)
    C0 = tl.zeros((BH, BW), s.dtype)
    C1 = tl.zeros((BH, BW), s.dtype)
    C2 = tl.zeros((BH, BW), s.dtype)
    Tr = tl.full((BH, BW), 1.0, s.dtype)
    for p in range(P):
        q = (n * P + p) * 8
        ax, ay, az, bx, by, bz, r, o, hit = _capsule(prims, q, s, H, W, y_lo, y_hi, x_lo, x_hi)
        if hit:
            _, _, _, _, _, _, _, _, _, _, _, _, _, alpha, z = _sample(
                ax, ay, az, bx, by, bz, r, o, s, px, py, inside
            )
            on = alpha > 0
            L = tl.where(on, tl.log(tl.where(on, alpha, 1.0)) - k * z, _NONE)
            mn = tl.maximum(m, L)
            eo = tl.exp(m - mn)
            en = tl.where(on, tl.exp(L - mn), 0.0)
            c = (n * P + p) * 3
            S = S * eo + en
            C0 = C0 * eo + en * tl.load(colors + c)
            C1 = C1 * eo + en * tl.load(colors + c + 1)
            C2 = C2 * eo + en * tl.load(colors + c + 2)
            m = mn
            Tr = Tr * (1.0 - alpha)
    invS = tl.where(S > 0, 1.0 / tl.where(S > 0, S, 1.0), 0.0)
    return (
        ys,
        xs,
        inside,
        px,
        py,
        y_lo,
        y_hi,
        x_lo,
        x_hi,
        m,
        invS,
        C0 * invS,
        C1 * invS,
        C2 * invS,
        Tr,
    )


@triton.jit
def raster_forward(
    prims, colors, bg, scal, out, P, H, W, tiles_w, BH: tl.constexpr, BW: tl.constexpr
):
    n = tl.program_id(0).to(tl.int64)
    tile = tl.program_id(1)
    s = tl.load(scal)
    k = tl.load(scal + 1)
    ys, xs, inside, _, _, _, _, _, _, _, _, C0, C1, C2, Tr = _accumulate(
        prims, colors, P, n, s, k, H, W, tile // tiles_w, tile % tiles_w, BH, BW
    )
    HW = H * W
    o = out + n * 3 * HW + ys * W + xs
    tl.store(o, (1.0 - Tr) * C0 + Tr * tl.load(bg + n * 3), mask=inside)
    tl.store(o + HW, (1.0 - Tr) * C1 + Tr * tl.load(bg + n * 3 + 1), mask=inside)
    tl.store(o + 2 * HW, (1.0 - Tr) * C2 + Tr * tl.load(bg + n * 3 + 2), mask=inside)


@triton.jit
def raster_backward(
    prims,
    colors,
    bg,
    scal,
    grad,
    gs0,
    gs1,
    gs2,
    gs3,
    g_prims,
    g_colors,
    g_bg,
    P,
    H,
    W,
    tiles_w,
    BH: tl.constexpr,
    BW: tl.constexpr,
):
    n = tl.program_id(0).to(tl.int64)
    tile = tl.program_id(1)
    s = tl.load(scal)
    k = tl.load(scal + 1)
    ys, xs, inside, px, py, y_lo, y_hi, x_lo, x_hi, m, invS, C0, C1, C2, Tr = _accumulate(
        prims, colors, P, n, s, k, H, W, tile // tiles_w, tile % tiles_w, BH, BW
    )
    m = tl.where(invS > 0, m, 0.0)
    g = grad + n * gs0 + ys * gs2 + xs * gs3  # any strides (an expanded scalar gradient has zeros)
    G0 = tl.load(g, mask=inside, other=0.0).to(s.dtype)
    G1 = tl.load(g + gs1, mask=inside, other=0.0).to(s.dtype)
    G2 = tl.load(g + 2 * gs1, mask=inside, other=0.0).to(s.dtype)
    gC0 = G0 * (1.0 - Tr)
    gC1 = G1 * (1.0 - Tr)
    gC2 = G2 * (1.0 - Tr)
    b0 = tl.load(bg + n * 3)
    b1 = tl.load(bg + n * 3 + 1)
    b2 = tl.load(bg + n * 3 + 2)
    gT = G0 * (b0 - C0) + G1 * (b1 - C1) + G2 * (b2 - C2)
    Sg = gC0 * C0 + gC1 * C1 + gC2 * C2
    tl.atomic_add(g_bg + n * 3, tl.sum(G0 * Tr))
    tl.atomic_add(g_bg + n * 3 + 1, tl.sum(G1 * Tr))
    tl.atomic_add(g_bg + n * 3 + 2, tl.sum(G2 * Tr))
    for p in range(P):
        q = (n * P + p) * 8
        ax, ay, az, bx, by, bz, r, o, hit = _capsule(prims, q, s, H, W, y_lo, y_hi, x_lo, x_hi)
        if hit:
            dx, dy, _, inv_dd, wx, wy, t, ex, ey, d, sig, keep, st, alpha, z = _sample(
                ax, ay, az, bx, by, bz, r, o, s, px, py, inside
            )
            c = (n * P + p) * 3
            c0 = tl.load(colors + c)
            c1 = tl.load(colors + c + 1)
            c2 = tl.load(colors + c + 2)
            # d(colour)/d(weight) and d(image)/d(alpha) of this primitive at each pixel
            beta = tl.where(keep, tl.exp(tl.minimum(-k * z - m, 80.0)) * invS, 0.0)
            w = alpha * beta
            dot = gC0 * c0 + gC1 * c1 + gC2 * c2 - Sg
            ga = tl.where(keep, beta * dot - gT * Tr / (1.0 - alpha), 0.0)
            gz = -k * w * dot
            gu = ga * ALPHA_MAX * o * sig * (1.0 - sig) / (1.0 - SUPPORT_EPS)
            gd = -s * gu / d
            gqx = -gd * ex
            gqy = -gd * ey
            # t moves the sample only strictly inside a segment (inv_dd = 0 for a disc)
            gt = tl.where((t > 0) & (t < 1), gz * (bz - az) * inv_dd, 0.0)
            tl.atomic_add(g_prims + q, tl.sum((1 - t) * gqx + gt * (-dx - wx + 2 * t * dx)))
            tl.atomic_add(g_prims + q + 1, tl.sum((1 - t) * gqy + gt * (-dy - wy + 2 * t * dy)))
            tl.atomic_add(g_prims + q + 2, tl.sum((1 - t) * gz))
            tl.atomic_add(g_prims + q + 3, tl.sum(t * gqx + gt * (wx - 2 * t * dx)))
            tl.atomic_add(g_prims + q + 4, tl.sum(t * gqy + gt * (wy - 2 * t * dy)))
            tl.atomic_add(g_prims + q + 5, tl.sum(t * gz))
            tl.atomic_add(g_prims + q + 6, tl.sum(s * gu))
            tl.atomic_add(g_prims + q + 7, tl.sum(ga * ALPHA_MAX * st))
            tl.atomic_add(g_colors + c, tl.sum(gC0 * w))
            tl.atomic_add(g_colors + c + 1, tl.sum(gC1 * w))
            tl.atomic_add(g_colors + c + 2, tl.sum(gC2 * w))
