"""CR-Distill: causal-reasoning distillation.

The teacher sees the label and explains it; the student is asked the plain question (no label) and learns
to produce the teacher's rationale followed by the answer. Rationale and answer tokens are weighted
separately (``rationale_weight`` vs ``answer_weight``) through the record's weighted target segments.
With an ``hf`` teacher sharing the tokenizer, a logit-level term (generalised JSD, as trl's GKD) on the
answer tokens is added.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..teachers.base import ANSWER_PREFIX, answer_line

PROMPT = "What action is the person performing? Explain your reasoning step by step, then give the answer."


def split_rationale(text: str, label: str) -> tuple[str, str]:
    """(reasoning, answer line): the teacher's closing ``Answer:`` line is replaced by the true one."""
    lines = [ln for ln in str(text).strip().splitlines() if ln.strip()]
    body = [ln for ln in lines if not ln.strip().startswith(ANSWER_PREFIX)]
    return "\n".join(body), answer_line(label)


def cr_distill_records(
    samples: Sequence,
    rationales: Sequence[str],
    *,
    rationale_weight: float = 0.5,
    answer_weight: float = 1.0,
    prompt: str = PROMPT,
    id_prefix: str = "crd",
) -> list:
    """InstructionRecords (task ``qa``) whose target is ``[(rationale, rationale_weight), (answer,
    answer_weight)]``. ``samples``: objects with ``motion``, ``label`` and optionally ``id``."""
    from ..data import InstructionRecord

    if len(samples) != len(rationales):
        raise ValueError(f"{len(samples)} samples but {len(rationales)} rationales")
    if rationale_weight < 0 or answer_weight <= 0:
        raise ValueError("rationale_weight must be >= 0 and answer_weight > 0")
    out = []
    for i, (s, text) in enumerate(zip(samples, rationales)):
        label = str(s.label).replace("_", " ")
        body, answer = split_rationale(text, label)
        target = ([(body + "\n", float(rationale_weight))] if body else []) + [
            (answer, float(answer_weight))
        ]
        sid = getattr(s, "id", "") or f"{i:06d}"
        out.append(
            InstructionRecord(
                s.motion,
                prompt,
                target,
                "qa",
                f"{id_prefix}-{sid}",
                {"label": s.label, "objective": "cr_distill"},
            )
        )
    return out


class CRDistill:
    """Weighted LM loss on rationale + answer; plus ``kd_weight`` x generalised JSD to ``teacher``'s logits on
    the answer tokens (the positions carrying the largest loss weight) when an ``hf`` teacher is given."""

    def __init__(
        self,
        teacher=None,
        *,
        kd_weight: float = 1.0,
        beta: float | None = None,
        temperature: float | None = None,
    ):
        self.teacher = teacher
        self.kd_weight = float(kd_weight)
        self.beta = beta
        self.temperature = temperature

    def __call__(self, model, batch):
        if self.teacher is None or self.kd_weight == 0:
            return model(batch), {}
        import torch

        from ..teachers.hf import generalized_jsd_loss

        loss, logits = model(batch, return_logits=True)
        with torch.no_grad():
            _, t_logits = self.teacher.model(batch, return_logits=True)
        labels = batch["labels"].to(logits.device)
        w = batch.get("loss_weights")
        if w is not None:
            w = w.to(logits.device)
            answer = (labels != -100) & (
                w >= w.masked_fill(labels == -100, 0).amax(-1, keepdim=True)
            )
            labels = labels.masked_fill(~answer, -100)
        beta = self.beta if self.beta is not None else getattr(self.teacher, "beta", 0.5)
        temp = (
            self.temperature
            if self.temperature is not None
            else getattr(self.teacher, "temperature", 1.0)
        )
        # logits[t] predicts token t+1
        kd = generalized_jsd_loss(
            logits[:, :-1],
            t_logits[:, :-1].to(logits.dtype),
            labels[:, 1:],
            beta=beta,
            temperature=temp,
        )
        return loss + self.kd_weight * kd, {"lm": float(loss.detach()), "kd": float(kd.detach())}
