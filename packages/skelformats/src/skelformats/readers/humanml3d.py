"""HumanML3D ``new_joints/<id>.npy`` (Guo et al., CVPR 2022): float (T, 22, 3) SMPL joint positions.

Metres, y up, the first 22 SMPL joints (layout ``smpl22``), 20 fps (the dataset's rate after
resampling AMASS).  Loaded with ``allow_pickle=False``.  When the dataset's ``texts/<id>.txt`` is
found next to the ``new_joints`` folder, its captions (``caption#tokens#start#end`` lines, text
before the first ``#``) go to ``meta["captions"]``.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from ..errors import (
    CorruptDataError,
    EmptySequenceError,
    JointCountError,
    ShapeError,
    TruncatedFileError,
)
from ..motion import Motion
from ..registry import register_reader
from ._common import check_npy, check_size

NUM_JOINTS = 22
FPS = 20.0


def _captions(path: Path) -> list[str] | None:
    txt = path.resolve().parent.parent / "texts" / (path.stem + ".txt")
    if not txt.is_file():
        return None
    try:
        lines = txt.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    return [ln.split("#", 1)[0].strip() for ln in lines if ln.strip()]


def read_humanml3d(path: Path) -> Motion:
    """``new_joints/<id>.npy`` -> Motion (T, 22, 3), layout ``smpl22``.  meta: source, dataset, name,
    captions (when the texts folder is present)."""
    path = Path(path)
    check_size(path)
    with open(path, "rb") as f:
        magic = f.read(6)
        if magic.startswith(b"PK"):
            raise CorruptDataError(path, "is an .npz archive, expected one .npy array")
        if magic != b"\x93NUMPY":
            raise CorruptDataError(path, "not a .npy array (no NUMPY magic)")
        f.seek(0)
        check_npy(path, f, path.stat().st_size)
    try:
        arr = np.load(path, allow_pickle=False)
    except ValueError as e:
        msg = str(e)
        if "allow_pickle" in msg or "pickle" in msg:
            raise CorruptDataError(
                path, "holds Python objects (pickle), which are not loaded"
            ) from None
        if "size" in msg or "reshape" in msg or "read" in msg:
            raise TruncatedFileError(path, f"the array data is incomplete: {msg}") from None
        raise CorruptDataError(path, f"not a .npy array: {msg}") from None
    except Exception as e:  # a damaged header fails inside numpy's header parser in many ways
        raise CorruptDataError(path, f"not a .npy array: {type(e).__name__}: {e}") from None
    if arr.dtype.kind not in "iuf":
        raise CorruptDataError(path, f"array of {arr.dtype}, expected numbers")
    if arr.ndim == 2 and arr.shape[1] == NUM_JOINTS * 3:  # flattened (T, 66)
        arr = arr.reshape(-1, NUM_JOINTS, 3)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ShapeError(path, f"array shape {arr.shape}, expected (T, {NUM_JOINTS}, 3)")
    if arr.shape[1] != NUM_JOINTS:
        raise JointCountError(
            path, f"{arr.shape[1]} joints, expected {NUM_JOINTS} (HumanML3D new_joints)"
        )
    if arr.shape[0] == 0:
        raise EmptySequenceError(path, "the array has no frames")
    meta: dict = {"source": str(path), "dataset": "HumanML3D", "name": path.stem}
    caps = _captions(path)
    if caps is not None:
        meta["captions"] = caps
    return Motion(data=arr.astype(np.float32), layout="smpl22", fps=FPS, meta=meta)


def _sniff(path: Path, head: bytes) -> bool:
    if not head.startswith(b"\x93NUMPY"):
        return False
    try:
        f = io.BytesIO(head)
        version = np.lib.format.read_magic(f)
        read_header = (
            np.lib.format.read_array_header_1_0
            if version == (1, 0)
            else np.lib.format.read_array_header_2_0
        )
        shape, _, dtype = read_header(f)  # header only, no data
    except Exception:
        return False
    # any numeric 2-D/3-D array: shape problems are reported by the reader with a specific error
    return dtype.kind in "iuf" and len(shape) in (2, 3)


@register_reader("humanml3d", extensions=(".npy",), sniff=_sniff)
def _read(path: Path) -> Motion:
    return read_humanml3d(path)


__all__ = ["read_humanml3d", "NUM_JOINTS", "FPS"]
