"""Run one input through ``skelformats.load`` and classify what happens.

Outcomes: ``accepted`` (motions returned), ``error`` (a SkelFormatError naming the file) or ``crash``
(any other exception, an error that does not name the file, more than ``MAX_PEAK`` bytes allocated
or more than ``MAX_SECONDS`` spent).  Used by the fuzz targets here and by the test suite.
"""

from __future__ import annotations

import time
import tracemalloc
import warnings
from dataclasses import dataclass
from pathlib import Path

import skelformats as sf
from seeds import TARGETS

MAX_PEAK = 256 << 20
MAX_SECONDS = 10.0


@dataclass
class Outcome:
    kind: str  # "accepted" | "error" | "crash"
    detail: str
    peak: int  # bytes allocated at the peak (tracemalloc), 0 when not measured
    seconds: float


def prepare(target: str, workdir: Path) -> Path:
    """Write the fixed files of ``target`` into ``workdir``; -> where the fuzzed bytes go."""
    name, beside = TARGETS[target]
    workdir.mkdir(parents=True, exist_ok=True)
    for fname, text in beside.items():
        (workdir / fname).write_text(text)
    return workdir / name


def run(path: Path, data: bytes, format: str | None = None, measure: bool = True) -> Outcome:
    """Write ``data`` to ``path`` and load it (as ``format``, or detected)."""
    path.write_bytes(data)
    if measure:
        tracemalloc.start()
        tracemalloc.reset_peak()
    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = sf.load(path, format=format)
        kind, detail = "accepted", f"{len(result) if isinstance(result, list) else 1} motion(s)"
    except sf.SkelFormatError as e:
        named = str(path) in str(e) or (e.path is not None and str(path) in e.path)
        kind = "error" if named else "crash"
        detail = f"{type(e).__name__}: {e}"[:300]
    except Exception as e:  # a foreign exception escaped: what the fuzzers look for
        kind, detail = "crash", f"{type(e).__name__}: {e}"[:300]
    seconds = time.perf_counter() - t0
    peak = 0
    if measure:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    if peak > MAX_PEAK:
        kind, detail = "crash", f"peak {peak / 2**20:.0f} MB > {MAX_PEAK >> 20} MB; " + detail
    if seconds > MAX_SECONDS:
        kind, detail = "crash", f"{seconds:.1f} s > {MAX_SECONDS} s; " + detail
    return Outcome(kind, detail, peak, seconds)
