"""The project's canonical anatomical joint vocabulary and part tags.

Every layout maps its joints to these names (or ``None``).  The canonical body is
y-up, facing +z, right-handed (x points to the body's left), in metres where known.
"""

from __future__ import annotations

SIDES = ("left", "right")

_CENTRAL = (
    "pelvis",
    "spine",
    "chest",
    "neck",
    "head",
    "head_top",
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
)
ARM_JOINTS = (
    "clavicle",
    "shoulder",
    "elbow",
    "wrist",
    "hand",
    "hand_tip",
    "thumb",
    "index",
    "pinky",
)
LEG_JOINTS = ("hip", "knee", "ankle", "heel", "foot", "big_toe", "small_toe")

CANONICAL_JOINTS: tuple[str, ...] = _CENTRAL + tuple(
    f"{side}_{j}" for side in SIDES for j in ARM_JOINTS + LEG_JOINTS
)
_CANONICAL_SET = frozenset(CANONICAL_JOINTS)

PART_NAMES: tuple[str, ...] = (
    "torso",
    "head",
    "left_arm",
    "right_arm",
    "left_leg",
    "right_leg",
    "other",
)
PART_IDS = {name: i for i, name in enumerate(PART_NAMES)}

_HEAD = frozenset({"head", "head_top", "nose", "left_eye", "right_eye", "left_ear", "right_ear"})
_TORSO = frozenset({"pelvis", "spine", "chest", "neck"})


def is_canonical(name: str) -> bool:
    return name in _CANONICAL_SET


def side_of(name: str) -> str | None:
    """'left', 'right' or None for a canonical joint name."""
    for side in SIDES:
        if name.startswith(side + "_"):
            return side
    return None


def mirror_name(name: str) -> str:
    """The left/right counterpart of a canonical name (central joints map to themselves)."""
    if name.startswith("left_"):
        return "right_" + name[5:]
    if name.startswith("right_"):
        return "left_" + name[6:]
    return name


def limb_of(name: str) -> str | None:
    """'arm', 'leg' or None (torso/head) for a canonical joint name."""
    side = side_of(name)
    if side is None:
        return None
    base = name[len(side) + 1 :]
    if base in ARM_JOINTS:
        return "arm"
    if base in LEG_JOINTS:
        return "leg"
    return None  # eyes, ears


def part_of(name: str | None) -> str:
    """Rendering part of a canonical joint name; 'other' for None or unknown names."""
    if name is None or name not in _CANONICAL_SET:
        return "other"
    if name in _TORSO:
        return "torso"
    if name in _HEAD:
        return "head"
    limb = limb_of(name)
    return f"{side_of(name)}_{limb}" if limb else "other"


__all__ = [
    "CANONICAL_JOINTS",
    "PART_NAMES",
    "PART_IDS",
    "SIDES",
    "ARM_JOINTS",
    "LEG_JOINTS",
    "is_canonical",
    "side_of",
    "mirror_name",
    "limb_of",
    "part_of",
]
