"""``skelbench`` command line: ``run``, ``list``, ``train-baseline``."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from skelbench import __version__

KIND_NAMES = ("recognition", "captioning", "reasoning", "cross_format")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="skelbench",
        description="Benchmark a SkeletonLLM checkpoint on recognition, captioning, reasoning QA and "
        "cross-format transfer, with a GCN baseline trained in the same run.",
    )
    p.add_argument("--version", action="version", version=f"skelbench {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser(
        "run", help="evaluate a checkpoint and write results.json, report.md and plots"
    )
    r.add_argument(
        "--model", required=True, help="SkeletonLLM checkpoint directory (or a saved baseline)"
    )
    r.add_argument("--suite", choices=("synth", "real", "all"), default="synth")
    r.add_argument(
        "--data-dir", default=None, help="folder holding the real datasets (for --suite real/all)"
    )
    r.add_argument(
        "--tasks",
        default=None,
        help="comma-separated task kinds (recognition,captioning,reasoning,cross_format) or task names",
    )
    r.add_argument("--out", default="skelbench-output", help="output directory")
    r.add_argument(
        "--limit", type=int, default=None, help="at most N test samples per task (class-balanced)"
    )
    r.add_argument("--batch-size", type=int, default=8)
    r.add_argument("--seed", type=int, default=0)
    r.add_argument(
        "--baseline-budget",
        type=float,
        default=15.0,
        help="CPU seconds (process CPU time / torch threads) given to each GCN baseline "
        "training (default 15, sized for the demo)",
    )
    r.add_argument("--no-baseline", action="store_true", help="skip the GCN baseline")
    r.add_argument(
        "--no-robustness", action="store_true", help="skip the dropped-joint / noise figures"
    )
    r.add_argument("--no-plots", action="store_true")
    r.add_argument("--synth-test-per-class", type=int, default=None)
    r.add_argument("--synth-train-per-class", type=int, default=None)
    r.add_argument("--quiet", action="store_true", help="no progress bars")
    r.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads per process (default 1: the tiny models are dominated by "
        "threading overhead, and shared cores make extra threads spin)",
    )

    sub.add_parser("list", help="list tasks and suites")

    t = sub.add_parser(
        "train-baseline", help="train the GCN baseline on a dataset's training split"
    )
    t.add_argument(
        "--dataset", default="synth", help="synth or a real dataset name (see `skelbench list`)"
    )
    t.add_argument("--data-dir", default=None)
    t.add_argument("--budget", type=float, default=60.0, help="CPU seconds of training")
    t.add_argument(
        "--layout",
        default="ntu25",
        help="layout every 3D input is converted to (2D data uses coco17)",
    )
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    t.add_argument(
        "--out", required=True, help="directory for baseline.safetensors + baseline.json"
    )
    return p


def _split_tasks(arg: str | None):
    if not arg:
        return None, None
    items = [x.strip() for x in arg.split(",") if x.strip()]
    names = [x for x in items if "/" in x]
    kinds = [x for x in items if "/" not in x]
    bad = [k for k in kinds if k not in KIND_NAMES]
    if bad:
        raise SystemExit(
            f"skelbench: unknown task kind(s) {bad}; choose from {', '.join(KIND_NAMES)}"
        )
    return (names or None), (kinds or None)


class _Progress:
    """rich progress bars, one per task label; a no-op when quiet or not rank 0."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.bar = None
        self.ids: dict[str, int] = {}

    def __enter__(self):
        if self.enabled:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self.bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                transient=False,
            )
            self.bar.__enter__()
        return self

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.__exit__(*exc)

    def __call__(self, label: str, done: int, total: int) -> None:
        if self.bar is None:
            return
        if label not in self.ids:
            self.ids[label] = self.bar.add_task(label, total=total or None)
        if total:
            self.bar.update(self.ids[label], completed=done, total=total)
        else:
            self.bar.update(self.ids[label], advance=1)


