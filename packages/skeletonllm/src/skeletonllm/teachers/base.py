"""The teacher interface."""

from __future__ import annotations

from collections.abc import Sequence


class Teacher:
    """Explains why a skeleton sequence shows ``label``; subclasses implement :meth:`rationale`."""

    name = "teacher"

    def rationale(self, motion, label: str) -> str:
        raise NotImplementedError

    def rationales(self, motions: Sequence, labels: Sequence[str]) -> list[str]:
        """Batched form; the default calls :meth:`rationale` per sample."""
        if len(motions) != len(labels):
            raise ValueError(f"{len(motions)} motions but {len(labels)} labels")
        return [self.rationale(m, lab) for m, lab in zip(motions, labels)]


def answer_line(label: str) -> str:
    """The closing line every rationale ends with; CR-Distill weights these tokens as the answer."""
    return f"Answer: {label}"


ANSWER_PREFIX = "Answer:"
