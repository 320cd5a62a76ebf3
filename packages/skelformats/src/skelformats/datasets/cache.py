"""Parse a dataset's files once, in parallel, into numpy shards that later runs memory-map.

``parse_files(name, files, parse)`` runs ``parse(path) -> Motion | list[Motion]`` on every file
(serially for small sets, else over a process pool, with a tqdm progress bar) and returns a
:class:`MotionStore`.  With a cache directory the results go to raw float32 shard files of at most
64 MiB plus an index; the cache entry is keyed by the files' paths, sizes and modification times,
the package version, the cache format and the parse options, and is written into a temporary
directory renamed into place (atomic: a crash never leaves a half-written entry under its final
name).  A later run with the same key opens the index and maps the shards: nothing is parsed.

Reading an entry copies its slice out of the map, so motions never pin a shard; at most
``MAX_OPEN_SHARDS`` maps are open at once, which bounds the resident memory of a pass over the
whole set.  Cached motions keep coordinates, confidence, fps and layout; other reader metadata is
not cached (the dataset layer derives its metadata from file names and annotation files).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import warnings
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from .. import __version__
from ..motion import Motion

CACHE_FORMAT = 1
SHARD_BYTES = 64 << 20
MAX_OPEN_SHARDS = 4
PARALLEL_MIN_FILES = 256
CACHE_ENV = "SKELFORMATS_CACHE_DIR"

ParseFn = Callable[[Path], "Motion | list[Motion]"]


def default_cache_dir() -> Path:
    """``$SKELFORMATS_CACHE_DIR``, else ``$XDG_CACHE_HOME/skelformats/datasets`` (~/.cache)."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "skelformats" / "datasets"


