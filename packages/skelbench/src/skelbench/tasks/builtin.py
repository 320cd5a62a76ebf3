"""The built-in tasks of the synthetic and real suites."""

from __future__ import annotations

from skelbench.tasks import CAPTION_PROMPT, QA_PROMPT, TaskSpec, register_task

CLS = ("top1", "top5", "macro_accuracy", "confusion_matrix")
GEN = ("top1", "macro_accuracy", "confusion_matrix")
CAP = ("bleu1", "bleu4", "rougeL", "cider", "embedding_similarity")
QA = ("accuracy", "per_family")
XF = ("top1", "macro_accuracy", "drop")

# Zero-shot protocol of the synthetic suite: these classes are held out of the baseline's training
# and form the only candidates at test time.
SYNTH_UNSEEN = ("bow", "kick", "turn")

# Classes shared across real datasets, named once, mapped to each dataset's own labels.
UTK_TO_NWUCLA = (
    ("walk", {"utkinect": ("walk",), "nwucla": ("walk around",)}),
    ("sit down", {"utkinect": ("sit down",), "nwucla": ("sit down",)}),
    ("stand up", {"utkinect": ("stand up",), "nwucla": ("stand up",)}),
    (
        "pick up",
        {"utkinect": ("pick up",), "nwucla": ("pick up with one hand", "pick up with two hands")},
    ),
    ("carry", {"utkinect": ("carry",), "nwucla": ("carry",)}),
    ("throw", {"utkinect": ("throw",), "nwucla": ("throw",)}),
)
# NTU-60 (Kinect v2, 25 joints) -> NW-UCLA (Kinect v1, 20 joints): the paper's transfer setting,
# on the seven actions both datasets have.
NTU60_TO_NWUCLA = (
    (
        "pick up",
        {"ntu60:xsub": ("pickup",), "nwucla": ("pick up with one hand", "pick up with two hands")},
    ),
    ("drop", {"ntu60:xsub": ("drop",), "nwucla": ("drop trash",)}),
    ("sit down", {"ntu60:xsub": ("sitting down",), "nwucla": ("sit down",)}),
    (
        "stand up",
        {"ntu60:xsub": ("standing up (from sitting position)",), "nwucla": ("stand up",)},
    ),
    ("put on a jacket", {"ntu60:xsub": ("wear jacket",), "nwucla": ("donning",)}),
    ("take off a jacket", {"ntu60:xsub": ("take off jacket",), "nwucla": ("doffing",)}),
    ("throw", {"ntu60:xsub": ("throw",), "nwucla": ("throw",)}),
)
# Tasks on data the user supplies (NTU, HumanML3D, a folder): run when named (``--tasks``), not
# part of ``--suite real`` (which runs on the shared data directory).
ON_REQUEST = {"on_request": True}
FLORENCE_TO_UTK = (
    ("wave", {"florence3d": ("wave",), "utkinect": ("wave hands",)}),
    ("clap", {"florence3d": ("clap",), "utkinect": ("clap hands",)}),
    ("sit down", {"florence3d": ("sit down",), "utkinect": ("sit down",)}),
    ("stand up", {"florence3d": ("stand up",), "utkinect": ("stand up",)}),
)


