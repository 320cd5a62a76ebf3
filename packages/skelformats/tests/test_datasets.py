"""The dataset layer: registry, your own data (folder, manifest, pyskl .pkl through the restricted
unpickler), HumanML3D, the public datasets' protocols on the real data, Hugging Face export, CLI."""

from __future__ import annotations

import json
import pickle
import warnings

import numpy as np
import pytest
import skelformats as sf
import skelformats.datasets as sd
from conftest import require
from skelformats.datasets.pyskl import UnsafePickleError, safe_load_pickle


def _motion(action="wave", layout="ntu25", seed=0):
    return sf.synth.generate(action, layout=layout, seed=seed)


# --------------------------------------------------------------------------- registry


def test_registry_and_unknown_names():
    names = sd.list_datasets()
    for n in ("ntu60", "ntu120", "nwucla", "utkinect", "msr_action3d", "florence3d"):
        assert n in names
    for n in ("penn_action", "cmu_mocap", "humanml3d", "folder", "manifest"):
        assert n in names
    with pytest.raises(sd.DatasetError, match="unknown dataset 'nope'.*ntu60"):
        sd.load("nope", ".")

    def tiny(root, **_):
        ex = [sd.Example("a", _motion(), label="wave", label_index=0)]
        return sd.Dataset("tiny", None, ["wave"], ex, {"p": sd.Protocol("p", {"all": [0]})})

    sd.register_dataset("tiny_test", tiny)
    with pytest.raises(ValueError, match="already registered"):
        sd.register_dataset("tiny_test", tiny)
    ds = sd.load("tiny_test")
    assert ds.split("p", "all")[0].label == "wave"
    with pytest.raises(sd.DatasetError, match="no split 'test'"):
        ds.split("p", "test")
    with pytest.raises(sd.DatasetError, match="no protocol 'xsub'"):
        ds.split("xsub", "train")


# --------------------------------------------------------------------------- folder / manifest


@pytest.fixture
def class_folder(tmp_path):
    root = tmp_path / "mine"
    for c, action in (("waving", "wave"), ("kicking", "kick")):
        for k in range(5):
            (root / c).mkdir(parents=True, exist_ok=True)
            layout = "ntu25" if k % 2 == 0 else "coco17"  # mixed layouts and 2D/3D
            sf.save(_motion(action, layout, k), root / c / f"{action}_{k}.npz")
    (root / "kicking" / "broken.npz").write_bytes(b"not an npz")
    return root


def test_folder_classes_holdout_and_skips(class_folder, tmp_path):
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        ds = sd.load("folder", class_folder, cache=tmp_path / "c")
    assert ds.classes == ["kicking", "waving"]
    assert ds.protocols == ["holdout", "all"]
    assert any("kicking/broken.npz" in s for s in ds.skipped)
    tr, te = ds.split("holdout", "train"), ds.split("holdout", "test")
    assert len(te) == 2 and len(tr) == 8  # every fifth file of each class
    assert {e.label for e in te} == {"kicking", "waving"}
    e = next(x for x in ds.examples if x.id == "waving/wave_1.npz")
    assert e.motion.layout.name == "coco17" and e.motion.dims == 2
    np.testing.assert_allclose(e.motion.data, _motion("wave", "coco17", 1).data)


def test_folder_with_split_folders(tmp_path):
    root = tmp_path / "d"
    for split, n in (("train", 3), ("test", 2)):
        for c in ("a", "b"):
            (root / split / c).mkdir(parents=True)
            for k in range(n):
                sf.save(_motion(seed=k), root / split / c / f"{k}.npz")
    ds = sd.load("folder", root, cache=False)
    assert ds.sizes()["split_folders"] == {"train": 6, "test": 4}
    assert ds.split("split_folders", "test")[0].id.startswith("test/")


