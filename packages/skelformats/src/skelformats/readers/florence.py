"""Florence 3D Actions (Seidenari et al., CVPR workshops 2013): ``skeletal_data.mat``.

A MATLAB struct array ``skeletal_data`` (215 x 1) with fields ``original_skeletal_data`` (3 x 15 x T),
``joint_locations`` (the same, torso-centred), ``time_stamps`` (1 x T), ``subject`` and ``action``.
The 15 OpenNI joints are in the order of layout ``openni15``.  The three rows are camera x, depth and
height (checked on the data: row 2 is about 2.8 m for every joint, row 3 is highest at the head and
lowest at the ankles); they are reordered to x, y (up), z (depth) so the result is y-up like every
other Kinect layout.  Values are metres.  Action names come from ``action_names.mat`` beside the file
(wave, drink, answer phone, clap, tight lace, sit down, stand up, read watch, bow).

``take`` numbers the repetitions of one (subject, action) pair in file order (1-based).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import CorruptDataError, EmptySequenceError, JointCountError, ShapeError
from ..motion import Motion
from ..registry import register_reader
from ._common import load_all, loadmat, mat_field, mat_int, mat_string, mat_variables, warn

NUM_JOINTS = 15
FPS = 30.0
# stored rows (x, depth, height) -> (x, height, depth)
_AXES = (0, 2, 1)
MAX_SKIP_WARNINGS = 10  # then one summary: a damaged file must not flood the log


def read_action_names(path: Path) -> list[str]:
    """``action_names.mat`` -> names, index i for action id i + 1."""
    m = loadmat(path)
    names = mat_field(path, m, "action_names")
    return [mat_string(v) for v in np.asarray(names).ravel()]


def _sequence(path: Path, rec, index: int) -> tuple[np.ndarray, int, int]:
    what = f"skeletal_data entry {index + 1}"
    raw = np.asarray(mat_field(path, rec, "original_skeletal_data", what))
    while raw.dtype == object and raw.size == 1:
        raw = np.asarray(raw.ravel()[0])
    if raw.ndim == 2 and raw.shape[:2] == (
        3,
        NUM_JOINTS,
    ):  # a one-frame sequence loses its 3rd axis
        raw = raw[:, :, None]
    if raw.ndim != 3 or raw.shape[0] != 3:
        raise ShapeError(
            path, f"{what}: original_skeletal_data has shape {raw.shape}, expected (3, 15, T)"
        )
    if raw.shape[1] != NUM_JOINTS:
        raise JointCountError(path, f"{what}: {raw.shape[1]} joints, expected {NUM_JOINTS}")
    if raw.shape[2] == 0:
        raise EmptySequenceError(path, f"{what}: no frames")
    if raw.dtype.kind not in "iuf":
        raise CorruptDataError(path, f"{what}: original_skeletal_data is not numeric ({raw.dtype})")
    data = np.transpose(raw[list(_AXES)], (2, 1, 0)).astype(np.float32)  # (T, 15, 3)
    subject = mat_int(path, mat_field(path, rec, "subject", what), f"{what} subject")
    action = mat_int(path, mat_field(path, rec, "action", what), f"{what} action")
    return data, subject, action


def read_florence3d(path: Path) -> list[Motion]:
    """``skeletal_data.mat`` -> one Motion (T, 15, 3) per entry, layout ``openni15``.

    meta: source, dataset, index (1-based entry), subject, take, label (action id 1-9), action (name),
    units ("m").
    An entry that cannot be read is reported (warning) and skipped; a file with no readable entry
    raises.
    """
    path = Path(path)
    m = loadmat(path)
    recs = np.asarray(mat_field(path, m, "skeletal_data"))
    if recs.size == 0:
        raise EmptySequenceError(path, "skeletal_data is empty")
    names_path = path.parent / "action_names.mat"
    names = read_action_names(names_path) if names_path.is_file() else []
    out: list[Motion] = []
    takes: dict[tuple[int, int], int] = {}
    skipped = 0
    for i, rec in enumerate(recs.ravel()):
        while (
            isinstance(rec, np.ndarray)
            and rec.dtype.names is None
            and rec.dtype == object
            and rec.size == 1
        ):
            rec = rec.ravel()[0]
        if isinstance(rec, np.ndarray) and rec.dtype.names is not None:
            rec = rec.ravel()[0]
        try:
            data, subject, action = _sequence(path, rec, i)
            bad = ~np.isfinite(data).all(-1)
            conf = None
            if bad.any():
                warn(
                    path,
                    f"skeletal_data entry {i + 1}: {int(bad.sum())} non-finite joint positions; marked missing",
                )
                data = np.where(bad[..., None], 0.0, data).astype(np.float32)
                conf = (~bad).astype(np.float32)
        except (CorruptDataError, ShapeError, JointCountError, EmptySequenceError) as e:
            skipped += 1
            if skipped <= MAX_SKIP_WARNINGS:
                warn(path, f"skipped: {e.problem}")
            continue
        takes[(subject, action)] = take = takes.get((subject, action), 0) + 1
        meta = {
            "source": str(path),
            "dataset": "Florence3D",
            "index": i + 1,
            "subject": subject,
            "label": action,
            "take": take,
            "units": "m",
        }
        if 1 <= action <= len(names):
            meta["action"] = names[action - 1]
        out.append(Motion(data=data, layout="openni15", fps=FPS, confidence=conf, meta=meta))
    if skipped > MAX_SKIP_WARNINGS:
        warn(path, f"{skipped - MAX_SKIP_WARNINGS} more entries skipped ({skipped} in all)")
    if not out:
        raise EmptySequenceError(path, "no readable sequence in skeletal_data")
    return out


def load_dataset(root) -> list[Motion]:
    """All sequences of the Florence 3D directory ``root``."""
    return load_all([Path(root) / "skeletal_data.mat"], read_florence3d)


def _sniff(path: Path, head: bytes) -> bool:
    return "skeletal_data" in mat_variables(path, head)


@register_reader("florence3d", extensions=(".mat",), sniff=_sniff)
def _read(path: Path) -> list[Motion]:
    return read_florence3d(path)


__all__ = ["read_florence3d", "read_action_names", "load_dataset"]
