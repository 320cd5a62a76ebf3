"""MSR Action3D text reader: generated files (format, bad input) and the real dataset."""

from __future__ import annotations

import io
import os
import re
import tarfile
import warnings
from pathlib import Path

import numpy as np
import pytest
import skelformats as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from skelformats.readers import msr

REPO = Path(__file__).resolve().parents[3]
DATA = Path(os.environ.get("SKEL_DATA_DIR", REPO.parent / "shared" / "data"))
MSR = DATA / "MSRAction3D"
needs_data = pytest.mark.skipif(
    not (MSR / "real_world_xyz").is_dir(), reason=f"MSR Action3D not found under {DATA}"
)


def _write(path: Path, frames: np.ndarray) -> Path:
    """frames (T, 20, 4) -> one 'x y z w' line per joint, as the dataset stores them."""
    path.write_text(
        "".join(f"{x:.6f} {y:.6f} {z:.6f} {w:.6f}\n" for x, y, z, w in frames.reshape(-1, 4))
    )
    return path


def _frames(t=5, seed=0):
    rng = np.random.default_rng(seed)
    f = rng.uniform(-1, 3, size=(t, 20, 4))
    f[..., 3] = rng.uniform(0, 1, size=(t, 20))
    return f


def test_reads_values_order_and_name_fields(tmp_path):
    f = _frames()
    (tmp_path / "labels.tsv").write_text("action_id\tname\na07\tdraw x\n")
    p = _write(tmp_path / "a07_s03_e02_skeleton3D.txt", f)
    m = sf.load(p)
    assert sf.detect_format(p) == "msr_action3d"
    assert m.layout.name == "msr20" and m.data.shape == (5, 20, 3) and m.fps == msr.FPS
    np.testing.assert_allclose(m.data, f[..., :3], atol=1e-6)
    np.testing.assert_allclose(m.meta["joint_confidence"], f[..., 3], atol=1e-6)
    assert m.confidence is None  # nothing missing
    assert (m.meta["label"], m.meta["subject"], m.meta["take"]) == (7, 3, 2)
    assert m.meta["action"] == "draw x" and m.meta["coordinates"] == "real_world_xyz"


def test_junk_values_are_marked_missing_with_a_warning(tmp_path):
    f = _frames()
    f[2, 4, 1] = 2.14748e9
    f[3, 0, 0] = 2147483647.0
    p = _write(tmp_path / "a06_s03_e01_skeleton.txt", f)
    with pytest.warns(
        sf.SkelFormatWarning, match=r"a06_s03_e01_skeleton\.txt: 2 joint entries hold junk"
    ):
        m = sf.load(p)
    assert m.meta["coordinates"] == "screen_uvd"
    assert m.confidence[2, 4] == 0 and m.confidence[3, 0] == 0 and m.confidence.sum() == 5 * 20 - 2
    assert np.abs(m.data).max() < 10


def test_untracked_frames_are_missing_and_all_zero_file_is_an_error(tmp_path):
    f = _frames()
    f[1, :, :3] = 0
    with pytest.warns(sf.SkelFormatWarning, match="1 of 5 frames are all zeros"):
        m = sf.load(_write(tmp_path / "a01_s01_e01_skeleton3D.txt", f))
    assert (m.confidence[1] == 0).all() and (m.confidence[[0, 2, 3, 4]] == 1).all()
    f[..., :3] = 0
    with pytest.raises(
        sf.CorruptDataError, match=r"a01_s01_e02_skeleton3D\.txt: every coordinate is zero"
    ):
        sf.load(_write(tmp_path / "a01_s01_e02_skeleton3D.txt", f))


