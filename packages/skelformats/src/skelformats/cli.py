"""Command line: ``skelformats layouts | info FILE | convert IN OUT --to LAYOUT``."""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

import numpy as np

from . import __version__
from .canonical import PART_NAMES
from .convert import convert
from .errors import SkelFormatError, SkelFormatWarning
from .layout import part_tags
from .registry import get_layout, list_layouts, list_readers, load, save


def _cmd_layouts(args) -> int:
    for name in list_layouts():
        lay = get_layout(name)
        n_can = sum(c is not None for c in lay.canonical)
        print(
            f"{name:<16} {lay.num_joints:>3} joints  {lay.dims}D  units={lay.units or '?':<10} "
            f"canonical={n_can}/{lay.num_joints}"
        )
        if args.verbose:
            tags = part_tags(lay)
            for j, (jn, c) in enumerate(zip(lay.joints, lay.canonical)):
                p = (
                    "-"
                    if lay.parents is None
                    else (lay.joints[lay.parents[j]] if lay.parents[j] >= 0 else "(root)")
                )
                print(
                    f"    {j:>3} {jn:<18} parent={p:<18} canonical={c or '-':<18} part={PART_NAMES[tags[j]]}"
                )
    if args.verbose:
        print("readers:", ", ".join(sorted(list_readers())))
    return 0


def _describe(m, out) -> None:
    lay = m.layout
    print(f"{m.meta.get('source', '?')}", file=out)
    print(
        f"  layout:   {lay.name} ({lay.num_joints} joints, {lay.dims}D, units={lay.units or '?'})",
        file=out,
    )
    print(f"  frames:   {m.num_frames}", file=out)
    print(f"  fps:      {m.fps:g} ({m.duration:.2f} s)", file=out)
    print(f"  people:   {m.num_people}", file=out)
    mask = m.mask.reshape(-1, m.num_joints)
    frac = 1.0 - mask.mean(axis=0)
    missing = [f"{lay.joints[j]} ({frac[j]:.0%})" for j in np.flatnonzero(frac > 0)]
    print(f"  missing:  {', '.join(missing) if missing else 'none'}", file=out)
    extra = {k: v for k, v in m.meta.items() if k not in ("source",) and np.isscalar(v)}
    if extra:
        print("  meta:     " + ", ".join(f"{k}={v}" for k, v in extra.items()), file=out)


def _cmd_info(args) -> int:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SkelFormatWarning)
        result = load(args.file, format=args.format)
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)
    items = result if isinstance(result, list) else [result]
    if len(items) > 1:
        print(f"{args.file}: {len(items)} sequences")
    for m in items:
        _describe(m, sys.stdout)
    return 0


def _cmd_convert(args) -> int:
    result = load(args.input, format=args.format)
    items = result if isinstance(result, list) else [result]
    if len(items) == 1 and not args.output.endswith(("/", os.sep)):
        targets = [Path(args.output)]
    else:  # several sequences (e.g. a dataset .mat): one file each in the OUT folder
        out_dir = Path(args.output)
        out_dir.mkdir(parents=True, exist_ok=True)
        stem = Path(args.input).name.split(".")[0]
        targets = [out_dir / f"{stem}_{i:04d}.{args.ext}" for i in range(len(items))]
    for m, target in zip(items, targets):
        out = convert(m, args.to, project=args.project)
        save(out, target)
        n_missing = int((out.mask.reshape(-1, out.num_joints) == 0).all(axis=0).sum())
        print(
            f"wrote {target}: {out.num_frames} frames, layout {out.layout.name}"
            f"{f', {n_missing} joints missing' if n_missing else ''}"
        )
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="skelformats", description="Skeleton formats: inspect and convert files."
    )
    p.add_argument("--version", action="version", version=f"skelformats {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("layouts", help="list registered joint layouts")
    s.add_argument("-v", "--verbose", action="store_true", help="list every joint")
    s.set_defaults(func=_cmd_layouts)
    s = sub.add_parser(
        "info", help="describe a skeleton file (layout, frames, fps, people, missing joints)"
    )
    s.add_argument("file")
    s.add_argument("--format", default=None, help="reader name (default: detect)")
    s.set_defaults(func=_cmd_info)
    s = sub.add_parser(
        "convert",
        help="convert a file to another layout (.npz or .bvh output)",
        description="Convert IN to layout --to and write OUT (.npz or .bvh). When IN holds "
        "several sequences, OUT is a folder receiving one file per sequence.",
    )
    s.add_argument("input")
    s.add_argument("output")
    s.add_argument(
        "--ext", default="npz", choices=("npz", "bvh"), help="file type written into an OUT folder"
    )
    s.add_argument("--to", required=True, help="target layout name")
    s.add_argument("--format", default=None, help="input reader name (default: detect)")
    s.add_argument("--project", default=None, help="axes for 3D -> 2D, e.g. xy")
    s.set_defaults(func=_cmd_convert)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except SkelFormatError as e:
        print(f"skelformats: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into e.g. `head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
