"""Training objectives: callables ``objective(model, batch) -> (loss, logs)`` (the ``train_stage`` contract) plus the record builders that feed them.

- ``lm``: the model's own weighted token loss (``SkeletonLLM.forward``).
- ``cr_distill``: causal-reasoning distillation; the student sees no label and learns rationale + answer
  with configurable rationale/answer token weights, optionally plus a logit-level term from an ``hf`` teacher.
- ``disc_ft``: discriminative fine-tuning; balanced yes/no questions about confusable actions and/or a
  ranking loss (DPO-style ``sigmoid``/``hinge``/``ipo``) of the correct answer against the hardest negatives.

Register more with :func:`register_objective`.
"""

from __future__ import annotations

from collections.abc import Callable

from .cr_distill import CRDistill, cr_distill_records, split_rationale
from .disc_ft import DiscFT, ranking_loss, sequence_logprobs, yes_no_records

_REGISTRY: dict[str, Callable] = {}


def register_objective(name: str, factory: Callable | None = None):
    """Register an objective factory under ``name`` (usable as a decorator)."""

    def deco(f):
        _REGISTRY[name] = f
        return f

    return deco(factory) if factory is not None else deco


def get_objective(name: str, **kwargs):
    if name not in _REGISTRY:
        raise KeyError(f"unknown objective {name!r}; registered: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name](**kwargs)


def list_objectives() -> list[str]:
    return sorted(_REGISTRY)


class LanguageModeling:
    """The model's weighted next-token loss on the batch targets."""

    def __call__(self, model, batch):
        return model(batch), {}


register_objective("lm", LanguageModeling)
register_objective("cr_distill", CRDistill)
register_objective("disc_ft", DiscFT)

__all__ = [
    "CRDistill",
    "DiscFT",
    "LanguageModeling",
    "cr_distill_records",
    "get_objective",
    "list_objectives",
    "ranking_loss",
    "register_objective",
    "sequence_logprobs",
    "split_rationale",
    "yes_no_records",
]
