"""Hostile files: every input that crashed, stalled or blew up a reader (issue 15) is refused with the
package's own error naming the file, within 256 MB and 10 s; silent wrong results are reported."""

from __future__ import annotations

import io
import math
import re
import struct
import sys
import tracemalloc
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import skelformats as sf
from conftest import data_dir
from skelformats.readers import florence, penn, utkinect
from skelformats.readers._matv5 import read_mat

FUZZ = Path(__file__).resolve().parents[1] / "fuzz"
sys.path.insert(0, str(FUZZ))
from harness import MAX_PEAK, MAX_SECONDS, prepare, run  # noqa: E402
from seeds import FORMATS, TARGETS, hostile_seeds, valid_seeds  # noqa: E402

CORPUS = sorted(
    (t.name, p.name) for t in (FUZZ / "corpus").iterdir() if t.is_dir() for p in t.iterdir()
)
HOSTILE = hostile_seeds()


def _load(target: str, data: bytes, tmp_path: Path, fmt: str | None = "default"):
    path = prepare(target, tmp_path)
    path.write_bytes(data)
    return path, sf.load(path, format=FORMATS[target] if fmt == "default" else fmt)


def test_corpus_is_the_generated_seeds():
    generated = {(t, n) for s in (valid_seeds(), HOSTILE) for t, files in s.items() for n in files}
    assert set(CORPUS) == generated
    assert set(valid_seeds()) == set(TARGETS)  # a valid seed for every target


@pytest.mark.parametrize("target, name", CORPUS, ids=[f"{t}/{n}" for t, n in CORPUS])
@pytest.mark.parametrize("detected", [False, True], ids=["as-format", "detected"])
def test_corpus_input_is_accepted_or_refused_cleanly(tmp_path, target, name, detected):
    data = (FUZZ / "corpus" / target / name).read_bytes()
    o = run(prepare(target, tmp_path), data, None if detected else FORMATS[target])
    assert o.kind != "crash", o.detail
    assert o.peak < MAX_PEAK and o.seconds < MAX_SECONDS
    hostile = name in HOSTILE.get(target, {})
    if not detected:  # through its own reader: valid seeds load, hostile ones are refused
        assert o.kind == ("error" if hostile and name != "nan_subject.mat" else "accepted"), (
            o.detail
        )


@pytest.mark.parametrize(
    "target, name, error, match",
    [
        ("florence3d", "huge_dims.mat", sf.CorruptDataError, r"1 values for dimensions"),
        ("florence3d", "nested_cells.mat", sf.CorruptDataError, r"nested deeper than 16"),
        ("florence3d", "cell_count.mat", sf.TruncatedFileError, r"declares \d+ elements"),
        ("florence3d", "struct_fields.mat", sf.CorruptDataError, r"field names"),
        ("florence3d", "size_overflow.mat", sf.TruncatedFileError, r"declares 4294967280 bytes"),
        ("florence3d", "zlib_bomb.mat", sf.CorruptDataError, r"expected an array element"),
        ("florence3d", "many_tiny_arrays.mat", sf.LimitError, r"more than 10\d+ arrays"),
        ("penn_action", "nan_visibility.mat", sf.CorruptDataError, r"no visible joint"),
        ("penn_action", "sparse.mat", sf.CorruptDataError, r"sparse arrays are not supported"),
        ("mediapipe_csv", "frame_999999.csv", sf.LimitError, r"1000000 frames implied"),
        ("mediapipe_json", "nested.json", sf.LimitError, r"JSON nested 3000 deep"),
        ("mediapipe_json", "coordinate_1e30.json", sf.CorruptDataError, r"implausible .*1e\+30"),
        ("bvh", "no_channels_10M_frames.bvh", sf.CorruptDataError, r"no joint has CHANNELS"),
        ("ntu_skeleton", "new_body_every_frame.skeleton", sf.LimitError, r"65 bodies"),
        ("msr_action3d_archive", "gzip_bomb.tar.gz", sf.LimitError, r"unpacks to more"),
        ("npz", "forged_zip_bomb.npz", sf.LimitError, r"unpacks to 419430464 bytes"),
        ("npz", "every_7th_byte_flipped.npz", sf.TruncatedFileError, r"damaged or truncated"),
        ("npz", "header_json_list.npz", sf.CorruptDataError, r"header is a JSON list"),
        ("npz", "header_nested.npz", sf.LimitError, r"JSON nested 3000 deep"),
        ("asf", "length_zero.asf", sf.CorruptDataError, r"length unit '0' must be a positive"),
        ("nwucla", "nested.json", sf.LimitError, r"JSON nested 3001 deep"),
        ("nwucla", "coordinate_1e30.json", sf.CorruptDataError, r"implausible .*1e\+30"),
        ("openpose", "nested.json", sf.LimitError, r"JSON nested 3001 deep"),
        ("utkinect_labels", "recording_only.txt", sf.EmptySequenceError, r"no segment"),
        ("utkinect_labels", "overlapping_segments.txt", sf.EmptySequenceError, r"no segment"),
        ("utkinect", "frame_id_1e308.txt", sf.CorruptDataError, r"frame id"),
    ],
)
def test_known_hostile_input_gets_its_error(tmp_path, target, name, error, match):
    path = prepare(target, tmp_path)
    path.write_bytes(HOSTILE[target][name])
    with pytest.raises(sf.SkelFormatError) as e, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. the non-finite visibility before the error
        sf.load(path, format=FORMATS[target])
    assert isinstance(e.value, error), e.value
    assert e.value.path == str(path) and str(e.value).startswith(str(path))
    assert re.search(match, e.value.problem), e.value.problem


