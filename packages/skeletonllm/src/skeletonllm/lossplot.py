"""Loss curves of a training run: one panel per stage, read from each stage's ``metrics.jsonl``."""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path

# Columns of a metrics row that are not losses.
_NOT_LOSSES = {"step", "lr", "samples_per_s", "elapsed_s", "epoch"}


class PlotError(ValueError):
    """No readable metrics where a run was expected; the message names the folder or file."""


def find_metrics(run_dir: str | os.PathLike) -> list[Path]:
    """``metrics.jsonl`` of a single-stage run (``RUN_DIR/metrics.jsonl``) and of each stage of a recipe
    (``RUN_DIR/stages/<i>-<name>/metrics.jsonl``), in stage order."""
    run = Path(run_dir)
    found = [run / "metrics.jsonl"] if (run / "metrics.jsonl").is_file() else []

    def order(p: Path):
        head = p.parent.name.split("-", 1)[0]
        return (int(head) if head.isdigit() else math.inf, p.parent.name)

    found += sorted(run.glob("stages/*/metrics.jsonl"), key=order)
    return found


def read_metrics(path: str | os.PathLike) -> list[dict]:
    """Rows of a metrics.jsonl; unreadable lines (a torn last line of a killed run) are skipped."""
    rows = []
    for line in Path(path).read_text(errors="replace").splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict) and isinstance(row.get("step"), int | float):
            rows.append(row)
    return rows


def _series(rows: list[dict]) -> dict[str, tuple[list[float], list[float]]]:
    keys: dict[str, None] = {}
    for r in rows:
        for k, v in r.items():
            if (
                k not in _NOT_LOSSES
                and "acc" not in k  # accuracies logged beside the losses have their own scale
                and isinstance(v, int | float)
                and not isinstance(v, bool)
            ):
                keys.setdefault(k)
    out = {}
    for k in sorted(keys, key=lambda k: (k != "loss", k)):
        pts = [(r["step"], r[k]) for r in rows if isinstance(r.get(k), int | float)]
        pts = [(s, v) for s, v in pts if math.isfinite(v)]
        if pts:
            out[k] = ([p[0] for p in pts], [p[1] for p in pts])
    return out


def plot_run(run_dir: str | os.PathLike, out: str | os.PathLike | None = None) -> Path:
    """Write the loss curves of the run in ``run_dir`` to ``out`` (default ``RUN_DIR/loss.png``)."""
    run = Path(run_dir)
    if not run.is_dir():
        raise PlotError(f"{run}: run folder not found")
    files = find_metrics(run)
    stages = [(p, read_metrics(p)) for p in files]
    stages = [(p, rows) for p, rows in stages if rows]
    if not stages:
        raise PlotError(
            f"{run}: no metrics.jsonl with readable rows (looked in it and in stages/*/)"
        )
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(stages)
    cols = min(n, 4)
    rows_n = math.ceil(n / cols)
    fig, axes = plt.subplots(rows_n, cols, figsize=(3.6 * cols, 2.8 * rows_n), squeeze=False)
    for ax in axes.flat[n:]:
        ax.axis("off")
    for ax, (path, rows) in zip(axes.flat, stages):
        name = rows[-1].get("stage") or (path.parent.name if path.parent != run else run.name)
        for k, (x, y) in _series(rows).items():
            ax.plot(
                x, y, lw=1.6 if k == "loss" else 0.9, label=k, alpha=1.0 if k == "loss" else 0.8
            )
        lr = [(r["step"], r["lr"]) for r in rows if isinstance(r.get("lr"), int | float)]
        if lr and len({v for _, v in lr}) > 1:  # a schedule, worth showing
            ax2 = ax.twinx()
            ax2.plot(*zip(*lr), color="grey", ls="--", lw=0.8)
            ax2.set_ylabel("lr", fontsize=7, color="grey")
            ax2.tick_params(labelsize=6, colors="grey")
        ax.set_title(f"{name} ({rows[-1]['step']} steps)", fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        ax.set_ylabel("loss", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6, loc="upper right")
    fig.suptitle(f"training losses: {run.name}", fontsize=10)
    fig.tight_layout()
    target = Path(out) if out is not None else run / "loss.png"
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".png")
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=90)
        from .checkpoint import default_mode

        default_mode(tmp)
        os.replace(tmp, target)
    finally:
        plt.close(fig)
        Path(tmp).unlink(missing_ok=True)
    return target


__all__ = ["PlotError", "find_metrics", "plot_run", "read_metrics"]
