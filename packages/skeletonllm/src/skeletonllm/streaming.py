"""Live recognition: frames in as they arrive, labels out with a bounded delay.

``StreamingRecognizer.push(frame)`` keeps the last ``window`` seconds of frames and, every ``stride``
seconds of input, scores that window against the labels (the same candidate scoring as recognition
and :mod:`skeletonllm.timeline`) and returns an :class:`Event`. When scoring takes longer than a
stride of input, the next window is scored only once the frames that arrived meanwhile are in, so the
recogniser never queues work: a frame's label comes at most one stride of input plus about two scoring
times after the frame arrived. ``stream`` wraps it as a generator over any frame iterable, ``replay``
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
        self._wait = self.stride_frames  # frames to collect before the next scoring
        self.events: list[Event] = []

    @property
    def frames_seen(self) -> int:
        return self._count

    def push(self, frame, confidence=None, *, arrived: float | None = None) -> Event | None:
        """Add one frame; returns an Event when a window was scored, else None."""
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
        first_label = len(self.events) == 0 and self._since >= self.min_frames
        if not first_label and self._since < self._wait:
            return None
        return self._emit(arrived)

    def _emit(self, arrived: float) -> Event:
        conf = np.stack(self._conf)
        motion = self._Motion(
            np.stack(self._joints),
            self.layout,
            fps=self.fps,
            confidence=None if bool((conf > 0).all()) else conf,
        )
        t0 = self.clock()
        s = self.model.score([motion], [self.prompt], self.labels)
        s = s.detach().float().cpu().numpy() if hasattr(s, "detach") else np.asarray(s, float)
        p = _softmax(np.where(np.isfinite(s), s, -1e30).reshape(1, -1).astype(np.float64))[0]
        now = self.clock()
        # Frames that arrive while this window is scored are not waited for twice: the next
        # window is due after a stride or after as many frames as the scoring took, whichever is more.
        self._wait = max(self.stride_frames, math.ceil((now - t0) * self.fps))
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
    frame-to-label delay (every frame), and the frame rate sustained end to end."""
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
    delay = frame_delays(rec.events, arrivals)
    delay = delay[np.isfinite(delay)]

    def q(x, p):
        return float(np.percentile(x, p)) if len(x) else float("nan")

    return {
        "frames": motion.num_frames,
        "input_fps": motion.fps * speed if math.isfinite(speed) else None,
        "sustained_fps": motion.num_frames / wall,
        "labels_emitted": len(rec.events),
        "latency_median_s": q(lat, 50),
        "latency_p95_s": q(lat, 95),
        "frame_delay_median_s": q(delay, 50),
        "frame_delay_p95_s": q(delay, 95),
        "frame_delay_max_s": float(delay.max()) if len(delay) else float("nan"),
        "window_s": window,
        "stride_s": stride,
    }


__all__ = ["Event", "StreamingRecognizer", "frame_delays", "measure", "replay", "stream"]
