"""``skeletonllm timeline``: what happens when in an untrimmed recording (segments, JSON, plot)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from ._common import (
    FORMATTER,
    UsageError,
    examples,
    existing_dir,
    existing_file,
    positive_float,
    positive_int,
)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "timeline",
        help="label the actions of a long recording over time (sliding windows, merged, NMS)",
        description="Score sliding windows of FILE against the labels with the model's candidate "
        "scoring (any label list: open vocabulary), merge consecutive windows with the same label "
        "and apply temporal non-maximum suppression; several people run per body. Prints one line "
        "per segment (start-end, label, score); --captions adds a timed description.",
        epilog=examples(
            "skeletonllm timeline long.bvh --model demo-output/model --labels walk,squat,wave",
            "skeletonllm timeline joints_s06_e01.txt --model CKPT --window 2 --stride 0.5 "
            "--json t.json --plot t.png",
        ),
        formatter_class=FORMATTER,
    )
    p.add_argument("file", type=existing_file, help="skeleton file (any format skelformats reads)")
    p.add_argument("--model", required=True, type=existing_dir, metavar="CKPT", help="checkpoint")
    p.add_argument("--window", type=positive_float, default=2.0, help="window seconds (2.0)")
    p.add_argument(
        "--stride", type=positive_float, default=0.5, help="seconds between windows (0.5)"
    )
    p.add_argument(
        "--labels",
        default=None,
        help="comma-separated candidate labels (default: the synthetic action vocabulary)",
    )
    p.add_argument("--json", default=None, metavar="OUT", help="write the segments as JSON")
    p.add_argument("--plot", default=None, metavar="OUT.png", help="draw labels over time")
    p.add_argument(
        "--captions", action="store_true", help="also caption every window (dense captioning)"
    )
    p.add_argument("--format", default=None, help="force a reader (default: detect)")
    p.add_argument("--batch-size", type=positive_int, default=16, help="windows per model call")
    p.add_argument("--top-k", type=positive_int, default=1, help="labels per window kept (1)")
    p.add_argument("--nms-iou", type=float, default=0.5, help="temporal NMS IoU threshold (0.5)")
    p.add_argument(
        "--smooth", type=positive_int, default=3, help="windows averaged before merging (3; 1: off)"
    )
    p.add_argument(
        "--live",
        action="store_true",
        help="replay FILE at its frame rate into the streaming recogniser and print labels as "
        "they come (with their latency)",
    )
    p.add_argument(
        "--speed", type=positive_float, default=1.0, help="replay speed factor for --live (1.0)"
    )
    p.set_defaults(func=run)


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def plot(segments, truth, duration: float, path: Path, title: str = "") -> None:
    """Labels over time, one row per body plus the ground truth when known."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [
        (f"body {b}", [s for s in segments if s.body == b])
        for b in sorted({s.body for s in segments})
    ]
    if truth:
        rows.append(("truth", truth))
    names = sorted({s.label for _, segs in rows for s in segs})
    cmap = plt.get_cmap("tab20")
    colour = {n: cmap(i % 20) for i, n in enumerate(names)}
    fig, ax = plt.subplots(figsize=(max(6.0, min(24.0, duration / 3)), 1.2 + 0.6 * len(rows)))
    for r, (_, segs) in enumerate(rows):
        for s in segs:
            ax.broken_barh(
                [(s.start, s.end - s.start)], (r - 0.4, 0.8), facecolors=colour[s.label], alpha=0.85
            )
    ax.set_yticks(range(len(rows)), [n for n, _ in rows])
    ax.set_xlim(0, duration)
    ax.set_xlabel("time (s)")
    ax.invert_yaxis()
    handles = [plt.Rectangle((0, 0), 1, 1, color=colour[n]) for n in names]
    ax.legend(
        handles,
        names,
        loc="center left",
        bbox_to_anchor=(1.01, 0.5),
        ncol=max(1, -(-len(names) // max(2, 2 * len(rows)))),
        fontsize=8,
        frameon=False,
    )
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    _atomic_write(path, buf.getvalue())


def run(args) -> int:
    from .. import timeline as TL
    from ..model import SkeletonLLM

    if args.stride > args.window:
        raise UsageError(f"--stride {args.stride} is longer than --window {args.window}")
    if not 0 <= args.nms_iou <= 1:
        raise UsageError(f"--nms-iou must be between 0 and 1, got {args.nms_iou}")
    try:
        labels = TL._check_labels(args.labels) if args.labels else TL.default_labels()
    except ValueError as exc:
        raise UsageError(f"--{exc}") from None
    streams, truth = TL.untrimmed(args.file, format=args.format)
    model = SkeletonLLM.from_pretrained(args.model)
    if args.live:
        return _live(model, streams, labels, args)
    segments = TL.timeline(
        model,
        streams,
        labels,
        window=args.window,
        stride=args.stride,
        batch_size=args.batch_size,
        top_k=args.top_k,
        nms_iou=args.nms_iou,
        smooth=args.smooth,
    )
    captions = (
        TL.describe(model, streams, window=args.window, stride=args.stride) if args.captions else []
    )
    for s in segments:
        prefix = f"body {s.body}\t" if len(streams) > 1 else ""
        print(f"{prefix}{s.start:.1f}-{s.end:.1f} s\t{s.label}\t{s.score:.3f}")
    if captions:
        print(TL.format_description(captions))
    duration = max(m.duration for m in streams)
    if args.json:
        doc = {
            "file": str(args.file),
            "model": str(args.model),
            "window": args.window,
            "stride": args.stride,
            "labels": labels,
            "bodies": len(streams),
            "duration": duration,
            "segments": [s.to_dict() for s in segments],
        }
        if captions:
            doc["captions"] = [s.to_dict() for s in captions]
            doc["description"] = TL.format_description(captions)
        if truth is not None:
            doc["ground_truth"] = [s.to_dict() for s in truth]
        _atomic_write(Path(args.json), json.dumps(doc, indent=2).encode())
    if args.plot:
        plot(segments, truth, duration, Path(args.plot), title=Path(args.file).name)
    return 0


def _live(model, streams, labels, args) -> int:
    """Frames of every body pushed in step at the recording's frame rate; labels printed as emitted."""
    import numpy as np

    from ..streaming import StreamingRecognizer, replay

    recs = [
        StreamingRecognizer(
            model, labels, layout=m.layout, fps=m.fps, window=args.window, stride=args.stride
        )
        for m in streams
    ]
    n = min(m.num_frames for m in streams)
    clock = replay(streams[0].replace(data=streams[0].data[:n], confidence=None), speed=args.speed)
    rows = []
    for f, (_, arrived) in enumerate(clock):
        for b, (m, rec) in enumerate(zip(streams, recs)):
            conf = None if m.confidence is None else m.confidence[f]
            ev = rec.push(m.data[f], conf, arrived=arrived)
            if ev is None:
                continue
            who = f"body {b}\t" if len(streams) > 1 else ""
            print(
                f"{who}{ev.start:.1f}-{ev.end:.1f} s\t{ev.label}\t{ev.score:.3f}\t"
                f"latency {1000 * ev.latency:.0f} ms",
                flush=True,
            )
            rows.append(dict(ev.to_dict(), body=b))
    lat = np.array([r["latency"] for r in rows]) if rows else np.array([np.nan])
    print(
        f"{len(rows)} labels, latency median {1000 * np.median(lat):.0f} ms, "
        f"p95 {1000 * np.percentile(lat, 95):.0f} ms"
    )
    if args.json:
        doc = {"file": str(args.file), "live": True, "labels": labels, "events": rows}
        _atomic_write(Path(args.json), json.dumps(doc, indent=2).encode())
    return 0
