"""A local Hugging Face teacher: rationales by generation, and logit-level distillation on answer tokens.

Logit-level distillation needs the teacher and the student to share a tokenizer (the loss compares the two
next-token distributions position by position). The divergence is trl's generalised Jensen-Shannon
divergence of GKD (Agarwal et al., 2024): ``beta = 0`` is forward KL(teacher || student), ``beta = 1``
reverse KL, values between interpolate.
"""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F

from .base import ANSWER_PREFIX, Teacher, answer_line

PROMPT = (
    "The person performs the action '{label}'. Explain step by step from the body movement why, "
    "then end with '{answer}'."
)


def _trl_jsd():
    """trl's GKD loss when trl imports cleanly (it lives in trl.experimental in recent releases)."""
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    try:
        from trl.experimental.gkd import GKDTrainer
    except Exception:  # noqa: BLE001 - older layouts, or trl missing optional pieces
        try:
            from trl import GKDTrainer
        except Exception:  # noqa: BLE001
            return None
    return GKDTrainer.generalized_jsd_loss


def _jsd_reference(student_logits, teacher_logits, labels=None, beta=0.5, temperature=1.0):
    """Eq. (1) of the GKD paper, token-averaged; used only when trl is unavailable."""
    s = F.log_softmax(student_logits / temperature, -1)
    t = F.log_softmax(teacher_logits / temperature, -1)
    if beta == 0:
        jsd = F.kl_div(s, t, reduction="none", log_target=True)
    elif beta == 1:
        jsd = F.kl_div(t, s, reduction="none", log_target=True)
    else:
        b = torch.tensor(beta, dtype=s.dtype, device=s.device)
        m = torch.logsumexp(torch.stack([s + torch.log1p(-b), t + torch.log(b)]), 0)
        jsd = b * F.kl_div(m, t, reduction="none", log_target=True) + (1 - b) * F.kl_div(
            m, s, reduction="none", log_target=True
        )
    jsd = jsd.sum(-1)
    if labels is not None:
        jsd = jsd[labels != -100]
    return jsd.sum() / max(jsd.numel(), 1)


def generalized_jsd_loss(
    student_logits, teacher_logits, labels=None, *, beta: float = 0.5, temperature: float = 1.0
):
    """Generalised JSD between (B, L, V) student and teacher logits over positions where ``labels != -100``
    (the answer tokens); mean over those positions."""
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(
            f"student logits {tuple(student_logits.shape)} and teacher logits {tuple(teacher_logits.shape)} differ; "
            "logit-level distillation needs a shared tokenizer and the same token sequence"
        )
    fn = _trl_jsd()
    if fn is None:
        return _jsd_reference(student_logits, teacher_logits, labels, beta, temperature)
    if labels is not None:
        n = int((labels != -100).sum())
        # trl's "batchmean" divides by the batch size; normalise by answer tokens instead.
        out = fn(
            student_logits,
            teacher_logits,
            labels=labels,
            beta=beta,
            temperature=temperature,
            reduction="sum",
        )
        return out / max(n, 1)
    return fn(
        student_logits, teacher_logits, beta=beta, temperature=temperature, reduction="batchmean"
    ) / max(student_logits.shape[1], 1)


class HFTeacher(Teacher):
    """Wraps a SkeletonLLM (object or checkpoint ``path``) as a teacher.

    ``rationale`` generates an explanation with the label in the prompt; ``distill_loss`` compares student
    and teacher logits on the same batch (see :func:`generalized_jsd_loss`).
    """

    name = "hf"

    def __init__(
        self,
        model=None,
        *,
        path: str | None = None,
        beta: float = 0.5,
        temperature: float = 1.0,
        max_new_tokens: int = 96,
    ):
        if model is None:
            if path is None:
                raise ValueError("HFTeacher needs a model object or a checkpoint path")
            from ..model import SkeletonLLM

            model = SkeletonLLM.from_pretrained(path)
        self.model = model.eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.beta = float(beta)
        self.temperature = float(temperature)
        self.max_new_tokens = int(max_new_tokens)

    def rationales(self, motions, labels):
        prompts = [
            PROMPT.format(label=str(lab).replace("_", " "), answer=answer_line(lab))
            for lab in labels
        ]
        with torch.no_grad():
            texts = self.model.generate(list(motions), prompts, max_new_tokens=self.max_new_tokens)
        out = []
        for text, lab in zip(texts, labels):
            lines = [
                ln
                for ln in str(text).strip().splitlines()
                if not ln.strip().startswith(ANSWER_PREFIX)
            ]
            out.append("\n".join(lines + [answer_line(lab)]).strip())
        return out

    def rationale(self, motion, label):
        return self.rationales([motion], [label])[0]

    def distill_loss(self, student_logits, teacher_logits, labels=None):
        return generalized_jsd_loss(
            student_logits, teacher_logits, labels, beta=self.beta, temperature=self.temperature
        )
