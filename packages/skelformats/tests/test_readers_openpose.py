"""OpenPose JSON reader on per-frame files written from the output specification (doc/02_output.md)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import skelformats as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from skelformats.readers import openpose


def _person(kp: np.ndarray, pid=-1) -> dict:
    return {
        "person_id": [pid],
        "pose_keypoints_2d": [float(v) for v in kp.ravel()],
        "face_keypoints_2d": [],
        "hand_left_keypoints_2d": [],
        "hand_right_keypoints_2d": [],
        "pose_keypoints_3d": [],
        "face_keypoints_3d": [],
        "hand_left_keypoints_3d": [],
        "hand_right_keypoints_3d": [],
    }


def write_frame(path: Path, people: list[dict]) -> Path:
    path.write_text(json.dumps({"version": 1.3, "people": people}))
    return path


def _kp(rng, j):
    kp = np.column_stack([rng.uniform(0, 640, j), rng.uniform(0, 480, j), rng.uniform(0.1, 1, j)])
    kp[2] = 0  # an undetected keypoint: 0, 0, 0
    return kp


@pytest.mark.parametrize("j, layout", [(25, "openpose25"), (18, "openpose18")])
def test_directory_of_frames_single_person(tmp_path, j, layout):
    rng = np.random.default_rng(j)
    kps = [_kp(rng, j) for _ in range(12)]
    for t, kp in enumerate(kps):
        write_frame(tmp_path / f"clip_{t:012d}_keypoints.json", [_person(kp)])
    m = sf.load(tmp_path)  # frame 10 must come after frame 9: numeric order
    assert sf.detect_format(tmp_path) == "openpose"
    assert m.layout.name == layout and m.data.shape == (12, j, 2)
    np.testing.assert_allclose(m.data, np.stack(kps)[..., :2], rtol=1e-6)
    np.testing.assert_allclose(m.confidence, np.stack(kps)[..., 2], rtol=1e-6)
    assert (m.confidence[:, 2] == 0).all() and m.meta["fps_assumed"] is True
    assert m.meta["frame_files"][10] == "clip_000000000010_keypoints.json"


def test_single_file_and_several_people(tmp_path):
    rng = np.random.default_rng(0)
    a, b = _kp(rng, 25), _kp(rng, 25)
    p = write_frame(tmp_path / "x_000000000000_keypoints.json", [_person(a), _person(b)])
    m = sf.load(p)
    assert m.data.shape == (2, 1, 25, 2)
    np.testing.assert_allclose(m.data[1, 0], b[:, :2], rtol=1e-6)
    # frames with fewer people: the empty slot is missing
    write_frame(tmp_path / "x_000000000001_keypoints.json", [_person(a)])
    write_frame(tmp_path / "x_000000000002_keypoints.json", [])
    m = openpose.read_openpose(tmp_path)
    assert m.data.shape == (2, 3, 25, 2)
    assert (
        m.confidence[1, 1].max() == 0
        and m.confidence[:, 2].max() == 0
        and m.confidence[0, 1].max() > 0
    )


def test_person_ids_pick_the_slot(tmp_path):
    rng = np.random.default_rng(1)
    a, b = _kp(rng, 18), _kp(rng, 18)
    write_frame(tmp_path / "f_0_keypoints.json", [_person(a, 7), _person(b, 3)])
    write_frame(tmp_path / "f_1_keypoints.json", [_person(a, 7)])
    m = openpose.read_openpose(tmp_path)
    np.testing.assert_allclose(
        m.data[1, :, :], np.stack([a, a])[..., :2], rtol=1e-6
    )  # id 7 -> slot 1
    assert m.confidence[0, 1].max() == 0


@pytest.mark.parametrize(
    "content, error, match",
    [
        (
            '{"version": 1.3, "people": [{"pose_keypoints_2d": [1, 2, 3, 4]}]}',
            sf.JointCountError,
            "4 values in pose_keypoints_2d",
        ),
        (
            '{"version": 1.3, "people": [{"pose_keypoints_2d": [' + ", ".join(["1"] * 60) + "]}]}",
            sf.JointCountError,
            "60 values",
        ),
        ('{"version": 1.3, "people": [{"pose_key', sf.CorruptDataError, "invalid JSON"),
        ('{"version": 1.3, "people": []}', sf.EmptySequenceError, "no person detected"),
        (
            '{"version": 1.3, "people": [{"face_keypoints_2d": []}]}',
            sf.CorruptDataError,
            "no 'pose_keypoints_2d'",
        ),
        (
            '{"version": 1.3, "people": [{"pose_keypoints_2d": ['
            + ", ".join(['"a"'] * 54)
            + "]}]}",
            sf.CorruptDataError,
            "non-numbers",
        ),
    ],
)
def test_bad_files(tmp_path, content, error, match):
    p = tmp_path / "v_000000000000_keypoints.json"
    p.write_text(content)
    with pytest.raises(error, match=match) as e:
        openpose.read_openpose(p)
    assert e.value.path == str(p)


def test_mixed_models_and_nan(tmp_path):
    rng = np.random.default_rng(2)
    write_frame(tmp_path / "m_0_keypoints.json", [_person(_kp(rng, 25))])
    write_frame(tmp_path / "m_1_keypoints.json", [_person(_kp(rng, 18))])
    with pytest.raises(sf.CorruptDataError, match=r"mix keypoint counts \[18, 25\]"):
        sf.load(tmp_path, format="openpose")
    kp = _kp(rng, 25)
    kp[5, 0] = np.nan
    p = tmp_path / "n.json"
    p.write_text(json.dumps({"version": 1.3, "people": [_person(kp)]}))  # json writes NaN
    with pytest.warns(sf.SkelFormatWarning, match="NaN/inf"):
        m = openpose.read_openpose(p)
    assert m.confidence[0, 5] == 0


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    counts=st.lists(st.integers(0, 3), min_size=1, max_size=5).filter(any),
    j=st.sampled_from([18, 25]),
    seed=st.integers(0, 2**16),
)
def test_any_number_of_people_per_frame(tmp_path, counts, j, seed):
    """Slot k of frame t is the k-th detection of that frame; slots beyond it are missing."""
    rng = np.random.default_rng(seed)
    d = tmp_path / f"run_{seed}_{j}_{len(counts)}_{sum(counts)}"
    d.mkdir(exist_ok=True)
    kps = [[_kp(rng, j) for _ in range(n)] for n in counts]
    for t, people in enumerate(kps):
        write_frame(d / f"v_{t:012d}_keypoints.json", [_person(k) for k in people])
    m = openpose.read_openpose(d)
    M = max(counts)
    data = m.data if m.multi else m.data[None]
    conf = m.confidence if m.multi else m.confidence[None]
    assert data.shape == (M, len(counts), j, 2)
    for t, people in enumerate(kps):
        for k in range(M):
            if k < len(people):
                np.testing.assert_allclose(data[k, t], people[k][:, :2], rtol=1e-6)
                np.testing.assert_allclose(conf[k, t], people[k][:, 2], rtol=1e-6)
            else:
                assert (conf[k, t] == 0).all()
