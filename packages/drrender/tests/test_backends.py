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


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_uses_torch_backend():
    joints = motion("ntu25", 2)
    _, edges = LAYOUTS["ntu25"]
    out = drrender.render(joints.cuda(), edges, size=(32, 32))
    ref = drrender.reference.render(joints, edges, size=(32, 32))
    assert (out.cpu() - ref).abs().max() < 1e-4