def test_manifest_csv_and_jsonl(tmp_path):
    for k in range(4):
        sf.save(_motion("wave" if k < 2 else "kick", seed=k), tmp_path / f"m{k}.npz")
    (tmp_path / "data.csv").write_text(
        "path,label,split,text\n"
        "m0.npz,wave,train,a person waves\n"
        "m1.npz,wave,test,\n"
        "m2.npz,kick,train,a kick\n"
        "m3.npz,kick,test,\n"
    )
    ds = sd.load("manifest", tmp_path / "data.csv", cache=False)
    assert ds.classes == ["kick", "wave"]
    assert ds.sizes()["manifest"] == {"train": 2, "test": 2}
    e = ds.split("manifest", "train")[0]
    assert (e.id, e.label, e.label_index, e.text) == ("m0.npz", "wave", 1, "a person waves")
    lines = [
        {"id": f"x{k}", "path": str(tmp_path / f"m{k}.npz"), "label": "w", "text": "t"}
        for k in range(2)
    ]
    (tmp_path / "m.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    js = sd.load("manifest", tmp_path / "m.jsonl", cache=False)
    assert [e.id for e in js.examples] == ["x0", "x1"] and js.examples[1].texts == ["t"]
    (tmp_path / "bad.csv").write_text("file,label\nm0.npz,wave\n")
    with pytest.raises(sd.DatasetError, match="bad.csv.*'path' column"):
        sd.load("manifest", tmp_path / "bad.csv")
    (tmp_path / "missing.csv").write_text("path,label\nnope.npz,wave\n")
    with pytest.raises(sd.DatasetError, match="do not exist"):
        sd.load("manifest", tmp_path / "missing.csv")


# --------------------------------------------------------------------------- pyskl .pkl


class _Evil:
    def __reduce__(self):
        import os

        return (os.system, ("touch pwned-by-pickle",))


def test_restricted_unpickler_refuses_code(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    bad = tmp_path / "evil.pkl"
    bad.write_bytes(pickle.dumps({"annotations": [_Evil()]}))
    with pytest.raises(
        UnsafePickleError, match=r"evil.pkl.*refused to unpickle (posix|os)\.system"
    ):
        safe_load_pickle(bad)
    with pytest.raises(UnsafePickleError):
        sd.load("pyskl", bad)
    assert not (tmp_path / "pwned-by-pickle").exists()
    # any other class is refused as well, even a harmless one
    (tmp_path / "obj.pkl").write_bytes(pickle.dumps(warnings.WarningMessage))
    with pytest.raises(UnsafePickleError, match="warnings.WarningMessage"):
        safe_load_pickle(tmp_path / "obj.pkl")


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_pyskl_annotations(tmp_path, protocol):
    rng = np.random.default_rng(0)
    anns = []
    for k, (name, lab) in enumerate(
        [("S001C001P001R001A001", 0), ("S001C002P003R001A050", 49), ("S001C003P002R001A011", 10)]
    ):
        M = 2 if lab == 49 else 1
        kp = rng.normal(size=(M, 20 + k, 25, 3)).astype(np.float32)
        anns.append({"frame_dir": name, "label": lab, "keypoint": kp, "total_frames": 20 + k})
    doc = {
        "split": {"xsub_train": [anns[0]["frame_dir"]], "xsub_val": [anns[1]["frame_dir"]]},
        "annotations": anns,
    }
    path = tmp_path / "ntu.pkl"
    path.write_bytes(pickle.dumps(doc, protocol=protocol))
    ds = sd.load("pyskl", path)
    assert ds.protocols == ["xsub", "all"]
    assert ds.sizes()["xsub"] == {"train": 1, "val": 1}
    two = ds.split("xsub", "val")[0]
    assert two.label == "punching/slapping other person" and two.motion.data.shape == (2, 21, 25, 3)
    np.testing.assert_array_equal(ds.examples[2].motion.data, anns[2]["keypoint"][0])


# --------------------------------------------------------------------------- HumanML3D


def test_humanml3d_folder(tmp_path):
    root = tmp_path / "HumanML3D"
    (root / "new_joints").mkdir(parents=True)
    (root / "texts").mkdir()
    rng = np.random.default_rng(0)
    for i in ("000001", "000002", "000003", "M000001"):
        np.save(root / "new_joints" / f"{i}.npy", rng.normal(size=(40, 22, 3)).astype(np.float32))
        (root / "texts" / f"{i}.txt").write_text(
            f"a person walks forward {i}#a/DET person/NOUN#0.0#0.0\n"
            "then turns around#then/ADV turn/VERB#1.0#2.5\n"
        )
    (root / "train.txt").write_text("000001\nM000001\n")
    (root / "val.txt").write_text("000002\n")
    (root / "test.txt").write_text("000003\n000404\n")  # 000404 has no joints file
    ds = sd.load("humanml3d", tmp_path, cache=tmp_path / "c")
    assert ds.sizes() == {"official": {"train": 2, "val": 1, "test": 1}}
    assert any("000404" in s for s in ds.skipped)
    e = ds.split("official", "test")[0]
    assert e.id == "000003" and e.text == "a person walks forward 000003"
    assert e.texts[1] == "then turns around"
    assert e.meta["text_segments"] == [("then turns around", 1.0, 2.5)]
    assert e.motion.layout.name == "smpl22" and e.motion.fps == 20
    np.testing.assert_array_equal(e.motion.data, np.load(root / "new_joints" / "000003.npy"))


# --------------------------------------------------------------------------- public datasets


def test_public_protocols_on_real_data():
    d = require("NW-UCLA").parent
    ds = sd.load("nwucla", d)
    assert ds.protocols == ["xview"] and len(ds.classes) == 10
    assert ds.sizes()["xview"] == {"train": 1020, "test": 464}
    assert {e.meta["view"] for e in ds.split("xview", "test")} == {3}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        msr = sd.load("msr_action3d", require("MSRAction3D"))  # the dataset's own folder too
    assert msr.sizes()["xsub"] == {"train": 291, "test": 275}
    assert any("a13_s09_e02" in s for s in msr.skipped)


# --------------------------------------------------------------------------- HF export, CLI


def test_to_hf_dataset(tmp_path):
    pytest.importorskip("datasets")
    for c in ("a", "b"):
        (tmp_path / c).mkdir()
        for k, layout in enumerate(("ntu25", "smpl22", "ntu25")):
            sf.save(_motion(seed=k, layout=layout), tmp_path / c / f"{k}.npz")
    ds = sd.load("folder", tmp_path, cache=False)
    with pytest.raises(sd.DatasetError, match="layout="):
        ds.to_hf_dataset("all", "all")  # ntu25 and smpl22 mixed
    h = ds.to_hf_dataset("all", "all", layout="ntu25")
    split = ds.split("all", "all")
    assert len(h) == len(split) == 6 and h.features["label"].names == ds.classes
    for i in (0, 1):
        row = h[i]
        m = sf.convert(split[i].motion, "ntu25")
        np.testing.assert_allclose(np.asarray(row["motion"]).reshape(m.data.shape), m.data)
        np.testing.assert_allclose(
            np.asarray(row["confidence"]).reshape(m.data.shape[:-1]), m.confidence_or_ones()
        )
        assert row["label"] == split[i].label_index and row["id"] == split[i].id


def test_cli_dataset_info(class_folder, capsys):
    from skelformats.cli import main

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rc = main(["dataset", "info", str(class_folder), "--name", "folder", "--no-cache"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "holdout" in out and "train 8, test 2" in out and "skipped: 1;" in out
    assert main(["dataset", "info", str(class_folder), "--name", "nope"]) == 1


def test_entry_point_group_registers_datasets(monkeypatch):
    import importlib.metadata

    from skelformats import datasets as mod

    class EP:
        name = "plugin_ds"

        def load(self):
            return lambda root, **_: sd.Dataset("plugin_ds", None, [], [], {})

    def fake(group=None, **_):
        return [EP()] if group == "skelformats.datasets" else []

    monkeypatch.setattr(importlib.metadata, "entry_points", fake)
    monkeypatch.setattr(mod, "_eps_loaded", False)
    assert "plugin_ds" in sd.list_datasets()
    assert sd.load("plugin_ds").name == "plugin_ds"


def test_datasets_attribute_is_lazy():
    """``import skelformats`` leaves the dataset layer unimported; ``skelformats.datasets`` loads it."""
    import subprocess
    import sys

    code = (
        "import sys, skelformats\n"
        "assert 'skelformats.datasets' not in sys.modules, 'imported eagerly'\n"
        "ds = skelformats.datasets\n"
        "assert 'skelformats.datasets' in sys.modules and ds.load is not None\n"
        "assert 'folder' in ds.list_datasets()\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
