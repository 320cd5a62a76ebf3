"""``train_stage``: one training stage of a SkeletonLLM with accelerate.

Data order is a pure function of (seed, micro-batch index): epoch ``e`` uses ``randperm(N)`` from a
generator seeded with ``seed`` and ``e``; each optimizer step consumes ``grad_accum`` global batches of
``batch_size * world_size`` records, each process taking every ``world_size``-th record. Resuming from a
checkpoint at step ``s`` therefore continues with exactly the batches the uninterrupted run would see.
Batches are collated by a ``torch`` ``DataLoader`` (``num_workers`` processes) whose batch sampler
(:class:`MicroBatchSampler`) yields that same order, so workers change speed, not data.

Checkpoints (``out_dir/checkpoints/step-XXXXXXXX/``, written to a temp dir then ``os.replace``d):
``weights.safetensors`` (trainable parameters), ``optimizer.safetensors`` + ``optimizer.json``,
``scheduler.json``, ``trainer_state.json`` (step, data position, seed, settings), ``rng-<rank>.safetensors``.
``out_dir/checkpoints/latest`` names the newest; the last ``keep_checkpoints`` (2) stay, so a resume
that finds the newest damaged (every file is validated, errors name it) falls back to the previous one
with a warning. Weights and optimizer state are gathered whole and keyed by parameter name through
``torch.distributed.checkpoint.state_dict``, so plain, DDP and FSDP runs write the same files and a
sharded run resumes into its shards. The trained model is saved to ``out_dir/model`` by the main process.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import re
import shutil
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .checkpoint import (
    CheckpointError,
    CheckpointMismatch,
    atomic_dir,
    atomic_write_text,
    clean_orphans,
    load_tensors,
    read_json,
    reading,
    save_tensors,
    write_json,
)
from .config import GROUPS
from .data import trained_labels

Objective = Callable[[torch.nn.Module, dict], "tuple[torch.Tensor, dict]"]


def lm_objective(model, batch) -> tuple[torch.Tensor, dict]:
    """Default objective: the (loss-weighted) LM loss of ``model(batch)``."""
    return model(batch), {}


def unwrap(model):
    """The SkeletonLLM inside a DDP/compiled wrapper."""
    while hasattr(model, "module"):
        model = model.module
    return getattr(model, "_orig_mod", model)


# ---------------------------------------------------------------------------------------- data order
def epoch_permutation(n: int, seed: int, epoch: int) -> list[int]:
    g = torch.Generator().manual_seed(int(seed) * 1_000_003 + int(epoch))
    return torch.randperm(n, generator=g).tolist()


def batch_indices(
    n: int, micro: int, global_batch: int, seed: int, rank: int = 0, world: int = 1
) -> list[int]:
    """Record indices of global micro-batch ``micro`` taken by process ``rank``."""
    per_epoch = max(1, n // global_batch)
    epoch, b = divmod(micro, per_epoch)
    perm = epoch_permutation(n, seed, epoch)
    if n < global_batch:  # tiny sets: repeat the permutation to fill a batch
        perm = (perm * math.ceil(global_batch / n))[:global_batch]
    chunk = perm[b * global_batch : (b + 1) * global_batch]
    return chunk[rank::world]


def default_num_workers() -> int:
    """DataLoader workers when none are asked for: none without CUDA, where the model's forward
    and backward need the cores (tiny model, 2 shared cores, 0 vs 2 workers: 56.5 vs 38.4
    samples/s over 16-step runs, worker start-up included; 40.5 vs 42.8 in the steady state of
    40-step runs, within the noise); with CUDA one per spare core, at most 4, collating while the
    GPU computes."""
    if not torch.cuda.is_available():
        return 0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(0, min(4, (cores or 1) - 1))


class MicroBatchSampler(torch.utils.data.Sampler):
    """Batch sampler of micro-batches ``start`` .. ``stop - 1``: each batch is this rank's
    ``[(micro, index), ...]``, in exactly the order of :func:`batch_indices`."""

    def __init__(
        self, n: int, global_batch: int, seed: int, start: int, stop: int, rank=0, world=1
    ):
        self.n, self.gb, self.seed = n, global_batch, seed
        self.start, self.stop, self.rank, self.world = start, stop, rank, world

    def __len__(self) -> int:
        return max(0, self.stop - self.start)

    def __iter__(self):
        per_epoch = max(1, self.n // self.gb)
        epoch, perm = None, []
        for m in range(self.start, self.stop):
            e, b = divmod(m, per_epoch)
            if e != epoch:  # one permutation per epoch, not one per batch
                epoch, perm = e, epoch_permutation(self.n, self.seed, e)
                if self.n < self.gb:  # tiny sets: as batch_indices
                    perm = (perm * math.ceil(self.gb / self.n))[: self.gb]
            chunk = perm[b * self.gb : (b + 1) * self.gb]
            yield [(m, i) for i in chunk[self.rank :: self.world]]


class _Keyed(torch.utils.data.Dataset):
    """``records`` read by ``(micro, index)`` keys, so the collator learns each record's key."""

    def __init__(self, records: Sequence):
        self.records = records

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, key):
        return key[0], key[1], self.records[key[1]]


