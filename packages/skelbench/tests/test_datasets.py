"""Each loader returns exactly the sequences and classes the data directory holds (counted here
independently from the raw files), and splits are disjoint by subject / view / trial."""

import re
import warnings

import numpy as np
import scipy.io
from skelbench.datasets import load_split


def both(name, d, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_split(name, "train", d, **kw), load_split(name, "test", d, **kw)


def test_msr_action3d(real_data):
    root = real_data / "MSRAction3D" / "real_world_xyz"
    files = sorted(root.glob("a*_s*_e*_skeleton3D.txt"))
    empty = [f for f in files if not np.any(np.loadtxt(f))]
    tr, te = both("msr_action3d", real_data)
    assert len(files) == 567 and [f.name[:11] for f in empty] == ["a13_s09_e02"]
    assert len(tr) + len(te) == len(files) - len(empty)
    assert any("a13_s09_e02" in s for s in tr.skipped)
    assert len(tr.classes) == 20 and tr.classes[0] == "high arm wave"
    assert {s.subject for s in tr.samples} == {1, 3, 5, 7, 9}
    assert {s.subject for s in te.samples} == {2, 4, 6, 8, 10}
    # labels agree with the file names
    for s in tr.samples[::25] + te.samples[::25]:
        assert s.label == int(s.id[1:3]) - 1


def test_utkinect(real_data):
    text = (real_data / "UTKinect" / "actionLabel.txt").read_text()
    segs = re.findall(r"^\s*(\w+):\s*(\S+)\s+(\S+)", text, flags=re.M)
    valid = [s for s in segs if "nan" not in (s[1].lower(), s[2].lower())]
    tr, te = both("utkinect", real_data)
    assert len(segs) == 200 and len(valid) == 199
    assert len(tr) + len(te) == 199
    assert len(tr.classes) == 10 and len({s.label for s in tr.samples + te.samples}) == 10
    assert {s.subject for s in tr.samples} == set(range(1, 6))
    assert {s.subject for s in te.samples} == set(range(6, 11))
    # a segment spans its labelled frame ids: walk of s01_e01 is frames 252..390
    walk = next(s for s in tr.samples if s.id == "s01_e01_walk")
    assert 0 < walk.motion.num_frames <= 390 - 252 + 1


def test_florence3d(real_data):
    raw = scipy.io.loadmat(real_data / "Florence3D" / "skeletal_data.mat", squeeze_me=True)[
        "skeletal_data"
    ]
    tr, te = both("florence3d", real_data)
    assert len(tr) + len(te) == len(raw) == 215
    assert len(tr.classes) == 9 == len({int(r["action"]) for r in raw})
    st, se = {s.subject for s in tr.samples}, {s.subject for s in te.samples}
    assert st == {3, 4, 5, 6, 10} and se == {1, 2, 7, 8, 9}
    counts = np.bincount([s.label for s in tr.samples + te.samples], minlength=9)
    assert counts.tolist() == np.bincount([int(r["action"]) - 1 for r in raw], minlength=9).tolist()


def test_nwucla(real_data):
    files = sorted((real_data / "NW-UCLA" / "all_sqe").glob("*.json"))
    tr, te = both("nwucla", real_data)
    assert len(files) == 1484
    assert len(tr) + len(te) == len(files)
    assert len(tr.classes) == 10
    assert {s.view for s in tr.samples} == {1, 2} and {s.view for s in te.samples} == {3}
    assert len(te) == sum(f.stem.endswith("_v03") for f in files)


def test_penn_action(real_data):
    files = sorted((real_data / "PennAction" / "labels").glob("*.mat"))
    flags, actions, invisible = {}, set(), []
    for f in files:
        d = scipy.io.loadmat(f, squeeze_me=True, variable_names=["train", "action", "visibility"])
        if not np.any(d["visibility"]):
            invisible.append(f.stem)  # no joint visible in any frame: nothing to evaluate on
            continue
        flags[f.stem] = int(d["train"])
        actions.add(str(d["action"]))
    tr, te = both("penn_action", real_data)
    assert len(files) == 2326
    assert len(tr) + len(te) == 2326 - len(invisible) and len(tr.classes) == len(actions) == 15
    assert sorted(s.split(".")[0] for s in tr.skipped) == invisible
    assert {s.id for s in tr.samples} == {k for k, v in flags.items() if v == 1}
    assert {s.id for s in te.samples} == {k for k, v in flags.items() if v == -1}
    assert all(s.motion.dims == 2 for s in te.samples[:20])


def test_cmu_mocap(real_data):
    rows = (
        (real_data / "CMU_mocap" / "files_with_descriptions.tsv")
        .read_text()
        .strip()
        .splitlines()[1:]
    )
    tr, te = both("cmu_mocap", real_data)
    assert len(tr) + len(te) == len(rows) == 75
    assert {s.id for s in tr.samples}.isdisjoint({s.id for s in te.samples})
    assert all(s.captions and s.captions[0] for s in te.samples)
    ids = sorted({r.split("\t")[1] for r in rows})
    assert {s.id for s in te.samples} == {t for i, t in enumerate(ids) if i % 3 == 2}
