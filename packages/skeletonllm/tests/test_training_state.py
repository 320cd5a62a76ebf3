"""Training state under damage: torn logs, interrupted writes, corrupt or hostile checkpoint files,
a full disk, a ``latest`` pointing outside, and fallback to the previous sound checkpoint."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import textwrap
import warnings

import pytest
import torch
from helpers import raw_records, tiny_model
from skeletonllm.checkpoint import CheckpointError, atomic_dir, clean_orphans
from skeletonllm.training import CheckpointWarning, checkpoints, latest_checkpoint, train_stage

KW = dict(
    batch_size=2,
    lr=1e-2,
    seed=3,
    progress=False,
    save_model=False,
    trainable=["renderer", "projector", "lora"],
)


def rows(out):
    return [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def run2(tmp_path_factory):
    """A finished 2-step run with checkpoints at steps 1 and 2 (copied by each test that damages it)."""
    out = tmp_path_factory.mktemp("state") / "run"
    train_stage(tiny_model(), raw_records(4), out_dir=out, steps=2, save_every=1, **KW)
    return out


def resume(out, steps=3, **kw):
    return train_stage(
        tiny_model(),
        raw_records(4),
        out_dir=out,
        steps=steps,
        save_every=1,
        resume=True,
        **KW,
        **kw,
    )


def copy_run(run2, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(run2, out)
    return out


def test_torn_last_metrics_line_is_dropped_on_resume(run2, tmp_path):
    out = copy_run(run2, tmp_path)
    with open(out / "metrics.jsonl", "a") as f:
        f.write('{"step": 3, "loss": 0.5, "ids": ["raw-')  # killed mid-write
    with pytest.warns(CheckpointWarning, match="torn last line 3"):
        res = resume(out)
    assert res.resumed_from == 2 and [r["step"] for r in rows(out)] == [1, 2, 3]


def test_a_bad_metrics_line_before_the_end_names_the_file(run2, tmp_path):
    out = copy_run(run2, tmp_path)
    lines = (out / "metrics.jsonl").read_text().splitlines()
    (out / "metrics.jsonl").write_text("\n".join([lines[0], "garbage", lines[1]]) + "\n")
    with pytest.raises(CheckpointError, match=r"metrics\.jsonl: line 2 is not a metrics row"):
        resume(out)


ONE_STEP_DAMAGE = {
    "scheduler.json": ["{}", '{"last_epoch": "x", "_step_count": 1, "last_lr": [0.1]}', "[1]"],
    "trainer_state.json": ['{"step": "2", "trainable_names": []}', "[]", "{"],
    "rng-0.json": ['{"python": 5, "numpy": []}', "{}", '{"python": [3, [-1], null], "numpy": 0}'],
    "optimizer.json": ['{"param_groups": 3}', '{"param_groups": [], "scalars": {"x": 1}}'],
    "weights.safetensors": [b"\x08\x00\x00\x00\x00\x00\x00\x00{}", b"\xff" * 40],
    "optimizer.safetensors": [b""],
    "rng-0.safetensors": ["TENSOR"],
}


@pytest.mark.parametrize(
    "name,content", [(k, v) for k, vs in ONE_STEP_DAMAGE.items() for v in vs], ids=str
)
def test_each_damaged_checkpoint_file_is_named_in_a_one_line_error(run2, tmp_path, name, content):
    out = copy_run(run2, tmp_path)
    for ck in checkpoints(out):  # damage every checkpoint: nothing sound to fall back to
        if content == "TENSOR":
            from safetensors.torch import save_file

            save_file({"torch": torch.zeros(7, dtype=torch.uint8)}, ck / name)
        elif isinstance(content, bytes):
            (ck / name).write_bytes(content)
        else:
            (ck / name).write_text(content)
    with pytest.raises(CheckpointError) as err, pytest.warns(CheckpointWarning):
        resume(out)
    msg = str(err.value)
    assert "\n" not in msg and f"step-00000002/{name}" in msg, msg


def test_damaged_latest_falls_back_to_the_previous_checkpoint_and_matches_the_full_run(tmp_path):
    """kill after the step-4 checkpoint, that checkpoint damaged: resume from step 2, same result."""
    records = raw_records(8)
    kw = dict(KW, steps=5, grad_accum=2, save_every=2)
    full = tiny_model()
    train_stage(full, records, out_dir=tmp_path / "full", **kw)

    calls = {"n": 0}

    def dies_in_step_5(model, batch):
        calls["n"] += 1
        if calls["n"] > 9:
            raise KeyboardInterrupt
        return model(batch), {}

    part = tmp_path / "part"
    with pytest.raises(KeyboardInterrupt):
        train_stage(tiny_model(), records, out_dir=part, objective=dies_in_step_5, **kw)
    ck = part / "checkpoints"
    assert [p.name for p in checkpoints(part)] == ["step-00000004", "step-00000002"]
    w = ck / "step-00000004" / "weights.safetensors"
    w.write_bytes(w.read_bytes()[: w.stat().st_size // 2])  # torn by a crash of the disk
    # debris of interrupted writes of every kind
    (part / ".model.tmp-abc").mkdir()
    (part / ".metrics.jsonl.x1y2.tmp").write_text("half")
    (ck / ".step-00000006.tmp-q").mkdir()
    (ck / ".latest.zz.tmp").write_text("step-")
    (ck / "rng" / "step-00000006").mkdir(parents=True)
    (part / ".notes.user.tmp").write_text("not ours")  # left alone

    resumed = tiny_model()
    with pytest.warns(CheckpointWarning) as caught:
        res = train_stage(resumed, records, out_dir=part, resume=True, **kw)
    text = " ".join(str(w.message) for w in caught)
    assert "step-00000004/weights.safetensors" in text and "resuming from" in text
    assert res.resumed_from == 2 and res.step == 5
    assert [r["ids"] for r in rows(part)] == [r["ids"] for r in rows(tmp_path / "full")]
    for (n, a), (_, b) in zip(full.named_parameters(), resumed.named_parameters()):
        assert torch.equal(a, b), n  # bit-exact: same data order, same RNG, same updates
    assert sorted(p.name for p in part.iterdir() if p.name.startswith(".")) == [".notes.user.tmp"]
    assert sorted(p.name for p in ck.iterdir()) == ["latest", "step-00000004", "step-00000005"]
    state = json.loads((ck / "step-00000004" / "trainer_state.json").read_text())
    assert state["step"] == 4  # the damaged one was replaced by a sound one


def test_latest_is_confined_to_the_checkpoints_directory(run2, tmp_path):
    out = copy_run(run2, tmp_path)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    for pointer in ("../../..", "../../elsewhere", "/etc", "step-00000002/../../.."):
        (out / "checkpoints" / "latest").write_text(pointer)
        with pytest.raises(CheckpointError, match="not a step-NNNNNNNN directory"):
            latest_checkpoint(out)
    (out / "checkpoints" / "step-00000009").symlink_to(outside, target_is_directory=True)
    assert [p.name for p in checkpoints(out)] == ["step-00000002", "step-00000001"]
    with pytest.warns(CheckpointWarning, match="latest: names"):
        res = resume(out)
    assert res.resumed_from == 2 and list(outside.iterdir()) == []


def test_only_the_last_two_checkpoints_are_kept(run2, tmp_path):
    out = copy_run(run2, tmp_path)
    resume(out, steps=4)
    assert [p.name for p in checkpoints(out)] == ["step-00000004", "step-00000003"]
    with pytest.raises(ValueError, match="keep_checkpoints"):
        resume(out, steps=5, keep_checkpoints=0)


RESAVE = textwrap.dedent("""
    import importlib.util, os, signal, sys
    from pathlib import Path
    spec = importlib.util.spec_from_file_location("checkpoint", sys.argv[3])  # no torch import
    checkpoint = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(checkpoint)
    target, kill_at, seen = Path(sys.argv[1]), int(sys.argv[2]), []

    def hook(event, args):  # SIGKILL just before the kill_at-th rename/removal of the swap
        if event in ("os.rename", "shutil.rmtree") and seen is not None:
            seen.append(event)
            if len(seen) == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)

    with checkpoint.atomic_dir(target) as tmp:
        for k in range(3):
            (tmp / f"part{k}").write_text("new")
        sys.addaudithook(hook)
