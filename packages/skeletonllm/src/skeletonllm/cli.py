"""``skeletonllm`` command line: train, predict, plus subcommands found in ``skeletonllm.commands``."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from . import __version__


def _cmd_train(args) -> int:
    from .runconfig import load_yaml, train_from_config

    spec = load_yaml(args.config)
    if "stages" in spec:
        from .recipe import run_recipe

        run_recipe(args.config, resume=args.resume)
        return 0
    res = train_from_config(args.config, resume=args.resume)
    if res.is_main_process:
        print(
            f"trained {res.step} steps, final loss {res.loss:.4f}, {res.samples_per_s:.1f} samples/s -> {res.model_dir}"
        )
    return 0


def _cmd_predict(args) -> int:
    import skelformats

    from .model import SkeletonLLM

    model = SkeletonLLM.from_pretrained(args.model)
    motions = [skelformats.load(f, format=args.format) for f in args.files]
    answers = []
    for i in range(0, len(motions), args.batch_size):
        chunk = motions[i : i + args.batch_size]
        answers += model.generate(
            chunk, [args.question] * len(chunk), max_new_tokens=args.max_new_tokens
        )
    for f, a in zip(args.files, answers):
        print(f"{f}\t{a}" if len(args.files) > 1 else a)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="skeletonllm", description="Skeleton-understanding VLM: train and query."
    )
    p.add_argument("--version", action="version", version=f"skeletonllm {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    t = sub.add_parser(
        "train", help="train from a YAML config (single stage, or a staged recipe with 'stages:')"
    )
    t.add_argument("config", help="YAML run config")
    t.add_argument(
        "--resume", action="store_true", help="continue from the latest checkpoint in out_dir"
    )
    t.set_defaults(func=_cmd_train)

    pr = sub.add_parser(
        "predict", help="answer a question about skeleton files of any supported format"
    )
    pr.add_argument("--model", required=True, help="checkpoint directory")
    pr.add_argument("files", nargs="+", help="skeleton files (any format skelformats reads)")
    pr.add_argument("--question", default="What action is the person performing?")
    pr.add_argument("--format", default=None, help="force a reader (default: detect)")
    pr.add_argument("--max-new-tokens", type=int, default=32)
    pr.add_argument("--batch-size", type=int, default=8)
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
        parser.print_help()
        return 0
    try:
        from skelformats import SkelFormatError
    except ImportError:  # pragma: no cover - skelformats is a dependency
        SkelFormatError = ValueError  # noqa: N806
    try:
        return int(args.func(args) or 0)
    except (ValueError, OSError, SkelFormatError) as exc:
        print(f"skeletonllm {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
