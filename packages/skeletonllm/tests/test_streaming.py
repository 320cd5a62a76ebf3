"""Live recognition: labels come with a bounded delay, agree with offline window scores, replay keeps
the frame rate."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import tiny_model
from skeletonllm import streaming as S
from skeletonllm import timeline as TL
from skelformats import Motion, synth


class FakeClock:
    def __init__(self):
        self.t = 0.0

    def __call__(self) -> float:
        return self.t

    def sleep(self, dt: float) -> None:
        self.t += dt


class SlowScorer:
    """Takes ``cost`` seconds of the fake clock per call; prefers label 0 when the root rises."""

    def __init__(self, clock: FakeClock, cost: float):
        self.clock, self.cost, self.calls = clock, cost, 0

    def score(self, motions, prompts, candidates):
        self.calls += 1
        self.clock.t += self.cost
        return torch.zeros(len(motions), len(candidates))


def _run(cost: float, fps=30.0, n=300, window=1.0, stride=0.25):
    clock = FakeClock()
    scorer = SlowScorer(clock, cost)
    motion = Motion(np.random.default_rng(0).normal(size=(n, 5, 3)), _chain(), fps=fps)
    rec = S.StreamingRecognizer(
        scorer, ["a", "b"], layout=motion.layout, fps=fps, window=window, stride=stride, clock=clock
    )
    arrivals = []
    for frame, arrived in S.replay(motion, clock=clock, sleep=clock.sleep):
        arrivals.append(arrived)
        rec.push(frame, arrived=arrived)
    return rec, np.array(arrivals), scorer


def _chain():
    from skelformats import Layout

    return Layout("chain5", ("a", "b", "c", "d", "e"), (-1, 0, 1, 2, 3))


@pytest.mark.parametrize("cost", [0.01, 0.1, 0.6])
def test_delay_stays_bounded_even_when_scoring_is_slower_than_the_input(cost):
    fps, window, stride = 30.0, 1.0, 0.25
    rec, arrivals, scorer = _run(cost, fps=fps, window=window, stride=stride)
    delays = S.frame_delays(rec.events, arrivals)
    steady = delays[int(window * fps) :]  # after the first full window
    assert np.isfinite(steady[: -int(fps)]).all()
    bound = stride + 2 * cost + 2 / fps
    assert np.nanmax(steady) <= bound + 1e-9
    # Latency of each label (newest frame -> label) is the scoring time plus any backlog, bounded.
    assert max(e.latency for e in rec.events) <= cost + 1 / fps + max(cost - stride, 0) + 1e-9
    n, w, k = len(arrivals), rec.window_frames, rec.stride_frames
    if cost < stride:  # keeps up: one label per stride
        assert len(rec.events) == (n - w) // k + 1
    else:  # overloaded: windows are skipped, not queued
        assert len(rec.events) < (n - w) // k


def test_first_label_after_min_window_and_event_windows():
    clock = FakeClock()
    rec = S.StreamingRecognizer(
        SlowScorer(clock, 0.0),
        ["a"],
        layout=_chain(),
        fps=10.0,
        window=2.0,
        stride=0.5,
        min_window=1.0,
        clock=clock,
    )
    events = [rec.push(np.zeros((5, 3))) for _ in range(40)]
    idx = [i for i, e in enumerate(events) if e is not None]
    assert idx[0] == 9  # 1 s of frames at 10 fps
    assert np.all(np.diff(idx) == 5)
    last = events[idx[-1]]
    assert last.last == idx[-1] and last.last - last.first + 1 == 20  # a full 2 s window
    assert last.end == pytest.approx((idx[-1] + 1) / 10.0)
    with pytest.raises(ValueError, match="frame"):
        rec.push(np.zeros((4, 3)))


def test_stream_labels_equal_offline_window_scores():
    model = tiny_model(renderer={"frames": 4, "size": [28, 28]})
    motion = synth.generate("wave", layout="ntu25", seed=1)
    labels = ["walk", "wave", "squat"]
    events = list(
        S.stream(
            model, motion.data, labels, layout=motion.layout, fps=motion.fps, window=1.0, stride=0.5
        )
    )
    assert len(events) == 1 + (motion.num_frames - 30) // 15
    for e in events[:2]:
        s = model.score([TL.crop(motion, e.first, e.last + 1)], TL.RECOGNITION_PROMPT, labels)[0]
        p = torch.softmax(s.double(), 0)
        assert e.label == labels[int(p.argmax())]
        assert e.score == pytest.approx(float(p.max()), abs=1e-5)


def test_replay_plays_at_the_frame_rate():
    clock = FakeClock()
    motion = Motion(np.zeros((12, 5, 3)), _chain(), fps=6.0)
    times = [t for _, t in S.replay(motion, clock=clock, sleep=clock.sleep)]
    np.testing.assert_allclose(np.diff(times), 1 / 6.0)
    clock2 = FakeClock()
    fast = [t for _, t in S.replay(motion, speed=2.0, clock=clock2, sleep=clock2.sleep)]
    np.testing.assert_allclose(np.diff(fast), 1 / 12.0)
    with pytest.raises(ValueError, match="one person"):
        next(S.replay(Motion(np.zeros((2, 4, 5, 3)), _chain(), fps=6.0)))
