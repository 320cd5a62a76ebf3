"""Bridges produce exactly the tensors of each family's own processor (PIL backends: no torchvision)."""

import numpy as np
import pytest
import torch
from PIL import Image
from skeletonllm import backbones
from skeletonllm.bridges import get_bridge, list_bridges, resize, tile_frames
from skeletonllm.bridges.base import pil_weights


def _bridge(name, frames=8, size=(56, 56)):
    bb = backbones.build_tiny(name, frames=frames, size=size)
    return bb, get_bridge(bb.model.config, bb.processor_config, bb.tokenizer)


def _as_frames(img: np.ndarray, repeat: int = 1) -> torch.Tensor:
    """uint8 (H, W, 3) -> (1, repeat, 3, H, W) in [0, 1]."""
    return (
        torch.from_numpy(img)
        .permute(2, 0, 1)
        .float()
        .div(255)[None, None]
        .expand(1, repeat, -1, -1, -1)
    )


@pytest.fixture(scope="module")
def qwen():
    return _bridge("tiny-qwen2vl")


def test_registry_lists_families():
    assert {"qwen2_vl", "qwen2_5_vl", "llava", "idefics3", "smolvlm"} <= set(list_bridges())


@pytest.mark.parametrize("hw", [(56, 84), (112, 56)])
def test_qwen2vl_matches_image_processor_exactly(qwen, hw):
    # A still image is a 2-frame video of identical frames: that is what Qwen's image path builds.
    bb, br = qwen
    img = np.random.default_rng(hw[0]).integers(0, 256, (*hw, 3), dtype=np.uint8)
    ref = bb.image_processor(images=[img], return_tensors="pt")
    pix, n_tokens = br.pixel_inputs(_as_frames(img, 2))
    assert pix["video_grid_thw"].tolist() == ref["image_grid_thw"].tolist()
    torch.testing.assert_close(
        pix["pixel_values_videos"][0], ref["pixel_values"], atol=1e-5, rtol=0
    )
    assert n_tokens == int(ref["image_grid_thw"].prod()) // 4


def test_qwen2vl_resize_close_to_pil(qwen):
    bb, br = qwen
    img = np.random.default_rng(1).integers(0, 256, (100, 50, 3), dtype=np.uint8)
    bb_proc = type(bb.image_processor)(size={"shortest_edge": 56 * 56, "longest_edge": 28 * 28 * 2})
    ref = bb_proc(images=[img], return_tensors="pt")
    br2 = get_bridge(bb.model.config, bb_proc.to_dict(), bb.tokenizer)
    pix, _ = br2.pixel_inputs(_as_frames(img, 2))
    assert pix["video_grid_thw"].tolist() == ref["image_grid_thw"].tolist() == [[1, 4, 2]]
    diff = (pix["pixel_values_videos"][0] - ref["pixel_values"]).abs()
    # PIL rounds to 8 bits after resizing; torch keeps floats.
    assert diff.mean() < 0.01 and diff.max() < 0.15


def test_qwen2vl_video_time_order(qwen):
    # Frames (a, a, b, b): temporal patch 0 must be image a's patches, patch 1 image b's.
    bb, br = qwen
    rng = np.random.default_rng(2)
    a, b = (rng.integers(0, 256, (56, 56, 3), dtype=np.uint8) for _ in range(2))
    video = torch.cat([_as_frames(a, 2), _as_frames(b, 2)], dim=1)
    pix, n_tokens = br.pixel_inputs(video)
    pv = pix["pixel_values_videos"][0]
    ra = bb.image_processor(images=[a], return_tensors="pt")["pixel_values"]
    rb = bb.image_processor(images=[b], return_tensors="pt")["pixel_values"]
    assert pix["video_grid_thw"].tolist() == [[2, 4, 4]] and n_tokens == 8
    torch.testing.assert_close(pv[:16], ra, atol=1e-5, rtol=0)
    torch.testing.assert_close(pv[16:], rb, atol=1e-5, rtol=0)


def test_qwen2vl_prompt_and_token_types(qwen):
    bb, br = qwen
    text = br.prompt_text("What action?", 16)
    ids = torch.tensor([bb.tokenizer(text, add_special_tokens=False)["input_ids"]])
    tt = br.text_inputs(ids)["mm_token_type_ids"]
    assert int((tt == 2).sum()) == 16
    assert text.startswith("<|im_start|>user\n<|vision_start|>") and text.endswith(
        "<|im_start|>assistant\n"
    )
    # The model accepts the exact tensors: features fill the placeholders.
    pix, n = br.pixel_inputs(torch.rand(1, 8, 3, 56, 56))
    assert n == 16
    out = bb.model(
        input_ids=ids, attention_mask=torch.ones_like(ids), **br.finalize(pix), mm_token_type_ids=tt
    )
    assert out.logits.shape[:2] == ids.shape


