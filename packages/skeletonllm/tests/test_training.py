"""train_stage: every trainable parameter moves, loss falls, resume reproduces, checkpoints are atomic."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from helpers import raw_records, tiny_model
from hypothesis import given, settings
from hypothesis import strategies as st
from skeletonllm import GROUPS, synthetic_records
from skeletonllm.training import batch_indices, latest_checkpoint, train_stage


def _snapshot(model):
    return {n: p.detach().clone() for n, p in model.named_parameters()}


def test_few_steps_change_every_trainable_parameter(tmp_path):
    m = tiny_model()
    before = _snapshot(m)
    train_stage(
        m,
        raw_records(6),
        out_dir=tmp_path,
        steps=3,
        batch_size=3,
        lr=1e-2,
        trainable=GROUPS,
        progress=False,
        save_model=False,
    )
    unchanged = [n for n, p in m.named_parameters() if torch.equal(p, before[n])]
    assert unchanged == []
    assert any(n.startswith("renderer.") for n in before)


def test_frozen_groups_stay_frozen(tmp_path):
    m = tiny_model()
    before = _snapshot(m)
    train_stage(
        m,
        raw_records(4),
        out_dir=tmp_path,
        steps=2,
        batch_size=2,
        lr=1e-2,
        trainable=["renderer"],
        progress=False,
        save_model=False,
    )
    named = m.named_parameter_groups()
    for g, items in named.items():
        changed = [not torch.equal(p, before[n]) for n, p in items]
        assert all(changed) if g == "renderer" else not any(changed), g


def test_loss_falls_on_synthetic_recognition(tmp_path):
    records = synthetic_records(12, actions=["wave", "squat", "walk"], seed=0)
    m = tiny_model(trainable=("renderer", "projector", "lora", "llm"))
    res = train_stage(
        m,
        records,
        out_dir=tmp_path,
        steps=16,
        batch_size=4,
        lr=3e-3,
        progress=False,
        save_model=False,
    )
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    first = sum(r["loss"] for r in rows[:3]) / 3
    last = sum(r["loss"] for r in rows[-3:]) / 3
    assert res.step == 16 and last < 0.5 * first, (first, last)


class _Crash(Exception):
    pass


def test_resume_after_interruption_reproduces_uninterrupted_run(tmp_path):
    records = raw_records(8)
    kw = dict(
        steps=5,
        batch_size=2,
        lr=1e-2,
        grad_accum=2,
        save_every=2,
        seed=3,
        progress=False,
        save_model=False,
        trainable=["renderer", "projector", "lora"],
    )
    full = tiny_model()
    train_stage(full, records, out_dir=tmp_path / "full", **kw)

    calls = {"n": 0}

    def crashing(model, batch):
        calls["n"] += 1
        if calls["n"] > 7:  # dies in step 4, after the checkpoint at step 2... and step 3 ran
            raise _Crash
        return model(batch), {}

    part = tiny_model()
    with pytest.raises(_Crash):
        train_stage(part, records, out_dir=tmp_path / "part", objective=crashing, **kw)
    assert latest_checkpoint(tmp_path / "part").name == "step-00000002"
    resumed = tiny_model()  # a fresh process would start from the same initial model
    res = train_stage(resumed, records, out_dir=tmp_path / "part", resume=True, **kw)
    assert res.resumed_from == 2 and res.step == 5

    def rows(d):
        return [json.loads(x) for x in (tmp_path / d / "metrics.jsonl").read_text().splitlines()]

    assert [r["ids"] for r in rows("part")] == [r["ids"] for r in rows("full")]
    assert [r["step"] for r in rows("part")] == [1, 2, 3, 4, 5]
    for (n, a), (_, b) in zip(full.named_parameters(), resumed.named_parameters()):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5, msg=n)
    leftovers = [
        p.name for p in (tmp_path / "part" / "checkpoints").iterdir() if p.name.startswith(".")
    ]
    assert leftovers == []


def test_training_applies_augmentation_and_resume_stays_exact(tmp_path):
    from skeletonllm.data import with_augment

    records = with_augment(
        synthetic_records(6, actions=["wave", "squat", "walk"], seed=0),
        {"project": 0.5, "crop": 1.0, "jitter": 1.0},
    )
    kw = dict(
        steps=4,
        batch_size=2,
        seed=5,
        lr=1e-2,
        save_every=2,
        progress=False,
        save_model=False,
        trainable=["renderer", "projector"],
    )
    seen = []

    def spy(model, collate):
        def call(recs, keys=None):
            batch = collate(recs, keys=keys)
            seen.append((keys, [tuple(s.joints.shape) for s in batch["samples"]]))
            return batch

        call.takes_keys = True
        return call

    full = tiny_model()
    train_stage(  # collated in this process, where the spy records; the resume below uses workers
        full,
        records,
        out_dir=tmp_path / "full",
        collate_fn=spy(full, full.collator()),
        num_workers=0,
        **kw,
    )
    assert full.config.trained_labels == ("squat", "walk", "wave")  # for honest zero-shot
    # every record is seen with its (seed, epoch, index) key, and the data is augmented
    pairs = [(k, shape) for ks, ss in seen for k, shape in zip(ks, ss)]
    assert {k[0] for k, _ in pairs} == {5} and {k[1] for k, _ in pairs} == {0, 1}
    assert {s[-1] for _, s in pairs} == {2, 3}  # projected half of the time
    # the crop shortens sequences: some sample has fewer frames than its recorded motion
    assert any(s[0] < records[k[2]].motion.num_frames for k, s in pairs)

    calls = {"n": 0}

    def crashing(model, batch):
        calls["n"] += 1
        if calls["n"] > 3:  # dies in step 4, after the checkpoint at step 2
            raise _Crash
        return model(batch), {}

    part = tiny_model()
    with pytest.raises(_Crash):
        train_stage(
            part, records, out_dir=tmp_path / "part", objective=crashing, num_workers=2, **kw
        )
    resumed = tiny_model()  # two DataLoader workers: the same batches as in-process collation
    res = train_stage(resumed, records, out_dir=tmp_path / "part", resume=True, num_workers=2, **kw)
    assert res.resumed_from == 2 and res.step == 4
    for (n, a), (_, b) in zip(full.named_parameters(), resumed.named_parameters()):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5, msg=n)


def test_resume_rejects_changed_settings(tmp_path):
    from skeletonllm.checkpoint import CheckpointError

    records = raw_records(4)
    m = tiny_model()
    train_stage(
        m, records, out_dir=tmp_path, steps=1, batch_size=2, progress=False, save_model=False
    )
    with pytest.raises(CheckpointError, match="trainer_state.json"):
        train_stage(
            tiny_model(),
            records,
            out_dir=tmp_path,
            steps=2,
            batch_size=4,
            resume=True,
            progress=False,
        )


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 40), gb=st.integers(1, 8), world=st.integers(1, 4), seed=st.integers(0, 5))
def test_data_order_shards_partition_each_batch(n, gb, world, seed):
    per_epoch = max(1, n // (gb * world))
    seen = []
    for micro in range(per_epoch):
        shards = [batch_indices(n, micro, gb * world, seed, r, world) for r in range(world)]
        flat = [i for s in shards for i in s]
        assert all(0 <= i < n for i in flat)
        assert sorted(flat) == sorted(batch_indices(n, micro, gb * world, seed, 0, 1))
        if n >= gb * world:
            assert len(set(flat)) == len(flat) == gb * world
            seen += flat
    assert len(seen) == len(set(seen))  # no record twice within an epoch
    assert batch_indices(n, 0, gb, seed) == batch_indices(n, 0, gb, seed)


def test_two_process_accelerate_launch_gloo(tmp_path):
    """`accelerate launch` with 2 CPU processes (gloo) trains one config end to end."""
    pytest.importorskip("accelerate")
    cfg = tmp_path / "run.yaml"
    cfg.write_text(
        textwrap.dedent("""
        model: {backbone: tiny-qwen2vl}
        data:
          synthetic: {task: recognition, n: 8, actions: [wave, squat], seed: 0}
        train: {out_dir: out, steps: 2, batch_size: 2, lr: 1.0e-3, save_every: 1, progress: false}
    """)
    )
    env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    import socket

    with socket.socket() as sock:  # a free port, so parallel runs on one machine do not collide
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cmd = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--multi_gpu",
        "--num_processes",
        "2",
        "--main_process_port",
        str(port),
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "-m",
        "skeletonllm.cli",
        "train",
        str(cfg),
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [json.loads(x) for x in (tmp_path / "out" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2]
    state = json.loads((latest_checkpoint(tmp_path / "out") / "trainer_state.json").read_text())
    assert state["world_size"] == 2
    assert sorted(
        p.name for p in latest_checkpoint(tmp_path / "out").glob("rng-*.safetensors")
    ) == ["rng-0.safetensors", "rng-1.safetensors"]
    assert (Path(tmp_path) / "out" / "model" / "config.json").is_file()


def test_cli_run_killed_with_sigkill_resumes_to_the_uninterrupted_result(tmp_path):
    """A real `kill -9` of `skeletonllm train` mid-run; `--resume` then ends where an uninterrupted run ends."""
    import signal
    import time

    from safetensors.torch import load_file
    from skeletonllm.cli import main

    def config(out):
        p = tmp_path / f"{out}.yaml"
        p.write_text(
            textwrap.dedent(f"""
            model: {{backbone: tiny-qwen2vl, renderer: {{frames: 4, size: [56, 56]}}}}
            data:
              synthetic: {{task: recognition, n: 8, actions: [wave, squat], seed: 0}}
            train: {{out_dir: {out}, steps: 16, batch_size: 2, lr: 1.0e-3, save_every: 2, seed: 1, progress: false}}
        """)
        )
        return p

    env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "skeletonllm", "train", str(config("killed"))],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
    )
    latest = tmp_path / "killed" / "checkpoints" / "latest"
    deadline = time.time() + 180
    while not latest.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    if proc.returncode != -signal.SIGKILL:
        pytest.skip(f"training finished before it could be killed (rc={proc.returncode})")
    assert not (tmp_path / "killed" / "model").exists()
    assert main(["train", str(config("killed")), "--resume"]) == 0
    assert main(["train", str(config("whole"))]) == 0

    def rows(d):
        return [json.loads(x) for x in (tmp_path / d / "metrics.jsonl").read_text().splitlines()]

    assert [r["ids"] for r in rows("killed")] == [r["ids"] for r in rows("whole")]
    for name in (
        "renderer.safetensors",
        "adapter/adapter_model.safetensors",
        "backbone/model.safetensors",
    ):
        a = load_file(tmp_path / "killed" / "model" / name)
        b = load_file(tmp_path / "whole" / "model" / name)
        assert a.keys() == b.keys()
        for k in a:
            torch.testing.assert_close(a[k], b[k], atol=1e-6, rtol=1e-5, msg=f"{name}:{k}")


def test_gradient_checkpointing_gives_the_same_updates(tmp_path):
    results = []
    for gc in (False, True):
        m = tiny_model()
        train_stage(
            m,
            raw_records(4),
            out_dir=tmp_path / str(gc),
            steps=2,
            batch_size=2,
            progress=False,
            save_model=False,
            gradient_checkpointing=gc,
            trainable=GROUPS,
        )
        results.append(dict(m.named_parameters()))
    for n, p in results[0].items():
        torch.testing.assert_close(p, results[1][n], atol=1e-6, rtol=1e-5, msg=n)
