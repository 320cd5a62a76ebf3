"""Temporal action localisation on untrimmed recordings (task ``utkinect/localization``).

Data: the 20 whole UTKinect recordings, each with its ten labelled actions (``actionLabel.txt``, frame
ids -> rows of the joints file; the NaN ``carry`` of s10_e02 is left out of the ground truth, its
frames stay in the stream). Protocol as for recognition: subjects 1-5 train, 6-10 test. Times are
``row / fps`` with the reader's frame rate.

Systems: the model and the GCN baseline run the same way, ``skeletonllm.timeline``: sliding windows
(``window_s`` / ``stride_s`` of the task options) scored against the class names, probabilities
averaged over ``smooth_windows`` neighbouring windows (3, chosen on the training subjects),
consecutive windows with the same label merged, temporal NMS. The GCN is trained in the same run on the training
subjects' labelled segments plus window-long crops of them (what it sees at test time).
Metrics: mAP at temporal IoU 0.3 / 0.5 / 0.7 (``skelbench.temporal_metrics``) and frame accuracy
over the labelled frames.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from skelbench import temporal_metrics as TM
from skelbench.datasets import UTK_NAMES, DatasetError, Sample, _folder, _skip_warn

PROTOCOL = (
    "cross-subject: subjects 1-5 train, 6-10 test; whole recordings, segments from actionLabel.txt"
)


@dataclass
class Recording:
    """A whole recording and its labelled intervals ``(class index, start_s, end_s)``."""

    id: str
    motion: object  # skelformats.Motion, single person
    segments: list[tuple[int, float, float]]
    subject: int
    skipped: list[str] = field(default_factory=list)

    def frame_truth(self) -> np.ndarray:
        """(T,) class index per frame, -1 where no action is labelled."""
        out = np.full(self.motion.num_frames, -1)
        t = (np.arange(self.motion.num_frames) + 0.5) / self.motion.fps
        for c, s, e in self.segments:
            out[(t >= s) & (t < e)] = c
        return out


def utkinect_recordings(split: str, data_dir=None) -> tuple[list[str], list[Recording], list[str]]:
    """(classes, recordings of ``split``, skipped-item messages)."""
    from skelformats import Motion
    from skelformats.readers.utkinect import read_joints_file, read_label_file

    root = _folder(data_dir, "utkinect")
    classes = list(UTK_NAMES.values())
    labels = read_label_file(root / "actionLabel.txt")
    recs, skipped = [], []
    for rec, segs in labels.items():
        subject = int(rec[1:3])
        if (subject <= 5) != (split == "train"):
            continue
        path = root / f"joints_{rec}.txt"
        try:
            ids, joints = read_joints_file(path)
        except Exception as err:  # the reader's error names the file
            _skip_warn(skipped, path.name, err)
            continue
        steps = np.diff(ids)
        steps = steps[steps > 0]
        fps = 30.0 / float(np.median(steps)) if steps.size else 30.0
        motion = Motion(
            joints.astype(np.float32),
            "kinect_v1_20",
            fps=fps,
            meta={"source": str(path), "recording": rec, "frame_ids": ids},
        )
        out = []
        for s in segs:
            if s.start is None or s.end is None or s.action not in UTK_NAMES:
                _skip_warn(
                    skipped, f"{rec} {s.action}", ValueError("segment bounds are not numeric")
                )
                continue
            rows = np.flatnonzero((ids >= s.start) & (ids <= s.end))
            if len(rows) == 0:
                _skip_warn(skipped, f"{rec} {s.action}", ValueError("no frames in range"))
                continue
            out.append((classes.index(UTK_NAMES[s.action]), rows[0] / fps, (rows[-1] + 1) / fps))
        recs.append(Recording(rec, motion, out, subject))
    if not recs:
        raise DatasetError(f"{root}: no {split} recording could be read")
    return classes, recs, skipped


def training_crops(samples: list[Sample], window_s: float, step: int = 4) -> list[Sample]:
    """Labelled segments plus their window-long crops every ``step`` frames."""
    from skeletonllm.timeline import crop

    out = []
    for s in samples:
        m = s.motion
        w = max(4, round(window_s * m.fps))
        out.append(s)
        for a in range(0, max(0, m.num_frames - w) + 1, step):
            if m.num_frames > w:
                out.append(Sample(crop(m, a, a + w), s.label, f"{s.id}@{a}", s.subject))
    return out


def localize(
    system, rec: Recording, classes, *, window, stride, prompt, batch_size, smooth=3
) -> dict:
    """One recording through the sliding-window timeline of ``system``."""
    from skeletonllm import timeline as TL

    ws = TL.score_windows(
        system,
        rec.motion,
        classes,
        window=window,
        stride=stride,
        prompt=prompt,
        batch_size=batch_size,
    )
    ws = TL.smooth_windows(ws, smooth)
    segs = TL.temporal_nms(TL.merge_windows(ws))
    return {
        "segments": [(s.start, s.end, s.label, s.score) for s in segs],
        "frames": TL.frame_labels(ws, rec.motion.num_frames).tolist(),
        "windows": len(ws.frames),
    }


def evaluate_outputs(recs: list[Recording], outputs: list[dict], classes: list[str]) -> dict:
    dets = [(r.id, s, e, lab, sc) for r, o in zip(recs, outputs) for s, e, lab, sc in o["segments"]]
    truths = [(r.id, s, e, classes[c]) for r in recs for c, s, e in r.segments]
    res = TM.mean_average_precision(dets, truths, TM.THRESHOLDS, classes)
    pred = np.concatenate([np.asarray(o["frames"]) for o in outputs])
    truth = np.concatenate([r.frame_truth() for r in recs])
    res["frame_accuracy"] = TM.frame_accuracy(pred, truth)
    res["num_detections"] = len(dets)
    return res


def run_localization(model, task, ctx) -> dict:
    """The task runner (``skelbench.api.RUNNERS['localization']``)."""
    from skelbench.api import _baseline_for, _sharded

    opts = task.options
    window, stride = float(opts.get("window_s", 2.0)), float(opts.get("stride_s", 0.5))
    smooth = int(opts.get("smooth_windows", 3))
    classes, recs, skipped = utkinect_recordings(task.split, ctx.data_dir)
    if ctx.limit:
        recs = recs[: ctx.limit]

    def run(system, label):
        t0 = time.perf_counter()
        out = _sharded(
            ctx,
            label,
            len(recs),
            lambda idx: [
                localize(
                    system,
                    recs[i],
                    classes,
                    window=window,
                    stride=stride,
                    prompt=task.prompt,
                    batch_size=max(1, ctx.batch_size),
                    smooth=smooth,
                )
                for i in idx
            ],
        )
        return out, time.perf_counter() - t0

    outs, secs = run(model, task.name)
    res: dict = {
        "classes": classes,
        "num_samples": len(recs),
        "num_segments": sum(len(r.segments) for r in recs),
        "window_s": window,
        "stride_s": stride,
        "smooth_windows": smooth,
        "skipped_segments": skipped,
    }
    if not ctx.dist.main:
        return res
    res["model"] = dict(evaluate_outputs(recs, outs, classes), seconds=secs)
    res["examples"] = [
        {
            "id": r.id,
            "label": "; ".join(f"{s:.1f}-{e:.1f} s: {classes[c]}" for c, s, e in r.segments[:4]),
            "answer": "; ".join(f"{s:.1f}-{e:.1f} s: {lab}" for s, e, lab, _ in o["segments"][:4]),
        }
        for r, o in list(zip(recs, outs))[:3]
    ]
    if task.baseline and ctx.baseline:
        train = ctx.split(task.dataset, task.train_split or "train")
        tr = training_crops(train.samples, window)
        t0 = time.perf_counter()
        gcn = _baseline_for(
            ctx, ("localization", task.dataset, window, tuple(classes)), tr, classes, 3
        )
        g_outs, g_secs = run(gcn, f"{task.name} baseline")
        res["baseline"] = dict(
            evaluate_outputs(recs, g_outs, classes),
            seconds=g_secs,
            train=dict(gcn.train_stats, train_samples=len(tr), seconds=time.perf_counter() - t0),
        )
    return res


def summary_rows(t: dict, base: dict) -> list[dict]:
    """Rows of the report's summary table for a localisation task."""

    def pct(x):
        return "–" if x is None or not np.isfinite(x) else f"{100 * x:.1f}"

    rows = []
    for who in ("model", "baseline"):
        m = t.get(who)
        if m:
            rows.append(
                {
                    **base,
                    "system": who,
                    "main": f"mAP@0.5 {pct(m.get('mAP@0.5'))}",
                    "detail": f"mAP@0.3/0.7 {pct(m.get('mAP@0.3'))}/{pct(m.get('mAP@0.7'))}, "
                    f"frame acc {pct(m.get('frame_accuracy'))}",
                }
            )
    return rows


__all__ = [
    "PROTOCOL",
    "Recording",
    "evaluate_outputs",
    "localize",
    "run_localization",
    "summary_rows",
    "training_crops",
    "utkinect_recordings",
]
