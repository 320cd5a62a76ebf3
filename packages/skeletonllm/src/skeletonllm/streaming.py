"""Live recognition: frames in as they arrive, labels out with a bounded delay.

``StreamingRecognizer.push(frame)`` keeps the last ``window`` seconds of frames and, every ``stride``
seconds of input, scores that window against the labels (the same candidate scoring as recognition
and :mod:`skeletonllm.timeline`) and returns an :class:`Event`. Frames that arrived while the previous
window was being scored (their arrival time is before it finished) are taken in without scoring, so
the recogniser never queues work: a frame's label comes at most one stride of input (or one scoring
time, when scoring is slower) plus one scoring time after the frame arrived. ``stream`` wraps it as a generator over any frame iterable, ``replay``
plays a recorded motion at its frame rate, and ``measure`` reports the latency figures.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from .timeline import DEFAULT_STRIDE, DEFAULT_WINDOW, RECOGNITION_PROMPT, _check_labels, _softmax


@dataclass(frozen=True)
class Event:
    """The label of the window of frames ``[first, last]`` (indices in the stream).

    arrived: clock time the window's newest frame arrived; emitted: clock time the label was ready.
    """

    first: int
    last: int
    start: float
    end: float
    label: str
    score: float
    arrived: float
    emitted: float

    @property
    def latency(self) -> float:
        return self.emitted - self.arrived

    def to_dict(self) -> dict:
        return dict(asdict(self), latency=self.latency)


class StreamingRecognizer:
    """Sliding-window recognition over frames pushed one at a time.

    frame: (J, C) joints of one person in ``layout``; optional confidence (J,) (0 = missing).
    A first label comes once ``min_window`` seconds of frames are in (default: a full window).
    """

    def __init__(
        self,
        model,
        labels: Sequence[str] | str,
        *,
        layout,
        fps: float,
        window: float = DEFAULT_WINDOW,
        stride: float = DEFAULT_STRIDE,
        min_window: float | None = None,
        prompt: str = RECOGNITION_PROMPT,
        clock: Callable[[], float] = time.perf_counter,
    ):
        from skelformats import Motion

        self._Motion = Motion
        self.model = model
        self.labels = _check_labels(labels)
        self.layout = layout
        if not (math.isfinite(fps) and fps > 0):
            raise ValueError(f"fps must be positive, got {fps!r}")
        self.fps = float(fps)
        self.window_frames = max(1, round(window * fps))
        self.stride_frames = max(1, round(stride * fps))
        mw = window if min_window is None else min_window
        self.min_frames = min(self.window_frames, max(1, round(mw * fps)))
        self.prompt = prompt
        self.clock = clock
        self._joints: deque = deque(maxlen=self.window_frames)
        self._conf: deque = deque(maxlen=self.window_frames)
        self._count = 0
        self._since = 0
        self._busy_until = -math.inf  # clock time the last scoring finished
        self.events: list[Event] = []

    @property
    def frames_seen(self) -> int:
        return self._count

    def push(self, frame, confidence=None, *, arrived: float | None = None) -> Event | None:
        """Add one frame; returns an Event when a window was scored, else None. ``arrived``: the
        frame's arrival time on ``clock`` (default: now)."""
        arrived = self.clock() if arrived is None else arrived
        j = np.asarray(frame, np.float32)
        if j.ndim != 2:
            raise ValueError(f"frame must be (joints, coords), got shape {j.shape}")
        if self._joints and j.shape != self._joints[-1].shape:
            raise ValueError(f"frame shape {j.shape} differs from {self._joints[-1].shape}")
        self._joints.append(j)
        self._conf.append(
            np.ones(j.shape[0], np.float32) if confidence is None else np.asarray(confidence)
        )
        self._count += 1
        self._since += 1
        if len(self._joints) < self.min_frames:
            return None
        if self.events and (self._since < self.stride_frames or arrived < self._busy_until):
            return None  # not a stride yet, or a backlog frame that came in during the last scoring
        return self._emit(arrived)

    def _emit(self, arrived: float) -> Event:
        conf = np.stack(self._conf)
        motion = self._Motion(
            np.stack(self._joints),
            self.layout,
            fps=self.fps,
            confidence=None if bool((conf > 0).all()) else conf,
        )
        s = self.model.score([motion], [self.prompt], self.labels)
        s = s.detach().float().cpu().numpy() if hasattr(s, "detach") else np.asarray(s, float)
        p = _softmax(np.where(np.isfinite(s), s, -1e30).reshape(1, -1).astype(np.float64))[0]
        now = self.clock()
        self._busy_until = now
        self._since = 0
        last = self._count - 1
        first = last - len(self._joints) + 1
        k = int(p.argmax())
        ev = Event(
            first,
            last,
            first / self.fps,
            (last + 1) / self.fps,
            self.labels[k],
            float(p[k]),
            arrived,
            now,
        )
        self.events.append(ev)
        return ev


