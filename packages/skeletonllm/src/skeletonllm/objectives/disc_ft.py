"""Disc-FT: discriminative fine-tuning on confusable actions.

Two complementary signals, usable together:

- balanced yes/no questions, "Is the person doing <action>?": for every sample one question about its true
  action (yes) and one about a confusable action (no), so the two answers are exactly balanced;
- a ranking loss over candidate answers: the length-normalised log-likelihood of the correct label against
  the hardest negatives (mined confusable labels), with trl's DPO loss shapes in their reference-free form
  (``sigmoid`` = -log sigmoid(beta * margin), ``hinge`` = relu(1 - beta * margin),
  ``ipo`` = (margin - 1 / (2 beta))^2).
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from ..mining import hardest_negatives

YES_NO_PROMPT = "Is the person doing {action}? Answer yes or no."
RANK_PROMPT = "What action is the person performing?"
LOSS_TYPES = ("sigmoid", "hinge", "ipo")


def _phrase(label: str) -> str:
    return str(label).replace("_", " ")


def yes_no_records(
    samples: Sequence,
    pairs: Sequence[dict],
    labels: Sequence[str],
    *,
    seed: int = 0,
    hard_k: int = 2,
    id_prefix: str = "disc",
) -> list:
    """Two records per sample: its true action (target ``yes``) and one of its ``hard_k`` most confusable
    actions from ``pairs`` (target ``no``; a random other label when no pair names it)."""
    from ..data import InstructionRecord

    rng = random.Random(seed)
    labels = list(dict.fromkeys(labels))
    if len(labels) < 2:
        raise ValueError("yes/no questions need at least two labels")
    out = []
    for i, s in enumerate(samples):
        sid = getattr(s, "id", "") or f"{i:06d}"
        others = [lab for lab in labels if lab != s.label]
        hard = hardest_negatives(s.label, pairs, k=hard_k) or others
        neg = rng.choice(hard) if rng.random() < 0.8 else rng.choice(others)
        for target, action in (("yes", s.label), ("no", neg)):
            out.append(
                InstructionRecord(
                    s.motion,
                    YES_NO_PROMPT.format(action=_phrase(action)),
                    target,
                    "qa",
                    f"{id_prefix}-{target}-{sid}",
                    {"label": s.label, "asked": action, "objective": "disc_ft"},
                )
            )
    return out


def ranking_loss(
    pos: torch.Tensor, neg: torch.Tensor, *, loss_type: str = "sigmoid", beta: float = 1.0
) -> torch.Tensor:
    """pos (B,), neg (B, K) log-likelihoods -> mean loss over the B x K (correct, negative) pairs."""
    if loss_type not in LOSS_TYPES:
        raise ValueError(f"unknown ranking loss {loss_type!r}; choose from {LOSS_TYPES}")
    margin = pos[:, None] - neg
    if loss_type == "sigmoid":
        loss = -F.logsigmoid(beta * margin)
    elif loss_type == "hinge":
        loss = torch.relu(1 - beta * margin)
    else:
        loss = (margin - 1 / (2 * beta)) ** 2
    return loss.mean()


def sequence_logprobs(
    model, samples: Sequence, prompts: Sequence[str], answers: Sequence[str]
) -> torch.Tensor:
    """Differentiable mean token log-likelihood (N,) of each answer given its (prepared) sample and prompt."""
    from ..model import IGNORE, token_logprobs
    from ..training import unwrap

    text = unwrap(model).text
    batch = text.pad([text.encode(p, a) for p, a in zip(prompts, answers)])
    batch["samples"] = list(samples)
    _, logits = model(batch, return_logits=True)
    labels = batch["labels"].to(logits.device)
    lp = token_logprobs(logits, labels)
    mask = (labels[:, 1:] != IGNORE).float()
    return (lp * mask).sum(-1) / mask.sum(-1).clamp_min(1)


class DiscFT:
    """``objective(model, batch)``: the batch LM loss (yes/no answers, labels) plus ``ranking_weight`` x the
    ranking loss for the batch samples listed in ``candidates``.

    candidates: record id -> ``(prompt, correct, [negatives...])``; build it with :meth:`candidates_for`.
    """

    def __init__(
        self,
        candidates: dict | None = None,
        *,
        loss_type: str = "sigmoid",
        beta: float = 2.0,
        ranking_weight: float = 1.0,
        lm_weight: float = 1.0,
    ):
        if loss_type not in LOSS_TYPES:
            raise ValueError(f"unknown ranking loss {loss_type!r}; choose from {LOSS_TYPES}")
        self.candidates = dict(candidates or {})
        self.loss_type = loss_type
        self.beta = float(beta)
        self.ranking_weight = float(ranking_weight)
        self.lm_weight = float(lm_weight)

    @staticmethod
    def candidates_for(
        records: Sequence,
        pairs: Sequence[dict],
        labels: Sequence[str],
        *,
        k: int = 2,
        seed: int = 0,
    ) -> dict:
        """id -> (prompt, correct, k hardest negatives) for recognition records (``meta['action']`` or target)."""
        rng = random.Random(seed)
        labels = list(dict.fromkeys(labels))
        out = {}
        for r in records:
            if r.task != "recognition":
                continue
            action = r.meta.get("action") or r.target_text
            others = [lab for lab in labels if lab != action]
            rng.shuffle(others)
            negs = hardest_negatives(action, pairs, k=k, candidates=others)
            out[r.id] = (r.prompt, _phrase(action), [_phrase(n) for n in negs])
        return out

    def __call__(self, model, batch):
        lm = model(batch)
        loss = lm * self.lm_weight
        logs = {"lm": float(lm.detach())}
        if not self.ranking_weight or not self.candidates:
            return loss, logs
        rows = [
            (i, self.candidates[sid])
            for i, sid in enumerate(batch.get("ids", []))
            if sid in self.candidates
        ]
        rows = [(i, c) for i, c in rows if c[2]]
        if not rows:
            return loss, logs
        k = min(len(c[2]) for _, c in rows)
        samples, prompts, answers = [], [], []
        for i, (prompt, correct, negs) in rows:
            for ans in [correct, *negs[:k]]:
                samples.append(batch["samples"][i])
                prompts.append(prompt)
                answers.append(ans)
        lp = sequence_logprobs(model, samples, prompts, answers).view(len(rows), k + 1)
        rank = ranking_loss(lp[:, 0], lp[:, 1:], loss_type=self.loss_type, beta=self.beta)
        logs["rank"] = float(rank.detach())
        logs["rank_acc"] = float((lp[:, :1] > lp[:, 1:]).all(-1).float().mean())
        return loss + self.ranking_weight * rank, logs
