"""Backend selection: env var, explicit argument, automatic fallback to the torch path."""

from __future__ import annotations

import os
from pathlib import Path

import drrender
import pytest
import torch
from drr_helpers import LAYOUTS, motion
from drrender import _cpp, raster


@pytest.fixture
def broken_kernel(monkeypatch):
    """Pretend the C++ kernel failed to build in this process."""
    monkeypatch.setattr(_cpp, "_lib", None)
    monkeypatch.setattr(_cpp, "_error", "RuntimeError: no C++ compiler found")
    monkeypatch.setattr(raster, "_warned", False)


def test_auto_prefers_cpp_on_cpu(cpp_backend):
    assert drrender.resolve_backend("auto", torch.device("cpu")) == "cpp"
    assert drrender.resolve_backend(None, torch.device("meta")) == "torch"


def test_fallback_to_torch_when_kernel_unavailable(broken_kernel, monkeypatch):
    monkeypatch.delenv("DRRENDER_BACKEND", raising=False)
    joints = motion("j15", 3)
    _, edges = LAYOUTS["j15"]
    with pytest.warns(UserWarning, match="using the torch backend"):
        out = drrender.render(joints, edges, size=(24, 24))
    assert drrender.resolve_backend(None, torch.device("cpu")) == "torch"
    ref = drrender.reference.render(joints, edges, size=(24, 24))
    assert (out - ref).abs().max() < 2e-5
    with pytest.raises(RuntimeError, match="no C\\+\\+ compiler"):
        drrender.render(joints, edges, size=(24, 24), backend="cpp")


def test_env_var_forces_backend(monkeypatch):
    monkeypatch.setenv("DRRENDER_BACKEND", "torch")
    assert drrender.resolve_backend(None, torch.device("cpu")) == "torch"
    monkeypatch.setenv("DRRENDER_BACKEND", "reference")
    joints = motion("j15", 2)
    _, edges = LAYOUTS["j15"]
    out = drrender.render(joints, edges, size=(16, 16))
    assert torch.equal(out, drrender.reference.render(joints, edges, size=(16, 16)))
    monkeypatch.setenv("DRRENDER_BACKEND", "fastest")
    with pytest.raises(ValueError, match="DRRENDER_BACKEND"):
        drrender.render(joints, edges, size=(16, 16))


def test_kernel_is_cached_in_torch_extensions_dir(cpp_backend):
    from torch.utils.cpp_extension import get_default_build_root

    path = _cpp.library_path()
    root = os.environ.get("TORCH_EXTENSIONS_DIR") or get_default_build_root()
    assert path.exists() and path.parent.parent == Path(root)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("backend", ["auto", "torch"])
def test_cuda_matches_reference(backend):
    joints = motion("ntu25", 2)
    _, edges = LAYOUTS["ntu25"]
    out = drrender.render(joints.cuda(), edges, size=(32, 32), backend=backend)
    ref = drrender.reference.render(joints, edges, size=(32, 32))
    assert out.is_cuda and (out.cpu() - ref).abs().max() < 1e-4


_TEAM_SCRIPT = """
import os, sys, torch
torch.set_num_threads(2)
x = torch.rand(4_000_000)
(x * 2).sum()  # a parallel torch op: starts torch's intra-op (OpenMP) workers
torch_threads = set(os.listdir("/proc/self/task"))
from drrender import _cpp
lib = _cpp.load()
assert lib is not None, _cpp.error()
tids = torch.zeros(8, dtype=torch.int64)
lib.drr_team_tids(8, 2, tids.data_ptr())
used = {str(t) for t in tids.tolist()}
print(len(used), int(used <= torch_threads))
"""


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_kernel_runs_on_torchs_intra_op_threads(cpp_backend):
    """The kernel's frames run on threads torch started before the kernel was loaded: its own pool."""
    import subprocess
    import sys

    if not _cpp.uses_torch_threads():
        pytest.skip("kernel built without OpenMP: frames run on threads of its own")
    env = dict(os.environ, OMP_NUM_THREADS="2")
    out = subprocess.run(
        [sys.executable, "-c", _TEAM_SCRIPT], capture_output=True, text=True, env=env
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["2", "1"]  # two threads, both torch's


def test_openmp_runtimes_found_in_process_maps():
    maps = (
        "7f00-7f01 r-xp 00000000 08:01 1 /venv/torch/lib/libgomp.so.1\n"
        "7f01-7f02 r--p 00001000 08:01 1 /venv/torch/lib/libgomp.so.1\n"
        "7f02-7f03 rw-p 00000000 00:00 0 \n"
        "7f03-7f04 r-xp 00000000 08:01 2 /usr/lib/x86_64-linux-gnu/libgomp.so.1.0.0\n"
        "7f04-7f05 r-xp 00000000 08:01 3 /usr/lib/libstdc++.so.6\n"
    )
    assert _cpp.openmp_runtimes(maps) == {
        "/venv/torch/lib/libgomp.so.1",
        "/usr/lib/x86_64-linux-gnu/libgomp.so.1.0.0",
    }


def test_kernel_uses_its_own_threads_beside_a_second_openmp_runtime(cpp_backend, monkeypatch):
    """With two OpenMP runtimes in the process a team would be a second pool: plain threads instead."""
    if not _cpp.uses_torch_threads():
        pytest.skip("kernel built without OpenMP: frames run on threads of its own")
    lib = _cpp.load()
    joints = motion("j15", 4)
    _, edges = LAYOUTS["j15"]
    before = drrender.render(joints, edges, size=(24, 24), backend="cpp")
    try:
        lib.drr_set_openmp(0)
        assert not _cpp.uses_torch_threads()
        assert torch.equal(drrender.render(joints, edges, size=(24, 24), backend="cpp"), before)
    finally:
        lib.drr_set_openmp(1)
    assert _cpp.uses_torch_threads()


_SECOND_RUNTIME_SCRIPT = """
import ctypes, sys, torch
ctypes.CDLL(sys.argv[1])  # a second OpenMP runtime, loaded by path before the kernel
from drrender import _cpp
assert _cpp.load() is not None, _cpp.error()
print(len(_cpp.openmp_runtimes()), int(_cpp.uses_torch_threads()))
"""


def test_load_detects_a_second_openmp_runtime(cpp_backend):
    import glob
    import subprocess
    import sys

    torch_lib = Path(torch.__file__).parent / "lib"
    dirs = ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib"]
    other = [
        p
        for d in dirs
        for p in glob.glob(f"{d}/libgomp.so.1*")
        if Path(p).resolve() != (torch_lib / "libgomp.so.1").resolve()
    ]
    if not _cpp.uses_torch_threads() or not other or _cpp.openmp_runtimes() is None:
        pytest.skip(
            "needs an OpenMP kernel build, Linux /proc and a system libgomp besides torch's"
        )
    out = subprocess.run(
        [sys.executable, "-c", _SECOND_RUNTIME_SCRIPT, other[0]], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["2", "0"]  # two runtimes seen, team disabled
