"""Tasks built on ``skelformats.datasets``: NTU RGB+D protocols and zero-shot splits, HumanML3D
captioning, a user's folder, and task YAML files loaded with ``--include-path``; on small folders
written here (NTU files with the NTU writer)."""

import json

import numpy as np
import pytest
import skelformats as sf
import torch
from skelbench.cli import main
from skelbench.datasets import load_split
from skelbench.report import validate
from skelbench.tasks import get_task, include_path, list_tasks
from skelformats.datasets.ntu import CLASSES_60, ntu_name

ACTIONS = {1: "wave", 11: "clap", 27: "jump", 50: "punch"}  # NTU action -> synth motion


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("data")
    ntu = d / "nturgb+d_skeletons"
    ntu.mkdir()
    k = 0
    for a, act in ACTIONS.items():
        for subject in (1, 2, 3, 4):  # P001, P002, P004 train (xsub), P003 tests
            m = sf.synth.generate(act, layout="ntu25", seed=k)
            data = m.data
            if a == 50:
                data = np.stack([data, data + np.float32([1, 0, 0])])
            sf.save(
                sf.Motion(data, "ntu25"), ntu / f"{ntu_name(1, 1 + k % 3, subject, 1, a)}.skeleton"
            )
            k += 1
    h = d / "HumanML3D"
    (h / "new_joints").mkdir(parents=True)
    (h / "texts").mkdir()
    for i in range(4):
        m = sf.synth.generate("walk", layout="smpl22", seed=i)
        np.save(h / "new_joints" / f"00000{i}.npy", m.data)
        (h / "texts" / f"00000{i}.txt").write_text(f"a person walks {i}#a/DET#0.0#0.0\n")
    (h / "train.txt").write_text("000000\n000001\n")
    (h / "val.txt").write_text("000002\n")
    (h / "test.txt").write_text("000003\n")
    return d


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory):
    from skeletonllm import RendererSettings, SkeletonLLM, SkeletonLLMConfig

    torch.manual_seed(0)
    cfg = SkeletonLLMConfig(
        backbone="tiny-qwen2vl",
        renderer=RendererSettings(frames=4, size=(28, 28)),
        max_new_tokens=6,
    )
    path = tmp_path_factory.mktemp("tiny") / "ckpt"
    SkeletonLLM(cfg).save_pretrained(path)
    return path


