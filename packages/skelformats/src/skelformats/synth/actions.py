"""Action programs: each turns resolved parameters into joint-angle tracks on the canonical body.

A program says how long it lasts, the joint angles (degrees) at any time, how the body is held on the
ground (``anchor``), when it is airborne, and the ground truth worth keeping (phases, repetitions,
contacts, postures).  Times are seconds; every duration of a voluntary movement is divided by ``speed``
(ballistic flight is not: it follows from gravity).
"""

from __future__ import annotations

import copy
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .body import REST_POSE, SIDES, Skeleton
from .profiles import Script, bump, min_jerk

GRAVITY = 9.81


@dataclass
class Program:
    """What an action does over ``duration`` seconds.

    dofs:        t (seconds, any shape (T,)) -> {dof: (T,) degrees}; unnamed DOFs take :data:`REST_POSE`.
    anchor:      how the body stays on the ground horizontally: ``"feet"`` (both feet planted),
                 ``"left_foot"``/``"right_foot"`` (that foot planted), ``"stance"`` (locomotion: the
                 supporting foot does not slide), ``"pelvis"`` (pelvis fixed over the ground).
    flat_feet:   sides whose ankle angle is an offset from "sole parallel to the floor".
    flights:     airborne windows (t0, t1): the body follows a ballistic arc, feet off the ground.
    shifts:      (t0, t1, metres) forward displacement spread over a window (a jump's travel).
    stance:      for ``anchor="stance"``: t -> (T,) 0 left foot, 1 right foot, -1 airborne; None = the lower foot.
    """

    duration: float
    dofs: Callable[[np.ndarray], dict[str, np.ndarray]]
    anchor: str = "feet"
    flat_feet: tuple[str, ...] = SIDES
    flights: list[tuple[float, float]] = field(default_factory=list)
    shifts: list[tuple[float, float, float]] = field(default_factory=list)
    stance: Callable[[np.ndarray], np.ndarray] | None = None
    phases: list[dict] = field(default_factory=list)
    repetitions: list[dict] = field(default_factory=list)
    contacts: list[dict] = field(default_factory=list)
    start_posture: str = "standing"
    end_posture: str = "standing"
    end_yaw: float = 0.0
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ActionSpec:
    """An action: its program builder, allowed ``side`` values (empty: none), the range repetitions are
    sampled from (None: always 1), extra parameters with their samplers, and the limbs it uses."""

    name: str
    build: Callable[[dict, Skeleton], Program]
    sides: tuple[str, ...] = ()
    repetitions: tuple[int, int] | None = None
    extra: dict[str, Callable[[np.random.Generator, dict], Any]] = field(default_factory=dict)
    active_parts: Callable[[dict], list[str]] = lambda p: []
    limb: Callable[[dict], str | None] = lambda p: None
    description: str = ""


def _per_body(solver):
    """Memoise a pose solver per body shape and arguments: programs are rebuilt while a clip's speed
    is fitted, and datasets reuse bodies."""
    cache: dict = {}

    @functools.wraps(solver)
    def wrapper(sk: Skeleton, *args):
        key = (sk.shape, repr(args))
        if key not in cache:
            if len(cache) >= 1024:
                cache.clear()
            cache[key] = solver(sk, *args)
        return copy.copy(cache[key])

    return wrapper


def _other(side: str) -> str:
    return "right" if side == "left" else "left"


def _both(**dofs: float) -> dict[str, float]:
    """Symmetric targets: ``_both(sh_flex=30)`` -> left_sh_flex and right_sh_flex."""
    return {f"{s}_{k}": v for s in SIDES for k, v in dofs.items()}


def _one(side: str, **dofs: float) -> dict[str, float]:
    return {f"{side}_{k}": v for k, v in dofs.items()}


REST_ARMS = _both(sh_hor=0.0, sh_flex=0.0, sh_abd=6.0, sh_rot=0.0, elbow=10.0, wrist=0.0)
REST_LEGS = _both(hip_flex=0.0, hip_abd=0.0, hip_rot=0.0, knee=0.0, ankle=0.0)
REST_TRUNK = dict(
    tilt=0.0,
    lumbar_flex=0.0,
    lumbar_twist=0.0,
    spine_flex=0.0,
    chest_flex=0.0,
    chest_twist=0.0,
    neck_flex=0.0,
    head_flex=0.0,
)
REST_ALL = {**REST_ARMS, **REST_LEGS, **REST_TRUNK}


def _script(p: dict, start: dict[str, float] | None = None, variability: bool = True) -> Script:
    """A script starting from rest (or ``start``) with the motion's timing variability."""
    rng = np.random.default_rng([p["seed"], 0x5C417])
    return Script({**REST_POSE, **(start or {})}, p["variability"] if variability else 0.0, rng)


def _finish(s: Script, **kw) -> Program:
    return Program(duration=s.t, dofs=s.evaluate, phases=s.phases, repetitions=s.repetitions, **kw)


def _hold(s: Script, k: float, name: str = "standing", seconds: float = 0.35) -> None:
    t0 = s.t
    s.hold(seconds * k)
    s.phase(name, t0)


