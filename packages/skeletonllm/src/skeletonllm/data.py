"""Instruction records, synthetic recognition/captioning sets and the batch collator.

A record's ``target`` is a string, or a list of ``(text, weight)`` segments whose tokens get that loss
weight (e.g. rationale tokens 0.5, answer tokens 1.0); the collator turns it into ``labels`` and an
aligned ``loss_weights`` tensor.

A record's ``augment`` (a ``skelformats.augment.Augment``) is applied by the collator when the training
loop passes each record's ``(seed, epoch, index)`` key: the augmented motion is a pure function of the
record and its key, so a resumed run sees exactly the data of an uninterrupted one, and evaluation (no
keys) sees the motion as recorded.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

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
    augment: Any = None  # skelformats.augment.Augment | None, applied in training only

    @property
    def target_text(self) -> str:
        return self.target if isinstance(self.target, str) else "".join(t for t, _ in self.target)


def action_phrase(action: str) -> str:
    return action.replace("_", " ")


_NUM_WORDS = {
    1: "once",
    2: "twice",
    3: "three times",
    4: "four times",
    5: "five times",
    6: "six times",
}
_VERBS = {
    "walk": "walks",
    "run": "runs",
    "jump": "jumps",
    "wave": "waves",
    "clap": "claps",
    "squat": "squats",
    "kick": "kicks",
    "punch": "punches",
    "bow": "bows",
    "sit_down": "sits down",
    "stand_up": "stands up",
    "turn": "turns around",
    "raise_arms": "raises the arms",
    "throw": "throws",
    "pick_up": "picks something up",
}


def _speed_word(v) -> str | None:
    if isinstance(v, str):
        return v
    v = float(v)
    return "quickly" if v > 1.3 else "slowly" if v < 0.75 else None


def caption_from_params(action: str, params: dict, rng: random.Random) -> str:
    """A caption of a synthetic motion from its ground-truth ``meta["params"]``, in randomly varied wording.

    Uses (when present) limb/side, repetitions, speed, amplitude, facing/heading and start/end posture.
    """
    verb = _VERBS.get(action)
    subject = rng.choice(["A person", "The person", "Someone", "The subject"])
    body = (
        f"{subject} {verb}"
        if verb
        else f"{subject} {rng.choice(['performs', 'does'])} {action_phrase(action)}"
    )
    details = []
    locomotion = action in ("walk", "run")
    limb = params.get("limb") or params.get("side")
    if isinstance(limb, str) and limb not in ("both", "none"):
        limb = limb.replace("_", " ")
        the = "" if limb.startswith("both") else "the "
        details.append(
            f"leading with {the}{limb}"
            if locomotion
            else rng.choice([f"with {the}{limb}", f"using {the}{limb}"])
        )
    reps = params.get("repetitions")
    if isinstance(reps, (int, float)) and not isinstance(reps, bool) and reps > 1:
        n = int(reps)
        details.append(
            f"taking {n} steps"
            if locomotion
            else rng.choice([_NUM_WORDS.get(n, f"{n} times"), f"{n} times", f"{n} times in a row"])
        )
    speed = _speed_word(params["speed"]) if params.get("speed") is not None else None
    if speed:
        details.append(speed)
    amp = params.get("amplitude")
    if isinstance(amp, (int, float)) and not isinstance(amp, bool) and (amp > 1.2 or amp < 0.5):
        details.append(
            rng.choice(["with large movements", "with wide motion"])
            if amp > 1.2
            else rng.choice(["with small movements", "with a small motion"])
        )
    heading = params.get("heading") or params.get("travel_direction")
    if isinstance(heading, str):
        details.append(rng.choice([f"heading {heading}", f"moving {heading}"]))
    elif isinstance(params.get("facing"), str):
        details.append(
            rng.choice([f"facing {params['facing']}", f"while facing {params['facing']}"])
        )
    rng.shuffle(details)
    text = body + (" " + ", ".join(details) if details else "")
    start, end = params.get("start_posture"), params.get("end_posture")
    if isinstance(start, str) and isinstance(end, str) and start != end:
        text += rng.choice(
            [f", going from {start} to {end}", f"; the person starts {start} and ends {end}"]
        )
    return text + "."


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
        for reps in (2, 3, 4, 5):
            corpus.append(
                caption_from_params(
                    a,
                    {
                        "limb": "left_hand",
                        "repetitions": reps,
                        "speed": 1.5,
                        "facing": "to the left",
                        "start_posture": "standing",
                        "end_posture": "sitting",
                    },
                    rng,
                )
            )
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
        raise ValueError(
            f"synthetic_records builds 'recognition' or 'captioning' records, not {task!r}"
        )
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
        out.append(
            InstructionRecord(
                motion,
                prompt,
                target,
                task,
                f"{id_prefix}-{task}-{i:06d}",
                {"action": action, "layout": layout, "params": params},
            )
        )
    return out


def augmented_motion(record: InstructionRecord, key: Sequence[int] | None):
    """The record's motion, augmented with ``record.augment`` and the generator of ``key`` when both are
    given and the motion is a ``skelformats.Motion``; otherwise the motion itself."""
    if record.augment is None or key is None:
        return record.motion
    import skelformats
    from skelformats.augment import rng_for

    if not isinstance(record.motion, skelformats.Motion):
        return record.motion
    return record.augment(record.motion, rng_for(*key))


def with_augment(records: Sequence[InstructionRecord], augment) -> list[InstructionRecord]:
    """Copies of ``records`` carrying ``augment`` (an ``Augment``, or a recipe block for
    ``Augment.from_config``: None/True = defaults, False = off)."""
    import dataclasses

    from skelformats.augment import Augment

    aug = augment if isinstance(augment, Augment) else Augment.from_config(augment)
    return [dataclasses.replace(r, augment=aug) for r in records]


def trained_labels(
    records: Sequence[InstructionRecord], known: Sequence[str] = ()
) -> tuple[str, ...]:
    """``known`` plus the recognition answers and labelled actions of ``records`` (sorted, unique): the
    classes a model trained on these records has seen."""
    out = set(known)
    for r in records:
        if not isinstance(r, InstructionRecord):
            continue
        if r.task == "recognition" and r.target_text:
            out.add(r.target_text)
        for key in ("action", "label"):
            if isinstance(r.meta.get(key), str):
                out.add(action_phrase(r.meta[key]))
    return tuple(sorted(out))


class Collator:
    """Records -> batch dict for :meth:`SkeletonLLM.forward`.

    Keys: ``samples`` (list of :class:`inputs.Sample`), ``input_ids``/``attention_mask`` (B, L) left-padded,
    ``labels`` (B, L) with -100 outside the target, ``loss_weights`` (B, L) float, ``ids``, ``tasks``.
    ``keys`` (one ``(seed, epoch, index)`` per record, from the training loop) turns on the records'
    augmentation.
    """

    takes_keys = True  # train_stage passes each record's (seed, epoch, index)

    def __init__(self, text_encoder, *, normalize: bool = True, max_length: int | None = None):
        self.text = text_encoder
        self.normalize = normalize
        self.max_length = max_length

    def __call__(
        self, records: Sequence[InstructionRecord], keys: Sequence[Sequence[int]] | None = None
    ) -> dict:
        if keys is not None and len(keys) != len(records):
            raise ValueError(f"{len(keys)} augmentation keys for {len(records)} records")
        motions = [
            augmented_motion(r, None if keys is None else keys[i]) for i, r in enumerate(records)
        ]
        samples = [prepare(m, normalize=self.normalize) for m in motions]
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
    "augmented_motion",
    "caption_from_params",
    "synthetic_records",
    "tokenizer_corpus",
    "trained_labels",
    "with_augment",
]
