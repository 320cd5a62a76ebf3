"""DrAction: any layout, masks, padding, views, differentiability."""

from __future__ import annotations

import copy

import pytest
import torch
from drr_helpers import LAYOUTS, motion, part_tags
from drrender import DrAction, TemporalSampler
from drrender.png import grid, save_png


def batch(layout, B=2, T=12, dims=3):
    return torch.stack([motion(layout, T, dims=dims, seed=s) for s in range(B)])


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return DrAction(frames=4, size=(48, 48), views=1)


def test_one_instance_renders_every_layout(model, output_dir):
    shapes = {name: p.shape for name, p in model.state_dict().items()}
    for layout, (_, edges) in LAYOUTS.items():
        joints = batch(layout)
        out = model(joints, torch.tensor(edges), part_tags=part_tags(layout))
        assert out.shape == (2, 4, 3, 48, 48)
        assert out.min() >= 0 and out.max() <= 1
        assert 0.02 < (out.amax(2) > 0.05).float().mean() < 0.6, layout
        save_png(output_dir / f"draction_{layout}.png", grid(out[0]))
    # Nothing in the module was sized by a layout.
    assert {name: p.shape for name, p in model.state_dict().items()} == shapes


def test_state_dicts_swap_between_layouts():
    """An instance used on 15 joints and one used on 25 exchange weights and reproduce each other."""
    j15, e15, t15 = batch("j15"), LAYOUTS["j15"][1], part_tags("j15")
    j25, e25, t25 = batch("ntu25"), LAYOUTS["ntu25"][1], part_tags("ntu25")
    torch.manual_seed(5)
    a = DrAction(frames=4, size=(32, 32), views=2)
    torch.manual_seed(6)
    b = DrAction(frames=4, size=(32, 32), views=2)
    with torch.no_grad():
        a15 = a(j15, e15, part_tags=t15)  # each instance runs on its own layout first
        b25 = b(j25, e25, part_tags=t25)
        state_a, state_b = copy.deepcopy(a.state_dict()), copy.deepcopy(b.state_dict())
        a.load_state_dict(state_b)  # strict: same names and shapes whatever layout came before
        b.load_state_dict(state_a)
        assert torch.equal(b(j15, e15, part_tags=t15), a15)
        assert torch.equal(a(j25, e25, part_tags=t25), b25)
        # The weights decide the images: a's new weights draw 15 joints differently from its old ones.
        assert (a(j15, e15, part_tags=t15) - a15).abs().max() > 0.05


def test_differentiable_end_to_end():
    torch.manual_seed(1)
    model = DrAction(frames=3, size=(32, 32), views=2, trails=1)
    joints = batch("kinect20", T=10).requires_grad_()
    out = model(
        joints,
        LAYOUTS["kinect20"][1],
        part_tags=part_tags("kinect20"),
        lengths=torch.tensor([10, 7]),
    )
    (out * torch.randn_like(out)).sum().backward()
    assert torch.isfinite(joints.grad).all() and joints.grad.abs().sum() > 0
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, f"no gradient reaches {name}"


def test_gradcheck_float64_through_module():
    torch.manual_seed(2)
    model = DrAction(frames=2, size=(10, 10), sharpness=1.0).double()
    edges = [[0, 1], [1, 2], [1, 3]]
    joints = torch.randn(1, 3, 4, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda j: model(j, edges), [joints], atol=1e-6, rtol=1e-4, fast_mode=True
    )


def test_masked_joints_leave_no_trace(model):
    joints = batch("ntu25")
    _, edges = LAYOUTS["ntu25"]
    hidden = [3, 7, 11, 21, 22, 23, 24]  # head, hands
    mask = torch.ones(2, 12, 25)
    mask[:, :, hidden] = 0
    garbage = joints.clone()
    garbage[:, :, hidden] = float("nan")
    keep = [j for j in range(25) if j not in hidden]
    remap = {j: i for i, j in enumerate(keep)}
    kept_edges = [[remap[a], remap[b]] for a, b in edges if a in remap and b in remap]
    tags = part_tags("ntu25")
    out = model(garbage, edges, mask=mask, part_tags=tags)
    expected = model(joints[:, :, keep], kept_edges, part_tags=tags[keep])
    assert torch.allclose(out, expected, atol=1e-5)


