"""``skelbench`` command line: ``run``, ``list``, ``train-baseline``.

Exit status: 0 done, 1 a failure (a model that does not load, a task that failed), 2 a usage error.
Every argument is checked before a model or a dataset is loaded; errors are one line on stderr and
``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
import time
from pathlib import Path

from skelformats.cliutils import (
    ExamplesFormatter,
    Parser,
    UsageError,
    examples,
    no_command,
    run_command,
)

from skelbench import __version__

PROG = "skelbench"


def _int_at_least(low: int):
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if v < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {v}")
        return v

    return parse


def _seconds(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not math.isfinite(v) or v <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number of seconds above 0, got {text}")
    return v


def _parser() -> argparse.ArgumentParser:
    debug = argparse.ArgumentParser(add_help=False)
    debug.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks"
    )
    p = Parser(
        prog=PROG,
        description="Benchmark a SkeletonLLM checkpoint on recognition, captioning, reasoning QA and "
        "cross-format transfer, with a GCN baseline trained in the same run.",
        epilog=examples(
            "skelbench list",
            "skelbench run --model demo-output/model -o bench",
            "skelbench run --model demo-output/model --suite real --data-dir ../shared/data -o bench",
            "skelbench COMMAND --help                    # options and examples of one command",
        ),
        formatter_class=ExamplesFormatter,
    )
    p.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    p.add_argument(
        "--debug", action="store_true", help="show tracebacks instead of one-line errors"
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    common = {"parents": [debug], "formatter_class": ExamplesFormatter}

    r = sub.add_parser(
        "run",
        help="evaluate a checkpoint and write results.json, report.md and plots",
        description="Evaluate --model on the tasks of --suite (or --tasks) and write results.json, "
        "report.md and plots/ to --out. Every argument is checked before the model is loaded.",
        epilog=examples(
            "skelbench run --model demo-output/model -o bench",
            "skelbench run --model demo-output/model --tasks recognition,reasoning --limit 20 -o quick",
            "skelbench run --model demo-output/model --suite real --data-dir ../shared/data -o real",
            "skelbench run --model demo-output/model --tasks utkinect/recognition "
            "--data-dir ../shared/data -o utk",
        ),
        **common,
    )
    r.add_argument(
        "--model",
        required=True,
        metavar="CKPT",
        help="SkeletonLLM checkpoint directory (or a saved baseline)",
    )
    r.add_argument(
        "--suite",
        choices=("synth", "real", "all"),
        default="synth",
        help="synth (generated, no data needed), real (needs --data-dir) or all",
    )
    r.add_argument(
        "--data-dir",
        default=None,
        help=f"folder holding the real datasets (for --suite real/all; default ${{{_DATA_ENV}}})",
    )
    r.add_argument(
        "--tasks",
        default=None,
        help="comma-separated task kinds (recognition,captioning,reasoning,cross_format) or task "
        "names (see `skelbench list`)",
    )
    r.add_argument(
        "--include-path",
        action="append",
        default=None,
        metavar="DIR",
        help="register the tasks of every YAML file in DIR (repeatable); name them with --tasks",
    )
    r.add_argument("-o", "--out", default="skelbench-output", help="output directory")
    r.add_argument(
        "--limit",
        type=_int_at_least(1),
        default=None,
        help="at most N test samples per task (class-balanced)",
    )
    r.add_argument(
        "--batch-size", type=_int_at_least(1), default=8, help="samples per model call (default 8)"
    )
    r.add_argument("--seed", type=int, default=0, help="seed of sampling and the baseline")
    r.add_argument(
        "--baseline-budget",
        type=_seconds,
        default=15.0,
        help="CPU seconds (process CPU time / torch threads) given to each GCN baseline "
        "training (default 15, sized for the demo)",
    )
    r.add_argument("--no-baseline", action="store_true", help="skip the GCN baseline")
    r.add_argument(
        "--no-robustness", action="store_true", help="skip the dropped-joint / noise figures"
    )
    r.add_argument("--no-plots", action="store_true", help="write no PNG figures")
    r.add_argument(
        "--synth-test-per-class",
        type=_int_at_least(1),
        default=None,
        help="synthetic test sequences per class",
    )
    r.add_argument(
        "--synth-train-per-class",
        type=_int_at_least(1),
        default=None,
        help="synthetic training sequences per class (baseline)",
    )
    r.add_argument("--quiet", action="store_true", help="no progress bars, errors only in the log")
    r.add_argument("--verbose", action="count", default=0, help="more log output (-vv: debug)")
    r.add_argument(
        "--threads",
        type=_int_at_least(1),
        default=1,
        help="torch CPU threads per process (default 1: the tiny models are dominated by "
        "threading overhead, and shared cores make extra threads spin)",
    )
    from skeletonllm.devices import add_device_args

    add_device_args(r, what="the evaluated model (a GCN baseline stays on the CPU)")

    li = sub.add_parser(
        "list",
        help="list tasks and suites",
        epilog=examples("skelbench list", "skelbench list --include-path my_tasks/"),
        **common,
    )
    li.add_argument(
        "--include-path",
        action="append",
        default=None,
        metavar="DIR",
        help="also list the tasks of every YAML file in DIR (repeatable)",
    )

    t = sub.add_parser(
        "train-baseline",
        help="train the GCN baseline on a dataset's training split",
        epilog=examples(
            "skelbench train-baseline --dataset synth --budget 30 -o gcn-synth",
            "skelbench train-baseline --dataset utkinect --data-dir ../shared/data -o gcn-utk",
        ),
        **common,
    )
    t.add_argument(
        "--dataset", default="synth", help="synth or a real dataset name (see `skelbench list`)"
    )
    t.add_argument("--data-dir", default=None, help="folder holding the real datasets")
    t.add_argument("--budget", type=_seconds, default=60.0, help="CPU seconds of training")
    t.add_argument(
        "--layout",
        default="ntu25",
        help="layout every 3D input is converted to (2D data uses coco17)",
    )
    t.add_argument("--seed", type=int, default=0, help="seed of the initialisation and batches")
    t.add_argument(
        "--threads", type=_int_at_least(1), default=1, help="torch CPU threads (default 1)"
    )
    t.add_argument(
        "-o",
        "--out",
        required=True,
        help="directory for baseline.safetensors + baseline.json",
    )
    return p


_DATA_ENV = "SKEL_DATA_DIR"


# --------------------------------------------------------------------------- validation


def _check_out(out: str) -> None:
    """``out`` can be created as a folder: not a file, under a writable existing folder."""
    p = Path(out)
    if p.exists() and not p.is_dir():
        raise UsageError(f"--out {out}: is a file, not a folder")
    probe = p
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise UsageError(f"--out {out}: {probe} is a file, not a folder")
    if probe.exists() and not os.access(probe, os.W_OK | os.X_OK):
        raise UsageError(f"--out {out}: {probe} is not writable")


def _check_data_dir(data_dir: str | None, why: str) -> None:
    if data_dir is None:
        if not os.environ.get(_DATA_ENV):
            raise UsageError(
                f"{why} needs --data-dir (the folder of the real datasets) or ${_DATA_ENV}"
            )
        return
    if not Path(data_dir).is_dir():
        raise UsageError(f"--data-dir {data_dir}: folder not found")


def _split_tasks(arg: str | None):
    """(names, kinds) of ``--tasks``; unknown kinds or names are usage errors."""
    from skelbench.tasks import KINDS, get_task, list_tasks

    if not arg:
        return None, None
    items = [x.strip() for x in arg.split(",") if x.strip()]
    names = [x for x in items if "/" in x]
    kinds = [x for x in items if "/" not in x]
    bad = [k for k in kinds if k not in KINDS]
    if bad:
        raise UsageError(f"--tasks: unknown task kind(s) {bad}; choose from {', '.join(KINDS)}")
    for n in names:
        try:
            get_task(n)
        except KeyError:
            known = ", ".join(t.name for s in ("synth", "real") for t in list_tasks(s))
            raise UsageError(f"--tasks: unknown task {n!r}; known: {known}") from None
    return (names or None), (kinds or None)


def _include(paths) -> None:
    """Register the task YAML files of each ``--include-path``."""
    from skelbench.tasks import include_path

    for d in paths or ():
        try:
            include_path(d)
        except ValueError as e:
            raise UsageError(f"--include-path {d}: {e}") from None


def check_run(a) -> tuple[list[str] | None, list[str] | None]:
    """Every usage error of ``skelbench run``, before anything heavy is loaded."""
    _include(a.include_path)
    model = Path(a.model)
    from skeletonllm.hub import looks_like_repo_id

    if not model.exists() and looks_like_repo_id(a.model):
        model = None  # a Hub id: resolved (or refused in one line) when the model loads
    elif not model.exists():
        raise UsageError(f"--model {a.model}: checkpoint directory not found")
    if model is not None and not model.is_dir():
        raise UsageError(f"--model {a.model}: not a directory (give the checkpoint folder)")
    names, kinds = _split_tasks(a.tasks)
    real_named = names and any(not n.startswith("synth/") for n in names)
    if a.suite in ("real", "all") and not names:
        _check_data_dir(a.data_dir, f"--suite {a.suite}")
    elif real_named:
        _check_data_dir(a.data_dir, "a real-data task")
    elif a.data_dir is not None:
        _check_data_dir(a.data_dir, "")
    _check_out(a.out)
    from skeletonllm.devices import resolve_device

    try:
        a.device = resolve_device(a.device)
    except ValueError as e:
        raise UsageError(str(e)) from None
    return names, kinds


# --------------------------------------------------------------------------- progress


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
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
            )

            self.bar = Progress(
                SpinnerColumn(finished_text=" "),
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
        from rich.markup import escape

        if label not in self.ids:
            # Labels hold brackets ("[drop10]") that rich would read as markup and drop.
            self.ids[label] = self.bar.add_task(escape(label), total=total or None)
        if total:
            self.bar.update(self.ids[label], completed=done, total=total)
        else:
            self.bar.update(self.ids[label], advance=1)


def print_table(doc: dict) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from skelbench.report import summary_rows

    table = Table(title=escape(f"skelbench — {doc['model']['id']}"), show_lines=False)
    for col in ("task", "n", "system", "main", "detail"):
        table.add_column(col, overflow="fold")
    for r in summary_rows(doc):
        table.add_row(*(escape(str(r[k])) for k in ("task", "n", "system", "main", "detail")))
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


# --------------------------------------------------------------------------- commands


def cmd_run(a) -> int:
    names, kinds = check_run(a)
    _quiet_loader_warnings()
    _set_threads(a.threads)
    from skelbench import models
    from skelbench.api import Dist, evaluate
    from skelbench.report import write_run

    # a bad checkpoint fails here, in one line
    model = models.load_model(a.model, device=a.device, dtype=a.dtype)
    dist = Dist()
    try:
        t0 = time.perf_counter()
        with _Progress(enabled=not a.quiet and dist.main) as prog:
            doc = evaluate(
                model,
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
                model_path=a.model,
                progress=prog,
            )
        if doc is None:  # not rank 0
            return 0
        clean = write_run(doc, a.out, plots=not a.no_plots, model=model)
        print_table(clean)
        print(
            f"wrote {Path(a.out) / 'results.json'}, report.md and plots/ in {time.perf_counter() - t0:.0f} s"
        )
        errors = [t["task"] for t in clean["tasks"] if t["status"] != "ok"]
        if errors:
            print(f"{PROG}: {len(errors)} task(s) failed: {', '.join(errors)}", file=sys.stderr)
            return 1
        return 0

    finally:
        dist.close()


def _readable(protocol: str) -> str:
    """A protocol template as prose: no raw ``{placeholders}`` (they are filled from the data)."""
    text = protocol.replace(
        "row {k} (train {tr} / test {te})",
        "row k (default 0: train subjects 3,4,5,6,10 / test 1,2,7,8,9)",
    )
    return re.sub(r"\{(\w+)\}", r"\1", text)


def _needs(t) -> str:
    """The data an on-request task reads, as ``skelbench list`` shows it."""
    names = [x.split(":")[0] for x in (t.source, t.dataset) if x]
    if names == ["folder"]:
        return "needs your folder: --data-dir DIR (class sub-folders)"
    return f"needs {' + '.join(dict.fromkeys(names))} under --data-dir"


def cmd_list(a) -> int:
    from skelbench.datasets import PROTOCOLS
    from skelbench.tasks import list_tasks

    _include(getattr(a, "include_path", None))
    for suite in ("synth", "real"):
        print(f"suite {suite}:")
        for t in list_tasks(suite):
            print(f"  {t.name:42s} {t.kind:13s} {t.mode or '-':11s} {t.dataset}")
    extra = [t for t in list_tasks(on_request=True) if t.options.get("on_request")]
    if extra:
        print("on request (left out of --suite runs; name them with --tasks):")
        for t in extra:
            print(f"  {t.name:42s} {t.kind:13s} {t.mode or '-':11s} {_needs(t)}")
    print("datasets:")
    for k, v in PROTOCOLS.items():
        print(f"  {k:14s} {_readable(v)}")
    return 0


def cmd_train_baseline(a) -> int:
    if a.dataset != "synth":
        _check_data_dir(a.data_dir, f"--dataset {a.dataset}")
    _check_out(a.out)
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


COMMANDS = {"run": cmd_run, "list": cmd_list, "train-baseline": cmd_train_baseline}


def main(argv=None) -> int:
    parser = _parser()
    a = parser.parse_args(argv)
    if a.command is None:
        return no_command(PROG, parser)
    from skeletonllm.logging_utils import setup_logging

    setup_logging(getattr(a, "verbose", 0), bool(getattr(a, "quiet", False)))
    return run_command(f"{PROG} {a.command}", lambda: COMMANDS[a.command](a), debug=a.debug)


if __name__ == "__main__":
    raise SystemExit(main())
