"""``skeletonllm distill``: teacher rationales for a dataset, written to JSONL (resumable by sample id)."""

from __future__ import annotations

import argparse
import json
import sys

from ._common import existing_file, positive_int


def _kv(text: str) -> tuple[str, object]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "distill",
        help="write teacher rationales for a dataset to JSONL (resumable)",
        description="Write a step-by-step rationale per labelled sample to OUT (JSONL). Samples already in "
        "OUT (by id) are skipped, so an interrupted run continues where it stopped.",
        epilog="examples:\n"
        "  skeletonllm distill --synth 4 --out rationales.jsonl\n"
        "  skeletonllm distill --manifest data.csv --split train --out rationales.jsonl\n"
        "  skeletonllm distill --manifest train.jsonl --teacher openai "
        "--teacher-arg base_url=http://127.0.0.1:8000/v1 --out rationales.jsonl",
    )
    p.add_argument("-o", "--out", required=True, help="output JSONL file (appended to)")
    p.add_argument(
        "--teacher", default="kinematic", help="teacher name (kinematic, openai, hf, ...)"
    )
    p.add_argument(
        "--teacher-arg",
        action="append",
        type=_kv,
        default=[],
        metavar="KEY=VALUE",
        help="teacher keyword argument (JSON values allowed), e.g. base_url=http://127.0.0.1:8000/v1",
    )
    src = p.add_mutually_exclusive_group()
    src.add_argument(
        "--synth",
        type=positive_int,
        metavar="PER_CLASS",
        default=None,
        help="the synthetic suite with PER_CLASS samples per action (default: 4)",
    )
    src.add_argument(
        "--manifest",
        type=existing_file,
        help="CSV (with a header) or JSONL manifest of skeleton files: path,label[,split][,text]"
        "[,id] (the one manifest schema of skelformats.datasets; ids default to the path)",
    )
    p.add_argument(
        "--split",
        default=None,
        help="with --manifest: only the rows of this split (the manifest's split column)",
    )
    p.add_argument(
        "--actions", default=None, help="comma-separated synthetic actions (default: all)"
    )
    p.add_argument(
        "--layouts", default="ntu25", help="comma-separated layouts for the synthetic suite"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic suite")
    p.add_argument("--batch-size", type=positive_int, default=8, help="samples per teacher call")
    p.add_argument(
        "--quiet", "--no-progress", dest="no_progress", action="store_true", help="no progress bar"
    )
    p.set_defaults(func=run)


def run(args) -> int:
    from ..distill import distill, manifest_samples, synthetic_samples
    from ..teachers import get_teacher

    try:
        teacher = get_teacher(args.teacher, **dict(args.teacher_arg))
    except (KeyError, TypeError, ValueError) as e:
        print(f"skeletonllm distill: {e}", file=sys.stderr)
        return 2
    if args.split is not None and not args.manifest:
        print("skeletonllm distill: --split needs --manifest", file=sys.stderr)
        return 2
    if args.manifest:
        samples, total = manifest_samples(args.manifest, split=args.split), None
    else:
        actions = args.actions.split(",") if args.actions else None
        samples = synthetic_samples(
            args.synth or 4, actions=actions, layouts=args.layouts.split(","), seed=args.seed
        )
        total = len(samples)
    stats = distill(
        samples,
        teacher,
        args.out,
        batch_size=args.batch_size,
        progress=not args.no_progress,
        total=total,
    )
    print(json.dumps(stats))
    return 0
