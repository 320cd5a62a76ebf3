"""The benchmark module: baselines draw what they should, a tiny run reports every figure, CLI."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

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


def test_matplotlib_baseline_draws_the_segment():  # matplotlib: in drrender's test extra
    r = bench.MatplotlibRenderer((32, 40), 3.0, np.array([[1.0, 0.0, 0.0, 1.0]]))
    out = np.zeros((1, 32, 40, 3), np.uint8)
    r(_one_segment(), out)
    assert out[0, 15, 20, 0] > 200 and out[0, 15, 20, 1] < 50  # red on the limb
    assert out[0, 3, 20].max() == 0  # black elsewhere


def test_time_cases_keeps_the_best_run_round_robin():
    calls = []

    def case(name):
        sleeps = iter([0.06, 0.06, 0.005, 0.06])  # warm-up, then three timed runs

        def fn():
            time.sleep(next(sleeps))
            calls.append(name)

        return dict(name=name, fn=fn)

    cases = [case("a"), case("b")]
    bench.time_cases(cases, repeats=3)
    assert calls == ["a", "b"] + ["a", "b"] * 3  # warm-ups, then interleaved runs
    for c in cases:
        assert 0.005 <= c["time"] < 0.05  # the best timed run, neither the first nor the last


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc")
def test_peak_memory_sees_a_temporary_allocation():
    mb = bench.peak_memory(lambda: np.ones(40 * 2**20 // 8).sum())  # 40 MB, freed on return
    assert mb is not None and 35 < mb < 120


def test_tiny_run_reports_its_measurements():
    """Every method is measured and the printed table, ratios and step time are those measurements."""
    lines = []
    threads = torch.get_num_threads()
    try:
        res = bench.run(
            sizes=(24,), batch=1, frames=4, threads=1, repeats=1, quick=True, log=lines.append
        )
    finally:
        torch.set_num_threads(threads)  # run() sets the benchmark's thread count process-wide
    row = res["sizes"][24]
    baselines = [
        "(a) reference (dense)",
        "(b) matplotlib LineCollection",
        "(c) numpy limb heatmaps",
    ]
    fast_names = ["drrender (fast)"] + (
        ["drrender (torch backend)"] if res["fast_backend"] != "torch" else []
    )
    assert sorted(row) == sorted(fast_names + baselines)
    for name, r in row.items():
        assert r["frames_timed"] == 4
        table = [line for line in lines if line.startswith(f"  {name} ")]
        assert len(table) == 1, name
        assert f"{r['fwd_fps']:.1f}" in table[0]
        if "fwd_bwd_fps" in r:
            assert f"{r['fwd_bwd_fps']:.1f}" in table[0]
    fast = row["drrender (fast)"]
    for name in baselines:
        ratio = [line for line in lines if line.startswith(f"    vs {name}")]
        assert len(ratio) == 1 and f"{fast['fwd_fps'] / row[name]['fwd_fps']:.1f}x" in ratio[0]
    assert f"{res['draction_train_step_ms']:.1f} ms" in lines[-1]


def test_cli_help_and_version():
    out = subprocess.run(
        [sys.executable, "-m", "drrender.bench", "--version"], capture_output=True, text=True
    )
    assert out.returncode == 0 and drrender.__version__ in out.stdout
    out = subprocess.run(
        [sys.executable, "-m", "drrender.bench", "--help"], capture_output=True, text=True
    )
    assert out.returncode == 0 and "--quick" in out.stdout and "--passive" in out.stdout


@pytest.mark.skipif(torch.cuda.is_available(), reason="with a GPU, --gpu runs the full benchmark")
def test_cli_gpu_mode_says_when_there_is_no_gpu():
    out = subprocess.run(
        [sys.executable, "-m", "drrender.bench", "--gpu"], capture_output=True, text=True
    )
    assert out.returncode == 0 and "no CUDA device" in out.stdout
