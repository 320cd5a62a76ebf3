"""Temporal action localisation metrics, as the ActivityNet / THUMOS'14 evaluations compute them.

A detection is ``(video, start, end, label, score)``, a ground-truth instance ``(video, start, end,
label)``. Per class, detections are ranked by score; each is a true positive when its temporal IoU
with a not yet matched instance of the same class in the same video reaches the threshold (the
instance with the highest IoU among those is taken), otherwise a false positive. AP is the area under
the precision-recall curve with precision made monotonically decreasing (ActivityNet's
``interpolated_prec_rec``); mAP averages AP over the classes that have ground-truth instances.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

THRESHOLDS = (0.3, 0.5, 0.7)


def tiou(seg: Sequence[float], others: np.ndarray) -> np.ndarray:
    """Temporal IoU of one (start, end) with each row of ``others`` (N, 2)."""
    others = np.asarray(others, dtype=np.float64).reshape(-1, 2)
    inter = np.clip(np.minimum(seg[1], others[:, 1]) - np.maximum(seg[0], others[:, 0]), 0, None)
    union = (seg[1] - seg[0]) + (others[:, 1] - others[:, 0]) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def interpolated_ap(precision: np.ndarray, recall: np.ndarray) -> float:
    """Area under the precision-recall curve, precision made non-increasing from the right."""
    mprec = np.concatenate([[0.0], precision, [0.0]])
    mrec = np.concatenate([[0.0], recall, [1.0]])
    for i in range(len(mprec) - 2, -1, -1):
        mprec[i] = max(mprec[i], mprec[i + 1])
    idx = np.flatnonzero(mrec[1:] != mrec[:-1]) + 1
    return float(np.sum((mrec[idx] - mrec[idx - 1]) * mprec[idx]))


def average_precision(
    detections: Sequence[tuple], truths: Sequence[tuple], threshold: float
) -> float:
    """AP of one class. detections: (video, start, end, score); truths: (video, start, end).
    NaN when there is no ground-truth instance."""
    if not truths:
        return float("nan")
    if not detections:
        return 0.0
    gt_by_video: dict = {}
    for k, (v, s, e) in enumerate(truths):
        gt_by_video.setdefault(v, []).append((k, s, e))
    used = np.zeros(len(truths), bool)
    # Stable sort by descending score: ties keep the input order, as ActivityNet's argsort does.
    order = sorted(range(len(detections)), key=lambda i: -detections[i][3])
    tp = np.zeros(len(order))
    for rank, i in enumerate(order):
        v, s, e, _ = detections[i]
        cands = gt_by_video.get(v, [])
        if not cands:
            continue
        ious = tiou((s, e), np.array([(gs, ge) for _, gs, ge in cands]))
        for j in np.argsort(-ious, kind="stable"):
            if ious[j] < threshold:
                break
            k = cands[j][0]
            if not used[k]:
                used[k] = True
                tp[rank] = 1
                break
    ctp, cfp = np.cumsum(tp), np.cumsum(1 - tp)
    return interpolated_ap(ctp / (ctp + cfp), ctp / len(truths))


def mean_average_precision(
    detections: Sequence[tuple],
    truths: Sequence[tuple],
    thresholds: Sequence[float] = THRESHOLDS,
    classes: Sequence[str] | None = None,
) -> dict:
    """detections: (video, start, end, label, score); truths: (video, start, end, label).

    Returns ``{"mAP@0.5": ..., "mAP": mean over thresholds, "ap_per_class@0.5": {label: AP}}`` for
    every threshold; classes without ground truth are left out of the mean."""
    labels = list(classes) if classes is not None else sorted({t[3] for t in truths})
    out: dict = {}
    maps = []
    for thr in thresholds:
        per = {}
        for c in labels:
            d = [(v, s, e, sc) for v, s, e, lab, sc in detections if lab == c]
            g = [(v, s, e) for v, s, e, lab in truths if lab == c]
            per[c] = average_precision(d, g, thr)
        vals = [x for x in per.values() if np.isfinite(x)]
        m = float(np.mean(vals)) if vals else float("nan")
        out[f"mAP@{thr:g}"] = m
        out[f"ap_per_class@{thr:g}"] = per
        maps.append(m)
    out["mAP"] = float(np.mean(maps)) if maps else float("nan")
    return out


def frame_accuracy(predicted: np.ndarray, truth: np.ndarray) -> float:
    """Share of the labelled frames (``truth >= 0``) whose predicted label equals the truth."""
    predicted, truth = np.asarray(predicted), np.asarray(truth)
    if predicted.shape != truth.shape:
        raise ValueError(f"predicted {predicted.shape} and truth {truth.shape} differ in shape")
    keep = truth >= 0
    return float((predicted[keep] == truth[keep]).mean()) if keep.any() else float("nan")


__all__ = [
    "THRESHOLDS",
    "average_precision",
    "frame_accuracy",
    "interpolated_ap",
    "mean_average_precision",
    "tiou",
]
