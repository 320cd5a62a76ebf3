"""Timeline of untrimmed recordings: windows, merging, NMS, dense captions, per-body runs, CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import skelformats
import torch
from helpers import tiny_model
from hypothesis import given
from hypothesis import strategies as st
from skeletonllm import timeline as TL
from skelformats import Motion, synth

ACTIONS = ("walk", "squat", "wave")


def concatenated(actions=ACTIONS, seed=0) -> tuple[Motion, list[tuple[float, float, str]]]:
    """Synthetic actions one after the other (30 fps) and their true intervals in seconds."""
    parts = [synth.generate(a, layout="ntu25", seed=seed + i) for i, a in enumerate(actions)]
    truth, t = [], 0
    for a, p in zip(actions, parts):
        truth.append((t / 30.0, (t + p.num_frames) / 30.0, a))
        t += p.num_frames
    return Motion(np.concatenate([p.data for p in parts]), "ntu25", fps=30.0), truth


class KinematicScorer:
    """Scores windows from joint motion alone: the root travels (walk), the hips go down (squat), a
    wrist is above the head (wave); a stand-in recogniser that knows these three actions."""

    def __init__(self):
        self.calls = 0

    def score(self, motions, prompts, candidates):
        self.calls += 1
        names = skelformats.get_layout("ntu25").joints
        root, head = names.index("SpineBase"), names.index("Head")
        wrists = [names.index("WristLeft"), names.index("WristRight")]
        out = []
        for m in motions:
            d = m.data
            # A median of frame-to-frame steps: robust to the jump where two actions are joined.
            step = np.diff(d[:, root, [0, 2]], axis=0)
            travel = np.median(np.linalg.norm(step, axis=1)) * m.fps
            drop = np.ptp(d[:, root, 1])
            raised = np.mean(d[:, wrists, 1].max(1) > d[:, head, 1])
            feats = {"walk": 10 * travel, "squat": 20 * drop, "wave": 10 * raised}
            out.append([feats.get(c, 0.0) for c in candidates])
        return torch.tensor(out)


# --------------------------------------------------------------------------- windows and tiling


@given(
    st.integers(1, 400), st.sampled_from([7.5, 15.0, 30.0]), st.floats(0.2, 4), st.floats(0.05, 2)
)
def test_windows_cover_the_recording_and_owned_slices_tile_it(n, fps, window, stride):
    if stride > window:
        with pytest.raises(ValueError, match="stride"):
            TL.window_bounds(n, fps, window, stride)
        return
    b = TL.window_bounds(n, fps, window, stride)
    w = max(1, round(window * fps))
    assert b[0, 0] == 0 and b[-1, 1] == n
    assert np.all(b[:, 1] - b[:, 0] == min(w, n))
    assert np.all(np.diff(b[:, 0]) > 0)
    # No frame is left out of every window.
    covered = np.zeros(n, bool)
    for a, e in b:
        covered[a:e] = True
    assert covered.all()
    owned = TL.owned_intervals(b, n, fps)
    assert owned[0, 0] == 0 and owned[-1, 1] == pytest.approx(n / fps)
    np.testing.assert_allclose(owned[1:, 0], owned[:-1, 1])
    assert np.all(owned[:, 1] >= owned[:, 0])


def _scores(draw_probs, fps=10.0):
    n = len(draw_probs)
    bounds = TL.window_bounds(n * 5 + 15, fps, 2.0, 0.5)[:n]
    total = int(bounds[-1, 1])
    probs = np.asarray(draw_probs, float)
    probs = probs / probs.sum(1, keepdims=True)
    return TL.WindowScores(
        bounds, TL.owned_intervals(bounds, total, fps), probs, ["a", "b", "c"], fps
    )


probs_st = st.lists(st.lists(st.floats(0.01, 1.0), min_size=3, max_size=3), min_size=1, max_size=30)


@given(probs_st)
def test_merged_top1_segments_tile_the_time_with_alternating_labels(p):
    ws = _scores(p)
    segs = TL.merge_windows(ws)
    assert segs[0].start == 0 and segs[-1].end == pytest.approx(ws.owned[-1, 1])
    for s, t in zip(segs, segs[1:]):
        assert s.end == pytest.approx(t.start)
        assert s.label != t.label
    for s in segs:
        inside = (ws.owned[:, 0] >= s.start - 1e-9) & (ws.owned[:, 1] <= s.end + 1e-9)
        c = ws.labels.index(s.label)
        assert np.all(ws.top[inside] == c)
        assert s.score == pytest.approx(ws.probs[inside, c].mean())
    # Frame labels agree with the segment covering each frame.
    fl = TL.frame_labels(ws, int(ws.frames[-1, 1]))
    for f, c in enumerate(fl):
        t = (f + 0.5) / ws.fps
        seg = next(s for s in segs if s.start <= t < s.end or t >= segs[-1].end)
        assert ws.labels[c] == seg.label


@given(probs_st, st.integers(1, 7))
def test_smoothing_keeps_distributions_and_removes_a_stray_window(p, k):
    ws = _scores(p)
    sm = TL.smooth_windows(ws, k)
    np.testing.assert_allclose(sm.probs.sum(1), 1)
    if k == 1:
        assert sm is ws
    # Constant probabilities stay as they are.
    flat = TL.smooth_windows(_scores([p[0]] * len(p)), k)
    np.testing.assert_allclose(flat.probs, _scores([p[0]] * len(p)).probs)


def test_smoothing_merges_across_one_stray_window_and_skips_absent_ones():
    a, b = [0.8, 0.1, 0.1], [0.3, 0.6, 0.1]
    ws = _scores([a, a, b, a, a])
    assert [s.label for s in TL.merge_windows(ws)] == ["a", "b", "a"]
    assert [s.label for s in TL.merge_windows(TL.smooth_windows(ws, 3))] == ["a"]
    ws.probs[0] = np.nan  # body absent in the first window
    sm = TL.smooth_windows(ws, 3)
    assert np.isnan(sm.probs[0]).all() and sm.top[0] == -1
    np.testing.assert_allclose(sm.probs[1], np.mean([ws.probs[1], ws.probs[2]], 0))
    assert TL.merge_windows(sm)[0].start == pytest.approx(ws.owned[1, 0])


seg_st = st.builds(
    lambda s, d, lab, sc, body: TL.Segment(s, s + d, lab, sc, body),
    st.floats(0, 50),
    st.floats(0.1, 10),
    st.sampled_from(["a", "b"]),
    st.floats(0, 1),
    st.integers(0, 1),
)


@given(st.lists(seg_st, max_size=25), st.floats(0.1, 0.9), st.booleans())
def test_nms_invariants(segs, thr, agnostic):
    kept = TL.temporal_nms(segs, thr, class_agnostic=agnostic)
    assert all(k in segs for k in kept)
    assert TL.temporal_nms(kept, thr, class_agnostic=agnostic) == kept  # idempotent

    def rival(a, b):
        return a.body == b.body and (agnostic or a.label == b.label)

    for i, a in enumerate(kept):
        for b in kept[i + 1 :]:
            assert not rival(a, b) or TL.temporal_iou(a, b) <= thr
    if segs:
        assert max(s.score for s in segs) == max(s.score for s in kept)
    for s in segs:  # whatever was dropped is covered by a kept rival at least as good
        if s not in kept:
            assert any(
                rival(k, s) and k.score >= s.score and TL.temporal_iou(k, s) > thr for k in kept
            )


def test_nms_drops_the_weaker_duplicate_only():
    a = TL.Segment(0, 10, "walk", 0.9)
    b = TL.Segment(1, 10, "walk", 0.5)  # IoU 0.9 with a
    c = TL.Segment(1, 10, "wave", 0.4)  # another label
    d = TL.Segment(20, 30, "walk", 0.3)  # no overlap
    assert TL.temporal_nms([b, d, c, a], 0.5) == [a, c, d]
    assert TL.temporal_nms([b, d, c, a], 0.5, class_agnostic=True) == [a, d]


# --------------------------------------------------------------------------- on motions


def test_timeline_finds_the_actions_of_a_concatenation():
    motion, truth = concatenated()
    scorer = KinematicScorer()
    segs = TL.timeline(scorer, motion, list(ACTIONS), window=1.0, stride=0.25, batch_size=64)
    assert [s.label for s in segs] == list(ACTIONS)
    for s, (start, end, _) in zip(segs, truth):
        # Boundaries within a window length of the truth; seconds, not frames.
        assert abs(s.start - start) <= 1.0 and abs(s.end - end) <= 1.0
        assert 0 < s.score <= 1
    n_windows = len(TL.window_bounds(motion.num_frames, 30.0, 1.0, 0.25))
    assert scorer.calls == -(-n_windows // 64)  # windows are batched


@pytest.fixture(scope="module")
def model():
    return tiny_model(renderer={"frames": 4, "size": [28, 28]})


def test_tiny_model_timeline_batches_windows_and_matches_per_window_scores(model):
    motion, _ = concatenated(("walk", "squat"))
    labels = ["walk", "squat", "wave hands"]
    renders, encodes = [], []
    render, encode = model.renderer.forward, model.bridge.encode

    def count_render(joints, *a, **k):
        renders.append(joints.shape[0])
        return render(joints, *a, **k)

    def count_encode(*a, **k):
        encodes.append(1)
        return encode(*a, **k)

    model.renderer.forward = count_render
    model.bridge.encode = count_encode
    try:
        ws = TL.score_windows(model, motion, labels, window=1.0, stride=0.5, batch_size=8)
    finally:
        del model.renderer.forward, model.bridge.encode
    n = len(ws.frames)
    # Each window is rendered once and goes through the vision tower once (one call per batch).
    assert sum(renders) == n and len(encodes) == -(-n // 8)
    np.testing.assert_allclose(ws.probs.sum(1), 1, rtol=1e-6)
    k = n // 2
    a, b = ws.frames[k]
    one = model.score([TL.crop(motion, a, b)], TL.RECOGNITION_PROMPT, labels)[0]
    np.testing.assert_allclose(ws.probs[k], torch.softmax(one.double(), 0).numpy(), atol=1e-5)
    segs = model.timeline(motion, labels, window=1.0, stride=0.5)
    assert segs[0].start == 0 and segs[-1].end == pytest.approx(motion.duration)
    assert {s.label for s in segs} <= set(labels)
    assert [s.label for s in segs] == [s.label for s in TL.merge_windows(TL.smooth_windows(ws, 3))]


def test_several_people_run_per_body(model):
    a, _ = concatenated(("walk",))
    b, _ = concatenated(("wave",))
    n = min(a.num_frames, b.num_frames)
    # Body 1 enters halfway (confidence 0 before, as readers mark an absent body).
    conf = np.ones((2, n, 25), np.float32)
    conf[1, : n // 2] = 0
    two = Motion(np.stack([a.data[:n], b.data[:n]]), "ntu25", fps=30.0, confidence=conf)
    segs = model.timeline(two, ["walk", "wave"], window=1.0, stride=0.5)
    assert {s.body for s in segs} == {0, 1}
    assert min(s.start for s in segs if s.body == 0) == 0
    assert min(s.start for s in segs if s.body == 1) >= (n // 2 - 30) / 30.0
    for body in (0, 1):
        own = [s for s in segs if s.body == body]
        ref = model.timeline(two.person(body), ["walk", "wave"], window=1.0, stride=0.5)
        assert [(s.start, s.end, s.label) for s in own] == [(s.start, s.end, s.label) for s in ref]
    # A reader's list of motions is a list of bodies too.
    assert {s.body for s in TL.timeline(model, [a, b], ["walk"], window=1.0)} == {0, 1}


def test_dense_captions_merge_into_a_timed_description():
    class Captioner:
        def generate(self, motions, prompts, **kw):
            return [
                "walks forward" if np.ptp(m.data[:, 0, [0, 2]], axis=0).max() > 0.1 else "stays"
                for m in motions
            ]

    walk = synth.generate("walk", layout="ntu25", seed=0)
    still = Motion(np.repeat(walk.data[-1:], 60, 0), "ntu25", fps=30.0)
    m = Motion(np.concatenate([walk.data, still.data]), "ntu25", fps=30.0)
    segs = TL.describe(Captioner(), m, window=1.0, stride=0.5)
    assert [s.label for s in segs] == ["walks forward", "stays"]
    text = TL.format_description(segs)
    assert text.startswith("0.0-") and "s: walks forward; " in text and text.endswith("s: stays")


def test_bad_arguments_are_named(model):
    motion, _ = concatenated(("walk",))
    with pytest.raises(ValueError, match="window"):
        model.timeline(motion, ["walk"], window=0)
    with pytest.raises(ValueError, match="labels"):
        model.timeline(motion, [])
    with pytest.raises(ValueError, match="duplicates"):
        model.timeline(motion, ["walk", "walk"])


def test_utkinect_recording_reads_whole_with_its_ground_truth():
    root = Path(
        os.environ.get("SKEL_DATA_DIR", Path(__file__).parents[3] / ".." / "shared" / "data")
    )
    path = root / "UTKinect" / "joints_s01_e01.txt"
    if not path.is_file():
        pytest.skip(f"UTKinect not found at {path.parent}")
    streams, truth = TL.untrimmed(path)
    (whole,) = streams
    pieces = skelformats.load(path)
    assert whole.num_frames > sum(p.num_frames for p in pieces)  # unlabelled frames included
    assert truth[1].label == "sit down" and pieces[1].meta["action"] == "sitDown"
    assert len(truth) == len(pieces) == 10
    for t, p in zip(truth, pieces):
        a = round(t.start * whole.fps)
        np.testing.assert_array_equal(whole.data[a : a + p.num_frames], p.data)
        assert t.end <= whole.duration


# --------------------------------------------------------------------------- CLI


def test_cli_timeline_writes_json_and_plot(model, tmp_path):
    ckpt = tmp_path / "ckpt"
    model.save_pretrained(ckpt)
    motion, _ = concatenated()
    src = tmp_path / "three.npz"
    skelformats.save(motion, src)
    env = dict(os.environ, OMP_NUM_THREADS="1")

    def cli(*args):
        return subprocess.run(
            [sys.executable, "-m", "skeletonllm", "timeline", *map(str, args)],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )

    out, png = tmp_path / "t.json", tmp_path / "t.png"
    r = cli(
        src,
        "--model",
        ckpt,
        "--labels",
        "walk,squat,wave",
        "--window",
        "1",
        "--stride",
        "0.5",
        "--json",
        out,
        "--plot",
        png,
        "--captions",
    )
    assert r.returncode == 0, r.stderr
    doc = json.loads(out.read_text())
    assert doc["labels"] == ["walk", "squat", "wave"] and doc["bodies"] == 1
    segs = doc["segments"]
    assert segs and {"start", "end", "label", "score"} <= set(segs[0])
    assert segs[0]["start"] == 0 and segs[-1]["end"] == pytest.approx(motion.duration)
    assert doc["description"].startswith("0.0-")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(r.stdout.strip().splitlines()) == len(segs) + 1  # segments + the description
    # --live: the file replayed (50x its frame rate) into the streaming recogniser.
    live_json = tmp_path / "live.json"
    r = cli(
        src,
        "--model",
        ckpt,
        "--labels",
        "walk,wave",
        "--window",
        "1",
        "--live",
        "--speed",
        "50",
        "--json",
        live_json,
    )
    assert r.returncode == 0, r.stderr
    events = json.loads(live_json.read_text())["events"]
    # Faster than it can be scored: windows are skipped, never queued or repeated.
    assert 1 <= len(events) <= 1 + (motion.num_frames - 30) // 15
    assert all(e["last"] - e["first"] == 29 for e in events)
    assert all(a["last"] < b["last"] for a, b in zip(events, events[1:]))
    assert all(e["latency"] >= 0 and e["label"] in ("walk", "wave") for e in events)
    assert r.stdout.count("latency") == len(events) + 1
    for bad_args, name in (
        (("--window", "-1"), "--window"),
        (("--window", "1", "--stride", "2"), "--stride"),
    ):
        bad = cli(src, "--model", ckpt, *bad_args)
        assert bad.returncode == 2 and name in bad.stderr, bad.stderr
    missing = cli(tmp_path / "nope.npz", "--model", ckpt)
    assert missing.returncode == 2 and "nope.npz" in missing.stderr
