"""Untrimmed recordings: what happens when.

A recording is cut into overlapping windows (``window`` seconds every ``stride`` seconds). All windows
are scored in batches through the model's candidate scoring (``score(motions, prompt, labels)``, the
vision tower once per window), so any label list is a valid vocabulary. Each window owns the
``stride``-long slice around its centre (the first and last windows reach the recording's ends), so
the owned slices tile the recording; label probabilities are averaged over a few neighbouring windows (``smooth``), then
consecutive windows with the same label merge into one segment
whose score is the mean probability of that label, then temporal non-maximum suppression removes
lower-scored segments that overlap a kept one. Dense captioning runs the same windows through
``generate`` and merges consecutive identical captions into a timed description.

Times are seconds from the first frame (``frame / fps``). Motions with several people run per body.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

RECOGNITION_PROMPT = "What action is the person performing? Answer with the action name."
CAPTION_PROMPT = "Describe the motion of the person in one sentence."
DEFAULT_WINDOW = 2.0
DEFAULT_STRIDE = 0.5


@dataclass(frozen=True)
class Segment:
    """An interval ``[start, end)`` in seconds with its label (or caption) and score; ``body`` is the
    person index in a several-people recording."""

    start: float
    end: float
    label: str
    score: float = 1.0
    body: int = 0

    @property
    def duration(self) -> float:
        return self.end - self.start

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class WindowScores:
    """Per-window results of one body: frame bounds ``[a, b)``, owned times, label probabilities."""

    frames: np.ndarray  # (N, 2) int frame bounds [a, b)
    owned: np.ndarray  # (N, 2) float seconds, tiling [0, duration)
    probs: np.ndarray  # (N, C) softmax over the labels; NaN rows: the body is absent
    labels: list[str]
    fps: float

    @property
    def top(self) -> np.ndarray:
        """Best label per window; -1 where the body is absent (no observed joint)."""
        present = np.isfinite(self.probs).all(1)
        return np.where(present, np.nan_to_num(self.probs, nan=-1.0).argmax(1), -1)


# --------------------------------------------------------------------------- windows


def _frames(seconds: float, fps: float, what: str) -> int:
    if not np.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"{what} must be a positive number of seconds, got {seconds!r}")
    return max(1, int(round(seconds * fps)))


def window_bounds(num_frames: int, fps: float, window: float, stride: float) -> np.ndarray:
    """(N, 2) frame bounds ``[a, b)`` of the sliding windows; the last one ends at the last frame,
    a recording shorter than one window is one window."""
    w, s = _frames(window, fps, "window"), _frames(stride, fps, "stride")
    if stride > window:
        raise ValueError(f"stride ({stride} s) longer than window ({window} s) would skip frames")
    if num_frames <= w:
        return np.array([[0, num_frames]])
    starts = list(range(0, num_frames - w + 1, s))
    if starts[-1] + w < num_frames:
        starts.append(num_frames - w)
    return np.array([[a, a + w] for a in starts])


def owned_intervals(bounds: np.ndarray, num_frames: int, fps: float) -> np.ndarray:
    """(N, 2) seconds each window stands for: from the midpoint between its centre and the previous
    window's centre to the midpoint with the next one; the ends reach 0 and the duration."""
    centres = bounds.mean(1)
    edges = np.concatenate([[0.0], (centres[1:] + centres[:-1]) / 2, [float(num_frames)]])
    return np.stack([edges[:-1], edges[1:]], 1) / fps


def crop(motion, a: int, b: int):
    """Frames ``[a, b)`` of a single-person motion."""
    conf = None if motion.confidence is None else motion.confidence[a:b]
    return motion.replace(data=motion.data[a:b], confidence=conf)


def bodies(motions) -> list:
    """Single-person motions of a reader's result: a Motion (several people split by person) or a list."""
    items = motions if isinstance(motions, list | tuple) else [motions]
    out = []
    for m in items:
        if m.multi:
            out.extend(m.person(i) for i in range(m.num_people))
        else:
            out.append(m)
    return out


# --------------------------------------------------------------------------- scoring