# ---------------------------------------------------------------------------------------- arm actions
def _wave(p: dict, sk: Skeleton) -> Program:
    side, k, a, n = p["side"], 1.0 / p["speed"], p["amplitude"], p["repetitions"]
    s = _script(p)
    _hold(s, k)
    t0 = s.t
    # the hand comes up in front, then the arm swings out: the hand's sideways position rises
    # monotonically to the first wave, so every wave is one clean lateral peak
    s.move(0.35 * k, **_one(side, sh_flex=90.0, elbow=90.0, sh_abd=0.0))
    s.move(0.35 * k, **_one(side, sh_hor=80.0))
    s.phase("raise_arm", t0)
    t0 = s.t
    half = 0.2 * k
    for _ in range(n):
        r0 = s.t
        ar = s.vary(a)  # people never repeat a movement exactly
        out, inner = 90.0 - 32.0 * ar, 90.0 + 28.0 * ar
        s.move(half, **_one(side, elbow=out))
        peak = s.t
        s.move(half, **_one(side, elbow=inner))
        s.repetition(r0, peak, s.t, amplitude=ar)
    s.phase("wave", t0)
    t0 = s.t
    s.move(0.35 * k, **_one(side, sh_hor=0.0))
    s.move(0.45 * k, **_one(side, sh_flex=0.0, elbow=10.0, sh_abd=6.0))
    s.phase("lower_arm", t0)
    _hold(s, k)
    return _finish(s)


@_per_body
def _clap_rotation(sk: Skeleton, base: dict[str, float]) -> float:
    """Outward shoulder rotation (degrees) at which the palms meet in front of the chest."""
    cand = np.linspace(-90.0, 30.0, 241)
    dofs = {d: np.full(cand.shape, v) for d, v in {**REST_POSE, **base}.items()}
    dofs["left_sh_rot"] = cand
    pos = sk.forward(dofs, len(cand))
    x = pos[:, sk.index["left_hand"], 0]
    half_palm = 0.012 * sk.shape.height
    return float(cand[np.argmin(np.abs(x - half_palm))])


def _clap(p: dict, sk: Skeleton) -> Program:
    k, a, n = 1.0 / p["speed"], p["amplitude"], p["repetitions"]
    base = _both(sh_flex=55.0, sh_abd=12.0, elbow=75.0)
    closed = _clap_rotation(sk, base)
    opened = closed + 40.0 * a
    s = _script(p)
    _hold(s, k)
    t0 = s.t
    s.move(0.5 * k, **base, **_both(sh_rot=opened))
    s.phase("raise_hands", t0)
    t0 = s.t
    contacts = []
    for _ in range(n):
        r0 = s.t
        ar = s.vary(a)  # people never repeat a movement exactly
        s.move(0.16 * k, **_both(sh_rot=closed))
        contacts.append({"parts": ["left_hand", "right_hand"], "time": s.t})
        peak = s.t
        s.move(0.2 * k, **_both(sh_rot=closed + 40.0 * ar))
        s.repetition(r0, peak, s.t, amplitude=ar)
    s.phase("clap", t0)
    t0 = s.t
    s.move(0.5 * k, **REST_ARMS)
    s.phase("lower_hands", t0)
    _hold(s, k)
    return _finish(s, contacts=contacts, info={"hand_contact_rotation": closed})


def _punch(p: dict, sk: Skeleton) -> Program:
    side, k, a, n = p["side"], 1.0 / p["speed"], p["amplitude"], p["repetitions"]
    sgn = 1.0 if side == "left" else -1.0
    guard = _both(sh_flex=40.0, sh_abd=10.0, elbow=115.0, sh_rot=-15.0, knee=8.0, hip_flex=8.0)
    s = _script(p)
    _hold(s, k)
    t0 = s.t
    s.move(0.45 * k, **guard)
    s.phase("guard", t0)
    t0 = s.t
    for _ in range(n):
        r0 = s.t
        ar = s.vary(a)  # people never repeat a movement exactly
        s.move(
            0.15 * k,
            **_one(side, sh_flex=70.0 + 18.0 * ar, sh_abd=0.0, elbow=5.0, sh_rot=0.0),
            chest_twist=-sgn * 18.0 * ar,
        )
        peak = s.t
        s.move(
            0.25 * k, **{kk: v for kk, v in guard.items() if kk.startswith(side)}, chest_twist=0.0
        )
        s.repetition(r0, peak, s.t, amplitude=ar)
        s.hold(0.12 * k)
    s.phase("punch", t0)
    t0 = s.t
    s.move(0.5 * k, **REST_ARMS, **_both(knee=0.0, hip_flex=0.0))
    s.phase("lower_arms", t0)
    _hold(s, k)
    return _finish(s)


def _raise_arms(p: dict, sk: Skeleton) -> Program:
    side, k, a, n = p["side"], 1.0 / p["speed"], p["amplitude"], p["repetitions"]
    sides = SIDES if side == "both" else (side,)
    angle = float(min(178.0, 90.0 + 75.0 * a))
    dof = "sh_flex" if p["style"] == "front" else "sh_abd"
    down = {kk: REST_ARMS[kk] for sd in sides for kk in (f"{sd}_{dof}", f"{sd}_elbow")}
    s = _script(p)
    _hold(s, k)
    t0 = s.t
    for _ in range(n):
        r0 = s.t
        ar = s.vary(a)  # people never repeat a movement exactly
        up = {f"{sd}_{dof}": float(min(178.0, 90.0 + 75.0 * ar)) for sd in sides}
        s.move(0.8 * k, **up, **{f"{sd}_elbow": 5.0 for sd in sides})
        peak = s.t
        s.hold(0.4 * k)
        s.move(0.8 * k, **down)
        s.repetition(r0, peak, s.t, amplitude=ar)
        s.hold(0.2 * k)
    s.phase("raise_arms", t0)
    _hold(s, k)
    return _finish(s, info={"raise_angle": angle})


