"""`skelformats` as a newcomer meets it: one-line errors with exit 2 (usage) or 1 (failure), examples in
every --help, lengths labelled with their true unit."""

import subprocess
import sys

import numpy as np
import pytest
import skelformats as sf
from skelformats.cli import build_parser, main


def run(*args):
    return subprocess.run(
        [sys.executable, "-m", "skelformats", *args], capture_output=True, text=True, timeout=60
    )


def test_no_command_and_bad_flags_exit_2_with_one_line_first():
    r = run()
    assert r.returncode == 2 and r.stderr.splitlines()[0] == "skelformats: error: choose a command"
    assert "usage:" in r.stderr
    r = run("convert", "missing.npz", "out.npz", "--to", "ntu25")
    assert r.returncode == 2
    assert r.stderr.splitlines()[0].startswith(
        "skelformats convert: error: argument IN: missing.npz"
    )
    assert "Traceback" not in r.stderr


def test_every_command_has_an_example_and_positional_help():
    parser = build_parser()
    sub = next(
        a for a in parser._actions if isinstance(a, type(parser._subparsers._group_actions[0]))
    )
    assert "examples:" in parser.format_help()
    for name, p in sub.choices.items():
        text = p.format_help()
        assert "examples:" in text, name
        for action in p._actions:
            if not action.option_strings:
                assert action.help, f"{name}: positional {action.dest} has no help"


def test_usage_errors_name_the_flag(tmp_path, capsys):
    sf.save(sf.Motion(np.zeros((2, 25, 3)), "ntu25"), tmp_path / "a.npz")
    assert main(["convert", str(tmp_path / "a.npz"), str(tmp_path / "b.npz"), "--to", "nope"]) == 2
    assert "--to 'nope': unknown layout" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["convert", str(tmp_path / "a.npz"), str(tmp_path / "b.npz"), "--to", "coco17",
              "--project", "xx"])  # fmt: skip
    assert e.value.code == 2 and "--project" in capsys.readouterr().err
    assert main(["convert", str(tmp_path / "a.npz"), str(tmp_path / "b.npz"), "--to", "smpl22",
                 "--project", "xy"]) == 2  # fmt: skip
    assert "only for 3D -> 2D" in capsys.readouterr().err


def test_bvh_lengths_are_not_labelled_metres_without_a_unit(cmu_dir, tmp_path, capsys):
    src = cmu_dir / "bvh" / "07_04.bvh"  # a 43-joint CMU conversion, in centimetres
    assert sf.load(src).layout.units is None
    out = tmp_path / "walk.npz"
    assert main(["convert", str(src), str(out), "--to", "smpl22"]) == 2
    err = capsys.readouterr().err
    assert "does not state its length unit" in err and "--units" in err and not out.exists()
    assert main(["convert", str(src), str(out), "--to", "smpl22", "--units", "cm"]) == 0
    assert "units m" in capsys.readouterr().out
    back = sf.load(out)
    height = float(np.ptp(back.data[0][:, 1]))
    assert back.layout.units == "m" and 1.2 < height < 2.0  # metres, not 149 "m"
    assert main(["convert", str(src), str(out), "--to", "smpl22", "--units", "0.01"]) == 0
    assert np.allclose(sf.load(out).data, back.data, atol=1e-5)
