"""OpenPose JSON output (``--write_json``; openpose doc/02_output.md).

One file per frame, ``<video>_<frame:012d>_keypoints.json``::

    {"version": 1.3, "people": [{"person_id": [-1], "pose_keypoints_2d": [x0, y0, c0, x1, ...], ...}]}

``pose_keypoints_2d`` holds 3 values per keypoint: 25 keypoints for BODY_25 (layout ``openpose25``),
18 for COCO (``openpose18``); the model is told apart by that count.  Undetected keypoints are
written as ``0, 0, 0``: ``c`` becomes the confidence, so they are missing.  Read a single file (one
frame) or a directory of per-frame files (sorted by the frame number in the name).  OpenPose does
not track people: person slot ``m`` is the m-th detection of each frame unless every person carries
a ``person_id`` >= 0, which then identifies the slot.  With more than one slot the result is
(M, T, J, 2); empty slots have confidence 0.  OpenPose stores no frame rate: 30 fps is assumed
(``meta["fps_assumed"] = True``).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..errors import CorruptDataError, EmptySequenceError, JointCountError, UnknownFormatError
from ..motion import Motion
from ..registry import register_reader
from ._common import check_bodies, check_frames, parse_json, read_text

FPS = 30.0
LAYOUT_BY_COUNT = {25: "openpose25", 18: "openpose18"}
_FRAME_NO = re.compile(r"(\d+)(?=\D*$)")


def _frame_key(p: Path):
    m = _FRAME_NO.search(p.stem)
    return (int(m.group(1)) if m else -1, p.name)


def _people(path: Path) -> list[tuple[int, np.ndarray]]:
    doc = parse_json(path, read_text(path))
    if not isinstance(doc, dict) or not isinstance(doc.get("people"), list):
        raise CorruptDataError(path, "not OpenPose output: no 'people' list")
    out = []
    for k, person in enumerate(doc["people"]):
        kp = person.get("pose_keypoints_2d") if isinstance(person, dict) else None
        if not isinstance(kp, list):
            raise CorruptDataError(path, f"person {k}: no 'pose_keypoints_2d' list")
        if len(kp) % 3 or len(kp) // 3 not in LAYOUT_BY_COUNT:
            raise JointCountError(
                path,
                f"person {k}: {len(kp)} values in pose_keypoints_2d; expected 3 x 25 (BODY_25) "
                "or 3 x 18 (COCO)",
            )
        try:
            arr = np.array(kp, dtype=np.float64).reshape(-1, 3)
        except (TypeError, ValueError):
            raise CorruptDataError(
                path, f"person {k}: pose_keypoints_2d holds non-numbers"
            ) from None
        pid = person.get("person_id", -1)
        if isinstance(pid, list):
            pid = pid[0] if pid else -1
        try:
            pid = int(pid)
        except (TypeError, ValueError, OverflowError):
            pid = -1
        out.append((pid, arr))
    return out


def read_openpose(path: Path) -> Motion:
    """A per-frame JSON file or a directory of them -> Motion (T, J, 2) or (M, T, J, 2).

    meta: source, dataset ("OpenPose"), model ("BODY_25" | "COCO"), frame_files, fps_assumed.
    """
    path = Path(path)
    if path.is_dir():
        files = sorted((p for p in path.glob("*.json") if p.is_file()), key=_frame_key)
        if not files:
            raise EmptySequenceError(path, "no .json files in the directory")
    else:
        files = [path]
    frames = [_people(f) for f in files]
    counts = {a.shape[0] for fr in frames for _, a in fr}
    if not counts:
        raise EmptySequenceError(path, f"no person detected in any of the {len(files)} frames")
    if len(counts) > 1:
        raise CorruptDataError(
            path, f"frames mix keypoint counts {sorted(counts)} (BODY_25 and COCO)"
        )
    J = counts.pop()
    check_frames(path, len(frames))
    tracked = all(pid >= 0 for fr in frames for pid, _ in fr)
    if tracked:
        ids = sorted({pid for fr in frames for pid, _ in fr})
        slot_of = {pid: i for i, pid in enumerate(ids)}
        M = len(ids)
    else:
        M = max(len(fr) for fr in frames)
    T = len(frames)
    check_bodies(path, M, T, J * 3 * 8)
    xyc = np.zeros((M, T, J, 3), np.float64)
    for t, fr in enumerate(frames):
        for k, (pid, arr) in enumerate(fr):
            xyc[slot_of[pid] if tracked else k, t] = arr
    data, conf = xyc[..., :2], xyc[..., 2]
    if not np.isfinite(conf).all() or conf.min() < 0:
        raise CorruptDataError(path, "keypoint confidences must be finite and >= 0")
    meta = {
        "source": str(path),
        "dataset": "OpenPose",
        "model": "BODY_25" if J == 25 else "COCO",
        "frame_files": [f.name for f in files],
        "fps_assumed": True,
    }
    if M == 1:
        data, conf = data[0], conf[0]
    return Motion(
        data=data.astype(np.float32),
        layout=LAYOUT_BY_COUNT[J],
        fps=FPS,
        confidence=conf.astype(np.float32),
        meta=meta,
    )


def _sniff(path: Path, head: bytes) -> bool:
    if path.is_dir():
        first = next(iter(sorted(path.glob("*.json"))), None)
        if first is None:
            return False
        with open(first, "rb") as f:
            head = f.read(4096)
    return b'"people"' in head and (
        b"pose_keypoints" in head or b'"people":[]' in head.replace(b" ", b"")
    )


@register_reader("openpose", extensions=(".json",), sniff=_sniff)
def _read(path: Path) -> Motion:
    if not path.is_dir() and not path.is_file():
        raise UnknownFormatError(path, "not a file or directory")
    return read_openpose(path)


__all__ = ["read_openpose", "LAYOUT_BY_COUNT"]
