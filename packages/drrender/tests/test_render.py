"""drrender.render (fast path, every backend) against the dense reference, gradients, shapes, masks."""

from __future__ import annotations

import math

import drrender
import numpy as np
import pytest
import torch
from drr_helpers import LAYOUTS, motion
from drrender import Camera, axis_angle_to_matrix, reference
from drrender.png import grid, save_png
from hypothesis import given, settings
from hypothesis import strategies as st

SIMPLE_EDGES = [[0, 1], [1, 2], [2, 3], [1, 4]]


def random_joints(shape, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g, dtype=torch.float64).to(dtype)


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("dims", [2, 3])
@pytest.mark.parametrize("size", [(24, 32), (40, 40)])
def test_forward_matches_reference(backend, layout, dims, size):
    _, edges = LAYOUTS[layout]
    joints = torch.stack(
        [motion(layout, 4, dims=dims, seed=s) for s in range(2)]
    )  # (2, 4, J, dims)
    J = joints.shape[-2]
    g = torch.Generator().manual_seed(1)
    kw = dict(
        size=size,
        joint_colors=torch.rand(2, 1, J, 3, generator=g),
        opacity=0.3 + 0.7 * torch.rand(J, generator=g),
        bone_width=1.5 + 2 * torch.rand(len(edges), generator=g),
        background=torch.tensor([0.1, 0.2, 0.3]),
    )
    ref = reference.render(joints, edges, **kw)
    out = drrender.render(joints, edges, backend=backend, **kw)
    assert out.shape == (2, 4, 3, *size)
    assert (out - ref).abs().max() < 2e-5
    assert ref.std() > 0.05  # something was drawn


@pytest.mark.parametrize("kind", ["orthographic", "pinhole"])
def test_forward_matches_reference_with_cameras(backend, kind):
    joints = motion("ntu25", 3, seed=3)
    rot = axis_angle_to_matrix(torch.tensor([[0.0, 0.0, 0.0], [0.2, 1.2, 0.0]]))  # two views
    cam = drrender.fit_camera(joints, (32, 32), kind=kind, rotation=rot)
    ref = reference.render(joints, NTU25_EDGES(), size=(32, 32), camera=cam)
    out = drrender.render(joints, NTU25_EDGES(), size=(32, 32), camera=cam, backend=backend)
    assert out.shape == (2, 3, 3, 32, 32)
    assert (out - ref).abs().max() < 2e-5
    assert (out[0] - out[1]).abs().max() > 0.1  # the views differ


def NTU25_EDGES():
    return LAYOUTS["ntu25"][1]


def test_gradients_match_reference_float32(backend):
    joints = motion("kinect20", 3, seed=5).requires_grad_()
    _, edges = LAYOUTS["kinect20"]
    colors = torch.rand(20, 3, generator=torch.Generator().manual_seed(0)).requires_grad_()
    weight = torch.randn(3, 3, 36, 36, generator=torch.Generator().manual_seed(1))
    grads = []
    for fn in (reference.render, lambda *a, **k: drrender.render(*a, backend=backend, **k)):
        out = fn(joints, edges, size=(36, 36), joint_colors=colors, camera="pinhole")
        grads.append(torch.autograd.grad((out * weight).sum(), (joints, colors)))
    for a, b in zip(*grads):
        assert torch.allclose(a, b, rtol=1e-3, atol=1e-3 * a.abs().max().item())


def _gradcheck_fn(render_fn, size=(9, 11)):
    def fn(joints, colors, widths, opacity, rotvec, translation, focal, background):
        cam = Camera(axis_angle_to_matrix(rotvec), translation, focal)
        return render_fn(
            joints,
            SIMPLE_EDGES,
            size=size,
            joint_colors=colors,
            bone_width=widths,
            opacity=opacity,
            camera=cam,
            joint_radius=1.2,
            sharpness=1.5,
            depth_gain=0.1,
            background=background,
        )

    return fn