def _throw(p: dict, sk: Skeleton) -> Program:
    side, k, a, n = p["side"], 1.0 / p["speed"], p["amplitude"], p["repetitions"]
    sgn = 1.0 if side == "left" else -1.0
    other = _other(side)
    s = _script(p)
    _hold(s, k)
    t0 = s.t
    for _ in range(n):
        r0 = s.t
        ar = s.vary(a)  # people never repeat a movement exactly
        s.move(
            0.6 * k,
            **_one(side, sh_abd=90.0, sh_rot=80.0, elbow=95.0, sh_flex=-25.0),
            **_one(other, sh_flex=60.0, elbow=20.0),
            chest_twist=sgn * 30.0 * ar,
            lumbar_twist=sgn * 10.0 * ar,
            lumbar_flex=-5.0,
        )
        s.move(
            0.18 * k,
            **_one(side, sh_abd=75.0, sh_flex=70.0, sh_rot=-10.0, elbow=15.0),
            **_one(other, sh_flex=10.0, elbow=60.0),
            chest_twist=-sgn * 25.0 * ar,
            lumbar_twist=-sgn * 10.0 * ar,
            lumbar_flex=15.0,
        )
        peak = s.t  # release
        s.move(
            0.35 * k,
            **_one(side, sh_flex=35.0, sh_abd=15.0, elbow=30.0),
            chest_twist=-sgn * 30.0 * ar,
            lumbar_flex=25.0,
        )
        s.move(0.6 * k, **REST_ARMS, chest_twist=0.0, lumbar_twist=0.0, lumbar_flex=0.0)
        s.repetition(r0, peak, s.t, amplitude=ar)
        s.hold(0.2 * k)
    s.phase("throw", t0)
    _hold(s, k)
    return _finish(s)


# -------------------------------------------------------------------------------- whole-body actions
def _squat(p: dict, sk: Skeleton) -> Program:
    k, a, n = 1.0 / p["speed"], p["amplitude"], p["repetitions"]
    knee_nominal = min(135.0, 110.0 * a)
    s = _script(p)
    _hold(s, k)
    t0 = s.t
    for _ in range(n):
        r0 = s.t
        ar = s.vary(a)  # people never repeat a movement exactly
        hip, knee = min(115.0, 95.0 * ar), min(135.0, 110.0 * ar)
        s.move(
            0.9 * k,
            **_both(hip_flex=hip, knee=knee, sh_flex=80.0, elbow=10.0),
            tilt=15.0 * ar,
            lumbar_flex=10.0 * ar,
        )
        peak = s.t
        s.hold(0.25 * k)
        s.move(
            0.9 * k,
            **_both(hip_flex=0.0, knee=0.0, sh_flex=0.0, elbow=10.0),
            tilt=0.0,
            lumbar_flex=0.0,
        )
        s.repetition(r0, peak, s.t, amplitude=ar)
        s.hold(0.2 * k)
    s.phase("squat", t0)
    _hold(s, k)
    return _finish(s, info={"squat_knee_angle": knee_nominal})


def _bow(p: dict, sk: Skeleton) -> Program:
    k, a, n = 1.0 / p["speed"], p["amplitude"], p["repetitions"]
    s = _script(p)
    _hold(s, k)
    t0 = s.t
    for _ in range(n):
        r0 = s.t
        ar = s.vary(a)  # people never repeat a movement exactly
        tilt = 35.0 * ar
        # hips flex as much as the pelvis tips, so the legs stay upright
        # arms hang: the shoulders flex about as much as the trunk bends
        s.move(
            0.8 * k,
            tilt=tilt,
            **_both(hip_flex=tilt, sh_flex=0.85 * (tilt + 18.0 * ar)),
            lumbar_flex=10.0 * ar,
            spine_flex=8.0 * ar,
            neck_flex=12.0,
        )
        peak = s.t
        s.hold(0.5 * k)
        s.move(
            0.8 * k,
            tilt=0.0,
            **_both(hip_flex=0.0, sh_flex=0.0),
            lumbar_flex=0.0,
            spine_flex=0.0,
            neck_flex=0.0,
        )
        s.repetition(r0, peak, s.t, amplitude=ar)
        s.hold(0.2 * k)
    s.phase("bow", t0)
    _hold(s, k)
    return _finish(s, info={"bow_angle": 35.0 * a + 18.0 * a})


def _kick(p: dict, sk: Skeleton) -> Program:
    side, k, a, n = p["side"], 1.0 / p["speed"], p["amplitude"], p["repetitions"]
    support = _other(side)
    guard = _both(sh_flex=30.0, sh_abd=15.0, elbow=100.0)
    s = _script(p)
    _hold(s, k)
    t0 = s.t
    s.move(0.4 * k, **guard)
    t_kick = s.t
    for _ in range(n):
        r0 = s.t
        ar = s.vary(a)  # people never repeat a movement exactly
        s.move(
            0.3 * k,
            **_one(side, hip_flex=65.0 * ar, knee=100.0),
            **_one(support, knee=10.0, hip_flex=5.0),
            lumbar_flex=-8.0,
        )
        s.move(0.15 * k, **_one(side, hip_flex=min(100.0, 85.0 * ar), knee=5.0, ankle=-30.0))
        peak = s.t
        s.move(0.2 * k, **_one(side, hip_flex=65.0 * ar, knee=100.0, ankle=0.0))
        s.move(
            0.35 * k,
            **_one(side, hip_flex=0.0, knee=0.0),
            **_one(support, knee=0.0, hip_flex=0.0),
            lumbar_flex=0.0,
        )
        s.repetition(r0, peak, s.t, amplitude=ar)
        s.hold(0.15 * k)
    s.phase("kick", t_kick)
    t1 = s.t
    s.move(0.4 * k, **REST_ARMS)
    s.phase("guard", t0, t_kick)
    s.phase("lower_arms", t1)
    _hold(s, k)
    return _finish(s, anchor=f"{support}_foot", flat_feet=(support,))


