"""``skeletonllm plot``: the loss curves of a training run (one panel per stage) as a PNG."""

from __future__ import annotations

from pathlib import Path

from ._common import FORMATTER, UsageError, examples, existing_dir


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "plot",
        help="plot the loss curves of a training run (metrics.jsonl of each stage)",
        description="Read RUN_DIR/metrics.jsonl (single-stage run) or RUN_DIR/stages/*/metrics.jsonl "
        "(staged recipe) and write one panel per stage: the loss, the objective's parts and the "
        "learning rate when it changes. `skeletonllm train` writes the same plot when it ends.",
        epilog=examples(
            "skeletonllm plot demo-output                 # writes demo-output/loss.png",
            "skeletonllm plot runs/demo -o losses.png",
        ),
        formatter_class=FORMATTER,
    )
    p.add_argument(
        "run_dir",
        metavar="RUN_DIR",
        type=existing_dir,
        help="output folder of `skeletonllm train` (train.out_dir or the recipe's output_dir)",
    )
    p.add_argument(
        "-o", "--out", default=None, metavar="PNG", help="output file (default RUN_DIR/loss.png)"
    )
    p.set_defaults(func=run)


def run(args) -> int:
    if args.out is not None:
        out = Path(args.out)
        if out.suffix.lower() != ".png":
            raise UsageError(f"{out}: the plot is written as .png")
        if not (out.parent if str(out.parent) else Path(".")).is_dir():
            raise UsageError(f"{out}: folder {out.parent} does not exist")
    from ..lossplot import plot_run

    print(f"wrote {plot_run(args.run_dir, args.out)}")
    return 0