""")


def test_final_name_survives_a_kill_at_every_step_of_a_resave(tmp_path):
    """A kill -9 before each rename/removal of a re-save: the final name always holds one complete
    version, and the next start's cleanup leaves nothing else."""
    import skeletonllm.checkpoint

    target, ck_file = tmp_path / "model", skeletonllm.checkpoint.__file__
    for kill_at in range(1, 10):
        shutil.rmtree(target, ignore_errors=True)
        with atomic_dir(target) as tmp:
            for k in range(3):
                (tmp / f"part{k}").write_text("old")
        proc = subprocess.run([sys.executable, "-c", RESAVE, str(target), str(kill_at), ck_file])
        assert target.is_dir(), f"{target} missing after a kill at step {kill_at}"
        clean_orphans(tmp_path)
        assert [p.name for p in tmp_path.iterdir()] == ["model"]
        parts = {(target / f"part{k}").read_text() for k in range(3)}
        assert parts in ({"old"}, {"new"})  # one complete version, not a mix
        if proc.returncode == 0:
            assert parts == {"new"}
            break
        assert proc.returncode == -signal.SIGKILL
    else:
        pytest.fail("the re-save never finished")


def test_moved_aside_directory_is_restored_when_the_swap_was_cut_short(tmp_path):
    """Where no atomic exchange exists, a kill between the two renames leaves only .NAME.old-PID."""
    (tmp_path / ".model.old-4242").mkdir()
    (tmp_path / ".model.old-4242" / "config.json").write_text("{}")
    (tmp_path / ".model.tmp-x1").mkdir()  # the new, possibly unfinished, directory
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        removed = clean_orphans(tmp_path)
    assert (tmp_path / "model" / "config.json").read_text() == "{}"
    assert [p.name for p in removed] == [".model.tmp-x1"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_FSIZE semantics")
def test_full_disk_is_a_one_line_error_naming_the_file(tmp_path):
    """Writes past a file-size limit fail like a full disk (EFBIG instead of ENOSPC)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (16_384, hard))
    try:
        with pytest.raises(CheckpointError) as err:
            train_stage(tiny_model(), raw_records(4), out_dir=tmp_path / "out", steps=1, **KW)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)
    msg = str(err.value)
    assert "\n" not in msg and "checkpoints/step-00000001/weights.safetensors: cannot write" in msg
    assert not [p for p in (tmp_path / "out" / "checkpoints").iterdir()]  # no half checkpoint
