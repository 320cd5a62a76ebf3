"""Argument types and errors shared by the ``skeletonllm`` subcommands (no heavy imports here: ``--help``
must answer without torch)."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from skelformats.cliutils import ExamplesFormatter as FORMATTER
from skelformats.cliutils import UsageError, examples

__all__ = ["FORMATTER", "UsageError", "examples"]


def existing_file(text: str) -> str:
    p = Path(text)
    if p.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: is a folder, expected a file")
    if not p.is_file():
        raise argparse.ArgumentTypeError(f"{text}: file not found")
    return text


def existing_dir(text: str) -> str:
    p = Path(text)
    if not p.exists():
        raise argparse.ArgumentTypeError(f"{text}: folder not found")
    if not p.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: not a folder")
    return text


def positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {v}")
    return v


def positive_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(v) or v <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number above 0, got {text}")
    return v
