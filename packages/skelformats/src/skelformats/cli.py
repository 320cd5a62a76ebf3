"""Command line: ``skelformats layouts | info FILE | convert IN OUT --to LAYOUT``.

Exit status: 0 done, 1 the file could not be read or converted, 2 a usage error (found before the file
is read). Errors are one line on stderr; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import warnings
from pathlib import Path

import numpy as np

from . import __version__
from .canonical import PART_NAMES
from .cliutils import ExamplesFormatter, Parser, UsageError, examples, no_command, run_command
from .convert import convert
from .errors import SkelFormatWarning, UnknownLayoutError
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


LENGTH_UNITS = {"m": 1.0, "cm": 0.01, "mm": 0.001, "in": 0.0254}


def _units(text: str) -> str | float:
    if text in LENGTH_UNITS:
        return text
    try:
        v = float(text)
    except ValueError:
        v = float("nan")
    if not (v > 0 and v < float("inf")):
        raise argparse.ArgumentTypeError(
            f"expected one of {', '.join(LENGTH_UNITS)} or metres per file unit, got {text!r}"
        )
    return v


def _project(text: str) -> str:
    if len(text) != 2 or set(text) - set("xyz") or text[0] == text[1]:
        raise argparse.ArgumentTypeError(
            f"expected two different axes of x, y, z (e.g. xy), got {text!r}"
        )
    return text


def _existing_file(text: str) -> str:
    if not Path(text).exists():
        raise argparse.ArgumentTypeError(f"{text}: file not found")
    return text


def _with_units(m, units):
    """``m`` with its length unit declared (a number: metres per file unit, the values rescaled)."""
    if isinstance(units, str):
        return m.replace(layout=dataclasses.replace(m.layout, units=units))
    return m.replace(data=m.data * units, layout=dataclasses.replace(m.layout, units="m"))


def _cmd_convert(args) -> int:
    try:
        target = get_layout(args.to)
    except UnknownLayoutError:
        raise UsageError(
            f"--to {args.to!r}: unknown layout; `skelformats layouts` lists them"
        ) from None
    result = load(args.input, format=args.format)
    items = result if isinstance(result, list) else [result]
    src = items[0].layout
    if src.dims == 3 and target.dims == 2 and args.project is None:
        raise UsageError(
            f"{args.input}: converting 3D {src.name} to 2D {target.name} needs a projection: "
            "pass --project with the two axes kept, e.g. --project xy"
        )
    if args.project is not None and not (src.dims == 3 and target.dims == 2):
        raise UsageError(f"--project is only for 3D -> 2D conversion ({src.name} -> {target.name})")
    if args.units is not None:
        items = [_with_units(m, args.units) for m in items]
    elif src.units is None and target.units in LENGTH_UNITS:
        # Without a declared unit the values would pass unscaled into a layout that says metres.
        raise UsageError(
            f"{args.input}: the file does not state its length unit and {target.name} is in "
            f"{target.units}: pass --units (m, cm, mm, in, or metres per file unit, e.g. --units 0.0254)"
        )
    if len(items) == 1 and not args.output.endswith(("/", os.sep)):
        targets = [Path(args.output)]
    else:  # several sequences (e.g. a dataset .mat): one file each in the OUT folder
        out_dir = Path(args.output)
        out_dir.mkdir(parents=True, exist_ok=True)
        stem = Path(args.input).name.split(".")[0]
        targets = [out_dir / f"{stem}_{i:04d}.{args.ext}" for i in range(len(items))]
    for m, target_path in zip(items, targets):
        out = convert(m, target, project=args.project)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", SkelFormatWarning)
            save(out, target_path)
        for w in caught:
            print(f"warning: {w.message}", file=sys.stderr)
        n_missing = int((out.mask.reshape(-1, out.num_joints) == 0).all(axis=0).sum())
        print(
            f"wrote {target_path}: {out.num_frames} frames, layout {out.layout.name}, "
            f"units {out.layout.units or '?'}"
            f"{f', {n_missing} joints missing' if n_missing else ''}"
        )
    return 0


def build_parser() -> argparse.ArgumentParser:
    debug = argparse.ArgumentParser(add_help=False)
    debug.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks"
    )
    p = Parser(
        prog="skelformats",
        description="Skeleton formats: inspect and convert files.",
        epilog=examples(
            "skelformats layouts -v",
            "skelformats info 01_01.bvh",
            "skelformats convert 07_04.bvh walk.npz --to smpl22 --units cm",
        ),
        formatter_class=ExamplesFormatter,
    )
    p.add_argument("--version", action="version", version=f"skelformats {__version__}")
    p.add_argument(
        "--debug", action="store_true", help="show tracebacks instead of one-line errors"
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    common = {"parents": [debug], "formatter_class": ExamplesFormatter}
    s = sub.add_parser(
        "layouts",
        help="list registered joint layouts",
        epilog=examples(
            "skelformats layouts", "skelformats layouts -v   # every joint, and the readers"
        ),
        **common,
    )
    s.add_argument("-v", "--verbose", action="store_true", help="list every joint")
    s.set_defaults(func=_cmd_layouts)
    s = sub.add_parser(
        "info",
        help="describe a skeleton file (layout, frames, fps, people, missing joints)",
        epilog=examples(
            "skelformats info a01_s01_e01_skeleton3D.txt",
            "skelformats info clip.csv --format mediapipe",
        ),
        **common,
    )
    s.add_argument(
        "file", metavar="FILE", type=_existing_file, help="skeleton file in any supported format"
    )
    s.add_argument("--format", default=None, help="reader name (default: detect)")
    s.set_defaults(func=_cmd_info)
    s = sub.add_parser(
        "convert",
        help="convert a file to another layout (.npz or .bvh output)",
        description="Convert IN to layout --to and write OUT (.npz or .bvh). When IN holds "
        "several sequences, OUT is a folder receiving one file per sequence. Lengths are converted "
        "to the target layout's unit; a file that does not state its unit (BVH) needs --units.",
        epilog=examples(
            "skelformats convert a01_s01_e01_skeleton3D.txt a01.npz --to ntu25",
            "skelformats convert 07_04.bvh walk.npz --to smpl22 --units cm",
            "skelformats convert S001C001P001R001A001.skeleton front.npz --to coco17 --project xy",
            "skelformats convert skeletal_data.mat florence/ --to ntu25   # one file per sequence",
        ),
        **common,
    )
    s.add_argument(
        "input",
        metavar="IN",
        type=_existing_file,
        help="skeleton file to read (any supported format)",
    )
    s.add_argument(
        "output", metavar="OUT", help="file to write (.npz or .bvh), or a folder ending in /"
    )
    s.add_argument(
        "--ext", default="npz", choices=("npz", "bvh"), help="file type written into an OUT folder"
    )
    s.add_argument("--to", required=True, help="target layout name (see `skelformats layouts`)")
    s.add_argument("--format", default=None, help="input reader name (default: detect)")
    s.add_argument(
        "--project",
        type=_project,
        default=None,
        help="axes kept for 3D -> 2D, e.g. xy (a view along z)",
    )
    s.add_argument(
        "--units",
        type=_units,
        default=None,
        help="length unit of IN when the file does not say (m, cm, mm, in, or metres per unit)",
    )
    s.set_defaults(func=_cmd_convert)
    from .datasets.cli import add_parser as _add_dataset_parser

    _add_dataset_parser(sub, **common)
    return p


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        return no_command("skelformats", parser)
    return run_command(f"skelformats {args.command}", lambda: args.func(args), debug=args.debug)


if __name__ == "__main__":
    sys.exit(main())
