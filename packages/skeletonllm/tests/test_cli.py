"""`skeletonllm` CLI: help/version, single-stage train, predict on files, recipe dispatch, subcommands."""

import json
import subprocess
import sys
import textwrap

import pytest
from skeletonllm import __version__
from skeletonllm.cli import build_parser, main


def test_help_and_version(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and __version__ in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "train" in out and "predict" in out


def test_console_script_help():
    proc = subprocess.run(
        [sys.executable, "-m", "skeletonllm", "--help"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0 and "predict" in proc.stdout


def test_commands_package_subcommands_are_registered():
    import argparse
    import importlib
    import pkgutil

    try:
        pkg = importlib.import_module("skeletonllm.commands")
    except ImportError:
        pytest.skip("no skeletonllm.commands package")
    choices = next(a for a in build_parser()._actions if a.dest == "command").choices
    for info in pkgutil.iter_modules(pkg.__path__):
        mod = importlib.import_module(f"skeletonllm.commands.{info.name}")
        if info.name.startswith("_") or not hasattr(mod, "register"):
            continue
        own = argparse.ArgumentParser().add_subparsers()
        mod.register(own)
        assert own.choices and set(own.choices) <= set(choices), info.name


def test_train_then_predict(tmp_path, capsys):
    import skelformats
    from skelformats import synth

    cfg = tmp_path / "run.yaml"
    cfg.write_text(
        textwrap.dedent("""
        model: {backbone: tiny-qwen2vl, renderer: {frames: 4, size: [56, 56]}}
        data:
          synthetic: {task: recognition, n: 6, actions: [wave, squat], seed: 0}
        train: {out_dir: out, steps: 2, batch_size: 2, save_every: 1, progress: false}
    """)
    )
    assert main(["train", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert "trained 2 steps" in out and "loss curves:" in out
    assert (tmp_path / "out" / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the same folder again without --resume: refused (as recipes do), nothing trained over it
    before = (tmp_path / "out" / "metrics.jsonl").read_text()
    assert main(["train", str(cfg)]) == 1
    err = capsys.readouterr().err
    assert (
        err.startswith("skeletonllm train: error: ") and "--resume" in err and "earlier run" in err
    )
    assert (tmp_path / "out" / "metrics.jsonl").read_text() == before
    # --resume on a finished run is a no-op that still succeeds
    assert main(["train", str(cfg), "--resume"]) == 0
    files = []
    for i, (action, layout) in enumerate([("wave", "ntu25"), ("squat", "coco17")]):
        f = tmp_path / f"m{i}.npz"
        skelformats.save(synth.generate(action, layout=layout, seed=i), f)
        files.append(str(f))
    capsys.readouterr()
    assert (
        main(
            ["predict", "--model", str(tmp_path / "out" / "model"), *files, "--max-new-tokens", "3"]
        )
        == 0
    )
    lines = capsys.readouterr().out.strip().splitlines()
    assert [ln.split("\t")[0] for ln in lines] == files
    # closed set, as `serve` answers with candidates; --json gives every candidate's score
    ckpt = str(tmp_path / "out" / "model")
    assert main(["predict", "--model", ckpt, *files, "--candidates", "wave, squat", "--json"]) == 0
    rows = [json.loads(x) for x in capsys.readouterr().out.strip().splitlines()]
    assert [r["file"] for r in rows] == files
    for r in rows:
        assert set(r["scores"]) == {"wave", "squat"}
        assert r["answer"] == max(r["scores"], key=r["scores"].get)
    bad = tmp_path / "broken.npz"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    assert main(["predict", "--model", ckpt, str(bad)]) == 1  # a failure, not a usage error
    err = capsys.readouterr().err
    assert err.startswith("skeletonllm predict: error: ") and "broken.npz" in err
    assert len(err.strip().splitlines()) == 1


def test_train_dispatches_staged_recipes(tmp_path, monkeypatch):
    import types

    calls = []
    fake = types.ModuleType("skeletonllm.recipe")
    fake.run_recipe = lambda path, resume=False: calls.append((str(path), resume))
    monkeypatch.setitem(sys.modules, "skeletonllm.recipe", fake)
    cfg = tmp_path / "recipe.yaml"
    cfg.write_text("stages: []\n")
    assert main(["train", str(cfg), "--resume"]) == 0
    assert calls == [(str(cfg), True)]


def test_bad_config_is_a_clear_error(tmp_path, capsys):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(
        "model: {backbone: tiny-qwen2vl}\ndata: {synthetic: {n: 2}}\ntrain: {out_dir: o, steps: 1, bogus: 3}\n"
    )
    assert main(["train", str(cfg)]) == 1
    err = capsys.readouterr().err
    assert "bad.yaml" in err and "bogus" in err
    with pytest.raises(SystemExit) as e:  # a usage error, caught before anything is loaded
        main(["train", str(tmp_path / "missing.yaml")])
    assert e.value.code == 2 and "missing.yaml: file not found" in capsys.readouterr().err