class _KeyedCollate:
    """``[(micro, index, record)]`` -> ``(micro, batch)``; collators that take them get the
    records' ``(seed, epoch, index)`` augmentation keys."""

    def __init__(self, collate: Callable, seed: int, per_epoch: int):
        self.collate, self.seed, self.per_epoch = collate, seed, per_epoch

    def __call__(self, items):
        m = items[0][0]
        recs = [r for _, _, r in items]
        if getattr(self.collate, "takes_keys", False):
            epoch = m // self.per_epoch
            return m, self.collate(recs, keys=[(self.seed, epoch, i) for _, i, _ in items])
        return m, self.collate(recs)


def micro_batches(
    records: Sequence,
    collate: Callable,
    *,
    global_batch: int,
    seed: int,
    start: int,
    stop: int,
    rank: int = 0,
    world: int = 1,
    num_workers: int = 0,
) -> torch.utils.data.DataLoader:
    """A DataLoader over micro-batches ``start`` .. ``stop - 1``, yielding ``(micro, batch)``.

    On Linux the workers fork, so the records (e.g. motions read from a dataset cache) are shared
    with them, never pickled; elsewhere each worker receives one pickled copy. The loader draws its
    workers' seeds from its own generator, not the global RNG a resumed run restores."""
    n = len(records)
    ctx = "fork" if num_workers > 0 and sys.platform.startswith("linux") else None
    return torch.utils.data.DataLoader(
        _Keyed(records),
        batch_sampler=MicroBatchSampler(n, global_batch, seed, start, stop, rank, world),
        collate_fn=_KeyedCollate(collate, seed, max(1, n // global_batch)),
        num_workers=num_workers,
        multiprocessing_context=ctx,
        generator=torch.Generator().manual_seed(int(seed)),
    )


# ---------------------------------------------------------------------------------------- state I/O
# Model and optimizer state go through torch.distributed.checkpoint.state_dict, which keys it by
# parameter name for plain, DDP and FSDP models alike; a sharded model's is gathered whole (a
# collective: every rank calls it; with cpu_offload the full copy lands on rank 0's CPU only) and is
# sharded back on load.
def _state_options(model, **kw):
    """Gathered (full) state for a sharded model; a plain or DDP model's own tensors otherwise, as
    they may lie on several devices (``device_map``), which the full-state path refuses."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions

    return StateDictOptions(full_state_dict=_is_sharded(model), **kw)


def _gather_state(model, opt: torch.optim.Optimizer, names: list[str]) -> tuple[dict, dict]:
    """Full trainable weights and optimizer state, keyed by parameter name (every rank must call
    this; in a multi-process run only rank 0's copy is complete)."""
    from torch.distributed.checkpoint.state_dict import (
        get_model_state_dict,
        get_optimizer_state_dict,
    )

    opts = _state_options(model, cpu_offload=True, ignore_frozen_params=True)
    weights = get_model_state_dict(model, options=opts)
    optim = get_optimizer_state_dict(model, opt, options=opts)
    return {n: weights[n] for n in names if n in weights}, optim


def _is_sharded(model) -> bool:
    """Whether ``model`` (or a submodule) is sharded by FSDP: FSDP2 ``fully_shard`` parameters are
    DTensors; FSDP1 wraps modules in ``FullyShardedDataParallel``."""
    from torch.distributed.fsdp import FullyShardedDataParallel
    from torch.distributed.tensor import DTensor

    return any(isinstance(p, DTensor) for p in model.parameters()) or any(
        isinstance(m, FullyShardedDataParallel) for m in model.modules()
    )


def save_trained_model(acc, model, base, model_dir: Path) -> None:
    """Save the trained ``base`` (``model``: as prepared) to ``model_dir`` from the main process
    alone; every rank must call it. A sharded (FSDP) model is gathered whole onto rank 0's CPU and
    saved from an unsharded copy built from its config (a second full copy there while saving)."""
    if not _is_sharded(model):
        if acc.is_main_process:
            base.save_pretrained(model_dir)
        return
    from torch.distributed.checkpoint.state_dict import get_model_state_dict

    full = get_model_state_dict(model, options=_state_options(model, cpu_offload=True))
    if acc.is_main_process:
        whole = type(base)(base.config)
        whole.set_trainable(base.trainable_groups)
        whole.load_state_dict(full)
        whole.card_info = dict(base.card_info)
        whole.save_pretrained(model_dir)


def _optimizer_to_files(sd: dict, directory: Path) -> None:
    """Write a name-keyed optimizer state dict: tensors as ``<param>.<state>`` in
    ``optimizer.safetensors``; parameter groups and non-tensor state in ``optimizer.json``."""
    tensors, scalars = {}, {}
    for name, st in sd["state"].items():
        for k, v in st.items():
            if torch.is_tensor(v):
                tensors[f"{name}.{k}"] = v
            else:
                scalars[f"{name}.{k}"] = v
    save_tensors(tensors, directory / "optimizer.safetensors")
    write_json(
        directory / "optimizer.json", {"param_groups": sd["param_groups"], "scalars": scalars}
    )


def _param_name(key, names: list[str]) -> str:
    """The trainable parameter a saved optimizer entry belongs to (by name; checkpoints written
    before names were used key it by its index among the trainable parameters)."""
    known = set(names)
    name = str(key)
    if name not in known and name.isdigit() and int(name) < len(names):
        name = names[int(name)]
    if name not in known:
        raise ValueError(f"{key!r} names no trainable parameter")
    return name


def _optimizer_from_files(
    model, opt: torch.optim.Optimizer, directory: Path, names: list[str], shapes: dict
) -> None:
    """Load ``optimizer.safetensors`` + ``optimizer.json`` into ``opt`` (sharding it as ``model``
    is); ``shapes``: each trainable parameter's full shape. Every rank reads the files."""
    from torch.distributed.checkpoint.state_dict import set_optimizer_state_dict

    tensor_path, meta_path = directory / "optimizer.safetensors", directory / "optimizer.json"
    tensors = load_tensors(tensor_path)
    meta = read_json(meta_path)
    state: dict[str, dict] = {}
    with reading(tensor_path):
        for key, v in tensors.items():
            name, k = _param_name(key.rsplit(".", 1)[0], names), key.rsplit(".", 1)[-1]
            if v.ndim and tuple(v.shape) != tuple(shapes[name]):
                raise ValueError(f"tensor {key!r} has shape {list(v.shape)}, not its parameter's")
            state.setdefault(name, {})[k] = v
    with reading(meta_path):
        scalars = meta.get("scalars", {})
        if not isinstance(scalars, dict):
            raise TypeError("'scalars' must be an object")
        for key, v in scalars.items():
            state.setdefault(_param_name(key.rsplit(".", 1)[0], names), {})[
                key.rsplit(".", 1)[-1]
            ] = v
        groups = meta["param_groups"]
        if not isinstance(groups, list) or not all(isinstance(g, dict) for g in groups):
            raise TypeError("'param_groups' must be a list of objects")
        if len(groups) != len(opt.param_groups):
            raise ValueError(
                f"{len(groups)} parameter groups, this run has {len(opt.param_groups)}"
            )
        groups = [{**g, "params": [_param_name(p, names) for p in g["params"]]} for g in groups]
        if sorted(p for g in groups for p in g["params"]) != sorted(names):
            raise ValueError("'param_groups' do not hold exactly the trainable parameters")
        set_optimizer_state_dict(
            model, opt, {"state": state, "param_groups": groups}, options=_state_options(model)
        )


def _rng_state() -> tuple[dict, dict]:
    tensors = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"cuda{i}"] = s
    py = random.getstate()
    np_state = np.random.get_state()  # noqa: NPY002 - the global state is what user code draws from
    meta = {
        "python": [py[0], list(py[1]), py[2]],
        "numpy": [
            np_state[0],
            np_state[1].tolist(),
            *[int(x) if i != 2 else float(x) for i, x in enumerate(np_state[2:], 2)],
        ],
    }
    return tensors, meta


def _set_rng_state(directory: Path, rank: int) -> None:
    """Restore this process's RNG states from ``rng-<rank>.safetensors`` + ``rng-<rank>.json``."""
    tensor_file, meta_file = directory / f"rng-{rank}.safetensors", directory / f"rng-{rank}.json"
    if not tensor_file.is_file():  # a rank the saving run did not have: keeps its seeded state
        return
    tensors, meta = load_tensors(tensor_file), read_json(meta_file)
    with reading(tensor_file):
        torch.set_rng_state(tensors["torch"])
        if torch.cuda.is_available():
            states = [tensors[k] for k in sorted(k for k in tensors if k.startswith("cuda"))]
            if states:
                torch.cuda.set_rng_state_all(states)
    with reading(meta_file):
        py = meta["python"]
        random.setstate((py[0], tuple(py[1]), py[2]))
        npst = meta["numpy"]
        np.random.set_state(  # noqa: NPY002
            (
                npst[0],
                np.asarray(npst[1], dtype=np.uint32),
                int(npst[2]),
                int(npst[3]),
                float(npst[4]),
            )
        )


def _load_checkpoint(
    ckpt: Path, model, opt, sched, trainable_names, shapes: dict, settings: dict, rank: int
):
    """Restore weights, optimizer, scheduler and RNG from ``ckpt``; returns its step.

    ``model``: as prepared (plain, DDP or FSDP); ``opt`` / ``sched``: the unwrapped optimizer and
    scheduler; ``shapes``: each trainable parameter's full (unsharded) shape.

    Damaged content raises CheckpointError naming the file; a sound checkpoint of a different run
    raises CheckpointMismatch. Every state it touches is overwritten whole, so a later call with an
    older checkpoint fully replaces what a failed one left.
    """
    state_file = ckpt / "trainer_state.json"
    state = read_json(state_file)
    with reading(state_file):
        step = state["step"]
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise ValueError(f"'step' must be a non-negative integer, got {step!r}")
        if not isinstance(state["trainable_names"], list):
            raise TypeError("'trainable_names' must be a list")
    if state["trainable_names"] != trainable_names:
        raise CheckpointMismatch(f"{state_file}: trainable parameters differ from this run")
    if any(state.get(k) != settings[k] for k in ("seed", "batch_size", "grad_accum")):
        raise CheckpointMismatch(f"{state_file}: seed/batch_size/grad_accum differ from this run")
    weights_file = ckpt / "weights.safetensors"
    weights = load_tensors(weights_file)
    with reading(weights_file):
        for n in trainable_names:
            if n not in weights:
                raise ValueError(f"missing tensor {n!r}")
            if tuple(weights[n].shape) != tuple(shapes[n]):
                raise ValueError(f"tensor {n!r} has shape {list(weights[n].shape)}")
    from torch.distributed.checkpoint.state_dict import set_model_state_dict

    # each rank holds the full tensors and keeps its own shard of them
    set_model_state_dict(
        model,
        {n: weights[n] for n in trainable_names},
        options=_state_options(model, strict=False),
    )
    _optimizer_from_files(model, opt, ckpt, trainable_names, shapes)
    sched_file = ckpt / "scheduler.json"
    sched_state = read_json(sched_file)
    with reading(sched_file):
        last_epoch, count, last_lr = (
            sched_state[k] for k in ("last_epoch", "_step_count", "last_lr")
        )
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (last_epoch, count)):
            raise TypeError("'last_epoch' and '_step_count' must be integers")
        if (
            not isinstance(last_lr, list)
            or len(last_lr) != len(opt.param_groups)
            or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in last_lr)
        ):
            raise ValueError(f"'last_lr' must hold {len(opt.param_groups)} finite numbers")
        sched.last_epoch, sched._step_count = last_epoch, count
        for g, lr_now in zip(opt.param_groups, last_lr):
            g["lr"] = lr_now
        sched._last_lr = list(last_lr)
    _set_rng_state(ckpt, rank)
    return step