def test_honest_zip_bomb_is_refused_before_it_is_inflated(tmp_path):
    # 100 MB of zeros in about 100 KB: within max_bytes, but a thousand times the file's size
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        with z.open("data.npy", "w", force_zip64=True) as f:
            chunk = b"\0" * (1 << 20)
            for _ in range(100):
                f.write(chunk)
    p = tmp_path / "bomb.npz"
    p.write_bytes(raw.getvalue())
    o = run(p, p.read_bytes(), "npz")
    assert o.kind == "error" and "unpacks to 104857600 bytes" in o.detail, o.detail
    assert "allowed for a file of this size" in o.detail
    assert o.peak < 32 << 20


def test_npz_foreign_exceptions_become_errors(tmp_path):
    good = valid_seeds()["npz"]["valid.npz"]
    cases = {}
    with zipfile.ZipFile(io.BytesIO(good)) as z:
        infos = z.infolist()
    b = bytearray(good)
    off = infos[0].header_offset
    # compression method 99 (zipfile: NotImplementedError), in both headers
    m = bytearray(b)
    struct.pack_into("<H", m, off + 8, 99)
    cd = m.find(b"PK\x01\x02")
    struct.pack_into("<H", m, cd + 10, 99)
    cases["method"] = bytes(m)
    # the encryption flag (zipfile: RuntimeError "password required")
    e = bytearray(b)
    struct.pack_into("<H", e, off + 6, 1)
    struct.pack_into("<H", e, e.find(b"PK\x01\x02") + 8, 1)
    cases["encrypted"] = bytes(e)
    # a damaged deflate stream (zlib.error)
    d = bytearray(b)
    start = off + 30 + len(infos[0].filename) + 20
    d[start : start + 12] = b"\xff" * 12
    cases["deflate"] = bytes(d)
    # a damaged .npy header inside the archive (numpy: tokenize.TokenError / SyntaxError)
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w") as z:
        z.writestr("data.npy", b"\x93NUMPY\x01\x00\x20\x00{'descr': '<f4', 'shape': (3, 15,")
        z.writestr("header.npy", b"\x93NUMPY\x01\x00\x10\x00{'descr': '<U1',")
    cases["npy_header"] = raw.getvalue()
    for name, data in cases.items():
        p = tmp_path / f"{name}.npz"
        p.write_bytes(data)
        with pytest.raises(sf.SkelFormatError) as err:
            sf.load(p)
        assert err.value.path == str(p), name


def test_directory_named_like_a_file_is_refused(tmp_path):
    for name in ("x.bvh", "x.npz", "x.mat", "x.skeleton", "x.csv", "x.txt", "x.asf"):
        d = tmp_path / name
        d.mkdir()
        with pytest.raises(sf.SkelFormatError) as e:
            sf.load(d)
        assert e.value.path == str(d), name


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_endless_device_is_refused_by_every_reader():
    for fmt in sorted(sf.list_readers()):
        with pytest.raises(sf.SkelFormatError) as e:
            sf.load("/dev/zero", format=fmt)
        assert e.value.path == "/dev/zero", fmt


@pytest.mark.parametrize("exc", [MemoryError, RecursionError, ZeroDivisionError, RuntimeError])
def test_load_never_lets_a_foreign_exception_escape(tmp_path, exc):
    def broken(path):
        raise exc("from inside a parser")

    sf.register_reader("_hostile_test", extensions=(".hostiletest",))(broken)
    try:
        p = tmp_path / "a.hostiletest"
        p.write_text("x")
        with pytest.raises(sf.CorruptDataError) as e:
            sf.load(p)
        assert e.value.path == str(p)
    finally:
        from skelformats import registry

        registry._READERS.pop("_hostile_test")


