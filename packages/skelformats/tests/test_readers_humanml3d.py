"""HumanML3D new_joints .npy reader on arrays written in the dataset's layout (T, 22, 3)."""

from __future__ import annotations

import numpy as np
import pytest
import skelformats as sf
from skelformats.readers import humanml3d


@pytest.fixture
def dataset(tmp_path):
    (tmp_path / "new_joints").mkdir()
    (tmp_path / "texts").mkdir()
    arr = np.random.default_rng(0).normal(size=(40, 22, 3)).astype(np.float32)
    p = tmp_path / "new_joints" / "000021.npy"
    np.save(p, arr)
    (tmp_path / "texts" / "000021.txt").write_text(
        "a person walks forward.#a/DET person/NOUN walk/VERB forward/ADV#0.0#0.0\n"
        "someone strolls ahead#someone/PRON stroll/VERB ahead/ADV#0.0#0.0\n"
    )
    return p, arr


def test_reads_joints_and_captions(dataset):
    p, arr = dataset
    m = sf.load(p)
    assert sf.detect_format(p) == "humanml3d"
    assert m.layout.name == "smpl22" and m.fps == 20 and m.meta["name"] == "000021"
    np.testing.assert_array_equal(m.data, arr)
    assert m.meta["captions"] == ["a person walks forward.", "someone strolls ahead"]


def test_flat_rows_are_accepted(tmp_path):
    arr = np.random.default_rng(1).normal(size=(5, 66))
    np.save(tmp_path / "a.npy", arr)
    m = humanml3d.read_humanml3d(tmp_path / "a.npy")
    np.testing.assert_allclose(m.data, arr.reshape(5, 22, 3), rtol=1e-6)
    assert "captions" not in m.meta


@pytest.mark.parametrize(
    "arr, error, match",
    [
        (np.zeros((10, 21, 3), np.float32), sf.JointCountError, "21 joints, expected 22"),
        (np.zeros((10, 22, 2), np.float32), sf.ShapeError, r"shape \(10, 22, 2\)"),
        (np.zeros((0, 22, 3), np.float32), sf.EmptySequenceError, "no frames"),
        (np.array(["a", "b"]), sf.CorruptDataError, "expected numbers"),
    ],
)
def test_bad_arrays(tmp_path, arr, error, match):
    p = tmp_path / "bad.npy"
    np.save(p, arr)
    with pytest.raises(error, match=match) as e:
        sf.load(p, format="humanml3d")
    assert e.value.path == str(p)


def test_pickled_objects_are_refused_and_truncation_reported(tmp_path):
    p = tmp_path / "obj.npy"
    np.save(p, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(sf.CorruptDataError, match="pickle"):
        humanml3d.read_humanml3d(p)
    q = tmp_path / "cut.npy"
    np.save(q, np.zeros((50, 22, 3), np.float32))
    q.write_bytes(q.read_bytes()[:1000])
    with pytest.raises(sf.TruncatedFileError, match=r"cut\.npy"):
        sf.load(q)
    h = tmp_path / "header.npy"
    header = b"{'descr': '<f4', 'fortran_order': False, 'shape': (3, 22, "
    h.write_bytes(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header)
    with pytest.raises(sf.CorruptDataError, match=r"header\.npy: not a \.npy array"):
        humanml3d.read_humanml3d(h)
    r = tmp_path / "text.npy"
    r.write_text("not numpy")
    with pytest.raises(sf.SkelFormatError, match=r"text\.npy"):
        sf.load(r)


def test_nan_frames_are_missing(tmp_path):
    arr = np.ones((3, 22, 3), np.float32)
    arr[1, 5] = np.inf
    np.save(tmp_path / "n.npy", arr)
    with pytest.warns(sf.SkelFormatWarning, match="NaN/inf"):
        m = sf.load(tmp_path / "n.npy")
    assert m.confidence[1, 5] == 0 and m.confidence.sum() == 65
