"""``generate``: resolve parameters, run an action program, put the body on the ground, view it, convert it."""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any

import numpy as np

from ..canonical import CANONICAL_JOINTS
from ..convert import convert
from ..layout import Layout
from ..motion import Motion
from ..registry import get_layout
from .actions import EXTRA, REST_ALL, Program
from .actions import SPECS as CORE_SPECS
from .body import FOOT_POINTS, REST_POSE, SIDES, BodyShape, Skeleton, rot_y
from .camera import ViewCamera, project

#: The core actions: the synthetic suite's classes.
ACTIONS: tuple[str, ...] = tuple(CORE_SPECS)
#: Further actions ``generate`` accepts (not part of the default suite).
EXTRA_ACTIONS: tuple[str, ...] = tuple(EXTRA)
SPECS = {**CORE_SPECS, **EXTRA}

BODY_PARAMS = (
    "height",
    "arm_ratio",
    "leg_ratio",
    "torso_ratio",
    "shoulder_width_ratio",
    "hip_width_ratio",
)
COMMON_PARAMS = (
    "side",
    "repetitions",
    "speed",
    "amplitude",
    "direction",
    *BODY_PARAMS,
    "view_yaw",
    "view_pitch",
    "camera_distance",
    "camera_space",
    "image_size",
    "focal_length",
    "variability",
    "noise",
    "dropped_joints",
    "fps",
    "num_frames",
    "duration",
)
# (low, high) accepted values of numeric parameters
RANGES = {
    "speed": (0.2, 5.0),
    "amplitude": (0.2, 1.6),
    "repetitions": (1, 30),
    "height": (0.5, 2.5),
    "arm_ratio": (0.5, 1.5),
    "leg_ratio": (0.5, 1.5),
    "torso_ratio": (0.5, 1.5),
    "shoulder_width_ratio": (0.5, 1.5),
    "hip_width_ratio": (0.5, 1.5),
    "view_pitch": (-80.0, 80.0),
    "camera_distance": (0.5, 100.0),
    "noise": (0.0, 1.0),
    "fps": (1.0, 1000.0),
    "num_frames": (2, 100_000),
    "duration": (0.05, 3600.0),
    "variability": (0.0, 0.3),
    "jump_height": (0.02, 1.0),
    "jump_distance": (0.0, 2.5),
    "turn_angle": (10.0, 360.0),
}
CHOICES = {"style": ("front", "side")}
UNIT_SCALE = {None: 1.0, "m": 1.0, "cm": 100.0, "mm": 1000.0, "in": 1.0 / 0.0254}
TRAVELLING = ("walk", "run", "carry")


def _stream(seed: int, name: str) -> np.random.Generator:
    """An independent generator per parameter, so fixing one parameter leaves the others unchanged."""
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def _wrap(deg: float) -> float:
    """Angle in (-180, 180]."""
    d = round((float(deg) + 180.0) % 360.0 - 180.0, 9)
    return 180.0 if d == -180.0 else d


def _number(name: str, v: Any, integer: bool = False):
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise ValueError(f"parameter {name!r} must be a number, got {v!r}")
    if not math.isfinite(float(v)):
        raise ValueError(f"parameter {name!r} must be finite, got {v!r}")
    if integer:
        if float(v) != int(v):
            raise ValueError(f"parameter {name!r} must be an integer, got {v!r}")
        v = int(v)
    else:
        v = float(v)
    lo, hi = RANGES.get(name, (-math.inf, math.inf))
    if not lo <= v <= hi:
        raise ValueError(f"parameter {name!r} must be in [{lo}, {hi}], got {v!r}")
    return v


