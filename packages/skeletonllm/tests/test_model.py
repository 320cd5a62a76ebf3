"""SkeletonLLM: gradients to the renderer, parameter groups, save/load, LoRA, scoring, bad checkpoints."""

import json
import shutil

import numpy as np
import pytest
import torch
from helpers import CHAIN5, raw_records, tiny_model
from skeletonllm import GROUPS, InstructionRecord, RawSkeleton, SkeletonLLM
from skeletonllm.checkpoint import CheckpointError
from skeletonllm.inputs import prepare
from skeletonllm.training import train_stage


@pytest.fixture(scope="module")
def model():
    return tiny_model()


def test_gradients_reach_renderer(model):
    batch = model.collator()(raw_records(2))
    model.zero_grad()
    model.set_trainable(["renderer", "projector"])
    frames = model.render(batch["samples"])
    assert frames.shape[1:] == model.frame_shape and frames.requires_grad
    loss = model(batch)
    loss.backward()
    grads = [p.grad for p in model.parameter_groups()["renderer"]]
    assert grads and all(g is not None for g in grads)
    assert sum(float(g.abs().sum()) for g in grads) > 0
    model.zero_grad()
    model.set_trainable(model.config.trainable)


def test_parameter_groups_partition_and_set_trainable(model):
    groups = model.parameter_groups()
    assert set(groups) == set(GROUPS) and all(groups[g] for g in GROUPS)
    ids = [id(p) for ps in groups.values() for p in ps]
    assert len(ids) == len(set(ids)) == len(list(model.parameters()))
    model.set_trainable(["renderer", "lora"])
    for g, ps in groups.items():
        assert all(p.requires_grad == (g in ("renderer", "lora")) for p in ps)
    with pytest.raises(ValueError, match="unknown parameter group"):
        model.set_trainable(["decoder"])
    model.set_trainable(model.config.trainable)


def test_forward_loss_weights(model):
    recs = raw_records(2)
    recs[1] = InstructionRecord(
        recs[1].motion, recs[1].prompt, [("because the hand moves ", 0.0), ("waving", 1.0)]
    )
    batch = model.collator()(recs)
    w = batch["loss_weights"]
    assert torch.all(w[batch["labels"] == -100] == 0)
    n_zero = int(((batch["labels"][1] != -100) & (w[1] == 0)).sum())
    assert n_zero == len(
        model.tokenizer("because the hand moves ", add_special_tokens=False)["input_ids"]
    )
    with torch.no_grad():
        loss = model(batch)
        batch2 = dict(batch, loss_weights=(batch["labels"] != -100).float())
        assert not torch.isclose(loss, model(batch2))


def test_score_is_target_log_likelihood(model):
    recs = raw_records(2)
    cands = ["waving", "walking", "sit down"]
    with torch.no_grad():
        s = model.score([r.motion for r in recs], "What action?", cands)
        s2 = model.score([r.motion for r in recs], "What action?", [cands, cands], batch_size=2)
    assert s.shape == (2, 3)
    torch.testing.assert_close(s, s2)
    # Score == -(sum of token CE) of the same target under forward().
    rec = InstructionRecord(recs[0].motion, "What action?", "walking")
    batch = model.collator()([rec])
    n_tok = int((batch["labels"] != -100).sum())
    with torch.no_grad():
        nll = model(batch) * n_tok
    assert abs(float(s[0, 1]) + float(nll)) < 1e-3 * max(1.0, float(nll))


def test_generate_returns_text(model):
    out = model.generate([r.motion for r in raw_records(2)], "What action?", max_new_tokens=4)
    assert len(out) == 2 and all(0 < len(model.tokenizer(o)["input_ids"]) <= 4 for o in out)
    assert out == model.generate(
        [r.motion for r in raw_records(2)], "What action?", max_new_tokens=4
    )


def test_mixed_layouts_and_lengths_render_like_single(model):
    import skelformats
    from skelformats import synth

    a = synth.generate("wave", layout="ntu25", seed=0)
    b = synth.generate("squat", layout="coco17", seed=1)
    c = RawSkeleton(torch.randn(7, 5, 2), CHAIN5)
    samples = model.prepare([a, b, c, a])
    assert samples[1].joints.shape[-1] == skelformats.get_layout("coco17").dims
    with torch.no_grad():
        together = model.render(samples)
        alone = torch.cat([model.render([s]) for s in samples])
    torch.testing.assert_close(together, alone, atol=1e-5, rtol=1e-4)