def cache_key(name: str, files: Sequence[Path], options: object = None) -> str:
    """Hex digest over the package version, cache format, options and each file's path, size
    and modification time (ns): touching or replacing any file makes a new key."""
    h = hashlib.sha256()
    h.update(json.dumps([CACHE_FORMAT, __version__, name, repr(options)]).encode())
    for p in files:
        st = os.stat(p)
        h.update(f"{os.path.abspath(p)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:24]


# ----------------------------------------------------------------------------------- workers


def _parse_one(parse: ParseFn, path: Path):
    """-> ("ok", [(data, conf, fps, layout)], warnings) | ("err", message, warnings)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            out = parse(path)
        except Exception as e:  # reported per file by the caller; one bad file never stops a load
            return ("err", f"{type(e).__name__}: {e}", [str(w.message) for w in caught])
    items = out if isinstance(out, list) else [out]
    packed = [
        (
            np.ascontiguousarray(m.data, np.float32),
            None if m.confidence is None else np.ascontiguousarray(m.confidence, np.float32),
            float(m.fps),
            m.layout.name,
        )
        for m in items
    ]
    return ("ok", packed, [str(w.message) for w in caught])


def _parse_chunk(parse: ParseFn, paths: list[Path]) -> list:
    return [_parse_one(parse, p) for p in paths]


def _results(parse: ParseFn, files: Sequence[Path], workers: int | None, progress, desc: str):
    """Yield each file's result in order; a process pool when ``workers`` > 1."""
    n = len(files)
    if workers is None:
        workers = 1 if n < PARALLEL_MIN_FILES else (os.cpu_count() or 1)
    bar = _bar(n, desc, progress)
    try:
        if workers <= 1 or n <= 1:
            for p in files:
                yield _parse_one(parse, p)
                bar.update(1)
            return
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        chunk = int(min(256, max(1, n // (workers * 16))))
        chunks = [list(files[i : i + chunk]) for i in range(0, n, chunk)]
        # spawn: no fork of a parent that may hold threads (torch, tokenizers)
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            futures = [pool.submit(_parse_chunk, parse, c) for c in chunks[: workers * 2]]
            nxt = len(futures)
            i = 0
            # a bounded window of chunks in flight keeps parsed-but-unwritten data small
            while i < len(chunks):
                res = futures[i].result()
                futures[i] = None
                if nxt < len(chunks):
                    futures.append(pool.submit(_parse_chunk, parse, chunks[nxt]))
                    nxt += 1
                yield from res
                bar.update(len(res))
                i += 1
    finally:
        bar.close()


class _NoBar:
    def update(self, n):
        pass

    def close(self):
        pass


def _bar(total: int, desc: str, progress):
    if progress is False:
        return _NoBar()
    try:
        from tqdm import tqdm
    except ImportError:  # the progress bar is optional (the ``datasets`` extra brings tqdm)
        return _NoBar()
    return tqdm(total=total, desc=desc, unit="file", disable=None if progress is None else False)


# ----------------------------------------------------------------------------------- stores


class MotionStore:
    """Parsed motions of a file list: ``entries(file_index)`` -> entry ids, ``motion(entry)``.

    ``errors`` maps file index -> why the file could not be read; ``warnings`` maps file index ->
    the reader's warnings (first 1000 files with warnings)."""

    def __init__(self, sources: Sequence[Path | str], index: dict, layouts: list[str], path=None):
        self.sources = [str(s) for s in sources]
        self.path = None if path is None else Path(path)
        self._ix = index
        self.layouts = layouts
        self.errors: dict[int, str] = {}
        self.warnings: dict[int, list[str]] = {}
        self._by_file: dict[int, list[int]] | None = None
        self._maps: OrderedDict[int, np.ndarray] = OrderedDict()
        self._memory: list[np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self._ix["file_index"])

    def entries(self, file_index: int) -> list[int]:
        if self._by_file is None:
            by: dict[int, list[int]] = {}
            for e, f in enumerate(self._ix["file_index"].tolist()):
                by.setdefault(f, []).append(e)
            self._by_file = by
        return self._by_file.get(file_index, [])

    def nbytes(self) -> int:
        if self.path is None:
            return int(sum(a.nbytes for a in self._memory or []))
        return int(sum(p.stat().st_size for p in self.path.iterdir()))

    def _shard(self, k: int) -> np.ndarray:
        if self._memory is not None:
            return self._memory[k]
        m = self._maps.get(k)
        if m is None:
            m = np.memmap(self.path / f"shard-{k:05d}.f32", dtype=np.float32, mode="r")
            self._maps[k] = m
            while len(self._maps) > MAX_OPEN_SHARDS:
                self._maps.popitem(last=False)
        else:
            self._maps.move_to_end(k)
        return m

    def arrays(self, entry: int) -> tuple[np.ndarray, np.ndarray | None]:
        ix = self._ix
        shape = [int(v) for v in ix["shape"][entry]]
        shape = shape if shape[0] > 0 else shape[1:]
        n = int(np.prod(shape))
        sh = self._shard(int(ix["shard"][entry]))
        off = int(ix["offset"][entry])
        data = np.array(sh[off : off + n]).reshape(shape)
        coff = int(ix["conf_offset"][entry])
        conf = None
        if coff >= 0:
            nc = n // shape[-1]
            conf = np.array(sh[coff : coff + nc]).reshape(shape[:-1])
        return data, conf

    def motion(self, entry: int) -> Motion:
        data, conf = self.arrays(entry)
        f = int(self._ix["file_index"][entry])
        return Motion(
            data=data,
            layout=self.layouts[int(self._ix["layout"][entry])],
            fps=float(self._ix["fps"][entry]),
            confidence=conf,
            meta={"source": self.sources[f], "sequence": int(self._ix["sub"][entry])},
        )

    def __getstate__(self):
        d = dict(self.__dict__)
        d["_maps"] = OrderedDict()  # maps are reopened in the receiving process
        return d


class _Writer:
    """Appends parsed arrays to shard files (or to memory) and builds the index."""

    def __init__(self, directory: Path | None):
        self.dir = directory
        self.cols: dict[str, list] = {
            k: [] for k in ("file_index", "sub", "shard", "offset", "conf_offset", "fps", "layout")
        }
        self.shapes: list[list[int]] = []
        self.layouts: list[str] = []
        self.shard, self.pos = 0, 0
        self.memory: list[list[np.ndarray]] = [[]]
        self.fh = None if directory is None else open(directory / "shard-00000.f32", "wb")

    def _put(self, a: np.ndarray) -> int:
        if self.pos > 0 and (self.pos + a.size) * 4 > SHARD_BYTES:
            self.shard += 1
            self.pos = 0
            if self.fh is not None:
                self.fh.close()
                self.fh = open(self.dir / f"shard-{self.shard:05d}.f32", "wb")
            else:
                self.memory.append([])
        off = self.pos
        if self.fh is not None:
            a.tofile(self.fh)
        else:
            self.memory[-1].append(a.ravel())
        self.pos += a.size
        return off

    def add(self, file_index: int, items) -> None:
        for sub, (data, conf, fps, layout) in enumerate(items):
            if layout not in self.layouts:
                self.layouts.append(layout)
            off = self._put(data)
            coff = -1 if conf is None else self._put(conf)
            c = self.cols
            c["file_index"].append(file_index)
            c["sub"].append(sub)
            c["shard"].append(self.shard)
            c["offset"].append(off)
            c["conf_offset"].append(coff)
            c["fps"].append(fps)
            c["layout"].append(self.layouts.index(layout))
            s = list(data.shape)
            self.shapes.append(s if len(s) == 4 else [0, *s])

    def index(self) -> dict[str, np.ndarray]:
        dt = {"file_index": np.int32, "sub": np.int32, "shard": np.int32, "layout": np.int32}
        out = {k: np.asarray(v, dtype=dt.get(k, np.int64)) for k, v in self.cols.items()}
        out["fps"] = np.asarray(self.cols["fps"], np.float64)
        out["shape"] = np.asarray(self.shapes, np.int64).reshape(-1, 4)
        return out

    def close(self) -> None:
        if self.fh is not None:
            self.fh.close()
            self.fh = None

    def memory_shards(self) -> list[np.ndarray]:
        return [np.concatenate(p) if p else np.zeros(0, np.float32) for p in self.memory]


def _open(path: Path, sources: Sequence[Path]) -> MotionStore | None:
    try:
        info = json.loads((path / "info.json").read_text())
        with np.load(path / "index.npz", allow_pickle=False) as z:
            index = {k: z[k] for k in z.files}
    except (OSError, ValueError, KeyError):
        return None
    if info.get("format") != CACHE_FORMAT or info.get("files") != len(sources):
        return None
    st = MotionStore(sources, index, info["layouts"], path)
    st.errors = {int(k): v for k, v in info.get("errors", {}).items()}
    st.warnings = {int(k): v for k, v in info.get("warnings", {}).items()}
    return st


def parse_files(
    name: str,
    files: Sequence[Path],
    parse: ParseFn,
    *,
    cache: str | os.PathLike | bool | None = None,
    workers: int | None = None,
    progress: bool | None = None,
    options: object = None,
) -> MotionStore:
    """Parse ``files`` with ``parse`` (a picklable, module-level callable) and return the store.

    cache: None -> :func:`default_cache_dir`; a path -> that directory; False -> no disk cache
    (parsed arrays stay in memory).  workers: None -> one per CPU core for sets of at least
    ``PARALLEL_MIN_FILES`` files, else serial; 1 -> serial.  ``options``: anything else that
    changes what ``parse`` returns (part of the cache key)."""
    files = [Path(f) for f in files]
    desc = f"parsing {name}"
    if cache is False:
        w = _Writer(None)
        errors, warns = _fill(w, parse, files, workers, progress, desc)
        st = MotionStore(files, w.index(), w.layouts)
        st._memory = w.memory_shards()
        st.errors, st.warnings = errors, warns
        return st
    root = default_cache_dir() if cache is None or cache is True else Path(cache)
    key = cache_key(name, files, options)
    final = root / f"{name}-{key}"
    if final.is_dir():
        st = _open(final, files)
        if st is not None:
            return st
        shutil.rmtree(final, ignore_errors=True)  # unreadable leftover: rebuilt below
    try:
        root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}-{key}-", dir=root))
    except OSError as e:  # e.g. a read-only home: parse into memory rather than fail
        warnings.warn(
            f"dataset cache {root} is not writable ({e}); parsing without a cache "
            f"(set ${CACHE_ENV} or pass cache=DIR)",
            stacklevel=3,
        )
        return parse_files(
            name, files, parse, cache=False, workers=workers, progress=progress, options=options
        )
    try:
        w = _Writer(tmp)
        try:
            errors, warns = _fill(w, parse, files, workers, progress, desc)
        finally:
            w.close()
        np.savez(tmp / "index.npz", **w.index())
        info = {
            "format": CACHE_FORMAT,
            "version": __version__,
            "dataset": name,
            "files": len(files),
            "entries": len(w.shapes),
            "layouts": w.layouts,
            "options": repr(options),
            "errors": {str(k): v for k, v in errors.items()},
            "warnings": {str(k): v for k, v in warns.items()},
        }
        (tmp / "info.json").write_text(json.dumps(info))
        try:
            os.replace(tmp, final)
        except OSError:  # another process finished the same entry first: use theirs
            shutil.rmtree(tmp, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    st = _open(final, files)
    if st is None:
        raise OSError(f"{final}: cache entry unreadable right after writing it")
    return st


def _fill(w: _Writer, parse, files, workers, progress, desc):
    errors: dict[int, str] = {}
    warns: dict[int, list[str]] = {}
    for i, res in enumerate(_results(parse, files, workers, progress, desc)):
        if res[2] and len(warns) < 1000:
            warns[i] = res[2]
        if res[0] == "err":
            errors[i] = res[1]
        else:
            w.add(i, res[1])
    return errors, warns


__all__ = ["MotionStore", "parse_files", "cache_key", "default_cache_dir", "CACHE_ENV"]
