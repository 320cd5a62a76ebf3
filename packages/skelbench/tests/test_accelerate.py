"""`accelerate launch -m skelbench run` with 2 CPU processes (gloo): each rank scores a shard, rank 0
gathers, and the figures equal a single-process run."""

import json
import os
import subprocess
import sys

from skelbench.baseline import train_baseline
from skelbench.synthetic import synth_split


def test_two_process_run_matches_single_process(tmp_path):
    tr = synth_split("train", per_class=2)
    model = train_baseline(
        [s.motion for s in tr.samples],
        [s.label for s in tr.samples],
        tr.classes,
        budget_s=1.0,
        max_epochs=3,
    )
    model.save(tmp_path / "gcn")
    common = [
        "run",
        "--model",
        str(tmp_path / "gcn"),
        "--tasks",
        "synth/recognition",
        "--no-baseline",
        "--synth-test-per-class",
        "2",
        "--batch-size",
        "4",
        "--quiet",
        "--no-plots",
    ]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    launch = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--multi_gpu",
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "-m",
        "skelbench",
    ]
    p2 = subprocess.run(
        launch + common + ["--out", str(tmp_path / "two")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert p2.returncode == 0, p2.stderr[-3000:]
    p1 = subprocess.run(
        [sys.executable, "-m", "skelbench"] + common + ["--out", str(tmp_path / "one")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert p1.returncode == 0, p1.stderr[-3000:]
    two = json.loads((tmp_path / "two" / "results.json").read_text())
    one = json.loads((tmp_path / "one" / "results.json").read_text())
    assert two["settings"]["processes"] == 2 and one["settings"]["processes"] == 1
    t2, t1 = two["tasks"][0], one["tasks"][0]
    assert t2["num_samples"] == t1["num_samples"] == 30
    assert t2["model"]["confusion_matrix"] == t1["model"]["confusion_matrix"]
    assert t2["robustness"] == t1["robustness"]
    assert sum(map(sum, t2["model"]["confusion_matrix"])) == 30
