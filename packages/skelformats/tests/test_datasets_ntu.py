"""NTU RGB+D 60/120 through the dataset layer, on small folders written with the NTU writer; the
NTU writer itself; the parse cache."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
import skelformats as sf
import skelformats.datasets as sd
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from skelformats.datasets import cache as dcache
from skelformats.datasets import ntu
from skelformats.datasets.ntu import ntu_name


def _walk(T=30, seed=0, scale=1.0):
    m = sf.synth.generate("wave", layout="ntu25", seed=seed)
    return (m.data[:T] * np.float32(scale)).astype(np.float32)


def _write(root, name, data, conf=None):
    sf.save(sf.Motion(data, "ntu25", 30.0, conf), root / f"{name}.skeleton")


# (setup, camera, subject, take, action)
SAMPLES = [
    (1, 1, 1, 1, 1),  # xsub train (P001), xview test (C001)
    (1, 2, 3, 1, 1),  # xsub test (P003), xview train
    (2, 3, 2, 2, 11),  # reading: unseen in 55/5
    (3, 2, 4, 1, 50),  # mutual: two bodies
    (3, 1, 6, 2, 57),  # mutual with one tracked body: padded
    (4, 2, 7, 1, 23),  # single action with a static noise body next to the actor
    (1, 2, 5, 2, 8),  # S001C002P005R002A008: in the official missing-skeleton list
    (18, 1, 45, 1, 61),  # NTU-120 only (setup 18, action 61)
]


@pytest.fixture(scope="module")
def ntu_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("ntu") / "nturgb+d_skeletons"
    root.mkdir()
    for i, (s, c, p, r, a) in enumerate(SAMPLES):
        name = ntu_name(s, c, p, r, a)
        d = _walk(seed=i)
        if a == 50:
            d = np.stack([d, d + np.float32([1.0, 0, 0])])
        elif a == 23:
            static = np.repeat(d[:1] + np.float32([2.0, 0, 0]), len(d), axis=0)
            d = np.stack([static, d])  # the noise body comes first in the file
        _write(root, name, d)
    return root


@pytest.fixture
def cache_dir(tmp_path):
    return tmp_path / "cache"


def test_ntu60_protocols_missing_list_and_labels(ntu_root, cache_dir):
    ds = sd.load("ntu60", ntu_root.parent, cache=cache_dir)  # the parent: found by folder name
    assert ds.protocols == ["xsub", "xview", "zeroshot_55_5", "zeroshot_48_12"]
    assert len(ds.classes) == 60 and ds.classes[:2] == ["drink water", "eat meal/snack"]
    ids = {e.id for e in ds.examples}
    assert "S001C002P005R002A008" not in ids  # official missing-skeleton sample excluded ...
    assert any(s.startswith("S001C002P005R002A008") for s in ds.skipped)  # ... and reported
    assert ds.info["excluded_missing"] == 1
    assert "S018C001P045R001A061" not in ids  # NTU-120 sample not in NTU-60
    assert len(ds.examples) == 6
    tr, te = ds.split("xsub", "train"), ds.split("xsub", "test")
    assert {e.meta["subject"] for e in tr} <= ntu.XSUB_TRAIN_60
    assert not {e.meta["subject"] for e in te} & ntu.XSUB_TRAIN_60
    assert len(tr) + len(te) == 6
    assert {e.meta["camera"] for e in ds.split("xview", "test")} == {1}
    assert {e.meta["camera"] for e in ds.split("xview", "train")} <= {2, 3}
    for e in ds.examples:
        assert e.label == ntu.CLASSES_60[e.meta["action"] - 1] == ds.classes[e.label_index]
    reading = next(e for e in ds.examples if e.meta["action"] == 11)
    assert reading.label == "reading" and reading.motion.num_frames == 30


def test_ntu120_protocols(ntu_root, cache_dir):
    ds = sd.load("ntu120", ntu_root, cache=cache_dir)
    assert ds.protocols == ["xsub", "xset", "zeroshot_110_10", "zeroshot_96_24"]
    assert len(ds.classes) == 120 and ds.classes[60] == "put on headphone"
    assert len(ds.examples) == 7
    assert {e.meta["setup"] % 2 for e in ds.split("xset", "train")} == {0}
    assert {e.meta["setup"] % 2 for e in ds.split("xset", "test")} == {1}
    assert "S018C001P045R001A061" in {e.id for e in ds.split("xsub", "train")}  # P045 trains


def test_two_body_actions_keep_both_bodies_padded(ntu_root, cache_dir):
    ds = sd.load("ntu60", ntu_root, cache=cache_dir)
    by = {e.meta["action"]: e.motion for e in ds.examples}
    two = by[50]
    assert two.data.shape == (2, 30, 25, 3)
    np.testing.assert_allclose(two.data[0] + np.float32([1, 0, 0]), two.data[1], atol=1e-5)
    one_tracked = by[57]
    assert one_tracked.data.shape == (2, 30, 25, 3)
    assert (one_tracked.confidence[1] == 0).all() and (one_tracked.confidence[0] > 0).all()
    # single-person action: the moving body is kept, the static noise body (first in file) dropped
    single = by[23]
    assert single.data.shape == (30, 25, 3)
    assert single.data.std(axis=0).sum() > 0.1
    forced = sd.load("ntu60", ntu_root, cache=cache_dir, bodies=2)
    assert all(e.motion.data.shape[0] == 2 for e in forced.examples)


def test_zero_shot_lists_and_splits(ntu_root, cache_dir):
    sizes = {k: (v[0], len(v[1])) for k, v in ntu.ZERO_SHOT.items()}
    assert sizes == {
        "zeroshot_55_5": ("ntu60", 5),
        "zeroshot_48_12": ("ntu60", 12),
        "zeroshot_110_10": ("ntu120", 10),
        "zeroshot_96_24": ("ntu120", 24),
    }
    ds = sd.load("ntu60", ntu_root, cache=cache_dir)
    p = ds.protocol("zeroshot_55_5")
    assert p.unseen == (
        "reading",
        "writing",
        "put on a hat/cap",
        "jump up",
        "touch other person's pocket",
    )
    assert "SynSE" in p.source and "PURLS" in p.source
    test_labels = {e.label for e in ds.split("zeroshot_55_5", "test")}
    train_labels = {e.label for e in ds.split("zeroshot_55_5", "train")}
    assert test_labels == {"reading", "touch other person's pocket"}
    assert not test_labels & train_labels
    assert len(ntu.missing_skeletons()) == 535
    assert sum(int(s[1:4]) <= 17 for s in ntu.missing_skeletons()) == 302
    assert len(ntu.XSUB_TRAIN_120) == 53


def test_bad_files_are_reported_and_skipped(tmp_path):
    root = tmp_path / "ntu"
    root.mkdir()
    _write(root, ntu_name(1, 1, 1, 1, 1), _walk())
    (root / f"{ntu_name(1, 1, 1, 1, 2)}.skeleton").write_text("3\n1\n")  # truncated
    (root / "notes.skeleton").write_text("x")
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        ds = sd.load("ntu60", root, cache=tmp_path / "c")
    assert [e.id for e in ds.examples] == ["S001C001P001R001A001"]
    assert any("S001C001P001R001A002" in s and "Truncated" in s for s in ds.skipped)
    assert any("notes.skeleton" in s for s in ds.skipped)


def test_cache_reload_does_not_parse_and_is_keyed_by_files(ntu_root, tmp_path, monkeypatch):
    c = tmp_path / "c"
    first = sd.load("ntu60", ntu_root, cache=c)
    entries = list(c.iterdir())
    assert len(entries) == 1 and not entries[0].name.startswith(".")  # no temporary left
    calls = []
    real = ntu.parse_ntu

    def counting(path, **kw):
        calls.append(path)
        return real(path, **kw)

    monkeypatch.setattr(ntu, "parse_ntu", counting)
    again = sd.load("ntu60", ntu_root, cache=c)
    assert calls == []  # served from the cache
    for a, b in zip(first.examples, again.examples):
        np.testing.assert_array_equal(a.motion.data, b.motion.data)
    # the package version is part of the key
    monkeypatch.setattr(dcache, "__version__", "999")
    sd.load("ntu60", ntu_root, cache=c)
    assert len(calls) == 6
    # a touched file makes a new entry
    monkeypatch.undo()
    f = next(ntu_root.glob("S001C001*.skeleton"))
    st = f.stat()
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    k_before = dcache.cache_key("x", [f])
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert dcache.cache_key("x", [f]) != k_before


def test_uncached_pool_equals_serial(ntu_root):
    serial = sd.load("ntu120", ntu_root, cache=False, workers=1)
    pooled = sd.load("ntu120", ntu_root, cache=False, workers=2)
    assert [e.id for e in serial.examples] == [e.id for e in pooled.examples]
    for a, b in zip(serial.examples, pooled.examples):
        np.testing.assert_array_equal(a.motion.data, b.motion.data)
        assert (a.motion.confidence is None) == (b.motion.confidence is None)


def test_store_spans_shards_and_pickles(ntu_root, tmp_path, monkeypatch):
    import pickle

    monkeypatch.setattr(dcache, "SHARD_BYTES", 20_000)  # a few sequences per shard
    monkeypatch.setattr(dcache, "MAX_OPEN_SHARDS", 1)
    ds = sd.load("ntu60", ntu_root, cache=tmp_path / "c")
    assert len(list((tmp_path / "c").glob("*/shard-*.f32"))) > 2
    ref = sd.load("ntu60", ntu_root, cache=False)
    split = pickle.loads(pickle.dumps(ds.split("xsub", "train")))  # as DataLoader workers get it
    want = {e.id: e for e in ref.examples}
    for e in split:
        np.testing.assert_array_equal(e.motion.data, want[e.id].motion.data)


# --------------------------------------------------------------------------- the NTU writer


@given(
    arrays(
        np.float32,
        st.tuples(st.integers(1, 4), st.just(25), st.just(3)),
        elements=st.floats(-5, 5, width=32),
    ),
    st.booleans(),
)
def test_writer_roundtrip(tmp_path_factory, data, two):
    root = tmp_path_factory.mktemp("w")
    d = np.stack([data, data[::-1] + 1]) if two else data
    m = sf.Motion(d, "ntu25", 30.0)
    path = root / "S001C001P001R001A050.skeleton"
    sf.save(m, path)
    back = sf.load(path)
    np.testing.assert_allclose(back.data, m.data, rtol=1e-6, atol=1e-6)
    assert back.meta["label"] == 50 and back.meta["camera"] == 1


def test_writer_keeps_missing_frames_and_states(tmp_path):
    d = np.stack([_walk(10), _walk(10) + 1])
    conf = np.ones(d.shape[:-1], np.float32)
    conf[1, :4] = 0  # second body enters at frame 5
    conf[0, :, 3] = 0.5  # one inferred joint
    path = tmp_path / "S002C003P004R001A052.skeleton"
    sf.save(sf.Motion(d, "ntu25", 30.0, conf), path)
    back = sf.load(path)
    np.testing.assert_array_equal(back.confidence, conf)
    np.testing.assert_allclose(back.data[1, 4:], d[1, 4:], atol=1e-6)
    assert path.read_text().splitlines()[1] == "1"  # frame 1 lists one body
    with pytest.raises(sf.ShapeError, match="ntu25"):
        sf.save(sf.synth.generate("wave", layout="coco17", seed=0), tmp_path / "x.skeleton")


def test_interrupted_cache_build_leaves_no_entry(ntu_root, tmp_path, monkeypatch):
    real = ntu.parse_ntu
    calls = []

    def dying(path, **kw):
        calls.append(path)
        if len(calls) == 3:
            raise KeyboardInterrupt  # a kill halfway through the first load
        return real(path, **kw)

    monkeypatch.setattr(ntu, "parse_ntu", dying)
    with pytest.raises(KeyboardInterrupt):
        sd.load("ntu60", ntu_root, cache=tmp_path / "c", workers=1)
    assert list((tmp_path / "c").iterdir()) == []  # neither a final entry nor a temporary
    monkeypatch.setattr(ntu, "parse_ntu", real)
    assert len(sd.load("ntu60", ntu_root, cache=tmp_path / "c").examples) == 6


def test_unwritable_cache_falls_back_to_memory(ntu_root, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")  # a file where the cache folder would go
    with pytest.warns(UserWarning, match="not writable"):
        ds = sd.load("ntu60", ntu_root, cache=blocker / "cache")
    assert len(ds.examples) == 6 and ds.info["cache"] is None
