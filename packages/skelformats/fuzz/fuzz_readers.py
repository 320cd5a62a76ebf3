"""Fuzz one reader of ``skelformats.load``: ``python fuzz_readers.py TARGET [--seconds N] [libFuzzer args]``.

With atheris installed (``pip install atheris``) this is a coverage-guided libFuzzer run seeded from
``corpus/TARGET`` (new inputs go to a scratch directory, never into the committed corpus), with a
per-input timeout of 10 s and an RSS ceiling of the start-up size + 256 MB.  Without atheris, or with
``--plain``, a pure-Python mutation loop (byte flips, truncation, insertion, duplication, interesting
numbers) runs for the same time and measures every input's peak allocation with tracemalloc.

Every input is loaded twice, as the target's format and with the format detected.  A crash is any
exception other than a SkelFormatError naming the file, over 256 MB or over 10 s; the input is saved
as ``crash-*`` in the working directory.  At the end one line summarises: inputs tried, outcomes,
worst time and peak memory.  TARGET ``list`` prints the targets.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from harness import MAX_PEAK, MAX_SECONDS, prepare, run  # noqa: E402
from seeds import FORMATS, TARGETS  # noqa: E402

_INTERESTING = [
    b"0",
    b"-1",
    b"1e30",
    b"1e308",
    b"nan",
    b"inf",
    b"999999999",
    b"\xff\xff\xff\x7f",
    b"\x00\x00\x00\x80",
    b"\xff\xff\xff\xff",
    b"[" * 64,
    b"{",
    b"\x00" * 8,
]


class Stats:
    def __init__(self, target: str):
        self.target = target
        self.counts = {"accepted": 0, "error": 0, "crash": 0}
        self.inputs = 0
        self.worst_seconds = 0.0
        self.worst_peak = 0
        self.t0 = time.time()

    def add(self, outcome) -> None:
        self.counts[outcome.kind] += 1
        self.worst_seconds = max(self.worst_seconds, outcome.seconds)
        self.worst_peak = max(self.worst_peak, outcome.peak)

    def line(self, peak_note: str = "") -> str:
        c = self.counts
        return (
            f"{self.target}: {self.inputs} inputs in {time.time() - self.t0:.0f} s; "
            f"loads: {c['error']} clean errors, {c['accepted']} accepted, {c['crash']} crashes; "
            f"worst input {self.worst_seconds:.3f} s"
            + (f", peak {self.worst_peak / 2**20:.1f} MB" if self.worst_peak else "")
            + peak_note
        )


def _check(target: str, path: Path, data: bytes, stats: Stats, measure: bool) -> None:
    stats.inputs += 1
    for fmt in (FORMATS[target], None):
        o = run(path, data, fmt, measure=measure)
        stats.add(o)
        if o.kind == "crash":
            name = f"crash-{target}-{stats.inputs}"
            Path(name).write_bytes(data)
            raise RuntimeError(f"{target} (format {fmt or 'detected'}): {o.detail}; saved {name}")


def _seeds(target: str) -> list[bytes]:
    d = HERE / "corpus" / target
    return [p.read_bytes() for p in sorted(d.iterdir()) if p.is_file()] or [b""]


def mutate(data: bytes, rng: random.Random) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(6)
        i = rng.randrange(len(b) + 1)
        if op == 0 and b:  # flip bits
            b[min(i, len(b) - 1)] ^= 1 << rng.randrange(8)
        elif op == 1:  # truncate
            del b[i:]
        elif op == 2:  # insert random bytes
            b[i:i] = rng.randbytes(rng.randint(1, 8))
        elif op == 3:  # overwrite with an interesting value
            v = rng.choice(_INTERESTING)
            b[i : i + len(v)] = v
        elif op == 4 and b:  # duplicate a chunk
            j = rng.randrange(len(b))
            b[i:i] = b[j : j + rng.randint(1, 256)]
        elif op == 5 and b:  # delete a chunk
            del b[i : i + rng.randint(1, 64)]
    return bytes(b)


def plain(target: str, seconds: float, seed: int) -> int:
    rng = random.Random(seed)
    seeds = _seeds(target)
    stats = Stats(target)
    with tempfile.TemporaryDirectory() as d:
        path = prepare(target, Path(d))
        for s in seeds:
            _check(target, path, s, stats, measure=True)
        while time.time() - stats.t0 < seconds:
            _check(target, path, mutate(rng.choice(seeds), rng), stats, measure=True)
    print(stats.line(" (pure-Python mutation loop, tracemalloc)"))
    return 0


def atheris_run(target: str, seconds: float, extra: list[str]) -> None:
    import atheris

    with atheris.instrument_imports():
        import skelformats  # noqa: F401
        import skelformats.formats  # noqa: F401
        import skelformats.readers  # noqa: F401

    stats = Stats(target)
    # one scratch directory per target, emptied at the start (libFuzzer exits without atexit hooks)
    work = Path(tempfile.gettempdir()) / f"skelformats-fuzz-{target}"
    shutil.rmtree(work, ignore_errors=True)
    path = prepare(target, work / "in")
    scratch = work / "corpus"
    scratch.mkdir(parents=True)
    base_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024

    last = [time.time()]

    def report():
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
        print(stats.line(f", process RSS {base_mb} -> {peak} MB (atheris)"), flush=True)

    # libFuzzer ends the process without running atexit hooks: report as it goes
    def one(data: bytes) -> None:
        _check(target, path, data, stats, measure=False)
        if time.time() - last[0] > 5:
            last[0] = time.time()
            report()

    args = [
        sys.argv[0],
        str(scratch),
        str(HERE / "corpus" / target),
        f"-max_total_time={int(seconds)}",
        f"-timeout={int(MAX_SECONDS)}",
        f"-rss_limit_mb={base_mb + (MAX_PEAK >> 20)}",
        "-max_len=65536",
        *extra,
    ]
    atheris.Setup(args, one)
    atheris.Fuzz()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("target", help="a target name, or 'list'")
    ap.add_argument("--seconds", type=float, default=180.0)
    ap.add_argument("--plain", action="store_true", help="pure-Python loop even if atheris exists")
    ap.add_argument("--seed", type=int, default=0)
    args, extra = ap.parse_known_args(argv)
    if args.target == "list":
        print("\n".join(TARGETS))
        return 0
    if args.target not in TARGETS:
        ap.error(f"unknown target {args.target!r}; known: {', '.join(TARGETS)}")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        import atheris  # noqa: F401
    except ImportError:
        args.plain = True
    if args.plain:
        return plain(args.target, args.seconds, args.seed)
    atheris_run(args.target, args.seconds, extra)
    return 0


if __name__ == "__main__":
    sys.exit(main())
