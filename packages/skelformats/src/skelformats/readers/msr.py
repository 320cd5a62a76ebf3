"""MSR Action3D skeleton text files (Li, Zhang & Liu, CVPR workshops 2010).

One file per sequence, ``aAA_sSS_eEE_skeleton3D.txt`` (``real_world_xyz``: metres, camera space, y up)
or ``aAA_sSS_eEE_skeleton.txt`` (``screen_uvd``: depth-image u, v pixels and depth).  Each line is one
joint, ``c1 c2 c3 w``; 20 consecutive lines make a frame, joints in the dataset's own order (layout
``msr20``).  The 4th value ``w`` is the tracker's per-joint confidence.  It is 0 for most neck, spine
and hip-centre entries whose positions are as stable as the rest, so it is not a missing flag: it is
kept as ``meta["joint_confidence"]`` (T, 20) and ``Motion.confidence`` marks only joints that are
really absent: frames where nothing was tracked (all zeros) and junk values (``screen_uvd`` has
entries near 2**31 = 2.1e9) -- these get confidence 0 and a warning.  A file without any tracked
frame (``a13_s09_e02``) raises :class:`CorruptDataError`.

Labels: ``labels.tsv`` (``action_id<TAB>name``, e.g. ``a01<TAB>high arm wave``) beside the files or
one directory up.  Frame rate: 15 fps (the dataset paper).
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..errors import CorruptDataError, TruncatedFileError
from ..motion import Motion
from ..registry import register_reader
from ._common import (
    find_beside,
    load_all,
    name_fields,
    numeric_table,
    read_label_table,
    read_text,
    warn,
)

NUM_JOINTS = 20
FPS = 15.0
# Junk entries are 2147480000-ish (INT32_MAX printed in %e); real coordinates are metres or pixels
# (u < 320, v < 240, depth < ~4000).
JUNK_ABOVE = 1e6
_NAME = re.compile(r"a(?P<label>\d+)_s(?P<subject>\d+)_e(?P<take>\d+)_skeleton", re.I)
_LABEL_CACHE: dict[tuple[Path, int], dict[str, str]] = {}


def _labels_for(path: Path) -> dict[str, str]:
    table = find_beside(path, "labels.tsv")
    if table is None:
        return {}
    key = (table, table.stat().st_mtime_ns)  # one parse per dataset walk, fresh after an edit
    if key not in _LABEL_CACHE:
        _LABEL_CACHE[key] = read_label_table(table)
    return _LABEL_CACHE[key]


def read_msr_action3d(path: Path) -> Motion:
    """One MSR Action3D file -> Motion (T, 20, 3), layout ``msr20``.

    meta: source, dataset, coordinates ("real_world_xyz" | "screen_uvd"), subject, take, label
    (action id 1-20), action (its name, from labels.tsv when found), joint_confidence (T, 20) float32.
    """
    path = Path(path)
    table = numeric_table(path, read_text(path), 4, what="joint line")
    if table.shape[0] % NUM_JOINTS:
        raise TruncatedFileError(
            path, f"{table.shape[0]} joint lines is not a whole number of {NUM_JOINTS}-joint frames "
            f"({table.shape[0] % NUM_JOINTS} lines of an incomplete last frame)"
        )
    frames = table.reshape(-1, NUM_JOINTS, 4)
    xyz, w = frames[..., :3], frames[..., 3]
    junk = ~np.isfinite(frames).all(-1) | (np.abs(frames) > JUNK_ABOVE).any(-1)
    untracked = ~xyz.any(-1)
    untracked_frames = untracked.all(-1)
    if untracked_frames.all():
        raise CorruptDataError(path, "every coordinate is zero: no skeleton was tracked in any frame")
    if junk.all():
        raise CorruptDataError(path, "every joint holds junk values")
    if junk.any():
        warn(path, f"{int(junk.sum())} joint entries hold junk values (|v| > {JUNK_ABOVE:g}, e.g. "
             f"{np.abs(frames[junk]).max():.6g}); marked missing")
    if untracked_frames.any():
        warn(path, f"{int(untracked_frames.sum())} of {len(frames)} frames are all zeros (not tracked); "
             "marked missing")
    bad = junk | untracked_frames[:, None]
    conf = (~bad).astype(np.float32)
    xyz = np.where(bad[..., None], 0.0, xyz)
    w = np.where(junk | ~np.isfinite(w), 0.0, w)

    meta: dict = {"source": str(path), "dataset": "MSRAction3D",
                  "coordinates": "screen_uvd" if path.name.lower().endswith("_skeleton.txt") else "real_world_xyz",
                  "joint_confidence": w.astype(np.float32)}
    fields = name_fields(path.stem, _NAME)
    if fields:
        meta.update(fields)
        name = _labels_for(path).get(f"a{fields['label']:02d}")
        if name is not None:
            meta["action"] = name
    return Motion(data=xyz.astype(np.float32), layout="msr20", fps=FPS,
                  confidence=None if conf.all() else conf, meta=meta)


def load_dataset(root, coordinates: str = "real_world_xyz") -> list[Motion]:
    """Every sequence under ``root/<coordinates>/`` (sorted by name); broken files are reported
    (SkelFormatWarning) and skipped.  When both coordinate versions are present, sequences whose two
    versions differ in length are reported too."""
    root = Path(root)
    folder = root / coordinates
    files = sorted(folder.glob("*.txt"))
    out = load_all(files, read_msr_action3d)
    other = root / ("screen_uvd" if coordinates == "real_world_xyz" else "real_world_xyz")
    if other.is_dir():
        suffix = "_skeleton.txt" if coordinates == "real_world_xyz" else "_skeleton3D.txt"
        for m in out:
            stem = Path(m.meta["source"]).name.split("_skeleton")[0]
            twin = other / (stem + suffix)
            if twin.is_file():
                n = sum(1 for ln in twin.read_text().splitlines() if ln.strip()) // NUM_JOINTS
                if n != m.num_frames:
                    warn(m.meta["source"], f"{m.num_frames} frames here but {n} in {twin}", stacklevel=2)
    return out


def _sniff(path: Path, head: bytes) -> bool:
    first = head.split(b"\n", 1)[0].split()
    if len(first) != 4:
        return False
    try:
        [float(t) for t in first]
    except ValueError:
        return False
    return True


@register_reader("msr_action3d", extensions=(".txt",), sniff=_sniff)
def _read(path: Path) -> Motion:
    return read_msr_action3d(path)


__all__ = ["read_msr_action3d", "load_dataset", "NUM_JOINTS", "FPS"]