def test_multi_person_motion_is_drawn_together():
    import skelformats

    a = skelformats.Motion(
        np.random.default_rng(0).normal(size=(2, 6, 25, 3)).astype(np.float32), "ntu25"
    )
    s = prepare(a, normalize=False)
    assert s.joints.shape == (6, 50, 3) and s.edges.max() >= 25 and s.tags.shape == (50,)


def test_save_load_identical_outputs(model, tmp_path):
    recs = raw_records(3)
    model.save_pretrained(tmp_path / "ck")
    loaded = SkeletonLLM.from_pretrained(tmp_path / "ck")
    batch = model.collator()(recs)
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(batch), loaded(batch))
        motions = [r.motion for r in recs]
        assert torch.equal(
            model.score(motions, "What action?", ["waving", "walking"]),
            loaded.score(motions, "What action?", ["waving", "walking"]),
        )
    assert model.generate(motions, "What action?", max_new_tokens=5) == loaded.generate(
        motions, "What action?", max_new_tokens=5
    )
    assert loaded.config == model.config
    for name in (
        "config.json",
        "renderer.safetensors",
        "tokenizer.json",
        "preprocessor_config.json",
        "adapter/adapter_model.safetensors",
        "backbone/model.safetensors",
    ):
        assert (tmp_path / "ck" / name).is_file(), name


@pytest.mark.parametrize("backbone", ["tiny-llava", "tiny-idefics3"])
def test_other_families_train_and_roundtrip(backbone, tmp_path):
    m = tiny_model(backbone)
    recs = raw_records(4)
    train_stage(m, recs, out_dir=tmp_path / "run", steps=2, batch_size=2, lr=1e-2, progress=False)
    loaded = SkeletonLLM.from_pretrained(tmp_path / "run" / "model")
    batch = m.collator()(recs)
    m.eval()
    with torch.no_grad():
        assert torch.equal(m(batch), loaded(batch))


def test_lora_checkpoint_loads_onto_base(tmp_path):
    base = tiny_model()
    base.save_pretrained(tmp_path / "base")
    m = SkeletonLLM.from_pretrained(tmp_path / "base")
    train_stage(
        m,
        raw_records(4),
        out_dir=tmp_path / "run",
        steps=2,
        batch_size=2,
        lr=1e-2,
        trainable=["projector", "lora"],
        progress=False,
        save_model=False,
    )
    m.save_pretrained(tmp_path / "adapter", save_base=False)
    assert not (tmp_path / "adapter" / "backbone").exists()
    assert (tmp_path / "adapter" / "adapter" / "adapter_config.json").is_file()
    loaded = SkeletonLLM.from_pretrained(tmp_path / "adapter", base=tmp_path / "base")
    batch = m.collator()(raw_records(2))
    m.eval()
    with torch.no_grad():
        assert torch.equal(m(batch), loaded(batch))
        # the adapter really matters: the base alone answers differently
        assert not torch.equal(m(batch), SkeletonLLM.from_pretrained(tmp_path / "base")(batch))


def _corrupt_cases(ck):
    return [
        ("config.json", lambda: (ck / "config.json").unlink(), "config.json"),
        ("config.json", lambda: (ck / "config.json").write_text("{not json"), "config.json"),
        (
            "config.json",
            lambda: (ck / "config.json").write_text(json.dumps({"backbone": "x", "bogus": 1})),
            "bogus",
        ),
        (
            "renderer",
            lambda: (ck / "renderer.safetensors").write_bytes(b"\x00" * 10),
            "renderer.safetensors",
        ),
        (
            "weights",
            lambda: (ck / "backbone" / "model.safetensors").write_bytes(
                (ck / "backbone" / "model.safetensors").read_bytes()[:500]
            ),
            "model.safetensors",
        ),
        ("adapter", lambda: shutil.rmtree(ck / "adapter"), "adapter_config.json"),
        (
            "tokenizer",
            lambda: [(ck / n).unlink() for n in ("tokenizer.json", "tokenizer_config.json")],
            "tokenizer",
        ),
    ]


