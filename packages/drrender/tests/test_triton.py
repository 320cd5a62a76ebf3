"""The triton backend against the reference: on a GPU where there is one, else in Triton's interpreter.

The interpreter runs the same kernels on CPU tensors (slowly, one program at a time), so these scenes
are tiny; several frames and tiles still check the per-frame and per-tile indexing.
"""

from __future__ import annotations

import os
import sys

import drrender
import pytest
import torch
from drr_helpers import LAYOUTS, motion
from drrender import _triton, reference
from test_render import SIMPLE_EDGES, _gradcheck_fn, _gradcheck_inputs

if not torch.cuda.is_available():
    # Triton reads the mode when it is imported (its own jit'd library functions are defined then).
    if "triton" in sys.modules and not _triton.interpreting():
        pytest.skip(
            "triton was imported before TRITON_INTERPRET=1 could be set; run this file on its own",
            allow_module_level=True,
        )
    os.environ["TRITON_INTERPRET"] = "1"
pytest.importorskip("triton", reason="triton is not installed (it is in drrender's test extra)")


@pytest.fixture
def device() -> str:
    """CUDA where a GPU is present, else CPU tensors through Triton's interpreter."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def test_forward_matches_reference(device):
    joints = motion("j15", 2, seed=3)  # 2 frames, 29 primitives each, 2 x 2 tiles
    _, edges = LAYOUTS["j15"]
    kw = dict(size=(20, 26), camera="pinhole", background=torch.tensor([0.1, 0.2, 0.3]))
    out = drrender.render(joints.to(device), edges, backend="triton", **kw)
    ref = reference.render(joints, edges, **kw)
    assert (ref - kw["background"][:, None, None]).abs().amax() > 0.5  # the body is drawn
    assert (out.cpu() - ref).abs().max() < 2e-5


@pytest.mark.parametrize("loss, dims", [("weighted", 3), ("mean", 2)])
def test_gradients_match_reference(device, loss, dims):
    """Joint and colour gradients of 3D and 2D (z = 0) joints; ``mean`` sends an expanded (zero-stride)
    output gradient."""
    joints = motion("j15", 2, seed=4, dims=dims)
    _, edges = LAYOUTS["j15"]
    colors = torch.rand(15, 3, generator=torch.Generator().manual_seed(0))
    weight = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    grads = []
    for fn, dev in ((reference.render, "cpu"), (drrender.render, device)):
        j, c = (x.to(dev).requires_grad_() for x in (joints, colors))
        kw = {} if fn is reference.render else {"backend": "triton"}
        out = fn(j, edges, size=(16, 16), joint_colors=c, **kw)
        value = out.mean() if loss == "mean" else (out * weight.to(dev)).sum()
        grads.append([g.cpu() for g in torch.autograd.grad(value, (j, c))])
    for a, b in zip(*grads):
        assert a.abs().max() > 0
        assert torch.allclose(a, b, rtol=1e-3, atol=1e-4 * a.abs().max().item())


def test_gradcheck_float64(device):
    """Every input's gradient (joints, colours, widths, opacity, camera, background) in float64."""
    inputs = [x.to(device).requires_grad_() for x in _gradcheck_inputs()]
    fn = _gradcheck_fn(lambda *a, **k: drrender.render(*a, backend="triton", **k))
    assert fn(*inputs).dtype == torch.float64
    assert torch.autograd.gradcheck(fn, inputs, atol=1e-6, rtol=1e-4, fast_mode=True)


def test_auto_picks_triton_for_cuda_tensors(monkeypatch):
    monkeypatch.delenv("DRRENDER_BACKEND", raising=False)
    assert drrender.resolve_backend("auto", torch.device("cuda")) == "triton"
    monkeypatch.setattr(_triton, "installed", lambda: False)
    assert drrender.resolve_backend("auto", torch.device("cuda")) == "torch"


def test_triton_on_cpu_needs_the_interpreter(monkeypatch):
    monkeypatch.setenv("TRITON_INTERPRET", "0")  # read by the backend check on every call
    with pytest.raises(RuntimeError, match="TRITON_INTERPRET=1"):
        drrender.render(torch.zeros(1, 5, 3), SIMPLE_EDGES, size=(8, 8), backend="triton")