def _gradcheck_inputs():
    g = torch.Generator().manual_seed(0)
    d = dict(dtype=torch.float64)
    return [
        torch.randn(2, 5, 3, generator=g, **d),  # joints (T, J, 3)
        torch.rand(2, 5, 3, generator=g, **d),  # joint colours
        1.5 + 2 * torch.rand(4, generator=g, **d),  # bone widths
        0.2 + 0.7 * torch.rand(5, generator=g, **d),  # opacity
        torch.tensor([0.1, 0.3, -0.2], **d),  # camera rotation (axis-angle)
        torch.tensor([0.05, -0.1, 0.0], **d),  # camera translation
        torch.tensor(2.5, **d),  # focal
        torch.tensor([0.2, 0.1, 0.4], **d),  # background
    ]


@pytest.mark.parametrize("impl", ["reference", "torch", "cpp"])
def test_gradcheck_float64(impl, request):
    if impl == "cpp":
        request.getfixturevalue("cpp_backend")
    render_fn = (
        reference.render
        if impl == "reference"
        else (lambda *a, **k: drrender.render(*a, backend=impl, **k))
    )
    inputs = [x.requires_grad_() for x in _gradcheck_inputs()]
    out = _gradcheck_fn(render_fn)(*inputs)
    drawn = ((out - inputs[-1][:, None, None]).abs().amax(-3) > 0.05).float().mean()
    assert out.dtype == torch.float64 and 0.1 < drawn < 0.9
    # fast_mode checks random projections of the Jacobian: full coverage of inputs at a fraction of the cost.
    assert torch.autograd.gradcheck(
        _gradcheck_fn(render_fn), inputs, atol=1e-6, rtol=1e-4, fast_mode=True
    )


def test_gradcheck_default_camera_and_2d(backend):
    joints = random_joints((2, 5, 2), seed=2, dtype=torch.float64).requires_grad_()
    fn = lambda j: drrender.render(j, SIMPLE_EDGES, size=(6, 7), backend=backend)  # noqa: E731
    # Full Jacobian (every output pixel) on a tiny image.
    assert torch.autograd.gradcheck(fn, [joints], atol=1e-6, rtol=1e-4)


@pytest.mark.parametrize("lead", [(), (2,), (2, 3)])
def test_batch_dims(backend, lead):
    joints = random_joints((*lead, 3, 5, 3), seed=4)
    out = drrender.render(joints, SIMPLE_EDGES, size=(16, 20), backend=backend)
    assert out.shape == (*lead, 3, 3, 16, 20)
    flat_j = joints.reshape(-1, 3, 5, 3)
    flat_o = out.reshape(-1, 3, 3, 16, 20)
    for i in range(flat_j.shape[0]):  # each sequence on its own gives the same pixels
        single = drrender.render(flat_j[i], SIMPLE_EDGES, size=(16, 20), backend=backend)
        assert torch.allclose(single, flat_o[i], atol=1e-6)


def test_masked_joints_leave_no_trace(backend):
    joints = motion("ntu25", 4, seed=1)
    _, edges = LAYOUTS["ntu25"]
    hidden = [7, 11, 21, 22, 23, 24]  # both hands with their tips and thumbs
    mask = torch.ones(4, 25)
    mask[:, hidden] = 0
    garbage = joints.clone()
    garbage[:, hidden] = torch.tensor([float("nan"), 1e6, -3.0])
    cam = drrender.fit_camera(joints, (48, 48))
    keep = [j for j in range(25) if j not in hidden]
    remap = {j: i for i, j in enumerate(keep)}
    kept_edges = [[remap[a], remap[b]] for a, b in edges if a in remap and b in remap]
    colors = torch.rand(25, 3, generator=torch.Generator().manual_seed(0))
    kw = dict(size=(48, 48), backend=backend)
    expected = drrender.render(
        joints[:, keep], kept_edges, camera=cam, joint_colors=colors[keep], **kw
    )
    garbage.requires_grad_()
    out = drrender.render(garbage, edges, camera=cam, mask=mask, joint_colors=colors, **kw)
    assert torch.allclose(out, expected, atol=1e-6)
    out.sum().backward()
    assert torch.isfinite(garbage.grad).all() and (garbage.grad[:, hidden] == 0).all()
    # The default camera ignores masked joints too.
    auto = drrender.render(garbage.detach(), edges, mask=mask, joint_colors=colors, **kw)
    assert torch.allclose(
        auto,
        drrender.render(joints[:, keep], kept_edges, joint_colors=colors[keep], **kw),
        atol=1e-5,
    )