def _jump(p: dict, sk: Skeleton) -> Program:
    k, a, n = 1.0 / p["speed"], p["amplitude"], p["repetitions"]
    h, dist = p["jump_height"], p["jump_distance"]
    tf = math.sqrt(8.0 * h / GRAVITY)  # flight time of a ballistic rise h
    s = _script(p)
    _hold(s, k)
    flights, shifts = [], []
    t0 = s.t
    for _ in range(n):
        r0 = s.t
        ar = s.vary(a)  # people never repeat a movement exactly
        crouch = 20.0 + 20.0 * ar
        s.move(
            0.45 * k,
            tilt=crouch,
            **_both(
                hip_flex=crouch + 30.0 + 15.0 * ar, knee=60.0 + 30.0 * ar, sh_flex=-40.0, elbow=20.0
            ),
        )
        s.move(
            0.18 * k,
            tilt=5.0,
            **_both(hip_flex=5.0, knee=3.0, ankle=-35.0, sh_flex=150.0, elbow=10.0),
        )
        f0 = s.t
        s.move(tf / 2, exact=True, **_both(knee=25.0, hip_flex=20.0, ankle=-25.0))
        peak = s.t
        s.move(tf / 2, exact=True, **_both(knee=8.0, hip_flex=8.0, ankle=-20.0))
        flights.append((f0, s.t))
        if dist:
            shifts.append((f0, s.t, dist))
        s.move(
            0.25 * k,
            tilt=15.0,
            **_both(hip_flex=55.0, knee=65.0, ankle=0.0, sh_flex=40.0, elbow=20.0),
        )
        s.move(0.5 * k, tilt=0.0, **_both(hip_flex=0.0, knee=0.0, sh_flex=0.0, elbow=10.0))
        s.repetition(r0, peak, s.t, amplitude=ar)
        s.hold(0.2 * k)
    s.phase("jump", t0)
    _hold(s, k)
    return _finish(s, flights=flights, shifts=shifts, info={"flight_time": tf})


def _sit_down(p: dict, sk: Skeleton) -> Program:
    k, a = 1.0 / p["speed"], p["amplitude"]
    s = _script(p)
    _hold(s, k)
    t0 = s.t
    s.move(0.5 * k, tilt=25.0, **_both(hip_flex=45.0, knee=30.0, sh_flex=30.0 * a))
    s.move(0.9 * k, tilt=25.0, **_both(hip_flex=110.0, knee=90.0, sh_flex=40.0 * a))
    s.move(0.6 * k, tilt=5.0, **_both(hip_flex=92.0, knee=88.0, sh_flex=25.0, elbow=50.0))
    s.repetition(t0, s.t, s.t)
    s.phase("sitting_down", t0)
    _hold(s, k, "sitting", 0.5)
    return _finish(s, end_posture="sitting")


SEATED = {"tilt": 5.0, **_both(hip_flex=92.0, knee=88.0, sh_flex=25.0, elbow=50.0)}


def _stand_up(p: dict, sk: Skeleton) -> Program:
    k, a = 1.0 / p["speed"], p["amplitude"]
    s = _script(p, SEATED)
    _hold(s, k, "sitting", 0.5)
    t0 = s.t
    # the trunk leans forward over still thighs (the pelvis stays on the seat), then the legs extend
    s.move(0.6 * k, tilt=30.0, **_both(hip_flex=117.0, sh_flex=40.0 * a, elbow=20.0))
    s.phase("lean_forward", t0)
    t1 = s.t
    s.move(0.9 * k, tilt=15.0, **_both(hip_flex=35.0, knee=20.0, sh_flex=20.0 * a, elbow=15.0))
    s.move(0.5 * k, tilt=0.0, **_both(hip_flex=0.0, knee=0.0, sh_flex=0.0, elbow=10.0))
    s.repetition(t0, s.t, s.t)
    s.phase("rise", t1)
    _hold(s, k)
    return _finish(s, start_posture="sitting")


def _reach_pose(side: str, depth: np.ndarray) -> dict[str, np.ndarray]:
    """Bent-over pose reaching down with ``side`` hand; ``depth`` scales how far (1 = about knee-deep)."""
    other = _other(side)
    return {
        "tilt": 40.0 * depth,
        **_both(hip_flex=75.0 * depth, knee=65.0 * depth),
        "lumbar_flex": 20.0 * depth,
        "spine_flex": 10.0 * depth,
        **_one(side, sh_flex=50.0 + 45.0 * depth, elbow=np.full_like(depth, 5.0)),
        **_one(other, sh_flex=35.0 * depth, elbow=np.full_like(depth, 80.0)),  # rests on the thigh
    }


@_per_body
def _reach_depth(sk: Skeleton, side: str, hand_height: float) -> float:
    """The depth of :func:`_reach_pose` at which the hand centre is ``hand_height`` above the floor."""
    depth = np.linspace(0.5, 1.8, 131)
    dofs = {**{d: np.full(depth.shape, v) for d, v in REST_ALL.items()}, **_reach_pose(side, depth)}
    for sd in SIDES:  # soles level, as in the program
        dofs[f"{sd}_ankle"] = dofs["tilt"] - dofs[f"{sd}_hip_flex"] + dofs[f"{sd}_knee"]
    pos = sk.forward(dofs, len(depth))
    feet = [
        sk.index[f"{sd}_{n}"]
        for sd in SIDES
        for n in ("ankle", "heel", "foot", "big_toe", "small_toe")
    ]
    hand = pos[:, sk.index[f"{side}_hand"], 1] - pos[:, feet, 1].min(axis=1)
    return float(depth[np.argmin(np.abs(hand - hand_height))])


