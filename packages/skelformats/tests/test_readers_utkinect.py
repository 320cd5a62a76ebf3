"""UTKinect reader: generated recordings + label files, bad input, and the real dataset."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pytest
import skelformats as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from skelformats.readers import utkinect

REPO = Path(__file__).resolve().parents[3]
DATA = Path(os.environ.get("SKEL_DATA_DIR", REPO.parent / "shared" / "data"))
UTK = DATA / "UTKinect"
needs_data = pytest.mark.skipif(
    not (UTK / "actionLabel.txt").is_file(), reason=f"UTKinect not found under {DATA}"
)


def _write_joints(path: Path, ids, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    xyz = rng.uniform(-1, 3, size=(len(ids), 20, 3))
    path.write_text(
        "".join(
            f"{i}  " + "  ".join(f"{v:.6f}" for v in row.ravel()) + "\n" for i, row in zip(ids, xyz)
        )
    )
    return xyz


@pytest.fixture
def recording(tmp_path):
    ids = [10, 12, 12, 16, 20, 22, 30, 34, 40]  # ids skip and repeat, as in the dataset
    xyz = _write_joints(tmp_path / "joints_s03_e02.txt", ids)
    (tmp_path / "actionLabel.txt").write_text(
        "s03_e02\nwalk: 12 20\nsitDown: 21 34 \ncarry:  NaN NaN\npush: 41 50\nclapHands: 30 22\n"
    )
    return tmp_path, np.array(ids), xyz


def test_segments_use_frame_ids_not_row_numbers(recording):
    d, ids, xyz = recording
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        segs = sf.load(d / "joints_s03_e02.txt")
    msgs = [str(w.message) for w in rec]
    assert [s.meta["action"] for s in segs] == ["walk", "sitDown"]
    walk, sit = segs
    np.testing.assert_array_equal(walk.meta["frame_ids"], [12, 12, 16, 20])
    np.testing.assert_allclose(walk.data, xyz[1:5], atol=1e-6)
    np.testing.assert_allclose(sit.data, xyz[5:8], atol=1e-6)
    assert walk.meta["frame_range"] == (12, 20) and sit.meta["label"] == 2
    assert (walk.meta["subject"], walk.meta["take"]) == (
        3,
        2,
    ) and walk.layout.name == "kinect_v1_20"
    assert walk.fps == pytest.approx(30 / 4)  # median positive id step is 4
    assert any("line 4 (s03_e02 carry) has no numeric frame range" in s for s in msgs)
    assert any("s03_e02 push" in s and "no frames with ids 41-50" in s for s in msgs)
    assert any("s03_e02 clapHands" in s and "ends (22) before it starts (30)" in s for s in msgs)


def test_label_file_loads_every_recording_and_reports_missing_ones(recording):
    d, _, _ = recording
    with open(d / "actionLabel.txt", "a") as f:
        f.write("s04_e01\nwalk: 1 5\n")
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        segs = sf.load(d / "actionLabel.txt")
    assert sf.detect_format(d / "actionLabel.txt") == "utkinect"
    assert len(segs) == 2
    assert any("joints_s04_e01.txt not found" in str(w.message) for w in rec)


def test_without_labels_the_whole_recording_is_one_motion(tmp_path):
    xyz = _write_joints(tmp_path / "joints_s01_e01.txt", [2, 4, 6])
    m = sf.load(tmp_path / "joints_s01_e01.txt")
    assert isinstance(m, sf.Motion) and m.num_frames == 3
    np.testing.assert_allclose(m.data, xyz, atol=1e-6)
    np.testing.assert_array_equal(m.meta["frame_ids"], [2, 4, 6])


def test_bad_input(tmp_path):
    p = tmp_path / "joints_s01_e01.txt"
    p.write_text("10 " + " ".join(["0.5"] * 57) + "\n")
    with pytest.raises(sf.JointCountError, match=r"joints_s01_e01\.txt: 58 values per line"):
        utkinect.read_utkinect(p)
    p.write_text("10 " + " ".join(["0.5"] * 60) + "\n" + "12 " + " ".join(["0.5"] * 30) + "\n")
    with pytest.raises(sf.TruncatedFileError, match="line 2: 31 values"):
        utkinect.read_utkinect(p)
    p.write_text("")
    with pytest.raises(sf.EmptySequenceError):
        utkinect.read_utkinect(p)
    p.write_text("10.5 " + " ".join(["0.5"] * 60) + "\n")
    with pytest.raises(sf.CorruptDataError, match="frame id"):
        utkinect.read_utkinect(p)
    lab = tmp_path / "actionLabel.txt"
    lab.write_text("s01_e01\nwalk 1 2\n")
    with pytest.raises(
        sf.CorruptDataError, match=r"actionLabel\.txt: line 2: expected 'action: start end'"
    ):
        utkinect.read_label_file(lab)
    lab.write_text("walk: 1 2\n")
    with pytest.raises(sf.CorruptDataError, match="segment before any"):
        utkinect.read_label_file(lab)


def test_nan_coordinates_marked_missing(tmp_path):
    p = tmp_path / "joints_s01_e01.txt"
    p.write_text("10 " + " ".join(["0.5"] * 59) + " nan\n" + "12 " + " ".join(["0.5"] * 60) + "\n")
    with pytest.warns(sf.SkelFormatWarning, match="NaN/inf"):
        m = utkinect.read_utkinect(p)
    assert m.confidence[0, 19] == 0 and m.confidence.sum() == 39


# ------------------------------------------------------------------------------------ real data
@needs_data
@pytest.mark.parametrize("label_file", ["actionLabel.txt", "actionLabel_modified.txt"])
def test_real_dataset_segments_and_frames(label_file):
    # truth counted independently: label lines -> rows whose first column lies in [start, end]
    expected, nan_lines = [], []
    rec = None
    for ln in (UTK / label_file).read_text().splitlines():
        ln = ln.strip()
        if not ln:
            continue
        if ":" not in ln:
            rec = ln
            continue
        action, bounds = ln.split(":")
        a, b = bounds.split()
        if "NaN" in (a, b):
            nan_lines.append((rec, action))
            continue
        ids = [
            int(row.split()[0])
            for row in (UTK / f"joints_{rec}.txt").read_text().splitlines()
            if row.strip()
        ]
        expected.append((rec, action, sum(int(a) <= i <= int(b) for i in ids)))
    assert nan_lines == [("s10_e02", "carry")] and len(expected) == 199

    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        segs = utkinect.load_dataset(UTK, label_file=label_file)
    msgs = [str(x.message) for x in w]
    assert len(msgs) == 1 and "s10_e02 carry) has no numeric frame range; skipped" in msgs[0]
    got = [(s.meta["recording"], s.meta["action"], s.num_frames) for s in segs]
    assert got == expected
    if label_file == "actionLabel.txt":
        assert sum(n for *_, n in got) == 6222
    assert all(s.layout.name == "kinect_v1_20" and s.data.shape[1:] == (20, 3) for s in segs)
    assert {s.meta["label"] for s in segs} == set(range(1, 11))
    assert len({s.meta["subject"] for s in segs}) == 10


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    steps=st.lists(st.integers(0, 6), min_size=1, max_size=30),
    start=st.integers(0, 120),
    length=st.integers(0, 60),
    first=st.integers(0, 50),
)
def test_segment_is_the_rows_whose_id_is_in_range(tmp_path, steps, start, length, first):
    ids = list(np.cumsum([first] + steps))
    xyz = _write_joints(tmp_path / "joints_s05_e01.txt", ids)
    (tmp_path / "actionLabel.txt").write_text(f"s05_e01\nthrow: {start} {start + length}\n")
    rows = [i for i, f in enumerate(ids) if start <= f <= start + length]
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        segs = utkinect.read_utkinect(tmp_path / "joints_s05_e01.txt")
    if not rows:
        assert segs == [] and "no frames with ids" in str(rec[0].message)
        return
    (seg,) = segs
    np.testing.assert_allclose(seg.data, xyz[rows], atol=1e-6)
    np.testing.assert_array_equal(seg.meta["frame_ids"], np.array(ids)[rows])
