import json
import subprocess
import sys

import pytest
from skelbench import __version__
from skelbench.cli import main


def test_version_and_help():
    out = subprocess.run(
        [sys.executable, "-m", "skelbench", "--version"], capture_output=True, text=True
    )
    assert out.returncode == 0 and out.stdout.strip() == f"skelbench {__version__}"
    out = subprocess.run(
        [sys.executable, "-m", "skelbench", "run", "--help"], capture_output=True, text=True
    )
    assert out.returncode == 0
    for flag in ("--model", "--suite", "--data-dir", "--tasks", "--out", "--limit"):
        assert flag in out.stdout


def test_list(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "suite synth:" in out and "suite real:" in out
    assert "utkinect_to_nwucla/cross_format" in out and "cross-view" in out


def test_bad_task_kind_is_a_clear_error(tmp_path, capsys):
    assert main(["run", "--model", str(tmp_path), "--tasks", "dancing"]) == 2
    assert "unknown task kind" in capsys.readouterr().err


def test_missing_checkpoint_is_a_clear_error(tmp_path, capsys):
    argv = ["run", "--model", str(tmp_path / "nope"), "--out", str(tmp_path / "o"), "--quiet"]
    assert main(argv) == 2
    assert "checkpoint directory not found" in capsys.readouterr().err


def test_train_baseline_writes_a_loadable_model(tmp_path, capsys, monkeypatch):
    import re

    import numpy as np
    import torch
    from skelbench.baseline import BaselineGCN
    from skelbench.datasets import load_split

    trained, save = [], BaselineGCN.save
    monkeypatch.setattr(BaselineGCN, "save", lambda self, p: trained.append(self) or save(self, p))
    assert (
        main(
            [
                "train-baseline",
                "--dataset",
                "synth",
                "--budget",
                "0.2",
                "--out",
                str(tmp_path / "b"),
            ]
        )
        == 0
    )
    printed = float(re.search(r"test top-1 ([\d.]+)%", capsys.readouterr().out).group(1))
    doc = json.loads((tmp_path / "b" / "baseline.json").read_text())
    assert doc["config"]["layout"] == "ntu25" and len(doc["config"]["classes"]) == 15
    # The file holds the trained network: it scores the test split exactly as the model in memory did.
    loaded = BaselineGCN.load(tmp_path / "b")
    test = load_split("synth", "test")
    motions = [s.motion for s in test.samples]
    assert torch.equal(loaded.logits(motions), trained[0].logits(motions))
    acc = np.mean(loaded.logits(motions).argmax(-1).numpy() == [s.label for s in test.samples])
    assert 100 * acc == pytest.approx(printed, abs=0.05)
