import numpy as np
import pytest
import skelformats as sf
from hypothesis import given
from skelformats.errors import CorruptDataError, MissingFileError, TruncatedFileError
from skelformats.strategies import motions


def _roundtrip(m, tmp_path):
    p = tmp_path / "m.npz"
    sf.save(m, p)
    return sf.load(p)


@given(motions(people=None))
def test_save_load_exact(tmp_path_factory, m):
    tmp = tmp_path_factory.mktemp("npz")
    m.meta.update(
        subject=3,
        tags=("a", "b"),
        arr=np.arange(6, dtype=np.int16).reshape(2, 3),
        scalar=np.float64(0.25),
        nested={"x": [1, 2.5, None]},
    )
    back = _roundtrip(m, tmp)
    assert back.layout == m.layout
    assert back.data.dtype == np.float32 and np.array_equal(back.data, m.data)
    if m.confidence is None:
        assert back.confidence is None
    else:
        assert np.array_equal(back.confidence, m.confidence)
    assert back.fps == m.fps
    meta = {k: v for k, v in back.meta.items() if k not in ("source", "format")}
    assert meta.keys() == m.meta.keys()
    assert meta["tags"] == ("a", "b") and meta["nested"] == {"x": [1, 2.5, None]}
    assert meta["arr"].dtype == np.int16 and np.array_equal(meta["arr"], m.meta["arr"])
    assert type(meta["scalar"]) is np.float64


def test_builtin_layout_instance_reused(tmp_path):
    m = sf.Motion(np.random.default_rng(0).normal(size=(3, 25, 3)), "ntu25")
    assert _roundtrip(m, tmp_path).layout is sf.get_layout("ntu25")


def test_no_pickle_in_file(tmp_path):
    m = sf.Motion(np.zeros((2, 15, 3)), "openni15", meta={"a": 1})
    sf.save(m, tmp_path / "a.npz")
    with np.load(tmp_path / "a.npz", allow_pickle=False) as z:
        assert all(z[k].dtype != object for k in z.files)
    with pytest.raises(sf.SkelFormatError, match="object"):
        sf.save(m.replace(meta={"bad": np.array([object()], dtype=object)}), tmp_path / "b.npz")


def test_truncated_npz(tmp_path):
    m = sf.Motion(np.random.default_rng(0).normal(size=(50, 25, 3)), "ntu25")
    p = tmp_path / "m.npz"
    sf.save(m, p)
    raw = p.read_bytes()
    bad = tmp_path / "cut.npz"
    bad.write_bytes(raw[: len(raw) // 2])
    with pytest.raises((TruncatedFileError, CorruptDataError)) as e:
        sf.load(bad)
    assert "cut.npz" in str(e.value)


def test_foreign_npz(tmp_path):
    p = tmp_path / "plain.npz"
    np.savez(p, x=np.zeros(3))
    with pytest.raises(sf.SkelFormatError) as e:
        sf.load(p)
    assert "plain.npz" in str(e.value)


def test_missing_file(tmp_path):
    with pytest.raises(MissingFileError, match="nothing.npz"):
        sf.load(tmp_path / "nothing.npz")


def test_wrong_joint_count_in_npz(tmp_path):
    import json

    m = sf.Motion(np.zeros((2, 25, 3)), "ntu25")
    sf.save(m, tmp_path / "ok.npz")
    with np.load(tmp_path / "ok.npz", allow_pickle=False) as z:
        header = str(z["header"][()])
    np.savez(tmp_path / "wrong.npz", data=np.zeros((2, 24, 3), np.float32), header=np.array(header))
    with pytest.raises(sf.JointCountError, match="wrong.npz.*24 joints"):
        sf.load(tmp_path / "wrong.npz")
    h = json.loads(header)
    h["layout"]["parents"][0] = 5  # a cycle through the root
    np.savez(
        tmp_path / "cyc.npz", data=np.zeros((2, 25, 3), np.float32), header=np.array(json.dumps(h))
    )
    with pytest.raises(CorruptDataError, match="cyc.npz.*invalid layout"):
        sf.load(tmp_path / "cyc.npz")
    np.savez(tmp_path / "empty.npz", data=np.zeros((0, 25, 3), np.float32), header=np.array(header))
    with pytest.raises(sf.EmptySequenceError, match="empty.npz"):
        sf.load(tmp_path / "empty.npz")


def test_lazy_submodules():
    assert sf.strategies.motions is motions
    assert hasattr(sf.synth, "generate")