def _golden_scene():
    # A 2D stick figure (T=1) in world units with a camera mapping it to pixels: u = 16 + 4x, v = 16 - 4y.
    joints = torch.tensor([[[0.0, 3.0], [0.0, 0.0], [-2.5, -3.0], [2.5, -3.0], [-3.0, 2.0]]])
    edges = [[0, 1], [1, 2], [1, 3], [0, 4]]
    colors = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 1.0, 0.0]])
    cam = Camera(torch.eye(3), torch.zeros(3), torch.tensor(4.0))
    kw = dict(
        size=(32, 32),
        bone_colors=colors,
        bone_width=4.0,
        joint_radius=0,
        camera=cam,
        background=torch.tensor([0.05, 0.05, 0.05]),
        sharpness=3.0,
    )
    return joints, edges, colors, kw


def test_golden_image(backend):
    joints, edges, colors, kw = _golden_scene()
    golden = reference.render(joints, edges, **kw)[0]
    out = drrender.render(joints, edges, backend=backend, **kw)[0]
    assert (out - golden).abs().max() < 1e-5
    # Analytic pixels. Bone 0 runs from (16, 4) to (16, 16): the pixel at row 10, col 15 has its centre
    # 0.5 px from the axis, well inside the 2 px half width, so it is (nearly) pure red.
    assert torch.allclose(out[:, 10, 15], colors[0], atol=0.02)
    # Bone 1 from (16, 16) to (6, 28): midpoint (11, 22) -> row 22, col 10 (centre 10.5, 22.5).
    assert torch.allclose(out[:, 22, 10], colors[1], atol=0.05)
    # Far from every bone: exactly the background.
    assert torch.equal(out[:, 2, 30], torch.tensor([0.05, 0.05, 0.05]))
    assert torch.equal(out[:, 30, 16], torch.tensor([0.05, 0.05, 0.05]))
    # Edge of a bone: distance 2 = half width -> coverage sigmoid(0) = 1/2 (rescaled for the support cut).
    # Pixel centre (18.5, 10.5) is 2.5 px from bone 0; coverage sigmoid(3 * (2 - 2.5)) = 0.182.
    cov = 0.9999 * (1 / (1 + math.exp(1.5)) - 1e-3) / (1 - 1e-3)
    assert out[0, 10, 18].item() == pytest.approx(cov * 1.0 + (1 - cov) * 0.05, abs=1e-5)


def test_sharpness_tends_to_hard_rasteriser(backend):
    """At large sharpness the image equals a hard z-buffer: inside test + nearest primitive wins."""
    joints = torch.tensor([[[-1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, -1.0, 0.5], [0.0, 1.0, 0.5]]])
    edges = [
        [0, 1],
        [2, 3],
    ]  # a cross; the vertical bone is nearer to the camera (z = 0.5 -> depth smaller)
    colors = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    cam = Camera(torch.eye(3), torch.zeros(3), torch.tensor(10.0))
    out = drrender.render(
        joints,
        edges,
        size=(32, 32),
        bone_colors=colors,
        bone_width=4.0,
        joint_radius=0,
        camera=cam,
        sharpness=200.0,
        backend=backend,
    )[0]
    v, u = np.mgrid[0:32, 0:32] + 0.5

    def inside(a, b):  # distance from pixel centres to segment a-b <= half width
        a, b = np.array(a, float), np.array(b, float)
        p = np.stack([u, v], -1)
        t = np.clip(((p - a) @ (b - a)) / ((b - a) @ (b - a)), 0, 1)
        return np.linalg.norm(p - (a + t[..., None] * (b - a)), axis=-1) <= 2.0

    expected = np.zeros((3, 32, 32))
    expected[:, inside((6, 16), (26, 16))] = np.array([1, 0, 0])[:, None]
    expected[:, inside((16, 26), (16, 6))] = np.array([0, 0, 1])[
        :, None
    ]  # the nearer bone is on top
    # Pixel centres are >= 0.12 px from every edge, so each is clearly inside or outside.
    assert np.abs(out.numpy() - expected).max() < 2e-3