def _pick_up(p: dict, sk: Skeleton) -> Program:
    side, k = p["side"], 1.0 / p["speed"]
    other = _other(side)
    hand_height = 0.06 * sk.shape.height  # an object of a few centimetres on the floor
    depth = _reach_depth(sk, side, hand_height)
    s = _script(p)
    _hold(s, k)
    t0 = s.t
    s.move(1.0 * k, **{d: float(v) for d, v in _reach_pose(side, np.array(depth)).items()})
    s.phase("bend_down", t0)
    t1 = s.t
    s.move(0.35 * k, **_one(side, wrist=25.0, elbow=12.0))
    peak = s.t
    s.phase("grasp", t1)
    t2 = s.t
    s.move(
        1.0 * k,
        tilt=0.0,
        **_both(hip_flex=0.0, knee=0.0),
        lumbar_flex=0.0,
        spine_flex=0.0,
        **_one(side, sh_flex=15.0, elbow=75.0, wrist=10.0),
        **_one(other, sh_flex=0.0, elbow=10.0),
    )
    s.phase("stand_up", t2)
    s.repetition(t0, peak, s.t)
    _hold(s, k)
    return _finish(s, info={"reach_hand_height": hand_height})


def _turn(p: dict, sk: Skeleton) -> Program:
    """Turning on the spot in small steps.  The pelvis yaws while one foot is in the air; the planted foot
    keeps its orientation on the floor (the hip rotates under the turning pelvis) and the lifted foot swings
    round ahead of the body, so nothing on the floor slides."""
    side, k, a = p["side"], 1.0 / p["speed"], p["amplitude"]
    angle = p["turn_angle"]
    steps = max(2, int(math.ceil(angle / 35.0)))
    step = 0.45 * k
    yaw_end = angle if side == "left" else -angle
    s = _script(p, variability=False)
    _hold(s, k)
    t0 = s.t
    legs = [side if i % 2 == 0 else _other(side) for i in range(steps)]
    for i, leg in enumerate(legs):
        ti = t0 + i * step
        s.t = ti + 0.25 * step  # yaw and foot turn only while the foot is well off the floor
        s.move(0.5 * step, yaw=yaw_end * (i + 1) / steps)
        s.t = ti + 0.25 * step
        s.move(0.5 * step, **{f"{leg}_foot_yaw": yaw_end * min(steps, i + 2) / steps})
        s.t = ti
        s.move(step / 2, **_one(leg, hip_flex=25.0 * a, knee=45.0 * a))
        s.move(step / 2, **_one(leg, hip_flex=0.0, knee=0.0))
    t_end = s.t
    s.phase("turn", t0)
    _hold(s, k)

    def dofs(t):
        d = s.evaluate(t)
        for leg in SIDES:
            foot = d.pop(f"{leg}_foot_yaw", np.zeros_like(t))
            d[f"{leg}_hip_rot"] = (1.0 if leg == "left" else -1.0) * (foot - d["yaw"])
        return d

    def stance(t):
        # the supporting foot: the one not lifted, i.e. the other of the latest step begun
        i = np.clip(np.floor((t - t0) / step).astype(int), 0, steps - 1)
        swing = np.array([0 if legs[j] == "left" else 1 for j in range(steps)])[i]
        return 1 - swing

    return Program(
        duration=s.t,
        dofs=dofs,
        anchor="stance",
        stance=stance,
        phases=s.phases,
        repetitions=[{"start": t0, "peak": (t0 + t_end) / 2, "end": t_end}],
        end_yaw=yaw_end,
        info={"steps": steps},
    )


# -------------------------------------------------------------------------------------- locomotion
def _soft_max_angle(x: np.ndarray, limit: float, softness: float = 5.0) -> np.ndarray:
    """``min(x, limit)`` with a smooth knee (degrees)."""
    return limit - softness * np.logaddexp(0.0, (limit - x) / softness)


CARRY_ARMS = _both(sh_flex=35.0, sh_abd=10.0, sh_hor=-4.0, elbow=95.0, sh_rot=-5.0)