def _softmax(x: np.ndarray) -> np.ndarray:
    x = x - x.max(1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(1, keepdims=True)


def score_windows(
    model,
    motion,
    labels: Sequence[str],
    *,
    window: float = DEFAULT_WINDOW,
    stride: float = DEFAULT_STRIDE,
    prompt: str = RECOGNITION_PROMPT,
    batch_size: int = 16,
) -> WindowScores:
    """Score every window of a single-person ``motion`` against ``labels`` with ``model.score``
    (a SkeletonLLM or anything with the same ``score(motions, prompts, candidates) -> (B, C)``)."""
    labels = _check_labels(labels)
    if motion.multi:
        raise ValueError("score_windows takes one person; split several people with bodies()")
    bounds = window_bounds(motion.num_frames, motion.fps, window, stride)
    # A tracked body may be absent for a while (confidence 0 in every joint): nothing to label there.
    seen = motion.mask.any(-1)
    present = np.flatnonzero([seen[a:b].any() for a, b in bounds])
    probs = np.full((len(bounds), len(labels)), np.nan)
    for i in range(0, len(present), batch_size):
        idx = present[i : i + batch_size]
        chunk = [crop(motion, *bounds[k]) for k in idx]
        s = model.score(chunk, [prompt] * len(chunk), list(labels))
        s = s.detach().float().cpu().numpy() if hasattr(s, "detach") else np.asarray(s, float)
        logp = np.asarray(s, np.float64).reshape(len(chunk), len(labels))
        # A closed-set classifier may give -inf to labels it never saw; keep them at ~0 probability.
        probs[idx] = _softmax(np.where(np.isfinite(logp), logp, -1e30))
    return WindowScores(
        bounds,
        owned_intervals(bounds, motion.num_frames, motion.fps),
        probs,
        list(labels),
        motion.fps,
    )


def _check_labels(labels) -> list[str]:
    if isinstance(labels, str):
        labels = [x.strip() for x in labels.split(",")]
    labels = [str(x) for x in labels if str(x).strip()]
    if not labels:
        raise ValueError("labels: give at least one label")
    if len(set(labels)) != len(labels):
        raise ValueError(f"labels: duplicates in {labels}")
    return labels


def default_labels() -> list[str]:
    """The synthetic action vocabulary (what the demo recipe trains on)."""
    from skelformats import synth

    return [a.replace("_", " ") for a in synth.ACTIONS]


# --------------------------------------------------------------------------- merging and NMS


def smooth_windows(ws: WindowScores, k: int = 3) -> WindowScores:
    """Label probabilities averaged over ``k`` consecutive windows centred on each (fewer at the
    ends; absent-body windows neither count nor change), so one stray window does not split a
    segment."""
    if k <= 1:
        return ws
    p, half = ws.probs, k // 2
    present = np.isfinite(p).all(1)
    out = np.full_like(p, np.nan)
    for i in np.flatnonzero(present):
        lo, hi = max(0, i - half), min(len(p), i + half + 1)
        out[i] = p[lo:hi][present[lo:hi]].mean(0)
    return replace(ws, probs=out)


def merge_windows(ws: WindowScores, *, top_k: int = 1, body: int = 0) -> list[Segment]:
    """Segments from runs of consecutive windows in which a label is among the ``top_k`` best; a
    segment spans the run's owned time, its score is the label's mean probability over the run."""
    present = ws.top >= 0
    order = np.argsort(-np.nan_to_num(ws.probs, nan=-1.0), 1)[:, : max(1, top_k)]
    out = []
    for c, name in enumerate(ws.labels):
        hit = (order == c).any(1) & present
        i = 0
        while i < len(hit):
            if not hit[i]:
                i += 1
                continue
            j = i
            while j + 1 < len(hit) and hit[j + 1]:
                j += 1
            out.append(
                Segment(
                    float(ws.owned[i, 0]),
                    float(ws.owned[j, 1]),
                    name,
                    float(ws.probs[i : j + 1, c].mean()),
                    body,
                )
            )
            i = j + 1
    return sorted(out, key=lambda s: (s.start, -s.score))


def temporal_iou(a: Segment | tuple, b: Segment | tuple) -> float:
    """Intersection over union of two intervals (start, end)."""
    s0, e0 = (a.start, a.end) if isinstance(a, Segment) else a[:2]
    s1, e1 = (b.start, b.end) if isinstance(b, Segment) else b[:2]
    inter = max(0.0, min(e0, e1) - max(s0, s1))
    union = max(e0, e1) - min(s0, s1)
    return inter / union if union > 0 else 0.0


def temporal_nms(
    segments: Sequence[Segment], iou_threshold: float = 0.5, *, class_agnostic: bool = False
) -> list[Segment]:
    """Greedy non-maximum suppression: highest score first, drop segments whose temporal IoU with a
    kept one (of the same label and body, or of the same body when ``class_agnostic``) exceeds the
    threshold. Returns the kept segments in time order."""
    kept: list[Segment] = []
    for s in sorted(segments, key=lambda s: (-s.score, s.start, s.end, s.label)):
        if all(
            k.body != s.body
            or (not class_agnostic and k.label != s.label)
            or temporal_iou(k, s) <= iou_threshold
            for k in kept
        ):
            kept.append(s)
    return sorted(kept, key=lambda s: (s.body, s.start, -s.score))


def frame_labels(ws: WindowScores, num_frames: int) -> np.ndarray:
    """(T,) label index per frame: the label of the window that owns the frame's time (-1: the
    body is absent there)."""
    t = (np.arange(num_frames) + 0.5) / ws.fps
    idx = np.clip(np.searchsorted(ws.owned[:, 1], t, side="right"), 0, len(ws.owned) - 1)
    return ws.top[idx]


# --------------------------------------------------------------------------- entry points


def timeline(
    model,
    motion,
    labels: Sequence[str] | str | None = None,
    *,
    window: float = DEFAULT_WINDOW,
    stride: float = DEFAULT_STRIDE,
    prompt: str = RECOGNITION_PROMPT,
    batch_size: int = 16,
    top_k: int = 1,
    nms_iou: float = 0.5,
    smooth: int = 3,
) -> list[Segment]:
    """Segments ``(start, end, label, score, body)`` of a whole recording, per tracked body.

    ``smooth``: probabilities averaged over that many consecutive windows before merging (1: off);
    ``top_k``: labels per window that may form segments; ``nms_iou``: temporal NMS threshold."""
    labels = _check_labels(default_labels() if labels is None else labels)
    out: list[Segment] = []
    for b, m in enumerate(bodies(motion)):
        ws = score_windows(
            model, m, labels, window=window, stride=stride, prompt=prompt, batch_size=batch_size
        )
        out += merge_windows(smooth_windows(ws, smooth), top_k=top_k, body=b)
    return temporal_nms(out, nms_iou)


def describe(
    model,
    motion,
    *,
    window: float = DEFAULT_WINDOW,
    stride: float = DEFAULT_STRIDE,
    prompt: str = CAPTION_PROMPT,
    batch_size: int = 8,
    max_new_tokens: int | None = None,
) -> list[Segment]:
    """Dense captions: one generated caption per window, consecutive identical captions merged;
    each Segment's ``label`` is the caption (score 1)."""
    out: list[Segment] = []
    kw = {} if max_new_tokens is None else {"max_new_tokens": max_new_tokens}
    for body, m in enumerate(bodies(motion)):
        bounds = window_bounds(m.num_frames, m.fps, window, stride)
        owned = owned_intervals(bounds, m.num_frames, m.fps)
        caps: list[str] = []
        for i in range(0, len(bounds), batch_size):
            chunk = [crop(m, a, b) for a, b in bounds[i : i + batch_size]]
            # One line per caption: whitespace runs (newlines included) become one space.
            caps += [
                " ".join(str(c).split()) for c in model.generate(chunk, [prompt] * len(chunk), **kw)
            ]
        for (s, e), cap in zip(owned, caps):
            if out and out[-1].body == body and out[-1].label == cap:
                out[-1] = Segment(out[-1].start, float(e), cap, 1.0, body)
            else:
                out.append(Segment(float(s), float(e), cap, 1.0, body))
    return out


def format_description(segments: Sequence[Segment]) -> str:
    """``"0.0-2.1 s: walks forward; 2.1-3.0 s: sits down"`` (one line per body when several)."""
    by_body: dict[int, list[str]] = {}
    for s in segments:
        by_body.setdefault(s.body, []).append(f"{s.start:.1f}-{s.end:.1f} s: {s.label}")
    lines = ["; ".join(v) for _, v in sorted(by_body.items())]
    if len(lines) == 1:
        return lines[0]
    return "\n".join(f"body {b}: {line}" for b, line in zip(sorted(by_body), lines))


# --------------------------------------------------------------------------- files


def untrimmed(path: str | Path, format: str | None = None) -> tuple[list, list[Segment] | None]:
    """A recording as whole single-person streams, plus its labelled segments when the file comes
    with them (a UTKinect joints file beside ``actionLabel.txt`` reads as its labelled pieces; the
    whole stream is rebuilt from the file and the pieces become the ground truth)."""
    import skelformats

    loaded = skelformats.load(path, format=format)
    items = loaded if isinstance(loaded, list) else [loaded]
    if not items:
        raise ValueError(f"{path}: no motion in the file")
    srcs = {m.meta.get("source") for m in items}
    pieces = all("frame_range" in m.meta and "frame_ids" in m.meta for m in items)
    if pieces and len(srcs) == 1 and items[0].meta.get("dataset") == "UTKinect":
        from skelformats.readers.utkinect import read_joints_file

        ids, joints = read_joints_file(Path(path))
        first = items[0]
        whole = first.replace(data=joints.astype(np.float32), confidence=None, meta={})
        whole.meta.update(source=str(path), frame_ids=ids)
        truth = []
        for m in items:
            lo, hi = m.meta["frame_range"]
            rows = np.flatnonzero((ids >= lo) & (ids <= hi))
            truth.append(
                Segment(
                    rows[0] / whole.fps,
                    (rows[-1] + 1) / whole.fps,
                    _words(str(m.meta.get("action", ""))),
                )
            )
        return [whole], truth
    return bodies(items), None


def _words(name: str) -> str:
    """``sitDown`` -> ``sit down`` (dataset action ids as the words labels are given in)."""
    import re

    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name).replace("_", " ").lower()


__all__ = [
    "CAPTION_PROMPT",
    "RECOGNITION_PROMPT",
    "Segment",
    "WindowScores",
    "bodies",
    "crop",
    "default_labels",
    "describe",
    "format_description",
    "frame_labels",
    "merge_windows",
    "owned_intervals",
    "score_windows",
    "smooth_windows",
    "temporal_iou",
    "temporal_nms",
    "timeline",
    "untrimmed",
    "window_bounds",
]
