"""Build-on-first-use of the C++ rasteriser kernel (``_kernels/raster.cpp``).

The kernel has a plain C ABI and includes no torch headers, so one ``c++ -O3`` call builds it in
about a second; it is loaded with ctypes. It is built with ``-fopenmp`` and so needs ``libgomp.so.1``,
which the dynamic loader resolves to the copy torch has already loaded: the kernel's parallel loop runs
on torch's own intra-op threads (the OpenMP pool) instead of on threads that would contend with them. A
compiler without OpenMP gets a build whose frames run on threads of the kernel's own. The shared object is cached in the torch extensions directory
(``$TORCH_EXTENSIONS_DIR`` or ``~/.cache/torch_extensions``) under a name keyed by the source hash, and is
written atomically so that concurrent processes never load a half-written file. Nothing is compiled at
install time; without a compiler :func:`load` returns None and the pure-torch path is used.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from importlib import resources
from pathlib import Path

_lock = threading.Lock()
_lib: ctypes.CDLL | None = None
_error: str | None = None


def _source() -> str:
    return resources.files("drrender").joinpath("_kernels/raster.cpp").read_text()


def _compiler() -> str | None:
    for cand in (os.environ.get("CXX"), "c++", "g++", "clang++"):
        if cand and shutil.which(cand):
            return cand
    return None


def build_dir() -> Path:
    env = os.environ.get("TORCH_EXTENSIONS_DIR")
    if env:
        return Path(env) / "drrender"
    try:
        from torch.utils.cpp_extension import get_default_build_root

        root = Path(get_default_build_root())
    except Exception:  # pragma: no cover - torch without cpp_extension
        root = Path(tempfile.gettempdir()) / "torch_extensions"
    return root / "drrender"


_FLAGS = [
    "-O3",
    "-std=c++17",
    "-fPIC",
    "-shared",
    "-fopenmp-simd",
    "-pthread",
    "-fno-math-errno",
    "-fno-trapping-math",
]
_NATIVE = ["-march=native"]
_OPENMP = ["-fopenmp"]
#: Tried in order; the first that compiles is kept.
_VARIANTS = (_OPENMP + _NATIVE, _OPENMP, _NATIVE, [])


def _cpu_fingerprint() -> str:
    """CPU feature flags: the library is built with -march=native, so the cache key must follow the CPU."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    return line
    except OSError:
        pass
    import platform

    return platform.machine() + platform.processor()


def library_path() -> Path:
    src = _source()
    ident = "\n".join(
        [
            src,
            sys.platform,
            _compiler() or "",
            " ".join(_FLAGS + _NATIVE + _OPENMP),
            _cpu_fingerprint(),
        ]
    )
    key = hashlib.sha256(ident.encode()).hexdigest()[:16]
    return build_dir() / f"drrender_raster_{key}.so"


def _build(path: Path) -> None:
    cxx = _compiler()
    if cxx is None:
        raise RuntimeError("no C++ compiler found (set CXX or install g++)")
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        src = Path(tmp) / "raster.cpp"
        src.write_text(_source())
        out = Path(tmp) / path.name
        for extra in _VARIANTS:  # a compiler without OpenMP or -march=native still gets a build
            cmd = [cxx, *_FLAGS, *extra, str(src), "-o", str(out)]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode == 0:
                break
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")
        os.replace(out, path)


def _declare(lib: ctypes.CDLL) -> None:
    i64, i32, dbl, ptr = ctypes.c_int64, ctypes.c_int, ctypes.c_double, ctypes.c_void_p
    for suffix in ("f32", "f64"):
        fwd = getattr(lib, f"drr_forward_{suffix}")
        fwd.argtypes = [ptr, ptr, ptr, i64, i64, i32, i32, dbl, dbl, i32, ptr]
        fwd.restype = None
        bwd = getattr(lib, f"drr_backward_{suffix}")
        bwd.argtypes = [ptr, ptr, ptr, ptr, ptr, i64, i64, i32, i32, dbl, dbl, i32, ptr, ptr, ptr]
        bwd.restype = None
    lib.drr_team_tids.argtypes = [i64, i32, ptr]
    lib.drr_team_tids.restype = None
    lib.drr_set_openmp.argtypes = [i32]
    lib.drr_set_openmp.restype = None


_OPENMP_RUNTIMES = ("libgomp", "libomp", "libiomp")


def openmp_runtimes(maps: str | None = None) -> set[str] | None:
    """Paths of the OpenMP runtimes mapped into this process (None where /proc/self/maps is missing)."""
    if maps is None:
        try:
            maps = Path("/proc/self/maps").read_text()
        except OSError:
            return None
    found = set()
    for line in maps.splitlines():
        parts = line.split(maxsplit=5)  # address, perms, offset, device, inode, path
        path = parts[5] if len(parts) == 6 else ""
        if os.path.basename(path).startswith(_OPENMP_RUNTIMES):
            found.add(path)
    return found


def load() -> ctypes.CDLL | None:
    """The compiled kernel library, building it if needed; None if that fails (see :func:`error`)."""
    global _lib, _error
    if _lib is not None or _error is not None:
        return _lib
    with _lock:
        if _lib is not None or _error is not None:
            return _lib
        try:
            path = library_path()
            if not path.exists():
                _build(path)
            lib = ctypes.CDLL(str(path))
            _declare(lib)
            if lib.drr_abi_version() != 3:
                raise RuntimeError(f"{path}: unexpected kernel ABI version")
            runtimes = openmp_runtimes()
            if runtimes is not None and len(runtimes) > 1:
                # The library's libgomp.so.1 is not torch's runtime (e.g. a torch build that renames
                # its copy): a team would be a second pool, so frames go to threads of the kernel's own.
                lib.drr_set_openmp(0)
            _lib = lib
        except Exception as exc:  # any failure means: use the torch fallback
            _error = f"{type(exc).__name__}: {exc}"
    return _lib


def uses_torch_threads() -> bool:
    """Whether the loaded kernel runs its frames on an OpenMP team, i.e. torch's intra-op pool."""
    lib = load()
    return bool(lib is not None and lib.drr_openmp())


def error() -> str | None:
    """Why the kernel could not be loaded (None if it loaded or was never tried)."""
    return _error
