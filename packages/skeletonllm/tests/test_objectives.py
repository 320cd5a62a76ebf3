"""CR-Distill and Disc-FT objectives on the tiny model, and the divergences/ranking losses they use."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from skeletonllm import SkeletonLLM, SkeletonLLMConfig
from skeletonllm.distill import synthetic_samples
from skeletonllm.objectives import (
    CRDistill,
    DiscFT,
    cr_distill_records,
    get_objective,
    ranking_loss,
    sequence_logprobs,
    yes_no_records,
)
from skeletonllm.recipe import recognition_records
from skeletonllm.teachers import HFTeacher, generalized_jsd_loss, get_teacher

ACTIONS = ["wave", "clap", "kick", "sit_down"]


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return SkeletonLLM(SkeletonLLMConfig(renderer={"frames": 4, "size": (28, 28)}))


@pytest.fixture(scope="module")
def samples():
    return synthetic_samples(1, actions=ACTIONS)


def test_cr_distill_records_hide_the_label_and_weight_tokens(model, samples):
    teacher = get_teacher("kinematic", max_observations=2)
    rats = teacher.rationales([s.motion for s in samples], [s.label for s in samples])
    recs = cr_distill_records(samples, rats, rationale_weight=0.25, answer_weight=2.0)
    batch = model.collator()(recs)
    tok = model.tokenizer
    for i, (r, s) in enumerate(zip(recs, samples)):
        assert s.label not in r.prompt and s.label.replace("_", " ") not in r.prompt
        w = batch["loss_weights"][i]
        ids = batch["input_ids"][i]
        labels = batch["labels"][i]
        assert set(w[labels == -100].tolist()) <= {0.0}
        answer = tok.decode(ids[w == 2.0], skip_special_tokens=True)
        assert answer.strip() == f"Answer: {s.label.replace('_', ' ')}"
        rationale = tok.decode(ids[w == 0.25], skip_special_tokens=True)
        assert rationale.startswith("Observations:") and "Causal chain:" in rationale
        assert "Answer:" not in rationale


def test_rationale_weight_zero_trains_only_the_answer(model, samples):
    teacher = get_teacher("kinematic", max_observations=2)
    rats = teacher.rationales([s.motion for s in samples[:2]], [s.label for s in samples[:2]])
    recs = cr_distill_records(samples[:2], rats, rationale_weight=0.0)
    batch = model.collator()(recs)
    loss, logits = model(batch, return_logits=True)
    # Same loss from the answer tokens alone, computed independently.
    labels = batch["labels"].clone()
    labels[batch["loss_weights"] == 0] = -100
    ref = F.cross_entropy(
        logits[:, :-1].flatten(0, 1).float(), labels[:, 1:].flatten(), ignore_index=-100
    )
    assert torch.allclose(loss, ref, atol=1e-5)


def test_cr_distill_with_logit_teacher(model, samples):
    rats = get_teacher("kinematic", max_observations=1).rationales(
        [s.motion for s in samples[:2]], ["wave", "clap"]
    )
    batch = model.collator()(cr_distill_records(samples[:2], rats))
    same = HFTeacher(copy.deepcopy(model), beta=0.5)
    loss, logs = CRDistill(same, kd_weight=1.0)(model, batch)
    assert logs["kd"] == pytest.approx(
        0.0, abs=1e-6
    )  # a teacher identical to the student adds nothing
    assert loss.item() == pytest.approx(model(batch).item(), rel=1e-5)
    other = copy.deepcopy(model)
    with torch.no_grad():
        for p in other.backbone.parameters():
            p.add_(0.05 * torch.randn_like(p))
    student = copy.deepcopy(model)
    student.set_trainable(["projector"])
    loss, logs = CRDistill(HFTeacher(other), kd_weight=1.0)(student, batch)
    assert logs["kd"] > 0
    loss.backward()
    assert any(
        p.grad is not None and p.grad.abs().sum() > 0
        for p in student.parameters()
        if p.requires_grad
    )


def _jsd_by_hand(s, t, mask, beta):
    """GKD's generalised JSD written out from softmax probabilities, averaged over the masked tokens:
    beta * KL(T || M) + (1 - beta) * KL(S || M) with M = beta * T + (1 - beta) * S; beta = 0 is
    KL(T || S), beta = 1 is KL(S || T)."""
    ps, pt = F.softmax(s.double(), -1), F.softmax(t.double(), -1)

    def kl(p, q):
        return (p * (p.log() - q.log())).sum(-1)

    if beta == 0:
        per_token = kl(pt, ps)
    elif beta == 1:
        per_token = kl(ps, pt)
    else:
        mix = beta * pt + (1 - beta) * ps
        per_token = beta * kl(pt, mix) + (1 - beta) * kl(ps, mix)
    return per_token[mask].mean().item()


@pytest.fixture
def jsd_inputs():
    g = torch.Generator().manual_seed(0)
    s, t = torch.randn(2, 5, 7, generator=g), 2 * torch.randn(2, 5, 7, generator=g)
    labels = torch.tensor([[-100, 1, 2, -100, 3], [4, -100, -100, -100, 1]])
    return s, t, labels


@pytest.mark.parametrize("use_trl", [True, False], ids=["trl", "fallback"])
@pytest.mark.parametrize("beta", [0.0, 0.1, 0.5, 0.9, 1.0])
def test_jsd_matches_definitions(jsd_inputs, beta, use_trl, monkeypatch):
    from skeletonllm.teachers import hf

    if not use_trl:  # the path taken where trl is not installed
        monkeypatch.setattr(hf, "_trl_jsd", lambda: None)
    s, t, labels = jsd_inputs
    want = _jsd_by_hand(s, t, labels != -100, beta)
    got = generalized_jsd_loss(s, t, labels, beta=beta)
    assert got.item() == pytest.approx(want, rel=1e-5)
    # Without labels every position counts.
    got = generalized_jsd_loss(s, t, beta=beta)
    assert got.item() == pytest.approx(_jsd_by_hand(s, t, labels == labels, beta), rel=1e-5)
    # Temperature divides both logits.
    got = generalized_jsd_loss(s, t, labels, beta=beta, temperature=2.0)
    assert got.item() == pytest.approx(_jsd_by_hand(s / 2, t / 2, labels != -100, beta), rel=1e-5)
    assert generalized_jsd_loss(s, s, labels, beta=beta).item() == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ValueError, match="shared tokenizer"):
        generalized_jsd_loss(s, t[..., :5], labels)


@pytest.mark.parametrize("beta", [0.0, 0.1, 0.5, 0.9, 1.0])
def test_jsd_agrees_with_trls_gkd_loss(jsd_inputs, beta):
    # trl is a test dependency: the comparison must run wherever the suite runs.
    from skeletonllm.teachers.hf import _jsd_reference, _trl_jsd

    trl_loss = _trl_jsd()
    assert trl_loss is not None, "trl's GKDTrainer did not import"
    s, t, labels = jsd_inputs
    n = int((labels != -100).sum())
    ours = generalized_jsd_loss(s, t, labels, beta=beta)
    fallback = _jsd_reference(s, t, labels, beta)
    total = trl_loss(s, t, labels=labels, beta=beta, reduction="sum")
    assert ours.item() == pytest.approx(total.item() / n, rel=1e-6)
    assert fallback.item() == pytest.approx(total.item() / n, rel=1e-5)
    # trl's default "batchmean" with labels is the same per-answer-token mean.
    batchmean = trl_loss(s, t, labels=labels, beta=beta)
    assert ours.item() == pytest.approx(batchmean.item(), rel=1e-6)
    # Without labels trl's batchmean divides by the batch size; ours is per token.
    unmasked = trl_loss(s, t, beta=beta, reduction="batchmean")
    assert generalized_jsd_loss(s, t, beta=beta).item() == pytest.approx(
        unmasked.item() / s.shape[1], rel=1e-6
    )
    # Gradients flow to the student the same way.
    s1, s2 = s.clone().requires_grad_(), s.clone().requires_grad_()
    generalized_jsd_loss(s1, t, labels, beta=beta).backward()
    (trl_loss(s2, t, labels=labels, beta=beta, reduction="sum") / n).backward()
    assert torch.allclose(s1.grad, s2.grad, atol=1e-7)


@settings(max_examples=30, deadline=None)
@given(
    st.floats(-5, 5),
    st.floats(-5, 5),
    st.floats(0.1, 5),
    st.sampled_from(["sigmoid", "hinge", "ipo"]),
)
def test_ranking_loss_shapes(pos, neg, beta, kind):
    p, n = torch.tensor([pos]), torch.tensor([[neg]])
    got = ranking_loss(p, n, loss_type=kind, beta=beta).item()
    m = pos - neg
    want = {
        "sigmoid": -F.logsigmoid(torch.tensor(beta * m)).item(),
        "hinge": max(0.0, 1 - beta * m),
        "ipo": (m - 1 / (2 * beta)) ** 2,
    }[kind]
    assert got == pytest.approx(want, rel=1e-4, abs=1e-5)
    if kind != "ipo":  # more margin never hurts
        assert ranking_loss(p + 1, n, loss_type=kind, beta=beta).item() <= got + 1e-6
    with pytest.raises(ValueError, match="unknown ranking loss"):
        ranking_loss(p, n, loss_type="dpo")


def test_yes_no_records_are_balanced_and_use_mined_pairs(samples):
    pairs = [{"a": "kick", "b": "wave", "score": 0.9}, {"a": "clap", "b": "sit_down", "score": 0.8}]
    recs = yes_no_records(samples * 10, pairs, ACTIONS, seed=3)
    assert [r.target for r in recs].count("yes") == [r.target for r in recs].count("no") == 40
    partner = {"kick": "wave", "wave": "kick", "clap": "sit_down", "sit_down": "clap"}
    negs = [r for r in recs if r.target == "no"]
    assert all(r.meta["asked"] != r.meta["label"] for r in negs)
    hard = sum(r.meta["asked"] == partner[r.meta["label"]] for r in negs)
    assert hard >= 0.6 * len(negs)  # mostly the hardest negative
    assert all(r.prompt.startswith("Is the person doing ") for r in recs)


def test_sequence_logprobs_agree_with_score(model, samples):
    prompt = "What action is the person performing?"
    motions = [s.motion for s in samples[:2]]
    cands = ["wave", "sit down"]
    scores = model.score(motions, prompt, cands, normalize=True)
    prepared = model.prepare(motions)
    lp = sequence_logprobs(model, [prepared[i] for i in (0, 0, 1, 1)], [prompt] * 4, cands * 2)
    assert torch.allclose(lp.detach().view(2, 2), scores, atol=1e-4)


def test_disc_ft_ranking_improves_the_margin(samples):
    torch.manual_seed(0)
    model = SkeletonLLM(SkeletonLLMConfig(renderer={"frames": 4, "size": (28, 28)}))
    model.set_trainable(["renderer", "projector"])
    rec = recognition_records(samples[:2])
    pairs = [{"a": "wave", "b": "clap", "score": 0.5}, {"a": "clap", "b": "kick", "score": 0.5}]
    obj = get_objective(
        "disc_ft",
        candidates=DiscFT.candidates_for(rec, pairs, ACTIONS, k=1),
        lm_weight=0.0,
        loss_type="sigmoid",
        beta=1.0,
    )
    batch = model.collator()(rec)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=0.01)
    margins = []
    for _ in range(8):
        loss, logs = obj(model, batch)
        margins.append(logs["rank"])
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert margins[-1] < margins[0]
    assert set(logs) >= {"lm", "rank", "rank_acc"}
