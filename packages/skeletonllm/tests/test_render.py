"""`skeletonllm render`: GIF / MP4 / PNG of skeleton files, with the fixed renderer or exactly the frames
a checkpoint's DrAction gives its model."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import skelformats as sf
import torch
from PIL import Image
from skeletonllm import SkeletonLLM, SkeletonLLMConfig
from skeletonllm.cli import main
from skeletonllm.render import (
    PART_COLORS,
    FixedRenderer,
    ModelRenderer,
    RenderError,
    check_output,
)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("render")
    out = []
    for action, layout in [("wave", "ntu25"), ("jump", "coco17")]:
        path = d / f"{action}_{layout}.npz"
        sf.save(sf.synth.generate(action, layout=layout, seed=0), path)
        out.append(path)
    return out


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    cfg = SkeletonLLMConfig.from_dict(
        {"backbone": "tiny-qwen2vl", "renderer": {"frames": 4, "size": [28, 28]}}
    )
    model = SkeletonLLM(cfg)
    with torch.no_grad():  # a renderer that differs from a fresh one, as a trained one does
        model.renderer.view_log_zoom.add_(0.3)
    path = tmp_path_factory.mktemp("ckpt") / "model"
    model.save_pretrained(path)
    return path, model


def test_gif_and_png_layout(files, tmp_path, capsys):
    gif, png = tmp_path / "a.gif", tmp_path / "a.png"
    argv = [*map(str, files), "--frames", "5", "--views", "2", "--size", "40", "30"]
    assert main(["render", *argv, "-o", str(gif)]) == 0
    assert "wrote" in capsys.readouterr().out
    with Image.open(gif) as im:
        assert im.n_frames == 5
        assert im.size == (2 * 30, 2 * 40 + 2)  # two views across, one row per file (+ gap)
    assert main(["render", *argv, "-o", str(png)]) == 0
    with Image.open(png) as im:
        assert im.size == (5 * 60 + 4 * 2, 2 * 40 + 2)  # frames across, files down
        sheet = np.asarray(im.convert("RGB"))
    body = sheet[:40, :60]
    assert (body.max(-1) > 100).mean() > 0.01  # the skeleton is drawn, not a blank tile


def test_2d_input_is_drawn_upright():
    m = sf.synth.generate("jump", layout="coco17", seed=0)  # image coordinates: y down
    img = FixedRenderer(frames=1, size=(64, 64))(m)[0].astype(float)
    head = np.array(PART_COLORS[1]) * 255  # skelformats.PART_NAMES[1] == "head"
    near = np.abs(img - head).sum(-1) < 60
    rows = np.nonzero(near)[0]
    drawn = np.nonzero(img.max(-1) > 60)[0]
    assert rows.size and rows.mean() < drawn.mean()  # the head is in the upper part


def test_image_coordinate_layouts_are_turned_upright():
    from skeletonllm.render import upright

    for layout in ("coco17", "mediapipe33"):  # y down: 2D pixels, MediaPipe's normalised 3D
        m = sf.synth.generate("wave", layout=layout, seed=0)
        up = upright(m)
        nose, ankle = up.layout.index("nose"), up.layout.index("left_ankle")
        assert up.layout.up_axis == "y" and (up.data[:, nose, 1] > up.data[:, ankle, 1]).all()
        if m.layout.dims == 3:  # half a turn about x: lengths and handedness kept
            assert np.allclose(np.linalg.norm(up.data, axis=-1), np.linalg.norm(m.data, axis=-1))
    ntu = sf.synth.generate("wave", layout="ntu25", seed=0)
    assert upright(ntu) is ntu


def test_model_renderer_draws_exactly_what_the_model_receives(files, checkpoint, tmp_path):
    path, model = checkpoint
    motion = sf.load(files[0])
    seen = model.render(model.prepare([motion]))[0].permute(0, 2, 3, 1).detach().numpy()
    ours = ModelRenderer(path)(motion)
    assert ours.shape == (4, 28, 28, 3)
    assert np.abs(ours.astype(float) - seen * 255).max() <= 1.0
    fresh = SkeletonLLM(model.config)
    other = fresh.render(fresh.prepare([motion]))[0].permute(0, 2, 3, 1).detach().numpy()
    assert np.abs(ours.astype(float) - other * 255).max() > 10  # the learned views, not defaults
    out = tmp_path / "seen.png"
    assert main(["render", str(files[0]), "--model", str(path), "-o", str(out)]) == 0
    with Image.open(out) as im:
        assert im.size == (4 * 28 + 3 * 2, 28)


def test_mp4_and_a_clear_error_without_a_video_backend(files, tmp_path, monkeypatch, capsys):
    pytest.importorskip("imageio_ffmpeg")
    out = tmp_path / "a.mp4"
    assert main(["render", str(files[0]), "--frames", "4", "-o", str(out)]) == 0
    assert out.stat().st_size > 500 and out.read_bytes()[4:8] == b"ftyp"
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name in ("imageio_ffmpeg", "av") else real(name, *a),
    )
    assert main(["render", str(files[0]), "-o", str(tmp_path / "b.mp4")]) == 2
    err = capsys.readouterr().err
    assert "imageio-ffmpeg or PyAV" in err and "skeletonllm[video]" in err


def test_png_needs_neither_pillow_nor_matplotlib(files, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "PIL", None)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    out = tmp_path / "plain.png"
    assert main(["render", str(files[1]), "--frames", "2", "-o", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_requests(files, checkpoint, tmp_path, capsys):
    for out, msg in [
        (tmp_path / "a.jpg", "output must end in .gif, .mp4, .png"),
        (tmp_path / "no" / "a.gif", "does not exist"),
    ]:
        with pytest.raises(RenderError, match=msg):
            check_output(out)
        assert main(["render", str(files[0]), "-o", str(out)]) == 2
        assert msg in capsys.readouterr().err.splitlines()[0]
    path, _ = checkpoint
    argv = ["render", str(files[0]), "--model", str(path), "--views", "2", "-o", "x.gif"]
    assert main(argv) == 2
    assert "come from the checkpoint" in capsys.readouterr().err
