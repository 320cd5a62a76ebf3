"""Checkpoints of a sharded run: 2 CPU processes (gloo), the model sharded with FSDP2's ``fully_shard``,
the full backbone trained. A resume from the step-2 checkpoint into a freshly built, differently
initialised sharded model must end bit for bit where the uninterrupted run ends; the checkpoint
must hold full (unsharded) tensors, and the final model saved by rank 0 must reload in one process."""

from __future__ import annotations

import json
import os
import socket
import warnings
from pathlib import Path

import pytest
import torch

pytest.importorskip("accelerate")
fsdp = pytest.importorskip("torch.distributed.fsdp")
if not hasattr(fsdp, "fully_shard"):
    pytest.skip("this torch has no FSDP2 fully_shard", allow_module_level=True)

# A full-backbone run, what FSDP is for. The renderer stays out: its scalar parameters (log_sigma)
# are refused by fully_shard ("doesn't support scalar parameters"), so the backbone is what is sharded.
TRAINABLE = ["projector", "llm"]
SETTINGS = {"seed": 0, "batch_size": 1, "grad_accum": 1}
STEPS, SAVE_AT = 4, 2


def _batches(model, rank: int, world: int):
    from helpers import raw_records
    from skeletonllm.training import batch_indices

    records, collate = raw_records(8), model.collator()
    return [
        collate([records[i] for i in batch_indices(8, s, world, 0, rank, world)])
        for s in range(STEPS)
    ]


def _sharded(init_seed: int):
    """A tiny SkeletonLLM with random weights from ``init_seed``, its backbone sharded over the
    default group,
    with its AdamW optimizer and constant scheduler as ``train_stage`` builds them."""
    from helpers import tiny_model
    from skeletonllm.training import _make_scheduler
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    torch.manual_seed(init_seed)
    model = tiny_model(lora={"enabled": False}, trainable=tuple(TRAINABLE))
    model.set_trainable(TRAINABLE)
    named = model.named_parameter_groups()
    by_group = {g: [n for n, p in named[g] if p.requires_grad] for g in TRAINABLE}
    names = [n for g in TRAINABLE for n in by_group[g]]
    shapes = {n: tuple(p.shape) for n, p in model.named_parameters() if n in names}
    fully_shard(model.backbone, mesh=init_device_mesh("cpu", (torch.distributed.get_world_size(),)))
    params = dict(model.named_parameters())  # fully_shard replaced them with sharded DTensors
    groups = [{"params": [params[n] for n in by_group[g]], "name": g} for g in TRAINABLE]
    opt = torch.optim.AdamW(groups, lr=1e-2, weight_decay=0.01)
    return model, opt, _make_scheduler(opt, STEPS, 0, "constant"), names, shapes


def _train(model, opt, sched, batches, start: int, stop: int, on_step=None):
    model.train()
    for step in range(start, stop):
        model(batches[step]).backward()
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        if on_step is not None:
            on_step(step + 1)


def _worker(rank: int, world: int, port: int, out: str) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE=str(world),
        OMP_NUM_THREADS="1",
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
    )
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    from accelerate import Accelerator
    from skeletonllm.training import _gather_state, _resume, _save_checkpoint, save_trained_model
    from torch.distributed.tensor import DTensor

    acc = Accelerator(cpu=True)  # joins the gloo group; used for rank and barriers, as in training
    out = Path(out)
    run = out / "run"
    settings = {**SETTINGS, "steps": STEPS, "world_size": world}

    # uninterrupted run, checkpointing at step 2
    model, opt, sched, names, shapes = _sharded(init_seed=0)
    trained = [p for n, p in model.named_parameters() if n in names]
    sharded = all(isinstance(p, DTensor) for p in trained)
    local = sum(p.to_local().numel() if isinstance(p, DTensor) else p.numel() for p in trained)
    batches = _batches(model, rank, world)

    def save(step):
        if step == SAVE_AT:
            _save_checkpoint(acc, model, opt, sched, run, step, names, settings, 2)

    torch.manual_seed(100 + rank)
    _train(model, opt, sched, batches, 0, STEPS, save)
    full_w, full_o = _gather_state(model, opt, names)

    # a fresh process state: other initial weights, other RNG; resume from the checkpoint
    model, opt, sched, names, shapes = _sharded(init_seed=1)
    torch.manual_seed(999)
    ckpt, start = _resume(run, model, opt, sched, names, shapes, settings, rank)
    _train(model, opt, sched, _batches(model, rank, world), start, STEPS)
    res_w, res_o = _gather_state(model, opt, names)
    save_trained_model(
        acc, model, model, out / "model"
    )  # gathered, written by the main process alone
    acc.wait_for_everyone()

    if acc.is_main_process:
        weights_equal = sorted(full_w) == sorted(res_w) == sorted(names) and all(
            torch.equal(full_w[n], res_w[n]) for n in names
        )
        opt_equal = sorted(full_o["state"]) == sorted(res_o["state"]) and all(
            sorted(full_o["state"][n]) == sorted(res_o["state"][n])
            and all(torch.equal(v, res_o["state"][n][k]) for k, v in full_o["state"][n].items())
            for n in full_o["state"]
        )
        from safetensors.torch import load_file
        from skeletonllm import SkeletonLLM

        reloaded = dict(SkeletonLLM.from_pretrained(out / "model").named_parameters())

        saved = load_file(str(ckpt / "weights.safetensors"))
        report = {
            "start": start,
            "ckpt": ckpt.name,
            "sharded_params": sharded,
            "local_numel": local,
            "full_numel": sum(v.numel() for v in full_w.values()),
            "weights_equal": weights_equal,
            "optimizer_equal": opt_equal,
            "moved": any(not torch.equal(saved[n], full_w[n]) for n in names),
            "model_equal": all(torch.equal(reloaded[n], full_w[n]) for n in names),
            "saved_full_shapes": all(tuple(saved[n].shape) == shapes[n] for n in names),
            "optimizer_steps": [float(v["step"]) for v in res_o["state"].values()][:1],
        }
        (out / "report.json").write_text(json.dumps(report))
    acc.wait_for_everyone()
    torch.distributed.destroy_process_group()


