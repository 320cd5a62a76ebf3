"""`skelbench` arguments checked before anything heavy loads: one-line errors, exit 2 for usage, 1 for a
model that does not load; readable `list`; progress labels shown as written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from skelbench.cli import _Progress, main


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    from skeletonllm import SkeletonLLM, SkeletonLLMConfig

    cfg = SkeletonLLMConfig.from_dict(
        {"backbone": "tiny-qwen2vl", "renderer": {"frames": 2, "size": [28, 28]}}
    )
    path = tmp_path_factory.mktemp("ckpt") / "model"
    SkeletonLLM(cfg).save_pretrained(path)
    return path


def test_missing_model_is_one_line_exit_2():
    r = subprocess.run(
        [sys.executable, "-m", "skelbench", "run", "--model", "nope"],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.splitlines()[0] == (
        "skelbench run: error: --model nope: checkpoint directory not found"
    )


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("--limit", "0"),
        ("--limit", "-1"),
        ("--batch-size", "0"),
        ("--threads", "0"),
        ("--baseline-budget", "nan"),
        ("--baseline-budget", "inf"),
        ("--baseline-budget", "-5"),
        ("--synth-test-per-class", "0"),
    ],
)
def test_out_of_range_numbers_are_usage_errors(flag, value, tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["run", "--model", str(tmp_path), flag, value])
    err = capsys.readouterr().err.splitlines()
    assert e.value.code == 2 and err[0].startswith(f"skelbench run: error: argument {flag}")


def test_bad_requests_are_refused_before_the_model_loads(tmp_path, monkeypatch, capsys):
    # tmp_path is no checkpoint at all: loading it would fail with exit 1, so exit 2 proves the
    # argument was checked first.
    model = str(tmp_path)
    cases = [
        (["--tasks", "synth/recognition,synth/nope"], "unknown task 'synth/nope'"),
        (["--tasks", "dancing"], "unknown task kind"),
        (["--suite", "real"], "--suite real needs --data-dir"),
        (["--suite", "all"], "--suite all needs --data-dir"),
        (["--tasks", "utkinect/recognition"], "needs --data-dir"),
        (["--suite", "real", "--data-dir", str(tmp_path / "none")], "folder not found"),
    ]
    monkeypatch.delenv("SKEL_DATA_DIR", raising=False)
    for extra, msg in cases:
        assert main(["run", "--model", model, "--quiet", *extra]) == 2, extra
        err = capsys.readouterr().err.splitlines()
        assert err[0].startswith("skelbench run: error: ") and msg in err[0], (extra, err)
    (tmp_path / "file").write_text("x")
    for out, msg in [(tmp_path / "file", "is a file"), (tmp_path / "file" / "sub", "is a file")]:
        assert main(["run", "--model", model, "-o", str(out)]) == 2
        assert msg in capsys.readouterr().err.splitlines()[0]


def test_unwritable_out_is_a_usage_error(tmp_path, capsys, monkeypatch):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    if os.geteuid() == 0:  # root passes permission bits: deny the folder as a read-only mount would
        real_access = os.access
        monkeypatch.setattr(
            os, "access", lambda p, mode, **kw: Path(p) != locked and real_access(p, mode, **kw)
        )
    assert main(["run", "--model", str(tmp_path), "-o", str(locked / "out")]) == 2
    assert "not writable" in capsys.readouterr().err


def test_model_loading_errors_are_one_line_exit_1(checkpoint, tmp_path, capsys):
    import shutil

    def broken(name, text):
        d = tmp_path / name
        shutil.copytree(checkpoint, d)
        target = {"adapter": d / "adapter" / "adapter_config.json"}.get(
            name, d / "preprocessor_config.json"
        )
        target.write_text(text)
        return d

    cases = [
        (tmp_path, "config.json"),  # an empty folder
        (broken("adapter", '{"peft_type": 7, "junk": true}'), "adapter_config.json"),
        (broken("proc", "[]"), "preprocessor_config.json: expected a JSON object"),
    ]
    for model, msg in cases:
        argv = ["run", "--model", str(model), "--quiet", "-o", str(tmp_path / "o")]
        assert main(argv) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("skelbench run: error: ") and msg in err[0]
    assert not (tmp_path / "o" / "results.json").exists()


def test_list_has_no_placeholders(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "{" not in out and "}" not in out
    assert "florence3d" in out and "train subjects 3,4,5,6,10" in out


def test_progress_labels_are_shown_as_written():
    from rich.text import Text

    labels = [f"synth/recognition [{v}]" for v in ("drop10", "drop30", "noise")]
    with _Progress(enabled=True) as prog:
        for lab in labels:
            prog(lab, 1, 2)
        shown = [Text.from_markup(t.description).plain for t in prog.bar.tasks]
    assert shown == labels  # rich read "[drop10]" as markup and showed three identical bars


def test_a_bar_while_datasets_load():
    from skelbench.api import Context

    seen = []
    ctx = Context(synth_test_per_class=1, progress=lambda *a: seen.append(a))
    split = ctx.split("synth", "test")
    assert len(split.samples) > 0
    assert seen[0] == ("loading synth test per_class=1", 0, 1)
    assert seen[-1] == ("loading synth test per_class=1", 1, 1)
    ctx.split("synth", "test")  # read once: no second bar
    assert len(seen) == 2


def test_every_command_has_an_example(capsys):
    for cmd in ("run", "list", "train-baseline"):
        with pytest.raises(SystemExit):
            main([cmd, "--help"])
        assert "examples:" in capsys.readouterr().out, cmd
    assert main([]) == 2
    assert capsys.readouterr().err.splitlines()[0] == "skelbench: error: choose a command"


def test_doc_of_a_good_run_is_unchanged(checkpoint, tmp_path, capsys):
    argv = ["run", "--model", str(checkpoint), "--tasks", "synth/recognition", "--limit", "3"]
    argv += ["--no-baseline", "--no-robustness", "--no-plots", "--quiet", "-o", str(tmp_path)]
    argv += ["--synth-test-per-class", "1", "--synth-train-per-class", "1"]
    assert main(argv) == 0
    doc = json.loads((tmp_path / "results.json").read_text())
    assert [t["task"] for t in doc["tasks"]] == ["synth/recognition"]
    assert doc["tasks"][0]["num_samples"] == 3 and doc["model"]["path"] == str(checkpoint)


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


@pytest.mark.skipif(_cuda_available(), reason="needs a machine without CUDA")
def test_absent_cuda_is_refused_before_the_model_loads(checkpoint, tmp_path, capsys, monkeypatch):
    from skeletonllm import SkeletonLLM

    def boom(*a, **k):
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(SkeletonLLM, "from_pretrained", boom)
    out = tmp_path / "bench"
    argv = ["run", "--model", str(checkpoint), "--tasks", "recognition", "-o", str(out)]
    assert main([*argv, "--device", "cuda"]) == 2
    assert "--device cuda: CUDA is not available" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("mask", [0o022, 0o077])
def test_report_files_follow_the_umask(tmp_path, mask):
    from skelbench.report import _atomic_write

    old = os.umask(mask)
    try:
        _atomic_write(tmp_path / "report.md", "# r")
    finally:
        os.umask(old)
    assert (tmp_path / "report.md").stat().st_mode & 0o777 == 0o666 & ~mask
    assert [p.name for p in tmp_path.iterdir()] == ["report.md"]  # no temp file left
