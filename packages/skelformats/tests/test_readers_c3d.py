"""C3D reader on files written with c3d.Writer."""

from __future__ import annotations

import builtins
import warnings

import numpy as np
import pytest
import skelformats as sf

c3d = pytest.importorskip("c3d", reason="the optional 'c3d' package is not installed")
from skelformats.readers import c3d as c3d_reader  # noqa: E402


def write_c3d(path, labels, xyz_mm, residual=None, rate=100.0, units="mm"):
    """xyz_mm (T, N, 3); residual (T, N), negative = invalid point."""
    T, N, _ = xyz_mm.shape
    res = np.zeros((T, N)) if residual is None else residual
    w = c3d.Writer(point_rate=rate, point_units=units.ljust(4))
    w.set_point_labels(list(labels))
    frames = []
    for t in range(T):
        pts = np.zeros((N, 5), np.float32)
        pts[:, :3] = xyz_mm[t]
        pts[:, 3] = res[t]
        frames.append((pts, np.zeros((0, 0), np.float32)))
    w.add_frames(frames)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with open(path, "wb") as h:
            w.write(h)
    return path


def test_markers_in_metres_with_invalid_points(tmp_path):
    rng = np.random.default_rng(0)
    xyz = rng.uniform(-1000, 1000, (7, 4, 3))
    res = np.zeros((7, 4))
    res[3, 2] = -1
    p = write_c3d(tmp_path / "trial.c3d", ["LASI", "RASI", "LKNE", "RKNE"], xyz, res, rate=120)
    m = sf.load(p)
    assert sf.detect_format(p) == "c3d"
    assert (
        m.fps == 120
        and m.data.shape == (7, 4, 3)
        and m.layout.joints == ("LASI", "RASI", "LKNE", "RKNE")
    )
    assert m.layout.name == "c3d:trial" and len(m.layout.edges) == 0
    valid = res >= 0
    np.testing.assert_allclose(m.data[valid], xyz[valid] / 1000, atol=1e-4)
    assert m.confidence[3, 2] == 0 and m.confidence.sum() == 27 and (m.data[3, 2] == 0).all()
    assert m.meta["units"] == "mm" and m.meta["marker_labels"] == ["LASI", "RASI", "LKNE", "RKNE"]


def test_labels_matching_a_layout_use_it(tmp_path):
    lay = sf.get_layout("smpl22")
    xyz = np.random.default_rng(1).uniform(-1, 1, (3, 22, 3))
    p = write_c3d(tmp_path / "s.c3d", lay.joints, xyz, units="m")
    m = sf.load(p)
    assert m.layout is lay
    np.testing.assert_allclose(m.data, xyz, atol=1e-6)


def test_broken_files(tmp_path):
    p = write_c3d(tmp_path / "cut.c3d", ["A", "B"], np.ones((50, 2, 3)))
    data = p.read_bytes()
    p.write_bytes(data[: len(data) - 1000])
    with pytest.raises(
        sf.TruncatedFileError, match=r"cut\.c3d: the file ends after 32 of its 50 frames"
    ):
        sf.load(p)
    q = tmp_path / "junk.c3d"
    q.write_bytes(b"\x02\x50" + b"\x00" * 510 + b"\xff" * 100)
    with pytest.raises(sf.SkelFormatError, match=r"junk\.c3d"):
        sf.load(q)


def test_missing_package_is_a_clear_error(tmp_path, monkeypatch):
    p = write_c3d(tmp_path / "a.c3d", ["A"], np.ones((2, 1, 3)))
    real_import = builtins.__import__

    def no_c3d(name, *a, **k):
        if name == "c3d":
            raise ImportError("No module named 'c3d'")
        return real_import(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_c3d)
    with pytest.raises(
        c3d_reader.MissingDependencyError, match=r"a\.c3d: .*pip install 'skelformats\[c3d\]'"
    ):
        sf.load(p)
