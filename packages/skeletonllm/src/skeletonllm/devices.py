"""``--device`` / ``--dtype`` for every command that loads a model: checked as text while the arguments
are parsed (no torch import, so ``--help`` stays instant), then against the machine before the model
loads (a missing GPU is a usage error, not a crash half-way through loading)."""

from __future__ import annotations

import argparse
import os
import re

DTYPES = ("float32", "bfloat16", "float16")
DTYPE_ALIASES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16", "half": "float16"}
_DEVICE = re.compile(r"^(?:cpu|mps|(?:cuda|xpu|npu)(?::\d+)?)$")


def device_arg(text: str) -> str:
    """argparse type: ``cpu``, ``cuda``, ``cuda:N``, ``mps``, ``xpu[:N]``, ``npu[:N]``."""
    t = text.strip().lower()
    if not _DEVICE.match(t):
        raise argparse.ArgumentTypeError(
            f"unknown device {text!r}; expected cpu, cuda, cuda:N, mps, xpu[:N] or npu[:N]"
        )
    return t


def dtype_arg(text: str) -> str:
    """argparse type: float32 / bfloat16 / float16 (or fp32, bf16, fp16)."""
    t = DTYPE_ALIASES.get(text.strip().lower(), text.strip().lower())
    if t not in DTYPES:
        raise argparse.ArgumentTypeError(
            f"unknown dtype {text!r}; expected one of {', '.join(DTYPES)} (or bf16, fp16, fp32)"
        )
    return t


def add_device_args(parser: argparse.ArgumentParser, *, what: str = "the model") -> None:
    parser.add_argument(
        "--device",
        type=device_arg,
        default=None,
        metavar="DEV",
        help=f"where {what} runs: cpu, cuda, cuda:N, mps... (default: cuda when available, else cpu)",
    )
    parser.add_argument(
        "--dtype",
        type=dtype_arg,
        default=None,
        metavar="DTYPE",
        help="backbone weights as float32, bfloat16 or float16 (default: as saved / configured)",
    )


def _local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0") or 0)


def resolve_device(device: str | None) -> str:
    """The device string to use; raises ValueError (naming ``--device``) when this machine lacks it.

    ``None`` picks CUDA when available (the process's own GPU under a multi-process launch), else MPS,
    else the CPU.
    """
    import torch

    if device is None:
        if torch.cuda.is_available():
            return f"cuda:{_local_rank() % torch.cuda.device_count()}"
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    kind, _, index = device.partition(":")
    if kind == "cpu":
        return device
    if kind == "cuda":
        n = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if n == 0:
            raise ValueError(f"--device {device}: CUDA is not available on this machine")
        if index and int(index) >= n:
            raise ValueError(f"--device {device}: this machine has {n} CUDA device(s) (0..{n - 1})")
        return device
    if kind == "mps":
        if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise ValueError(f"--device {device}: MPS is not available on this machine")
        return device
    backend = getattr(torch, kind, None)
    if backend is None or not backend.is_available():
        raise ValueError(f"--device {device}: {kind.upper()} is not available on this machine")
    return device