def _resume(out_dir: Path, *args) -> tuple[Path | None, int]:
    """Load the newest sound checkpoint (warning about each damaged one skipped) -> (dir, step)."""
    order = _resume_order(out_dir)
    first_error = None
    for ckpt in order:
        try:
            step = _load_checkpoint(ckpt, *args)
        except CheckpointMismatch:
            raise
        except CheckpointError as exc:
            first_error = first_error or exc
            warnings.warn(f"skipping damaged checkpoint: {exc}", CheckpointWarning, 3)
            continue
        if first_error is not None:
            warnings.warn(f"resuming from {ckpt} instead", CheckpointWarning, 3)
        return ckpt, step
    if first_error is not None:
        raise CheckpointError(f"no sound checkpoint to resume from; {first_error}")
    return None, 0


_STEP_DIR = re.compile(r"step-\d{8}")


class CheckpointWarning(UserWarning):
    """Resume skipped a damaged checkpoint or a bad ``latest`` pointer."""


def latest_checkpoint(out_dir: str | os.PathLike) -> Path | None:
    """The checkpoint ``out_dir/checkpoints/latest`` names (a ``step-NNNNNNNN`` directory beside it)."""
    ck = Path(out_dir) / "checkpoints"
    pointer = ck / "latest"
    if not pointer.is_file():
        return None
    try:
        name = pointer.read_bytes().decode("utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{pointer}: unreadable ({exc})") from exc
    if not _STEP_DIR.fullmatch(name):  # no separators, no "..": the pointer stays in checkpoints/
        raise CheckpointError(f"{pointer}: names {name[:80]!r}, not a step-NNNNNNNN directory here")
    path = ck / name
    if path.is_symlink() or not path.is_dir():
        raise CheckpointError(f"{pointer}: points at {path.name}, which does not exist")
    return path


