"""UTKinect-Action3D (Xia, Chen & Aggarwal, CVPR workshops 2012): long recordings plus a label file.

``joints_sSS_eEE.txt``: one line per skeleton frame, ``frame_id x1 y1 z1 ... x20 y20 z20`` (metres,
Kinect camera space, y up; Kinect SDK v1 joint order -> layout ``kinect_v1_20``).  Frame ids are the
depth-video frame numbers: they skip (the skeleton stream is sparser than the 30 fps video) and
occasionally repeat; every line is kept and the ids go to ``meta["frame_ids"]``.

``actionLabel.txt``: for each recording a line ``sSS_eEE`` followed by ``action: start end`` lines
whose bounds are frame ids (inclusive), not line numbers.  A segment is the lines whose frame id lies
in ``[start, end]``.  Segments with non-numeric bounds (``carry: NaN NaN`` of ``s10_e02``), reversed
bounds or no lines in range are reported (warning) and skipped.

Frame rate: 30 fps divided by the median step between consecutive frame ids (about 7.5 fps).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import CorruptDataError, EmptySequenceError, JointCountError
from ..motion import Motion
from ..registry import register_reader
from ._common import load_all, numeric_table, read_text, warn

NUM_JOINTS = 20
VIDEO_FPS = 30.0
LABEL_FILE = "actionLabel.txt"
# segments may overlap, but together select at most this many times the recording's frames
MAX_OVERLAP = 2
# Order of the dataset's action_names.mat; ids are 1-based positions here.
ACTIONS = (
    "walk",
    "sitDown",
    "standUp",
    "pickUp",
    "carry",
    "throw",
    "push",
    "pull",
    "waveHands",
    "clapHands",
)
_REC = re.compile(r"^s(?P<subject>\d+)_e(?P<take>\d+)$")
_JOINTS_NAME = re.compile(r"joints_(s\d+_e\d+)", re.I)


@dataclass(frozen=True)
class Segment:
    """One labelled interval of a recording; ``start``/``end`` are None when not numeric."""

    recording: str
    action: str
    start: int | None
    end: int | None
    line: int


def read_label_file(path: Path) -> dict[str, list[Segment]]:
    """Parse ``actionLabel.txt`` -> {recording ("s01_e01"): [Segment, ...]} in file order."""
    path = Path(path)
    out: dict[str, list[Segment]] = {}
    current = None
    for lineno, raw in enumerate(read_text(path).splitlines(), 1):
        ln = raw.strip()
        if not ln:
            continue
        if _REC.match(ln):
            current = ln
            out.setdefault(current, [])
            continue
        name, sep, rest = ln.partition(":")
        bounds = rest.split()
        if not sep or len(bounds) != 2 or not name.strip():
            raise CorruptDataError(
                path, f"line {lineno}: expected 'action: start end' or 'sXX_eYY', got {ln!r}"
            )
        if current is None:
            raise CorruptDataError(
                path, f"line {lineno}: segment before any 'sXX_eYY' recording line"
            )
        vals = []
        for b in bounds:
            try:
                v = float(b)
            except ValueError:
                raise CorruptDataError(
                    path, f"line {lineno}: bound {b!r} is not a number"
                ) from None
            vals.append(int(v) if math.isfinite(v) and v == int(v) and abs(v) <= 2**53 else None)
        out[current].append(Segment(current, name.strip(), vals[0], vals[1], lineno))
    if not out:
        raise EmptySequenceError(path, "no recordings in the label file")
    return out


def read_joints_file(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """``joints_sSS_eEE.txt`` -> (frame_ids (N,) int64, joints (N, 20, 3) float64)."""
    path = Path(path)
    table = numeric_table(path, read_text(path), what="frame line")
    width = table.shape[1]
    if width != 1 + 3 * NUM_JOINTS:
        raise JointCountError(
            path,
            f"{width} values per line; expected a frame id and {NUM_JOINTS} x 3 coordinates "
            f"({1 + 3 * NUM_JOINTS} values)",
        )
    ids = table[:, 0]
    if not np.isfinite(ids).all() or np.any(ids != np.round(ids)) or np.abs(ids).max() > 2**53:
        raise CorruptDataError(
            path, "the first column (frame id) is not a whole number on every line"
        )
    return ids.astype(np.int64), table[:, 1:].reshape(-1, NUM_JOINTS, 3)


def _fps(ids: np.ndarray) -> float:
    steps = np.diff(ids)
    steps = steps[steps > 0]
    return VIDEO_FPS / float(np.median(steps)) if steps.size else VIDEO_FPS


def _meta(path: Path, recording: str | None) -> dict:
    meta: dict = {"source": str(path), "dataset": "UTKinect"}
    m = _REC.match(recording or "")
    if m:
        meta.update(recording=recording, subject=int(m["subject"]), take=int(m["take"]))
    return meta


def _segments(
    path: Path, recording: str, segments: list[Segment], label_path: Path
) -> list[Motion]:
    ids, joints = read_joints_file(path)
    fps = _fps(ids)
    out = []
    selected = 0
    for seg in segments:
        where = f"{label_path} line {seg.line} ({recording} {seg.action})"
        if seg.start is None or seg.end is None:
            warn(path, f"segment at {where} has no numeric frame range; skipped", stacklevel=4)
            continue
        if seg.start > seg.end:
            warn(
                path,
                f"segment at {where} ends ({seg.end}) before it starts ({seg.start}); skipped",
                stacklevel=4,
            )
            continue
        rows = (ids >= seg.start) & (ids <= seg.end)
        if not rows.any():
            warn(
                path,
                f"segment at {where}: no frames with ids {seg.start}-{seg.end}; skipped",
                stacklevel=4,
            )
            continue
        selected += int(rows.sum())
        if selected > MAX_OVERLAP * len(ids):  # each copy is a new array: bound the total
            raise CorruptDataError(
                label_path,
                f"the segments of {recording} select {selected} frames of a recording of "
                f"{len(ids)} (more than {MAX_OVERLAP}x: they overlap)",
            )
        meta = _meta(path, recording)
        meta.update(
            label_file=str(label_path),
            action=seg.action,
            frame_range=(seg.start, seg.end),
            frame_ids=ids[rows].copy(),
        )
        if seg.action in ACTIONS:
            meta["label"] = ACTIONS.index(seg.action) + 1
        out.append(
            Motion(data=joints[rows].astype(np.float32), layout="kinect_v1_20", fps=fps, meta=meta)
        )
    return out


def read_utkinect(path: Path) -> Motion | list[Motion]:
    """A joints file or the label file.

    ``joints_sSS_eEE.txt`` with ``actionLabel.txt`` beside it -> list of its labelled segments;
    without a label entry -> the whole recording as one Motion.  ``actionLabel.txt`` -> the labelled
    segments of every recording listed, read from the ``joints_*.txt`` files beside it (a missing or
    broken joints file is reported and skipped).  meta: source, dataset, recording, subject, take,
    label (action id 1-10), action (name as in the label file), frame_range (start, end frame ids), frame_ids, label_file.
    """
    path = Path(path)
    m = _JOINTS_NAME.search(path.name)
    if m is None:  # the label file
        labels = read_label_file(path)
        out = []
        for rec, segs in labels.items():
            jf = path.parent / f"joints_{rec}.txt"
            if not jf.is_file():
                warn(
                    path, f"recording {rec}: {jf.name} not found; its {len(segs)} segments skipped"
                )
                continue
            out.extend(load_all([jf], lambda p, rec=rec, segs=segs: _segments(p, rec, segs, path)))
        if not out:
            n = sum(len(v) for v in labels.values())
            raise EmptySequenceError(
                path,
                f"no segment could be read ({len(labels)} recordings, {n} segments listed)",
            )
        return out
    recording = m.group(1).lower()
    label_path = path.parent / LABEL_FILE
    if label_path.is_file():
        segs = read_label_file(label_path).get(recording)
        if segs:
            return _segments(path, recording, segs, label_path)
    ids, joints = read_joints_file(path)
    meta = _meta(path, recording)
    meta["frame_ids"] = ids
    return Motion(data=joints.astype(np.float32), layout="kinect_v1_20", fps=_fps(ids), meta=meta)


def load_dataset(root, label_file: str = LABEL_FILE) -> list[Motion]:
    """All labelled segments of the UTKinect directory ``root`` (defects reported and skipped)."""
    return read_utkinect(Path(root) / label_file)


def _sniff(path: Path, head: bytes) -> bool:
    lines = head.split(b"\n")
    first = lines[0].strip()
    if len(first.split()) == 1 + 3 * NUM_JOINTS:
        return True
    return bool(re.match(rb"^s\d+_e\d+$", first)) and (len(lines) < 2 or b":" in lines[1])


@register_reader("utkinect", extensions=(".txt",), sniff=_sniff)
def _read(path: Path) -> Motion | list[Motion]:
    return read_utkinect(path)


__all__ = [
    "read_utkinect",
    "read_label_file",
    "read_joints_file",
    "load_dataset",
    "Segment",
    "ACTIONS",
]