def test_padded_frames_are_never_sampled(model):
    _, edges = LAYOUTS["j15"]
    joints = batch("j15", T=12)
    padded = joints.clone()
    padded[1, 7:] = torch.tensor([float("nan"), 1e9, -1e9])
    out = model(padded, edges, lengths=torch.tensor([12, 7]))
    assert torch.isfinite(out).all()
    assert torch.allclose(out[0], model(joints[:1], edges)[0], atol=1e-6)
    assert torch.allclose(out[1], model(joints[1:2, :7], edges)[0], atol=1e-6)


def test_two_dimensional_input(model):
    _, edges = LAYOUTS["kinect20"]
    out = model(batch("kinect20", dims=2), edges)
    assert out.shape == (2, 4, 3, 48, 48) and 0.02 < (out.amax(2) > 0.05).float().mean() < 0.6


def test_tiled_views_match_stacked_views():
    torch.manual_seed(3)
    tiled = DrAction(frames=2, size=(32, 64), views=2, view_layout="tile")
    stacked = DrAction(frames=2, size=(32, 32), views=2, view_layout="stack")
    stacked.load_state_dict(tiled.state_dict())
    joints, edges = batch("ntu25", T=6), LAYOUTS["ntu25"][1]
    a, b = tiled(joints, edges), stacked(joints, edges)
    assert tiled.grid == (1, 2) and a.shape == (2, 2, 3, 32, 64) and b.shape == (2, 4, 3, 32, 32)
    assert torch.allclose(a[..., :32], b[:, 0::2], atol=1e-6)  # view 0 on the left
    assert torch.allclose(a[..., 32:], b[:, 1::2], atol=1e-6)
    assert (b[:, 0::2] - b[:, 1::2]).abs().max() > 0.1  # different viewpoints
    # Three views tile a 2 x 2 grid; the unused tile is background.
    three = DrAction(frames=2, size=(40, 40), views=3)
    out = three(joints, edges)
    assert (
        three.grid == (2, 2)
        and out.shape == (2, 2, 3, 40, 40)
        and out[..., 20:, 20:].abs().max() == 0
    )


def test_temporal_sampler_weights():
    sampler = TemporalSampler(4)
    with torch.no_grad():
        sampler.gap_logits.copy_(torch.tensor([0.3, -0.2, 0.5, 0.0]))
    w = sampler.weights(torch.tensor([10.0, 5.0]), 10)
    assert w.shape == (2, 4, 10)
    assert torch.allclose(w.sum(-1), torch.ones(2, 4))
    assert (w[1, :, 5:] == 0).all()
    centres = sampler.centres(torch.tensor([10.0, 5.0]))
    assert (centres.diff(dim=-1) > 0).all() and (centres > -0.5).all() and (centres[1] < 4.5).all()
    logits = sampler.gap_logits.detach().double().requires_grad_()

    def fn(g):
        s = TemporalSampler(4).double()
        del s.gap_logits
        s.gap_logits = g  # a plain tensor, so the graph reaches g
        return s.weights(torch.tensor([10.0], dtype=torch.float64), 10)

    assert torch.autograd.gradcheck(fn, [logits])


def test_training_reduces_loss():
    torch.manual_seed(4)
    model = DrAction(frames=2, size=(24, 24))
    joints, edges = batch("j15", T=6), LAYOUTS["j15"][1]
    target = torch.zeros(2, 2, 3, 24, 24)
    target[:, :, 0] = 1.0  # learn to draw in red
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    losses = []
    for _ in range(8):
        loss = (model(joints, edges) - target).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.9 * losses[0]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(joints=torch.zeros(2, 5, 3)), r"\(B, T, J, 2 or 3\)"),
        (dict(mask=torch.ones(2, 4, 4)), "mask must have shape"),
        (dict(part_tags=torch.tensor([0, 1, 2, 9, 0])), r"part_tags must lie in \[0, 7\)"),
        (dict(part_tags=torch.zeros(3)), "integers"),
        (dict(lengths=torch.tensor([4, 0])), r"lengths must lie in \[1, T=4\]"),
        (dict(edges=[[0, 5]]), "J=5"),
    ],
)
def test_bad_input(model, kwargs, match):
    args = dict(joints=torch.zeros(2, 4, 5, 3), edges=[[0, 1]])
    args.update(kwargs)
    with pytest.raises((ValueError, TypeError), match=match):
        model(**args)
