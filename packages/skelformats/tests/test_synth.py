"""Procedural motion synthesis: determinism, every layout, kinematic plausibility, ground truth."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.signal import find_peaks
from skelformats import Layout, get_layout, list_layouts, synth
from skelformats.synth import canonical_layout
from skelformats.synth.body import rot_y

CANON = canonical_layout()
J = {n: i for i, n in enumerate(CANON.joints)}
FEET = [
    J[f"{s}_{n}"]
    for s in ("left", "right")
    for n in ("ankle", "heel", "foot", "big_toe", "small_toe")
]
ALL_ACTIONS = synth.ACTIONS + synth.EXTRA_ACTIONS
REQUIRED = {
    "walk",
    "run",
    "jump",
    "wave",
    "clap",
    "squat",
    "kick",
    "punch",
    "bow",
    "sit_down",
    "stand_up",
    "turn",
    "raise_arms",
    "throw",
    "pick_up",
}


def canon(action, **kw):
    kw.setdefault("seed", 0)
    return synth.generate(action, layout=CANON, **kw)


def body_frame(m):
    """Data rotated back by the facing direction: the body starts facing +z."""
    R = rot_y(np.deg2rad(np.array(-m.meta["params"]["direction"])))
    return m.data.astype(np.float64) @ R.T


def bone_lengths(m):
    d = m.data.astype(np.float64)
    e = m.layout.edges
    return np.linalg.norm(d[:, e[:, 0]] - d[:, e[:, 1]], axis=-1)  # (T, E)


def test_actions_cover_the_contract():
    assert REQUIRED <= set(synth.ACTIONS)


def test_deterministic_for_a_seed():
    for action in ("walk", "wave", "jump"):
        a = synth.generate(action, layout="ntu25", seed=7, noise=0.01, dropped_joints=0.2)
        b = synth.generate(action, layout="ntu25", seed=7, noise=0.01, dropped_joints=0.2)
        np.testing.assert_array_equal(a.data, b.data)
        np.testing.assert_array_equal(a.confidence, b.confidence)
        assert json.dumps(a.meta, sort_keys=True) == json.dumps(b.meta, sort_keys=True)


def test_different_seeds_differ():
    for action in synth.ACTIONS:
        a = synth.generate(action, seed=1)
        b = synth.generate(action, seed=2)
        assert a.meta["params"] != b.meta["params"]
        assert a.data.shape != b.data.shape or not np.allclose(a.data, b.data)


@pytest.mark.parametrize("layout", list_layouts())
def test_every_action_in_every_layout(layout):
    lay = get_layout(layout)
    if not any(c is not None for c in lay.canonical):
        pytest.skip(f"{layout} has no canonical names")
    for action in ALL_ACTIONS:
        m = synth.generate(action, layout=layout, seed=3)
        T = m.meta["params"]["num_frames"]
        assert m.data.shape == (T, lay.num_joints, lay.dims)
        assert m.data.dtype == np.float32 and np.isfinite(m.data).all()
        assert m.confidence.shape == (T, lay.num_joints)
        # joints without a canonical counterpart are flagged missing with zero coordinates, never faked
        for j, c in enumerate(lay.canonical):
            if c is None:
                assert (m.confidence[:, j] == 0).all() and (m.data[:, j] == 0).all()
                assert lay.joints[j] in m.meta["params"]["missing_joints"]
            else:
                assert (m.confidence[:, j] == 1).all()
        observed = m.data[:, m.confidence[0] > 0]
        assert np.ptp(observed.reshape(-1, lay.dims), axis=0).max() > 0  # not a collapsed body
        assert m.meta["action"] == action
        json.dumps(m.meta)  # ground truth is plain JSON


def test_2d_layouts_are_images_with_the_person_upright():
    for layout in ("coco17", "openpose25", "penn13"):
        m = synth.generate("raise_arms", layout=layout, seed=4, view_pitch=10.0)
        lay, p = m.layout, m.meta["params"]
        w, h = p["image_size"]
        head = m.data[:, lay.canonical.index("left_shoulder"), 1]
        ankle = m.data[:, lay.canonical.index("left_ankle"), 1]
        assert (head < ankle).all()  # image rows grow downwards
        assert (m.data[..., 0] > 0).all() and (m.data[..., 0] < w).all()
        assert (m.data[..., 1] > 0).all() and (m.data[..., 1] < h).all()


def test_2d_is_the_perspective_projection_of_the_camera_space_3d():
    kw = dict(seed=5, view_yaw=30.0, view_pitch=15.0)
    m3 = synth.generate("walk", layout="ntu25", camera_space=True, **kw)
    m2 = synth.generate("walk", layout="openpose25", **kw)
    p = m2.meta["params"]
    f, (w, h) = p["focal_length"], p["image_size"]
    for name in ("left_wrist", "right_knee", "neck", "pelvis"):
        x = m3.data[:, m3.layout.canonical.index(name)].astype(np.float64)
        uv = np.stack([w / 2 - f * x[:, 0] / x[:, 2], h / 2 - f * x[:, 1] / x[:, 2]], -1)
        np.testing.assert_allclose(m2.data[:, m2.layout.canonical.index(name)], uv, atol=0.05)


@pytest.mark.parametrize("action", ALL_ACTIONS)
def test_bones_are_rigid_and_feet_stay_on_or_above_the_floor(action):
    m = canon(action, seed=11)
    L = bone_lengths(m)
    rel = L.std(axis=0) / L.mean(axis=0)
    assert rel.max() < 1e-4, CANON.edges[rel.argmax()]
    low = m.data[:, FEET, 1].min(axis=1)
    assert low.min() > -1e-4  # nothing below the floor
    assert np.isclose(low[0], 0.0, atol=1e-4) and np.isclose(
        low[-1], 0.0, atol=1e-4
    )  # starts and ends standing on it
    assert m.data[:, J["head_top"], 1].max() < m.meta["params"]["height"] + 0.4


@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("reps", [1, 3, 5])
def test_wave_moves_the_given_hand_the_given_number_of_times(side, reps):
    other = "left" if side == "right" else "right"
    m = synth.generate("wave", layout="ntu25", seed=reps, side=side, repetitions=reps)
    lay = m.layout
    d = body_frame(m)
    w = d[:, lay.index(f"{side}_wrist")]
    o = d[:, lay.index(f"{other}_wrist")]
    path = lambda x: np.linalg.norm(np.diff(x, axis=0), axis=-1).sum()  # noqa: E731
    assert path(w) > 10 * path(o)
    sign = 1.0 if side == "left" else -1.0
    peaks, _ = find_peaks(
        sign * w[:, 0], prominence=0.02
    )  # side-to-side: peaks of the sideways position
    assert len(peaks) == reps
    rt = m.meta["params"]["repetition_times"]
    assert len(rt) == reps
    # the recorded peak times are where the hand is out
    np.testing.assert_allclose(sorted(p["peak_frame"] for p in rt), peaks, atol=2)
    assert m.meta["params"]["side"] == side and m.meta["params"]["limb"] == f"{side}_hand"


def test_jump_lifts_the_pelvis_and_leaves_the_floor():
    m = canon("jump", seed=2, jump_height=0.3, jump_distance=0.0, repetitions=2)
    p = m.meta["params"]
    pel = m.data[:, J["pelvis"], 1]
    assert pel.max() > pel[0] + 0.3
    feet_low = m.data[:, FEET, 1].min(axis=1)
    assert feet_low.max() > 0.25
    assert len(p["airborne"]) == 2
    for a in p["airborne"]:
        mid = (a["start_frame"] + a["end_frame"]) // 2
        assert feet_low[mid] > 0.2
    # physics: flight time of a ballistic rise h is sqrt(8 h / g)
    assert np.isclose(p["flight_time"], np.sqrt(8 * 0.3 / 9.81), rtol=1e-3)
    assert abs(p["displacement"][2]) < 0.05 and abs(p["displacement"][0]) < 0.05


def test_sit_down_lowers_the_pelvis_and_stand_up_raises_it():
    m = canon("sit_down", seed=3)
    pel = m.data[:, J["pelvis"], 1]
    assert pel[-1] < pel[0] - 0.2
    assert pel[-1] <= pel.min() + 0.02
    p = m.meta["params"]
    assert (p["start_posture"], p["end_posture"]) == ("standing", "sitting")
    s = canon("stand_up", seed=3)
    pel = s.data[:, J["pelvis"], 1]
    assert pel[-1] > pel[0] + 0.2
    assert (s.meta["params"]["start_posture"], s.meta["params"]["end_posture"]) == (
        "sitting",
        "standing",
    )


@pytest.mark.parametrize("direction", [0.0, 90.0, -135.0])
def test_walk_translates_the_root_in_the_given_direction(direction):
    m = canon("walk", seed=1, direction=direction, repetitions=6)
    pel = m.data[:, J["pelvis"]].astype(np.float64)
    d = pel[-1] - pel[0]
    dist = np.hypot(d[0], d[2])
    assert dist > 6 * 0.3
    heading = np.degrees(np.arctan2(d[0], d[2]))
    assert abs((heading - direction + 180) % 360 - 180) < 5
    # the body faces where it goes: left-to-right hip vector is perpendicular to the travel
    hips = m.data[0, J["left_hip"]] - m.data[0, J["right_hip"]]
    assert abs(np.dot(hips[[0, 2]], d[[0, 2]]) / (np.linalg.norm(hips[[0, 2]]) * dist)) < 0.05
    p = m.meta["params"]
    assert p["travel_direction"] == direction and len(p["repetition_times"]) == 6
    assert np.isclose(p["distance"], dist, atol=1e-3)


def test_walk_feet_do_not_slide_while_supporting():
    m = canon("walk", seed=4, repetitions=6, fps=60)
    d = m.data.astype(np.float64)
    for side in ("left", "right"):
        heel = d[:, J[f"{side}_heel"]]
        grounded = (heel[1:, 1] < 0.005) & (heel[:-1, 1] < 0.005)
        speed = np.linalg.norm(np.diff(heel[:, [0, 2]], axis=0), axis=-1) * 60
        assert grounded.sum() > 20
        assert np.median(speed[grounded]) < 0.05  # m/s: planted heels stay put


def test_turn_changes_facing_by_the_turn_angle():
    for side, sign in (("left", 1), ("right", -1)):
        m = canon("turn", seed=6, side=side, turn_angle=90.0, direction=0.0)

        def facing(m, f):
            v = m.data[f, J["left_hip"]] - m.data[f, J["right_hip"]]  # points to the body's left
            return (
                np.degrees(np.arctan2(v[0], v[2])) - 90.0
            )  # facing = left rotated by -90 degrees about y

        turned = (facing(m, -1) - facing(m, 0) + 180) % 360 - 180
        assert abs(turned - sign * 90.0) < 3
        assert m.meta["params"]["end_direction"] == sign * 90.0


def test_clap_hands_meet_at_the_recorded_contacts():
    m = canon("clap", seed=2, repetitions=4)
    gap = np.linalg.norm(m.data[:, J["left_hand"]] - m.data[:, J["right_hand"]], axis=-1)
    contacts = m.meta["params"]["contacts"]
    assert len(contacts) == 4
    for c in contacts:
        assert gap[c["time_frame"]] < 0.06
    assert gap.max() > 0.25


def test_pick_up_reaches_the_floor_with_the_given_hand():
    m = canon("pick_up", seed=2, side="left")
    assert m.data[:, J["left_hand"], 1].min() < 0.15
    assert m.data[:, J["right_hand"], 1].min() > m.data[:, J["left_hand"], 1].min() + 0.05


def test_kick_lifts_the_kicking_foot_and_plants_the_other():
    m = canon("kick", seed=2, side="right", repetitions=2)
    r, l_ = m.data[:, J["right_ankle"]], m.data[:, J["left_ankle"]]
    assert r[:, 1].max() > 0.5
    assert np.ptp(l_[:, 1]) < 0.01 and np.ptp(l_[:, 0]) < 1e-3 and np.ptp(l_[:, 2]) < 1e-3
    heights = r[:, 1]
    peaks, _ = find_peaks(heights, prominence=0.2)
    assert len(peaks) == 2


def test_body_proportions_set_the_bone_lengths():
    short = canon("squat", seed=1, height=1.5)
    tall = canon("squat", seed=1, height=1.9)
    assert np.isclose(
        tall.data[0, J["head_top"], 1] / short.data[0, J["head_top"], 1], 1.9 / 1.5, rtol=1e-3
    )
    long_arms = canon("squat", seed=1, arm_ratio=1.2)
    base = canon("squat", seed=1, arm_ratio=1.0)

    def forearm(m):
        return np.linalg.norm(m.data[0, J["left_wrist"]] - m.data[0, J["left_elbow"]])

    def thigh(m):
        return np.linalg.norm(m.data[0, J["left_knee"]] - m.data[0, J["left_hip"]])

    assert forearm(long_arms) / thigh(long_arms) > 1.15 * forearm(base) / thigh(base)


def test_units_and_frames_follow_the_layout():
    m = synth.generate("bow", layout="ntu25", seed=8)
    base = get_layout("openni15")
    in_mm = Layout(
        name="openni15_mm",
        joints=base.joints,
        parents=base.parents,
        canonical=base.canonical,
        units="mm",
        up_axis="y",
    )
    z_up = Layout(
        name="openni15_zup",
        joints=base.joints,
        parents=base.parents,
        canonical=base.canonical,
        units="m",
        up_axis="z",
    )
    a = m.data[:, m.layout.canonical.index("left_knee")]
    b = synth.generate("bow", layout=in_mm, seed=8).data[:, base.canonical.index("left_knee")]
    np.testing.assert_allclose(b, a * 1000.0, rtol=1e-5, atol=0.05)
    c = synth.generate("bow", layout=z_up, seed=8).data[:, base.canonical.index("left_knee")]
    np.testing.assert_allclose(c[:, 2], a[:, 1], atol=1e-5)  # height is now z
    np.testing.assert_allclose(np.linalg.norm(c, axis=-1), np.linalg.norm(a, axis=-1), atol=1e-5)
    mp = synth.generate("bow", layout="mediapipe33", seed=8)
    seen = mp.data[:, mp.confidence[0] > 0]
    assert 0 < seen[..., :2].min() and seen[..., :2].max() < 1  # normalised image coordinates
    assert m.meta["params"]["frame"] == "world" and mp.meta["params"]["frame"] == "image"


def test_noise_and_dropped_joints():
    clean = synth.generate("clap", seed=3)
    noisy = synth.generate("clap", seed=3, noise=0.02)
    diff = (noisy.data - clean.data).ravel()
    assert 0.015 < diff.std() < 0.025
    m = synth.generate("clap", seed=3, dropped_joints=0.2)
    dropped = m.meta["params"]["dropped_joints"]
    assert len(dropped) == round(0.2 * 25)
    idx = [m.layout.index(n) for n in dropped]
    assert (m.confidence[:, idx] == 0).all() and (m.data[:, idx] == 0).all()
    assert np.isfinite(m.data).all()
    keep = np.setdiff1d(np.arange(25), idx)
    np.testing.assert_array_equal(m.data[:, keep], clean.data[:, keep])
    named = synth.generate("clap", layout="coco17", seed=3, dropped_joints=["left_wrist", "nose"])
    assert named.meta["params"]["dropped_joints"] == ["nose", "left_wrist"]
    assert (named.confidence[:, [0, 9]] == 0).all()


def test_frame_count_controls():
    m = synth.generate("walk", seed=1, num_frames=40)
    assert m.num_frames == 40 and m.meta["params"]["num_frames"] == 40
    # num_frames alone resamples the whole action; the ramp-up and rest of the walk are kept
    assert m.meta["params"]["phases"][-1]["end_frame"] == 39
    fixed = synth.generate("clap", seed=1, num_frames=90, fps=30)
    assert fixed.num_frames == 90 and fixed.fps == 30.0
    assert abs(fixed.meta["params"]["duration"] - 3.0) < 1e-9
    padded = synth.generate("clap", seed=1, repetitions=2, speed=1.0, duration=6.0)
    assert padded.meta["params"]["time_offset"] > 0.5 and padded.meta["params"]["speed"] == 1.0
    with pytest.raises(ValueError, match="clip spans only"):
        synth.generate("walk", seed=1, speed=0.5, repetitions=8, num_frames=20, fps=30)
    m = synth.generate("wave", seed=1, fps=60)
    assert m.fps == 60.0


def test_bad_parameters_are_rejected_clearly():
    with pytest.raises(ValueError, match="unknown action"):
        synth.generate("moonwalk")
    with pytest.raises(ValueError, match="unknown parameter"):
        synth.generate("wave", hand="left")
    with pytest.raises(ValueError, match="has no side"):
        synth.generate("clap", side="left")
    with pytest.raises(ValueError, match="done once"):
        synth.generate("sit_down", repetitions=3)
    with pytest.raises(ValueError, match="side must be one of"):
        synth.generate("wave", side="both")
    with pytest.raises(ValueError, match="speed"):
        synth.generate("wave", speed=-1)
    with pytest.raises(ValueError, match="no joint"):
        synth.generate("wave", dropped_joints=["tail"])
    with pytest.raises(ValueError, match="seed"):
        synth.generate("wave", seed=-3)
    with pytest.raises(KeyError):
        synth.generate("wave", layout="no_such_layout")
    with pytest.raises(ValueError, match="image_size"):
        synth.generate("wave", layout="coco17", image_size=640)
    with pytest.raises(ValueError, match="camera_space"):
        synth.generate("wave", camera_space="yes")
    anonymous = Layout(name="anonymous3", joints=("a", "b", "c"), parents=(-1, 0, 1))
    with pytest.raises(ValueError, match="canonical"):
        synth.generate("wave", layout=anonymous)


def test_fixing_one_parameter_keeps_the_other_sampled_ones():
    free = synth.generate("punch", seed=9).meta["params"]
    fixed = synth.generate(
        "punch", seed=9, side="left" if free["side"] == "right" else "right"
    ).meta["params"]
    for k in ("repetitions", "speed", "amplitude", "direction", "height", "view_yaw", "arm_ratio"):
        assert free[k] == fixed[k], k


def test_generate_dataset_varies_parameters():
    ds = synth.generate_dataset(
        ["wave", "jump"], n_per_action=3, layout="coco17", seed=1, num_frames=32
    )
    assert len(ds) == 6 and all(m.num_frames == 32 and m.layout.name == "coco17" for m in ds)
    assert [m.meta["action"] for m in ds] == ["wave"] * 3 + ["jump"] * 3
    assert len({m.meta["seed"] for m in ds}) == 6
    assert len({(m.meta["params"]["height"], m.meta["params"]["direction"]) for m in ds}) == 6
    again = synth.generate_dataset(
        ["wave", "jump"], n_per_action=3, layout="coco17", seed=1, num_frames=32
    )
    assert all(np.array_equal(a.data, b.data) for a, b in zip(ds, again))
    assert len(synth.generate_dataset(n_per_action=1)) == len(synth.ACTIONS)


@settings(max_examples=30, deadline=None)
@given(
    action=st.sampled_from(sorted(REQUIRED)),
    seed=st.integers(0, 2**31 - 1),
    speed=st.one_of(st.none(), st.floats(0.5, 2.0)),
    amplitude=st.one_of(st.none(), st.floats(0.5, 1.4)),
    direction=st.one_of(st.none(), st.floats(-360, 360)),
    height=st.one_of(st.none(), st.floats(1.2, 2.1)),
    leg_ratio=st.one_of(st.none(), st.floats(0.8, 1.2)),
)
def test_invariants_over_parameters(action, seed, speed, amplitude, direction, height, leg_ratio):
    kw = {
        k: v
        for k, v in dict(
            speed=speed,
            amplitude=amplitude,
            direction=direction,
            height=height,
            leg_ratio=leg_ratio,
        ).items()
        if v is not None
    }
    m = canon(action, seed=seed, **kw)
    p = m.meta["params"]
    for k, v in kw.items():  # given parameters are kept (directions wrapped to (-180, 180])
        want = ((v + 180) % 360 - 180) if k == "direction" else v
        assert np.isclose(p[k], want) or (
            k == "direction" and abs(abs(p[k]) - 180) < 1e-9 and abs(abs(want) - 180) < 1e-9
        )
    assert np.isfinite(m.data).all()
    L = bone_lengths(m)
    assert (L.std(axis=0) / L.mean(axis=0)).max() < 1e-4
    assert m.data[:, FEET, 1].min() > -1e-4
    # the standing body is as tall as asked
    top = m.data[0, J["head_top"], 1] if p["start_posture"] == "standing" else None
    if top is not None:
        assert np.isclose(top, p["height"], atol=0.02)
    # recorded timings lie inside the clip and in order
    for r in p["repetition_times"]:
        assert 0 <= r["start_frame"] <= r["peak_frame"] <= r["end_frame"] < p["num_frames"]


@settings(max_examples=20, deadline=None)
@given(
    action=st.sampled_from(sorted(REQUIRED)),
    seed=st.integers(0, 10_000),
    d1=st.floats(-180, 180),
    d2=st.floats(-180, 180),
)
def test_direction_rotates_the_whole_motion_about_the_vertical(action, seed, d1, d2):
    a = canon(action, seed=seed, direction=d1).data.astype(np.float64)
    b = canon(action, seed=seed, direction=d2).data.astype(np.float64)
    R = rot_y(np.deg2rad(np.array(d2 - d1)))
    np.testing.assert_allclose(b, a @ R.T, atol=2e-4)


@settings(max_examples=20, deadline=None)
@given(
    action=st.sampled_from(
        ["wave", "clap", "squat", "punch", "bow", "raise_arms", "sit_down", "walk"]
    ),
    seed=st.integers(0, 10_000),
    speed=st.floats(0.5, 2.0),
)
def test_speed_scales_the_duration(action, seed, speed):
    slow = canon(action, seed=seed, speed=1.0, fps=100).meta["params"]
    fast = canon(action, seed=seed, speed=speed, fps=100).meta["params"]
    assert np.isclose(slow["duration"] / fast["duration"], speed, rtol=0.02)
    last = lambda p: p["repetition_times"][-1]["peak"]  # noqa: E731
    assert np.isclose(last(slow) / last(fast), speed, rtol=0.03)


@settings(max_examples=20, deadline=None)
@given(
    action=st.sampled_from(sorted(REQUIRED)),
    layout=st.sampled_from(["coco17", "openpose18", "penn13", "openpose25"]),
    seed=st.integers(0, 10_000),
    view_yaw=st.floats(-180, 180),
    view_pitch=st.floats(-10, 60),
)
def test_any_view_keeps_the_person_in_the_image(action, layout, seed, view_yaw, view_pitch):
    m = synth.generate(action, layout=layout, seed=seed, view_yaw=view_yaw, view_pitch=view_pitch)
    w, h = m.meta["params"]["image_size"]
    seen = m.data[:, m.confidence[0] > 0]
    assert np.isfinite(seen).all()
    assert seen[..., 0].min() >= 0 and seen[..., 0].max() <= w
    assert seen[..., 1].min() >= 0 and seen[..., 1].max() <= h


def test_heading_labels_match_the_image():
    for rel, label in ((90.0, "to the right"), (-90.0, "to the left")):
        m = synth.generate("walk", layout="coco17", seed=2, view_yaw=20.0, direction=20.0 + rel)
        assert m.meta["params"]["heading"] == label
        hip = m.data[:, m.layout.index("left_hip"), 0]
        assert (hip[-1] - hip[0]) * (1 if label == "to the right" else -1) > 100  # pixels
    toward = synth.generate(
        "walk", layout="ntu25", seed=2, view_yaw=-30.0, direction=-30.0, camera_space=True
    )
    assert toward.meta["params"]["heading"] == "towards the camera"
    depth = toward.data[:, toward.layout.index("pelvis"), 2]
    assert depth[-1] < depth[0] - 1.0
    assert synth.generate("wave", seed=2).meta["params"]["heading"] is None


def test_turn_steps_without_sliding_the_supporting_foot():
    m = canon("turn", seed=3, turn_angle=180.0, fps=60)
    d = m.data.astype(np.float64)
    for side in ("left", "right"):
        heel = d[:, J[f"{side}_heel"]]
        planted = (heel[1:, 1] < 5e-4) & (heel[:-1, 1] < 5e-4)
        speed = np.linalg.norm(np.diff(heel[:, [0, 2]], axis=0), axis=-1) * 60
        assert planted.sum() > 60
        assert (
            np.median(speed[planted]) < 1e-3
        )  # m/s: the supporting foot pivots with the pelvis above it
    # it is stepping: each foot leaves the floor
    assert d[:, J["left_ankle"], 1].max() > d[0, J["left_ankle"], 1] + 0.05
    assert d[:, J["right_ankle"], 1].max() > d[0, J["right_ankle"], 1] + 0.05


def test_timing_variability():
    def peak_gaps(**kw):
        p = synth.generate("clap", seed=4, repetitions=5, **kw).meta["params"]
        return np.diff([r["peak"] for r in p["repetition_times"]])

    exact = peak_gaps(variability=0.0)
    np.testing.assert_allclose(exact, exact[0], atol=2e-4)  # a metronome (times are kept to 0.1 ms)
    varied = peak_gaps()
    assert np.ptp(varied) > 0.01  # a person
    assert synth.generate("clap", seed=4).meta["params"]["variability"] == 0.08
    # ballistic flight keeps its physical duration whatever the variability
    p = synth.generate("jump", seed=4, variability=0.3, jump_height=0.25).meta["params"]
    for a in p["airborne"]:
        assert np.isclose(a["end"] - a["start"], np.sqrt(8 * 0.25 / 9.81), atol=2e-4)


def test_action_info_matches_what_generate_accepts():
    assert not set(synth.ACTIONS) & set(synth.EXTRA_ACTIONS)
    for action in ALL_ACTIONS:
        info = synth.action_info(action)
        assert info["description"]
        for side in info["sides"]:
            assert synth.generate(action, seed=1, side=side).meta["params"]["side"] == side
        p = synth.generate(action, seed=1).meta["params"]
        if info["repetitions"] is None:
            assert p["repetitions"] == 1
        else:
            lo, hi = info["repetitions"]
            assert lo <= p["repetitions"] <= hi
        assert set(info["extra"]) <= set(p) and set(info["extra"]) <= set(
            synth.action_params(action)
        )
    with pytest.raises(ValueError, match="unknown action"):
        synth.action_info("fly")


@pytest.mark.parametrize("action, target", [("drink", "nose"), ("answer_phone", "ear")])
def test_hand_to_head_actions_touch_the_head_with_the_given_hand(action, target):
    for side in ("left", "right"):
        other = "left" if side == "right" else "right"
        m = canon(action, seed=5, side=side, repetitions=1)
        goal = J["nose"] if target == "nose" else J[f"{side}_{target}"]
        gap = np.linalg.norm(m.data[:, J[f"{side}_hand"]] - m.data[:, goal], axis=-1)
        (c,) = m.meta["params"]["contacts"]
        assert c["parts"] == [f"{side}_hand", "head"]
        assert gap[c["time_frame"]] < 0.1 and gap[0] > 0.5
        far = np.linalg.norm(m.data[:, J[f"{other}_hand"]] - m.data[:, J["head"]], axis=-1)
        assert far.min() > 0.4


def test_carry_walks_with_both_hands_held_in_front():
    m = canon("carry", seed=2, direction=0.0, repetitions=6)
    d = body_frame(m)
    assert m.meta["params"]["distance"] > 6 * 0.3 and m.meta["params"]["heading"] is not None
    rel = d[:, [J["left_hand"], J["right_hand"]]] - d[:, [J["pelvis"]]]
    assert (rel[..., 2] > 0.2).all()  # in front of the body the whole time
    gap = np.linalg.norm(d[:, J["left_hand"]] - d[:, J["right_hand"]], axis=-1)
    assert np.ptp(gap) < 0.02  # holding one thing


@pytest.mark.parametrize("push", [True, False])
def test_push_and_pull_move_the_hands_away_or_in(push):
    m = canon("push" if push else "pull", seed=3, repetitions=2)
    d = body_frame(m)
    reach = (d[:, J["left_wrist"], 2] + d[:, J["right_wrist"], 2]) / 2 - d[:, J["chest"], 2]
    for r in m.meta["params"]["repetition_times"]:
        before, at = reach[r["start_frame"]], reach[r["peak_frame"]]
        assert (at - before > 0.25) if push else (before - at > 0.25)


def test_ground_truth_survives_save_and_load(tmp_path):
    from skelformats import load, save

    m = synth.generate("wave", layout="coco17", seed=1, dropped_joints=0.2, noise=0.01)
    save(m, tmp_path / "wave.npz")
    back = load(tmp_path / "wave.npz")
    np.testing.assert_array_equal(back.data, m.data)
    np.testing.assert_array_equal(back.confidence, m.confidence)
    assert back.meta["params"] == m.meta["params"] and back.meta["action"] == "wave"


def test_per_repetition_amplitude_is_recorded_and_real():
    m = canon("squat", seed=12, repetitions=4, variability=0.3, amplitude=0.9)
    reps = m.meta["params"]["repetition_times"]
    amps = [r["amplitude"] for r in reps]
    assert len(set(amps)) == 4 and all(0.9 * 0.7 - 1e-9 <= x <= 0.9 * 1.3 + 1e-9 for x in amps)
    pel = m.data[:, J["pelvis"], 1]
    depth = [pel[r["start_frame"]] - pel[r["peak_frame"]] for r in reps]
    assert np.argsort(depth).tolist() == np.argsort(amps).tolist()  # deeper squat, larger amplitude
    exact = canon("squat", seed=12, repetitions=4, variability=0.0, amplitude=0.9)
    assert [r["amplitude"] for r in exact.meta["params"]["repetition_times"]] == [0.9] * 4


def _angle(a, b, c):
    """Interior angle at b (degrees), (T,) from (T, 3) points."""
    u, v = a - b, c - b
    cos = (u * v).sum(-1) / (np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1))
    return np.degrees(np.arccos(np.clip(cos, -1, 1)))


@pytest.mark.parametrize("action", ALL_ACTIONS)
def test_joints_stay_within_anatomical_ranges(action):
    for seed, amplitude in ((1, 1.0), (2, 1.6)):
        m = canon(action, seed=seed, amplitude=amplitude, variability=0.3)
        d = m.data.astype(np.float64)
        for s in ("left", "right"):
            knee = 180 - _angle(d[:, J[f"{s}_hip"]], d[:, J[f"{s}_knee"]], d[:, J[f"{s}_ankle"]])
            elbow = 180 - _angle(
                d[:, J[f"{s}_shoulder"]], d[:, J[f"{s}_elbow"]], d[:, J[f"{s}_wrist"]]
            )
            ankle = _angle(d[:, J[f"{s}_knee"]], d[:, J[f"{s}_ankle"]], d[:, J[f"{s}_foot"]])
            assert knee.max() < 145 and elbow.max() < 150, (s, knee.max(), elbow.max())
            dorsi = ankle[0] - ankle  # 0 standing; > 0 toes towards the shin
            assert -45 < dorsi.min() and dorsi.max() < 50, (s, dorsi.min(), dorsi.max())