@pytest.mark.parametrize("case", range(7))
def test_corrupt_checkpoint_names_the_problem(model, tmp_path, case):
    ck = tmp_path / "ck"
    model.save_pretrained(ck)
    _, damage, expected = _corrupt_cases(ck)[case]
    damage()
    with pytest.raises(CheckpointError, match=expected.replace(".", r"\.")):
        SkeletonLLM.from_pretrained(ck)


def test_missing_checkpoint_dir(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        SkeletonLLM.from_pretrained(tmp_path / "nope")


def test_hub_style_backbone_directory_goes_through_auto_classes(tmp_path):
    """A local HF directory (what a hub id resolves to) loads via AutoTokenizer/AutoModelForImageTextToText;
    the LoRA checkpoint then stores only the adapter and finds its base through config.backbone."""
    from skeletonllm import SkeletonLLMConfig, backbones

    bb = backbones.build_tiny("tiny-qwen2vl", frames=8, size=(56, 56))
    hub = tmp_path / "hub-model"
    bb.model.save_pretrained(hub)
    bb.tokenizer.save_pretrained(hub)
    bb.image_processor.save_pretrained(hub)
    m = SkeletonLLM(SkeletonLLMConfig(backbone=str(hub)))
    assert m.visual_tokens == 16
    ref = SkeletonLLM(SkeletonLLMConfig())  # same seeded tiny weights built in memory
    batch = m.collator()(raw_records(2))
    with torch.no_grad():
        torch.testing.assert_close(m(batch), ref(batch))
    m.save_pretrained(tmp_path / "ck")
    assert not (tmp_path / "ck" / "backbone").exists()  # hub bases are not copied
    loaded = SkeletonLLM.from_pretrained(tmp_path / "ck")
    with torch.no_grad():
        assert torch.equal(m(batch), loaded(batch))


def test_construction_is_seeded_and_leaves_global_rng_alone(model):
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    again = tiny_model()
    assert torch.equal(torch.rand(3), expected)
    for (n, a), (_, b) in zip(model.named_parameters(), again.named_parameters()):
        if n.startswith("renderer.") or "lora_" in n:
            assert torch.equal(a, b), n


def test_left_padding_does_not_change_answers_or_scores(model):
    """Batched (left-padded, M-RoPE positions from the attention mask) == one sample at a time."""
    motions = [r.motion for r in raw_records(2)]
    prompts = ["What action?", "Which action does this skeleton sequence show? Answer briefly."]
    together = model.generate(motions, prompts, max_new_tokens=4)
    alone = [model.generate([m], [p], max_new_tokens=4)[0] for m, p in zip(motions, prompts)]
    assert together == alone
    cands = [["waving", "sit down"], ["walking", "waving"]]
    s = model.score(motions, prompts, cands)
    s1 = torch.cat([model.score([m], [p], [c]) for m, p, c in zip(motions, prompts, cands)])
    torch.testing.assert_close(s, s1, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("backbone", ["tiny-qwen2vl", "tiny-llava", "tiny-idefics3"])
def test_score_runs_vision_once_and_matches_full_forward(backbone):
    m = tiny_model(backbone)
    tower = {
        "tiny-qwen2vl": "visual",
        "tiny-llava": "vision_tower",
        "tiny-idefics3": "vision_model",
    }[backbone]
    calls = []
    m.backbone.model.get_submodule(tower).register_forward_hook(lambda *a: calls.append(1))
    motions = [r.motion for r in raw_records(3)]
    cands = ["waving", "walking", "sit down", "stand up"]
    with torch.no_grad():
        fast = m.score(motions, "What action?", cands, batch_size=5)
        assert len(calls) == 1
        slow = m.score(motions, "What action?", cands, batch_size=5, encode_once=False)
    assert len(calls) == 1 + 3  # one vision pass per chunk of pairs
    torch.testing.assert_close(fast, slow, atol=1e-5, rtol=1e-5)