def test_implausible_coordinates_are_reported_unless_allowed(tmp_path):
    sk = np.full((2, 20, 3), 0.5)
    sk[1, 3, 2] = 1e30
    p = tmp_path / "a01_s01_e01_v01.json"
    p.write_text(__import__("json").dumps({"skeletons": sk.tolist()}))
    with pytest.raises(sf.CorruptDataError, match=r"implausible coordinate 1e\+30 .* units m"):
        sf.load(p)
    with sf.use_limits(max_abs_coordinate=math.inf):
        assert sf.load(p).data[1, 3, 2] == np.float32(1e30)
    sk[1, 3, 2] = 0.7
    p.write_text(__import__("json").dumps({"skeletons": sk.tolist()}))
    assert sf.load(p).data.max() == np.float32(0.7)
    with sf.use_limits(max_abs_coordinate=0.6), pytest.raises(sf.CorruptDataError):
        sf.load(p)


def test_implausible_entry_of_a_list_is_skipped(tmp_path):
    fields = {"skeletal_data": np.empty((2, 1), dtype=object)}
    for i, scale in enumerate((1.0, 1e30)):
        rec = np.zeros(
            (1, 1), dtype=[("original_skeletal_data", "O"), ("subject", "O"), ("action", "O")]
        )
        rec[0, 0] = (np.full((3, 15, 4), scale), np.array([[1]]), np.array([[i + 1]]))
        fields["skeletal_data"][i, 0] = rec
    p = tmp_path / "skeletal_data.mat"
    scipy.io.savemat(p, fields)
    with pytest.warns(sf.SkelFormatWarning, match=r"implausible coordinate 1e\+30.*skipped"):
        ms = sf.load(p)
    assert [m.meta["label"] for m in ms] == [1]


def test_nan_subject_skips_only_that_florence_entry(tmp_path):
    p = tmp_path / "skeletal_data.mat"
    p.write_bytes(HOSTILE["florence3d"]["nan_subject.mat"])
    with pytest.warns(sf.SkelFormatWarning, match=r"entry 2 subject nan is not a whole number"):
        ms = florence.read_florence3d(p)
    assert [m.meta["index"] for m in ms] == [1, 3]


def test_nan_penn_visibility_is_reported(tmp_path):
    fields = scipy.io.loadmat(io.BytesIO(valid_seeds()["penn_action"]["valid.mat"]))
    vis = np.ones((3, 13))
    vis[1, 4] = np.nan
    fields = {k: v for k, v in fields.items() if not k.startswith("__")}
    fields["visibility"] = vis
    p = tmp_path / "0001.mat"
    scipy.io.savemat(p, fields)
    with pytest.warns(sf.SkelFormatWarning, match="1 visibility values are not finite"):
        m = penn.read_penn_action(p)
    assert m.confidence[1, 4] == 0 and m.confidence.sum() == 3 * 13 - 1


def test_utkinect_label_file_without_segments_is_an_error(tmp_path):
    (tmp_path / "joints_s01_e01.txt").write_text(
        TARGETS["utkinect_labels"][1]["joints_s01_e01.txt"]
    )
    lab = tmp_path / "actionLabel.txt"
    lab.write_text("s01_e01\n")
    with pytest.raises(sf.EmptySequenceError, match="no segment could be read"):
        utkinect.read_utkinect(lab)


def test_overlapping_utkinect_segments_are_bounded(tmp_path):
    (tmp_path / "joints_s01_e01.txt").write_text(
        TARGETS["utkinect_labels"][1]["joints_s01_e01.txt"]
    )
    lab = tmp_path / "actionLabel.txt"
    lab.write_text("s01_e01\nwalk: 0 4\nsitDown: 2 4\n")  # 3 + 2 of 3 frames: allowed
    assert [m.num_frames for m in utkinect.read_utkinect(lab)] == [3, 2]
    lab.write_text("s01_e01\n" + "walk: 0 4\n" * 3)
    with pytest.warns(sf.SkelFormatWarning, match=r"select 9 frames of a recording of 3"):
        with pytest.raises(sf.EmptySequenceError):
            utkinect.read_utkinect(lab)


def test_huge_frame_id_is_not_wrapped(tmp_path):
    p = tmp_path / "joints_s01_e01.txt"
    for bad in ("1e308", "9.3e18", "nan"):
        p.write_text(f"{bad} " + " ".join(["0.5"] * 60) + "\n")
        with pytest.raises(sf.CorruptDataError, match="frame id"):
            utkinect.read_joints_file(p)


