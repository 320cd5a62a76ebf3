"""Honest zero-shot: a row whose candidate classes the model was trained on is never reported as
zero-shot; results.json carries ``zero_shot_valid`` and the overlapping classes."""

import json
from types import SimpleNamespace

import pytest
import torch
from skelbench.api import zero_shot_check
from skelbench.cli import main
from skelbench.report import validate


def test_zero_shot_check_reports_the_overlap():
    def model(labels):
        return SimpleNamespace(config=SimpleNamespace(trained_labels=labels))

    assert zero_shot_check(model(("bow", "wave")), ["bow", "kick", "turn"]) == {
        "zero_shot_valid": False,
        "zero_shot_overlap": ["bow"],
    }
    # names compare as phrases: "sit_down" and "Sit down" are the same class
    assert zero_shot_check(model(("sit down",)), ["Sit_Down"])["zero_shot_valid"] is False
    assert zero_shot_check(model(("wave",)), ["bow", "kick"]) == {
        "zero_shot_valid": True,
        "zero_shot_overlap": [],
    }
    assert zero_shot_check(model(()), ["bow"])["zero_shot_valid"] is None
    # a closed-set GCN knows its classes from its config
    gcn = SimpleNamespace(config=SimpleNamespace(classes=["kick"]))
    assert zero_shot_check(gcn, ["bow", "kick"])["zero_shot_overlap"] == ["kick"]


@pytest.mark.parametrize("trained", [("bow", "walk", "wave"), ("walk", "wave")])
def test_zero_shot_row_is_flagged_when_candidates_were_trained(tmp_path, trained):
    from skeletonllm import RendererSettings, SkeletonLLM, SkeletonLLMConfig

    torch.manual_seed(0)
    cfg = SkeletonLLMConfig(
        backbone="tiny-qwen2vl",
        renderer=RendererSettings(frames=2, size=(28, 28)),
        trained_labels=trained,
    )
    SkeletonLLM(cfg).save_pretrained(tmp_path / "ckpt")
    out = tmp_path / "bench"
    argv = ["run", "--model", str(tmp_path / "ckpt"), "--out", str(out), "--limit", "3"]
    argv += ["--tasks", "synth/recognition_zero_shot", "--no-baseline", "--no-plots", "--quiet"]
    assert main(argv) == 0
    doc = json.loads((out / "results.json").read_text())
    validate(doc)
    (task,) = doc["tasks"]
    report = (out / "report.md").read_text()
    if "bow" in trained:  # bow is one of the held-out candidates (bow, kick, turn)
        assert task["zero_shot_valid"] is False and task["zero_shot_overlap"] == ["bow"]
        assert (
            "NOT zero-shot: the model was trained on 1 of the 3 candidate classes (bow)" in report
        )
    else:
        assert task["zero_shot_valid"] is True and task["zero_shot_overlap"] == []
        assert "NOT zero-shot" not in report
    bad = dict(task, zero_shot_overlap=[], zero_shot_valid=False)
    with pytest.raises(Exception, match="zero_shot_overlap|minItems|too short|should be non-empty"):
        validate(dict(doc, tasks=[bad]))
