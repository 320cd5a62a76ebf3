"""C3D motion-capture files (c3d.org), read with the ``c3d`` package (optional: ``skelformats[c3d]``).

3D marker trajectories: ``POINT:LABELS`` name the markers, ``POINT:RATE`` is the frame rate,
``POINT:UNITS`` the length unit (converted to metres).  A point whose residual is negative is
invalid in that frame (confidence 0).  When the trimmed marker labels are exactly the joints of a
registered layout (e.g. a file written from a Motion), that layout is used; otherwise the markers
form an ad-hoc layout ``c3d:<file stem>`` with no bones and no canonical names (markers are not
joints; map them with your own Layout before converting).
"""

from __future__ import annotations

import struct
import warnings
from pathlib import Path

import numpy as np

from ..errors import CorruptDataError, EmptySequenceError, SkelFormatError, TruncatedFileError
from ..layout import Layout
from ..motion import Motion
from ..registry import get_layout, list_layouts, register_reader
from ._common import check_frames, check_size

_UNIT_SCALE = {"mm": 1e-3, "cm": 1e-2, "m": 1.0, "in": 0.0254}


class MissingDependencyError(SkelFormatError, ImportError):
    """A reader needs an optional package that is not installed."""


def _import_c3d(path):
    try:
        import c3d  # noqa: PLC0415  (optional dependency)
    except ImportError:
        raise MissingDependencyError(
            path,
            "reading C3D files needs the optional 'c3d' package: pip install 'skelformats[c3d]'",
        ) from None
    return c3d


def _layout_for(labels: tuple[str, ...], stem: str) -> Layout:
    for name in list_layouts():
        lay = get_layout(name)
        if lay.dims == 3 and lay.joints == labels:
            return lay
    seen: set[str] = set()
    joints = []
    for i, lab in enumerate(labels):
        lab = lab or f"marker_{i}"
        if lab in seen:
            lab = f"{lab}_{i}"
        seen.add(lab)
        joints.append(lab)
    return Layout(name=f"c3d:{stem}", joints=tuple(joints), edges=(), dims=3, units="m")


def read_c3d(path: Path) -> Motion:
    """A ``.c3d`` file -> Motion (T, markers, 3) in metres.

    meta: source, dataset ("C3D"), units (the file's), first_frame, marker_labels.
    """
    path = Path(path)
    c3d = _import_c3d(path)
    check_size(path)
    try:
        with open(path, "rb") as handle, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the package warns about absent analog data
            reader = c3d.Reader(handle)
            labels = tuple(str(s).strip() for s in reader.point_labels)
            rate = float(reader.point_rate)
            units = (
                reader.get("POINT:UNITS").string_value.strip()
                if reader.get("POINT:UNITS")
                else "mm"
            )
            first = int(reader.first_frame)
            declared = int(reader.last_frame) - first + 1
            check_frames(path, declared)
            frames = [points[:, :4].copy() for _, points, _ in reader.read_frames(copy=True)]
    except SkelFormatError:
        raise
    except (struct.error, EOFError) as e:
        raise TruncatedFileError(path, f"the file ends early: {e}") from None
    except (
        Exception
    ) as e:  # the package's parser fails on junk headers in many ways (even NameError)
        raise CorruptDataError(path, f"not a readable C3D file: {type(e).__name__}: {e}") from None
    if not labels:
        raise EmptySequenceError(path, "the file has no 3D points")
    if not frames:
        raise EmptySequenceError(path, "the file has no frames")
    if len(frames) < declared:  # the package stops at the end of the file with only a warning
        raise TruncatedFileError(
            path, f"the file ends after {len(frames)} of its {declared} frames"
        )
    arr = np.stack(frames)  # (T, N, 4): x y z residual
    if arr.shape[1] != len(labels):
        labels = labels[: arr.shape[1]] + tuple(
            f"marker_{i}" for i in range(len(labels), arr.shape[1])
        )
    scale = _UNIT_SCALE.get(units.lower())
    if scale is None:
        raise CorruptDataError(path, f"unknown POINT:UNITS {units!r}")
    valid = (arr[..., 3] >= 0) & np.isfinite(arr[..., :3]).all(-1)
    data = np.where(valid[..., None], arr[..., :3] * scale, 0.0).astype(np.float32)
    meta = {
        "source": str(path),
        "dataset": "C3D",
        "units": units,
        "first_frame": first,
        "marker_labels": list(labels),
    }
    if rate <= 0 or not np.isfinite(rate):
        raise CorruptDataError(path, f"POINT:RATE {rate!r} is not a positive frame rate")
    return Motion(
        data=data,
        layout=_layout_for(labels, path.stem),
        fps=rate,
        confidence=None if valid.all() else valid.astype(np.float32),
        meta=meta,
    )


def _sniff(path: Path, head: bytes) -> bool:
    return (
        len(head) >= 512 and head[1] == 0x50
    )  # header: parameter-block pointer, then the key 0x50


@register_reader("c3d", extensions=(".c3d",), sniff=_sniff)
def _read(path: Path) -> Motion:
    return read_c3d(path)


__all__ = ["read_c3d", "MissingDependencyError"]