def stream(
    model,
    frames: Iterable,
    labels: Sequence[str] | str,
    *,
    layout,
    fps: float,
    **kwargs,
) -> Iterator[Event]:
    """Generator: Events for ``frames``, an iterable of (J, C) arrays or ``(frame, arrival_time)``
    pairs (as ``replay`` yields them)."""
    rec = StreamingRecognizer(model, labels, layout=layout, fps=fps, **kwargs)
    for item in frames:
        if isinstance(item, tuple):
            ev = rec.push(item[0], arrived=item[1])
        else:
            ev = rec.push(item)
        if ev is not None:
            yield ev


def replay(
    motion,
    *,
    speed: float = 1.0,
    clock: Callable[[], float] = time.perf_counter,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[tuple[np.ndarray, float]]:
    """Play a single-person motion at its frame rate (``speed`` times faster; ``math.inf`` for as
    fast as it is consumed): yields ``(frame, arrival_time)``. A consumer that falls behind gets the
    overdue frames at once, stamped with the time they were due."""
    if motion.multi:
        raise ValueError("replay plays one person; pick one with motion.person(i)")
    period = 0.0 if math.isinf(speed) else 1.0 / (motion.fps * speed)
    t0 = clock()
    for i in range(motion.num_frames):
        due = t0 + i * period
        wait = due - clock()
        if wait > 0:
            sleep(wait)
        yield motion.data[i], (due if period else clock())


def frame_delays(events: Sequence[Event], arrivals: Sequence[float]) -> np.ndarray:
    """Per frame: seconds from its arrival to the first label whose window holds it (NaN for the
    frames after the last label)."""
    out = np.full(len(arrivals), np.nan)
    ev = sorted(events, key=lambda e: e.last)
    k = 0
    for f, t in enumerate(arrivals):
        while k < len(ev) and ev[k].last < f:
            k += 1
        if k < len(ev) and ev[k].first <= f:
            out[f] = ev[k].emitted - t
    return out


def measure(
    model,
    motion,
    labels: Sequence[str] | str,
    *,
    window: float = DEFAULT_WINDOW,
    stride: float = DEFAULT_STRIDE,
    speed: float = 1.0,
) -> dict:
    """Replay ``motion`` into a recogniser and summarise: label latency (newest frame -> label),
    frame-to-label delay (every frame after the first full window), time to the first label, and
    the frame rate sustained end to end."""
    rec = StreamingRecognizer(
        model, labels, layout=motion.layout, fps=motion.fps, window=window, stride=stride
    )
    arrivals = []
    t0 = time.perf_counter()
    for frame, arrived in replay(motion, speed=speed):
        arrivals.append(arrived)
        rec.push(frame, arrived=arrived)
    wall = time.perf_counter() - t0
    lat = np.array([e.latency for e in rec.events])
    # Steady state: frames after the first full window (before it, every frame waits for the window
    # to fill, which is the start-up delay reported on its own).
    delay = frame_delays(rec.events, arrivals)[rec.window_frames - 1 :]
    delay = delay[np.isfinite(delay)]
    first = rec.events[0].emitted - arrivals[0] if rec.events else float("nan")

    def q(x, p):
        return float(np.percentile(x, p)) if len(x) else float("nan")

    return {
        "frames": motion.num_frames,
        "input_fps": motion.fps * speed if math.isfinite(speed) else None,
        "sustained_fps": motion.num_frames / wall,
        "labels_emitted": len(rec.events),
        "first_label_s": first,
        "latency_median_s": q(lat, 50),
        "latency_p95_s": q(lat, 95),
        "frame_delay_median_s": q(delay, 50),
        "frame_delay_p95_s": q(delay, 95),
        "frame_delay_max_s": float(delay.max()) if len(delay) else float("nan"),
        "window_s": window,
        "stride_s": stride,
    }


def demo_stream(layout: str = "kinect_v1_20", actions=("walk", "squat", "wave"), fps=30.0):
    """Synthetic actions one after the other (``skelformats.synth``), a recording to replay."""
    from skelformats import Motion, synth

    parts = [synth.generate(a, layout=layout, seed=i) for i, a in enumerate(actions)]
    parts = [p if p.fps == fps else _resample(p, fps) for p in parts]
    return Motion(np.concatenate([p.data for p in parts]), layout, fps=fps)


def _resample(motion, fps: float):
    t = np.arange(0, motion.duration, 1.0 / fps) * motion.fps
    idx = np.clip(np.round(t).astype(int), 0, motion.num_frames - 1)
    return motion.replace(data=motion.data[idx], confidence=None, fps=fps)


def main(argv: list[str] | None = None) -> int:
    """``python -m skeletonllm.streaming --model CKPT``: live figures on this machine (one thread):
    real-time replay at 30 frames/s (latency, frame-to-label delay), the frame rate sustained when
    frames come as fast as they are taken, and beside it the offline batched timeline's frame rate."""
    import argparse
    import json

    import torch

    from .model import SkeletonLLM
    from .timeline import default_labels, timeline

    ap = argparse.ArgumentParser(prog="python -m skeletonllm.streaming", description=main.__doc__)
    ap.add_argument("--model", required=True, help="checkpoint directory")
    ap.add_argument("--file", default=None, help="recording to replay (default: synthetic, 30 fps)")
    ap.add_argument("--labels", default=None, help="comma-separated labels (default: synthetic)")
    ap.add_argument("--window", type=float, default=DEFAULT_WINDOW)
    ap.add_argument("--stride", type=float, default=DEFAULT_STRIDE)
    ap.add_argument("--fps", type=float, default=30.0, help="input frame rate of the replay")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    model = SkeletonLLM.from_pretrained(args.model).eval()
    labels = args.labels.split(",") if args.labels else default_labels()
    if args.file:
        from .timeline import untrimmed

        motion = untrimmed(args.file)[0][0]
        motion = motion if motion.fps == args.fps else _resample(motion, args.fps)
    else:
        motion = demo_stream(fps=args.fps)
    kw = {"window": args.window, "stride": args.stride}
    measure(model, _head(motion), labels, speed=math.inf, **kw)  # warm-up
    live = measure(model, motion, labels, speed=1.0, **kw)
    fast = measure(model, motion, labels, speed=math.inf, **kw)
    t0 = time.perf_counter()
    timeline(model, motion, labels, **kw)
    offline_fps = motion.num_frames / (time.perf_counter() - t0)
    out = {
        "threads": args.threads,
        "frames": motion.num_frames,
        "input_fps": args.fps,
        "window_s": args.window,
        "stride_s": args.stride,
        "labels": len(labels),
        "live_latency_median_s": live["latency_median_s"],
        "live_latency_p95_s": live["latency_p95_s"],
        "live_frame_delay_median_s": live["frame_delay_median_s"],
        "live_frame_delay_p95_s": live["frame_delay_p95_s"],
        "live_frame_delay_max_s": live["frame_delay_max_s"],
        "live_labels": live["labels_emitted"],
        "live_first_label_s": live["first_label_s"],
        "sustained_fps": fast["sustained_fps"],
        "offline_timeline_fps": offline_fps,
    }
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        for k, v in out.items():
            print(f"{k:28s} {v:.4g}" if isinstance(v, float) else f"{k:28s} {v}")
    return 0


def _head(motion, seconds: float = 3.0):
    n = min(motion.num_frames, max(1, round(seconds * motion.fps)))
    return motion.replace(data=motion.data[:n], confidence=None)


__all__ = [
    "Event",
    "StreamingRecognizer",
    "demo_stream",
    "frame_delays",
    "main",
    "measure",
    "replay",
    "stream",
]

if __name__ == "__main__":
    raise SystemExit(main())
