"""Records, synthetic sets, captions and the collator."""

import random

import numpy as np
import pytest
import torch
from helpers import CHAIN5, tiny_model
from hypothesis import given, settings
from hypothesis import strategies as st
from skeletonllm import InstructionRecord, RawSkeleton, synthetic_records
from skeletonllm.data import caption_from_params
from skeletonllm.inputs import group, prepare


@pytest.fixture(scope="module")
def model():
    return tiny_model()


def test_synthetic_recognition_records():
    recs = synthetic_records(6, actions=["wave", "sit_down"], layouts=["ntu25", "coco17"], seed=2)
    assert [r.target for r in recs] == ["wave", "sit down"] * 3
    assert [r.motion.layout.name for r in recs] == [
        "ntu25",
        "ntu25",
        "coco17",
        "coco17",
        "ntu25",
        "ntu25",
    ]
    assert len({r.id for r in recs}) == 6 and all(r.task == "recognition" for r in recs)
    assert all(r.meta["params"]["action"] == r.meta["action"] for r in recs)


def test_captions_follow_ground_truth_in_varied_wording():
    recs = synthetic_records(30, task="captioning", actions=["wave", "clap", "squat"], seed=0)
    for r in recs:
        p = r.meta["params"]
        reps = p.get("repetitions")
        if isinstance(reps, int) and reps > 1:
            words = {2: "twice", 3: "three times", 4: "four times", 5: "five times", 6: "six times"}
            assert f"{reps} times" in r.target or words.get(reps, "@") in r.target, (r.target, reps)
        if r.meta["action"] == "wave":
            assert p["limb"].replace("_", " ") in r.target
    assert len({r.target.split()[0] + r.target.split()[1] for r in recs}) > 1  # subjects vary
    assert len({r.prompt for r in recs}) > 1


def test_caption_handles_missing_params():
    text = caption_from_params("bow", {}, random.Random(0))
    assert "bows" in text and text.endswith(".")


def test_collator_masks_prompt_and_pads_left(model):
    recs = [
        InstructionRecord(RawSkeleton(torch.randn(t, 5, 3), CHAIN5), "What action?", tgt, id=str(t))
        for t, tgt in [(9, "waving"), (14, "sit down slowly")]
    ]
    b = model.collator()(recs)
    assert b["input_ids"].shape == b["labels"].shape == b["loss_weights"].shape
    for i, r in enumerate(recs):
        tgt = b["labels"][i][b["labels"][i] != -100].tolist()
        assert model.tokenizer.decode(tgt) == r.target + model.tokenizer.eos_token
        assert b["attention_mask"][i, -1] == 1  # left padding: sequences end at the right edge
    vid = model.tokenizer.convert_tokens_to_ids("<|video_pad|>")
    assert ((b["input_ids"] == vid).sum(1) == model.visual_tokens).all()
    assert b["ids"] == ["9", "14"]


@settings(max_examples=15, deadline=None)
@given(
    lengths=st.lists(st.integers(1, 12), min_size=1, max_size=5),
    joints=st.lists(st.sampled_from([3, 5]), min_size=5, max_size=5),
    dims=st.sampled_from([2, 3]),
)
def test_grouping_pads_each_layout(lengths, joints, dims):
    samples = []
    for t, j in zip(lengths, joints):
        edges = [[k, k + 1] for k in range(j - 1)]
        samples.append(prepare(RawSkeleton(np.random.default_rng(t).random((t, j, dims)), edges)))
    groups = group(samples)
    covered = sorted(i for g in groups for i in g.index.tolist())
    assert covered == list(range(len(samples)))
    for g in groups:
        for row, i in enumerate(g.index.tolist()):
            t = samples[i].joints.shape[0]
            assert g.lengths[row] == t
            assert torch.equal(g.joints[row, :t], samples[i].joints)
            assert g.mask[row, t:].sum() == 0


def test_bad_raw_input_is_a_clear_error():
    with pytest.raises(ValueError, match="edge index out of range"):
        prepare(RawSkeleton(np.zeros((4, 3, 3)), [[0, 5]]))
    with pytest.raises(ValueError, match=r"raw joints must be \(T, J, 2\|3\)"):
        prepare(RawSkeleton(np.zeros((4, 3)), [[0, 1]]))
    with pytest.raises(TypeError, match="expected a skelformats.Motion"):
        prepare("walk.bvh")


def test_collator_augments_with_keys_only(model):
    from skeletonllm.data import with_augment
    from skelformats.augment import Augment

    recs = synthetic_records(2, actions=["wave", "squat"], layouts=["ntu25"], seed=0)
    aug = with_augment(recs, {"project": 1.0})
    assert all(isinstance(r.augment, Augment) for r in aug) and recs[0].augment is None
    col = model.collator()
    plain = col(aug)  # evaluation path: no keys, the motion as recorded
    assert [s.joints.shape[-1] for s in plain["samples"]] == [3, 3]
    a = col(aug, keys=[(0, 0, 0), (0, 0, 1)])
    b = col(aug, keys=[(0, 0, 0), (0, 0, 1)])
    c = col(aug, keys=[(0, 1, 0), (0, 1, 1)])
    assert [s.joints.shape[-1] for s in a["samples"]] == [2, 2]  # projected to 2D
    for sa, sb, sc in zip(a["samples"], b["samples"], c["samples"]):
        assert torch.equal(sa.joints, sb.joints)  # a pure function of (seed, epoch, index)
        assert sa.joints.shape != sc.joints.shape or not torch.equal(sa.joints, sc.joints)
    assert torch.equal(a["input_ids"], plain["input_ids"])  # text untouched
    assert with_augment(recs, False)[0].augment is None
    with pytest.raises(ValueError, match="2 records"):
        col(aug, keys=[(0, 0, 0)])


def test_trained_labels_are_recorded_in_the_config(tmp_path):
    from skeletonllm import SkeletonLLMConfig
    from skeletonllm.data import trained_labels

    recs = synthetic_records(3, actions=["wave", "sit_down", "clap"], seed=0)
    recs.append(InstructionRecord(recs[0].motion, "Describe.", "A person waves.", "captioning"))
    assert trained_labels(recs, ("kick",)) == ("clap", "kick", "sit down", "wave")
    cfg = SkeletonLLMConfig(trained_labels=["wave"])
    cfg.save(tmp_path / "config.json")
    assert SkeletonLLMConfig.load(tmp_path / "config.json").trained_labels == ("wave",)