def checkpoints(out_dir: str | os.PathLike) -> list[Path]:
    """The ``step-NNNNNNNN`` checkpoint directories of ``out_dir``, newest first."""
    ck = Path(out_dir) / "checkpoints"
    if not ck.is_dir():
        return []
    found = [p for p in ck.iterdir() if _STEP_DIR.fullmatch(p.name)]
    return sorted((p for p in found if p.is_dir() and not p.is_symlink()), reverse=True)


def _resume_order(out_dir: Path) -> list[Path]:
    """Checkpoints to try on resume: the one ``latest`` names, then older ones, newest first."""
    try:
        latest = latest_checkpoint(out_dir)
    except CheckpointError as exc:
        warnings.warn(f"{exc}; resuming from the newest checkpoint instead", CheckpointWarning, 3)
        latest = None
    found = checkpoints(out_dir)
    if latest is None:
        return found
    return [latest] + [p for p in found if p.name < latest.name]


def _prune_checkpoints(out_dir: Path, keep: int | None, current: str) -> None:
    """Keep the ``keep`` newest checkpoints up to ``current``; later ones are from an attempt this run
    has replaced (a resume that fell back past them), and this run will write them again."""
    if keep:
        found = checkpoints(out_dir)
        stale = [p for p in found if p.name > current]
        for old in stale + [p for p in found if p.name <= current][keep:]:
            shutil.rmtree(old, ignore_errors=True)


