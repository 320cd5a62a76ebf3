"""Benchmark of the dataset layer on a generated NTU RGB+D 60-scale folder.

    python -m skelformats.datasets.bench            # 56,880 files, as NTU-60
    python -m skelformats.datasets.bench --n 5000   # a smaller run (figures also scaled to 56,880)

Writes ``--n`` ``.skeleton`` files with the NTU writer (names ``SsssCcccPpppRrrrAaaa`` over the
NTU-60 setups, cameras, performers and actions; two bodies for the mutual actions; lengths drawn
around NTU's typical 40-150 frames), then measures in the same run:

- first load, serial (``workers=1``, no cache) against the process pool (``--workers``, writing
  the cache): sequences per second and the speed-up;
- cached reload: opening the cache (index + maps), and reading every motion back out of it,
  against parsing the files serially;
- peak resident memory of a training pass in a fresh process (the ``xsub`` train split from the
  cache, each motion cropped/padded to 64 frames and 2 bodies, batches of 64), and of the first load
  (parent and pool workers);
- cache and source sizes on disk.

``--memory-at-scale`` measures only the peak memory of a training pass over an ``--n``-entry cache
whose arrays have NTU's sizes but are generated instead of parsed (so NTU-60 scale takes a minute).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

NTU60_FILES = 56_880


def _names(n: int, seed: int = 0) -> list[str]:
    from .ntu import ntu_name

    combos = list(
        itertools.product(range(1, 18), range(1, 4), range(1, 41), range(1, 3), range(1, 61))
    )
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(combos), size=min(n, len(combos)), replace=False)
    return sorted(ntu_name(*combos[i]) for i in pick)


def generate(root: Path, n: int, seed: int = 0, progress: bool = True) -> float:
    """Write ``n`` NTU files under ``root``; returns seconds."""
    from .. import Motion, save, synth
    from .ntu import MUTUAL, parse_name

    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    actions = sorted(synth.ACTIONS)
    bases = [synth.generate(actions[k % len(actions)], layout="ntu25", seed=k) for k in range(48)]
    t0 = time.perf_counter()
    for i, name in enumerate(_names(n, seed)):
        b = bases[i % len(bases)]
        T = int(np.clip(rng.normal(85, 30), 40, 150))
        idx = np.linspace(0, b.num_frames - 1, T).round().astype(int)
        data = b.data[idx] + rng.normal(0, 0.005, (T, 25, 3)).astype(np.float32)
        if parse_name(name)["action"] in MUTUAL:
            data = np.stack([data, data + np.float32([0.8, 0, 0.2])])
        save(Motion(data, "ntu25", 30.0), root / f"{name}.skeleton")
        if progress and (i + 1) % 1000 == 0:
            print(f"  wrote {i + 1}/{n}", file=sys.stderr, flush=True)
    return time.perf_counter() - t0


def _du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _rss_mb(who=resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024.0  # Linux: kB


def training_pass(root: str, cache: str, frames: int = 64, batch: int = 64) -> dict:
    """One pass over the xsub train split from the cache, batching fixed-size arrays."""
    from . import load

    t0 = time.perf_counter()
    ds = load("ntu60", root, cache=cache, progress=False)
    train = ds.split("xsub", "train")
    n, buf = 0, np.zeros((batch, 2, frames, 25, 3), np.float32)
    checksum = 0.0
    for i, ex in enumerate(train):
        m = ex.motion
        d = m.data if m.multi else m.data[None]
        T = min(frames, d.shape[1])
        buf[i % batch] = 0
        buf[i % batch, : d.shape[0], :T] = d[:2, :T]
        if i % batch == batch - 1:
            checksum += float(buf.sum())
        n += 1
    return {
        "examples": n,
        "seconds": time.perf_counter() - t0,
        "peak_rss_mb": _rss_mb(),
        "checksum": checksum,
    }


def synthetic_parse(path: Path):
    """Stand-in for parsing at full scale: the arrays an NTU file of this name would give (1 or 2
    bodies, 40-150 frames from the name's hash), without reading the file."""
    import zlib

    from .. import Motion
    from .ntu import MUTUAL, parse_name

    name = Path(path).name
    h = zlib.crc32(name.encode())
    T = 40 + h % 111
    shape = (2, T, 25, 3) if parse_name(name)["action"] in MUTUAL else (T, 25, 3)
    rng = np.random.default_rng(h)
    return Motion(rng.normal(size=shape).astype(np.float32), "ntu25", 30.0)


def store_pass(files_dir: str, cache: str, frames: int = 64, batch: int = 64) -> dict:
    """A training pass over a whole cached store (every entry), batching fixed-size arrays."""
    from .cache import parse_files

    files = sorted(Path(files_dir).glob("*.skeleton"))
    t0 = time.perf_counter()
    store = parse_files("ntu60-scale", files, synthetic_parse, cache=cache, progress=False)
    buf = np.zeros((batch, 2, frames, 25, 3), np.float32)
    for i in range(len(store)):
        d, _ = store.arrays(i)
        d = d if d.ndim == 4 else d[None]
        T = min(frames, d.shape[1])
        buf[i % batch] = 0
        buf[i % batch, : d.shape[0], :T] = d[:2, :T]
    return {"entries": len(store), "seconds": time.perf_counter() - t0, "peak_rss_mb": _rss_mb()}


def run_memory_at_scale(n: int, out: Path | None, keep: bool) -> dict:
    """Peak memory of a training pass over an NTU-60-scale cache (``n`` entries of realistic
    size), the cache written from :func:`synthetic_parse` (text parsing is what ``run`` times)."""
    from .cache import parse_files

    tmp = Path(out) if out else Path(tempfile.mkdtemp(prefix="skel-dsmem-"))
    files_dir, cache = tmp / "names", tmp / "cache"
    try:
        files_dir.mkdir(parents=True, exist_ok=True)
        for name in _names(n):
            (files_dir / f"{name}.skeleton").touch()
        files = sorted(files_dir.glob("*.skeleton"))
        t0 = time.perf_counter()
        parse_files("ntu60-scale", files, synthetic_parse, cache=cache, workers=1, progress=False)
        res = {"entries": n, "cache_write_s": time.perf_counter() - t0}
        res["cache_mb"] = _du(cache) / 2**20
        res["writer_peak_rss_mb"] = _rss_mb()
        code = (
            "import json; from skelformats.datasets.bench import store_pass; "
            f"print(json.dumps(store_pass({str(files_dir)!r}, {str(cache)!r})))"
        )
        p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        res["training_pass"] = json.loads(p.stdout.strip().splitlines()[-1])
        return res
    finally:
        if not keep and out is None:
            shutil.rmtree(tmp, ignore_errors=True)


def run(n: int, workers: int, out: Path | None, keep: bool) -> dict:
    from . import load

    tmp = Path(out) if out else Path(tempfile.mkdtemp(prefix="skel-dsbench-"))
    root, cache = tmp / "skeletons", tmp / "cache"
    res: dict = {"n_files": n, "workers": workers, "cpus": os.cpu_count()}
    try:
        if not root.is_dir() or sum(1 for _ in root.glob("*.skeleton")) != n:
            shutil.rmtree(root, ignore_errors=True)
            res["write_s"] = generate(root, n)
        res["source_mb"] = _du(root) / 2**20
        shutil.rmtree(cache, ignore_errors=True)

        res["load_average_start"] = os.getloadavg()
        t0, c0 = time.perf_counter(), time.process_time()
        ds_serial = load("ntu60", root, cache=False, workers=1, progress=False)
        res["serial_s"] = time.perf_counter() - t0
        res["serial_cpu_s"] = time.process_time() - c0
        n_seq = len(ds_serial.examples)
        del ds_serial

        t0, c0 = time.perf_counter(), time.process_time()
        ch0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        ds = load("ntu60", root, cache=cache, workers=workers)
        res["pool_s"] = time.perf_counter() - t0
        ch1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        res["pool_parent_cpu_s"] = time.process_time() - c0
        res["pool_workers_cpu_s"] = (ch1.ru_utime + ch1.ru_stime) - (ch0.ru_utime + ch0.ru_stime)
        # what the pool would reach with its cores to itself: the busiest side's CPU time
        res["pool_speedup_if_idle"] = res["serial_cpu_s"] / max(
            res["pool_workers_cpu_s"] / workers, res["pool_parent_cpu_s"]
        )
        res["load_average_end"] = os.getloadavg()
        # process peak so far: the uncached serial load, which holds every array in memory
        res["process_peak_rss_mb"] = _rss_mb()
        res["sequences"] = n_seq
        res["serial_seq_per_s"] = n_seq / res["serial_s"]
        res["pool_seq_per_s"] = n_seq / res["pool_s"]
        res["pool_speedup"] = res["serial_s"] / res["pool_s"]
        res["cache_mb"] = _du(cache) / 2**20
        del ds

        t0, c0 = time.perf_counter(), time.process_time()
        ds = load("ntu60", root, cache=cache)
        res["reload_open_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        total = 0
        for ex in ds.examples:
            total += ex.motion.data.size
        res["reload_read_all_s"] = time.perf_counter() - t0
        res["reload_total_s"] = res["reload_open_s"] + res["reload_read_all_s"]
        res["reload_speedup_vs_serial_parse"] = res["serial_s"] / res["reload_total_s"]
        res["reload_cpu_s"] = time.process_time() - c0
        res["reload_speedup_cpu"] = res["serial_cpu_s"] / res["reload_cpu_s"]
        res["sizes"] = ds.sizes()["xsub"]

        code = (
            "import json, sys; from skelformats.datasets.bench import training_pass; "
            f"print(json.dumps(training_pass({str(root)!r}, {str(cache)!r})))"
        )
        p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        res["training_pass"] = json.loads(p.stdout.strip().splitlines()[-1])
        if n != NTU60_FILES:
            f = NTU60_FILES / n
            res["extrapolated_to_56880"] = {
                "serial_s": res["serial_s"] * f,
                "pool_s": res["pool_s"] * f,
                "reload_total_s": res["reload_total_s"] * f,
                "cache_mb": res["cache_mb"] * f,
                "note": "linear in the number of files; peak memory is bounded by the shard "
                "maps and one batch, not by the set size",
            }
    finally:
        if not keep and out is None:
            shutil.rmtree(tmp, ignore_errors=True)
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m skelformats.datasets.bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--n", type=int, default=NTU60_FILES, help="number of .skeleton files")
    ap.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="processes of the parsing pool"
    )
    ap.add_argument("--out", default=None, help="folder to write into (kept; reused if complete)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON only")
    ap.add_argument(
        "--memory-at-scale",
        action="store_true",
        help="only the peak memory of a training pass over an --n entry cache of realistic size "
        "(arrays generated, not parsed)",
    )
    a = ap.parse_args(argv)
    if a.memory_at_scale:
        res = run_memory_at_scale(a.n, Path(a.out) if a.out else None, a.keep)
        tp = res["training_pass"]
        print(
            f"{res['entries']} entries, cache {res['cache_mb']:.0f} MB written in "
            f"{res['cache_write_s']:.0f} s (writer peak RSS {res['writer_peak_rss_mb']:.0f} MB); "
            f"training pass over every entry: {tp['seconds']:.1f} s, peak RSS "
            f"{tp['peak_rss_mb']:.0f} MB (target < 2048 MB)"
        )
        return 0
    res = run(a.n, a.workers, Path(a.out) if a.out else None, a.keep)
    if a.json:
        print(json.dumps(res, indent=1))
        return 0
    tp = res["training_pass"]
    print(
        f"NTU-60-format folder: {res['n_files']} files ({res['source_mb']:.0f} MB), "
        f"{res['cpus']} CPUs, {res['workers']} workers"
    )
    print(
        f"first load, serial:       {res['serial_s']:8.1f} s  {res['serial_seq_per_s']:7.1f} seq/s"
    )
    print(
        f"first load, process pool: {res['pool_s']:8.1f} s  {res['pool_seq_per_s']:7.1f} seq/s "
        f"({res['pool_speedup']:.2f}x serial; target >= 1.8x)"
    )
    print(
        f"  CPU: serial {res['serial_cpu_s']:.1f} s; pool workers {res['pool_workers_cpu_s']:.1f} s, "
        f"parent {res['pool_parent_cpu_s']:.1f} s -> {res['pool_speedup_if_idle']:.2f}x with idle "
        f"cores; load average {res['load_average_start'][0]:.1f} -> {res['load_average_end'][0]:.1f}"
    )
    print(
        f"cached reload: open {res['reload_open_s']:.3f} s + read every motion "
        f"{res['reload_read_all_s']:.2f} s = {res['reload_total_s']:.2f} s "
        f"({res['reload_speedup_vs_serial_parse']:.0f}x faster than parsing; target >= 50x; "
        f"CPU time {res['reload_cpu_s']:.2f} s, {res['reload_speedup_cpu']:.0f}x)"
    )
    print(
        f"peak RSS: training pass {tp['peak_rss_mb']:.0f} MB over {tp['examples']} examples "
        f"(target < 2048 MB); this process {res['process_peak_rss_mb']:.0f} MB "
        f"(the uncached serial load holds every array)"
    )
    print(f"cache on disk: {res['cache_mb']:.0f} MB; xsub split sizes {res['sizes']}")
    if "extrapolated_to_56880" in res:
        e = res["extrapolated_to_56880"]
        print(
            f"extrapolated to 56,880 files: serial {e['serial_s']:.0f} s, pool {e['pool_s']:.0f} s, "
            f"cached reload {e['reload_total_s']:.1f} s, cache {e['cache_mb']:.0f} MB"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
