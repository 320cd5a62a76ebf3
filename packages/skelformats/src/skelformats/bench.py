"""Load + convert throughput (frames/s) on real data, beside a per-frame pure-Python reference.

    python -m skelformats.bench --data-dir ../shared/data [--to ntu25] [--repeat 1]

For every NW-UCLA JSON and CMU BVH file: the library path is ``load`` + ``convert(to)`` (vectorised
parsing, forward kinematics and a sparse linear map); the reference parses, runs forward kinematics
and converts frame by frame, joint by joint, in plain Python.  Both run in the same process on the
same files; the reference's output is checked against the library's.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from .convert import DERIVATIONS, convert
from .errors import SkelFormatWarning
from .formats.bvh import guess_canonical
from .registry import get_layout, load


# ------------------------------------------------------------------------------------ pure-Python reference
# The reference shares no conversion or parsing code with the library: it reads the canonical names of
# the joints and the DERIVATIONS table (data), resolves each target joint by name, parses BVH text itself
# and runs forward kinematics joint by joint. Only BVH rig names -> canonical names (guess_canonical, a
# naming table) is shared; test_bench.py checks joints computed by hand against both.
def _recipes(src_canonical, dst_canonical):
    """Per target joint: [(source joint index, weight), ...], [] when the target cannot be obtained."""
    have: dict[str, dict[int, float]] = {}
    for i, name in enumerate(src_canonical):
        if name is not None and name not in have:
            have[name] = {i: 1.0}
    # DERIVATIONS as documented: passes over the table in order until nothing changes; a target takes its
    # first alternative whose sources are known, and is known from then on (it may feed later rules).
    grew = True
    while grew:
        grew = False
        for target, alternatives in DERIVATIONS.items():
            ready = [alt for alt in alternatives if target not in have and set(alt) <= set(have)]
            if ready:
                mix: dict[int, float] = {}
                for name, w in ready[0].items():
                    for i, v in have[name].items():
                        mix[i] = mix.get(i, 0.0) + w * v
                have[target] = mix
                grew = True
    return [sorted(have[c].items()) if c in have else [] for c in dst_canonical]


def _convert_frame(rows, frame):
    out = []
    for row in rows:
        x = y = z = 0.0
        for i, w in row:
            p = frame[i]
            x += w * p[0]
            y += w * p[1]
            z += w * p[2]
        out.append((x, y, z))
    return out


def reference_nwucla(path: Path, rows):
    doc = json.loads(path.read_text())
    return [_convert_frame(rows, frame) for frame in doc["skeletons"]]


def _matmul(a, b):
    return [
        [a[i][0] * b[0][k] + a[i][1] * b[1][k] + a[i][2] * b[2][k] for k in range(3)]
        for i in range(3)
    ]


def _axis(ax, deg):
    r = math.radians(deg)
    c, s = math.cos(r), math.sin(r)
    if ax == "X":
        return [[1, 0, 0], [0, c, -s], [0, s, c]]
    if ax == "Y":
        return [[c, 0, s], [0, 1, 0], [-s, 0, c]]
    return [[c, -s, 0], [s, c, 0], [0, 0, 1]]


def parse_bvh_minimal(text: str):
    """Joints as dicts (name, parent, offset, channels, end) in file order, and the MOTION lines."""
    head, motion = text.split("MOTION", 1)
    tokens = head.split()[1:]  # after HIERARCHY
    joints, stack, k = [], [], 0
    while k < len(tokens):
        t = tokens[k]
        if t in ("ROOT", "JOINT", "End"):
            joints.append(
                dict(
                    name=tokens[k + 1],
                    parent=stack[-1] if stack else -1,
                    offset=[0.0, 0.0, 0.0],
                    channels=[],
                    end=t == "End",
                )
            )
            k += 2
        elif t == "{":
            stack.append(len(joints) - 1)
            k += 1
        elif t == "}":
            stack.pop()
            k += 1
        elif t == "OFFSET":
            joints[stack[-1]]["offset"] = [float(v) for v in tokens[k + 1 : k + 4]]
            k += 4
        elif t == "CHANNELS":
            n = int(tokens[k + 1])
            joints[stack[-1]]["channels"] = tokens[k + 2 : k + 2 + n]
            k += 2 + n
        else:
            raise ValueError(f"unexpected BVH token {t!r}")
    lines = motion.strip().splitlines()
    frames = int(lines[0].split(":")[1])
    return joints, lines[2 : 2 + frames]


def reference_bvh(path: Path, dst):
    joints, lines = parse_bvh_minimal(path.read_text())
    keep = [j for j, joint in enumerate(joints) if not joint["end"]]
    rows = _recipes(guess_canonical([joints[j]["name"] for j in keep]), dst.canonical)
    out = []
    for line in lines:
        vals = [float(v) for v in line.split()]
        k = 0
        gpos, grot = [None] * len(joints), [None] * len(joints)
        for j, joint in enumerate(joints):
            t = list(joint["offset"])
            R = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
            for ch in joint["channels"]:
                v = vals[k]
                k += 1
                if ch.endswith("position"):
                    t["XYZ".index(ch[0])] += v
                else:
                    R = _matmul(R, _axis(ch[0], v))
            if joint["parent"] < 0:
                gpos[j], grot[j] = t, R
            else:
                P, pp = grot[joint["parent"]], gpos[joint["parent"]]
                gpos[j] = [
                    pp[i] + P[i][0] * t[0] + P[i][1] * t[1] + P[i][2] * t[2] for i in range(3)
                ]
                grot[j] = _matmul(P, R)
        out.append(_convert_frame(rows, [gpos[j] for j in keep]))
    return out


# ---------------------------------------------------------------------------------------------- runner
def _files(data_dir: Path):
    nw = sorted((data_dir / "NW-UCLA" / "all_sqe").glob("*.json"))
    bvh = sorted((data_dir / "CMU_mocap" / "bvh").glob("*.bvh"))
    return nw, bvh


def _time(fn, repeat):
    best = math.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def run(
    data_dir: Path, to: str = "ntu25", repeat: int = 1, limit: int | None = None, out=sys.stdout
) -> dict:
    nw, bvh = _files(data_dir)
    if limit is not None:
        nw, bvh = nw[:limit], bvh[:limit]
    if not nw and not bvh:
        raise SystemExit(f"no NW-UCLA or CMU BVH files under {data_dir}")
    dst = get_layout(to)
    results = {}

    def lib(files):
        frames, outs = 0, []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SkelFormatWarning)
            for f in files:
                m = convert(load(f), dst)
                frames += m.num_frames
                outs.append(m.data)
        return frames, outs

    def ref_nw(files):
        rows = _recipes(get_layout("kinect_v1_20").canonical, dst.canonical)
        return [reference_nwucla(f, rows) for f in files]

    for name, files, ref in (
        ("NW-UCLA json", nw, ref_nw),
        ("CMU bvh", bvh, lambda fs: [reference_bvh(f, dst) for f in fs]),
    ):
        if not files:
            continue
        t_lib, (frames, outs) = _time(lambda fs=files: lib(fs), repeat)
        t_ref, ref_out = _time(lambda fs=files, r=ref: r(fs), repeat)
        err = max(float(np.abs(np.asarray(r, np.float64) - o).max()) for r, o in zip(ref_out, outs))
        results[name] = dict(
            files=len(files),
            frames=frames,
            lib_s=t_lib,
            ref_s=t_ref,
            lib_fps=frames / t_lib,
            ref_fps=frames / t_ref,
            speedup=t_ref / t_lib,
            max_abs_diff=err,
        )
    print(f"load + convert to {to} (best of {repeat}; {os.cpu_count()} CPUs visible)", file=out)
    print(
        f"{'dataset':<14}{'files':>7}{'frames':>9}{'library fr/s':>15}{'reference fr/s':>17}{'ratio':>8}{'max |diff|':>12}",
        file=out,
    )
    for name, r in results.items():
        print(
            f"{name:<14}{r['files']:>7}{r['frames']:>9}{r['lib_fps']:>15,.0f}{r['ref_fps']:>17,.0f}"
            f"{r['speedup']:>7.1f}x{r['max_abs_diff']:>12.2e}",
            file=out,
        )
    return results


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m skelformats.bench", description=__doc__.split("\n\n")[0]
    )
    default = Path(os.environ.get("SKEL_DATA_DIR", "../shared/data"))
    p.add_argument(
        "--data-dir", type=Path, default=default, help=f"dataset root (default {default})"
    )
    p.add_argument("--to", default="ntu25", help="target layout (default ntu25)")
    p.add_argument("--repeat", type=int, default=1, help="runs per measurement; the best is kept")
    p.add_argument("--limit", type=int, default=None, help="only the first N files of each dataset")
    args = p.parse_args(argv)
    run(args.data_dir, args.to, args.repeat, args.limit)
    return 0


if __name__ == "__main__":
    sys.exit(main())