def _gait(p: dict, sk: Skeleton, *, run: bool, carry: bool = False) -> Program:
    """Walking or running: periodic joint angles with an amplitude envelope; the supporting foot
    does not slide, so step length follows from the leg angles and the body proportions.  ``carry``:
    both hands hold something in front of the body instead of swinging."""
    k, a, n, lead = 1.0 / p["speed"], p["amplitude"], p["repetitions"], p["side"]
    other = _other(lead)
    step = (0.34 if run else 0.55) * k
    t_start = 0.35 * k
    walk_time = (n + 0.4) * step
    t_end = t_start + walk_time
    duration = t_end + 0.35 * k
    ramp = 0.6 * step
    phi0 = 0.55  # the lead leg starts near toe-off: it swings first
    # a leg supports from heel strike (phase 0) until the other leg lands (walk) or lifts off (run)
    stance_frac = 0.35 if run else 0.5

    def env(t):
        return min_jerk((t - t_start) / ramp) * min_jerk((t_end - t) / ramp)

    def leg_phase(t, leg):
        base = phi0 + (t - t_start) / (2.0 * step)
        return base if leg == lead else base + 0.5

    def dofs(t):
        e = env(t)
        out: dict[str, np.ndarray] = {}
        for leg in SIDES:
            ph = leg_phase(t, leg) % 1.0
            c = np.cos(2 * np.pi * ph)
            if run:
                hip = 17.0 + 33.0 * np.cos(2 * np.pi * (ph - 0.9))
                knee = 25.0 + 20.0 * bump(ph, 0.15, 0.07) + 70.0 * bump(ph, 0.65, 0.13)
                ankle = (
                    5.0 * bump(ph, 0.0, 0.04)
                    - 25.0 * bump(ph, 0.36, 0.05)
                    + 10.0 * bump(ph, 0.7, 0.08)
                )
                sh = 5.0 - 35.0 * c
                elbow = 85.0 + 10.0 * np.cos(2 * np.pi * (ph - 0.5))
            else:
                hip = 8.0 + 22.0 * c
                knee = 5.0 + 15.0 * bump(ph, 0.12, 0.06) + 55.0 * bump(ph, 0.72, 0.10)
                # relative to a level sole: toes up at heel strike, flat foot, heel off at push-off
                ankle = (
                    12.0 * bump(ph, 0.0, 0.04)
                    - 22.0 * bump(ph, 0.6, 0.06)
                    + 8.0 * bump(ph, 0.8, 0.08)
                )
                sh = 2.0 - 16.0 * c
                elbow = 8.0 + 8.0 * np.cos(2 * np.pi * (ph - 0.5))
            hip_v = np.clip(e * a * hip, -30.0, 80.0)
            knee_v = np.clip(e * a * knee, 0.0, 140.0)
            # relative to a level sole, within the ankle's range: a swinging foot, whose shank
            # swings far back, hangs toes-down once dorsiflexion runs out
            level = knee_v - hip_v
            out[f"{leg}_hip_flex"] = hip_v
            out[f"{leg}_knee"] = knee_v
            out[f"{leg}_ankle"] = _soft_max_angle(level + e * a * ankle, 25.0)
            if carry:
                for dof in ("sh_flex", "sh_abd", "sh_hor", "elbow", "sh_rot"):
                    out[f"{leg}_{dof}"] = np.full(t.shape, CARRY_ARMS[f"{leg}_{dof}"])
            else:
                out[f"{leg}_sh_flex"] = e * a * sh
                out[f"{leg}_sh_abd"] = np.full(t.shape, 6.0)
                out[f"{leg}_elbow"] = 10.0 + e * elbow
        ph_lead = leg_phase(t, lead)
        lean = 10.0 if run else 3.0
        out["lumbar_flex"] = e * lean
        out["lumbar_twist"] = (
            e * a * 5.0 * np.cos(2 * np.pi * ph_lead) * (1 if lead == "left" else -1)
        )
        return out

    def stance(t):
        e = env(t)
        out = np.full(t.shape, -1, dtype=np.int64)
        ph_l = leg_phase(t, "left") % 1.0
        ph_r = leg_phase(t, "right") % 1.0
        out[ph_r < stance_frac] = 1
        out[ph_l < stance_frac] = 0
        ramping = (out < 0) & (e < 0.95)  # no flight while starting or stopping
        out[ramping] = np.where(ph_l[ramping] < 0.5, 0, 1)
        return out

    # heel strikes: the lead leg at integer phases, the other at half-integers
    reps, flights = [], []
    kk = 2
    while True:
        t_hs = t_start + (kk / 2.0 - phi0) * 2.0 * step
        if t_hs > t_end or len(reps) >= n:
            break
        foot = lead if kk % 2 == 0 else other
        reps.append(
            {
                "start": max(t_start, t_hs - step),
                "peak": t_hs - 0.45 * step,
                "end": t_hs,
                "foot": foot,
            }
        )
        kk += 1
    if run:
        # airborne while neither leg is in stance, once the gait is fully under way
        for kk in range(0, 4 * n + 4):
            f0 = t_start + (kk / 2.0 + stance_frac - phi0) * 2.0 * step
            f1 = t_start + ((kk + 1) / 2.0 - phi0) * 2.0 * step
            if f0 >= t_start + ramp + 0.05 and f1 <= t_end - ramp - 0.05 and f1 > f0:
                flights.append((f0, f1))
    phases = [
        {"name": "standing", "start": 0.0, "end": t_start},
        {"name": "running" if run else "walking", "start": t_start, "end": t_end},
        {"name": "standing", "start": t_end, "end": duration},
    ]
    return Program(
        duration=duration,
        dofs=dofs,
        anchor="stance",
        flat_feet=(),  # the gait sets its own level-sole ankles
        flights=flights,
        stance=stance,
        phases=phases,
        repetitions=reps,
        info={"cadence": 60.0 / step, "step_time": step},
    )


def _walk(p, sk):
    return _gait(p, sk, run=False)


def _run(p, sk):
    return _gait(p, sk, run=True)


def _carry(p, sk):
    return _gait(p, sk, run=False, carry=True)