@pytest.mark.parametrize(
    "text, error, match",
    [
        ("", sf.EmptySequenceError, "no data"),
        ("1 2 3 4\n" * 30, sf.TruncatedFileError, "30 joint lines is not a whole number"),
        ("1 2 3 4\n" * 19 + "1 2\n", sf.TruncatedFileError, "line 20: 2 values"),
        ("1 2 3\n" * 20, sf.CorruptDataError, "line 1: 3 values"),
        (
            "1 2 3 4\n" * 5 + "1 x 3 4\n" + "1 2 3 4\n" * 14,
            sf.CorruptDataError,
            "line 6: 'x' is not a number",
        ),
    ],
)
def test_bad_files_raise_specific_errors_naming_the_file(tmp_path, text, error, match):
    p = tmp_path / "a02_s01_e01_skeleton3D.txt"
    p.write_text(text)
    with pytest.raises(error, match=match) as e:
        msr.read_msr_action3d(p)
    assert e.value.path == str(p)


def test_nan_coordinates_are_missing(tmp_path):
    f = _frames()
    p = _write(tmp_path / "a02_s01_e01_skeleton3D.txt", f)
    lines = p.read_text().splitlines()
    lines[7] = "nan 0.1 inf 1.0"
    p.write_text("\n".join(lines) + "\n")
    with pytest.warns(sf.SkelFormatWarning, match="1 joint entries hold junk"):
        m = msr.read_msr_action3d(p)
    assert m.confidence[0, 7] == 0 and np.isfinite(m.data).all()


# ------------------------------------------------------------------------------------ real data
def _independent_truth(folder: Path):
    """(frames per file, names of files without any non-zero coordinate) by plain text scanning."""
    frames, empty = {}, set()
    for p in sorted(folder.glob("*.txt")):
        lines = [ln.split() for ln in p.read_text().splitlines() if ln.strip()]
        frames[p.name] = len(lines) // 20
        if all(float(v) == 0 for ln in lines for v in ln[:3]):
            empty.add(p.name)
    return frames, empty


@needs_data
def test_real_world_xyz_counts_and_defects():
    frames, empty = _independent_truth(MSR / "real_world_xyz")
    assert len(frames) == 567 and empty == {"a13_s09_e02_skeleton3D.txt"}
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        motions = msr.load_dataset(MSR)
    msgs = [str(w.message) for w in rec]
    assert any(
        "a13_s09_e02" in s and "skipped" in s and "every coordinate is zero" in s for s in msgs
    )
    names = [Path(m.meta["source"]).name for m in motions]
    assert names == sorted(set(frames) - empty)
    assert len(motions) == 566
    assert [m.num_frames for m in motions] == [frames[n] for n in names]
    assert (
        sum(m.num_frames for m in motions)
        == sum(frames.values()) - frames["a13_s09_e02_skeleton3D.txt"]
    )
    labels = dict(
        ln.split("\t") for ln in (MSR / "labels.tsv").read_text().splitlines()[1:] if ln.strip()
    )
    for m, n in zip(motions, names):
        a, s, e = (int(v) for v in re.match(r"a(\d+)_s(\d+)_e(\d+)", n).groups())
        assert (m.meta["label"], m.meta["subject"], m.meta["take"]) == (a, s, e)
        assert m.meta["action"] == labels[f"a{a:02d}"]
        assert m.layout.name == "msr20" and m.data.shape[1:] == (20, 3)
    # the longer version of a13_s09_e03 is mostly untracked frames, reported and marked missing
    e03 = motions[names.index("a13_s09_e03_skeleton3D.txt")]
    assert e03.num_frames == 936 and int((e03.confidence == 0).all(-1).sum()) == 740
    assert any("a13_s09_e03" in s and "740 of 936 frames are all zeros" in s for s in msgs)
    # ... and its two coordinate versions disagree in length (the other one is in screen_uvd.tar.gz)
    mismatch = [s for s in msgs if "frames here but" in s]
    assert len(mismatch) == 1
    assert (
        "a13_s09_e03_skeleton3D.txt: 936 frames here but 255 in the screen_uvd version"
        in mismatch[0]
    )


