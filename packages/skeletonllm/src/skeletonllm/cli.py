"""``skeletonllm`` command line: train, predict, plus subcommands found in ``skeletonllm.commands``.

Exit status: 0 done, 1 the work failed (unreadable file, bad checkpoint, bad config), 2 a usage error
(found before anything heavy is loaded). Errors are one line on stderr; ``--debug`` shows the traceback.
Nothing here imports torch before the arguments are parsed, so ``--help`` answers at once.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys

from skelformats.cliutils import Parser, no_command, run_command

from . import __version__
from .commands._common import (
    FORMATTER,
    UsageError,
    examples,
    existing_file,
    positive_int,
)
from .devices import add_device_args
from .logging_utils import get_logger, setup_logging

PROG = "skeletonllm"
log = get_logger("skeletonllm.cli")


def _device(args) -> str:
    """``--device`` checked against this machine before any model loads (a usage error, exit 2)."""
    from .devices import resolve_device

    try:
        device = resolve_device(args.device)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    log.info("device %s, backbone dtype %s", device, args.dtype or "as saved")
    return device


def _add_verbosity(parser) -> None:
    g = parser.add_mutually_exclusive_group()
    g.add_argument(
        "-v", "--verbose", action="count", default=0, help="more log output (-vv: debug)"
    )
    g.add_argument("-q", "--quiet", action="store_true", help="errors only")


def _place_training(device: str) -> None:
    """Point accelerate at ``device``: it places the model and batches itself."""
    import os

    if device == "cpu":
        os.environ["ACCELERATE_USE_CPU"] = "true"
    elif device.startswith("cuda:"):  # a single process: "cuda" means the current device
        import torch

        torch.cuda.set_device(int(device.partition(":")[2]))


def _cmd_train(args) -> int:
    from .runconfig import load_yaml

    device = _device(args) if args.device is not None else None
    spec = load_yaml(args.config)
    if device is not None:
        _place_training(device)
    kw = {"dtype": args.dtype} if args.dtype else {}
    if "stages" in spec:
        from .recipe import run_recipe

        final = run_recipe(args.config, resume=args.resume, **kw)
        run_dir = getattr(final, "parent", None)
    else:
        from .runconfig import train_from_config

        res = train_from_config(args.config, resume=args.resume, **kw)
        if not res.is_main_process:
            return 0
        print(
            f"trained {res.step} steps, final loss {res.loss:.4f}, {res.samples_per_s:.1f} samples/s "
            f"-> {res.model_dir}"
        )
        run_dir = res.out_dir
    if run_dir is not None and not args.no_plot:
        from .lossplot import PlotError, plot_run

        try:
            print(f"loss curves: {plot_run(run_dir)}")
        except (PlotError, OSError) as exc:  # the model is saved; a missing plot is not a failure
            print(f"{PROG} train: warning: no loss plot ({exc})", file=sys.stderr)
    return 0


def checkpoint_ref(text: str) -> str:
    """argparse type: a checkpoint folder, or a Hub id ``org/name`` (resolved when loading)."""
    from pathlib import Path

    from .hub import looks_like_repo_id

    p = Path(text)
    if p.is_dir():
        return text
    if p.exists():
        raise argparse.ArgumentTypeError(f"{text}: not a folder")
    if looks_like_repo_id(text):
        return text
    raise argparse.ArgumentTypeError(f"{text}: folder not found (nor a Hub id like org/name)")


def _candidates(text: str) -> list[str]:
    items = [x.strip() for x in text.split(",")]
    if not all(items) or len(items) < 2:
        raise argparse.ArgumentTypeError(
            f"expected two or more comma-separated answers, got {text!r}"
        )
    return items


def _cmd_predict(args) -> int:
    device = _device(args)
    import skelformats

    names, motions = [], []
    for f in args.files:
        got = skelformats.load(f, format=args.format)
        items = got if isinstance(got, list) else [got]
        names += [f] if len(items) == 1 else [f"{f}#{i}" for i in range(len(items))]
        motions += items
    from .model import SkeletonLLM

    model = SkeletonLLM.from_pretrained(args.model, device=device, dtype=args.dtype)
    answers, scores = [], []
    for i in range(0, len(motions), args.batch_size):
        chunk = motions[i : i + args.batch_size]
        prompts = [args.question] * len(chunk)
        if args.candidates:
            s = model.score(chunk, prompts, args.candidates).tolist()
            scores += s
            answers += [args.candidates[max(range(len(r)), key=r.__getitem__)] for r in s]
        else:
            answers += model.generate(chunk, prompts, max_new_tokens=args.max_new_tokens)
    for k, (name, answer) in enumerate(zip(names, answers)):
        if args.json:
            row = {"file": name, "answer": answer}
            if args.candidates:
                row["scores"] = dict(zip(args.candidates, scores[k]))
            print(json.dumps(row))
        else:
            print(f"{name}\t{answer}" if len(names) > 1 else answer)
    return 0


def build_parser() -> argparse.ArgumentParser:
    debug = argparse.ArgumentParser(add_help=False)
    debug.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks"
    )
    p = Parser(
        prog=PROG,
        description="Skeleton-understanding VLM: train, query, serve, render and plot.",
        epilog=examples(
            "skeletonllm train recipes/demo.yaml",
            "skeletonllm predict --model demo-output/model walk.bvh",
            "skeletonllm render walk.bvh -o walk.gif",
            "skeletonllm COMMAND --help                   # options and examples of one command",
        ),
        formatter_class=FORMATTER,
    )
    p.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    p.add_argument(
        "--debug", action="store_true", help="show tracebacks instead of one-line errors"
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    real_add = sub.add_parser

    def add_parser(name, **kw):  # every subcommand takes --debug and keeps its epilog's line breaks
        kw.setdefault("formatter_class", FORMATTER)
        kw["parents"] = [*kw.get("parents", []), debug]
        return real_add(name, **kw)

    sub.add_parser = add_parser

    t = sub.add_parser(
        "train",
        help="train from a YAML config (single stage, or a staged recipe with 'stages:')",
        description="Train from CONFIG and write a loss plot (loss.png) of its metrics at the end. "
        "An output folder that already holds a run is refused unless --resume continues it.",
        epilog=examples(
            "skeletonllm train recipes/demo.yaml",
            "skeletonllm train recipes/demo.yaml --resume   # continue an interrupted run",
            "accelerate launch --num_processes 2 --cpu -m skeletonllm train run.yaml",
        ),
    )
    t.add_argument(
        "config", type=existing_file, help="YAML run config or staged recipe (with 'stages:')"
    )
    t.add_argument(
        "--resume",
        action="store_true",
        help="continue from the latest checkpoint in the output folder",
    )
    t.add_argument("--no-plot", action="store_true", help="do not write loss.png at the end")
    add_device_args(t, what="training")
    _add_verbosity(t)
    t.set_defaults(func=_cmd_train)

    pr = sub.add_parser(
        "predict",
        help="answer a question about skeleton files of any supported format",
        description="Answer QUESTION about each FILE with the model at --model: free text, or with "
        "--candidates the most likely of the given answers (scored, as `serve` does).",
        epilog=examples(
            "skeletonllm predict --model demo-output/model walk.bvh",
            "skeletonllm predict --model demo-output/model a.skeleton b.skeleton "
            "--candidates 'wave,clap,kick' --json",
        ),
    )
    pr.add_argument(
        "--model",
        required=True,
        type=checkpoint_ref,
        metavar="CKPT",
        help="checkpoint folder or Hub id (org/name)",
    )
    pr.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        type=existing_file,
        help="skeleton files (any format skelformats reads)",
    )
    pr.add_argument(
        "--question",
        default="What action is the person performing?",
        help="the question asked about every file (default: %(default)r)",
    )
    pr.add_argument(
        "--candidates",
        type=_candidates,
        default=None,
        metavar="A,B,...",
        help="comma-separated answers to choose from (closed set, scored by likelihood)",
    )
    pr.add_argument(
        "--json", action="store_true", help="one JSON object per file (with candidate scores)"
    )
    pr.add_argument("--format", default=None, help="force a reader (default: detect)")
    pr.add_argument(
        "--max-new-tokens", type=positive_int, default=32, help="longest free-text answer (tokens)"
    )
    pr.add_argument("--batch-size", type=positive_int, default=8, help="files per forward pass")
    add_device_args(pr)
    _add_verbosity(pr)
    pr.set_defaults(func=_cmd_predict)

    _register_commands(sub)
    return p


def _register_commands(sub) -> None:
    """Each module in ``skeletonllm.commands`` exposing ``register(subparsers)`` adds its subcommands."""
    try:
        pkg = importlib.import_module("skeletonllm.commands")
    except ImportError:
        return
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"skeletonllm.commands.{info.name}")
        if hasattr(mod, "register"):
            mod.register(sub)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        return no_command(PROG, parser)
    setup_logging(getattr(args, "verbose", 0), bool(getattr(args, "quiet", False)))
    return run_command(f"{PROG} {args.command}", lambda: args.func(args), debug=args.debug)


if __name__ == "__main__":
    sys.exit(main())