@dataclass
class StageResult:
    out_dir: Path
    model_dir: Path
    step: int
    loss: float
    samples_per_s: float
    resumed_from: int
    is_main_process: bool = True


# ---------------------------------------------------------------------------------------- the loop
def _make_scheduler(opt, steps: int, warmup: int, schedule: str):
    def factor(step: int) -> float:
        if warmup and step < warmup:
            return (step + 1) / warmup
        if schedule == "cosine":
            progress = (step - warmup) / max(1, steps - warmup)
            return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
        return 1.0

    if schedule not in ("constant", "cosine"):
        raise ValueError(f"schedule must be 'constant' or 'cosine', got {schedule!r}")
    return torch.optim.lr_scheduler.LambdaLR(opt, factor)


def train_stage(
    model,
    records: Sequence,
    *,
    out_dir: str | os.PathLike,
    steps: int,
    batch_size: int = 8,
    lr: float = 1e-3,
    grad_accum: int = 1,
    trainable: Sequence[str] | None = None,
    objective: Objective | None = None,
    save_every: int | None = None,
    resume: bool = False,
    seed: int = 0,
    weight_decay: float = 0.0,
    warmup: int = 0,
    schedule: str = "constant",
    lr_groups: dict[str, float] | None = None,
    max_grad_norm: float | None = 1.0,
    mixed_precision: str | None = None,
    collate_fn: Callable | None = None,
    accelerator=None,
    progress: bool = True,
    log_every: int = 1,
    save_model: bool = True,
    stage_name: str | None = None,
    gradient_checkpointing: bool = False,
    keep_checkpoints: int | None = 2,
    num_workers: int | None = None,
    log_with: str | Sequence[str] | None = "auto",
) -> StageResult:
    """Train ``model`` (a SkeletonLLM, modified in place) for ``steps`` optimizer steps on ``records``.

    trainable: parameter groups to train (default: ``model.config.trainable``); lr_groups: per-group lr
    overrides. gradient_checkpointing recomputes backbone activations in backward (large models).
    objective(model, batch) -> (loss, logs) defaults to the LM loss. ``resume`` continues from
    ``out_dir/checkpoints/latest`` with the same data order; a finished stage (final step reached) is a
    no-op apart from reloading its weights. A damaged latest checkpoint is skipped, with a warning, for
    the newest sound one; ``keep_checkpoints`` (default 2, None keeps all) bounds how many stay on disk.
    Debris of writes a kill interrupted (``.NAME.tmp-*``, ``.NAME.old-*``) is cleared at the start.
    ``num_workers``: DataLoader processes collating batches ahead of the model (None:
    :func:`default_num_workers`: none without CUDA; 0: in this process); the data order does not
    depend on it.
    ``log_with``: experiment trackers (:mod:`skeletonllm.trackers`: tensorboard, wandb, mlflow, ...;
    default TensorBoard when installed), fed by the main process.
    """
    from accelerate import Accelerator
    from accelerate.utils import DistributedDataParallelKwargs
    from tqdm.auto import tqdm

    if steps < 1 or batch_size < 1 or grad_accum < 1:
        raise ValueError("steps, batch_size and grad_accum must be >= 1")
    if len(records) == 0:
        raise ValueError("no training records")
    if keep_checkpoints is not None and (
        isinstance(keep_checkpoints, bool)
        or not isinstance(keep_checkpoints, int)
        or keep_checkpoints < 1
    ):
        raise ValueError(
            f"keep_checkpoints must be None or an integer >= 1, got {keep_checkpoints!r}"
        )
    if num_workers is None:
        num_workers = default_num_workers()
    if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0:
        raise ValueError(f"num_workers must be None or an integer >= 0, got {num_workers!r}")
    out_dir = Path(out_dir)
    objective = objective or lm_objective
    acc = accelerator or Accelerator(
        # Without CUDA, processes started by `accelerate launch --multi_gpu` / torchrun join over gloo.
        cpu=not torch.cuda.is_available(),
        mixed_precision=mixed_precision or "no",
        kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)],
    )
    if acc.is_main_process:  # before any rank reads or writes: no other writer is running
        clean_orphans(out_dir, {"model", "metrics.jsonl"}.__contains__)
        clean_orphans(
            out_dir / "checkpoints", lambda n: n == "latest" or bool(_STEP_DIR.fullmatch(n))
        )
        shutil.rmtree(out_dir / "checkpoints" / "rng", ignore_errors=True)
    acc.wait_for_everyone()
    base = unwrap(model)
    # recorded in config.json, so a benchmark can tell zero-shot classes from trained ones
    base.config.trained_labels = trained_labels(records, base.config.trained_labels)
    groups = tuple(trainable) if trainable is not None else tuple(base.config.trainable)
    base.set_trainable(groups)
    if gradient_checkpointing:  # trade compute for activation memory on large backbones
        if hasattr(base.backbone, "activation_checkpointing_enable"):  # transformers >= 5.x name
            base.backbone.activation_checkpointing_enable(
                activation_checkpointing_kwargs={"use_reentrant": False}
            )
        else:
            base.backbone.gradient_checkpointing_enable(
                gradient_checkpointing_kwargs={"use_reentrant": False}
            )
    base.to(acc.device)
    collate = collate_fn or base.collator()

    named = base.named_parameter_groups()
    param_groups, trainable_names, shapes = [], [], {}
    for g in GROUPS:
        items = [(n, p) for n, p in named[g] if p.requires_grad]
        if not items:
            continue
        trainable_names += [n for n, _ in items]
        shapes.update((n, tuple(p.shape)) for n, p in items)  # full shapes, before any sharding
        param_groups.append(
            {"params": [p for _, p in items], "lr": (lr_groups or {}).get(g, lr), "name": g}
        )
    if not param_groups:
        raise ValueError(f"nothing to train: groups {groups} have no parameters")
    opt = torch.optim.AdamW(param_groups, lr=lr, weight_decay=weight_decay)
    sched = _make_scheduler(opt, steps, warmup, schedule)

    settings = {"seed": seed, "batch_size": batch_size, "grad_accum": grad_accum}
    wrapped, opt, sched = acc.prepare(model, opt, sched)
    # loaded after prepare, through the prepared model: a sharded (FSDP) run restores each shard
    ckpt, start_step = (
        _resume(
            out_dir,
            wrapped,
            getattr(opt, "optimizer", opt),
            getattr(sched, "scheduler", sched),
            trainable_names,
            shapes,
            settings,
            acc.process_index,
        )
        if resume
        else (None, 0)
    )
    if acc.num_processes > 1:  # a damaged rng-<rank> file may send one rank further back
        steps_seen = acc.gather(torch.tensor([start_step], device=acc.device)).tolist()
        if len(set(steps_seen)) != 1:
            raise CheckpointError(
                f"{out_dir / 'checkpoints'}: processes found different sound checkpoints "
                f"(steps {steps_seen}); repair or remove the damaged one"
            )
    if ckpt is None:
        torch.manual_seed(seed + acc.process_index)
        random.seed(seed)
        np.random.seed(seed)  # noqa: NPY002

    world, rank = acc.num_processes, acc.process_index
    gb = batch_size * world
    n = len(records)
    metrics_path = out_dir / "metrics.jsonl"
    if acc.is_main_process:
        out_dir.mkdir(parents=True, exist_ok=True)
        _truncate_metrics(metrics_path, start_step)
    from .trackers import open_trackers, tracker_names

    tracker_names(log_with)  # a bad name fails on every rank, before any step
    tb = (
        open_trackers(log_with, out_dir, stage_name or out_dir.name)
        if acc.is_main_process
        else None
    )
    bar = tqdm(
        total=steps,
        initial=start_step,
        disable=not (progress and acc.is_main_process),
        desc=stage_name or "train",
        dynamic_ncols=True,
    )
    wrapped.train()
    t0, seen, loss_val, last = time.perf_counter(), 0, float("nan"), start_step

    def save_checkpoint(step: int) -> None:
        _save_checkpoint(
            acc,
            wrapped,
            opt,
            sched,
            out_dir,
            step,
            trainable_names,
            {
                "seed": seed,
                "batch_size": batch_size,
                "grad_accum": grad_accum,
                "steps": steps,
                "world_size": world,
                "records": n,
                "stage": stage_name,
            },
            keep_checkpoints,
        )

    loader = micro_batches(
        records,
        collate,
        global_batch=gb,
        seed=seed,
        start=start_step * grad_accum,
        stop=steps * grad_accum,
        rank=rank,
        world=world,
        num_workers=num_workers if steps > start_step else 0,
    )
    batches = iter(loader)
    try:
        for step in range(start_step, steps):
            logs_acc: dict[str, float] = {}
            loss_sum = 0.0
            ids = []
            for micro in range(grad_accum):
                m, batch = next(batches)
                if m != step * grad_accum + micro:  # the sampler and the loop must agree
                    raise RuntimeError(
                        f"data loader gave micro-batch {m}, expected {step * grad_accum + micro}"
                    )
                ids += list(batch.get("ids", []))
                sync = micro == grad_accum - 1
                ctx = contextlib.nullcontext() if sync or world == 1 else acc.no_sync(wrapped)
                with ctx:
                    loss, logs = objective(wrapped, batch)
                    acc.backward(loss / grad_accum)
                loss_sum += float(loss.detach()) / grad_accum
                for k, v in (logs or {}).items():
                    logs_acc[k] = logs_acc.get(k, 0.0) + float(v) / grad_accum
            if max_grad_norm:
                acc.clip_grad_norm_(
                    [p for g in opt.param_groups for p in g["params"]], max_grad_norm
                )
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            seen += gb * grad_accum
            elapsed = time.perf_counter() - t0
            loss_val = float(
                acc.reduce(torch.tensor(loss_sum, device=acc.device), reduction="mean")
            )
            sps = seen / max(elapsed, 1e-9)
            last = step + 1
            bar.update(1)
            bar.set_postfix(loss=f"{loss_val:.4f}", samples_s=f"{sps:.1f}")
            if acc.is_main_process and ((step + 1) % log_every == 0 or step + 1 == steps):
                row = {
                    "step": step + 1,
                    "loss": loss_val,
                    "lr": sched.get_last_lr()[0],
                    "samples_per_s": sps,
                    "elapsed_s": elapsed,
                    "epoch": (step * grad_accum) // max(1, n // gb),
                    "ids": ids,
                    **logs_acc,
                }
                if stage_name:
                    row["stage"] = stage_name
                try:
                    with open(metrics_path, "a") as f:
                        f.write(json.dumps(row) + "\n")
                except OSError as exc:
                    raise CheckpointError(f"{metrics_path}: cannot write ({exc.strerror})") from exc
                if tb is not None:
                    tb.log({"loss": loss_val, "samples_per_s": sps, **logs_acc}, step + 1)
            if save_every and (step + 1) % save_every == 0 and step + 1 < steps:
                save_checkpoint(step + 1)
    finally:
        # workers stop now, not whenever an exception's traceback lets go of the iterator
        getattr(batches, "_shutdown_workers", lambda: None)()
    bar.close()
    if tb is not None:
        tb.close()
    if last > start_step or ckpt is None:
        save_checkpoint(last)
    model_dir = out_dir / "model"
    if save_model:
        try:
            save_trained_model(acc, wrapped, base, model_dir)
        except OSError as exc:
            raise CheckpointError(f"{model_dir}: cannot save the model ({exc})") from exc
    acc.wait_for_everyone()
    elapsed = time.perf_counter() - t0
    return StageResult(
        out_dir,
        model_dir,
        last,
        loss_val,
        seen / max(elapsed, 1e-9),
        start_step,
        acc.is_main_process,
    )


