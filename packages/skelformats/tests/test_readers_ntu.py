"""NTU RGB+D .skeleton reader on files written from the format's specification (read_skeleton_file.m)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import skelformats as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from skelformats.readers import ntu

BODY_IDS = ("72057594037931101", "72057594037931102")


def _joint_line(xyz, state, rng):
    depth = rng.uniform(0, 512, 2)
    color = rng.uniform(0, 1920, 2)
    orient = rng.normal(size=4)
    vals = [*xyz, *depth, *color, *orient]
    return " ".join(f"{v:.7g}" for v in vals) + f" {state}"


def write_skeleton(path: Path, frames, seed=0, joint_count=25) -> Path:
    """frames: per frame a list of (body index, xyz (25, 3), states (25,)) -> .skeleton text."""
    rng = np.random.default_rng(seed)
    out = [str(len(frames))]
    for bodies in frames:
        out.append(str(len(bodies)))
        for b, xyz, states in bodies:
            out.append(f"{BODY_IDS[b]} 0 1 1 1 1 0 -0.2389891 0.1024468 2")
            out.append(str(joint_count))
            out.extend(_joint_line(xyz[j], states[j], rng) for j in range(joint_count))
    path.write_text("\n".join(out) + "\n")
    return path


def _pose(rng):
    return rng.uniform(-1, 3, (25, 3))


def test_single_body(tmp_path):
    rng = np.random.default_rng(0)
    poses = [_pose(rng) for _ in range(4)]
    states = np.full(25, 2)
    states[7] = 1
    states[21] = 0
    p = write_skeleton(
        tmp_path / "S001C002P003R002A013.skeleton", [[(0, x, states)] for x in poses]
    )
    m = sf.load(p)
    assert sf.detect_format(p) == "ntu_skeleton"
    assert m.layout.name == "ntu25" and m.data.shape == (4, 25, 3) and m.fps == 30
    np.testing.assert_allclose(m.data, np.stack(poses), atol=1e-5)
    assert (
        (m.confidence[:, 7] == 0.5).all()
        and (m.confidence[:, 21] == 0).all()
        and (m.confidence[:, 0] == 1).all()
    )
    assert (
        m.meta["setup"],
        m.meta["camera"],
        m.meta["subject"],
        m.meta["take"],
        m.meta["label"],
    ) == (1, 2, 3, 2, 13)
    assert m.meta["view"] == 2 and m.meta["color_xy"].shape == (4, 25, 2)


def test_two_bodies_matched_by_id_and_absent_frames_missing(tmp_path):
    rng = np.random.default_rng(1)
    st = np.full(25, 2)
    a = [_pose(rng) for _ in range(3)]
    b = [_pose(rng) for _ in range(3)]
    # frame 0: A only; frame 1: B listed before A; frame 2: none
    frames = [[(0, a[0], st)], [(1, b[1], st), (0, a[1], st)], []]
    m = ntu.read_ntu_skeleton(write_skeleton(tmp_path / "S010C001P020R001A050.skeleton", frames))
    assert m.data.shape == (2, 3, 25, 3) and m.meta["body_ids"] == list(BODY_IDS)
    np.testing.assert_allclose(m.data[0, :2], np.stack(a[:2]), atol=1e-5)
    np.testing.assert_allclose(m.data[1, 1], b[1], atol=1e-5)
    np.testing.assert_array_equal(m.confidence.max(-1), [[1, 1, 0], [0, 1, 0]])


@pytest.mark.parametrize(
    "mutate, error, match",
    [
        (
            lambda t: t[: len(t) // 2],
            sf.TruncatedFileError,
            "ends inside the joints of body 1 of frame 2 of 3",
        ),
        (
            lambda t: "5\n" + t.split("\n", 1)[1],
            sf.TruncatedFileError,
            "body count of frame 4 of 5",
        ),
        (lambda t: "", sf.EmptySequenceError, "empty"),
        (lambda t: "0\n", sf.EmptySequenceError, "0 frames"),
        (
            lambda t: t.replace("\n1\n", "\n1.5\n", 1),
            sf.CorruptDataError,
            "frame 1 of 3: expected an integer, got '1.5'",
        ),
        (
            lambda t: "\n".join(
                ln[:-1] + "7" if i == 4 else ln for i, ln in enumerate(t.split("\n"))
            ),
            sf.CorruptDataError,
            "tracking states must be 0, 1 or 2",
        ),
    ],
)
def test_bad_files(tmp_path, mutate, error, match):
    rng = np.random.default_rng(2)
    p = write_skeleton(
        tmp_path / "S001C001P001R001A001.skeleton", [[(0, _pose(rng), np.full(25, 2))]] * 3
    )
    p.write_text(mutate(p.read_text()))
    with pytest.raises(error, match=match) as e:
        ntu.read_ntu_skeleton(p)
    assert e.value.path == str(p)


def test_wrong_joint_count_and_nan(tmp_path):
    rng = np.random.default_rng(3)
    p = write_skeleton(tmp_path / "a.skeleton", [[(0, _pose(rng), np.full(25, 2))]], joint_count=20)
    with pytest.raises(
        sf.JointCountError, match=r"a\.skeleton: body 1 of frame 1 of 1: 20 joints, expected 25"
    ):
        sf.load(p)
    x = _pose(rng)
    x[3, 1] = np.nan
    p = write_skeleton(
        tmp_path / "b.skeleton", [[(0, x, np.full(25, 2))], [(0, _pose(rng), np.full(25, 2))]]
    )
    with pytest.warns(sf.SkelFormatWarning, match="NaN/inf"):
        m = sf.load(p)
    assert m.confidence[0, 3] == 0 and m.confidence.sum() == 49


def test_no_body_at_all(tmp_path):
    p = tmp_path / "c.skeleton"
    p.write_text("2\n0\n0\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(sf.EmptySequenceError, match="no body in any of the 2 frames"):
            sf.load(p)


@pytest.mark.filterwarnings("ignore::skelformats.errors.SkelFormatWarning")
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    presence=st.lists(st.tuples(st.booleans(), st.booleans()), min_size=1, max_size=6).filter(
        lambda p: any(a or b for a, b in p)
    ),
    seed=st.integers(0, 2**16),
)
def test_roundtrip_any_body_presence(tmp_path, presence, seed):
    """Whatever bodies appear in whichever frames, each lands in its own slot, absent = missing."""
    rng = np.random.default_rng(seed)
    poses = rng.uniform(-2, 4, (2, len(presence), 25, 3))
    states = rng.integers(0, 3, (2, len(presence), 25))
    frames = [
        [(b, poses[b, t], states[b, t]) for b in (1, 0) if presence[t][b]]
        for t in range(len(presence))
    ]
    m = ntu.read_ntu_skeleton(
        write_skeleton(tmp_path / "S001C001P001R001A001.skeleton", frames, seed=seed)
    )
    first_seen = []
    for bodies in frames:
        for b, _, _ in bodies:
            if b not in first_seen:
                first_seen.append(b)
    data = m.data if m.multi else m.data[None]
    conf = m.confidence_or_ones() if m.multi else m.confidence_or_ones()[None]
    assert data.shape == (len(first_seen), len(presence), 25, 3)
    for slot, b in enumerate(first_seen):
        for t, p in enumerate(presence):
            if p[b]:
                np.testing.assert_allclose(data[slot, t], poses[b, t], atol=1e-5)
                np.testing.assert_array_equal(conf[slot, t], np.array([0, 0.5, 1])[states[b, t]])
            else:
                assert (conf[slot, t] == 0).all()
