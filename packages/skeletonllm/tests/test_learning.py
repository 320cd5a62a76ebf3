"""The tiny default model actually learns from its inputs: text and rendered skeletons.

Guards against a model that trains (loss goes down to the answer prior) while ignoring what it is shown,
which an accuracy-free test cannot see.
"""

import torch
from helpers import tiny_model
from skeletonllm import InstructionRecord, synthetic_records

ACTIONS = ("wave", "squat", "jump")


def _fit(model, records, steps: int, lr: float, batch_size: int, seed: int = 0) -> float:
    collate = model.collator()
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        idx = torch.randperm(len(records), generator=g)[:batch_size].tolist()
        loss = model(collate([records[i] for i in idx]))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return loss.item()


def _accuracy(model, records, candidates) -> float:
    scores = model.score([r.motion for r in records], [r.prompt for r in records], candidates)
    pred = [candidates[i] for i in scores.argmax(1).tolist()]
    return sum(p == r.target for p, r in zip(pred, records)) / len(records)


def test_default_model_learns_synthetic_actions_held_out():
    """renderer + projector + LoRA (the default groups) on 3 actions: held-out accuracy well above 1/3."""
    torch.manual_seed(0)
    model = tiny_model()
    assert set(model.trainable_groups) == {"renderer", "projector", "lora"}
    train = synthetic_records(24, actions=ACTIONS, seed=0)
    held_out = synthetic_records(48, actions=ACTIONS, seed=1000)  # 16 per action
    candidates = [r.target for r in train[: len(ACTIONS)]]
    assert sorted(candidates) == sorted(ACTIONS)
    _fit(model, train, steps=80, lr=5e-3, batch_size=6)
    assert _accuracy(model, train, candidates) >= 0.75
    # Chance is 1/3, and the prompt or the answer prior alone gives 1/3 on balanced classes. A model
    # guessing at random reaches 36 of 48 with probability P(Binomial(48, 1/3) >= 36) = 4.3e-9.
    assert _accuracy(model, held_out, candidates) >= 36 / 48


def test_answer_depends_on_one_prompt_word():
    """Same skeleton, prompts differing in one word: all groups fit it (the answers must differ)."""
    motion = synthetic_records(1, actions=["wave"])[0].motion
    prompts = ["Which hand moves left?", "Which hand moves right?"]
    records = [
        InstructionRecord(motion, prompts[0], "yes"),
        InstructionRecord(motion, prompts[1], "wave"),
    ]
    model = tiny_model(trainable=("renderer", "projector", "lora", "llm", "vision"))
    _fit(model, records, steps=30, lr=1e-2, batch_size=2)
    scores = model.score([motion, motion], prompts, ["yes", "wave"])
    assert scores[0].argmax() == 0 and scores[1].argmax() == 1
    assert (scores[0, 0] - scores[0, 1]) > 2 and (scores[1, 1] - scores[1, 0]) > 2
