"""The synthetic suite: the embedded default, generated with ``skelformats.synth`` from fixed seeds.

Train and test use disjoint seed ranges; the test motions of one seed can be generated in any
layout, which is how the cross-format tasks evaluate the same motions in another layout."""

from __future__ import annotations

from functools import lru_cache

from skelbench.datasets import PROTOCOLS, Sample, Split

TRAIN_SEED = 100_000
TEST_SEED = 200_000
DEFAULT_TRAIN_PER_CLASS = 12
DEFAULT_TEST_PER_CLASS = 2  # sized for the 15-minute demo on 2 CPU cores (measured)
DEFAULT_LAYOUT = "ntu25"


def synth_classes() -> list[str]:
    from skelformats import synth

    return sorted(synth.ACTIONS)


def display_name(action: str) -> str:
    """The label text the model answers with (skeletonllm's own action phrase)."""
    try:
        from skeletonllm.data import action_phrase
    except ImportError:
        return action.replace("_", " ")
    return action_phrase(action)


def caption_for(motion, action: str, seed: int, n: int = 3) -> list[str]:
    """``n`` reference captions in varied wording from the ground-truth parameters, written by
    ``skeletonllm.data.caption_from_params`` (the wording family the model's training records use)."""
    import random

    from skeletonllm.data import caption_from_params

    params = motion.meta.get("params", {})
    refs = []
    for k in range(n):
        c = caption_from_params(action, params, random.Random(seed * 7 + k))
        if c not in refs:
            refs.append(c)
    return refs


@lru_cache(maxsize=16)
def _generate(split: str, per_class: int, layout: str, classes: tuple[str, ...]):
    from skelformats import synth

    base = TRAIN_SEED if split == "train" else TEST_SEED
    samples = []
    for ci, action in enumerate(classes):
        for k in range(per_class):
            seed = base + 1000 * ci + k
            m = synth.generate(action, layout=layout, seed=seed)
            samples.append(
                Sample(
                    m,
                    ci,
                    f"synth_{action}_{seed}",
                    subject=seed,
                    params=dict(m.meta.get("params", {})),
                )
            )
    return samples


def synth_split(
    split: str,
    *,
    per_class: int | None = None,
    layout: str = DEFAULT_LAYOUT,
    classes: tuple[str, ...] | None = None,
    captions: bool = False,
) -> Split:
    """A synthetic split; ``subject`` holds the generation seed (disjoint between splits)."""
    if per_class is None:
        per_class = DEFAULT_TRAIN_PER_CLASS if split == "train" else DEFAULT_TEST_PER_CLASS
    all_classes = tuple(synth_classes())
    classes = tuple(classes) if classes else all_classes
    samples = list(_generate(split, per_class, layout, classes))
    if captions:
        for s in samples:
            if not s.captions:
                s.captions = caption_for(s.motion, classes[s.label], s.subject)
    return Split(
        "synth",
        split,
        [display_name(c) for c in classes],
        samples,
        PROTOCOLS["synth"] + f", {per_class} per class, layout {layout}",
    )
