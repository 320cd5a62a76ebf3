"""``skeletonllm render``: skeleton files -> GIF, MP4 or PNG, with the fixed or a checkpoint's renderer."""

from __future__ import annotations

import sys

from ._common import FORMATTER, UsageError, examples, existing_dir, existing_file, positive_int


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "render",
        help="draw skeleton files as a GIF, MP4 or PNG (what a model sees, with --model)",
        description="Render FILE... (any format skelformats reads) to OUT: an animation (.gif, .mp4; "
        "one row per file) or a contact sheet (.png; one row per file, frames left to right). "
        "Without --model the fixed renderer draws each body part in its own colour; with --model "
        "the checkpoint's learned DrAction draws exactly the frames that model receives.",
        epilog=examples(
            "skeletonllm render walk.bvh -o walk.gif",
            "skeletonllm render a01_s01_e01_skeleton3D.txt --views 3 --frames 6 -o views.png",
            "skeletonllm render S001C001P001R001A001.skeleton --model demo-output/model -o seen.png",
            "skeletonllm render clip.json -o clip.mp4      # needs: pip install 'skeletonllm[video]'",
        ),
        formatter_class=FORMATTER,
    )
    p.add_argument(
        "files", nargs="+", metavar="FILE", type=existing_file, help="skeleton files (any format)"
    )
    p.add_argument(
        "-o", "--out", required=True, metavar="OUT", help="output file: .gif, .mp4 or .png"
    )
    p.add_argument(
        "--model",
        type=existing_dir,
        default=None,
        metavar="CKPT",
        help="render with this checkpoint's learned DrAction (default: the fixed renderer)",
    )
    p.add_argument(
        "--views",
        type=positive_int,
        default=None,
        metavar="K",
        help="views side by side (default 1)",
    )
    p.add_argument(
        "--size",
        type=positive_int,
        nargs=2,
        default=None,
        metavar=("H", "W"),
        help="pixels of each view (default 112 112; with --model: the checkpoint's)",
    )
    p.add_argument(
        "--frames",
        type=positive_int,
        default=None,
        metavar="F",
        help="frames sampled evenly from each sequence (default 8)",
    )
    p.add_argument(
        "--scale", type=positive_int, default=1, help="enlarge every pixel N times (default 1)"
    )
    p.add_argument("--fps", type=float, default=None, help="animation speed (default: real time)")
    p.add_argument("--format", default=None, help="force a reader (default: detect)")
    p.set_defaults(func=run)


def check(args) -> None:
    """Usage errors, before anything is loaded."""
    from ..render import RenderError, check_output

    if args.model and (args.views is not None or args.frames is not None):
        raise UsageError(
            "--views and --frames come from the checkpoint with --model (its renderer learned them)"
        )
    if args.fps is not None and not (0 < args.fps <= 100):
        raise UsageError(f"--fps must lie in (0, 100], got {args.fps}")
    try:
        check_output(args.out)
    except RenderError as exc:
        raise UsageError(str(exc)) from None


def run(args) -> int:
    check(args)
    import skelformats

    from ..render import FixedRenderer, ModelRenderer, render_files

    motions = []
    for f in args.files:
        got = skelformats.load(f, format=args.format)
        motions += got if isinstance(got, list) else [got]
    if args.model:
        renderer = ModelRenderer(args.model, size=args.size)
    else:
        renderer = FixedRenderer(
            frames=args.frames or 8, size=args.size or (112, 112), views=args.views or 1
        )
    out = render_files(motions, args.out, renderer, scale=args.scale, fps=args.fps)
    print(
        f"wrote {out}: {len(motions)} sequence(s), {renderer.frames} frames of "
        f"{renderer.size[0]}x{renderer.size[1]}, {renderer.views} view(s), "
        f"{'renderer of ' + args.model if args.model else 'fixed renderer'}",
        file=sys.stdout,
    )
    return 0
