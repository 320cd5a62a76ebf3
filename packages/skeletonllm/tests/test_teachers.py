"""Teachers: the kinematic rationale's structure, the registry, the hf teacher, PNG frames for endpoints.

The openai teacher against a real local server is in test_serve.py."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from PIL import Image
from skeletonllm import SkeletonLLM, SkeletonLLMConfig
from skeletonllm.teachers import (
    HFTeacher,
    KinematicTeacher,
    get_teacher,
    list_teachers,
    register_teacher,
)
from skeletonllm.teachers.images import png_bytes, png_data_url
from skelformats import synth


def test_kinematic_rationale_structure():
    m = synth.generate("sit_down", seed=2)
    text = get_teacher("kinematic").rationale(m, "sit_down")
    lines = text.splitlines()
    assert [ln.split(":")[0] for ln in lines] == [
        "Observations",
        "Causal chain",
        "Conclusion",
        "Answer",
    ]
    assert lines[-1] == "Answer: sit_down"
    assert "pelvis drops" in lines[0] and "standing" in lines[0] and "sitting" in lines[0]
    assert "sitting down" in lines[2]
    assert get_teacher("kinematic").rationale(m, "sit_down") == text  # deterministic


def test_unknown_label_gets_a_generic_conclusion():
    text = KinematicTeacher().rationale(synth.generate("bow", seed=0), "greeting gesture")
    assert "consistent with greeting gesture" in text and text.endswith("Answer: greeting gesture")


def test_max_observations_bounds_length():
    m = synth.generate("jump", seed=0)
    short = KinematicTeacher(max_observations=1).rationale(m, "jump")
    long = KinematicTeacher(max_observations=8).rationale(m, "jump")
    assert len(short) < len(long)


def test_registry():
    assert {"kinematic", "openai", "hf"} <= set(list_teachers())
    with pytest.raises(KeyError, match="unknown teacher 'nope'"):
        get_teacher("nope")

    @register_teacher("echo-test")
    class Echo(KinematicTeacher):
        name = "echo-test"

        def rationale(self, motion, label):
            return f"Answer: {label}"

    assert get_teacher("echo-test").rationales([None, None], ["a", "b"]) == [
        "Answer: a",
        "Answer: b",
    ]
    with pytest.raises(ValueError, match="2 motions but 1 labels"):
        get_teacher("echo-test").rationales([None, None], ["a"])


def test_hf_teacher_keeps_the_generation_and_replaces_its_answer(tmp_path, monkeypatch):
    from skeletonllm.teachers.hf import PROMPT

    model = SkeletonLLM(
        SkeletonLLMConfig(renderer={"frames": 4, "size": (28, 28)}, max_new_tokens=6)
    )
    model.save_pretrained(tmp_path / "t")
    teacher = get_teacher("hf", path=str(tmp_path / "t"), max_new_tokens=4)
    assert isinstance(teacher, HFTeacher)
    assert not any(p.requires_grad for p in teacher.model.parameters())
    motions = [synth.generate("wave", seed=0), synth.generate("clap", seed=0)]
    prompts = [
        PROMPT.format(label="wave", answer="Answer: wave"),
        PROMPT.format(label="sit down", answer="Answer: sit_down"),
    ]
    generated = teacher.model.generate(motions, prompts, max_new_tokens=4)  # greedy: repeatable
    assert all(g.strip() and "Answer:" not in g for g in generated)
    out = teacher.rationales(motions, ["wave", "sit_down"])
    assert out == [
        f"{generated[0].strip()}\nAnswer: wave",
        f"{generated[1].strip()}\nAnswer: sit_down",
    ]
    # An answer line the model writes itself is dropped for the true one; the rest of its text stays.
    real = teacher.model.generate
    monkeypatch.setattr(
        teacher.model,
        "generate",
        lambda *a, **kw: [f"{t}\n  Answer: clap\nBoth arms move." for t in real(*a, **kw)],
    )
    out = teacher.rationales(motions[:1], ["wave"])
    assert out == [f"{generated[0].strip()}\nBoth arms move.\nAnswer: wave"]
    with pytest.raises(ValueError, match="model object or a checkpoint path"):
        HFTeacher()


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 9), st.integers(1, 9), st.booleans(), st.integers(0, 2**31 - 1))
def test_png_round_trip(h, w, chw, seed):
    assume(not (chw and w == 3))  # (3, H, 3) reads as height x width x channels
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
    arr = np.moveaxis(img, -1, 0) if chw else img
    back = np.asarray(Image.open(io.BytesIO(png_bytes(arr))).convert("RGB"))
    assert np.array_equal(back, img)
    assert png_data_url(arr).startswith("data:image/png;base64,")


def test_png_rejects_non_rgb():
    with pytest.raises(ValueError, match="RGB"):
        png_bytes(np.zeros((4, 4)))
    with pytest.raises(ValueError, match="RGB"):
        png_bytes(np.zeros((4, 4, 4)))
