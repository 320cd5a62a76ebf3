"""Penn Action reader: generated per-video .mat files, bad input, and the real dataset."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import skelformats as sf
from skelformats.readers import penn

REPO = Path(__file__).resolve().parents[3]
DATA = Path(os.environ.get("SKEL_DATA_DIR", REPO.parent / "shared" / "data"))
PENN = DATA / "PennAction"
needs_data = pytest.mark.skipif(
    not (PENN / "labels").is_dir(), reason=f"Penn Action not found under {DATA}"
)


def _fields(t=6, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "action": "tennis_serve",
        "pose": "left",
        "train": np.array([[1]], np.int32),
        "x": rng.uniform(0, 480, (t, 13)),
        "y": rng.uniform(0, 360, (t, 13)),
        "visibility": (rng.uniform(size=(t, 13)) > 0.3).astype(np.uint8),
        "bbox": rng.uniform(0, 300, (t, 4)),
        "dimensions": np.array([[360, 480, t]], np.uint16),
        "nframes": np.array([[t]], np.uint8),
    }


def test_reads_video_with_visibility_as_confidence(tmp_path):
    f = _fields()
    p = tmp_path / "0042.mat"
    scipy.io.savemat(p, f)
    m = sf.load(p)
    assert sf.detect_format(p) == "penn_action"
    assert m.layout.name == "penn13" and m.data.shape == (6, 13, 2)
    np.testing.assert_allclose(m.data[..., 0], f["x"], rtol=1e-6)
    np.testing.assert_allclose(m.data[..., 1], f["y"], rtol=1e-6)
    np.testing.assert_array_equal(m.confidence, f["visibility"])
    assert m.meta["label"] == 15 and m.meta["action"] == "tennis_serve"
    assert (m.meta["view"], m.meta["split"], m.meta["train"]) == ("left", "train", 1)
    assert (m.meta["video"], m.meta["image_size"]) == ("0042", (360, 480))
    assert m.meta["bbox"].shape == (6, 4)


def test_nan_on_invisible_joint_is_silent_on_visible_joint_is_reported(tmp_path):
    f = _fields()
    f["visibility"][:] = 1
    f["visibility"][1, 3] = 0
    f["x"][1, 3] = np.nan  # invisible: arbitrary value, nothing to report
    p = tmp_path / "0001.mat"
    scipy.io.savemat(p, f)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = penn.read_penn_action(p)
    assert m.confidence[1, 3] == 0 and np.isfinite(m.data).all()
    f["x"][2, 5] = np.inf  # visible
    scipy.io.savemat(p, f)
    with pytest.warns(sf.SkelFormatWarning, match="NaN/inf"):
        m = penn.read_penn_action(p)
    assert m.confidence[2, 5] == 0


@pytest.mark.parametrize(
    "change, error, match",
    [
        (
            lambda f: f.update(
                x=f["x"][:, :12], y=f["y"][:, :12], visibility=f["visibility"][:, :12]
            ),
            sf.JointCountError,
            "'x' has 12 joints per frame, expected 13",
        ),
        (lambda f: f.update(y=f["y"][:4]), sf.ShapeError, r"x \(6, 13\), y \(4, 13\)"),
        (lambda f: f.pop("visibility"), sf.CorruptDataError, "no field 'visibility'"),
        (
            lambda f: f.update(
                x=np.zeros((0, 13)), y=np.zeros((0, 13)), visibility=np.zeros((0, 13))
            ),
            sf.EmptySequenceError,
            "no frames",
        ),
    ],
)
def test_bad_files(tmp_path, change, error, match):
    f = _fields()
    change(f)
    p = tmp_path / "0007.mat"
    scipy.io.savemat(p, f)
    with pytest.raises(error, match=match) as e:
        penn.read_penn_action(p)
    assert e.value.path == str(p)


def test_truncated_file(tmp_path):
    p = tmp_path / "0008.mat"
    scipy.io.savemat(p, _fields())
    p.write_bytes(p.read_bytes()[:300])
    with pytest.raises(sf.TruncatedFileError, match=r"0008\.mat: variable 3 declares 56 bytes"):
        penn.read_penn_action(p)


@needs_data
def test_real_dataset_counts():
    files = sorted((PENN / "labels").glob("*.mat"))
    # truth read with scipy directly: frames = rows of x
    truth = [scipy.io.loadmat(p, variable_names=["x"])["x"].shape[0] for p in files]
    assert len(files) == 2326
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        ms = penn.load_dataset(PENN)
    assert len(ms) == 2326 and [m.num_frames for m in ms] == truth
    assert sum(truth) == 163841
    # the only inconsistency in the files: two bbox tables one row short, reported
    assert sorted(str(w.message).split(":")[0].rsplit("/", 1)[-1] for w in rec) == [
        "1154.mat",
        "1865.mat",
    ]
    assert len({m.meta["action"] for m in ms}) == 15 and {m.meta["label"] for m in ms} == set(
        range(1, 16)
    )
    assert {m.meta["view"] for m in ms} == {"front", "back", "left", "right"}
    flags = [int(scipy.io.loadmat(p, variable_names=["train"])["train"].item()) for p in files]
    assert [m.meta["train"] for m in ms] == flags and flags.count(1) == 1258
    assert all(m.meta["split"] == ("train" if f == 1 else "test") for m, f in zip(ms, flags))
    assert all(m.confidence is not None and m.layout.name == "penn13" for m in ms)