def test_fsdp2_sharded_resume_matches_the_uninterrupted_run(tmp_path):
    import torch.multiprocessing as mp

    with socket.socket() as sock:  # a free port, so parallel runs on one machine do not collide
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    mp.spawn(_worker, args=(2, port, str(tmp_path)), nprocs=2, join=True)
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["start"] == SAVE_AT and report["ckpt"] == f"step-{SAVE_AT:08d}"
    # really sharded: each rank holds about half of the trained weights
    assert report["sharded_params"]
    assert report["local_numel"] < report["full_numel"] * 0.75
    assert report["saved_full_shapes"]  # the files hold full tensors, readable without FSDP
    assert report["moved"]  # training went on after the checkpoint
    assert report["weights_equal"] and report["optimizer_equal"], report
    assert report["model_equal"]  # save_pretrained of the gathered model, reloaded in one process
    assert report["optimizer_steps"] == [STEPS]


def test_checkpoint_with_index_keyed_optimizer_state_resumes_the_same(tmp_path):
    """Optimizer files written before state was keyed by parameter name (``<index>.<state>``,
    groups listing indices) resume exactly like the name-keyed ones of the same run."""
    import shutil

    from helpers import raw_records, tiny_model
    from safetensors.torch import load_file, save_file
    from skeletonllm.training import checkpoints, train_stage

    kw = dict(batch_size=2, lr=1e-2, seed=3, progress=False, save_model=False, save_every=1)
    named = tmp_path / "named"
    train_stage(tiny_model(), raw_records(4), out_dir=named, steps=1, **kw)
    ckpt = checkpoints(named)[0]
    names = json.loads((ckpt / "trainer_state.json").read_text())["trainable_names"]
    assert sorted(load_file(str(ckpt / "optimizer.safetensors"))) == sorted(
        f"{n}.{k}" for n in names for k in ("exp_avg", "exp_avg_sq", "step")
    )
    indexed = tmp_path / "indexed"
    shutil.copytree(named, indexed)
    old = checkpoints(indexed)[0]
    index = {n: str(i) for i, n in enumerate(names)}
    tensors = load_file(str(old / "optimizer.safetensors"))
    save_file(
        {f"{index[k.rsplit('.', 1)[0]]}.{k.rsplit('.', 1)[1]}": v for k, v in tensors.items()},
        str(old / "optimizer.safetensors"),
    )
    meta = json.loads((old / "optimizer.json").read_text())
    for g in meta["param_groups"]:
        g["params"] = [int(index[p]) for p in g["params"]]
    (old / "optimizer.json").write_text(json.dumps(meta))

    finals = []
    for out in (named, indexed):
        model = tiny_model()
        train_stage(model, raw_records(4), out_dir=out, steps=3, resume=True, **kw)
        finals.append({n: p.detach().clone() for n, p in model.named_parameters()})
    assert all(torch.equal(finals[0][n], finals[1][n]) for n in names)


def _ddp_worker(rank: int, world: int, port: int, out: str) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE=str(world),
        OMP_NUM_THREADS="1",
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
    )
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    from accelerate import Accelerator
    from helpers import raw_records, tiny_model
    from skeletonllm.training import train_stage

    acc = Accelerator(cpu=True)  # MULTI_CPU: train_stage wraps the model in DDP over gloo
    out = Path(out)
    kw = dict(batch_size=1, lr=1e-2, seed=5, progress=False, save_model=False, accelerator=acc)
    kw.update(save_every=1, trainable=["renderer", "projector", "lora"])
    finals = []
    for name, stops in (("full", [3]), ("resumed", [1, 3])):
        for i, steps in enumerate(stops):
            model = tiny_model()
            res = train_stage(
                model, raw_records(4), out_dir=out / name, steps=steps, resume=i > 0, **kw
            )
        finals.append((res.resumed_from, {n: p.detach() for n, p in model.named_parameters()}))
    if acc.is_main_process:
        (out / "report.json").write_text(
            json.dumps(
                {
                    "resumed_from": [r for r, _ in finals],
                    "equal": all(torch.equal(v, finals[1][1][n]) for n, v in finals[0][1].items()),
                    "moved": any(
                        not torch.equal(v, p)
                        for (n, v), p in zip(finals[0][1].items(), tiny_model().parameters())
                    ),
                }
            )
        )
    acc.wait_for_everyone()
    torch.distributed.destroy_process_group()


def test_two_process_ddp_train_stage_resume_matches_the_uninterrupted_run(tmp_path):
    """train_stage itself under DDP (2 CPU processes, gloo): 3 steps straight vs 1 step, then a
    resume to 3 in new models; every parameter ends bit for bit equal."""
    import torch.multiprocessing as mp

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    mp.spawn(_ddp_worker, args=(2, port, str(tmp_path)), nprocs=2, join=True)
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["resumed_from"] == [0, 1]
    assert report["moved"] and report["equal"], report
