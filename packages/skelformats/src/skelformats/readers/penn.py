"""Penn Action (Zhang, Zhu & Derpanis, ICCV 2013): one ``labels/NNNN.mat`` per video.

Fields: ``x``, ``y`` (T x 13 image pixels, y down; layout ``penn13``), ``visibility`` (T x 13, 1 =
visible), ``action`` (name), ``pose`` (camera view: front/back/left/right), ``train`` (1 train, -1
test), ``bbox`` (T x 4: x1 y1 x2 y2), ``dimensions`` (height, width, frames), ``nframes``.
Invisible joints carry arbitrary coordinates, so ``visibility`` becomes ``Motion.confidence``
(0 = missing); their coordinates are kept as stored.  Frame rate: 30 fps (the videos' rate).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import CorruptDataError, EmptySequenceError, JointCountError, ShapeError
from ..motion import Motion
from ..registry import register_reader
from ._common import (
    finite_int,
    load_all,
    loadmat,
    mat_field,
    mat_int,
    mat_string,
    mat_variables,
    warn,
)

NUM_JOINTS = 13
FPS = 30.0
# The dataset's 15 actions; ids are 1-based positions (alphabetical, as in its README).
ACTIONS = (
    "baseball_pitch",
    "baseball_swing",
    "bench_press",
    "bowl",
    "clean_and_jerk",
    "golf_swing",
    "jump_rope",
    "jumping_jacks",
    "pullup",
    "pushup",
    "situp",
    "squat",
    "strum_guitar",
    "tennis_forehand",
    "tennis_serve",
)
_REQUIRED = ("x", "y", "visibility")


def _table(path: Path, m: dict, key: str) -> np.ndarray:
    a = np.asarray(mat_field(path, m, key))
    if a.dtype.kind not in "iufb":
        raise CorruptDataError(path, f"{key!r} is not numeric ({a.dtype})")
    if a.ndim == 1:  # one joint row of a one-frame video, or one frame
        a = a[None, :]
    if a.ndim != 2:
        raise ShapeError(path, f"{key!r} has shape {a.shape}, expected (frames, {NUM_JOINTS})")
    if a.shape[1] != NUM_JOINTS:
        raise JointCountError(
            path, f"{key!r} has {a.shape[1]} joints per frame, expected {NUM_JOINTS}"
        )
    if a.shape[0] == 0:
        raise EmptySequenceError(path, f"{key!r} has no frames")
    return a


def read_penn_action(path: Path) -> Motion:
    """One Penn Action ``.mat`` -> Motion (T, 13, 2) with visibility as confidence.

    meta: source, dataset, video (file stem), label (action id 1-15), action (name), view, train (1 | -1, as
    stored), split ("train" | "test"), bbox (T, 4) float32, image_size (height, width).
    """
    path = Path(path)
    m = loadmat(path)
    x, y, vis = (_table(path, m, k) for k in _REQUIRED)
    if not (x.shape == y.shape == vis.shape):
        raise ShapeError(
            path, f"x {x.shape}, y {y.shape} and visibility {vis.shape} differ in shape"
        )
    data = np.stack([x, y], axis=-1)
    vis_bad = ~np.isfinite(vis)
    if vis_bad.any():
        warn(
            path, f"{int(vis_bad.sum())} visibility values are not finite; those joints are missing"
        )
    conf = (vis > 0).astype(np.float32)
    if vis_bad.any() and not conf.any():
        raise CorruptDataError(path, "no visible joint: every visibility value is 0 or not finite")
    # invisible joints may hold anything (NaN included): only visible ones must be finite
    hidden_bad = ~np.isfinite(data).all(-1) & (conf == 0)
    data[hidden_bad] = 0.0
    meta: dict = {"source": str(path), "dataset": "PennAction", "video": path.stem}
    if "action" in m:
        name = mat_string(m["action"])
        meta["action"] = name
        if name in ACTIONS:
            meta["label"] = ACTIONS.index(name) + 1
    if "pose" in m:
        meta["view"] = mat_string(m["pose"])
    if "train" in m:
        flag = mat_int(path, m["train"], "train")
        meta["train"] = flag  # the dataset's flag: 1 train, -1 test
        meta["split"] = "train" if flag > 0 else "test"
    if "dimensions" in m:
        dims = np.asarray(m["dimensions"]).ravel()
        if dims.size >= 2:
            if dims.dtype.kind not in "iuf":
                raise CorruptDataError(path, f"'dimensions' is not numeric ({dims.dtype})")
            meta["image_size"] = tuple(finite_int(path, d, "dimensions") for d in dims[:2])
    if "bbox" in m:
        raw = np.asarray(m["bbox"])
        if raw.dtype.kind not in "iufb" or raw.size % 4:
            raise CorruptDataError(
                path, f"'bbox' is not rows of 4 numbers ({raw.dtype}, {raw.shape})"
            )
        bbox = raw.astype(np.float32).reshape(-1, 4)
        if bbox.shape[0] != len(data):
            warn(path, f"bbox has {bbox.shape[0]} rows for {len(data)} frames (kept as stored)")
        meta["bbox"] = bbox
    return Motion(
        data=data.astype(np.float32), layout="penn13", fps=FPS, confidence=conf, meta=meta
    )


def load_dataset(root) -> list[Motion]:
    """All videos of the Penn Action directory ``root`` (``root/labels/*.mat``), sorted by name;
    unreadable files are reported and skipped."""
    return load_all(sorted((Path(root) / "labels").glob("*.mat")), read_penn_action)


def _sniff(path: Path, head: bytes) -> bool:
    return set(_REQUIRED) <= mat_variables(path, head)


@register_reader("penn_action", extensions=(".mat",), sniff=_sniff)
def _read(path: Path) -> Motion:
    return read_penn_action(path)


__all__ = ["read_penn_action", "load_dataset", "ACTIONS"]
