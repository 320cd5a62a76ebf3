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