def test_limits_lower_what_readers_accept(tmp_path):
    bvh = valid_seeds()["bvh"]["valid.bvh"]
    path, m = _load("bvh", bvh, tmp_path)
    assert m.num_frames == 2
    with sf.use_limits(max_frames=1), pytest.raises(sf.LimitError, match="max_frames"):
        sf.load(path)
    with sf.use_limits(max_bytes=100), pytest.raises(sf.CorruptDataError, match="max_bytes"):
        sf.load(path)
    ntu = HOSTILE["ntu_skeleton"]["new_body_every_frame.skeleton"]
    path, _ = _load("ntu_skeleton", valid_seeds()["ntu_skeleton"]["valid.skeleton"], tmp_path)
    path.write_bytes(ntu.replace(b"100\n", b"2\n", 1))
    with pytest.warns(sf.SkelFormatWarning, match="extra values"):
        assert sf.load(path).data.shape[:2] == (2, 2)  # two bodies, two frames
    with sf.use_limits(max_bodies=1), pytest.raises(sf.LimitError, match="max_bodies"):
        sf.load(path)
    mat = valid_seeds()["florence3d"]["valid_compressed.mat"]
    path, ms = _load("florence3d", mat, tmp_path)
    assert len(ms) == 2
    with sf.use_limits(max_bytes=1000), pytest.raises(sf.CorruptDataError, match="max_bytes"):
        sf.load(path, format="florence3d")


def test_mat_reader_refuses_an_inflation_over_max_bytes(tmp_path):
    p = tmp_path / "skeletal_data.mat"
    p.write_bytes(HOSTILE["florence3d"]["zlib_bomb.mat"])  # 8 MB inflated
    tracemalloc.start()
    try:
        with sf.use_limits(max_bytes=1 << 20), pytest.raises(sf.CorruptDataError, match="inflates"):
            read_mat(p)
        assert tracemalloc.get_traced_memory()[1] < 8 << 20
    finally:
        tracemalloc.stop()


def _same(a, b, where=""):
    if isinstance(a, np.ndarray) and a.dtype.names:
        assert a.shape == b.shape and a.dtype.names == b.dtype.names, where
        for i in np.ndindex(a.shape):
            for n in a.dtype.names:
                _same(a[i][n], b[i][n], f"{where}{i}.{n}")
    elif isinstance(a, np.ndarray) and a.dtype == object:
        assert a.shape == b.shape, where
        for i in np.ndindex(a.shape):
            _same(a[i], b[i], f"{where}{i}")
    else:
        a, b = np.asarray(a), np.asarray(b)
        assert a.shape == b.shape and a.dtype == b.dtype, (
            where,
            a.shape,
            b.shape,
            a.dtype,
            b.dtype,
        )
        np.testing.assert_array_equal(a, b, err_msg=where)


def test_mat_reader_equals_scipy_on_generated_files(tmp_path):
    for target in ("florence3d", "penn_action"):
        for name, data in valid_seeds()[target].items():
            p = tmp_path / name
            p.write_bytes(data)
            ours, theirs = read_mat(p), scipy.io.loadmat(p)
            assert set(ours) == {k for k in theirs if not k.startswith("__")}
            for k in ours:
                _same(ours[k], theirs[k], f"{name}:{k}")


def test_mat_reader_equals_scipy_on_every_supported_structure(tmp_path):
    cell = np.empty((2, 2), dtype=object)
    cell[0, 0], cell[1, 0], cell[0, 1], cell[1, 1] = "a", np.arange(3), np.zeros((0, 0)), [[1.5]]
    rec = np.zeros((2, 1), dtype=[("name", "O"), ("values", "O")])
    rec[0, 0] = ("wave", np.ones((2, 3, 4), np.float32))
    rec[1, 0] = ("clap", cell)
    fields = {
        "rows": np.array(["ab", "cd", "ef"]),
        "text": "héllo ✓",
        "empty_text": "",
        "cplx": np.array([[1 + 2j, 3 - 1j]]),
        "ints": np.arange(-5, 5, dtype=np.int16).reshape(2, 5),
        "u64": np.array([[2**63]], np.uint64),
        "flags": np.array([[True, False]]),
        "cube": np.arange(24.0).reshape(2, 3, 4),
        "cell": cell,
        "rec": rec,
    }
    for compress in (False, True):
        p = tmp_path / f"all_{compress}.mat"
        scipy.io.savemat(p, fields, do_compression=compress)
        ours, theirs = read_mat(p), scipy.io.loadmat(p)
        assert set(ours) == set(fields)
        for k in ours:
            _same(ours[k], theirs[k], f"{p.name}:{k}")


def test_mat_reader_equals_scipy_on_the_real_files():
    root = data_dir()
    files = (
        sorted((root / "Florence3D").glob("*.mat"))
        + sorted((root / "PennAction" / "labels").glob("*.mat"))[::25]
    )
    if not files:
        pytest.skip(f"real data not available under {root} (set SKEL_DATA_DIR)")
    for p in files:
        ours, theirs = read_mat(p), scipy.io.loadmat(p)  # scipy on trusted files only
        assert set(ours) == {k for k in theirs if not k.startswith("__")}, p
        for k in ours:
            _same(ours[k], theirs[k], f"{p.name}:{k}")


def test_valid_seeds_load_without_warnings(tmp_path):
    for target, files in valid_seeds().items():
        for data in files.values():
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                _load(target, data, tmp_path / target)