def resolve_params(action: str, seed: int, given: dict) -> dict:
    """Every parameter of ``generate(action, seed=seed, **given)``: given ones validated, others sampled."""
    spec = SPECS[action]
    known = set(COMMON_PARAMS) | set(spec.extra)
    unknown = sorted(set(given) - known)
    if unknown:
        raise ValueError(
            f"unknown parameter(s) {unknown} for action {action!r}; accepted: {sorted(known)}"
        )
    p: dict[str, Any] = {"seed": seed}

    def pick(name, sample, integer=False):
        if given.get(name) is not None:
            p[name] = _number(name, given[name], integer)
        else:
            p[name] = sample(_stream(seed, name))

    # what the action does
    if spec.sides:
        side = given.get("side")
        if side is None:
            side = str(_stream(seed, "side").choice(spec.sides))
        elif side not in spec.sides:
            raise ValueError(
                f"side must be one of {spec.sides} for action {action!r}, got {side!r}"
            )
        p["side"] = side
    else:
        if given.get("side") is not None:
            raise ValueError(f"action {action!r} has no side (got side={given['side']!r})")
        p["side"] = None
    if spec.repetitions is None:
        if given.get("repetitions") not in (None, 1):
            raise ValueError(
                f"action {action!r} is done once; repetitions must be 1, got {given['repetitions']!r}"
            )
        p["repetitions"] = 1
    else:
        lo, hi = spec.repetitions
        pick("repetitions", lambda r: int(r.integers(lo, hi + 1)), integer=True)
    pick("speed", lambda r: round(float(r.uniform(0.8, 1.25)), 2))
    pick("amplitude", lambda r: round(float(r.uniform(0.75, 1.15)), 2))
    pick("direction", lambda r: round(float(r.uniform(-180.0, 180.0)), 1))
    p["direction"] = _wrap(p["direction"])
    for name, sampler in spec.extra.items():
        if given.get(name) is None:
            p[name] = sampler(_stream(seed, name), p)
        elif name in CHOICES:
            if given[name] not in CHOICES[name]:
                raise ValueError(f"{name} must be one of {CHOICES[name]}, got {given[name]!r}")
            p[name] = given[name]
        else:
            p[name] = _number(name, given[name])
    # the body
    pick("height", lambda r: round(float(r.uniform(1.5, 1.95)), 3))
    for name in BODY_PARAMS[1:4]:
        pick(name, lambda r: round(float(r.uniform(0.92, 1.08)), 3))
    for name in BODY_PARAMS[4:]:
        pick(name, lambda r: round(float(r.uniform(0.9, 1.1)), 3))
    # the view
    pick("view_yaw", lambda r: round(float(r.uniform(-40.0, 40.0)), 1))
    p["view_yaw"] = _wrap(p["view_yaw"])
    pick("view_pitch", lambda r: round(float(r.uniform(0.0, 25.0)), 1))
    p["camera_distance"] = (
        None
        if given.get("camera_distance") is None
        else _number("camera_distance", given["camera_distance"])
    )
    p["camera_space"] = given.get("camera_space") or False
    if not isinstance(p["camera_space"], bool):
        raise ValueError(f"camera_space must be True or False, got {given['camera_space']!r}")
    size = given.get("image_size") or (1920, 1080)
    try:
        ok = len(size) == 2 and all(float(s) == int(s) and s >= 16 for s in size)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"image_size must be (width, height) in pixels (>= 16), got {size!r}")
    p["image_size"] = [int(size[0]), int(size[1])]
    p["focal_length"] = (
        None
        if given.get("focal_length") is None
        else _number("focal_length", given["focal_length"])
    )
    if p["focal_length"] is not None and p["focal_length"] <= 0:
        raise ValueError(f"focal_length must be positive, got {p['focal_length']!r}")
    p["variability"] = (
        0.08 if given.get("variability") is None else _number("variability", given["variability"])
    )
    # corruption and sampling
    p["noise"] = _number("noise", given.get("noise") or 0.0)
    p["dropped_joints"] = given.get("dropped_joints")
    for name in ("fps", "duration"):
        p[name] = None if given.get(name) is None else _number(name, given[name])
    p["num_frames"] = (
        None
        if given.get("num_frames") is None
        else _number("num_frames", given["num_frames"], True)
    )
    return p


def _timeline(spec, p: dict, sk: Skeleton, speed_given: bool) -> tuple[Program, float, int, float]:
    """(program, fps, num_frames, time offset of the program in the clip) honouring fps/num_frames/duration."""
    prog = spec.build(p, sk)
    fps, T, dur = p["fps"], p["num_frames"], p["duration"]
    if T is None and dur is None:
        fps = fps or 30.0
        return prog, fps, int(round(prog.duration * fps)) + 1, 0.0
    if T is not None and fps is None and dur is None:
        # resample the whole action into T frames
        return prog, (T - 1) / prog.duration, T, 0.0
    if T is not None and dur is not None:
        if fps is None:
            fps = T / dur
        elif abs(T - dur * fps) > 1.0:
            raise ValueError(f"num_frames={T}, duration={dur} and fps={fps} disagree")
    fps = fps or 30.0
    if T is None:
        T = max(2, int(round(dur * fps)))
    span = (T - 1) / fps
    if not speed_given:
        # durations scale with 1/speed except ballistic flight: converge by iteration
        for _ in range(8):
            if abs(prog.duration - span) < 1e-4:
                break
            p["speed"] = float(np.clip(p["speed"] * prog.duration / span, *RANGES["speed"]))
            prog = spec.build(p, sk)
    if prog.duration > span + 1e-3:
        raise ValueError(
            f"{spec.name} at speed {p['speed']:.3g} lasts {prog.duration:.2f} s but the clip spans only {span:.2f} s "
            f"({T} frames at {fps:g} fps); give more frames, a longer duration or a higher speed"
        )
    return prog, fps, T, max(0.0, (span - prog.duration) / 2)