def print_table(doc: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    from skelbench.report import summary_rows

    table = Table(title=f"skelbench — {doc['model']['id']}", show_lines=False)
    for col in ("task", "n", "system", "main", "detail"):
        table.add_column(col, overflow="fold")
    for r in summary_rows(doc):
        table.add_row(r["task"], str(r["n"]), r["system"], r["main"], r["detail"])
    Console(width=160).print(table)


def _quiet_loader_warnings() -> None:
    """Readers warn about every recoverable defect (untracked frames, ...); the report lists the
    skipped files, so the console keeps to progress and the table."""
    import warnings

    from skelformats import SkelFormatWarning

    warnings.filterwarnings("ignore", category=SkelFormatWarning)
    warnings.filterwarnings("ignore", message="skipped ")


def _set_threads(n: int) -> None:
    import torch

    torch.set_num_threads(max(1, n))


def cmd_run(a) -> int:
    _quiet_loader_warnings()
    _set_threads(a.threads)
    from skelbench.api import Dist, evaluate
    from skelbench.report import write_run

    names, kinds = _split_tasks(a.tasks)
    dist = Dist()
    t0 = time.perf_counter()
    with _Progress(enabled=not a.quiet and dist.main) as prog:
        doc = evaluate(
            a.model,
            names,
            suite=a.suite,
            kinds=kinds,
            data_dir=a.data_dir,
            limit=a.limit,
            baseline=not a.no_baseline,
            baseline_budget_s=a.baseline_budget,
            batch_size=a.batch_size,
            seed=a.seed,
            robustness=not a.no_robustness,
            synth_test_per_class=a.synth_test_per_class,
            synth_train_per_class=a.synth_train_per_class,
            progress=prog,
        )
    if doc is None:  # not rank 0
        return 0
    clean = write_run(doc, a.out, plots=not a.no_plots)
    print_table(clean)
    print(
        f"wrote {Path(a.out) / 'results.json'}, report.md and plots/ in {time.perf_counter() - t0:.0f} s"
    )
    errors = [t["task"] for t in clean["tasks"] if t["status"] != "ok"]
    if errors:
        print(f"skelbench: {len(errors)} task(s) failed: {', '.join(errors)}", file=sys.stderr)
        return 1
    return 0


def cmd_list(a) -> int:
    from skelbench.datasets import PROTOCOLS
    from skelbench.tasks import list_tasks

    for suite in ("synth", "real"):
        print(f"suite {suite}:")
        for t in list_tasks(suite):
            print(f"  {t.name:42s} {t.kind:13s} {t.mode or '-':11s} {t.dataset}")
    print("datasets:")
    for k, v in PROTOCOLS.items():
        print(f"  {k:14s} {v}")
    return 0


def cmd_train_baseline(a) -> int:
    _set_threads(a.threads)
    from skelbench.baseline import DEFAULT_LAYOUT_2D, train_baseline
    from skelbench.datasets import load_split

    train = load_split(a.dataset, "train", a.data_dir)
    test = load_split(a.dataset, "test", a.data_dir)
    dims = min(s.motion.dims for s in train.samples + test.samples)
    t0 = time.perf_counter()
    model = train_baseline(
        [s.motion for s in train.samples],
        [s.label for s in train.samples],
        train.classes,
        layout=a.layout if dims == 3 else DEFAULT_LAYOUT_2D,
        dims=dims,
        budget_s=a.budget,
        seed=a.seed,
    )
    import numpy as np

    preds = model.logits([s.motion for s in test.samples]).argmax(-1).numpy()
    acc = float(np.mean(preds == np.asarray([s.label for s in test.samples])))
    model.save(a.out)
    print(
        f"{a.dataset}: trained on {len(train)} sequences ({model.train_stats['epochs']} epochs, "
        f"{time.perf_counter() - t0:.0f} s); test top-1 {100 * acc:.1f}% on {len(test)}; saved to {a.out}"
    )
    return 0


def main(argv=None) -> int:
    a = _parser().parse_args(argv)
    return {"run": cmd_run, "list": cmd_list, "train-baseline": cmd_train_baseline}[a.command](a)


if __name__ == "__main__":
    raise SystemExit(main())