# ------------------------------------------------------------------------- hand-to-head and pushing
@_per_body
def _reach_head(
    sk: Skeleton, side: str, target: str, offset, base: dict[str, float]
) -> dict[str, float]:
    """Shoulder flexion, horizontal swing and elbow flexion that bring the ``side`` hand closest to
    ``target`` + ``offset`` (fractions of height, body frame), the rest of ``base`` as given."""
    flex, hor, elbow = np.meshgrid(
        np.arange(0.0, 121.0, 3.0), np.arange(-80.0, 41.0, 3.0), np.arange(110.0, 151.0, 10.0)
    )
    flex, hor, elbow = flex.ravel(), hor.ravel(), elbow.ravel()
    dofs = {d: np.full(flex.shape, v) for d, v in {**REST_ALL, **REST_POSE, **base}.items()}
    dofs[f"{side}_sh_flex"], dofs[f"{side}_sh_hor"], dofs[f"{side}_elbow"] = flex, hor, elbow
    pos = sk.forward(dofs, len(flex))
    goal = pos[:, sk.index[target]] + np.asarray(offset) * sk.shape.height
    i = int(np.argmin(np.linalg.norm(pos[:, sk.index[f"{side}_hand"]] - goal, axis=-1)))
    return {
        f"{side}_sh_flex": float(flex[i]),
        f"{side}_sh_hor": float(hor[i]),
        f"{side}_elbow": float(elbow[i]),
    }


def _hand_to_head(p: dict, sk: Skeleton, *, target: str, offset, hold: float, name: str) -> Program:
    side, k, n = p["side"], 1.0 / p["speed"], p["repetitions"]
    sgn = 1.0 if side == "left" else -1.0
    base = _one(side, elbow=140.0, sh_abd=10.0, sh_rot=-15.0, wrist=20.0)
    if target.endswith("ear"):
        base = _one(side, elbow=145.0, sh_abd=35.0, sh_rot=0.0, wrist=0.0)
        offset = (sgn * offset[0], offset[1], offset[2])
    at_head = {**base, **_reach_head(sk, side, target, offset, base)}
    s = _script(p)
    _hold(s, k)
    t0 = s.t
    contacts = []
    for _ in range(n):
        r0 = s.t
        s.move(0.8 * k, **at_head)
        peak = s.t
        contacts.append({"parts": [f"{side}_hand", "head"], "time": s.t})
        if name == "drink":
            s.move(0.3 * k, neck_flex=-15.0)  # tip the head back to drink
            s.hold(hold * k)
            s.move(0.3 * k, neck_flex=0.0)
        else:
            s.move(0.3 * k, neck_twist=-sgn * 8.0, head_flex=8.0)
            s.hold(hold * k)
            s.move(0.3 * k, neck_twist=0.0, head_flex=0.0)
        s.move(0.8 * k, **{kk: REST_ALL[kk] for kk in at_head})
        s.repetition(r0, peak, s.t)
        s.hold(0.2 * k)
    s.phase(name, t0)
    _hold(s, k)
    return _finish(s, contacts=contacts)


def _drink(p, sk):
    return _hand_to_head(p, sk, target="nose", offset=(0.0, -0.03, 0.035), hold=0.8, name="drink")


def _answer_phone(p, sk):
    return _hand_to_head(
        p,
        sk,
        target="left_ear" if p["side"] == "left" else "right_ear",
        offset=(0.03, 0.0, 0.0),
        hold=2.0,
        name="answer_phone",
    )


def _push_pull(p: dict, sk: Skeleton, *, push: bool) -> Program:
    """Both hands push something away from the chest (``push``) or pull it in, leaning into it."""
    k, a, n = 1.0 / p["speed"], p["amplitude"], p["repetitions"]
    near = _both(sh_flex=40.0, sh_abd=12.0, sh_hor=-10.0, elbow=115.0, sh_rot=-10.0, wrist=-30.0)
    far = _both(
        sh_flex=80.0,
        sh_abd=8.0,
        sh_hor=-8.0,
        elbow=10.0 + 20.0 * (1.2 - a),
        sh_rot=-5.0,
        wrist=-30.0,
    )
    lean_far, lean_near = (12.0 * a, 0.0) if push else (8.0 * a, -6.0 * a)
    start, end = (near, far) if push else (far, near)
    lean_start, lean_end = (lean_near, lean_far) if push else (lean_far, lean_near)
    stance = _both(knee=10.0, hip_flex=10.0)
    s = _script(p)
    _hold(s, k)
    t0 = s.t
    s.move(0.5 * k, **start, **stance, tilt=lean_start)
    for _ in range(n):
        r0 = s.t
        s.move(0.7 * k, **end, tilt=lean_end, **_both(hip_flex=10.0 + lean_end))
        peak = s.t
        s.hold(0.25 * k)
        s.move(0.6 * k, **start, tilt=lean_start, **_both(hip_flex=10.0 + lean_start))
        s.repetition(r0, peak, s.t)
    s.move(0.5 * k, **REST_ARMS, **_both(knee=0.0, hip_flex=0.0), tilt=0.0)
    s.phase("push" if push else "pull", t0)
    _hold(s, k)
    return _finish(s)


def _push(p, sk):
    return _push_pull(p, sk, push=True)


def _pull(p, sk):
    return _push_pull(p, sk, push=False)


# ------------------------------------------------------------------------------------------ registry
def _u(lo, hi, nd=2):
    return lambda rng, p: round(float(rng.uniform(lo, hi)), nd)


def _jump_distance(rng, p):
    return 0.0 if rng.random() < 0.5 else round(float(rng.uniform(0.3, 0.8)), 2)


def _arm(p):
    return ["left_arm", "right_arm"] if p.get("side") == "both" else [f"{p['side']}_arm"]


_LEGS = ["left_leg", "right_leg"]
_ARMS = ["left_arm", "right_arm"]

SPECS: dict[str, ActionSpec] = {}


def _add(spec: ActionSpec) -> None:
    SPECS[spec.name] = spec