def _builtin() -> list[TaskSpec]:
    t: list[TaskSpec] = []
    # ---- synthetic suite (embedded default, no data directory)
    t.append(
        TaskSpec(
            "synth/recognition",
            "recognition",
            "synth",
            "synth",
            robustness=True,
            description="closed set over all synthetic actions, scored with the model's likelihood",
        )
    )
    t.append(
        TaskSpec(
            "synth/recognition_generation",
            "recognition",
            "synth",
            "synth",
            mode="generation",
            candidates=None,
            metrics=GEN,
            baseline=False,
            description="free answer; the label is matched as a substring",
        )
    )
    t.append(
        TaskSpec(
            "synth/recognition_zero_shot",
            "recognition",
            "synth",
            "synth",
            mode="zero_shot",
            candidates="unseen",
            options={"unseen": SYNTH_UNSEEN},
            # A closed-set classifier trained on the seen classes cannot name an unseen one: its
            # reference here is chance, reported with the task, not a training run spent on it.
            baseline=False,
            description="candidates are the unseen classes only (bow, kick, turn)",
        )
    )
    t.append(
        TaskSpec(
            "synth/captioning",
            "captioning",
            "synth",
            "synth",
            prompt=CAPTION_PROMPT,
            candidates=None,
            mode=None,
            metrics=CAP,
            baseline=False,
            description="captions written from the ground-truth synthesis parameters",
        )
    )
    t.append(
        TaskSpec(
            "synth/reasoning",
            "reasoning",
            "synth",
            "synth",
            prompt=QA_PROMPT,
            candidates="options",
            mode="closed_set",
            metrics=QA,
            baseline=False,
            description="multiple-choice QA from kinematic facts; accuracy per question family",
        )
    )
    for src, dst in (("ntu25", "coco17"), ("smpl22", "openni15")):
        t.append(
            TaskSpec(
                f"synth/cross_format_{src}_to_{dst}",
                "cross_format",
                "synth",
                "synth",
                layouts=(src, dst),
                metrics=XF,
                description=f"the same test motions in {src} (training layout) and {dst}",
            )
        )
    # ---- real suite (needs --data-dir)
    for ds in ("msr_action3d", "utkinect", "florence3d", "nwucla", "penn_action"):
        t.append(TaskSpec(f"{ds}/recognition", "recognition", "real", ds, robustness=True))
    for ds in ("utkinect", "florence3d"):
        t.append(
            TaskSpec(
                f"{ds}/recognition_generation",
                "recognition",
                "real",
                ds,
                mode="generation",
                candidates=None,
                metrics=GEN,
                baseline=False,
            )
        )
    t.append(
        TaskSpec(
            "cmu_mocap/captioning",
            "captioning",
            "real",
            "cmu_mocap",
            prompt=CAPTION_PROMPT,
            candidates=None,
            mode=None,
            metrics=CAP,
            baseline=False,
            description="trial descriptions of the CMU database as references",
        )
    )
    t.append(
        TaskSpec(
            "utkinect/reasoning",
            "reasoning",
            "real",
            "utkinect",
            prompt=QA_PROMPT,
            candidates="options",
            metrics=QA,
            baseline=False,
            description="QA from the kinematic analysis of each test segment",
        )
    )
    t.append(
        TaskSpec(
            "utkinect_to_nwucla/cross_format",
            "cross_format",
            "real",
            "nwucla",
            source="utkinect",
            shared_classes=tuple(n for n, _ in UTK_TO_NWUCLA),
            metrics=XF,
            options={"class_map": UTK_TO_NWUCLA},
        )
    )
    t.append(
        TaskSpec(
            "florence3d_to_utkinect/cross_format",
            "cross_format",
            "real",
            "utkinect",
            source="florence3d",
            shared_classes=tuple(n for n, _ in FLORENCE_TO_UTK),
            metrics=XF,
            options={"class_map": FLORENCE_TO_UTK},
        )
    )
    t.extend(_dataset_tasks())
    return t


def _zero_shot_unseen(name: str) -> tuple[str, ...]:
    from skelformats.datasets.ntu import CLASSES_120, ZERO_SHOT

    return tuple(CLASSES_120[a - 1] for a in ZERO_SHOT[name][1])


def _dataset_tasks() -> list[TaskSpec]:
    """NTU RGB+D 60/120, HumanML3D and a user's folder, from ``skelformats.datasets``."""
    from skelformats.datasets.ntu import ZERO_SHOT

    t: list[TaskSpec] = []
    for ds, protos in (("ntu60", ("xsub", "xview")), ("ntu120", ("xsub", "xset"))):
        for p in protos:
            t.append(
                TaskSpec(
                    f"{ds}/{p}",
                    "recognition",
                    "real",
                    f"{ds}:{p}",
                    robustness=True,
                    options=dict(ON_REQUEST),
                    description=f"NTU RGB+D {ds[3:]} {p} protocol, all classes",
                )
            )
    for z, (ds, unseen, source) in ZERO_SHOT.items():
        t.append(
            TaskSpec(
                f"{ds}/{z}",
                "recognition",
                "real",
                f"{ds}:{z}",
                mode="zero_shot",
                candidates="unseen",
                baseline=False,
                options=dict(ON_REQUEST, unseen=_zero_shot_unseen(z), source=source),
                description=f"candidates are the {len(unseen)} unseen classes ({source})",
            )
        )
    t.append(
        TaskSpec(
            "ntu60_to_nwucla/cross_format",
            "cross_format",
            "real",
            "nwucla",
            source="ntu60:xsub",
            shared_classes=tuple(n for n, _ in NTU60_TO_NWUCLA),
            metrics=XF,
            options=dict(ON_REQUEST, class_map=NTU60_TO_NWUCLA),
            description="train on NTU-60 (Kinect v2, 25 joints), test on NW-UCLA view 3 "
            "(Kinect v1, 20 joints), on the seven shared actions",
        )
    )
    t.append(
        TaskSpec(
            "humanml3d/captioning",
            "captioning",
            "real",
            "humanml3d",
            prompt=CAPTION_PROMPT,
            candidates=None,
            mode=None,
            metrics=CAP,
            baseline=False,
            options=dict(ON_REQUEST),
            description="the official test split, all captions of a clip as references; "
            "BLEU-4, ROUGE-L, CIDEr-D and embedding similarity.  The published text-to-motion "
            "metrics (R-precision, FID, MM-Dist, diversity) need the T2M evaluator weights "
            "of Guo et al. and BERTScore needs RoBERTa weights: neither can be loaded here",
        )
    )
    t.append(
        TaskSpec(
            "folder/recognition",
            "recognition",
            "real",
            "folder",
            robustness=True,
            options=dict(ON_REQUEST),
            description="your folder (--data-dir): class sub-folders, train/test folders or "
            "every fifth file of a class held out",
        )
    )
    return t


for _spec in _builtin():
    register_task(_spec, overwrite=True)
