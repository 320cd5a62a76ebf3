"""Outputs get the modes the user's umask gives ordinary files (0644 / 0755 under umask 022), not
mkstemp's 0600 / 0700, and stay atomic."""

import os
import stat

import pytest
from helpers import tiny_model
from skeletonllm.checkpoint import atomic_write_text
from skeletonllm.mining import save_pairs


@pytest.fixture
def umask():
    old = os.umask(0o022)

    def set_(mask):
        os.umask(mask)

    yield set_
    os.umask(old)


def _mode(p):
    return stat.S_IMODE(os.stat(p).st_mode)


@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_checkpoint_and_files_follow_the_umask(tmp_path, umask, mask):
    umask(mask)
    ck = tmp_path / "ck"
    tiny_model(renderer={"frames": 4, "size": [28, 28]}).save_pretrained(ck)
    dirs = [ck, *(p for p in ck.rglob("*") if p.is_dir())]
    files = [p for p in ck.rglob("*") if p.is_file()]
    assert {_mode(d) for d in dirs} == {0o777 & ~mask}
    assert {_mode(f) for f in files} == {0o666 & ~mask}
    assert {"README.md", "config.json"} <= {f.name for f in files}
    atomic_write_text(tmp_path / "a.txt", "x")
    save_pairs([{"a": "x", "b": "y", "score": 1.0}], tmp_path / "pairs.json")
    for name in ("a.txt", "pairs.json"):
        assert _mode(tmp_path / name) == 0o666 & ~mask, name
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files left