@settings(max_examples=15, deadline=None)
@given(
    dx=st.integers(-6, 6),
    dy=st.integers(-6, 6),
    seed=st.integers(0, 10_000),
)
def test_translation_equivariance(dx, dy, seed):
    """Shifting 2D joints by whole pixels shifts the image (away from the borders)."""
    g = torch.Generator().manual_seed(seed)
    joints = 0.6 * torch.randn(2, 5, 2, generator=g, dtype=torch.float64)
    cam = Camera(
        torch.eye(3, dtype=torch.float64), torch.zeros(3, dtype=torch.float64), torch.tensor(6.0)
    )
    kw = dict(size=(48, 48), camera=cam, bone_width=3.0)
    a = drrender.render(joints, SIMPLE_EDGES, **kw)
    shift = torch.tensor([dx / 6.0, -dy / 6.0], dtype=torch.float64)  # v grows downwards
    b = drrender.render(joints + shift, SIMPLE_EDGES, **kw)
    inner = slice(8, 40)
    shifted = b[..., slice(8 + dy, 40 + dy), slice(8 + dx, 40 + dx)]
    assert torch.allclose(a[..., inner, inner], shifted, atol=1e-9)


@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    dims=st.sampled_from([2, 3]),
    sharpness=st.floats(0.2, 50.0),
    kind=st.sampled_from(["orthographic", "pinhole"]),
)
def test_output_in_unit_range(seed, dims, sharpness, kind):
    g = torch.Generator().manual_seed(seed)
    joints = 3 * torch.randn(2, 5, dims, generator=g)
    out = drrender.render(
        joints,
        SIMPLE_EDGES,
        size=(20, 20),
        sharpness=sharpness,
        camera=kind,
        joint_colors=torch.rand(5, 3, generator=g),
        opacity=torch.rand(5, generator=g),
        bone_width=6 * torch.rand(4, generator=g),
        background=torch.rand(3, generator=g),
    )
    assert torch.isfinite(out).all() and out.min() >= 0 and out.max() <= 1


def test_camera_fit_fills_frame():
    joints = motion("ntu25", 6)
    cam = drrender.fit_camera(joints, (64, 48), margin=0.1)
    uv, _ = cam.project(joints, (64, 48))
    lo, hi = uv.reshape(-1, 2).amin(0), uv.reshape(-1, 2).amax(0)
    assert (lo >= torch.tensor([4.8, 6.4]) - 1e-4).all() and (
        hi <= torch.tensor([43.2, 57.6]) + 1e-4
    ).all()
    # The limiting axis (height of a standing body) spans exactly the frame minus the margins.
    assert hi[1] - lo[1] == pytest.approx(64 * 0.8, rel=1e-5)
    assert ((lo + hi) / 2).tolist() == pytest.approx([24.0, 32.0], abs=1e-4)


def test_pinhole_projection_known_values():
    cam = Camera(torch.eye(3), torch.tensor([0.0, 0.0, -4.0]), torch.tensor(100.0), kind="pinhole")
    uv, depth = cam.project(torch.tensor([[[1.0, 2.0, 0.0], [1.0, 2.0, 2.0]]]), (200, 300))
    assert uv[0, 0].tolist() == pytest.approx([150 + 25.0, 100 - 50.0])
    assert uv[0, 1].tolist() == pytest.approx([150 + 50.0, 100 - 100.0])  # nearer -> larger
    assert depth[0].tolist() == pytest.approx([100.0, 50.0])  # pixels at the origin's distance


