"""The benchmark module: baselines draw what they should, a tiny run reports every figure, CLI."""

from __future__ import annotations

import subprocess
import sys

import drrender
import numpy as np
import pytest
import torch
from drrender import bench


def test_motion_fills_the_frame_and_moves():
    joints = bench.skeleton_motion(2, 16)
    assert joints.shape == (2, 16, 25, 3) and joints.dtype == np.float32
    uv, _ = drrender.fit_camera(torch.from_numpy(joints), (112, 112)).project(
        torch.from_numpy(joints), (112, 112)
    )
    span = uv.amax((1, 2)) - uv.amin((1, 2))  # (2, 2) extent per sequence
    assert (span.amax(-1) > 0.8 * 112).all()
    assert np.abs(np.diff(joints, axis=1)).mean() > 1e-3


def _one_segment():
    return np.array([[[[10.0, 16.0], [30.0, 16.0]]]], dtype=np.float32)  # (N=1, E=1, 2, 2)


def test_limb_heatmap_values():
    out = np.zeros((1, 1, 32, 40), np.float32)
    bench.limb_heatmaps(_one_segment(), (32, 40), 1.5, out)
    assert out[0, 0, 15, 20] == pytest.approx(
        np.exp(-0.25 / (2 * 1.5**2)), rel=1e-5
    )  # 0.5 px off the limb
    assert out[0, 0, 2, 20] == 0 and out[0, 0, 15, 38] == 0  # outside the 3-sigma box


def test_matplotlib_baseline_draws_the_segment():
    pytest.importorskip("matplotlib")
    r = bench.MatplotlibRenderer((32, 40), 3.0, np.array([[1.0, 0.0, 0.0, 1.0]]))
    out = np.zeros((1, 32, 40, 3), np.uint8)
    r(_one_segment(), out)
    assert out[0, 15, 20, 0] > 200 and out[0, 15, 20, 1] < 50  # red on the limb
    assert out[0, 3, 20].max() == 0  # black elsewhere


def test_tiny_run_reports_every_figure():
    lines = []
    threads = torch.get_num_threads()
    try:
        res = bench.run(
            sizes=(24,), batch=1, frames=4, threads=1, repeats=1, quick=True, log=lines.append
        )
    finally:
        torch.set_num_threads(threads)  # run() sets the benchmark's thread count process-wide
    row = res["sizes"][24]
    for name in ["drrender (fast)", "(a) reference (dense)", "(c) numpy limb heatmaps"]:
        assert row[name]["fwd_fps"] > 0
    assert row["(a) reference (dense)"]["fwd_bwd_fps"] > 0
    assert res["draction_train_step_ms"] > 0
    text = "\n".join(lines)
    assert "ratios" in text and "vs (a) reference (dense)" in text


def test_cli_help_and_version():
    out = subprocess.run(
        [sys.executable, "-m", "drrender.bench", "--version"], capture_output=True, text=True
    )
    assert out.returncode == 0 and drrender.__version__ in out.stdout
    out = subprocess.run(
        [sys.executable, "-m", "drrender.bench", "--help"], capture_output=True, text=True
    )
    assert out.returncode == 0 and "--quick" in out.stdout
