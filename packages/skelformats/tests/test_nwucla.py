import json
import warnings
from collections import Counter

import numpy as np
import pytest
import skelformats as sf
from skelformats.errors import (
    CorruptDataError,
    EmptySequenceError,
    JointCountError,
    TruncatedFileError,
)
from skelformats.formats.nwucla import iter_dataset


def test_every_sequence_and_frame(nwucla_dir):
    files = sorted((nwucla_dir / "all_sqe").glob("*.json"))
    assert len(files) == 1484
    expected_frames = {f.stem: len(json.loads(f.read_text())["skeletons"]) for f in files}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sf.SkelFormatWarning)
        motions = list(iter_dataset(nwucla_dir))
    assert len(motions) == 1484
    got = {m.meta["file_name"]: m.num_frames for m in motions}
    assert got == expected_frames
    assert sum(got.values()) == 58534
    assert min(got.values()) == 1  # the README's 1-frame sequences load too
    views = Counter(m.meta["view"] for m in motions)
    assert sorted(views) == [1, 2, 3] and sum(views.values()) == 1484
    assert all(m.layout is sf.get_layout("kinect_v1_20") for m in motions)
    actions = {m.meta["action"] for m in motions}
    assert len(actions) == 10 and "pick up with one hand" in actions


def test_metadata_and_orientation(nwucla_dir):
    m = sf.load(nwucla_dir / "all_sqe" / "a01_s01_e00_v01.json")
    assert m.meta["format"] == "nwucla"
    assert (m.meta["action_id"], m.meta["subject"], m.meta["take"], m.meta["view"]) == (1, 1, 0, 1)
    assert m.meta["label"] == 1 and m.meta["action"] == "pick up with one hand"
    lay = m.layout
    # Kinect SDK order: the head is the highest joint, the feet the lowest
    y = m.data[0, :, 1]
    assert lay.joints[int(np.argmax(y))] == "Head"
    assert lay.joints[int(np.argmin(y))] in ("FootLeft", "FootRight")


def test_untracked_joints_marked_missing(nwucla_dir):
    with pytest.warns(sf.SkelFormatWarning, match="untracked"):
        m = sf.load(nwucla_dir / "all_sqe" / "a04_s01_e01_v01.json")
    assert m.confidence[34].sum() == 14 and m.confidence.sum() == m.confidence.size - 6


def _write(tmp_path, obj, name="a01_s01_e01_v01.json"):
    p = tmp_path / name
    p.write_text(obj if isinstance(obj, str) else json.dumps(obj))
    return p


def _frame(n=20):
    return [[0.1 * j, 0.2, 3.0] for j in range(n)]


def test_bad_nwucla(tmp_path):
    with pytest.raises(JointCountError, match="frame 1 has 19 joints") as e:
        sf.load(
            _write(tmp_path, {"file_name": "x", "skeletons": [_frame(), _frame(19)], "label": 1})
        )
    assert "a01_s01_e01_v01.json" in str(e.value)
    with pytest.raises(EmptySequenceError, match="a01_s01_e01_v01.json"):
        sf.load(_write(tmp_path, {"file_name": "x", "skeletons": [], "label": 1}))
    full = json.dumps({"file_name": "x", "skeletons": [_frame(), _frame()], "label": 1})
    with pytest.raises(TruncatedFileError, match="a01_s01_e01_v01.json"):
        sf.load(_write(tmp_path, full[: len(full) // 2]))
    with pytest.raises(CorruptDataError, match="not an .x, y, z. triple"):
        sf.load(_write(tmp_path, {"skeletons": [[[0, 1]] * 20]}))
    with pytest.raises(CorruptDataError, match="non-numeric"):
        sf.load(_write(tmp_path, {"skeletons": [[["a", 1, 2]] * 20]}))


def test_nan_inf_recovered(tmp_path):
    bad = _frame()
    bad[0][2] = float("nan")
    bad[1][1] = float("inf")
    text = json.dumps({"skeletons": [bad, _frame()]})  # json writes NaN / Infinity
    with pytest.warns(sf.SkelFormatWarning, match="NaN/inf"):
        m = sf.load(_write(tmp_path, text))
    assert (m.confidence[0, :2] == 0).all() and m.confidence[1].all()
