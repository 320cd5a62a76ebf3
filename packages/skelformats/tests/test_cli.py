import subprocess
import sys

import numpy as np
import skelformats as sf
from skelformats.cli import main


def test_help_and_version():
    r = subprocess.run(
        [sys.executable, "-m", "skelformats", "--help"], capture_output=True, text=True
    )
    assert r.returncode == 0 and "layouts" in r.stdout and "convert" in r.stdout
    r = subprocess.run(
        [sys.executable, "-m", "skelformats", "--version"], capture_output=True, text=True
    )
    assert r.returncode == 0 and sf.__version__ in r.stdout


def test_layouts(capsys):
    assert main(["layouts"]) == 0
    out = capsys.readouterr().out
    assert "ntu25" in out and "cmu31" in out and "mediapipe33" in out
    assert main(["layouts", "-v"]) == 0
    assert "SpineShoulder" in capsys.readouterr().out


def test_info_and_convert(tmp_path, capsys):
    conf = np.ones((5, 20), np.float32)
    conf[:, 7] = 0
    m = sf.Motion(
        np.random.default_rng(0).normal(size=(5, 20, 3)),
        "kinect_v1_20",
        fps=30,
        confidence=conf,
        meta={"subject": 4},
    )
    sf.save(m, tmp_path / "in.npz")
    assert main(["info", str(tmp_path / "in.npz")]) == 0
    out = capsys.readouterr().out
    assert (
        "kinect_v1_20" in out
        and "frames:   5" in out
        and "HandLeft (100%)" in out
        and "people:   1" in out
    )
    assert (
        main(["convert", str(tmp_path / "in.npz"), str(tmp_path / "out.npz"), "--to", "ntu25"]) == 0
    )
    back = sf.load(tmp_path / "out.npz")
    assert back.layout.name == "ntu25" and back.num_frames == 5
    assert (
        main(
            [
                "convert",
                str(tmp_path / "in.npz"),
                str(tmp_path / "out2d.npz"),
                "--to",
                "coco17",
                "--project",
                "xy",
            ]
        )
        == 0
    )
    assert sf.load(tmp_path / "out2d.npz").layout.dims == 2
    capsys.readouterr()
    assert (
        main(["convert", str(tmp_path / "in.npz"), str(tmp_path / "out.bvh"), "--to", "ntu25"]) == 0
    )
    assert "warning: " in capsys.readouterr().err  # BVH has no confidence: said once, plainly
    assert sf.load(tmp_path / "out.bvh").num_frames == 5


def test_convert_several_sequences_into_a_folder(tmp_path, capsys):
    import skelformats.registry as registry

    def read_two(path):
        rng = np.random.default_rng(0)
        return [
            sf.Motion(rng.normal(size=(3, 15, 3)), "openni15"),
            sf.Motion(rng.normal(size=(4, 15, 3)), "openni15"),
        ]

    saved = dict(registry._READERS)
    try:
        sf.register_reader("two_seq", extensions=(".two",))(read_two)
        (tmp_path / "pair.two").write_text("x")
        assert (
            main(
                [
                    "convert",
                    str(tmp_path / "pair.two"),
                    str(tmp_path / "out") + "/",
                    "--to",
                    "ntu25",
                ]
            )
            == 0
        )
    finally:
        registry._READERS.clear()
        registry._READERS.update(saved)
    files = sorted((tmp_path / "out").glob("*.npz"))
    assert [f.name for f in files] == ["pair_0000.npz", "pair_0001.npz"]
    assert [sf.load(f).num_frames for f in files] == [3, 4]


def test_errors_are_reported(tmp_path, capsys):
    (tmp_path / "junk.dat").write_bytes(b"nothing to see")
    assert main(["info", str(tmp_path / "junk.dat")]) == 1  # a failure, not a usage error
    err = capsys.readouterr().err
    assert "junk.dat" in err and "unknown skeleton format" in err
    sf.save(sf.Motion(np.zeros((2, 25, 3)), "ntu25"), tmp_path / "a.npz")
    assert (
        main(["convert", str(tmp_path / "a.npz"), str(tmp_path / "b.npz"), "--to", "coco17"]) == 2
    )
    err = capsys.readouterr().err
    assert "projection" in err and "--project xy" in err and "project=" not in err
