"""The offline default teacher: a step-by-step rationale from kinematic facts of the canonical joints.

Format (the student learns to produce it)::

    Observations: <facts, most informative first>
    Causal chain: <which body part drives the movement and what follows from it>
    Conclusion: <how that identifies the action>
    Answer: <label>
"""

from __future__ import annotations

from ..reasoning import kinematic_facts, observations, part_label
from .base import Teacher, answer_line

#: What characterises common actions, keyed by words of the label (synthetic suite and real datasets).
ACTION_CUES: dict[str, str] = {
    "wave": "a raised hand swinging back and forth is a wave",
    "clap": "the hands meeting repeatedly in front of the body is clapping",
    "walk": "alternating leg swings that carry the body along are walking",
    "run": "fast alternating leg swings that carry the body along are running",
    "jump": "both feet leaving the ground together is a jump",
    "squat": "lowering the pelvis by bending the knees and rising again is a squat",
    "sit": "the pelvis lowering into a seated posture is sitting down",
    "stand": "the pelvis rising from a low posture to standing is standing up",
    "kick": "one foot swinging forward and up while the other supports the body is a kick",
    "punch": "a hand thrust forward from the shoulder and pulled back is a punch",
    "bow": "the trunk bending forward and straightening again is a bow",
    "turn": "the shoulders and hips rotating about the vertical axis is a turn",
    "raise": "both hands lifting above the shoulders is raising the arms",
    "throw": "a hand swinging back, then fast forward and up, is a throw",
    "pick": "bending down with a hand reaching towards the floor, then rising, is picking something up",
}


def _cue(label: str) -> str | None:
    words = str(label).lower().replace("_", " ").replace("-", " ").split()
    for w in words:
        for key, cue in ACTION_CUES.items():
            if w.startswith(key):
                return cue
    return None


def causal_chain(facts: dict) -> list[str]:
    """Sentences linking the observations: which part drives the movement and what it causes."""
    chain: list[str] = []
    top = facts["most_active"]
    count = facts.get("count")
    if count and count["what"] in ("jumps", "steps"):
        # Locomotion and jumps are driven by the legs even when the swinging arms travel further.
        n, what = count["count"], "jump" if count["what"] == "jumps" else "step"
        plural = "s" if n != 1 else ""
        chain.append(
            f"the legs drive the movement ({n} {what}{plural}), while the arms swing along"
        )
    elif top is not None:
        s = f"the {part_label(top)} drives the movement"
        if count and count["part"] == top and count["count"] >= 2:
            s += f", repeating it {count['count']} times"
        others = [q for q in facts["moving_parts"] if q != top][:2]
        if others:
            s += ", while the " + " and the ".join(part_label(q) for q in others)
            s += " also move" if len(others) > 1 else " also moves"
        else:
            s += ", while the rest of the body stays still"
        chain.append(s)
    h = facts["heights"]
    pel = h.get("pelvis")
    if pel and pel["trend"] != "stays level":
        chain.append(
            f"the pelvis {pel['trend']}, so the legs bend or extend to lower or raise the body"
        )
    c = facts["contacts"].get("hands")
    if c and c["count"]:
        chain.append(
            f"the hands meet {c['count']} time{'s' if c['count'] > 1 else ''}, so both arms act together"
        )
    air = facts.get("airborne")
    if air and air["count"]:
        chain.append("the legs push the whole body off the ground")
    loc = facts["locomotion"]
    if loc["direction"]:
        chain.append(f"the legs carry the body {loc['direction']}")
    if loc["turn_direction"]:
        chain.append(
            f"the hips and shoulders rotate, turning the body to the {loc['turn_direction']}"
        )
    ps, pe = facts["posture"]["start"].get("body"), facts["posture"]["end"].get("body")
    if ps and pe and ps != pe:
        chain.append(f"the posture changes from {ps} to {pe}")
    if not chain:
        chain.append(
            "hardly anything moves, so the action is a held posture or a very small movement"
        )
    return chain


class KinematicTeacher(Teacher):
    """Rationales from :func:`skeletonllm.reasoning.kinematic_facts`; deterministic and offline.

    ``max_observations`` bounds the rationale length (the tiny models train on it).
    """

    name = "kinematic"

    def __init__(self, max_observations: int = 6):
        self.max_observations = int(max_observations)

    def rationale(self, motion, label: str) -> str:
        facts = kinematic_facts(motion)
        return self.rationale_from_facts(facts, label)

    def rationale_from_facts(self, facts: dict, label: str) -> str:
        obs = observations(facts)
        # Keep what cannot be seen even when truncating: it qualifies every other statement.
        caveats = [o for o in obs if "not visible" in o or "cannot" in o]
        main = [o for o in obs if o not in caveats][: max(1, self.max_observations - len(caveats))]
        chain = causal_chain(facts)
        cue = _cue(label)
        readable = str(label).replace("_", " ")
        conclusion = (
            f"{cue[0].upper() + cue[1:]}, so the action is {readable}."
            if cue
            else (f"These movements are consistent with {readable}.")
        )
        return "\n".join(
            [
                "Observations: " + " ".join(main + caveats),
                "Causal chain: " + "; ".join(chain) + ".",
                "Conclusion: " + conclusion,
                answer_line(label),
            ]
        )
