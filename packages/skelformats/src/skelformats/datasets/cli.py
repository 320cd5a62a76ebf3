"""``skelformats dataset info ROOT --name NAME``: protocols and split sizes of a dataset."""

from __future__ import annotations

import sys


def add_parser(sub, **common) -> None:
    """Add the ``dataset`` command (sub-command ``info``) to the ``skelformats`` parser."""
    examples = (
        "examples:\n"
        "  skelformats dataset info nturgb+d_skeletons --name ntu60\n"
        "  skelformats dataset info my_clips/ --name folder -v\n"
        "  skelformats dataset info data.csv --name manifest"
    )
    d = sub.add_parser(
        "dataset",
        help="inspect a dataset folder (protocols, split sizes, skipped files)",
        epilog=examples,
        **common,
    )
    dsub = d.add_subparsers(
        dest="dataset_command", metavar="SUBCOMMAND", required=True, help="info"
    )
    s = dsub.add_parser(
        "info",
        help="print the protocols and split sizes of a dataset",
        description="Read ROOT as dataset --name (parsing its files once into the cache) and "
        "print its classes, protocols and split sizes.",
        epilog=examples,
        **common,
    )
    s.add_argument("root", metavar="ROOT", help="dataset folder (or manifest / .pkl file)")
    s.add_argument("--name", required=True, help="dataset name, e.g. ntu60, humanml3d, folder")
    s.add_argument("--no-cache", action="store_true", help="parse without the on-disk cache")
    s.add_argument("--workers", type=int, default=None, help="parsing processes (default: auto)")
    s.add_argument("-v", "--verbose", action="store_true", help="list skipped files and classes")
    s.set_defaults(func=cmd_info)


def cmd_info(args, out=None) -> int:
    from . import load

    out = out or sys.stdout
    opts = {"workers": args.workers}
    if args.no_cache:
        opts["cache"] = False
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = load(args.name, args.root, **opts)
    print(
        f"{ds.name}: {len(ds.examples)} examples, {len(ds.classes)} classes  ({ds.root})", file=out
    )
    for p in ds.protocol_specs.values():
        sizes = ", ".join(f"{s} {len(i)}" for s, i in p.splits.items())
        print(f"  {p.name:<18} {sizes}", file=out)
        if p.description:
            print(f"  {'':<18} {p.description}", file=out)
        if p.unseen:
            print(f"  {'':<18} unseen: {'; '.join(p.unseen)}", file=out)
    print(f"skipped: {len(ds.skipped)}; reader warnings: {len(caught)}", file=out)
    if args.verbose:
        for s in ds.skipped:
            print(f"  {s}", file=out)
        for w in caught:
            print(f"  warning: {w.message}", file=out)
        for i, c in enumerate(ds.classes):
            print(f"  class {i}: {c}", file=out)
    return 0


__all__ = ["add_parser", "cmd_info"]
