"""Kinematic facts against the ground truth of ``skelformats.synth`` parameters, and the QA items built on them."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from skeletonllm.reasoning import FAMILIES, QAItem, kinematic_facts, make_questions
from skeletonllm.teachers import get_teacher
from skelformats import synth


def facts_of(action, **params):
    m = synth.generate(action, **params)
    return m, kinematic_facts(m)


@pytest.mark.parametrize("side,reps,seed", [("right", 3, 0), ("left", 2, 1), ("right", 4, 5)])
def test_waving_names_the_hand_and_counts_repetitions(side, reps, seed):
    m, f = facts_of("wave", side=side, repetitions=reps, seed=seed)
    assert f["most_active"] == f"{side}_hand"
    assert f["count"] == {"count": reps, "what": "repetitions", "part": f"{side}_hand"}
    other = "left" if side == "right" else "right"
    assert not f["parts"][f"{other}_hand"]["moving"]
    text = get_teacher("kinematic").rationale(m, "wave")
    assert f"{side} hand" in text and f"{reps} times" in text
    assert text.splitlines()[-1] == "Answer: wave"


@pytest.mark.parametrize("reps,seed", [(2, 0), (5, 3)])
def test_clapping_counts_hand_contacts(reps, seed):
    _, f = facts_of("clap", repetitions=reps, seed=seed)
    assert f["contacts"]["hands"]["count"] == reps
    assert f["count"]["what"] == "hand contacts" and f["count"]["count"] == reps


@pytest.mark.parametrize("reps", [1, 3])
def test_jumps_are_airborne_phases(reps):
    m, f = facts_of("jump", repetitions=reps, seed=2)
    assert f["airborne"]["count"] == len(m.meta["params"]["airborne"]) == reps
    assert f["count"] == {"count": reps, "what": "jumps", "part": None}


@pytest.mark.parametrize(
    "action,side,reps", [("kick", "left", 2), ("kick", "right", 1), ("punch", "right", 3)]
)
def test_kicks_and_punches_name_the_limb(action, side, reps):
    m, f = facts_of(action, side=side, repetitions=reps, seed=4)
    limb = m.meta["params"]["limb"]
    assert f["most_active"] == limb == f"{side}_{'foot' if action == 'kick' else 'hand'}"
    assert f["parts"][limb]["repetitions"] == reps


def test_squat_repetitions_and_pelvis():
    _, f = facts_of("squat", repetitions=3, seed=1)
    assert f["count"]["count"] == 3
    assert f["parts"]["pelvis"]["moving"]
    assert f["posture"]["start"]["body"] == f["posture"]["end"]["body"] == "standing"


@pytest.mark.parametrize(
    "action,start,end,trend",
    [("sit_down", "standing", "sitting", "drops"), ("stand_up", "sitting", "standing", "rises")],
)
def test_posture_and_pelvis_height(action, start, end, trend):
    m, f = facts_of(action, seed=3)
    p = m.meta["params"]
    assert (p["start_posture"], p["end_posture"]) == (start, end)
    assert f["posture"]["start"]["body"] == start and f["posture"]["end"]["body"] == end
    assert f["heights"]["pelvis"]["trend"] == trend


def test_walking_direction_and_steps():
    m, f = facts_of("walk", seed=0, repetitions=6)
    assert f["locomotion"]["direction"] == "forward"
    assert f["locomotion"]["steps"] == m.meta["params"]["repetitions"] == 6
    assert abs(f["locomotion"]["distance_m"] - m.meta["params"]["distance"]) < 0.3


@pytest.mark.parametrize("side", ["left", "right"])
def test_turn_direction(side):
    m, f = facts_of("turn", side=side, seed=1, turn_angle=90)
    assert f["locomotion"]["turn_direction"] == side
    assert abs(abs(f["locomotion"]["turn_deg"]) - 90) < 15


@pytest.mark.parametrize("layout", ["smpl22", "kinect_v1_20", "openni15", "h36m17", "msr20"])
def test_format_agnostic(layout):
    _, f = facts_of("wave", layout=layout, side="left", repetitions=3, seed=0)
    assert f["most_active"] == "left_hand" and f["count"]["count"] == 3


def test_2d_layout_frontal_view():
    _, f = facts_of(
        "wave", layout="coco17", side="right", repetitions=3, seed=0, view_yaw=0, direction=0
    )
    assert f["dims"] == 2 and f["most_active"] == "right_hand" and f["count"]["count"] == 3
    assert any("2D" in x for x in f["limitations"])


def test_says_what_it_cannot_see():
    m, f = facts_of(
        "kick",
        side="left",
        seed=0,
        dropped_joints=["left_hip", "left_knee", "left_ankle", "left_foot"],
    )
    assert "left_foot" in f["missing_parts"] and "left_foot" not in f["parts"]
    text = get_teacher("kinematic").rationale(m, "kick")
    assert "left foot is not visible" in text
    # A hidden hand with a visible elbow is followed through the elbow, and the rationale says so.
    m, f = facts_of(
        "wave",
        side="right",
        seed=0,
        dropped_joints=["right_wrist", "right_hand", "right_hand_tip", "right_thumb"],
    )
    assert f["proxies"] == {"right_hand": "right_elbow"} and f["most_active"] == "right_hand"
    assert "right elbow" in get_teacher("kinematic").rationale(m, "wave")


def test_facts_are_json_serialisable():
    _, f = facts_of("throw", seed=0)
    assert json.loads(json.dumps(f)) == f


def test_questions_on_wave_are_right():
    m, f = facts_of("wave", side="right", repetitions=3, seed=0)
    items = make_questions(m, f, np.random.default_rng(0))
    by = {}
    for it in items:
        by.setdefault(it.family, []).append(it)
    assert by["counting"][0].answer == "3"
    assert all(it.answer == "standing" for it in by["posture"])
    for it in by.get("comparison", []):
        assert it.answer == "the right hand"


def test_temporal_order_question():
    # Standing up: the trunk leans (head moves) well before the pelvis rises.
    found = []
    for seed in range(3):
        m, f = facts_of("stand_up", seed=seed)
        for it in make_questions(m, f, seed, max_per_family=None):
            if it.family == "temporal_order":
                times = it.evidence["times"]
                assert it.answer == min(times, key=times.get)
                assert abs(times[it.choices[0]] - times[it.choices[1]]) > 0.2 * f["duration_s"]
                found.append(it)
    assert any(
        it.question == "Which happens first: the pelvis starts moving, or the head starts moving?"
        and it.answer == "the head starts moving"
        for it in found
    )


@settings(max_examples=12, deadline=None)
@given(action=st.sampled_from(synth.ACTIONS), seed=st.integers(0, 50), qseed=st.integers(0, 1000))
def test_question_items_are_well_formed(action, seed, qseed):
    m = synth.generate(action, seed=seed)
    f = kinematic_facts(m)
    a = make_questions(m, f, qseed)
    b = make_questions(m, f, qseed)
    assert [x.to_dict() for x in a] == [x.to_dict() for x in b]  # deterministic for a seed
    for it in a:
        assert isinstance(it, QAItem) and it.family in FAMILIES
        assert len(set(it.choices)) == len(it.choices) >= 2
        assert 0 <= it.answer_index < len(it.choices)
        assert it.to_dict()["answer"] == it.choices[it.answer_index]
    counts = {}
    for it in a:
        counts[it.family] = counts.get(it.family, 0) + 1
    assert max(counts.values(), default=0) <= 2