_add(
    ActionSpec(
        "walk",
        _walk,
        sides=SIDES,
        repetitions=(4, 8),
        active_parts=lambda p: _LEGS + _ARMS,
        limb=lambda p: f"{p['side']}_foot",
        description="walk forward; side = the foot that steps first; repetitions = steps",
    )
)
_add(
    ActionSpec(
        "run",
        _run,
        sides=SIDES,
        repetitions=(6, 10),
        active_parts=lambda p: _LEGS + _ARMS,
        limb=lambda p: f"{p['side']}_foot",
        description="run forward; side = the foot that steps first; repetitions = steps",
    )
)
_add(
    ActionSpec(
        "jump",
        _jump,
        repetitions=(1, 3),
        extra={"jump_height": _u(0.12, 0.4), "jump_distance": _jump_distance},
        active_parts=lambda p: ["torso"] + _LEGS + _ARMS,
        description="two-footed jump; jump_height = ballistic rise (m), jump_distance = forward travel (m)",
    )
)
_add(
    ActionSpec(
        "wave",
        _wave,
        sides=SIDES,
        repetitions=(2, 5),
        active_parts=_arm,
        limb=lambda p: f"{p['side']}_hand",
        description="wave one raised hand side to side",
    )
)
_add(
    ActionSpec(
        "clap",
        _clap,
        repetitions=(2, 6),
        active_parts=lambda p: list(_ARMS),
        limb=lambda p: "both_hands",
        description="clap the hands in front of the chest",
    )
)
_add(
    ActionSpec(
        "squat",
        _squat,
        repetitions=(1, 4),
        active_parts=lambda p: ["torso"] + _LEGS + _ARMS,
        description="squat down and stand up again",
    )
)
_add(
    ActionSpec(
        "kick",
        _kick,
        sides=SIDES,
        repetitions=(1, 3),
        active_parts=lambda p: [f"{p['side']}_leg"],
        limb=lambda p: f"{p['side']}_foot",
        description="front kick with one leg",
    )
)
_add(
    ActionSpec(
        "punch",
        _punch,
        sides=SIDES,
        repetitions=(1, 4),
        active_parts=_arm,
        limb=lambda p: f"{p['side']}_hand",
        description="punch forward from a guard",
    )
)
_add(
    ActionSpec(
        "bow",
        _bow,
        repetitions=(1, 2),
        active_parts=lambda p: ["torso", "head"],
        description="bow from the hips",
    )
)
_add(
    ActionSpec(
        "sit_down",
        _sit_down,
        active_parts=lambda p: ["torso"] + _LEGS,
        description="sit down on a seat behind",
    )
)
_add(
    ActionSpec(
        "stand_up",
        _stand_up,
        active_parts=lambda p: ["torso"] + _LEGS,
        description="stand up from a seat",
    )
)
_add(
    ActionSpec(
        "turn",
        _turn,
        sides=SIDES,
        extra={"turn_angle": lambda rng, p: float(rng.choice([90.0, 135.0, 180.0]))},
        active_parts=lambda p: ["torso"] + _LEGS,
        description="turn on the spot; side = turning towards the body's left or right",
    )
)
_add(
    ActionSpec(
        "raise_arms",
        _raise_arms,
        sides=("left", "right", "both"),
        repetitions=(1, 3),
        extra={"style": lambda rng, p: str(rng.choice(["front", "side"]))},
        active_parts=_arm,
        limb=lambda p: "both_hands" if p["side"] == "both" else f"{p['side']}_hand",
        description="raise the arm(s) overhead to the front or the side",
    )
)
_add(
    ActionSpec(
        "throw",
        _throw,
        sides=SIDES,
        repetitions=(1, 2),
        active_parts=lambda p: ["torso"] + _ARMS,
        limb=lambda p: f"{p['side']}_hand",
        description="overarm throw",
    )
)
_add(
    ActionSpec(
        "pick_up",
        _pick_up,
        sides=SIDES,
        active_parts=lambda p: ["torso"] + _LEGS + [f"{p['side']}_arm"],
        limb=lambda p: f"{p['side']}_hand",
        description="bend down and pick something up from the floor",
    )
)

__all__ = ["Program", "ActionSpec", "SPECS", "EXTRA", "REST_ALL", "GRAVITY"]


# Further actions accepted by ``generate``; not in ACTIONS (the synthetic suite's classes) so the
# default suite stays fixed.
EXTRA: dict[str, ActionSpec] = {}
for _spec in (
    ActionSpec(
        "carry",
        _carry,
        sides=SIDES,
        repetitions=(4, 8),
        active_parts=lambda p: list(_LEGS),
        limb=lambda p: "both_hands",
        description="walk forward holding something in front with both hands; side = first foot",
    ),
    ActionSpec(
        "drink",
        _drink,
        sides=SIDES,
        repetitions=(1, 2),
        active_parts=_arm,
        limb=lambda p: f"{p['side']}_hand",
        description="bring one hand to the mouth and drink",
    ),
    ActionSpec(
        "answer_phone",
        _answer_phone,
        sides=SIDES,
        active_parts=_arm,
        limb=lambda p: f"{p['side']}_hand",
        description="hold a phone to the ear with one hand",
    ),
    ActionSpec(
        "push",
        _push,
        repetitions=(1, 3),
        active_parts=lambda p: ["torso"] + _ARMS,
        limb=lambda p: "both_hands",
        description="push something away with both hands",
    ),
    ActionSpec(
        "pull",
        _pull,
        repetitions=(1, 3),
        active_parts=lambda p: ["torso"] + _ARMS,
        limb=lambda p: "both_hands",
        description="pull something in with both hands",
    ),
):
    EXTRA[_spec.name] = _spec
