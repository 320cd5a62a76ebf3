"""Benchmark: ``python -m drrender.bench [--quick]``.

Renders the same skeleton frames (a 25-joint body walking, turning and waving, fitted to fill the frame;
batch 8 x 32 frames) at 112x112 and 224x224 on a fixed number of CPU threads (2) with:

* drrender.render, fast path (``auto`` backend: the C++ kernel when it builds; the pure-torch backend is
  measured too);
* (a) drrender.reference.render: dense, differentiable (called in chunks of frames to bound its memory);
* (b) matplotlib at its fastest: one reused figure/axes, one LineCollection whose segments and colours are
  updated per frame, ``canvas.draw()`` into an RGB array (skipped if matplotlib is missing);
* (c) PoseC3D-style Gaussian limb heatmaps in numpy: per limb a 3-sigma box around the segment,
  ``exp(-d^2 / 2 sigma^2)`` of the distance to the segment, per-pixel max; one channel per limb.

It prints frames/s forward and forward+backward (the differentiable ones; loss = mean of the images,
gradient w.r.t. the joints), peak memory, and the ratios. Peak memory is the growth of the process's
resident set size during the call: freed heap memory is first returned to the OS (``malloc_trim``), the
kernel's high-water mark (``VmHWM`` in ``/proc/self/status``) is reset through ``/proc/self/clear_refs``,
and the resident size before the call is subtracted from the high-water mark after it. It counts every
allocation (torch, numpy, matplotlib, the C++ kernel's buffers) including the returned images. Timings are the best of several runs after a warm-up run, taken round-robin over the methods so that all
see the same machine load. It runs in the environment it is given, like a user's process; ``--passive``
restarts it with ``OMP_WAIT_POLICY=PASSIVE`` (torch's OpenMP workers sleep instead of busy-waiting after
each parallel op) for comparison.

``--gpu`` instead renders on CUDA at 224x224 (batch 8 x 32) and reports frames/s of the Triton kernel
against the torch backend on the same frames in the same run.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

from . import __version__
from .camera import fit_camera
from .reference import render as reference_render
from .render import render
from .scene import default_bone_width, palette

# NTU RGB+D / Kinect v2 layout (25 joints).
NTU25_EDGES = [
    [0, 1],
    [1, 20],
    [20, 2],
    [2, 3],
    [20, 4],
    [4, 5],
    [5, 6],
    [6, 7],
    [7, 21],
    [7, 22],
    [20, 8],
    [8, 9],
    [9, 10],
    [10, 11],
    [11, 23],
    [11, 24],
    [0, 12],
    [12, 13],
    [13, 14],
    [14, 15],
    [0, 16],
    [16, 17],
    [17, 18],
    [18, 19],
]
_REST = np.array(
    [
        [0, 1.0, 0],
        [0, 1.2, 0],
        [0, 1.5, 0],
        [0, 1.65, 0.02],
        [0.18, 1.45, 0],
        [0.22, 1.18, -0.02],
        [0.24, 0.95, 0.02],
        [0.245, 0.88, 0.03],
        [-0.18, 1.45, 0],
        [-0.22, 1.18, -0.02],
        [-0.24, 0.95, 0.02],
        [-0.245, 0.88, 0.03],
        [0.1, 0.95, 0],
        [0.11, 0.52, 0.03],
        [0.12, 0.1, 0],
        [0.12, 0.03, 0.12],
        [-0.1, 0.95, 0],
        [-0.11, 0.52, 0.03],
        [-0.12, 0.1, 0],
        [-0.12, 0.03, 0.12],
        [0, 1.4, 0],
        [0.25, 0.8, 0.04],
        [0.22, 0.86, 0.07],
        [-0.25, 0.8, 0.04],
        [-0.22, 0.86, 0.07],
    ],
    dtype=np.float64,
)
_LEFT_ARM, _RIGHT_ARM = [5, 6, 7, 21, 22], [9, 10, 11, 23, 24]
_LEFT_LEG, _RIGHT_LEG = [13, 14, 15], [17, 18, 19]


def _rot(axis: str, angle: np.ndarray) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    o, z = np.ones_like(c), np.zeros_like(c)
    if axis == "x":
        m = [[o, z, z], [z, c, -s], [z, s, c]]
    elif axis == "y":
        m = [[c, z, s], [z, o, z], [-s, z, c]]
    else:
        m = [[c, -s, z], [s, c, z], [z, z, o]]
    return np.moveaxis(np.array(m), (0, 1), (-2, -1))


def skeleton_motion(batch: int = 8, frames: int = 32, seed: int = 0) -> np.ndarray:
    """``(batch, frames, 25, 3)`` float32: walking with swinging limbs, a raised waving arm, turning."""
    rng = np.random.default_rng(seed)
    out = np.empty((batch, frames, 25, 3))
    for b in range(batch):
        t = np.arange(frames) / 30.0
        freq = rng.uniform(0.8, 1.4)
        ph = 2 * np.pi * freq * t + rng.uniform(0, 2 * np.pi)
        pose = np.repeat(_REST[None], frames, 0)
        for leg, sign in ((_LEFT_LEG, 1), (_RIGHT_LEG, -1)):  # hip flexion about x at the hip
            hip = pose[:, leg[0] - 1][:, None]
            r = _rot("x", -0.5 * sign * np.sin(ph))
            pose[:, leg] = np.einsum("tij,tkj->tki", r, pose[:, leg] - hip) + hip
        shoulder = pose[:, 4][:, None]  # left arm swings
        r = _rot("x", 0.6 * np.sin(ph))
        pose[:, _LEFT_ARM] = np.einsum("tij,tkj->tki", r, pose[:, _LEFT_ARM] - shoulder) + shoulder
        shoulder = pose[:, 8][:, None]  # right arm raised and waving
        r = _rot("z", -2.3 + 0.4 * np.sin(3 * ph))
        pose[:, _RIGHT_ARM] = (
            np.einsum("tij,tkj->tki", r, pose[:, _RIGHT_ARM] - shoulder) + shoulder
        )
        yaw = rng.uniform(-0.6, 0.6) + 0.8 * t  # turning
        pose = np.einsum("tij,tkj->tki", _rot("y", yaw), pose)
        pose[..., 0] += 0.3 * np.sin(0.5 * ph)[:, None]
        pose[..., 2] += 0.6 * t[:, None]
        out[b] = pose + rng.normal(0, 0.004, pose.shape)
    return out.astype(np.float32)


# ------------------------------------------------------------------------------------------ measurement
def _status_kb(key: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _trim_heap() -> None:
    """Return freed heap pages to the OS so that reuse of earlier allocations does not hide a peak."""
    gc.collect()
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def _reset_peak() -> bool:
    _trim_heap()
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_memory(fn) -> float | None:
    """Peak resident-set growth in MB during ``fn()`` (None where /proc cannot be used)."""
    can = _reset_peak()
    before = _status_kb("VmRSS")
    fn()
    hwm = _status_kb("VmHWM")
    return max(hwm - before, 0) / 1024 if can and before is not None and hwm is not None else None


def time_cases(cases: list[dict], repeats: int) -> None:
    """Best wall time of each case's ``fn``, stored as ``case["time"]``.

    The cases are timed round-robin (case 1, case 2, ..., case 1, ...) so that they all sample the same
    machine load; each gets a warm-up call first unless ``warm`` is False.
    """
    for c in cases:
        if c.get("warm", True):
            c["fn"]()
        c["time"] = math.inf
    for r in range(repeats):
        for c in cases:
            if r < c.get("repeats", repeats):
                t0 = time.perf_counter()
                c["fn"]()
                c["time"] = min(c["time"], time.perf_counter() - t0)


# --------------------------------------------------------------------------------------------- baselines
class MatplotlibRenderer:
    """(b): one figure, one LineCollection updated per frame, Agg canvas -> RGB array."""

    def __init__(self, size, width_px, colors):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.collections import LineCollection
        from matplotlib.figure import Figure

        H, W = size
        dpi = 100
        self.fig = Figure(figsize=(W / dpi, H / dpi), dpi=dpi, facecolor="black")
        self.canvas = FigureCanvasAgg(self.fig)
        ax = self.fig.add_axes((0, 0, 1, 1))
        ax.set_xlim(0, W)
        ax.set_ylim(H, 0)
        ax.set_axis_off()
        ax.set_facecolor("black")
        self.lines = LineCollection([], linewidths=width_px * 72 / dpi, capstyle="round")
        ax.add_collection(self.lines)
        self.colors = colors
        self.size = size

    def __call__(self, segments: np.ndarray, out: np.ndarray) -> None:
        """segments ``(N, E, 2, 2)`` pixels -> out ``(N, H, W, 3)`` uint8."""
        for n in range(segments.shape[0]):
            self.lines.set_segments(segments[n])
            self.lines.set_color(self.colors)
            self.canvas.draw()
            out[n] = np.asarray(self.canvas.buffer_rgba())[..., :3]


def limb_heatmaps(segments: np.ndarray, size, sigma: float, out: np.ndarray) -> None:
    """(c): segments ``(N, E, 2, 2)`` -> out ``(N, E, H, W)`` float32 Gaussian limb heatmaps."""
    H, W = size
    out[...] = 0
    for n in range(segments.shape[0]):
        for e in range(segments.shape[1]):
            a, b = segments[n, e]
            x0 = max(int(min(a[0], b[0]) - 3 * sigma), 0)
            x1 = min(int(max(a[0], b[0]) + 3 * sigma) + 1, W)
            y0 = max(int(min(a[1], b[1]) - 3 * sigma), 0)
            y1 = min(int(max(a[1], b[1]) + 3 * sigma) + 1, H)
            if x0 >= x1 or y0 >= y1:
                continue
            xs = np.arange(x0, x1, dtype=np.float32)[None, :] + 0.5
            ys = np.arange(y0, y1, dtype=np.float32)[:, None] + 0.5
            d = b - a
            len2 = float(d @ d)
            if len2 < 1e-6:
                d2 = (xs - a[0]) ** 2 + (ys - a[1]) ** 2
            else:
                t = np.clip(((xs - a[0]) * d[0] + (ys - a[1]) * d[1]) / len2, 0, 1)
                d2 = (xs - a[0] - t * d[0]) ** 2 + (ys - a[1] - t * d[1]) ** 2
            patch = np.exp(-d2 / (2 * sigma**2))
            np.maximum(out[n, e, y0:y1, x0:x1], patch, out=out[n, e, y0:y1, x0:x1])


# ----------------------------------------------------------------------------------------------- driver
def run(sizes=(112, 224), batch=8, frames=32, threads=2, repeats=3, quick=False, log=print) -> dict:
    torch.set_num_threads(threads)
    joints = torch.from_numpy(skeleton_motion(batch, frames))
    edges = torch.tensor(NTU25_EDGES)
    from . import raster

    fast_backend = raster.resolve_backend(None, torch.device("cpu"))
    results = {
        "version": __version__,
        "threads": threads,
        "batch": batch,
        "frames": frames,
        "fast_backend": fast_backend,
        "repeats": repeats,
        "sizes": {},
    }
    try:
        import matplotlib  # noqa: F401

        have_mpl = True
    except ImportError:
        have_mpl = False
        log("matplotlib is not installed: baseline (b) skipped (pip install 'drrender[bench]')")
    log(
        f"drrender {__version__} benchmark: {batch} x {frames} frames of a 25-joint skeleton, {threads} threads, "
        f"fast backend = {fast_backend}; best of {repeats} round-robin runs after a warm-up; "
        f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}"
    )
    log(
        "peak memory = growth of resident set size during one call (malloc_trim, then VmHWM reset via "
        "/proc/self/clear_refs), outputs included"
    )
    for S in sizes:
        row = _run_size(S, joints, edges, batch, frames, repeats, quick, have_mpl, fast_backend)
        results["sizes"][S] = row
        _report(S, row, log)
    results["draction_train_step_ms"] = _draction_step_ms(repeats)
    log(
        f"\nDrAction training step (B=2, T=32, J=25, F=8, 112x112, 1 view; forward + backward + Adam): "
        f"{results['draction_train_step_ms']:.1f} ms"
    )
    return results


def _run_size(
    S, joints, edges, batch, frames, repeats, quick, have_mpl, fast_backend
) -> dict[str, dict]:
    """Times and measures every method at S x S; returns {method: figures}."""
    N, E = batch * frames, len(NTU25_EDGES)
    flat = joints.reshape(N, 25, 3)
    size = (S, S)
    cam = fit_camera(joints, size)  # one camera per sequence, shared by every method
    cams = _per_frame_camera(cam, batch, frames)
    uv, _ = cam.project(joints, size)
    segs = uv[..., edges, :].reshape(N, E, 2, 2).numpy().astype(np.float32)
    width = default_bone_width(size)

    def diff_fns(fn, n, chunk, **kw):
        # Each frame is a T = 1 sequence rendered through its own sequence's camera.
        def call(lo, hi, grad):
            j = flat[lo:hi].clone().requires_grad_(grad)
            return fn(j[:, None], edges, size=size, camera=_take_camera(cams, lo, hi - lo), **kw)

        def fwd():
            with torch.no_grad():
                for lo in range(0, n, chunk):
                    call(lo, min(lo + chunk, n), False)

        def fwd_bwd():
            for lo in range(0, n, chunk):
                call(lo, min(lo + chunk, n), True).mean().backward()

        return fwd, fwd_bwd

    cases = []

    def add_diff(name, fn, n, chunk, reps=repeats, warm=True, **kw):
        f, fb = diff_fns(fn, n, chunk, **kw)
        cases.append(
            dict(name=name, key="fwd_fps", fn=f, frames=n, repeats=reps, warm=warm, chunk=chunk)
        )
        cases.append(
            dict(
                name=name,
                key="fwd_bwd_fps",
                fn=fb,
                frames=n,
                repeats=reps,
                warm=warm,
                chunk=chunk,
            )
        )

    add_diff("drrender (fast)", render, N, N)
    if fast_backend != "torch":
        add_diff("drrender (torch backend)", render, min(N, 64), 64, backend="torch")
    # The dense reference costs the same per frame whatever the batch: it is timed on a prefix of the
    # frames, in chunks that keep its (chunk, E + J, H, W) intermediates near 20 MB each.
    ref_n = min(N, 32 if S <= 112 else 8)
    ref_chunk = max(1, int(5e6 // ((E + 25) * S * S)))
    add_diff(
        "(a) reference (dense)",
        reference_render,
        ref_n,
        ref_chunk,
        reps=1 if quick else 2,
        warm=False,
    )
    if have_mpl:
        mpl = MatplotlibRenderer(size, width, palette(E).numpy())
        buf = np.zeros((N, S, S, 3), np.uint8)
        cases.append(
            dict(
                name="(b) matplotlib LineCollection",
                key="fwd_fps",
                fn=lambda: mpl(segs, buf),
                frames=N,
            )
        )
    hm = np.zeros((N, E, S, S), np.float32)
    cases.append(
        dict(
            name="(c) numpy limb heatmaps",
            key="fwd_fps",
            fn=lambda: limb_heatmaps(segs, size, width / 2, hm),
            frames=N,
        )
    )
    time_cases(cases, repeats)
    row: dict[str, dict] = {}
    for c in cases:
        r = row.setdefault(c["name"], {"frames_timed": c["frames"]})
        if "chunk" in c:
            r["chunk"] = c["chunk"]
        r[c["key"]] = c["frames"] / c["time"]
        r[c["key"].replace("fps", "peak_mb")] = peak_memory(c["fn"])
    return row


def _draction_step_ms(repeats: int) -> float:
    from .action import DrAction

    torch.manual_seed(0)
    model = DrAction(frames=8, size=(112, 112))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    joints = torch.from_numpy(skeleton_motion(2, 32, seed=1)).requires_grad_()
    edges = torch.tensor(NTU25_EDGES)

    def step():
        loss = model(joints, edges).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()

    step()
    best = math.inf
    for _ in range(max(repeats, 3)):
        t0 = time.perf_counter()
        step()
        best = min(best, time.perf_counter() - t0)
    return best * 1e3


def run_gpu(size=224, batch=8, frames=32, repeats=5, log=print) -> dict:
    """CUDA: frames/s of the triton backend against the torch backend, same frames, same run."""
    from . import _triton

    if not torch.cuda.is_available():
        log("no CUDA device: the GPU benchmark (triton vs torch backend) needs one")
        return {}
    if not _triton.installed():
        log("triton is not installed: the GPU benchmark compares its kernel with the torch backend")
        return {}
    dev = torch.device("cuda")
    joints = torch.from_numpy(skeleton_motion(batch, frames)).to(dev)
    edges = torch.tensor(NTU25_EDGES, device=dev)
    S = (size, size)
    cam = fit_camera(joints, S)
    N = batch * frames
    log(
        f"drrender {__version__} GPU benchmark ({torch.cuda.get_device_name(dev)}): {batch} x {frames} "
        f"frames of a 25-joint skeleton at {size}x{size}, float32, best of {repeats} after a warm-up"
    )

    def case(backend, grad):
        def fn():
            j = joints.clone().requires_grad_(grad)
            with torch.set_grad_enabled(grad):
                out = render(j, edges, size=S, camera=cam, backend=backend)
                if grad:
                    out.mean().backward()
            torch.cuda.synchronize()

        return fn

    cases = [
        dict(name=b, key=k, fn=case(b, k == "fwd_bwd_fps"), frames=N)
        for b in ("triton", "torch")
        for k in ("fwd_fps", "fwd_bwd_fps")
    ]
    time_cases(cases, repeats)
    res: dict[str, dict] = {}
    for c in cases:
        res.setdefault(c["name"], {})[c["key"]] = c["frames"] / c["time"]
    for name, r in res.items():
        log(
            f"  {name:8s} forward {r['fwd_fps']:10.1f} frames/s   forward+backward {r['fwd_bwd_fps']:10.1f}"
        )
    for key in ("fwd_fps", "fwd_bwd_fps"):
        ratio = res["triton"][key] / res["torch"][key]
        log(
            f"  triton / torch {key:12s}: {ratio:6.1f}x  (target >= 10x: {'met' if ratio >= 10 else 'NOT met'})"
        )
    return {
        "device": torch.cuda.get_device_name(dev),
        "size": size,
        "batch": batch,
        "frames": frames,
        **res,
    }


def _per_frame_camera(cam, batch, frames):
    from .camera import Camera

    def rep(x):
        return (
            None
            if x is None
            else x[:, None]
            .expand(batch, frames, *x.shape[1:])
            .reshape(batch * frames, *x.shape[1:])
        )

    return Camera(
        rep(cam.rotation),
        rep(cam.translation),
        rep(cam.focal),
        rep(cam.center),
        cam.kind,
        rep(cam.depth_scale),
    )


def _take_camera(cam, i, n):
    from .camera import Camera

    def sl(x):
        return None if x is None else x[i : i + n]

    return Camera(
        sl(cam.rotation),
        sl(cam.translation),
        sl(cam.focal),
        sl(cam.center),
        cam.kind,
        sl(cam.depth_scale),
    )


def _fmt(x, spec):
    return "-" if x is None else format(x, spec)


def _report(S, row, log):
    log(f"\n{S}x{S}")
    log(
        f"  {'method':34s} {'fwd fps':>10s} {'fwd+bwd fps':>12s} {'peak MB fwd':>12s} {'peak MB f+b':>12s} "
        f"{'MB/frame f+b':>13s}"
    )
    for name, r in row.items():
        mb = r.get("fwd_bwd_peak_mb")
        # Memory peaks once per call, so it is shared by the frames of one call (a chunk).
        per = (
            None
            if mb is None or "fwd_bwd_fps" not in r
            else mb / min(r["chunk"], r["frames_timed"])
        )
        chunks = f", chunks of {r['chunk']}" if "chunk" in r else ""
        log(
            f"  {name:34s} {_fmt(r['fwd_fps'], '10.1f')} {_fmt(r.get('fwd_bwd_fps'), '12.1f')} "
            f"{_fmt(r.get('fwd_peak_mb'), '12.1f')} {_fmt(mb, '12.1f')} {_fmt(per, '13.3f')}   "
            f"[{r['frames_timed']} frames{chunks}]"
        )
    fast = row["drrender (fast)"]
    log("  ratios (drrender fast path / baseline):")
    for name, r in row.items():
        if name.startswith("drrender"):
            continue
        line = f"    vs {name:32s} forward {fast['fwd_fps'] / r['fwd_fps']:8.1f}x"
        if r.get("fwd_bwd_fps"):
            line += f"   forward+backward {fast['fwd_bwd_fps'] / r['fwd_bwd_fps']:8.1f}x"
        log(line)
    if S == 112:
        targets = [
            ("(b) matplotlib LineCollection", "fwd_fps", 2.0),
            ("(c) numpy limb heatmaps", "fwd_fps", 4.0),
            ("(a) reference (dense)", "fwd_fps", 20.0),
            ("(a) reference (dense)", "fwd_bwd_fps", 100.0),
        ]
        log("  targets at 112x112:")
        for name, key, target in targets:
            if name not in row:
                log(f"    {name}: not measured")
                continue
            ratio = fast[key] / row[name][key]
            log(
                f"    {key:12s} >= {target:4.0f}x {name:32s}: {ratio:7.1f}x  {'met' if ratio >= target else 'NOT met'}"
            )
        mb = fast.get("fwd_bwd_peak_mb")
        if mb is not None:
            per = mb / fast["frames_timed"]
            log(
                f"    peak memory fwd+bwd <= 0.5 MB/frame: {per:.3f} MB/frame  {'met' if per <= 0.5 else 'NOT met'}"
            )


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m drrender.bench", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("--quick", action="store_true", help="short run: 2 x 16 frames, 1 repetition")
    p.add_argument("--sizes", type=int, nargs="+", default=[112, 224], help="square image sizes")
    p.add_argument("--batch", type=int, default=None, help="sequences (default 8, quick 2)")
    p.add_argument(
        "--frames", type=int, default=None, help="frames per sequence (default 32, quick 16)"
    )
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    p.add_argument(
        "--repeats", type=int, default=None, help="timed runs per case, best is kept (default 5)"
    )
    p.add_argument(
        "--json", type=Path, default=None, help="also write the results to this JSON file"
    )
    p.add_argument(
        "--passive",
        action="store_true",
        help="re-run with OMP_WAIT_POLICY=PASSIVE (torch's OpenMP workers sleep instead of spinning)",
    )
    p.add_argument(
        "--gpu",
        action="store_true",
        help="CUDA: Triton kernel vs torch backend at 224x224 (default sizes), batch 8 x 32",
    )
    p.add_argument("--version", action="version", version=f"drrender {__version__}")
    args = p.parse_args(argv)
    if args.passive and os.environ.get("OMP_WAIT_POLICY", "").upper() != "PASSIVE":
        # The policy is read when the OpenMP runtime starts (already done: torch is imported), so the
        # benchmark restarts itself with it.
        env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")
        argv = sys.argv[1:] if argv is None else list(argv)
        os.execve(sys.executable, [sys.executable, "-m", "drrender.bench", *argv], env)
    batch = args.batch or (2 if args.quick else 8)
    frames = args.frames or (16 if args.quick else 32)
    repeats = args.repeats or (1 if args.quick else 5)
    if args.gpu:
        size = args.sizes[0] if args.sizes != p.get_default("sizes") else 224
        res = run_gpu(size, batch, frames, repeats)
    else:
        res = run(tuple(args.sizes), batch, frames, args.threads, repeats, args.quick)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.json.with_suffix(".tmp")
        tmp.write_text(json.dumps(res, indent=2))
        os.replace(tmp, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
