"""Hostile .mat files inside a dataset folder: the protocol layer reads them with the bounded MAT
reader, so they get the package's own error (or a reported skip), never a crash or a blow-up."""

from __future__ import annotations

import io
import sys
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import skelformats as sf
import skelformats.datasets as sd
from conftest import data_dir
from skelformats.readers._common import mat_squeeze
from skelformats.readers._matv5 import read_mat

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fuzz"))
from harness import MAX_PEAK, MAX_SECONDS  # noqa: E402
from seeds import hostile_seeds, valid_seeds  # noqa: E402

HOSTILE = hostile_seeds()
# files the readers refuse outright (nan_subject / nan_visibility load, with a warning)
REFUSED = {
    n: b
    for t in ("florence3d", "penn_action")
    for n, b in HOSTILE[t].items()
    if not n[:4] == "nan_"
}
VALID = valid_seeds()


def _savemat(path: Path, fields: dict) -> None:
    scipy.io.savemat(path, fields)  # trusted: writes the test's own files


def _florence_folder(root: Path) -> Path:
    """A Florence3D folder of synthetic files: two sequences of subject 1, actions 1 and 2."""
    d = root / "Florence3D"
    d.mkdir()
    (d / "skeletal_data.mat").write_bytes(VALID["florence3d"]["valid.mat"])
    names = np.empty((1, 2), dtype=object)
    names[0, :] = ["wave", "drink"]
    _savemat(d / "action_names.mat", {"action_names": names})
    _savemat(
        d / "tr_te_splits.mat",
        {"tr_subjects": np.array([[1, 3], [2, 4]], np.uint8), "te_subjects": [[2, 4], [1, 3]]},
    )
    return d


def _bounded(fn):
    """Run ``fn``; -> (result or exception, peak bytes, seconds), asserting neither is excessive."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    t0 = time.perf_counter()
    try:
        out = fn()
    except Exception as e:  # checked by the caller
        out = e
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    seconds = time.perf_counter() - t0
    assert peak < MAX_PEAK and seconds < MAX_SECONDS, (peak, seconds)
    return out


def test_synthetic_florence_folder_gives_its_protocol(tmp_path):
    _florence_folder(tmp_path)
    ds = sd.load("florence3d", tmp_path)
    assert ds.classes == ["wave", "drink"]
    assert ds.sizes() == {"xsub": {"train": 2, "test": 0}}
    assert [x.label for x in ds.split("xsub", "train")] == ["wave", "drink"]
    ds = sd.load("florence3d", tmp_path, florence_split=1)  # row 1: subject 1 is a test subject
    assert ds.sizes() == {"xsub": {"train": 0, "test": 2}}


@pytest.mark.parametrize("name", sorted(REFUSED))
@pytest.mark.parametrize("victim", ["tr_te_splits.mat", "action_names.mat", "skeletal_data.mat"])
def test_hostile_florence_file_gets_the_package_error(tmp_path, victim, name):
    d = _florence_folder(tmp_path)
    (d / victim).write_bytes(REFUSED[name])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sf.SkelFormatWarning)
        err = _bounded(lambda: sd.load("florence3d", tmp_path))
    assert isinstance(err, sf.SkelFormatError), repr(err)
    assert victim in str(err)


def test_florence_split_row_out_of_range_is_a_dataset_error(tmp_path):
    _florence_folder(tmp_path)
    with pytest.raises(sd.DatasetError, match=r"tr_te_splits\.mat.*no subject split 7"):
        sd.load("florence3d", tmp_path, florence_split=7)


def test_hostile_penn_labels_are_skipped_and_reported(tmp_path):
    labels = tmp_path / "PennAction" / "labels"
    labels.mkdir(parents=True)
    for n, b in VALID["penn_action"].items():
        (labels / n).write_bytes(b)
    for n, b in REFUSED.items():
        (labels / f"hostile_{n}").write_bytes(b)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = _bounded(lambda: sd.load("penn_action", tmp_path))
    assert not isinstance(ds, Exception), repr(ds)
    assert sorted(x.id for x in ds.examples) == ["valid", "valid_compressed"]
    assert ds.sizes() == {"official": {"train": 2, "test": 0}}
    assert sorted(s.split(":")[0] for s in ds.skipped) == sorted(f"hostile_{n}" for n in REFUSED)


def _same(a, b, where):
    if not isinstance(b, np.ndarray):
        assert type(a) is type(b) and (a == b or a != a), (where, a, b)
        return
    assert isinstance(a, np.ndarray) and (a.shape, a.dtype) == (b.shape, b.dtype), (where, a, b)
    if b.dtype.names or b.dtype == object:
        for f in b.dtype.names or [None]:
            fa, fb = (a, b) if f is None else (a[f], b[f])
            for i in np.ndindex(b.shape):
                _same(fa[i], fb[i], f"{where}.{f or ''}{i}")
    else:
        assert np.array_equal(a, b, equal_nan=b.dtype.kind in "fc"), where


def _squeeze_cases():
    cell = np.empty((2, 1), dtype=object)
    cell[0, 0], cell[1, 0] = np.zeros((0, 3)), np.array([["ab"]])
    st = np.zeros((1, 2), dtype=[("a", "O"), ("b", "O")])
    st[0, 0] = (np.array([[1.5]]), "x")
    st[0, 1] = (np.arange(3), np.array([]))
    fields = {
        "empty": np.zeros((0, 0)),
        "empty_text": "",
        "text": "squat",
        "chars": np.array(["ab", "cd"]),
        "cell": cell,
        "struct": st,
        "one": np.array([[7]], np.uint8),
        "complex": np.array([[1 + 2j]]),
        "logical": np.array([[True, False]]),
        "column": np.arange(4.0)[:, None],
    }
    out = []
    for compress in (False, True):
        buf = io.BytesIO()
        scipy.io.savemat(buf, fields, do_compression=compress)
        out.append(buf.getvalue())
    return out + [b for t in ("florence3d", "penn_action") for b in VALID[t].values()]


def test_mat_squeeze_matches_scipy_squeeze_me(tmp_path):
    """mat_squeeze(bounded reader) == scipy.io.loadmat(squeeze_me=True), on trusted files."""
    files = []
    for i, data in enumerate(_squeeze_cases()):
        files.append(tmp_path / f"case{i}.mat")
        files[-1].write_bytes(data)
    real = data_dir()
    files += [real / "Florence3D" / f for f in ("action_names.mat", "tr_te_splits.mat")]
    files += sorted((real / "PennAction" / "labels").glob("*.mat"))[:5]
    checked = 0
    for p in files:
        if not p.is_file():
            continue
        ours, theirs = read_mat(p), scipy.io.loadmat(p, squeeze_me=True)
        for k in ours:
            _same(mat_squeeze(ours[k]), theirs[k], f"{p.name}:{k}")
            checked += 1
    assert checked >= 20
