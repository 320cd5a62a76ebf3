"""The synthetic suite: the embedded default, generated with ``skelformats.synth`` from fixed seeds.

Train and test use disjoint seed ranges; the test motions of one seed can be generated in any
layout, which is how the cross-format tasks evaluate the same motions in another layout."""

from __future__ import annotations

from functools import lru_cache

from skelbench.datasets import PROTOCOLS, Sample, Split

TRAIN_SEED = 100_000
TEST_SEED = 200_000
DEFAULT_TRAIN_PER_CLASS = 12
DEFAULT_TEST_PER_CLASS = 4
DEFAULT_LAYOUT = "ntu25"


def synth_classes() -> list[str]:
    from skelformats import synth

    return sorted(synth.ACTIONS)


def display_name(action: str) -> str:
    return action.replace("_", " ")


def caption_for(motion, action: str, seed: int) -> list[str]:
    """Reference captions from the ground-truth parameters, written by skeletonllm's data module
    (the same wording family the model's training records use)."""
    from skeletonllm import data as sdata

    fn = getattr(sdata, "caption_from_params", None) or getattr(sdata, "captions_from_params", None)
    if fn is not None:
        out = fn(motion.meta.get("params", {}), seed=seed) if _takes_seed(fn) else fn(motion.meta.get("params", {}))
        return [out] if isinstance(out, str) else list(out)
    raise RuntimeError("skeletonllm.data provides no caption generator (caption_from_params)")


def _takes_seed(fn) -> bool:
    import inspect

    try:
        return "seed" in inspect.signature(fn).parameters or "rng" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


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
                Sample(m, ci, f"synth_{action}_{seed}", subject=seed, params=dict(m.meta.get("params", {})))
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
