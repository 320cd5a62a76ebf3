"""Report figures: the frames the model received beside a plain skeleton plot with the whole caption;
confusion matrices and per-class bars in percent."""

from __future__ import annotations

import numpy as np
import pytest
import skelformats as sf
from PIL import Image
from skelbench.report import (
    caption,
    confusion_figure,
    confusion_percent,
    draw_examples,
    example_frames,
    per_class_figure,
)


@pytest.fixture(scope="module")
def model():
    from skeletonllm import SkeletonLLM, SkeletonLLMConfig

    cfg = SkeletonLLMConfig.from_dict(
        {"backbone": "tiny-qwen2vl", "renderer": {"frames": 3, "size": [28, 28]}}
    )
    return SkeletonLLM(cfg)


def test_example_frames_are_the_models_own_renders(model):
    motions = [
        sf.synth.generate("wave", layout="ntu25", seed=0),
        sf.synth.generate("jump", layout="coco17", seed=0),
    ]
    frames = example_frames(model, motions)
    direct = model.render(model.prepare(motions)).detach()
    assert len(frames) == 2 and frames[0].shape == (3, 28, 28, 3)
    for f, d in zip(frames, direct):
        assert np.allclose(f, d.permute(0, 2, 3, 1).numpy())

    class Classifier:  # the GCN baseline: scores, but has no renderer
        def score(self, *a):
            return None

    assert example_frames(Classifier(), motions) is None


def test_captions_are_whole_and_wrapped():
    long = "Which moves more, the left hand or the right foot, over the whole sequence? " * 3
    text = caption({"label": long.strip(), "answer": "the left hand"}, width=60)
    lines = text.splitlines()
    assert all(len(x) <= 60 for x in lines) and len(lines) > 3
    assert " ".join(text.split()) == " ".join(f"reference: {long} answer: the left hand".split())


def test_examples_show_the_model_input_beside_the_skeleton(model, tmp_path):
    motions = [sf.synth.generate(a, layout="ntu25", seed=1) for a in ("bow", "kick")]
    examples = [{"label": "bow", "answer": "kick"}, {"label": "kick", "answer": "kick"}]
    plain, seen = tmp_path / "plain.png", tmp_path / "seen.png"
    draw_examples(motions, examples, plain)
    draw_examples(motions, examples, seen, model_frames=example_frames(model, motions))

    def dark(path):  # the renderer draws on black; the skeleton plot is on white
        rgb = np.asarray(Image.open(path).convert("RGB")).astype(int)
        return (rgb.max(-1) < 30).mean()

    assert dark(plain) < 0.03 and dark(seen) > 0.1


def test_confusion_in_percent_with_a_colour_bar():
    counts = [[3, 1, 0], [0, 0, 0], [2, 2, 4]]
    pct = confusion_percent(counts)
    assert np.allclose(pct.sum(1), [100, 0, 100]) and pct[0, 0] == 75
    fig = confusion_figure(counts, ["a", "b", "c"], "t")
    assert len(fig.axes) == 2  # the matrix and its colour bar
    image = fig.axes[0].images[0]
    assert image.get_clim() == (0, 100) and np.allclose(image.get_array(), pct)


def test_per_class_bars_in_percent():
    t = {"task": "x/recognition", "classes": ["a", "b"], "chance": 0.5}
    fig = per_class_figure(t, [("model", {"per_class_accuracy": [1.0, 0.25]}), ("baseline", None)])
    ax = fig.axes[0]
    assert ax.get_ylim() == (0, 100)
    assert sorted(round(b.get_height()) for b in ax.patches) == [25, 100]