def _angles(prog: Program, t: np.ndarray) -> dict[str, np.ndarray]:
    T = len(t)
    dofs = {k: np.full(T, v) for k, v in {**REST_ALL, **REST_POSE}.items()}
    dofs.update({k: np.broadcast_to(np.asarray(v, float), (T,)) for k, v in prog.dofs(t).items()})
    for sd in prog.flat_feet:
        # the ankle keeps the sole parallel to the floor, on top of the scripted offset
        dofs[f"{sd}_ankle"] = (
            dofs["tilt"] - dofs[f"{sd}_hip_flex"] + dofs[f"{sd}_knee"] + dofs[f"{sd}_ankle"]
        )
    return dofs


def _ground_clearance_offset(sk: Skeleton, pos: np.ndarray) -> np.ndarray:
    """(T,) pelvis height that puts the lowest foot point on the floor."""
    idx = [sk.index[f"{s}_{n}"] for s in SIDES for n in FOOT_POINTS]
    return -pos[:, idx, 1].min(axis=1)


def _body_motion(prog: Program, sk: Skeleton, t: np.ndarray) -> np.ndarray:
    """(T, N, 3) joint positions in the body frame (start pelvis above the origin, facing +z), on the floor."""
    T = len(t)
    pos = sk.forward(_angles(prog, t), T)
    root = np.zeros((T, 3))
    # vertical: feet on the floor, except ballistic arcs while airborne
    ground = _ground_clearance_offset(sk, pos)
    root[:, 1] = ground
    for f0, f1 in prog.flights:
        inside = (t >= f0) & (t <= f1)
        if not inside.any():
            continue
        ends = _ground_clearance_offset(sk, sk.forward(_angles(prog, np.array([f0, f1])), 2))
        lerp = ends[0] + (ends[1] - ends[0]) * (t[inside] - f0) / (f1 - f0)
        arc = 0.5 * 9.81 * (t[inside] - f0) * (f1 - t[inside])
        root[inside, 1] = np.maximum(ground[inside], lerp + arc)
    # horizontal: what is planted does not slide
    if prog.anchor == "stance":
        root[:, [0, 2]] = _integrate_stance(prog, sk, pos, t)
    elif prog.anchor in ("feet", "left_foot", "right_foot"):
        sides = SIDES if prog.anchor == "feet" else (prog.anchor.split("_")[0],)
        a = pos[:, [sk.index[f"{s}_ankle"] for s in sides]][:, :, [0, 2]].mean(axis=1)
        root[:, [0, 2]] = -(a - a[0])
    for s0, s1, dist in prog.shifts:
        root[:, 2] += dist * np.clip((t - s0) / (s1 - s0), 0.0, 1.0)
    return pos + root[:, None, :]


def _integrate_stance(prog: Program, sk: Skeleton, pos: np.ndarray, t: np.ndarray) -> np.ndarray:
    """(T, 2) horizontal root path that keeps the supporting foot's lowest point still."""
    feet = [[sk.index[f"{s}_{n}"] for n in FOOT_POINTS] for s in SIDES]
    if prog.stance is not None:
        stance = prog.stance(t)
    else:
        low = np.stack([pos[:, f, 1].min(axis=1) for f in feet], 1)
        stance = np.argmin(low, axis=1)
    out = np.zeros((len(t), 2))
    v = np.zeros(2)
    for i in range(1, len(t)):
        f = stance[i]
        if f >= 0:
            j = feet[f][int(np.argmin(pos[i, feet[f], 1]))]
            v = -(pos[i, j][[0, 2]] - pos[i - 1, j][[0, 2]])
        out[i] = out[i - 1] + v
    return out


