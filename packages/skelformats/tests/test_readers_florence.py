"""Florence 3D reader: generated MATLAB struct arrays, bad input, and the real dataset."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import skelformats as sf
from skelformats.readers import florence

REPO = Path(__file__).resolve().parents[3]
DATA = Path(os.environ.get("SKEL_DATA_DIR", REPO.parent / "shared" / "data"))
FLO = DATA / "Florence3D"
needs_data = pytest.mark.skipif(
    not (FLO / "skeletal_data.mat").is_file(), reason=f"Florence 3D not found under {DATA}"
)

_DT = [("original_skeletal_data", "O"), ("time_stamps", "O"), ("subject", "O"), ("action", "O")]


def _write(path: Path, seqs, names=("wave", "drink")) -> Path:
    """seqs: [(array (3, J, T), subject, action)] -> skeletal_data struct array (N x 1)."""
    rec = np.empty((len(seqs), 1), dtype=_DT)
    for i, (a, s, act) in enumerate(seqs):
        rec[i, 0] = (
            a,
            np.arange(1, a.shape[-1] + 1, dtype=np.uint8)[None],
            np.uint8(s),
            np.uint8(act),
        )
    scipy.io.savemat(path, {"skeletal_data": rec})
    cell = np.empty((1, len(names)), dtype=object)
    cell[0, :] = list(names)
    scipy.io.savemat(path.parent / "action_names.mat", {"action_names": cell})
    return path


def test_struct_array_axes_and_takes(tmp_path):
    rng = np.random.default_rng(1)
    seqs = [(rng.normal(size=(3, 15, t)), s, a) for t, s, a in [(8, 2, 1), (12, 2, 1), (9, 3, 2)]]
    p = _write(tmp_path / "skeletal_data.mat", seqs)
    ms = sf.load(p)
    assert sf.detect_format(p) == "florence3d"
    assert [m.num_frames for m in ms] == [8, 12, 9]
    a = seqs[1][0]
    # rows (x, depth, height) -> (x, y up, z depth)
    np.testing.assert_allclose(
        ms[1].data, np.stack([a[0], a[2], a[1]], -1).transpose(1, 0, 2), atol=1e-6
    )
    assert [m.meta["take"] for m in ms] == [1, 2, 1]
    assert [m.meta["action"] for m in ms] == ["wave", "wave", "drink"]
    assert ms[2].meta["subject"] == 3 and ms[0].layout.name == "openni15"


def test_bad_entries_are_reported_and_skipped(tmp_path):
    good = np.zeros((3, 15, 5)) + 1.0
    bad_joints = np.zeros((3, 14, 5))
    nan = good.copy()
    nan[1, 4, 2] = np.nan
    p = _write(tmp_path / "skeletal_data.mat", [(good, 1, 1), (bad_joints, 1, 2), (nan, 2, 1)])
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        ms = florence.read_florence3d(p)
    msgs = [str(w.message) for w in rec]
    assert len(ms) == 2
    assert any("skeletal_data entry 2: 14 joints, expected 15" in s for s in msgs)
    assert any("entry 3: 1 non-finite joint positions" in s for s in msgs)
    assert ms[1].confidence[2, 4] == 0 and ms[1].confidence.sum() == 5 * 15 - 1


def test_broken_files(tmp_path):
    p = tmp_path / "skeletal_data.mat"
    p.write_bytes(b"MATLAB 5.0 MAT-file" + b"\0" * 20)
    with pytest.raises(
        sf.TruncatedFileError, match=r"skeletal_data\.mat: not a readable MATLAB file"
    ):
        florence.read_florence3d(p)
    scipy.io.savemat(p, {"other": np.zeros(3)})
    with pytest.raises(sf.CorruptDataError, match="no field 'skeletal_data'"):
        florence.read_florence3d(p)
    _write(p, [(np.zeros((3, 14, 5)), 1, 1)])
    with (
        pytest.warns(sf.SkelFormatWarning),
        pytest.raises(sf.EmptySequenceError, match="no readable sequence"),
    ):
        florence.read_florence3d(p)


@needs_data
def test_real_dataset_counts():
    # truth from the MATLAB file itself, read with scipy directly (not through the reader)
    raw = scipy.io.loadmat(FLO / "skeletal_data.mat", squeeze_me=True, struct_as_record=False)[
        "skeletal_data"
    ]
    lengths = [r.original_skeletal_data.shape[-1] for r in raw]
    assert len(lengths) == 215
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the file has no defects: nothing to report
        ms = florence.load_dataset(FLO)
    assert len(ms) == 215 and [m.num_frames for m in ms] == lengths
    assert sum(lengths) == sum(m.num_frames for m in ms) == 4016
    assert min(lengths) == 8 and max(lengths) == 35
    assert [(m.meta["subject"], m.meta["label"]) for m in ms] == [
        (int(r.subject), int(r.action)) for r in raw
    ]
    assert {m.meta["action"] for m in ms} == {
        "wave",
        "drink",
        "answer phone",
        "clap",
        "tight lace",
        "sit down",
        "stand up",
        "read watch",
        "bow",
    }
    # y is up after the axis reorder: the head is above the ankles in every frame
    for m in ms:
        head, l_ankle = m.layout.index("head"), m.layout.index("left_ankle")
        assert (m.data[:, head, 1] > m.data[:, l_ankle, 1]).all()
