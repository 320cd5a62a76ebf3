"""Temporal localisation: mAP against hand-computed cases, frame accuracy, the UTKinect task."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from skelbench import temporal_metrics as TM
from skelbench.tasks import get_task


def test_tiou_by_hand():
    np.testing.assert_allclose(
        TM.tiou((0, 10), [(0, 10), (5, 15), (10, 20), (2, 4)]), [1, 5 / 15, 0, 0.2]
    )


def test_ap_hand_computed_cases():
    gt = [("v", 0, 10)]
    # TP then FP: precision 1, 1/2 at recall 1, 1 -> AP 1.
    assert TM.average_precision([("v", 0, 10, 0.9), ("v", 20, 30, 0.8)], gt, 0.5) == 1.0
    # FP ranked first: precision 0 then 1/2 at recall 1 -> AP 0.5.
    assert TM.average_precision([("v", 20, 30, 0.9), ("v", 0, 10, 0.8)], gt, 0.5) == 0.5
    # A duplicate of a matched instance is a false positive; a miss keeps AP at 0.
    two = [("v", 0, 10), ("v", 20, 30)]
    dets = [("v", 0, 10, 0.9), ("v", 1, 10, 0.8), ("v", 20, 30, 0.7)]
    # ranks: TP (P 1, R .5), FP (P .5, R .5), TP (P 2/3, R 1) -> .5 * 1 + .5 * 2/3.
    assert TM.average_precision(dets, two, 0.5) == pytest.approx(0.5 + 0.5 * 2 / 3)
    assert TM.average_precision([("w", 0, 10, 1.0)], gt, 0.5) == 0.0  # another video
    assert TM.average_precision([], gt, 0.5) == 0.0
    assert np.isnan(TM.average_precision([("v", 0, 1, 1.0)], [], 0.5))


def test_thresholds_and_matching_the_best_overlap():
    gt = [("v", 0, 10)]
    six = [("v", 0, 6, 1.0)]  # IoU 0.6
    assert [TM.average_precision(six, gt, t) for t in (0.3, 0.5, 0.7)] == [1.0, 1.0, 0.0]
    # Two instances; the detection overlaps both and takes the better one, leaving the other free.
    gts = [("v", 0, 10), ("v", 8, 20)]
    d = [("v", 7, 20, 0.9), ("v", 0, 9, 0.8)]
    assert TM.average_precision(d, gts, 0.5) == 1.0


def test_map_averages_classes_with_ground_truth():
    truths = [("v1", 0, 10, "walk"), ("v1", 10, 20, "sit"), ("v2", 0, 5, "walk")]
    dets = [
        ("v1", 0, 10, "walk", 0.9),  # TP
        ("v2", 10, 15, "walk", 0.95),  # FP ranked first
        ("v2", 0, 5, "walk", 0.5),  # TP
        ("v1", 10, 20, "sit", 0.7),  # TP
        ("v1", 0, 5, "wave", 0.9),  # class without ground truth: not in the mean
    ]
    res = TM.mean_average_precision(dets, truths, (0.5,), ["walk", "sit", "wave"])
    # walk: FP, TP, TP -> P 0, 1/2, 2/3 at R 0, 1/2, 1 -> interpolated 2/3 over [0, 1] = 2/3.
    assert res["ap_per_class@0.5"]["walk"] == pytest.approx(2 / 3)
    assert res["ap_per_class@0.5"]["sit"] == 1.0
    assert np.isnan(res["ap_per_class@0.5"]["wave"])
    assert res["mAP@0.5"] == pytest.approx((2 / 3 + 1) / 2) == res["mAP"]


def _disjoint(pairs):
    """Disjoint intervals from (gap, length) pairs laid end to end."""
    out, t = [], 0.0
    for gap, length in pairs:
        out.append((t + gap, t + gap + length))
        t += gap + length
    return out


gaps = st.lists(st.tuples(st.floats(0, 5), st.floats(0.5, 20)), min_size=1, max_size=8)


@given(gaps, st.sampled_from(TM.THRESHOLDS), st.randoms(use_true_random=False))
def test_perfect_detections_score_one_and_a_lowest_ranked_fp_changes_nothing(pairs, thr, rnd):
    gts = _disjoint(pairs)
    truths = [("v", s, e) for s, e in gts]
    perfect = [("v", s, e, rnd.random()) for s, e in gts]
    assert TM.average_precision(perfect, truths, thr) == pytest.approx(1.0)
    # Any ranking: AP lies in [0, 1]; a false positive ranked last does not change it.
    mixed = perfect + [("v", e + 100, e + 101, rnd.random()) for _, e in gts[:2]]
    ap = TM.average_precision(mixed, truths, thr)
    assert 0 <= ap <= 1
    assert TM.average_precision(mixed + [("v", 1e4, 1e4 + 1, -1.0)], truths, thr) == pytest.approx(
        ap
    )


def test_frame_accuracy_counts_labelled_frames_only():
    assert TM.frame_accuracy(np.array([0, 1, 1, 2]), np.array([0, 1, -1, 1])) == pytest.approx(
        2 / 3
    )
    with pytest.raises(ValueError, match="shape"):
        TM.frame_accuracy(np.zeros(3), np.zeros(4))


def test_task_is_registered():
    t = get_task("utkinect/localization")
    assert t.kind == "localization" and t.dataset == "utkinect" and t.suite == "real"
    assert "mAP@0.5" in t.metrics and t.options["window_s"] > t.options["stride_s"]


def test_utkinect_recordings_and_oracle_outputs(real_data):
    from skelbench.localization import evaluate_outputs, utkinect_recordings

    classes, test, skipped = utkinect_recordings("test", real_data)
    _, train, _ = utkinect_recordings("train", real_data)
    assert len(test) == 10 and len(train) == 10
    assert {r.subject for r in test} == set(range(6, 11))
    assert sum(len(r.segments) for r in test) == 99  # the NaN carry of s10_e02 is left out
    assert any("s10_e02" in s for s in skipped)
    for r in test:
        assert all(0 <= s < e <= r.motion.duration + 1e-9 for _, s, e in r.segments)
        truth = r.frame_truth()
        assert (truth >= 0).sum() < r.motion.num_frames  # unlabelled frames between actions
    oracle = [
        {
            "segments": [(s, e, classes[c], 1.0) for c, s, e in r.segments],
            "frames": r.frame_truth().tolist(),
        }
        for r in test
    ]
    res = evaluate_outputs(test, oracle, classes)
    assert res["mAP@0.7"] == 1.0 and res["frame_accuracy"] == 1.0
    # Every segment shifted by half its length: IoU 1/3, found at 0.3 only.
    shifted = [
        {
            "segments": [
                (s + (e - s) / 2, e + (e - s) / 2, lab, sc) for s, e, lab, sc in o["segments"]
            ],
            "frames": o["frames"],
        }
        for o in oracle
    ]
    res = evaluate_outputs(test, shifted, classes)
    assert res["mAP@0.3"] == 1.0 and res["mAP@0.5"] == 0.0


def test_runner_with_the_baseline(real_data):
    from skelbench.api import Context
    from skelbench.localization import run_localization
    from skelbench.report import markdown

    class Chance:  # scores every label equally: one segment per recording
        def score(self, motions, prompts, candidates):
            import torch

            return torch.zeros(len(motions), len(candidates))

    task = get_task("utkinect/localization")
    ctx = Context(data_dir=str(real_data), limit=1, baseline_budget_s=0.5)
    res = run_localization(Chance(), task, ctx)
    assert res["num_samples"] == 1 and res["num_segments"] == 10
    assert res["model"]["num_detections"] == 1  # all windows tie on the first label, merged
    assert 0 <= res["baseline"]["mAP@0.5"] <= 1 and res["baseline"]["train"]["train_samples"] > 100
    doc = {
        "model": {"id": "chance"},
        "suite": "real",
        "settings": {},
        "versions": {},
        "tasks": [
            dict(
                res,
                task=task.name,
                kind=task.kind,
                dataset="utkinect",
                split="test",
                status="ok",
                protocol="",
                seconds=0.0,
                mode=None,
                prompt=task.prompt,
            )
        ],
    }
    assert "mAP@0.5" in markdown(doc)
