"""Experiment trackers through accelerate's tracker classes (``log_with``: TensorBoard, W&B, MLflow,
Comet, Aim, ClearML, DVCLive, SwanLab, Trackio), used by the main process of a training run.

``log_with``: ``"auto"`` (TensorBoard when installed: the default, as before), ``None`` / ``"none"``,
one name, a comma-separated string or a list. A named tracker whose package is missing is an error
naming it (an explicit choice should not be dropped silently).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

# Which import each tracker needs (accelerate names them the same way).
_PACKAGE = {"tensorboard": "tensorboard", "comet_ml": "comet_ml", "clearml": "clearml"}


def tracker_names(log_with) -> list[str]:
    from accelerate.tracking import LOGGER_TYPE_TO_CLASS

    if log_with is None:
        return []
    if log_with == "auto":
        return ["tensorboard"] if importlib.util.find_spec("tensorboard") else []
    items = log_with.split(",") if isinstance(log_with, str) else list(log_with)
    names = [str(x).strip().lower() for x in items if str(x).strip()]
    if names == ["none"]:
        return []
    if "all" in names:
        return [n for n in LOGGER_TYPE_TO_CLASS if importlib.util.find_spec(_PACKAGE.get(n, n))]
    bad = [n for n in names if n not in LOGGER_TYPE_TO_CLASS]
    if bad:
        raise ValueError(
            f"log_with: unknown tracker(s) {bad}; known: {', '.join(LOGGER_TYPE_TO_CLASS)}, "
            "all, auto, none"
        )
    missing = [n for n in names if not importlib.util.find_spec(_PACKAGE.get(n, n))]
    if missing:
        raise ValueError(f"log_with: tracker(s) {missing} need their package installed")
    return names


class Trackers:
    """Started trackers; ``log(values, step)`` sends scalars to all, ``close()`` finishes them."""

    def __init__(self, trackers: list):
        self.trackers = trackers

    def log(self, values: dict, step: int) -> None:
        scalars = {k: float(v) for k, v in values.items() if isinstance(v, int | float)}
        for t in self.trackers:
            t.log(scalars, step=step)

    def close(self) -> None:
        for t in self.trackers:
            t.finish()


def open_trackers(
    log_with, out_dir: str | os.PathLike, run_name: str, config: dict | None = None
) -> Trackers:
    """Start the trackers of ``log_with``; local ones write under ``out_dir`` (TensorBoard in
    ``out_dir/tensorboard``, where runs always kept it). Call on the main process only."""
    from accelerate.tracking import LOGGER_TYPE_TO_CLASS

    out: list = []
    for name in tracker_names(log_with):
        cls = LOGGER_TYPE_TO_CLASS[name]
        if name == "tensorboard":
            t = cls("tensorboard", Path(out_dir))
        elif getattr(cls, "requires_logging_directory", False):
            t = cls(run_name, Path(out_dir))
        else:
            t = cls(run_name)
        if hasattr(t, "start"):
            t.start()
        if config:
            t.store_init_configuration(
                {k: v for k, v in config.items() if isinstance(v, bool | int | float | str)}
            )
        out.append(t)
    return Trackers(out)
