"""`skeletonllm` as a newcomer meets it: a fast --help with examples, one-line errors with exit status 2
(usage) or 1 (failure), lr written as YAML `1e-4`, loss curves of a run."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml
from skeletonllm.cli import build_parser, main


def test_no_command_exits_2_with_usage():
    r = subprocess.run([sys.executable, "-m", "skeletonllm"], capture_output=True, text=True)
    assert r.returncode == 2
    assert r.stderr.splitlines()[0] == "skeletonllm: error: choose a command"
    assert "usage: skeletonllm" in r.stderr


def test_help_imports_no_torch():
    # torch takes seconds to import; the parser (every subcommand's included) must not need it.
    code = (
        "import sys; from skeletonllm.cli import build_parser; p = build_parser(); p.format_help(); "
        "[s.format_help() for s in p._subparsers._group_actions[0].choices.values()]; "
        "print(sorted(m for m in ('torch', 'transformers', 'matplotlib') if m in sys.modules))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def test_every_command_has_an_example_and_positional_help():
    parser = build_parser()
    assert "examples:" in parser.format_help()
    choices = parser._subparsers._group_actions[0].choices
    names = {"train", "predict", "render", "plot", "serve", "distill"}
    assert names <= set(choices)
    for name in sorted(names):
        p = choices[name]
        assert "examples:" in p.format_help(), name
        for action in p._actions:
            if not action.option_strings:
                assert action.help, f"{name}: positional {action.dest} has no help"
        assert "--debug" in p.format_help(), name


@pytest.mark.parametrize(
    ("argv", "first"),
    [
        (["predict", "--model", "nope", "x.npz"], "argument --model: nope: folder not found"),
        (["predict", "--model", ".", __file__, "--batch-size", "0"], "argument --batch-size"),
        (["predict", "--model", ".", __file__, "--candidates", "one"], "argument --candidates"),
        (["plot", "no-such-run"], "argument RUN_DIR: no-such-run: folder not found"),
        (["render", "missing.bvh", "-o", "a.gif"], "argument FILE: missing.bvh: file not found"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(argv, first, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    err = capsys.readouterr().err.splitlines()
    assert e.value.code == 2 and err[0].startswith("skeletonllm ") and first in err[0]


def test_failures_exit_1_without_traceback_and_debug_shows_it(tmp_path, capsys):
    (tmp_path / "config.json").write_text("[]")
    (tmp_path / "w.npz").write_bytes(b"")
    argv = ["predict", "--model", str(tmp_path), str(tmp_path / "w.npz")]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("skeletonllm predict: error: ") and "w.npz" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    with pytest.raises(Exception, match="w.npz"):
        main(["--debug", *argv])
    with pytest.raises(Exception, match="w.npz"):
        main([*argv, "--debug"])


def test_plot_writes_one_panel_per_stage_and_survives_a_torn_line(tmp_path, capsys):
    run = tmp_path / "run"
    for i, name in enumerate(["warmup", "refine"], 1):
        d = run / "stages" / f"{i}-{name}"
        d.mkdir(parents=True)
        rows = [
            {"step": s, "loss": 3.0 / s, "lr": 0.01, "stage": name, "rank_acc": 0.5}
            for s in range(1, 6)
        ]
        text = "".join(json.dumps(r) + "\n" for r in rows)
        (d / "metrics.jsonl").write_text(text + '{"step": 6, "lo')  # killed mid-write
    assert main(["plot", str(run)]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {run / 'loss.png'}"
    from PIL import Image

    with Image.open(run / "loss.png") as im:
        w, h = im.size
    assert w > 1.8 * h  # two panels side by side
    from skeletonllm.lossplot import _series, find_metrics, read_metrics

    files = find_metrics(run)
    assert [f.parent.name for f in files] == ["1-warmup", "2-refine"]
    rows = read_metrics(files[0])
    assert len(rows) == 5 and list(_series(rows)) == ["loss"]  # accuracies are not losses
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["plot", str(empty)]) == 1
    assert "no metrics.jsonl" in capsys.readouterr().err


RECIPE = {
    "seed": 0,
    "model": {"backbone": "tiny-qwen2vl", "renderer": {"frames": 2, "size": [28, 28]}},
    "data": {"source": "synth", "per_class": 1, "actions": ["wave", "squat"]},
    "defaults": {"batch_size": 2},
    "stages": [{"kind": "warmup", "steps": 1}],
}


def test_recipe_reads_lr_written_as_1e_4(tmp_path, capsys):
    # YAML 1.1 (PyYAML) reads `1e-4` (no dot) as the string "1e-4"; the recipe used to pass it on.
    text = yaml.safe_dump({**RECIPE, "output_dir": str(tmp_path / "run")}) + "\n"
    text = text.replace("batch_size: 2", "batch_size: 2\n  lr: 1e-4")
    assert yaml.safe_load(text)["defaults"]["lr"] == "1e-4"
    cfg = tmp_path / "recipe.yaml"
    cfg.write_text(text)
    assert main(["train", str(cfg), "--no-plot"]) == 0
    info = json.loads((tmp_path / "run" / "stages" / "1-warmup" / "done.json").read_text())
    assert info["steps"] == 1
    first = json.loads((tmp_path / "run" / "stages" / "1-warmup" / "metrics.jsonl").read_text())
    assert first["lr"] == pytest.approx(1e-4)
    assert not (tmp_path / "run" / "loss.png").exists()
    # and twice without --resume is refused, as for single-stage configs
    assert main(["train", str(cfg)]) == 1
    assert "--resume" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("lr: 1e-4", "lr: fast").replace("/run", "/run2"))
    assert main(["train", str(bad)]) == 1
    assert "lr must be a number" in capsys.readouterr().err