def test_splits_from_the_dataset_layer(data_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("SKELFORMATS_CACHE_DIR", str(tmp_path / "cache"))
    tr, te = load_split("ntu60:xsub", "train", data_dir), load_split("ntu60:xsub", "test", data_dir)
    assert len(tr) == 12 and len(te) == 4 and {s.subject for s in te.samples} == {3}
    assert tr.classes == list(CLASSES_60)
    punch = next(s for s in te.samples if tr.classes[s.label].startswith("punching"))
    assert punch.motion.data.shape[0] == 2  # both bodies of a mutual action
    zs = load_split("ntu60:zeroshot_55_5", "test", data_dir)
    assert {zs.classes[s.label] for s in zs.samples} == {"reading", "jump up"}
    cap = load_split("humanml3d", "test", data_dir)
    assert [s.captions for s in cap.samples] == [["a person walks 3"]]
    # a user's class folders
    root = tmp_path / "mine"
    for c in ("a", "b"):
        (root / c).mkdir(parents=True)
        for i in range(5):
            sf.save(sf.synth.generate("wave", layout="ntu25", seed=i), root / c / f"{i}.npz")
    ftr, fte = load_split("folder", "train", root), load_split("folder", "test", root)
    assert (len(ftr), len(fte), ftr.classes) == (8, 2, ["a", "b"])


def test_task_specs():
    for name in ("ntu60/xsub", "ntu60/zeroshot_55_5", "ntu60/zeroshot_48_12", "ntu120/xsub"):
        assert get_task(name).options["on_request"]
    for name in ("ntu120/xset", "ntu120/zeroshot_110_10", "ntu120/zeroshot_96_24"):
        get_task(name)
    zs = get_task("ntu60/zeroshot_48_12")
    assert zs.mode == "zero_shot" and len(zs.options["unseen"]) == 12
    assert set(zs.options["unseen"]) <= set(CLASSES_60)
    xf = get_task("ntu60_to_nwucla/cross_format")
    for _shared, per in xf.options["class_map"]:
        assert set(per["ntu60:xsub"]) <= set(CLASSES_60)
    names = {t.name for t in list_tasks("all")}
    assert "ntu60/xsub" not in names and "folder/recognition" not in names
    assert "ntu60/xsub" in {t.name for t in list_tasks("all", on_request=True)}


def test_include_path_errors(tmp_path):
    with pytest.raises(ValueError, match="no .yaml"):
        include_path(tmp_path)
    (tmp_path / "t.yaml").write_text("name: x/y\nkind: nope\nsuite: real\ndataset: ntu60\n")
    with pytest.raises(ValueError, match="kind must be one of"):
        include_path(tmp_path)


def test_cli_runs_dataset_tasks_and_yaml_tasks(data_dir, tiny_ckpt, tmp_path, monkeypatch):
    monkeypatch.setenv("SKELFORMATS_CACHE_DIR", str(tmp_path / "cache"))
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    (tasks / "mine.yaml").write_text(
        "- name: mine/ntu60_xview\n"
        "  kind: recognition\n"
        "  suite: real\n"
        "  dataset: ntu60:xview\n"
        "  baseline: false\n"
        "  options: {on_request: true}\n"
    )
    out = tmp_path / "out"
    names = "ntu60/xsub,ntu60/zeroshot_55_5,humanml3d/captioning,mine/ntu60_xview"
    rc = main(
        ["run", "--model", str(tiny_ckpt), "--tasks", names, "--include-path", str(tasks)]
        + ["--data-dir", str(data_dir), "--out", str(out), "--limit", "4"]
        + ["--baseline-budget", "0.3", "--quiet", "--no-robustness", "--no-plots"]
    )
    doc = json.loads((out / "results.json").read_text())
    validate(doc)
    by = {t["task"]: t for t in doc["tasks"]}
    assert rc == 0, {k: v.get("error") for k, v in by.items()}
    assert set(by) == set(names.split(","))
    assert len(by["ntu60/xsub"]["classes"]) == 60 and by["ntu60/xsub"]["num_samples"] == 4
    assert by["ntu60/zeroshot_55_5"]["classes"] == list(
        get_task("ntu60/zeroshot_55_5").options["unseen"]
    )
    assert by["humanml3d/captioning"]["num_samples"] == 1
    assert by["mine/ntu60_xview"]["num_samples"] == 4


def test_list_marks_on_request_tasks_with_their_data(tmp_path, capsys):
    """``skelbench list`` shows the tasks left out of suite runs, each with the data it needs,
    and the tasks of ``--include-path`` YAML files."""
    (tmp_path / "t.yaml").write_text(
        "- name: listed/ntu120_xset\n  kind: recognition\n  suite: real\n"
        "  dataset: ntu120:xset\n  options: {on_request: true}\n"
    )
    assert main(["list", "--include-path", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    head, extra = out.split("on request", 1)
    rows = {ln.split()[0]: ln for ln in extra.splitlines()[1:] if ln.startswith("  ")}
    assert "ntu60/xsub" not in head and "folder/recognition" not in head
    for name in (
        "ntu60/xsub",
        "ntu60/zeroshot_55_5",
        "ntu120/zeroshot_96_24",
        "humanml3d/captioning",
    ):
        assert f"needs {name.split('/')[0]} under --data-dir" in rows[name]
    assert "needs ntu60 + nwucla" in rows["ntu60_to_nwucla/cross_format"]
    assert "your folder" in rows["folder/recognition"]
    assert "needs ntu120 under --data-dir" in rows["listed/ntu120_xset"]
    assert main(["list", "--include-path", str(tmp_path / "absent")]) == 2
    assert "--include-path" in capsys.readouterr().err