@cache
def canonical_layout(dims: int = 3, units: str | None = "m", up_axis: str | None = "y") -> Layout:
    """The synthetic body as a layout over every canonical joint (the source of :func:`convert`)."""
    sk = Skeleton(BodyShape())
    names = tuple(CANONICAL_JOINTS)
    idx = {n: i for i, n in enumerate(names)}

    def parent(j):
        p = sk.parents[sk.index[j]]
        while p >= 0 and sk.joints[p].startswith("_"):
            p = sk.parents[p]
        return -1 if p < 0 else idx[sk.joints[p]]

    return Layout(
        name=f"synth_body_{dims}d",
        joints=names,
        parents=tuple(parent(j) for j in names),
        dims=dims,
        canonical=names,
        units=units,
        up_axis=up_axis,
    )


def _up_rotation(up_axis: str | None) -> np.ndarray:
    """Rotation taking the canonical y-up frame to one whose up is ``up_axis``."""
    c = {
        None: (0, 0),
        "y": (0, 0),
        "z": (0, 90),
        "-z": (0, -90),
        "-y": (0, 180),
        "x": (2, -90),
        "-x": (2, 90),
    }
    axis, deg = c[up_axis]
    a = np.deg2rad(deg)
    ca, sa = np.cos(a), np.sin(a)
    if axis == 0:
        return np.array([[1, 0, 0], [0, ca, -sa], [0, sa, ca]])
    return np.array([[ca, -sa, 0], [sa, ca, 0], [0, 0, 1]])


def _label(rel: float) -> str:
    rel = _wrap(rel)
    if abs(rel) <= 45:
        return "towards the camera"
    if abs(rel) >= 135:
        return "away from the camera"
    return "to the right" if rel > 0 else "to the left"


def _resolve_dropped(
    spec, layout: Layout, available: np.ndarray, rng: np.random.Generator
) -> tuple[list[int], Any]:
    if spec is None:
        return [], None
    if isinstance(spec, (int, float, np.integer, np.floating)) and not isinstance(spec, bool):
        f = float(spec)
        if not 0.0 <= f <= 1.0:
            raise ValueError(f"dropped_joints as a fraction must be in [0, 1], got {spec!r}")
        cand = np.flatnonzero(available)
        n = min(len(cand), int(round(f * layout.num_joints)))
        return sorted(int(j) for j in rng.choice(cand, size=n, replace=False)), f
    if isinstance(spec, str) or not isinstance(spec, Iterable):
        raise ValueError(
            f"dropped_joints must be a fraction or a list of joint names, got {spec!r}"
        )
    out = []
    for name in spec:
        try:
            out.append(layout.index(name))
        except KeyError:
            raise ValueError(
                f"dropped_joints: layout {layout.name!r} has no joint {name!r}"
            ) from None
    return sorted(set(out)), None


