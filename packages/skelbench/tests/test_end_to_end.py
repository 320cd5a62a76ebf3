"""A tiny SkeletonLLM checkpoint (built from a config, random weights) runs through every task of
both suites end to end, through the CLI, and the run validates against the results schema."""

import json

import pytest
import torch
from skelbench.cli import main
from skelbench.report import validate
from skelbench.tasks import list_tasks


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory):
    from skeletonllm import RendererSettings, SkeletonLLM, SkeletonLLMConfig

    torch.manual_seed(0)
    cfg = SkeletonLLMConfig(
        backbone="tiny-qwen2vl",
        renderer=RendererSettings(frames=4, size=(28, 28)),
        max_new_tokens=8,
    )
    path = tmp_path_factory.mktemp("tiny") / "ckpt"
    SkeletonLLM(cfg).save_pretrained(path)
    return path


def _check(out, suite):
    doc = json.loads((out / "results.json").read_text())
    validate(doc)
    tasks = {t["task"]: t for t in doc["tasks"]}
    assert set(tasks) == {t.name for t in list_tasks(suite)}
    bad = {k: v.get("error") for k, v in tasks.items() if v["status"] != "ok"}
    assert not bad, bad
    for t in tasks.values():
        assert t["num_samples"] > 0
        if t["kind"] in ("recognition", "cross_format"):
            cm = t["model"]["confusion_matrix"]
            assert len(cm) == len(t["classes"])
            if t["mode"] != "generation":
                assert sum(map(sum, cm)) == t["num_samples"]
            if t["mode"] == "closed_set":  # every closed-set figure has the GCN beside it
                train = t["baseline"]["train"]
                budgets = (
                    [train["source"], train["target"]] if t["kind"] == "cross_format" else [train]
                )
                assert [b["budget_s"] for b in budgets] == [0.5] * len(budgets)
        if t["kind"] == "reasoning":
            assert t["num_questions"] > 0 and t["model"]["per_family"]
        if t["kind"] == "captioning":
            assert 0 <= t["model"]["embedding_similarity"] <= 1
    report = (out / "report.md").read_text()
    assert all(name in report for name in tasks)
    assert list((out / "plots").glob("*_confusion_model.png"))
    assert list((out / "plots").glob("*_examples.png"))
    return doc


def test_synth_suite_every_task(tiny_ckpt, tmp_path, capsys):
    out = tmp_path / "synth"
    rc = main(
        [
            "run",
            "--model",
            str(tiny_ckpt),
            "--suite",
            "synth",
            "--out",
            str(out),
            "--limit",
            "4",
            "--synth-train-per-class",
            "2",
            "--baseline-budget",
            "0.5",
            "--quiet",
        ]
    )
    assert rc == 0
    doc = _check(out, "synth")
    assert "synth/recognition" in capsys.readouterr().out  # the printed table
    assert doc["model"]["config"]["backbone"] == "tiny-qwen2vl"
    zs = next(t for t in doc["tasks"] if t["mode"] == "zero_shot")
    assert zs["classes"] == ["bow", "kick", "turn"]
    xf = next(t for t in doc["tasks"] if t["task"] == "synth/cross_format_ntu25_to_coco17")
    assert xf["target"] == "synth:coco17" and xf["baseline"]["train"]["dims"] == 2


def test_real_suite_every_task(tiny_ckpt, tmp_path, real_data):
    out = tmp_path / "real"
    rc = main(
        [
            "run",
            "--model",
            str(tiny_ckpt),
            "--suite",
            "real",
            "--data-dir",
            str(real_data),
            "--out",
            str(out),
            "--limit",
            "2",
            "--baseline-budget",
            "0.5",
            "--quiet",
            "--no-robustness",
        ]
    )
    assert rc == 0
    doc = _check(out, "real")
    nw = next(t for t in doc["tasks"] if t["task"] == "nwucla/recognition")
    assert nw["sota"]["source"].startswith("Chen et al.")