def test_save_png_per_layout(output_dir):
    for layout, (_, edges) in LAYOUTS.items():
        joints = motion(layout, 6)
        frames = drrender.render(joints, edges, size=(112, 112))
        coverage = (frames.amax(1) > 0.05).float().mean()
        assert 0.02 < coverage < 0.5, layout
        path = save_png(output_dir / f"render_{layout}.png", grid(frames))
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 500


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: drrender.render(torch.zeros(4, 3), SIMPLE_EDGES), r"\(\.\.\., T, J, 2 or 3\)"),
        (lambda: drrender.render(torch.zeros(2, 5, 4), SIMPLE_EDGES), r"2 or 3"),
        (lambda: drrender.render(torch.zeros(2, 5, 3), [[0, 9]]), r"J=5"),
        (lambda: drrender.render(torch.zeros(2, 5, 3), [0, 1, 2]), r"\(E, 2\)"),
        (
            lambda: drrender.render(torch.zeros(2, 5, 3), SIMPLE_EDGES, mask=torch.ones(3, 5)),
            "mask",
        ),
        (
            lambda: drrender.render(torch.zeros(2, 5, 3), SIMPLE_EDGES, bone_width=torch.ones(7)),
            "bone_width",
        ),
        (
            lambda: drrender.render(torch.zeros(2, 5, 3), SIMPLE_EDGES, backend="gpu"),
            "unknown backend",
        ),
        (lambda: drrender.render(torch.zeros(2, 5, 3), SIMPLE_EDGES, camera="fisheye"), "kind"),
    ],
)
def test_bad_input_raises_clear_errors(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


@settings(max_examples=12, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    dims=st.sampled_from([2, 3]),
    sharpness=st.floats(0.3, 30.0),
    depth_gain=st.floats(0.0, 0.5),
    kind=st.sampled_from(["orthographic", "pinhole"]),
)
def test_random_scenes_match_reference(seed, dims, sharpness, depth_gain, kind):
    g = torch.Generator().manual_seed(seed)
    joints = torch.randn(2, 6, dims, generator=g)
    edges = [[0, 1], [1, 2], [2, 3], [3, 4], [1, 5], [0, 4]]
    kw = dict(
        size=(17, 23),
        sharpness=sharpness,
        depth_gain=depth_gain,
        camera=kind,
        joint_colors=torch.rand(6, 3, generator=g),
        opacity=torch.rand(6, generator=g),
        bone_width=0.5 + 5 * torch.rand(6, generator=g),
        joint_radius=3 * torch.rand(6, generator=g),
        mask=(torch.rand(2, 6, generator=g) > 0.2).float(),
    )
    ref = reference.render(joints, edges, **kw)
    for backend in ["torch"] + (["cpp"] if drrender.cpp_available() else []):
        assert (drrender.render(joints, edges, backend=backend, **kw) - ref).abs().max() < 1e-4


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), perm_seed=st.integers(0, 10_000))
def test_joint_order_does_not_matter(seed, perm_seed):
    """Relabelling the joints (and the edges with them) renders the same image."""
    g = torch.Generator().manual_seed(seed)
    joints = torch.randn(2, 5, 3, generator=g)
    colors = torch.rand(5, 3, generator=g)
    perm = torch.randperm(5, generator=torch.Generator().manual_seed(perm_seed))
    inv = torch.argsort(perm)
    a = drrender.render(joints, SIMPLE_EDGES, size=(20, 20), joint_colors=colors)
    relabelled = [[int(inv[i]), int(inv[j])] for i, j in SIMPLE_EDGES]
    b = drrender.render(joints[:, perm], relabelled, size=(20, 20), joint_colors=colors[perm])
    assert torch.allclose(a, b, atol=1e-5)


@pytest.mark.parametrize(
    "loss",
    [
        lambda o: o.mean(),  # expanded scalar gradient (all strides 0)
        lambda o: o[:, :, 1].sum(),  # one channel: gradient with zeros elsewhere
        lambda o: (o.transpose(-1, -2) * torch.linspace(0, 1, 24)[:, None]).sum(),  # transposed
    ],
)
def test_backward_with_strided_output_gradients(backend, loss):
    joints = random_joints((3, 4, 5, 3), seed=8, dtype=torch.float64)
    grads = []
    for fn in (reference.render, lambda *a, **k: drrender.render(*a, backend=backend, **k)):
        j = joints.clone().requires_grad_()
        loss(fn(j, SIMPLE_EDGES, size=(20, 24))).backward()
        grads.append(j.grad)
    assert torch.allclose(grads[0], grads[1], rtol=1e-6, atol=1e-9)
