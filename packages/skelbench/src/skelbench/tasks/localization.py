"""Temporal localisation tasks (runner: ``skelbench.localization``)."""

from __future__ import annotations

from skelbench.tasks import TaskSpec, register_task

LOC = ("mAP@0.3", "mAP@0.5", "mAP@0.7", "mAP", "frame_accuracy")

register_task(
    TaskSpec(
        "utkinect/localization",
        "localization",
        "real",
        "utkinect",
        candidates="classes",
        mode=None,
        metrics=LOC,
        options={"window_s": 2.0, "stride_s": 0.5, "smooth_windows": 3},
        description="the 20 whole recordings, sliding windows over the test subjects' streams; "
        "mAP at temporal IoU 0.3/0.5/0.7 and frame accuracy, the GCN baseline run the same way",
    ),
    overwrite=True,
)
