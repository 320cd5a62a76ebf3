"""Interpretable kinematic facts of a skeleton sequence, and multiple-choice questions built from them.

Everything works through the canonical joint vocabulary (``skelformats.canonical``), so any layout that maps
its joints to canonical names is understood; parts a layout does not have (or that are missing in most
frames) are reported as not visible instead of being guessed.

Conventions: the canonical body is y-up and faces +z with x pointing to the body's left. Directions are
expressed in the body frame of the first frames (so a camera rotation does not change them). Distances are
given in torso lengths (pelvis to neck, about 0.5 m on an adult) and, for metric layouts, also in metres.

``kinematic_facts(motion) -> dict`` (JSON-serialisable) and ``make_questions(motion, facts, rng) ->
list[QAItem]``, families ``temporal_order``, ``counting``, ``comparison``, ``posture``, ``direction``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from scipy.signal import find_peaks

#: The body parts whose movement is described, and the canonical joints that locate each (first group with
#: all joints visible wins; a group of several joints stands for their mean).
PARTS: tuple[str, ...] = (
    "head",
    "torso",
    "pelvis",
    "left_hand",
    "right_hand",
    "left_foot",
    "right_foot",
)

_POINTS: dict[str, tuple[tuple[str, ...], ...]] = {
    "pelvis": (("pelvis",), ("left_hip", "right_hip")),
    "neck": (("neck",), ("left_shoulder", "right_shoulder"), ("chest",)),
    "torso": (("chest",), ("neck",), ("left_shoulder", "right_shoulder"), ("spine",)),
    "head": (
        ("head",),
        ("nose",),
        ("head_top",),
        ("left_ear", "right_ear"),
        ("left_eye", "right_eye"),
    ),
}
for _s in ("left", "right"):
    _POINTS[f"{_s}_hand"] = (
        (f"{_s}_hand",),
        (f"{_s}_wrist",),
        (f"{_s}_hand_tip",),
        (f"{_s}_index",),
    )
    _POINTS[f"{_s}_elbow"] = ((f"{_s}_elbow",),)
    _POINTS[f"{_s}_shoulder"] = ((f"{_s}_shoulder",), (f"{_s}_clavicle",))
    _POINTS[f"{_s}_foot"] = ((f"{_s}_ankle",), (f"{_s}_heel",), (f"{_s}_foot",), (f"{_s}_big_toe",))
    _POINTS[f"{_s}_knee"] = ((f"{_s}_knee",),)
    _POINTS[f"{_s}_hip"] = ((f"{_s}_hip",),)

_PROXIES = {
    f"{s}_{a}": f"{s}_{b}"
    for s in ("left", "right")
    for a, b in (("hand", "elbow"), ("foot", "knee"))
}

#: Thresholds in torso lengths. A part "moves" when its range of motion exceeds MOVE; hands "touch" when
#: closer than HAND_CONTACT (about 15 cm); a hand is "at the head" within HEAD_CONTACT of the head centre.
MOVE = 0.25
HAND_CONTACT = 0.32
HEAD_CONTACT = 0.45
HEIGHT_CHANGE = 0.3
AIRBORNE = 0.2
TRAVEL = 1.2
TURN_DEG = 45.0

FAMILIES: tuple[str, ...] = ("temporal_order", "counting", "comparison", "posture", "direction")
POSTURES: tuple[str, ...] = ("standing", "sitting", "squatting", "lying down")
DIRECTIONS: tuple[str, ...] = ("up", "down", "forward", "backward", "to the left", "to the right")


def part_label(part: str) -> str:
    """'right_hand' -> 'right hand'."""
    return part.replace("_", " ")


# -- canonical tracks --------------------------------------------------------------------------------------


def _to_y_up(xyz: np.ndarray, up_axis: str | None) -> np.ndarray:
    """Rotate (..., 3) coordinates so that the layout's up axis becomes +y (right-handed rotations)."""
    x, y, z = xyz[..., 0], xyz[..., 1], xyz[..., 2]
    if up_axis in (None, "y"):
        return xyz
    if up_axis == "-y":
        return np.stack([x, -y, -z], -1)
    if up_axis == "z":
        return np.stack([x, z, -y], -1)
    if up_axis == "-z":
        return np.stack([x, -z, y], -1)
    if up_axis == "x":
        return np.stack([-y, x, z], -1)
    if up_axis == "-x":
        return np.stack([y, -x, z], -1)
    raise ValueError(f"unknown up axis {up_axis!r}")


