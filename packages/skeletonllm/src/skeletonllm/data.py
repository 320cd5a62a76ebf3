"""Instruction records, synthetic recognition/captioning sets and the batch collator.

A record's ``target`` is a string, or a list of ``(text, weight)`` segments whose tokens get that loss
weight (e.g. rationale tokens 0.5, answer tokens 1.0); the collator turns it into ``labels`` and an
aligned ``loss_weights`` tensor.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from .inputs import RawSkeleton, prepare
from .tokenizer import TASK_WORDS

TASKS = ("recognition", "captioning", "qa")

RECOGNITION_PROMPTS = (
    "What action is the person performing?",
    "Which action does this skeleton sequence show?",
    "Name the action in this motion.",
    "What is the person doing? Answer with the action name.",
)
CAPTION_PROMPTS = (
    "Describe the motion.",
    "Describe what the person does in this skeleton sequence.",
    "Write a short caption for this motion.",
)


@dataclass
class InstructionRecord:
    """One training/eval example: a skeleton, a question and the expected answer."""

    motion: Any  # skelformats.Motion | RawSkeleton | (joints, edges)
    prompt: str
    target: str | list[tuple[str, float]] = ""
    task: str = "recognition"
    id: str = ""
    meta: dict = field(default_factory=dict)

    @property
    def target_text(self) -> str:
        return self.target if isinstance(self.target, str) else "".join(t for t, _ in self.target)


def action_phrase(action: str) -> str:
    return action.replace("_", " ")


_NUM_WORDS = {1: "once", 2: "twice", 3: "three times", 4: "four times", 5: "five times", 6: "six times"}
_SIDE_KEYS = ("side", "hand", "arm", "leg", "foot", "limb")
_COUNT_KEYS = ("repetitions", "reps", "count", "cycles", "n", "times", "steps")
_SPEED_KEYS = ("speed", "tempo", "rate")
_DIR_KEYS = ("direction", "heading", "dir")
_AMP_KEYS = ("amplitude", "height", "size", "extent")


def _first(params: dict, keys) -> Any:
    for k in keys:
        if k in params and params[k] is not None:
            return params[k]
    return None


def _speed_word(v) -> str:
    if isinstance(v, str):
        return v
    return "quickly" if float(v) > 1.15 else "slowly" if float(v) < 0.85 else "at a steady pace"


def caption_from_params(action: str, params: dict, rng: random.Random) -> str:
    """A caption of a synthetic motion from its ground-truth parameters, in randomly varied wording."""
    act = action_phrase(action)
    side = _first(params, _SIDE_KEYS)
    count = _first(params, _COUNT_KEYS)
    speed = _first(params, _SPEED_KEYS)
    direction = _first(params, _DIR_KEYS)
    amp = _first(params, _AMP_KEYS)
    details = []
    if isinstance(side, str):
        details.append(rng.choice([f"with the {side} side", f"using the {side} {'hand' if 'arm' in act or 'wav' in act else 'limb'}", f"on the {side}"]))
    if isinstance(count, (int, float)) and not isinstance(count, bool) and float(count).is_integer():
        n = int(count)
        details.append(rng.choice([_NUM_WORDS.get(n, f"{n} times"), f"{n} times", f"for {n} repetitions"]))
    if speed is not None:
        details.append(_speed_word(speed))
    if isinstance(direction, str):
        details.append(rng.choice([f"moving {direction}", f"towards the {direction}", f"heading {direction}"]))
    if isinstance(amp, (int, float)) and not isinstance(amp, bool):
        details.append("with large movements" if float(amp) > 1.0 else "with small movements")
    subject = rng.choice(["A person", "The person", "Someone", "The subject"])
    verb = rng.choice(["performs", "does", "is doing", "carries out"])
    body = f"{subject} {verb} {act}"
    if details:
        rng.shuffle(details)
        body += " " + ", ".join(details)
    return body + "."


def tokenizer_corpus() -> list[str]:
    """Text the tiny tokenizers are trained on: prompts, caption wording and the synthetic action names."""
    corpus = list(RECOGNITION_PROMPTS) + list(CAPTION_PROMPTS) + [" ".join(TASK_WORDS)]
    try:
        from skelformats import synth

        actions = list(synth.ACTIONS)
    except (ImportError, AttributeError):
        actions = []
    rng = random.Random(0)
    for a in actions:
        corpus += [action_phrase(a), " " + action_phrase(a)] * 4
        corpus.append(caption_from_params(a, {"side": "left", "repetitions": 3, "speed": 1.3}, rng))
    return corpus


def synthetic_records(
    n: int,
    *,
    task: str = "recognition",
    actions: Sequence[str] | None = None,
    layouts: Sequence[str] = ("ntu25",),
    seed: int = 0,
    id_prefix: str = "synth",
) -> list[InstructionRecord]:
    """``n`` records from ``skelformats.synth`` (actions cycled, layouts cycled, seeds ``seed + i``).

    recognition: target = the action name; captioning: a caption written from ``motion.meta['params']``.
    """
    from skelformats import synth

    if task not in ("recognition", "captioning"):
        raise ValueError(f"synthetic_records builds 'recognition' or 'captioning' records, not {task!r}")
    actions = list(actions or synth.ACTIONS)
    rng = random.Random(seed)
    out = []
    for i in range(n):
        action = actions[i % len(actions)]
        layout = layouts[(i // len(actions)) % len(layouts)]
        motion = synth.generate(action, layout=layout, seed=seed + i)
        params = dict(motion.meta.get("params", {}))
        if task == "recognition":
            prompt, target = rng.choice(RECOGNITION_PROMPTS), action_phrase(action)
        else:
            prompt, target = rng.choice(CAPTION_PROMPTS), caption_from_params(action, params, rng)
        out.append(InstructionRecord(motion, prompt, target, task, f"{id_prefix}-{task}-{i:06d}",
                                     {"action": action, "layout": layout, "params": params}))
    return out


class Collator:
    """Records -> batch dict for :meth:`SkeletonLLM.forward`.

    Keys: ``samples`` (list of :class:`inputs.Sample`), ``input_ids``/``attention_mask`` (B, L) left-padded,
    ``labels`` (B, L) with -100 outside the target, ``loss_weights`` (B, L) float, ``ids``, ``tasks``.
    """

    def __init__(self, text_encoder, *, normalize: bool = True, max_length: int | None = None):
        self.text = text_encoder
        self.normalize = normalize
        self.max_length = max_length

    def __call__(self, records: Sequence[InstructionRecord]) -> dict:
        samples = [prepare(r.motion, normalize=self.normalize) for r in records]
        rows = [self.text.encode(r.prompt, r.target if r.target else None) for r in records]
        batch = self.text.pad(rows)
        batch["samples"] = samples
        batch["ids"] = [r.id for r in records]
        batch["tasks"] = [r.task for r in records]
        return batch


def as_record(item) -> InstructionRecord:
    if isinstance(item, InstructionRecord):
        return item
    if isinstance(item, dict):
        return InstructionRecord(**item)
    raise TypeError(f"expected an InstructionRecord or dict, got {type(item).__name__}")


__all__ = [
    "CAPTION_PROMPTS",
    "Collator",
    "InstructionRecord",
    "RECOGNITION_PROMPTS",
    "RawSkeleton",
    "caption_from_params",
    "synthetic_records",
    "tokenizer_corpus",
]
