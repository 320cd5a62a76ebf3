"""The synthetic canonical body: proportions, a kinematic tree over every canonical joint, forward kinematics.

Body frame: y up, facing +z, x to the body's left, metres, pelvis at the origin.  Joint angles are in
degrees; for arms and legs ``s = +1`` on the left and ``-1`` on the right so that one angle means the
same movement on both sides:

* ``{side}_sh_flex`` raises the arm forward, ``{side}_sh_abd`` sideways, ``{side}_sh_rot`` rotates it
  outwards about its own axis; ``{side}_elbow`` bends the elbow; ``{side}_wrist`` bends the hand;
  ``{side}_clav`` lifts the shoulder; ``{side}_sh_hor`` swings the whole arm outwards about the vertical
  (horizontal abduction, e.g. from pointing forward to pointing sideways).
* ``{side}_hip_flex`` swings the thigh forward, ``{side}_hip_abd`` sideways, ``{side}_hip_rot`` turns it
  outwards; ``{side}_knee`` bends the knee (shank backwards); ``{side}_ankle`` lifts the toes.
* ``yaw`` turns the whole body towards its left, ``tilt`` tips the pelvis (and everything on it) forward;
  ``lumbar_*``, ``spine_*``, ``chest_*``, ``neck_*`` and ``head_flex`` bend (``flex``, forward), twist
  (``twist``, the front towards the left) or side-bend (``bend``) the trunk above the pelvis.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..canonical import CANONICAL_JOINTS

SIDES = ("left", "right")
SIGN = {"left": 1.0, "right": -1.0}

TRUNK_DOFS = (
    "yaw",
    "tilt",
    "lumbar_flex",
    "lumbar_bend",
    "lumbar_twist",
    "spine_flex",
    "spine_twist",
    "chest_flex",
    "chest_twist",
    "neck_flex",
    "neck_twist",
    "head_flex",
)
LIMB_DOFS = (
    "clav",
    "sh_hor",
    "sh_flex",
    "sh_abd",
    "sh_rot",
    "elbow",
    "wrist",
    "hip_flex",
    "hip_abd",
    "hip_rot",
    "knee",
    "ankle",
)
DOFS = TRUNK_DOFS + tuple(f"{s}_{d}" for s in SIDES for d in LIMB_DOFS)

# Relaxed standing: arms hang slightly away from the thighs with soft elbows.
REST_POSE = {f"{s}_{d}": v for s in SIDES for d, v in (("sh_abd", 6.0), ("elbow", 10.0))}


@dataclass(frozen=True)
class BodyShape:
    """Body proportions.  ``height`` is the standing height in metres (crown above the floor); the ratios
    scale arm, leg and torso segment lengths and shoulder/hip breadth relative to an average adult
    (segment fractions after Drillis & Contini), after which the body is rescaled to ``height``."""

    height: float = 1.75
    arm_ratio: float = 1.0
    leg_ratio: float = 1.0
    torso_ratio: float = 1.0
    shoulder_width_ratio: float = 1.0
    hip_width_ratio: float = 1.0

    def __post_init__(self):
        if not 0.5 <= self.height <= 2.5:
            raise ValueError(f"height must be in [0.5, 2.5] metres, got {self.height!r}")
        for name in (
            "arm_ratio",
            "leg_ratio",
            "torso_ratio",
            "shoulder_width_ratio",
            "hip_width_ratio",
        ):
            v = getattr(self, name)
            if not 0.5 <= v <= 1.5:
                raise ValueError(f"{name} must be in [0.5, 1.5], got {v!r}")

    def as_dict(self) -> dict:
        return {k: float(v) for k, v in asdict(self).items()}


def _skeleton_spec(b: BodyShape):
    """(joint, parent, offset from the parent in the parent's rest frame) in fractions of height."""
    a, g, t = b.arm_ratio, b.leg_ratio, b.torso_ratio
    sw, hw = b.shoulder_width_ratio, b.hip_width_ratio
    spec = [
        ("pelvis", None, (0, 0, 0)),
        ("_lumbar", "pelvis", (0, 0, 0)),  # lets the trunk bend without moving the legs
        ("spine", "_lumbar", (0, 0.095 * t, -0.005)),
        ("chest", "spine", (0, 0.125 * t, 0.0)),
        ("neck", "chest", (0, 0.060, 0.005)),
        ("head", "neck", (0, 0.075, 0.010)),
        ("head_top", "head", (0, 0.085, -0.005)),
        ("nose", "head", (0, -0.005, 0.055)),
    ]
    for side in SIDES:
        s = SIGN[side]
        spec += [
            (f"{side}_eye", "head", (s * 0.018, 0.018, 0.048)),
            (f"{side}_ear", "head", (s * 0.045, 0.0, 0.0)),
            (f"{side}_clavicle", "chest", (s * 0.018, 0.030, 0.005)),
            (f"{side}_shoulder", f"{side}_clavicle", (s * 0.110 * sw, -0.005, -0.010)),
            (f"{side}_elbow", f"{side}_shoulder", (0, -0.186 * a, 0)),
            (f"{side}_wrist", f"{side}_elbow", (0, -0.146 * a, 0)),
            (f"{side}_hand", f"{side}_wrist", (0, -0.040 * a, 0.005 * a)),
            (f"{side}_hand_tip", f"{side}_hand", (0, -0.060 * a, 0)),
            (f"{side}_thumb", f"{side}_wrist", (-s * 0.005 * a, -0.045 * a, 0.030 * a)),
            (f"{side}_index", f"{side}_hand", (0, -0.025 * a, 0.015 * a)),
            (f"{side}_pinky", f"{side}_hand", (0, -0.020 * a, -0.015 * a)),
            (f"{side}_hip", "pelvis", (s * 0.056 * hw, -0.030, 0.0)),
            (f"{side}_knee", f"{side}_hip", (0, -0.245 * g, 0)),
            (f"{side}_ankle", f"{side}_knee", (0, -0.246 * g, 0)),
            (f"{side}_heel", f"{side}_ankle", (0, -0.039, -0.030)),
            (f"{side}_foot", f"{side}_ankle", (0, -0.033, 0.090)),
            (f"{side}_big_toe", f"{side}_foot", (-s * 0.010, -0.005, 0.040)),
            (f"{side}_small_toe", f"{side}_foot", (s * 0.025, -0.004, 0.025)),
        ]
    return spec


FOOT_POINTS = ("ankle", "heel", "foot", "big_toe", "small_toe")


class Skeleton:
    """The kinematic tree of a :class:`BodyShape`: ``joints`` (canonical names plus internal ones starting
    with ``_``), ``parents``, ``offsets`` (N, 3) metres, and :meth:`forward`."""

    def __init__(self, shape: BodyShape):
        spec = _skeleton_spec(shape)
        self.shape = shape
        self.joints = tuple(n for n, _, _ in spec)
        self.index = {n: i for i, n in enumerate(self.joints)}
        self.parents = tuple(-1 if p is None else self.index[p] for _, p, _ in spec)
        offsets = np.array([o for _, _, o in spec], dtype=float)
        # standing crown height in fraction units; rescale so that it equals shape.height
        leg = -(
            offsets[self.index["left_hip"], 1]
            + offsets[self.index["left_knee"], 1]
            + offsets[self.index["left_ankle"], 1]
            + offsets[self.index["left_heel"], 1]
        )
        top = sum(offsets[self.index[n], 1] for n in ("spine", "chest", "neck", "head", "head_top"))
        self.scale = shape.height / (leg + top)
        self.offsets = offsets * self.scale
        self.pelvis_height = leg * self.scale
        missing = set(CANONICAL_JOINTS) - set(self.joints)
        assert not missing, f"canonical body lacks {sorted(missing)}"
        self.canonical_joints = tuple(CANONICAL_JOINTS)
        self.canonical_index = np.array([self.index[n] for n in CANONICAL_JOINTS], dtype=np.int64)

    def segment_lengths(self) -> dict[str, float]:
        """Length of every bone, keyed ``"parent->child"`` (metres)."""
        return {
            f"{self.joints[p]}->{j}": float(np.linalg.norm(self.offsets[i]))
            for i, (j, p) in enumerate(zip(self.joints, self.parents))
            if p >= 0
        }

    def forward(self, dofs: dict[str, np.ndarray], num_frames: int) -> np.ndarray:
        """Joint positions (T, N, 3) in the body frame with the pelvis at the origin.

        ``dofs`` maps names in :data:`DOFS` to (T,) angles in degrees (missing ones are 0)."""
        T = num_frames
        zero = np.zeros(T)

        def ang(name):
            v = dofs.get(name)
            return zero if v is None else np.deg2rad(np.broadcast_to(np.asarray(v, float), (T,)))

        local: dict[str, np.ndarray] = {
            "pelvis": _rot_y(ang("yaw")) @ _rot_x(ang("tilt")),
            "_lumbar": _rot_y(ang("lumbar_twist"))
            @ _rot_z(ang("lumbar_bend"))
            @ _rot_x(ang("lumbar_flex")),
            "spine": _rot_y(ang("spine_twist")) @ _rot_x(ang("spine_flex")),
            "chest": _rot_y(ang("chest_twist")) @ _rot_x(ang("chest_flex")),
            "neck": _rot_y(ang("neck_twist")) @ _rot_x(ang("neck_flex")),
            "head": _rot_x(ang("head_flex")),
        }
        for side in SIDES:
            s = SIGN[side]
            d = lambda n, side=side: ang(f"{side}_{n}")  # noqa: E731
            local[f"{side}_clavicle"] = _rot_z(s * d("clav"))
            local[f"{side}_shoulder"] = (
                _rot_y(s * d("sh_hor"))
                @ _rot_z(s * d("sh_abd"))
                @ _rot_x(-d("sh_flex"))
                @ _rot_y(s * d("sh_rot"))
            )
            local[f"{side}_elbow"] = _rot_x(-d("elbow"))
            local[f"{side}_wrist"] = _rot_x(-d("wrist"))
            local[f"{side}_hip"] = (
                _rot_z(s * d("hip_abd")) @ _rot_x(-d("hip_flex")) @ _rot_y(s * d("hip_rot"))
            )
            local[f"{side}_knee"] = _rot_x(d("knee"))
            local[f"{side}_ankle"] = _rot_x(-d("ankle"))

        N = len(self.joints)
        pos = np.zeros((T, N, 3))
        glob: list[np.ndarray | None] = [None] * N
        eye = np.broadcast_to(np.eye(3), (T, 3, 3))
        for i, (name, p) in enumerate(zip(self.joints, self.parents)):
            R_local = local.get(name, eye)
            if p < 0:
                glob[i] = R_local
                continue
            pos[:, i] = pos[:, p] + glob[p] @ self.offsets[i]
            glob[i] = glob[p] @ R_local
        return pos


def _rot_x(a: np.ndarray) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([o, z, z, z, c, -s, z, s, c], -1).reshape(a.shape + (3, 3))


def _rot_y(a: np.ndarray) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([c, z, s, z, o, z, -s, z, c], -1).reshape(a.shape + (3, 3))


def _rot_z(a: np.ndarray) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([c, -s, z, s, c, z, z, z, o], -1).reshape(a.shape + (3, 3))


rot_x, rot_y, rot_z = _rot_x, _rot_y, _rot_z

__all__ = [
    "BodyShape",
    "Skeleton",
    "DOFS",
    "TRUNK_DOFS",
    "LIMB_DOFS",
    "REST_POSE",
    "SIDES",
    "SIGN",
    "FOOT_POINTS",
    "rot_x",
    "rot_y",
    "rot_z",
]