def _interpolate_missing(p: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Fill frames where ``valid`` is False by linear interpolation over time (edges held)."""
    if valid.all():
        return p
    t = np.arange(len(p))
    out = p.copy()
    for c in range(p.shape[1]):
        out[:, c] = np.interp(t, t[valid], p[valid, c])
    return out


def canonical_tracks(motion) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Per canonical joint name, its (T, 3) y-up track; plus info (dims, units, people, hidden joints).

    Only the first person of a multi-person motion is analysed. A joint missing (confidence 0) in more than
    half of the frames is treated as not visible; shorter gaps are interpolated.
    """
    data = np.asarray(motion.data, dtype=np.float64)
    conf = getattr(motion, "confidence", None)
    people = 1
    if data.ndim == 4:
        people = data.shape[0]
        data = data[0]
        conf = None if conf is None else np.asarray(conf)[0]
    if data.ndim != 3 or data.shape[0] == 0:
        raise ValueError(f"motion data must be (T, J, C) with T > 0, got shape {data.shape}")
    layout = motion.layout
    T, J, C = data.shape
    canonical = getattr(layout, "canonical", None) or (None,) * J
    units = getattr(layout, "units", None)
    up_axis = getattr(layout, "up_axis", None)
    if C == 2:
        # 2D layouts: image coordinates point down unless the layout says otherwise.
        xy = data.copy()
        if up_axis in ("-y",) or (up_axis is None and units in ("px", "normalized")):
            xy[..., 1] = -xy[..., 1]
            xy[..., 0] = -xy[..., 0]  # keep the handedness: a mirror in y is undone by one in x
        pts = np.concatenate([xy, np.zeros((T, J, 1))], -1)
    elif C == 3:
        pts = _to_y_up(data, up_axis)
    else:
        raise ValueError(f"motion has {C} coordinates per joint; expected 2 or 3")
    valid = np.ones((T, J), bool) if conf is None else np.asarray(conf) > 0
    valid &= np.isfinite(pts).all(-1)
    tracks: dict[str, np.ndarray] = {}
    hidden: list[str] = []
    for j, name in enumerate(canonical):
        if not name:
            continue
        if valid[:, j].mean() <= 0.5:
            hidden.append(name)
            continue
        tracks[name] = _interpolate_missing(np.nan_to_num(pts[:, j]), valid[:, j])
    info = {"dims": C, "units": units, "people": people, "hidden_joints": hidden, "frames": T}
    return tracks, info


def _point(tracks: dict[str, np.ndarray], key: str) -> np.ndarray | None:
    for group in _POINTS[key]:
        if all(n in tracks for n in group):
            return np.mean([tracks[n] for n in group], axis=0)
    return None


def _smooth(x: np.ndarray, width: int) -> np.ndarray:
    """Moving average over time of (T, ...) with edge padding; width odd."""
    if width <= 1 or len(x) < 3:
        return x
    width = min(width, len(x) - (1 - len(x) % 2))
    pad = width // 2
    xp = np.concatenate([np.repeat(x[:1], pad, 0), x, np.repeat(x[-1:], pad, 0)], 0)
    kernel = np.ones(width) / width
    return np.apply_along_axis(lambda v: np.convolve(v, kernel, mode="valid"), 0, xp)


def _runs(mask: np.ndarray, min_gap: int = 2) -> list[tuple[int, int]]:
    """Contiguous True runs [start, end] (inclusive), gaps shorter than ``min_gap`` frames bridged."""
    idx = np.flatnonzero(mask)
    if idx.size == 0:
        return []
    runs = [[int(idx[0]), int(idx[0])]]
    for i in idx[1:]:
        if i - runs[-1][1] <= min_gap:
            runs[-1][1] = int(i)
        else:
            runs.append([int(i), int(i)])
    return [(a, b) for a, b in runs]


def _direction_word(v: np.ndarray, dims: int) -> str | None:
    """Body-frame vector (left, up, forward) -> the word of its dominant axis, or None when unclear."""
    comps = np.abs(v).copy()
    if dims == 2:
        comps[2] = 0.0
    k = int(np.argmax(comps))
    if comps[k] < 1e-9:
        return None
    others = np.delete(comps, k)
    if comps[k] < 1.3 * others.max(initial=0.0):
        return None
    sign = v[k] > 0
    return [("to the left", "to the right"), ("up", "down"), ("forward", "backward")][k][
        0 if sign else 1
    ]


def _count_cycles(sig: np.ndarray, min_prominence: float) -> int:
    """Number of oscillation cycles of a 1-D signal: peaks that stand out from both neighbouring troughs."""
    rng = float(np.ptp(sig))
    if rng < min_prominence:
        return 0
    prom = max(0.3 * rng, min_prominence)
    peaks, _ = find_peaks(sig, prominence=prom)
    troughs, _ = find_peaks(-sig, prominence=prom)
    # A cycle is a back-and-forth; the larger of peak and trough counts is robust to the starting phase.
    return int(max(len(peaks), len(troughs)))


def _sharp_extreme(h: np.ndarray, sign: int, T: int, fps: float, start: float) -> float | None:
    """Time (s) of the highest (sign=+1) / lowest (-1) point when it is a well-defined moment: clearly away
    from the start height and reached in one short span (under 15% of the sequence)."""
    v = sign * h
    peak = float(v.max())
    if peak - sign * start < HEIGHT_CHANGE:
        return None
    near = np.flatnonzero(v > peak - 0.1)
    if near[-1] - near[0] > 0.15 * T:
        return None
    return round(float(np.argmax(v)) / fps, 2)


def _repetitions(r: np.ndarray, min_amp: float) -> int:
    """Repetitions of a part's movement, (T, 3) trajectory in torso lengths.

    Excursions away from the starting pose count first (kicks, punches, squats, raising the arms: the part
    goes out and comes back each time). A single sustained excursion with an oscillation inside (waving,
    clapping) counts the oscillation cycles within it, ignoring the approach and the return.
    """
    d = np.linalg.norm(r - r[0], axis=-1)
    if d.max() < min_amp:
        return 0
    runs = [x for x in _runs(d > 0.5 * d.max(), min_gap=2) if x[1] - x[0] >= 1]
    if len(runs) >= 2:
        return len(runs)
    a, b = runs[0] if runs else (0, len(r) - 1)
    win = r[a : b + 1]
    if len(win) < 5:
        return 1
    ptps = np.ptp(win, axis=0)
    cycles = max(_count_cycles(win[:, k], max(0.6 * min_amp, 0.3 * ptps.max())) for k in range(3))
    return cycles if cycles >= 2 else 1


# -- facts ---------------------------------------------------------------------------------------------------


def kinematic_facts(motion) -> dict:
    """Interpretable facts computed from the canonical joints of ``motion`` (a ``skelformats.Motion``).

    Returns a JSON-serialisable dict with keys: ``frames``, ``fps``, ``duration_s``, ``dims``, ``units``,
    ``scale_m`` (torso length in metres when known), ``visible_parts``, ``missing_parts``, ``limitations``,
    ``parts`` (per part: moving, amount, level, start_s, end_s, direction, repetitions), ``most_active``,
    ``heights`` (pelvis/hands/feet/head: start, end, min, max, change, trend), ``contacts`` (hands,
    left_hand_head, right_hand_head: count, first_s, episodes), ``airborne`` (count), ``locomotion``
    (distance, direction, turn_deg, turn_direction) and ``posture`` (start/end: body, trunk, arms).
    """
    tracks, info = canonical_tracks(motion)
    T = info["frames"]
    dims = info["dims"]
    fps = float(getattr(motion, "fps", 30.0) or 30.0)
    pts = {k: _point(tracks, k) for k in _POINTS}
    # A hidden hand or foot is followed through its elbow or knee (said so in the facts).
    proxies: dict[str, str] = {}
    for part, proxy in _PROXIES.items():
        if pts[part] is None and pts[proxy] is not None:
            pts[part] = pts[proxy]
            proxies[part] = proxy
    limitations: list[str] = []
    if info["people"] > 1:
        limitations.append(f"{info['people']} people are present; only the first is described")
    if dims == 2:
        limitations.append(
            "the skeleton is 2D, so depth (forward/backward movement) cannot be seen"
        )

    pelvis = pts["pelvis"]
    if pelvis is None:
        # Without a root the body frame is undefined; the hip-less layouts are centred on the torso instead.
        pelvis = (
            pts["torso"] if pts["torso"] is not None else np.mean(list(tracks.values()), axis=0)
        )
        limitations.append(
            "the pelvis is not visible; positions are taken relative to the upper body"
        )

    width = max(3, int(round(fps / 10)) | 1)
    sm = {k: (None if v is None else _smooth(v, width)) for k, v in pts.items()}
    pelvis_s = _smooth(pelvis, width)

    # Torso length as the unit: posture-invariant, available in almost every layout.
    top = sm["neck"] if sm["neck"] is not None else sm["head"]
    if (
        top is not None
        and top is not pelvis_s
        and np.linalg.norm(top - pelvis_s, axis=-1).max() > 0
    ):
        scale = float(np.median(np.linalg.norm(top - pelvis_s, axis=-1)))
    else:
        all_pts = np.stack(list(tracks.values()), 1)
        scale = float(np.median(np.ptp(all_pts[..., 1], axis=1))) / 3.0
    scale = max(scale, 1e-6)
    metric = info["units"] in ("m", "cm", "mm", "in")
    to_m = {"m": 1.0, "cm": 0.01, "mm": 0.001, "in": 0.0254}.get(info["units"] or "", None)
    scale_m = scale * to_m if to_m else None

    # Body frame from the first frames: left (shoulders or hips), up (+y), forward = left x up.
    n0 = max(1, T // 10)
    left = None
    for a, b in (
        ("left_shoulder", "right_shoulder"),
        ("left_hip", "right_hip"),
        ("left_hand", "right_hand"),
    ):
        if sm[a] is not None and sm[b] is not None:
            v = (sm[a][:n0] - sm[b][:n0]).mean(0)
            v[1] = 0.0
            if np.linalg.norm(v) > 1e-6 * scale:
                left = v / np.linalg.norm(v)
                break
    if left is None:
        left = np.array([1.0, 0.0, 0.0])
        limitations.append(
            "left/right shoulders and hips are not visible; the body is assumed to face +z"
        )
    up = np.array([0.0, 1.0, 0.0])
    fwd = np.cross(left, up)
    R = np.stack([left, up, fwd])  # world -> body frame (left, up, forward)

    def body(v: np.ndarray) -> np.ndarray:
        return v @ R.T / scale

    # The same frame per time step (hips first: they turn with the body but not with a throw), so that a
    # turning person's arms do not seem to move merely because the whole body rotates.
    Rt = np.broadcast_to(R, (T, 3, 3))
    for a, b in (("left_hip", "right_hip"), ("left_shoulder", "right_shoulder")):
        if sm[a] is not None and sm[b] is not None and dims == 3:
            lv = sm[a] - sm[b]
            lv[:, 1] = 0.0
            norm = np.linalg.norm(lv, axis=-1, keepdims=True)
            if (norm > 1e-6 * scale).all():
                lv = lv / norm
                Rt = np.stack([lv, np.broadcast_to(up, lv.shape), np.cross(lv, up)], axis=1)
                break

    def body_t(v: np.ndarray) -> np.ndarray:
        return np.einsum("tij,tj->ti", Rt, v) / scale

    # Floor: the lowest foot (or joint) height over the sequence.
    feet = [sm[k] for k in ("left_foot", "right_foot") if sm[k] is not None]
    if feet:
        foot_y = np.min([f[:, 1] for f in feet], axis=0)
        floor = float(foot_y.min())
    else:
        all_pts = np.stack(list(tracks.values()), 1)
        foot_y = None
        floor = float(all_pts[..., 1].min())
        limitations.append(
            "the feet are not visible, so heights are measured from the lowest visible joint"
        )

    def secs(frame: int) -> float:
        return round(frame / fps, 2)

    # -- per-part movement ------------------------------------------------------------------------------
    parts: dict[str, dict] = {}
    missing = [p for p in PARTS if sm[p] is None]
    travelling = False
    if T > 1:
        pd = body(pelvis_s[-n0:].mean(0) - pelvis_s[:n0].mean(0))
        travelling = float(np.hypot(pd[0], pd[2])) > TRAVEL
    for part in PARTS:
        tr = sm[part]
        if tr is None:
            continue
        if part == "pelvis":
            # World frame; walking's travel is reported as locomotion, so only height counts then.
            r = body(tr - tr[0])
            if travelling:
                r[:, [0, 2]] = 0.0
        elif part in ("left_foot", "right_foot"):
            # Height in the world (sitting down does not move the feet); horizontal position relative to
            # the pelvis when the body travels (the stepping, not the journey).
            r = body_t(tr - pelvis_s) if travelling else body(tr - tr[:1])
            r[:, 1] = (tr[:, 1] - tr[0, 1]) / scale
        else:
            ref = pelvis_s if part != "head" or sm["torso"] is None else sm["torso"]
            r = body_t(tr - ref)  # (T, 3) in torso lengths, body frame
        if dims == 2:
            r[:, 2] = 0.0
        extent = float(np.linalg.norm(np.ptp(r, axis=0)))
        path = float(np.linalg.norm(np.diff(r, axis=0), axis=-1).sum()) if T > 1 else 0.0
        moving = extent > MOVE
        d0 = np.linalg.norm(r - r[0], axis=-1)
        d1 = np.linalg.norm(r - r[-1], axis=-1)
        thr = max(0.2 * extent, 0.08)
        start = int(np.argmax(d0 > thr)) if moving and (d0 > thr).any() else None
        end = int(T - 1 - np.argmax((d1 > thr)[::-1])) if moving and (d1 > thr).any() else None
        direction = None
        if moving:
            far = int(np.argmax(d0))
            direction = _direction_word(r[far] - r[0], dims)
        reps = _repetitions(r, MOVE) if moving else 0
        level = (
            "still"
            if extent < 0.12
            else "slightly"
            if extent < MOVE
            else "moderately"
            if extent < 1.0
            else "a lot"
        )
        parts[part] = {
            "moving": bool(moving),
            "amount": round(extent, 3),
            "amount_m": round(extent * scale_m, 3) if scale_m else None,
            "path": round(path, 3),
            "level": level,
            "start_s": None if start is None else secs(start),
            "end_s": None if end is None else secs(end),
            "start_frame": start,
            "end_frame": end,
            "direction": direction,
            "repetitions": int(reps),
        }
    moving_parts = sorted((p for p in parts if parts[p]["moving"]), key=lambda p: -parts[p]["path"])
    most_active = moving_parts[0] if moving_parts else None

    # -- heights ------------------------------------------------------------------------------------------
    heights: dict[str, dict] = {}
    for key in ("pelvis", "head", "left_hand", "right_hand", "left_foot", "right_foot"):
        tr = pelvis_s if key == "pelvis" else sm[key]
        if tr is None:
            continue
        h = (tr[:, 1] - floor) / scale
        s, e = float(h[:n0].mean()), float(h[-n0:].mean())
        change = e - s
        peak_rise = float(h.max() - max(s, e))
        dip = float(min(s, e) - h.min())
        if change > HEIGHT_CHANGE:
            trend = "rises"
        elif change < -HEIGHT_CHANGE:
            trend = "drops"
        elif peak_rise > HEIGHT_CHANGE:
            trend = "rises and comes back down"
        elif dip > HEIGHT_CHANGE:
            trend = "drops and comes back up"
        else:
            trend = "stays level"
        heights[key] = {
            "start": round(s, 3),
            "end": round(e, 3),
            "min": round(float(h.min()), 3),
            "max": round(float(h.max()), 3),
            "change": round(change, 3),
            "trend": trend,
            "highest_s": _sharp_extreme(h, +1, T, fps, s),
            "lowest_s": _sharp_extreme(h, -1, T, fps, s),
        }

    # -- contacts -----------------------------------------------------------------------------------------
    contacts: dict[str, dict] = {}

    def contact(a: np.ndarray | None, b: np.ndarray | None, thr: float) -> dict | None:
        if a is None or b is None:
            return None
        d = np.linalg.norm(a - b, axis=-1) / scale
        runs = _runs(d < thr)
        return {
            "count": len(runs),
            "first_s": secs(runs[0][0]) if runs else None,
            "episodes": [[secs(s0), secs(e0)] for s0, e0 in runs],
            "min_distance": round(float(d.min()), 3),
        }

    for key, (a, b, thr) in {
        "hands": ("left_hand", "right_hand", HAND_CONTACT),
        "left_hand_head": ("left_hand", "head", HEAD_CONTACT),
        "right_hand_head": ("right_hand", "head", HEAD_CONTACT),
    }.items():
        if a in proxies or b in proxies:
            continue
        c = contact(sm[a], sm[b], thr)
        if c is not None:
            contacts[key] = c

    # -- airborne phases (jumps): both feet above their own lowest height at once -------------------------
    airborne = None
    if len(feet) == 2:
        lift = np.min([(f[:, 1] - f[:, 1].min()) / scale for f in feet], axis=0)
        runs = [r for r in _runs(lift > AIRBORNE, min_gap=1) if r[1] - r[0] + 1 >= 2]
        airborne = {"count": len(runs), "episodes": [[secs(a), secs(b)] for a, b in runs]}

    # -- locomotion and turning ---------------------------------------------------------------------------
    disp = body(pelvis_s[-n0:].mean(0) - pelvis_s[:n0].mean(0))
    disp[1] = 0.0
    if dims == 2:
        disp[2] = 0.0
    dist = float(np.linalg.norm(disp))
    steps = None
    if dist > TRAVEL and sm["left_foot"] is not None and sm["right_foot"] is not None and dims == 3:
        # Each step puts the other foot ahead: extremes of the feet's forward separation.
        sep = body(sm["left_foot"] - sm["right_foot"])[:, 2]
        prom = max(0.3 * float(np.ptp(sep)), 0.1)
        steps = len(find_peaks(sep, prominence=prom)[0]) + len(find_peaks(-sep, prominence=prom)[0])
    locomotion: dict[str, Any] = {
        "steps": steps,
        "distance": round(dist, 3),
        "distance_m": round(dist * scale_m, 3) if scale_m else None,
        "direction": _direction_word(disp, dims) if dist > TRAVEL else None,
        "turn_deg": None,
        "turn_direction": None,
    }
    if dims == 3:
        for a, b in (("left_shoulder", "right_shoulder"), ("left_hip", "right_hip")):
            if sm[a] is not None and sm[b] is not None:
                lv = sm[a] - sm[b]
                f = np.cross(lv, up)  # facing direction per frame
                yaw = np.unwrap(np.arctan2(f[:, 0], f[:, 2]))
                turn = float(np.degrees(yaw[-n0:].mean() - yaw[:n0].mean()))
                locomotion["turn_deg"] = round(turn, 1)
                if abs(turn) > TURN_DEG:
                    locomotion["turn_direction"] = "left" if turn > 0 else "right"
                break

    # -- the headline count: steps, jumps, hand contacts, or the main part's repetitions --------------------
    count = None
    hands_c = contacts.get("hands")
    if steps and steps >= 2:
        count = {"count": steps, "what": "steps", "part": None}
    elif airborne and airborne["count"]:
        count = {"count": airborne["count"], "what": "jumps", "part": None}
    elif hands_c and hands_c["count"] and hands_c["episodes"][0][0] > 0:
        count = {"count": hands_c["count"], "what": "hand contacts", "part": None}
    elif most_active is not None and parts[most_active]["repetitions"]:
        count = {
            "count": parts[most_active]["repetitions"],
            "what": "repetitions",
            "part": most_active,
        }

    # -- posture ----------------------------------------------------------------------------------------
    leg = None
    for s in ("left", "right"):
        hip, knee, ankle = tracks.get(f"{s}_hip"), tracks.get(f"{s}_knee"), tracks.get(f"{s}_ankle")
        if hip is not None and knee is not None and ankle is not None:
            leg = float(
                np.median(
                    np.linalg.norm(hip - knee, axis=-1) + np.linalg.norm(knee - ankle, axis=-1)
                )
            )
            break

    def posture(sl: slice) -> dict:
        out: dict[str, Any] = {"body": None, "trunk": None}
        trunk_v = None
        if sm["neck"] is not None and pts["pelvis"] is not None:
            trunk_v = body((sm["neck"][sl] - pelvis_s[sl]).mean(0))
            ang = math.degrees(math.atan2(math.hypot(trunk_v[0], trunk_v[2]), trunk_v[1]))
            if ang < 30:
                out["trunk"] = "upright"
            elif ang > 65:
                out["trunk"] = "horizontal"
            elif dims == 3 and trunk_v[2] > 0:
                out["trunk"] = "bent forward"
            elif dims == 3:
                out["trunk"] = "leaning back"
            else:
                out["trunk"] = "tilted"
        if foot_y is not None and pts["pelvis"] is not None:
            hp = float((pelvis_s[sl, 1] - foot_y[sl]).mean())
            ref_leg = leg if leg is not None else 1.9 * scale
            ratio = hp / ref_leg
            out["pelvis_height_ratio"] = round(ratio, 3)
            if out["trunk"] == "horizontal" and ratio < 0.45:
                out["body"] = "lying down"
            elif ratio > 0.78:
                out["body"] = "standing"
            else:
                # Seated: thighs roughly horizontal with the knees well in front of the pelvis; squatting:
                # the pelvis sinks towards the heels.
                knees = [sm[k] for k in ("left_knee", "right_knee") if sm[k] is not None]
                if knees and dims == 3:
                    kn = np.mean([k[sl] for k in knees], axis=0).mean(0)
                    rel = body(kn - pelvis_s[sl].mean(0))
                    heel_fwd = None
                    if feet:
                        heel_fwd = body(
                            np.mean([f[sl] for f in feet], axis=0).mean(0) - pelvis_s[sl].mean(0)
                        )[2]
                    seated = rel[2] > 0.5 and (heel_fwd is None or heel_fwd > 0.3)
                    out["body"] = "sitting" if seated else "squatting"
                else:
                    out["body"] = "squatting" if ratio < 0.55 else "sitting"
        for s in ("left", "right"):
            hand, sh, head = sm[f"{s}_hand"], sm[f"{s}_shoulder"], sm["head"]
            if hand is None:
                out[f"{s}_arm"] = None
                continue
            hy = float(hand[sl, 1].mean())
            if head is not None and hy > float(head[sl, 1].mean()):
                out[f"{s}_arm"] = "raised above the head"
            elif sh is not None and hy > float(sh[sl, 1].mean()) - 0.25 * scale:
                out[f"{s}_arm"] = "held out at shoulder height"
            else:
                out[f"{s}_arm"] = "lowered"
        return out

    w = max(1, T // 10)
    posture_start, posture_end = posture(slice(0, w)), posture(slice(T - w, T))

    return {
        "frames": T,
        "fps": fps,
        "duration_s": round(T / fps, 2),
        "dims": dims,
        "units": info["units"],
        "metric": metric,
        "scale_m": round(scale_m, 4) if scale_m else None,
        "visible_parts": [p for p in PARTS if p in parts],
        "missing_parts": missing,
        "proxies": proxies,
        "hidden_joints": info["hidden_joints"],
        "limitations": limitations,
        "parts": parts,
        "moving_parts": moving_parts,
        "most_active": most_active,
        "heights": heights,
        "contacts": contacts,
        "airborne": airborne,
        "locomotion": locomotion,
        "count": count,
        "posture": {"start": posture_start, "end": posture_end},
    }


# -- text ------------------------------------------------------------------------------------------------------


def _amount_text(p: dict) -> str:
    if p.get("amount_m") is not None:
        return f"{p['level']} (range about {p['amount_m']:.2f} m)"
    return f"{p['level']} (range about {p['amount']:.1f} torso lengths)"


def _times(n: int) -> str:
    return {1: "once", 2: "twice"}.get(n, f"{n} times")


def observations(facts: dict) -> list[str]:
    """The facts as short English sentences, most informative first."""
    out: list[str] = []
    parts = facts["parts"]
    moving = facts["moving_parts"]
    count = facts.get("count")
    if not moving:
        out.append("No body part moves noticeably.")
    for part in moving[:3]:
        p = parts[part]
        s = f"The {part_label(part)} moves {_amount_text(p)}"
        if p["start_s"] is not None and p["end_s"] is not None:
            s += f", from {p['start_s']:.1f} s to {p['end_s']:.1f} s"
        if p["direction"]:
            s += f", mostly {p['direction']}"
        if count and count["part"] == part and count["count"] >= 2:
            s += f", repeating the movement {count['count']} times"
        out.append(s + ".")
    if count and count["what"] == "steps":
        out.append(f"The feet take {count['count']} steps.")
    air = facts.get("airborne")
    if air and air["count"] and (not count or count["what"] != "steps"):
        out.append(f"Both feet leave the ground {_times(air['count'])}.")
    c = facts["contacts"].get("hands")
    if c and c["count"] and c["episodes"][0][0] > 0:
        out.append(f"The hands come together {_times(c['count'])}, first at {c['first_s']:.1f} s.")
    ps, pe = facts["posture"]["start"].get("body"), facts["posture"]["end"].get("body")
    if ps and pe and ps != pe:
        out.append(f"The person starts {ps} and ends {pe}.")

    def height_text(key: str, h: dict) -> str:
        if h["trend"] in ("rises", "drops"):
            detail = f"height change {h['change']:+.2f} torso lengths"
        elif h["trend"].startswith("rises"):
            detail = f"up to {h['max'] - h['start']:+.2f} torso lengths above its start"
        else:
            detail = f"down to {h['min'] - h['start']:+.2f} torso lengths below its start"
        return f"The {part_label(key)} {h['trend']} ({detail})."

    pel = facts["heights"].get("pelvis")
    if pel and pel["trend"] != "stays level":
        out.append(height_text("pelvis", pel))
    loc = facts["locomotion"]
    if loc["direction"]:
        d = (
            f"{loc['distance_m']:.1f} m"
            if loc.get("distance_m")
            else f"{loc['distance']:.1f} torso lengths"
        )
        out.append(f"The whole body travels {loc['direction']} by about {d}.")
    if loc["turn_direction"]:
        out.append(
            f"The body turns to the {loc['turn_direction']} by about {abs(loc['turn_deg']):.0f} degrees."
        )
    for key, h in facts["heights"].items():
        if key != "pelvis" and h["trend"] != "stays level" and key in moving[:3]:
            out.append(height_text(key, h))
    for side in ("left", "right"):
        c = facts["contacts"].get(f"{side}_hand_head")
        if c and c["count"]:
            out.append(f"The {side} hand comes near the head {_times(c['count'])}.")
    if ps and pe and ps == pe:
        out.append(f"The person is {ps} at the start and at the end.")
    still = [part_label(p) for p in parts if not parts[p]["moving"]]
    if still:
        out.append(
            "The "
            + ", ".join(still)
            + (" stays" if len(still) == 1 else " stay")
            + " nearly still."
        )
    for part, proxy in facts.get("proxies", {}).items():
        out.append(
            f"The {part_label(part)} is not visible; I follow the {part_label(proxy)} instead."
        )
    for part in facts["missing_parts"]:
        out.append(f"The {part_label(part)} is not visible, so I cannot tell how it moves.")
    for lim in facts["limitations"]:
        out.append(lim[0].upper() + lim[1:] + ".")
    return out


# -- questions ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QAItem:
    """One multiple-choice question: ``choices[answer_index]`` is correct."""

    family: str
    question: str
    choices: tuple[str, ...]
    answer_index: int
    evidence: dict = field(default_factory=dict)

    @property
    def answer(self) -> str:
        return self.choices[self.answer_index]

    def to_dict(self) -> dict:
        d = asdict(self)
        d["choices"] = list(self.choices)
        d["answer"] = self.answer
        return d


def _item(
    family: str, question: str, answer: str, distractors, rng: np.random.Generator, **evidence
) -> QAItem:
    choices = [answer] + [d for d in dict.fromkeys(distractors) if d != answer]
    order = rng.permutation(len(choices))
    shuffled = tuple(choices[i] for i in order)
    return QAItem(family, question, shuffled, shuffled.index(answer), dict(evidence))


def make_questions(
    motion, facts: dict | None = None, rng=None, *, max_per_family: int | None = 2
) -> list[QAItem]:
    """Multiple-choice questions answerable from the skeleton alone, built from ``facts``.

    A question is only asked when the facts make its answer clear-cut (large margins between options), so
    each family may yield zero or more items (at most ``max_per_family``, drawn with ``rng``; None for all).
    ``rng``: a numpy Generator, a seed or None (seed 0).
    """
    if facts is None:
        facts = kinematic_facts(motion)
    rng = (
        rng
        if isinstance(rng, np.random.Generator)
        else np.random.default_rng(0 if rng is None else rng)
    )
    items: list[QAItem] = []
    parts = facts["parts"]
    dur = facts["duration_s"] or 1.0

    # temporal order: two well-separated events of different body parts (movement onsets, highest and
    # lowest points, first hand contact, first take-off).
    events: list[tuple[float, str, str]] = []
    for p in facts["moving_parts"]:
        if parts[p]["start_s"] is not None:
            events.append((parts[p]["start_s"], f"the {part_label(p)} starts moving", p))
    for key, h in facts["heights"].items():
        if h.get("highest_s") is not None:
            events.append((h["highest_s"], f"the {part_label(key)} reaches its highest point", key))
        if h.get("lowest_s") is not None:
            events.append((h["lowest_s"], f"the {part_label(key)} reaches its lowest point", key))
    c = facts["contacts"].get("hands")
    if c and c["count"] and c["first_s"]:
        events.append((c["first_s"], "the hands first come together", "hands"))
    air = facts.get("airborne")
    if air and air["count"]:
        events.append((air["episodes"][0][0], "both feet first leave the ground", "feet"))
    for i, (ta, ea, pa) in enumerate(events):
        for tb, eb, pb in events[i + 1 :]:
            if pa != pb and abs(ta - tb) > 0.2 * dur:
                first = ea if ta < tb else eb
                items.append(
                    _item(
                        "temporal_order",
                        f"Which happens first: {ea}, or {eb}?",
                        first,
                        [ea, eb],
                        rng,
                        times={ea: ta, eb: tb},
                    )
                )

    top = facts["most_active"]
    # counting: the headline count only (steps, jumps, hand contacts or the main part's repetitions).
    count = facts.get("count")
    if count and count["count"] >= (2 if count["what"] == "repetitions" else 1):
        n = int(count["count"])
        question = {
            "steps": "How many steps does the person take?",
            "jumps": "How many times do both feet leave the ground?",
            "hand contacts": "How many times do the two hands come together?",
        }.get(
            count["what"]
        ) or f"How many times does the {part_label(count['part'])} repeat its movement?"
        cands = [str(k) for k in range(max(1, n - 2), n + 4) if k != n]
        distract = [cands[i] for i in rng.permutation(len(cands))[:3]]
        items.append(
            _item(
                "counting", question, str(n), distract, rng, what=count["what"], part=count["part"]
            )
        )

    # comparison: which of two parts moves more, only with a clear ratio.
    vis = list(parts)
    for i, a in enumerate(vis):
        for b in vis[i + 1 :]:
            pa, pb = parts[a]["path"], parts[b]["path"]
            hi, lo = (a, b) if pa > pb else (b, a)
            if parts[hi]["moving"] and max(pa, pb) > 2.5 * max(min(pa, pb), 1e-6):
                items.append(
                    _item(
                        "comparison",
                        f"Which moves more, the {part_label(a)} or the {part_label(b)}?",
                        f"the {part_label(hi)}",
                        [f"the {part_label(a)}", f"the {part_label(b)}"],
                        rng,
                        paths={a: pa, b: pb},
                    )
                )
    h = facts["heights"]
    if "left_hand" in h and "right_hand" in h:
        diff = h["left_hand"]["max"] - h["right_hand"]["max"]
        if abs(diff) > 0.5:
            hi = "left" if diff > 0 else "right"
            items.append(
                _item(
                    "comparison",
                    "Which hand reaches higher, the left or the right?",
                    f"the {hi} hand",
                    ["the left hand", "the right hand"],
                    rng,
                    max_heights={"left": h["left_hand"]["max"], "right": h["right_hand"]["max"]},
                )
            )

    # posture at the start and at the end.
    for when in ("start", "end"):
        body = facts["posture"][when].get("body")
        if body:
            items.append(
                _item(
                    "posture",
                    f"What is the person's posture at the {'beginning' if when == 'start' else 'end'} of the sequence?",
                    body,
                    POSTURES,
                    rng,
                    when=when,
                )
            )

    # direction: travel, turning, and the first movement of the most active part.
    loc = facts["locomotion"]
    horizontal = [d for d in DIRECTIONS if d not in ("up", "down")]
    if facts["dims"] == 2:
        horizontal = ["to the left", "to the right"]
    if loc["direction"] and loc["direction"] in horizontal:
        items.append(
            _item(
                "direction",
                "In which direction does the person travel?",
                loc["direction"],
                horizontal,
                rng,
            )
        )
    if loc["turn_direction"]:
        items.append(
            _item(
                "direction",
                "Which way does the person turn?",
                f"to the {loc['turn_direction']}",
                ["to the left", "to the right"],
                rng,
                turn_deg=loc["turn_deg"],
            )
        )
    if top is not None and parts[top]["direction"]:
        opts = (
            list(DIRECTIONS)
            if facts["dims"] == 3
            else ["up", "down", "to the left", "to the right"]
        )
        items.append(
            _item(
                "direction",
                f"Relative to the body, in which direction does the {part_label(top)} move furthest from where it starts?",
                parts[top]["direction"],
                opts,
                rng,
                part=top,
            )
        )
    if max_per_family is None:
        return items
    kept: list[QAItem] = []
    for fam in FAMILIES:
        group = [it for it in items if it.family == fam]
        if len(group) > max_per_family:
            pick = sorted(rng.choice(len(group), size=max_per_family, replace=False))
            group = [group[i] for i in pick]
        kept += group
    return kept


__all__ = [
    "PARTS",
    "FAMILIES",
    "POSTURES",
    "DIRECTIONS",
    "QAItem",
    "canonical_tracks",
    "kinematic_facts",
    "make_questions",
    "observations",
    "part_label",
]
