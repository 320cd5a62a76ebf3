"""What every dataset reader returns can be stored losslessly (.npz) and converted between layouts."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import scipy.io
import skelformats as sf


def _msr(d, rng):
    p = d / "a03_s02_e01_skeleton3D.txt"
    f = rng.uniform(-1, 3, (4, 20, 4))
    f[1, :, :3] = 0  # an untracked frame
    p.write_text("".join(" ".join(f"{v:.6f}" for v in row) + "\n" for row in f.reshape(-1, 4)))
    return p


def _utk(d, rng):
    p = d / "joints_s02_e01.txt"
    p.write_text(
        "".join(
            f"{2 * i} " + " ".join(f"{v:.5f}" for v in rng.normal(size=60)) + "\n" for i in range(6)
        )
    )
    (d / "actionLabel.txt").write_text("s02_e01\nwalk: 2 8\n")
    return p


def _penn(d, rng):
    p = d / "0003.mat"
    scipy.io.savemat(
        p,
        {
            "x": rng.uniform(0, 99, (5, 13)),
            "y": rng.uniform(0, 99, (5, 13)),
            "visibility": rng.integers(0, 2, (5, 13)).astype(np.uint8),
            "action": "squat",
            "pose": "front",
            "train": np.array([[-1]]),
            "bbox": rng.uniform(0, 9, (5, 4)),
            "dimensions": np.array([[100, 100, 5]]),
        },
    )
    return p


def _ntu(d, rng):
    p = d / "S002C003P004R001A005.skeleton"
    lines = ["3"]
    for _ in range(3):
        lines += ["1", "72057594037927937 0 0 0 0 0 0 0.1 0.2 2", "25"]
        lines += [" ".join(f"{v:.5f}" for v in rng.normal(size=11)) + " 2" for _ in range(25)]
    p.write_text("\n".join(lines) + "\n")
    return p


def _openpose(d, rng):
    kp = np.column_stack([rng.uniform(0, 99, 25), rng.uniform(0, 99, 25), rng.uniform(0, 1, 25)])
    for t in range(3):
        (d / f"c_{t:012d}_keypoints.json").write_text(
            json.dumps(
                {
                    "version": 1.3,
                    "people": [{"person_id": [-1], "pose_keypoints_2d": kp.ravel().tolist()}] * 2,
                }
            )
        )
    return d


def _mediapipe(d, rng):
    p = d / "mp.json"
    frames = [
        [
            {"x": float(a), "y": float(b), "z": float(c), "visibility": float(v)}
            for a, b, c, v in rng.uniform(0, 1, (33, 4))
        ]
        for _ in range(3)
    ]
    p.write_text(json.dumps({"format": "mediapipe_pose", "fps": 25, "frames": frames}))
    return p


def _humanml3d(d, rng):
    p = d / "000001.npy"
    np.save(p, rng.normal(size=(4, 22, 3)).astype(np.float32))
    return p


@pytest.mark.parametrize(
    "build, fmt, target",
    [
        (_msr, "msr_action3d", "ntu25"),
        (_utk, "utkinect", "ntu25"),
        (_penn, "penn_action", "coco17"),
        (_ntu, "ntu_skeleton", "kinect_v1_20"),
        (_openpose, "openpose", "coco17"),
        (_mediapipe, "mediapipe", "smpl22"),
        (_humanml3d, "humanml3d", "ntu25"),
    ],
)
def test_store_and_convert(tmp_path, build, fmt, target):
    src = tmp_path / "src"
    src.mkdir()
    path = build(src, np.random.default_rng(0))
    assert sf.detect_format(path) == fmt
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        loaded = sf.load(path)
    got = [(w.category, str(w.message)) for w in rec]
    # only MSR has a defect: frame 1 is all zeros (untracked), reported and marked missing
    expected = (
        [
            (
                sf.SkelFormatWarning,
                f"{path}: 1 of 4 frames are all zeros (not tracked); marked missing",
            )
        ]
        if fmt == "msr_action3d"
        else []
    )
    assert got == expected
    m = loaded[0] if isinstance(loaded, list) else loaded
    out = sf.save(m, tmp_path / "m.npz")
    r = sf.load(out)
    np.testing.assert_array_equal(r.data, m.data)
    np.testing.assert_array_equal(r.confidence_or_ones(), m.confidence_or_ones())
    assert r.layout == m.layout and r.fps == m.fps
    assert set(r.meta) == set(m.meta)
    for k, v in m.meta.items():
        if isinstance(v, np.ndarray):
            np.testing.assert_array_equal(r.meta[k], v)
        else:
            assert r.meta[k] == v, k
    c = sf.convert(m, target)
    assert c.layout.name == target and c.data.shape[:-2] == m.data.shape[:-2]
    # a frame with nothing observed in the source has nothing observed after conversion
    empty = ~m.mask.any(-1)
    assert not c.mask[empty].any()
    if fmt == "msr_action3d":
        assert empty[1] and empty.sum() == 1