def _truncate_metrics(path: Path, step: int) -> None:
    """Drop rows past ``step`` so a resumed run's metrics read as one run.

    A torn last line (a kill mid-write) is dropped; any other unreadable line is an error naming the file.
    """
    if not path.is_file():
        return
    try:
        lines = path.read_bytes().decode("utf-8", errors="replace").split("\n")
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read ({exc.strerror})") from exc
    numbered = [(i + 1, line) for i, line in enumerate(lines) if line.strip()]
    keep = []
    for k, (lineno, line) in enumerate(numbered):
        try:
            row = json.loads(line)
            row_step = row.get("step", 0) if isinstance(row, dict) else None
            if isinstance(row_step, bool) or not isinstance(row_step, int):
                raise ValueError("not a metrics row with an integer 'step'")
        except (ValueError, RecursionError) as exc:
            if k == len(numbered) - 1:
                warnings.warn(f"{path}: dropping a torn last line {lineno}", CheckpointWarning, 3)
                break
            raise CheckpointError(f"{path}: line {lineno} is not a metrics row ({exc})") from exc
        if row_step <= step:
            keep.append(line)
    atomic_write_text(path, "".join(line + "\n" for line in keep))


def _save_checkpoint(
    acc, model, opt, sched, out_dir: Path, step: int, names: list[str], settings: dict, keep
) -> None:
    """Write ``out_dir/checkpoints/step-NNNNNNNN``: every rank takes part in gathering the full
    weights and optimizer state of ``model`` (as prepared: plain, DDP or FSDP) and writes its RNG
    state; the main process writes the rest and swaps the directory into place."""
    ck = out_dir / "checkpoints"
    name = f"step-{step:08d}"
    rng_t, rng_meta = _rng_state()
    weights, optim = _gather_state(model, getattr(opt, "optimizer", opt), names)
    # Every rank writes its RNG state first; rank 0 then writes the checkpoint in one atomic swap.
    if acc.num_processes > 1:
        rng_dir = ck / "rng" / name
        rng_dir.mkdir(parents=True, exist_ok=True)
        save_tensors(rng_t, rng_dir / f"rng-{acc.process_index}.safetensors")
        atomic_write_text(rng_dir / f"rng-{acc.process_index}.json", json.dumps(rng_meta))
        acc.wait_for_everyone()
    if acc.is_main_process:
        missing = [n for n in names if n not in weights]
        if missing:  # a wrapper that renames parameters would otherwise save a partial checkpoint
            raise RuntimeError(f"the model's state dict lacks trainable parameters {missing[:3]}")
        with atomic_dir(ck / name) as tmp:
            try:
                save_tensors(weights, tmp / "weights.safetensors")
                _optimizer_to_files(optim, tmp)
                s = sched.scheduler if hasattr(sched, "scheduler") else sched
                write_json(
                    tmp / "scheduler.json",
                    {
                        "last_epoch": s.last_epoch,
                        "_step_count": s._step_count,
                        "last_lr": s.get_last_lr(),
                    },
                )
                if acc.num_processes > 1:
                    for r in range(acc.num_processes):
                        for ext in ("safetensors", "json"):
                            src = ck / "rng" / name / f"rng-{r}.{ext}"
                            os.replace(src, tmp / src.name)
                    (ck / "rng" / name).rmdir()
                else:
                    save_tensors(rng_t, tmp / "rng-0.safetensors")
                    write_json(tmp / "rng-0.json", rng_meta)
                write_json(
                    tmp / "trainer_state.json",
                    {
                        "step": step,
                        "micro_batch": step * settings["grad_accum"],
                        "trainable_names": names,
                        **settings,
                    },
                    indent=1,
                )
            except CheckpointError as exc:  # name the checkpoint, not its temporary directory
                raise CheckpointError(str(exc).replace(str(tmp), str(ck / name))) from exc
        atomic_write_text(ck / "latest", name)
        _prune_checkpoints(out_dir, keep, name)
    acc.wait_for_everyone()