@pytest.mark.parametrize("name", ["tiny-llava", "tiny-idefics3"])
def test_grid_bridges_match_image_processor(name):
    bb, br = _bridge(name)
    rng = np.random.default_rng(3)
    frames = torch.from_numpy(rng.integers(0, 256, (1, 8, 3, 56, 56), dtype=np.uint8)).float() / 255
    grid = (tile_frames(frames)[0].permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()
    assert grid.shape == (168, 168, 3)
    ref = bb.image_processor(
        images=[grid] if name == "tiny-llava" else [[grid]], return_tensors="pt"
    )
    pix, n_tokens = br.pixel_inputs(frames)
    torch.testing.assert_close(pix["pixel_values"], ref["pixel_values"], atol=1e-5, rtol=0)
    if name == "tiny-idefics3":
        assert torch.equal(pix["pixel_attention_mask"], ref["pixel_attention_mask"].bool())
    # Resizing path (a 200x200 grid) stays close to PIL's filter.
    img = rng.integers(0, 256, (200, 200, 3), dtype=np.uint8)
    ref = bb.image_processor(images=[img] if name == "tiny-llava" else [[img]], return_tensors="pt")
    pix, _ = br.pixel_inputs(_as_frames(img))
    diff = (pix["pixel_values"] - ref["pixel_values"].reshape(pix["pixel_values"].shape)).abs()
    if name == "tiny-llava":  # bicubic: torch's float filter against PIL's, clipped and rounded
        assert diff.mean() < 0.01
    else:  # Lanczos 200 -> 168: PIL's rounding only; the 8-bit bound times 2 for mean/std 0.5
        assert diff.max() <= 2 * _rounding_bound(200, 200, 168, 168, "lanczos") / 255


@pytest.mark.parametrize("name", ["tiny-llava", "tiny-idefics3"])
def test_grid_bridges_prompt_matches_processor(name):
    from transformers import Idefics3Processor, LlavaProcessor

    bb, br = _bridge(name)
    vc = bb.model.config.vision_config
    if name == "tiny-llava":
        proc = LlavaProcessor(
            image_processor=bb.image_processor,
            tokenizer=bb.tokenizer,
            patch_size=vc.patch_size,
            vision_feature_select_strategy="full",
            num_additional_image_tokens=0,
            chat_template=bb.tokenizer.chat_template,
        )
    else:
        proc = Idefics3Processor(
            image_processor=bb.image_processor,
            tokenizer=bb.tokenizer,
            image_seq_len=br.n_tokens(),
            chat_template=bb.tokenizer.chat_template,
        )
    img = np.zeros((168, 168, 3), dtype=np.uint8)
    text = proc.apply_chat_template(br.messages("What action?"), add_generation_prompt=True)
    out = proc(text=[text], images=[img] if name == "tiny-llava" else [[img]], return_tensors="pt")
    _, n = br.pixel_inputs(torch.zeros(1, 8, 3, 56, 56))
    mine = bb.tokenizer(br.prompt_text("What action?", n), add_special_tokens=False)["input_ids"]
    assert out["input_ids"][0].tolist() == mine


def test_tile_frames_layout():
    f = torch.arange(5, dtype=torch.float32).view(1, 5, 1, 1, 1).expand(1, 5, 3, 2, 2)
    g = tile_frames(f)  # 3x2 grid? ceil(sqrt(5)) = 3 rows, 2 cols
    assert g.shape == (1, 3, 6, 4)
    assert g[0, 0, ::2, ::2].tolist() == [[0.0, 1.0], [2.0, 3.0], [4.0, 0.0]]


def test_unknown_family_is_a_clear_error():
    class Cfg:
        model_type = "gpt2"

    with pytest.raises(ValueError, match="no skeletonllm bridge for model_type 'gpt2'"):
        get_bridge(Cfg(), {}, None)


@pytest.mark.parametrize("name", ["tiny-qwen2vl", "tiny-llava"])
def test_bridge_transform_gradcheck(name):
    """The pixel transform (resize, normalise, tile/patchify) is differentiable: gradcheck in float64."""
    bb = backbones.build_tiny(name, frames=8, size=(56, 56))
    if name == "tiny-qwen2vl":
        proc = {**bb.processor_config, "size": {"shortest_edge": 28 * 28, "longest_edge": 28 * 28}}
        frames = torch.rand(
            1, 2, 3, 8, 10, dtype=torch.float64, requires_grad=True
        )  # upsized to 28x28
    else:
        proc = {**bb.processor_config, "size": {"height": 12, "width": 12}}
        frames = torch.rand(
            1, 4, 3, 5, 5, dtype=torch.float64, requires_grad=True
        )  # 10x10 grid -> 12x12
    br = get_bridge(bb.model.config, proc, bb.tokenizer)
    key = "pixel_values_videos" if name == "tiny-qwen2vl" else "pixel_values"
    assert torch.autograd.gradcheck(
        lambda f: br.pixel_inputs(f)[0][key], (frames,), eps=1e-6, atol=1e-5, fast_mode=True
    )


def _rounding_bound(h, w, oh, ow, mode):
    """Largest difference, in 8-bit levels, that PIL's rounding allows: half a level rounding the first
    pass, carried through the second pass's weights (at most the sum of their magnitudes), plus half a
    level rounding the result; 1e-3 for PIL's fixed-point weights."""
    carry = max(
        float(pil_weights(n, m, mode).abs().sum(1).max()) if n != m else 0.0
        for n, m in ((h, oh), (w, ow))
    )
    return 0.5 + 0.5 * carry + 1e-3


PIL_FILTERS = {
    "lanczos": Image.Resampling.LANCZOS,
    "box": Image.Resampling.BOX,
    "hamming": Image.Resampling.HAMMING,
}


def _smooth(hw, seed):
    """A band-limited RGB image inside [40, 215]: resampling it overshoots nowhere, so nothing is clipped."""
    y, x = np.mgrid[: hw[0], : hw[1]] / max(hw)
    ph = np.random.default_rng(seed).uniform(0, 6, 3)
    img = [127.5 + 80 * np.sin(5 * x + p) * np.cos(4 * y - p) for p in ph]
    return np.stack(img, -1).round().astype(np.uint8)


@pytest.mark.parametrize("mode", list(PIL_FILTERS))
@pytest.mark.parametrize(
    "hw,out,image",
    [
        # Noise is the hard case: every pixel is an edge, the Lanczos lobes overshoot and PIL clips
        # after each pass. Shapes scaled the same way on both axes, like the bridges' grids.
        ((200, 200), (168, 168), "noise"),
        ((56, 56), (168, 168), "noise"),
        ((100, 200), (50, 100), "noise"),
        ((33, 77), (33, 40), "noise"),  # one pass only
        # One axis grows and the other shrinks, or both shrink by different factors: PIL builds differ in
        # which pass runs first, which matters only where something is clipped in between.
        ((100, 60), (37, 90), "smooth"),
        ((60, 100), (90, 37), "smooth"),
        ((300, 120), (64, 64), "smooth"),
    ],
)
def test_pil_filters_match_pillow(mode, hw, out, image):
    seed = sum(hw + out)
    if image == "noise":
        img = np.random.default_rng(seed).integers(0, 256, (*hw, 3), dtype=np.uint8)
    else:
        img = _smooth(hw, seed)
    ref = np.asarray(Image.fromarray(img).resize(out[::-1], PIL_FILTERS[mode]), np.float64)
    x = torch.from_numpy(img).permute(2, 0, 1).double() / 255
    got = resize(x[None], out, mode)[0].permute(1, 2, 0).numpy() * 255
    assert np.abs(got - ref).max() <= _rounding_bound(*hw, *out, mode)
    if mode == "lanczos":  # processor configs give PIL's integer id: 1 is Lanczos, not bicubic
        assert torch.equal(resize(x, out, 1), resize(x, out, "lanczos"))
        if image == "noise":
            assert np.abs(resize(x, out, "bicubic").permute(1, 2, 0).numpy() * 255 - ref).max() > 2


def test_lanczos_resize_is_differentiable():
    x = (0.3 + 0.4 * torch.rand(1, 3, 9, 7, dtype=torch.float64)).requires_grad_()
    assert torch.autograd.gradcheck(lambda t: resize(t, (5, 11), "lanczos"), (x,))