def generate(
    action: str, *, layout: str | Layout = "ntu25", seed: int = 0, **params: Any
) -> Motion:
    """A synthetic ``action`` in ``layout``; parameters not given are sampled from ``seed``.

    Returns a :class:`Motion` with data (T, J, C) float32, confidence (T, J) (0 = missing or dropped,
    with coordinates 0), ``meta["action"]`` and the full ground truth in ``meta["params"]``.  Every
    parameter and the ``meta["params"]`` schema are described in :mod:`skelformats.synth`.
    """
    if action not in SPECS:
        raise ValueError(f"unknown action {action!r}; known: {list(SPECS)}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    seed = int(seed)
    lay = layout if isinstance(layout, Layout) else get_layout(layout)
    if all(c is None for c in lay.canonical):
        raise ValueError(
            f"layout {lay.name!r} maps no joint to a canonical name; synth cannot fill it"
        )
    spec = SPECS[action]
    p = resolve_params(action, seed, params)
    shape = BodyShape(**{k: p[k] for k in BODY_PARAMS})
    sk = Skeleton(shape)
    prog, fps, T, offset = _timeline(spec, p, sk, speed_given=params.get("speed") is not None)
    p["fps"], p["num_frames"], p["duration"] = float(fps), int(T), float(T / fps)

    t = np.arange(T) / fps - offset
    body = _body_motion(prog, sk, t)
    R = rot_y(np.deg2rad(np.array(p["direction"])))
    world = body @ R.T
    canon = world[:, sk.canonical_index]  # (T, 58, 3) in CANONICAL_JOINTS order

    # the camera looks at the middle of the performance from far enough to keep it in front
    pel = world[:, sk.index["pelvis"]]
    lo, hi = pel.min(0), pel.max(0)
    centre = (lo + hi) / 2
    target = (float(centre[0]), float(shape.height * 0.5), float(centre[2]))
    extent = float(np.linalg.norm((hi - lo)[[0, 2]]))
    if p["camera_distance"] is None:
        p["camera_distance"] = round(
            float(_stream(seed, "camera_distance").uniform(3.0, 5.0)) + extent / 2, 3
        )
    elif p["camera_distance"] < extent / 2 + shape.height * 0.6:
        raise ValueError(
            f"camera_distance {p['camera_distance']} m is too close: the {action} spans {extent:.2f} m"
        )
    cam = ViewCamera(p["view_yaw"], p["view_pitch"], p["camera_distance"], target)

    noisy = canon
    if p["noise"] > 0:
        noisy = canon + _stream(seed, "noise").normal(0.0, p["noise"], canon.shape)

    data, frame = _express(noisy, lay, cam, p, shape)
    src = canonical_layout(lay.dims, lay.units, lay.up_axis)
    m = convert(
        Motion(data.astype(np.float32), src, fps=fps, meta={"source": "skelformats.synth"}), lay
    )
    conf = m.confidence_or_ones().copy()
    out = m.data.copy()
    available = conf.min(axis=0) > 0
    drop_idx, frac = _resolve_dropped(
        p["dropped_joints"], lay, available, _stream(seed, "dropped_joints")
    )
    conf[:, drop_idx] = 0.0
    out[:, drop_idx] = 0.0
    p["dropped_joints"] = [lay.joints[j] for j in drop_idx]
    p["drop_fraction"] = frac
    p["missing_joints"] = [lay.joints[j] for j in np.flatnonzero(~available)]

    meta = {
        "source": "skelformats.synth",
        "action": action,
        "seed": seed,
        "params": _ground_truth(action, seed, lay, p, prog, sk, world, offset, fps, T, cam, frame),
    }
    return Motion(out, lay, fps=fps, confidence=conf, meta=meta)


def _express(canon: np.ndarray, lay: Layout, cam: ViewCamera, p: dict, shape: BodyShape):
    """Canonical world points (T, 58, 3) in the layout's coordinate system: (data, frame name)."""
    size = tuple(p["image_size"])
    if lay.dims == 3 and lay.units not in ("px", "normalized"):
        pts = cam.to_camera(canon) if p["camera_space"] else canon
        pts = pts @ _up_rotation(lay.up_axis).T * UNIT_SCALE.get(lay.units, 1.0)
        p["focal_length"] = None
        return pts, "camera" if p["camera_space"] else "world"
    c = cam.to_camera(canon)
    if p["focal_length"] is None:
        p["focal_length"] = round(cam.fit_focal(cam.to_camera(canon), size), 2)
    f = p["focal_length"]
    if np.any(c[..., 2] < 0.1):
        raise ValueError("the body passes behind the camera; increase camera_distance")
    uv = project(c, f, size)
    if lay.dims == 3:
        # image-plane x, y with depth at the same scale (MediaPipe landmarks) or pixels
        hips = c[
            :, [CANONICAL_JOINTS.index("left_hip"), CANONICAL_JOINTS.index("right_hip")], 2
        ].mean(1)
        z = (c[..., 2] - hips[:, None]) * f
        if lay.units == "normalized":
            return np.concatenate([uv / np.array(size), z[..., None] / size[0]], -1), "image"
        return np.concatenate([uv, z[..., None]], -1), "image"
    if lay.units in (None, "px"):
        out = uv
    elif lay.units == "normalized":
        out = uv / np.array(size)
    else:  # metric image plane: orthographic camera-plane coordinates
        out = np.stack([-c[..., 0], -c[..., 1]], -1) * UNIT_SCALE.get(lay.units, 1.0)
    if lay.up_axis in ("y", None) and lay.units in (None, "px", "normalized"):
        out = out.copy()
        out[..., 1] = (size[1] if lay.units != "normalized" else 1.0) - out[..., 1]
    return out, "image"


def _ground_truth(
    action, seed, lay, p, prog: Program, sk: Skeleton, world, offset, fps, T, cam, frame
) -> dict:
    spec = SPECS[action]

    def frame_of(s):
        return int(np.clip(round((s + offset) * fps), 0, T - 1))

    def timed(d):
        out = {}
        for k, v in d.items():
            if k in ("start", "peak", "end", "time"):
                out[k] = round(float(v + offset), 4)
                out[f"{k}_frame"] = frame_of(v)
            else:
                out[k] = v
        return out

    pelvis = world[:, sk.index["pelvis"]]
    disp = pelvis[-1] - pelvis[0]
    travels = action in TRAVELLING or (action == "jump" and p.get("jump_distance", 0) > 0)
    end_direction = _wrap(p["direction"] + prog.end_yaw)
    feet = [sk.index[f"{s}_{n}"] for s in SIDES for n in FOOT_POINTS]
    gt = {
        "action": action,
        "seed": seed,
        "layout": lay.name,
        "dims": lay.dims,
        "units": lay.units,
        "frame": frame,
        "fps": p["fps"],
        "num_frames": p["num_frames"],
        "duration": p["duration"],
        "side": p["side"],
        "limb": spec.limb(p),
        "active_parts": spec.active_parts(p),
        "repetitions": p["repetitions"],
        "speed": float(p["speed"]),
        "amplitude": p["amplitude"],
        "direction": p["direction"],
        "end_direction": end_direction,
        "travel_direction": p["direction"] if travels else None,
        "facing": _label(p["direction"] - p["view_yaw"]),
        "heading": _label(p["direction"] - p["view_yaw"]) if travels else None,
        **{k: p[k] for k in spec.extra},
        **{k: p[k] for k in BODY_PARAMS},
        "view_yaw": p["view_yaw"],
        "view_pitch": p["view_pitch"],
        "camera_distance": p["camera_distance"],
        "camera_position": [round(float(x), 4) for x in cam.position],
        "camera_space": p["camera_space"],
        "image_size": p["image_size"] if lay.dims == 2 or frame == "image" else None,
        "focal_length": p["focal_length"],
        "variability": p["variability"],
        "noise": p["noise"],
        "dropped_joints": p["dropped_joints"],
        "drop_fraction": p["drop_fraction"],
        "missing_joints": p["missing_joints"],
        "start_posture": prog.start_posture,
        "end_posture": prog.end_posture,
        "phases": [timed(ph) for ph in prog.phases],
        "repetition_times": [timed({"index": i, **r}) for i, r in enumerate(prog.repetitions)],
        "contacts": [timed(c) for c in prog.contacts],
        "airborne": [timed({"start": a, "end": b}) for a, b in prog.flights],
        "pelvis_height": {
            "start": round(float(pelvis[0, 1]), 4),
            "end": round(float(pelvis[-1, 1]), 4),
            "min": round(float(pelvis[:, 1].min()), 4),
            "max": round(float(pelvis[:, 1].max()), 4),
        },
        "feet_max_clearance": round(float(world[:, feet, 1].min(axis=1).max()), 4),
        "displacement": [
            round(float(disp[0]), 4),
            round(float(disp[1]), 4),
            round(float(disp[2]), 4),
        ],
        "distance": round(float(np.linalg.norm(disp[[0, 2]])), 4),
        "travel_speed": _travel_speed(prog, disp) if travels else None,
        "time_offset": round(float(offset), 4),
    }
    gt.update(
        {k: (round(float(v), 4) if isinstance(v, float) else v) for k, v in prog.info.items()}
    )
    return gt


def _travel_speed(prog: Program, disp: np.ndarray) -> float:
    """Mean horizontal speed (m/s) over the moving phases (walking, running or the jumps)."""
    moving = [ph for ph in prog.phases if ph["name"] in ("walking", "running", "jump")]
    span = sum(ph["end"] - ph["start"] for ph in moving)
    return round(float(np.linalg.norm(disp[[0, 2]]) / span), 4) if span > 0 else 0.0


def generate_dataset(
    actions: Sequence[str] | None = None,
    n_per_action: int = 4,
    layout: str | Layout = "ntu25",
    seed: int = 0,
    **params: Any,
) -> list[Motion]:
    """``n_per_action`` motions of each action (default: all of :data:`ACTIONS`), every one with its own seed
    derived from ``seed`` (stored in ``meta["seed"]``), so parameters vary; ``params`` are fixed for all."""
    actions = list(ACTIONS if actions is None else actions)
    for a in actions:
        if a not in SPECS:
            raise ValueError(f"unknown action {a!r}; known: {list(SPECS)}")
    if n_per_action < 1:
        raise ValueError(f"n_per_action must be >= 1, got {n_per_action!r}")
    out = []
    for a in actions:
        for i in range(n_per_action):
            child = int(
                np.random.SeedSequence([seed, list(SPECS).index(a), i]).generate_state(1)[0]
            )
            out.append(generate(a, layout=layout, seed=child, **params))
    return out


__all__ = [
    "EXTRA_ACTIONS",
    "ACTIONS",
    "generate",
    "generate_dataset",
    "resolve_params",
    "canonical_layout",
    "COMMON_PARAMS",
]
