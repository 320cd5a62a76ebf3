"""NTU RGB+D 60/120 ``.skeleton`` text files (Kinect v2; Shahroudy et al. CVPR 2016, Liu et al. 2019).

Format (the dataset's ``read_skeleton_file.m``), whitespace separated:

    frameCount
    per frame:  bodyCount
      per body: bodyID clippedEdges handLeftConfidence handLeftState handRightConfidence
                handRightState isRestricted leanX leanY trackingState
                jointCount (25)
                per joint: x y z depthX depthY colorX colorY orientW orientX orientY orientZ trackingState

x, y, z are metres in camera space (y up); joints follow the Kinect v2 ``JointType`` order (layout
``ntu25``).  Bodies are matched across frames by ``bodyID`` and ordered by first appearance; with
several bodies the result is (M, T, 25, 3), a body absent from a frame has confidence 0 there.
Per-joint trackingState (0 not tracked, 1 inferred, 2 tracked) becomes confidence 0 / 0.5 / 1.
The file name ``SsssCcccPpppRrrrAaaa`` gives setup, camera (view), performer (subject),
replication (take) and action class (label).  Frame rate 30 fps.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..errors import CorruptDataError, EmptySequenceError, JointCountError, TruncatedFileError
from ..motion import Motion
from ..registry import register_reader
from ._common import check_bodies, check_frames, read_text, warn

NUM_JOINTS = 25
FPS = 30.0
BODY_FIELDS = 10
JOINT_FIELDS = 12
_CONF_OF_STATE = np.array([0.0, 0.5, 1.0], np.float32)
_NAME = re.compile(
    r"S(?P<setup>\d{3})C(?P<camera>\d{3})P(?P<subject>\d{3})R(?P<take>\d{3})A(?P<label>\d{3})"
)


class _Tokens:
    """Cursor over the whitespace tokens of the file; errors name the place in the file."""

    def __init__(self, path: Path, text: str):
        self.path, self.tok, self.i = path, text.split(), 0

    def take(self, n: int, where: str) -> list[str]:
        if self.i + n > len(self.tok):
            raise TruncatedFileError(self.path, f"the file ends inside {where}")
        out = self.tok[self.i : self.i + n]
        self.i += n
        return out

    def integer(self, where: str) -> int:
        t = self.take(1, where)[0]
        try:
            return int(t)
        except ValueError:
            raise CorruptDataError(self.path, f"{where}: expected an integer, got {t!r}") from None


def parse_ntu_skeleton(path: Path) -> tuple[list[str], list[list[tuple[str, np.ndarray]]]]:
    """-> (body ids in order of first appearance, per frame a list of (body id, joints (25, 12)))."""
    path = Path(path)
    text = read_text(path)
    if not text.strip():
        raise EmptySequenceError(path, "the file is empty")
    cur = _Tokens(path, text)
    n_frames = cur.integer("the frame count")
    if n_frames < 0:
        raise CorruptDataError(path, f"negative frame count {n_frames}")
    if n_frames == 0:
        raise EmptySequenceError(path, "the file declares 0 frames")
    if n_frames > len(cur.tok) - 1:  # every frame needs at least its body count
        raise TruncatedFileError(
            path, f"declares {n_frames} frames but holds only {len(cur.tok) - 1} values"
        )
    check_frames(path, n_frames)
    frames: list[list[tuple[str, np.ndarray]]] = []
    order: dict[str, int] = {}
    for f in range(n_frames):
        where = f"frame {f + 1} of {n_frames}"
        n_bodies = cur.integer(f"the body count of {where}")
        if n_bodies < 0:
            raise CorruptDataError(path, f"{where}: negative body count {n_bodies}")
        bodies = []
        for b in range(n_bodies):
            bwhere = f"body {b + 1} of {where}"
            info = cur.take(BODY_FIELDS, f"the header of {bwhere}")
            body_id = info[0]
            n_joints = cur.integer(f"the joint count of {bwhere}")
            if n_joints != NUM_JOINTS:
                raise JointCountError(path, f"{bwhere}: {n_joints} joints, expected {NUM_JOINTS}")
            raw = cur.take(n_joints * JOINT_FIELDS, f"the joints of {bwhere}")
            try:
                joints = np.array(raw, dtype=np.float64).reshape(n_joints, JOINT_FIELDS)
            except ValueError:
                bad = next((t for t in raw if not _is_float(t)), "?")
                raise CorruptDataError(
                    path, f"{bwhere}: joint value {bad!r} is not a number"
                ) from None
            if body_id not in order:
                order[body_id] = len(order)
                check_bodies(path, len(order), n_frames, NUM_JOINTS * JOINT_FIELDS * 8)
            bodies.append((body_id, joints))
        frames.append(bodies)
    if cur.i < len(cur.tok):
        warn(
            path,
            f"{len(cur.tok) - cur.i} extra values after the {n_frames} declared frames; ignored",
        )
    return list(order), frames


def _is_float(t: str) -> bool:
    try:
        float(t)
        return True
    except ValueError:
        return False


def read_ntu_skeleton(path: Path) -> Motion:
    """One ``.skeleton`` file -> Motion (T, 25, 3), or (M, T, 25, 3) with several bodies.

    meta: source, dataset, setup, camera, view (= camera), subject, take, label (action class), body_ids,
    color_xy / depth_xy (same leading shape as the data, 2 values: image pixels).
    """
    path = Path(path)
    ids, frames = parse_ntu_skeleton(path)
    T, M = len(frames), len(ids)
    if M == 0:
        raise EmptySequenceError(path, f"no body in any of the {T} frames")
    full = np.zeros((M, T, NUM_JOINTS, JOINT_FIELDS), np.float64)
    present = np.zeros((M, T), bool)
    slot = {b: i for i, b in enumerate(ids)}
    for t, bodies in enumerate(frames):
        for body_id, joints in bodies:
            m = slot[body_id]
            if present[m, t]:
                warn(path, f"frame {t + 1}: body {body_id} appears twice; the later entry is kept")
            full[m, t] = joints
            present[m, t] = True
    state = full[..., 11]
    if not np.isin(state, (0, 1, 2)).all():
        raise CorruptDataError(path, "joint tracking states must be 0, 1 or 2")
    conf = _CONF_OF_STATE[state.astype(np.int64)] * present[..., None]
    if (~present).any() and M == 1:
        warn(path, f"{int((~present).sum())} of {T} frames have no body; marked missing")
    meta: dict = {
        "source": str(path),
        "dataset": "NTU RGB+D",
        "body_ids": ids,
        "color_xy": full[..., 5:7].astype(np.float32),
        "depth_xy": full[..., 3:5].astype(np.float32),
    }
    m_name = _NAME.search(path.name)
    if m_name:
        fields = {k: int(v) for k, v in m_name.groupdict().items()}
        meta.update(fields)
        meta["view"] = fields["camera"]
    data = full[..., :3].astype(np.float32)
    if M == 1:
        data, conf = data[0], conf[0]
        meta["color_xy"], meta["depth_xy"] = meta["color_xy"][0], meta["depth_xy"][0]
    return Motion(
        data=data,
        layout="ntu25",
        fps=FPS,
        confidence=None if (conf == 1).all() else conf.astype(np.float32),
        meta=meta,
    )


def _sniff(path: Path, head: bytes) -> bool:
    lines = head.split(b"\n")
    if len(lines) < 4:
        return False
    try:
        if int(lines[0]) < 0 or int(lines[1]) < 0:
            return False
    except ValueError:
        return False
    third = lines[2].split()
    return len(third) == BODY_FIELDS or (
        len(third) == 1 and third[0].isdigit()
    )  # a frame without bodies


@register_reader("ntu_skeleton", extensions=(".skeleton",), sniff=_sniff)
def _read(path: Path) -> Motion:
    return read_ntu_skeleton(path)


__all__ = ["read_ntu_skeleton", "parse_ntu_skeleton", "NUM_JOINTS", "FPS"]
