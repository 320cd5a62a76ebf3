"""Procedural motion synthesis: the project's embedded default data.

``generate(action, *, layout="ntu25", seed=0, **params) -> Motion`` drives a parametrised canonical body
(bone lengths from height and limb ratios) with minimum-jerk / periodic joint-angle profiles per action,
runs forward kinematics to every canonical joint (metres, y up, facing +z before ``direction``), keeps the
planted feet still and on the floor (ballistic arcs while airborne), and converts the result to any
registered layout with :func:`skelformats.convert.convert` (2D layouts through a perspective view camera).
Everything not given is sampled from ``seed`` (one independent stream per parameter, so fixing one leaves
the others unchanged); the full ground truth is in ``motion.meta["params"]``.

``ACTIONS`` are the core actions (the synthetic suite's classes); ``EXTRA_ACTIONS`` (carry, drink,
answer_phone, push, pull) are accepted by ``generate`` too but stay out of the default suite.

Parameters (all optional)
-------------------------
side                "left"/"right" (wave, punch, throw, pick_up, drink, answer_phone: the hand; kick: the
                    kicking leg; walk, run, carry: the foot that steps first; turn: turning towards the
                    body's left/right);
                    raise_arms also takes "both".  Actions without a side reject it.
repetitions         int >= 1: waves, claps, squats, kicks, punches, bows, raises, throws, jumps, sips,
                    pushes, pulls; walk/run/carry: steps.  sit_down, stand_up, turn, pick_up and
                    answer_phone are done once.
speed               tempo multiplier (1 = natural; durations scale with 1/speed; flight time follows gravity).
amplitude           range-of-motion multiplier (1 = natural).
direction           degrees: initial facing and travel direction, (sin d, 0, cos d) in the world (0 = +z,
                    90 = +x); wrapped to (-180, 180].
height, arm_ratio, leg_ratio, torso_ratio, shoulder_width_ratio, hip_width_ratio
                    body proportions (height = standing crown height in metres).
view_yaw, view_pitch, camera_distance, focal_length, image_size
                    the virtual camera (degrees; yaw 0 = on the +z side; pitch > 0 = above), metres, pixels,
                    (width, height) pixels; focal_length defaults to the one that frames the performance.
camera_space        3D layouts: coordinates in the camera frame (Kinect convention: x left, y up, z forward)
                    instead of the world frame.
variability         how unevenly movements repeat: std of each move's duration factor and half the std of
                    each repetition's amplitude factor (default 0.08; 0 = metronomic and identical;
                    ballistic flight is never varied).
noise               Gaussian std in metres, added to the 3D joints (before projection).
dropped_joints      a fraction of the layout's joints, or a list of joint names (own or canonical): those get
                    confidence 0 and coordinates 0 in every frame.
fps, num_frames, duration
                    default 30 fps at the natural length.  ``num_frames`` alone resamples the whole action
                    into that many frames; with ``fps`` or ``duration`` the clip length is fixed and, unless
                    ``speed`` is given, the speed is fitted to it (a given speed is padded with rest, or
                    rejected if it does not fit).
jump_height, jump_distance (jump), turn_angle (turn, degrees), style (raise_arms: "front"/"side")
                    action-specific.

Coordinates follow the layout: 3D layouts in metres (or their declared length unit, e.g. millimetres
for units="mm", with their declared up axis); 2D layouts in pixels, y down; MediaPipe's "normalized" layout in image-normalised
x, y with depth at the scale of x relative to the mid-hip.  Joints a layout has that the canonical body
cannot produce (no canonical name) have confidence 0 and coordinates 0.

``meta["params"]`` (JSON-serialisable)
--------------------------------------
action, seed, layout, dims, units, frame ("world" | "camera" | "image"), fps, num_frames,
duration (s), side, limb ("right_hand", "left_foot", "both_hands" or None), active_parts
(PART_NAMES of the performing limbs), repetitions, speed, amplitude, direction, end_direction (facing
at the end, degrees), travel_direction (degrees, or None when the body does not travel),
facing / heading (start facing and travel relative to the camera: "towards the camera", "away from
the camera", "to the left", "to the right"; heading None without travel), the action-specific
parameters, the six body parameters, view_yaw, view_pitch, camera_distance, camera_position [x, y, z],
camera_space, image_size (image frames only), focal_length (None for world/camera 3D), variability,
noise, dropped_joints (names), drop_fraction, missing_joints (names),
start_posture / end_posture ("standing" | "sitting"),
phases [{name, start, end, start_frame, end_frame}] (e.g. standing, raise_arm, wave, lower_arm;
walking; sitting_down, sitting; lean_forward, rise),
repetition_times [{index, start, peak, end, start_frame, peak_frame, end_frame}] (peak: the hand
furthest out, the punch extended, the squat lowest, the jump apex, the throw's release, a step's
mid-swing, ...; walk/run/carry entries also carry "foot"; repeated gestures carry "amplitude", that
repetition's own range-of-motion multiplier),
contacts [{parts, time, time_frame}] (clap: the hands meet; drink, answer_phone: the hand reaches the
head), airborne [{start, end, start_frame, end_frame}] (jump flights, run flight phases),
pelvis_height {start, end, min, max} (m), feet_max_clearance (m), displacement [dx, dy, dz] and
distance (m, pelvis, world), travel_speed (m/s over the walking/running/jumping phase; None without
travel), time_offset (s of rest padding before the action), plus per-action extras (flight_time,
cadence, step_time, steps, raise_angle, bow_angle, squat_knee_angle, hand_contact_rotation,
reach_hand_height).
Times are seconds from the first frame.
"""

from __future__ import annotations

from .body import BodyShape, Skeleton
from .camera import ViewCamera
from .generate import (
    ACTIONS,
    COMMON_PARAMS,
    EXTRA_ACTIONS,
    SPECS,
    canonical_layout,
    generate,
    generate_dataset,
    resolve_params,
)


def action_params(action: str) -> tuple[str, ...]:
    """Names of the parameters ``generate(action, ...)`` accepts."""
    return COMMON_PARAMS + tuple(_spec(action).extra)


def action_info(action: str) -> dict:
    """What an action is: ``description``, allowed ``sides`` (empty: none), ``repetitions`` sampling range
    (None: done once) and its ``extra`` parameter names."""
    spec = _spec(action)
    return {
        "description": spec.description,
        "sides": list(spec.sides),
        "repetitions": None if spec.repetitions is None else list(spec.repetitions),
        "extra": list(spec.extra),
    }


def _spec(action: str):
    if action not in SPECS:
        raise ValueError(f"unknown action {action!r}; known: {list(SPECS)}")
    return SPECS[action]


__all__ = [
    "ACTIONS",
    "EXTRA_ACTIONS",
    "generate",
    "generate_dataset",
    "action_params",
    "action_info",
    "resolve_params",
    "canonical_layout",
    "BodyShape",
    "Skeleton",
    "ViewCamera",
    "COMMON_PARAMS",
]
