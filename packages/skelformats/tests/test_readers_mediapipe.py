"""MediaPipe Pose landmark exports (the JSON and CSV shapes documented in readers/mediapipe.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import skelformats as sf
from skelformats.readers import mediapipe


def _frames(t=6, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 1, (t, 33, 3)), rng.uniform(0, 1, (t, 33))


def _json_frame(xyz, vis):
    return [
        {"x": float(x), "y": float(y), "z": float(z), "visibility": float(v)}
        for (x, y, z), v in zip(xyz, vis)
    ]


def test_json_object_with_fps_and_an_undetected_frame(tmp_path):
    xyz, vis = _frames()
    frames = [_json_frame(a, b) for a, b in zip(xyz, vis)]
    frames[3] = None
    p = tmp_path / "pose.json"
    p.write_text(json.dumps({"format": "mediapipe_pose", "fps": 24, "frames": frames}))
    m = sf.load(p)
    assert sf.detect_format(p) == "mediapipe"
    assert m.layout.name == "mediapipe33" and m.data.shape == (6, 33, 3) and m.fps == 24
    keep = [0, 1, 2, 4, 5]
    np.testing.assert_allclose(m.data[keep], xyz[keep], rtol=1e-6)
    np.testing.assert_allclose(m.confidence[keep], vis[keep], rtol=1e-6)
    assert (m.confidence[3] == 0).all()


def test_bare_list_and_dict_frames(tmp_path):
    xyz, vis = _frames(3)
    frames = [{"landmarks": _json_frame(a, b)} for a, b in zip(xyz, vis)]
    for lm in frames[1]["landmarks"]:
        del lm["visibility"]
    p = tmp_path / "bare.json"
    p.write_text(json.dumps(frames))
    m = mediapipe.read_mediapipe(p)
    assert m.fps == 30 and (m.confidence[1] == 1).all()
    np.testing.assert_allclose(m.data, xyz, rtol=1e-6)


def test_csv_long_format_with_names_and_gaps(tmp_path):
    xyz, vis = _frames(4)
    names = sf.get_layout("mediapipe33").joints
    rows = ["frame,landmark,x,y,z,visibility"]
    for t in (0, 1, 3):  # frame 2 missing
        for j in range(33):
            lab = names[j] if j % 2 else str(j)
            rows.append(
                f"{t},{lab},{xyz[t, j, 0]:.17g},{xyz[t, j, 1]:.17g},{xyz[t, j, 2]:.17g},{vis[t, j]:.17g}"
            )
    p = tmp_path / "pose.csv"
    p.write_text("\n".join(rows) + "\n")
    m = sf.load(p)
    assert m.num_frames == 4 and (m.confidence[2] == 0).all()
    np.testing.assert_allclose(m.data[[0, 1, 3]], xyz[[0, 1, 3]], rtol=1e-6)


@pytest.mark.parametrize(
    "content, suffix, error, match",
    [
        (
            "[[" + ", ".join(['{"x": 0, "y": 0, "z": 0}'] * 32) + "]]",
            ".json",
            sf.JointCountError,
            "frame 0: 32 landmarks, expected 33",
        ),
        (
            "[[" + ", ".join(['{"x": 0, "y": 0}'] * 33) + "]]",
            ".json",
            sf.CorruptDataError,
            "landmark 0: no 'z'",
        ),
        ('{"frames": [', ".json", sf.CorruptDataError, "invalid JSON"),
        ("[]", ".json", sf.EmptySequenceError, "no frames"),
        ("[null, []]", ".json", sf.EmptySequenceError, "no person detected"),
        ("frame,landmark,x,y,z\n0,0,1,2,3\n", ".csv", sf.JointCountError, "frame 0: 1 landmarks"),
        (
            "frame,landmark,x,y,z\n0,elbow,1,2,3\n",
            ".csv",
            sf.CorruptDataError,
            "line 2: bad frame, landmark",
        ),
        ("frame,x,y\n", ".csv", sf.EmptySequenceError, "no landmark rows"),
        (
            "frame,x,y\n0,1,2\n",
            ".csv",
            sf.CorruptDataError,
            r"lacks column\(s\) \['landmark', 'z'\]",
        ),
    ],
)
def test_bad_files(tmp_path, content, suffix, error, match):
    p = tmp_path / f"bad{suffix}"
    p.write_text(content)
    with pytest.raises(error, match=match) as e:
        mediapipe.read_mediapipe(p)
    assert e.value.path == str(p)


def test_nan_landmark_is_missing(tmp_path):
    xyz, vis = _frames(2)
    xyz[1, 4, 0] = np.nan
    p = tmp_path / "n.json"
    p.write_text(json.dumps([_json_frame(a, b) for a, b in zip(xyz, vis)]))
    with pytest.warns(sf.SkelFormatWarning, match="NaN/inf"):
        m = mediapipe.read_mediapipe(p)
    assert m.confidence[1, 4] == 0