@needs_data
def test_screen_uvd_archive_junk_values_marked_missing(tmp_path):
    archive = MSR / "screen_uvd.tar.gz"
    # truth from the archive members, scanned as plain text
    frames, empty, junk = {}, set(), {}
    with tarfile.open(archive) as tar:
        for member in tar:
            if not member.isfile():
                continue
            name = member.name.rsplit("/", 1)[-1]
            lines = [
                ln.split()
                for ln in tar.extractfile(member).read().decode().splitlines()
                if ln.strip()
            ]
            frames[name] = len(lines) // 20
            if all(float(v) == 0 for ln in lines for v in ln[:3]):
                empty.add(name)
            n = sum(any(abs(float(v)) > 1e9 for v in ln) for ln in lines)
            if n:
                junk[name] = n
    assert len(frames) == 567 and empty == {"a13_s09_e02_skeleton.txt"} and len(junk) == 20
    assert sf.detect_format(archive) == "msr_action3d_archive"
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        motions = msr.load_dataset(MSR, coordinates="screen_uvd")  # no folder: the shipped archive
    msgs = [str(w.message) for w in rec]
    assert len(motions) == len(frames) - len(empty) == 566
    assert sum(m.num_frames for m in motions) == sum(v for k, v in frames.items() if k not in empty)
    assert any("a13_s09_e02_skeleton.txt: skipped: every coordinate is zero" in s for s in msgs)
    by_name = {m.meta["source"].rsplit("/", 1)[-1]: m for m in motions}
    for name, n in junk.items():
        m = by_name[name]
        assert any(name in s and f"{n} joint entries hold junk" in s for s in msgs)
        assert int((m.confidence == 0).sum()) >= n and np.abs(m.data).max() < 1e5
        assert m.meta["coordinates"] == "screen_uvd" and "action" in m.meta
    # the two coordinate versions of a13_s09_e03 disagree in length: reported, in both directions
    mismatch = [s for s in msgs if "frames here but" in s]
    assert len(mismatch) == 1 and "a13_s09_e03_skeleton.txt: 255 frames here but 936" in mismatch[0]


def _tar(path, members: dict[str, str]):
    with tarfile.open(path, "w:gz") as tar:
        for name, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _text(f):
    return "".join(f"{x:.6f} {y:.6f} {z:.6f} {w:.6f}\n" for x, y, z, w in f.reshape(-1, 4))


def test_archive_members_are_read_and_broken_ones_skipped(tmp_path):
    good, bad = _frames(4, 1), _frames(3, 2)
    bad[..., :3] = 0
    p = _tar(
        tmp_path / "uvd.tar.gz",
        {
            "uvd/a02_s03_e01_skeleton.txt": _text(good),
            "uvd/a02_s03_e02_skeleton.txt": _text(bad),
            "uvd/README": "x",
        },
    )
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        ms = sf.load(p)
    assert len(ms) == 1 and ms[0].meta["source"] == f"{p}::uvd/a02_s03_e01_skeleton.txt"
    np.testing.assert_allclose(ms[0].data, good[..., :3], atol=1e-6)
    assert [str(w.message) for w in rec] == [
        f"{p}::uvd/a02_s03_e02_skeleton.txt: skipped: every coordinate is zero: no skeleton was tracked in any frame"
    ]
    with pytest.raises(sf.EmptySequenceError, match="no MSR Action3D skeleton files"):
        msr.read_msr_archive(_tar(tmp_path / "other.tar.gz", {"x.txt": "1 2 3 4\n"}))
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(p.read_bytes()[:60])
    with pytest.raises(sf.CorruptDataError, match=r"cut\.tar\.gz: not a readable tar archive"):
        msr.read_msr_archive(cut)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    t=st.integers(1, 6),
    junk=st.sets(st.tuples(st.integers(0, 5), st.integers(0, 19), st.integers(0, 3)), max_size=6),
    seed=st.integers(0, 2**16),
)
def test_exactly_the_junk_joints_are_missing(tmp_path, t, junk, seed):
    f = _frames(t, seed)
    hit = np.zeros((t, 20), bool)
    for a, j, c in junk:
        if a < t:
            f[a, j, c] = 2147483647.0
            hit[a, j] = True
    if hit.all():
        return
    p = _write(tmp_path / "a05_s05_e05_skeleton.txt", f)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = msr.read_msr_action3d(p)
    np.testing.assert_array_equal(m.confidence_or_ones() == 0, hit)
    np.testing.assert_allclose(m.data[~hit], f[..., :3][~hit], atol=1e-6)
