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

The dataset ships ``screen_uvd`` as ``screen_uvd.tar.gz``: :func:`read_msr_archive` (format
``msr_action3d_archive``) reads such an archive in memory, one Motion per member.

Labels: ``labels.tsv`` (``action_id<TAB>name``, e.g. ``a01<TAB>high arm wave``) beside the files or
one directory up.  Frame rate: 15 fps (the dataset paper).
"""

from __future__ import annotations

import re
import tarfile
import zlib
from pathlib import Path

import numpy as np

from ..errors import (
    CorruptDataError,
    EmptySequenceError,
    LimitError,
    SkelFormatError,
    TruncatedFileError,
)
from ..limits import get_limits
from ..motion import Motion
from ..registry import register_reader
from ._common import (
    check_size,
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
# An archive may unpack to at most this many times its size (the dataset's gzip: 11x) -- bounds what
# a small hostile archive can make the text parser hold.
MAX_ARCHIVE_RATIO = 32
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


def _from_text(where: str, name: str, text: str, near: Path) -> Motion:
    """Parse one file's text; ``where`` names it in errors, ``near`` is where labels.tsv is looked for."""
    table = numeric_table(where, text, 4, what="joint line")
    if table.shape[0] % NUM_JOINTS:
        raise TruncatedFileError(
            where,
            f"{table.shape[0]} joint lines is not a whole number of {NUM_JOINTS}-joint frames "
            f"({table.shape[0] % NUM_JOINTS} lines of an incomplete last frame)",
        )
    frames = table.reshape(-1, NUM_JOINTS, 4)
    xyz, w = frames[..., :3], frames[..., 3]
    junk = ~np.isfinite(frames).all(-1) | (np.abs(frames) > JUNK_ABOVE).any(-1)
    untracked_frames = ~xyz.any(-1).any(-1)
    if untracked_frames.all():
        raise CorruptDataError(
            where, "every coordinate is zero: no skeleton was tracked in any frame"
        )
    if junk.all():
        raise CorruptDataError(where, "every joint holds junk values")
    if junk.any():
        warn(
            where,
            f"{int(junk.sum())} joint entries hold junk values (|v| > {JUNK_ABOVE:g}, e.g. "
            f"{np.abs(frames[junk]).max():.6g}); marked missing",
            stacklevel=4,
        )
    if untracked_frames.any():
        warn(
            where,
            f"{int(untracked_frames.sum())} of {len(frames)} frames are all zeros (not tracked); "
            "marked missing",
            stacklevel=4,
        )
    bad = junk | untracked_frames[:, None]
    conf = (~bad).astype(np.float32)
    xyz = np.where(bad[..., None], 0.0, xyz)
    w = np.where(junk | ~np.isfinite(w), 0.0, w)

    meta: dict = {
        "source": where,
        "dataset": "MSRAction3D",
        "coordinates": "screen_uvd" if name.lower().endswith("_skeleton.txt") else "real_world_xyz",
        "joint_confidence": w.astype(np.float32),
    }
    fields = name_fields(name, _NAME)
    if fields:
        meta.update(fields)
        label = _labels_for(near).get(f"a{fields['label']:02d}")
        if label is not None:
            meta["action"] = label
    return Motion(
        data=xyz.astype(np.float32),
        layout="msr20",
        fps=FPS,
        confidence=None if conf.all() else conf,
        meta=meta,
    )


def read_msr_action3d(path: Path) -> Motion:
    """One MSR Action3D file -> Motion (T, 20, 3), layout ``msr20``.

    meta: source, dataset, coordinates ("real_world_xyz" | "screen_uvd"), subject, take, label
    (action id 1-20), action (its name, from labels.tsv when found), joint_confidence (T, 20) float32.
    """
    path = Path(path)
    return _from_text(str(path), path.name, read_text(path), path)


def _archive_members(path: Path) -> list[tuple[str, str]]:
    """(member name, text) of the MSR files in a tar archive, sorted by name."""
    out = []
    check_size(path)
    budget = min(get_limits().max_bytes, MAX_ARCHIVE_RATIO * max(path.stat().st_size, 1 << 16))
    try:
        with tarfile.open(path) as tar:
            for member in tar:
                base = member.name.rsplit("/", 1)[-1]
                if (
                    not member.isfile()
                    or not base.lower().endswith(".txt")
                    or not _NAME.search(base)
                ):
                    continue
                if member.size > budget:
                    raise LimitError(
                        path,
                        f"the archive unpacks to more than {budget} bytes (at most "
                        f"{MAX_ARCHIVE_RATIO} x its size, and skelformats.limits max_bytes)",
                    )
                budget -= member.size
                raw = tar.extractfile(member).read()
                try:
                    out.append((member.name, raw.decode("utf-8")))
                except UnicodeDecodeError:
                    out.append((member.name, ""))  # reported by the parser as having no data
    except (tarfile.TarError, EOFError, OSError, zlib.error, ValueError) as e:
        raise CorruptDataError(
            path, f"not a readable tar archive: {type(e).__name__}: {e}"
        ) from None
    if not out:
        raise EmptySequenceError(
            path, "no MSR Action3D skeleton files (aAA_sSS_eEE_skeleton*.txt) in the archive"
        )
    return sorted(out)


def read_msr_archive(path: Path) -> list[Motion]:
    """The dataset's ``screen_uvd.tar.gz`` (or any tar of MSR files) -> one Motion per member, read
    in memory.  A broken member is reported (warning) and skipped.  ``meta["source"]`` is
    ``<archive>::<member>``."""
    path = Path(path)
    out = []
    for name, text in _archive_members(path):
        where = f"{path}::{name}"
        try:
            out.append(_from_text(where, name.rsplit("/", 1)[-1], text, path))
        except SkelFormatError as e:
            warn(where, f"skipped: {e.problem}")
    return out


def _frame_counts(root: Path, coordinates: str) -> dict[str, int]:
    """{aAA_sSS_eEE: frames} of one coordinate version, from its folder or its .tar.gz; {} if absent."""
    folder, archive = root / coordinates, root / f"{coordinates}.tar.gz"
    if folder.is_dir():
        items = [(p.name, p.read_text()) for p in folder.glob("*.txt")]
    elif archive.is_file():
        try:
            items = _archive_members(archive)
        except SkelFormatError:
            return {}
    else:
        return {}
    return {
        name.rsplit("/", 1)[-1].split("_skeleton")[0]: sum(
            1 for ln in text.splitlines() if ln.strip()
        )
        // NUM_JOINTS
        for name, text in items
    }


def load_dataset(root, coordinates: str = "real_world_xyz") -> list[Motion]:
    """Every sequence of one coordinate version (``root/<coordinates>/`` or, when that folder is
    absent, ``root/<coordinates>.tar.gz`` as shipped), sorted by name; broken files are reported
    (SkelFormatWarning) and skipped.  Sequences whose two coordinate versions differ in length are
    reported too (when the other version is present)."""
    root = Path(root)
    folder = root / coordinates
    if not folder.is_dir() and (root / f"{coordinates}.tar.gz").is_file():
        out = read_msr_archive(root / f"{coordinates}.tar.gz")
    else:
        out = load_all(sorted(folder.glob("*.txt")), read_msr_action3d)
    other = "screen_uvd" if coordinates == "real_world_xyz" else "real_world_xyz"
    twins = _frame_counts(root, other)
    for m in out:
        stem = m.meta["source"].rsplit("/", 1)[-1].split("_skeleton")[0]
        n = twins.get(stem)
        if n is not None and n != m.num_frames:
            warn(
                m.meta["source"],
                f"{m.num_frames} frames here but {n} in the {other} version",
                stacklevel=2,
            )
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


def _sniff_archive(path: Path, head: bytes) -> bool:
    if not (head.startswith(b"\x1f\x8b") or head[257:262] == b"ustar"):
        return False
    try:
        with tarfile.open(path) as tar:
            for member in tar:
                if member.isfile():
                    return bool(_NAME.search(member.name.rsplit("/", 1)[-1]))
    except Exception:  # sniffing never raises
        return False
    return False


@register_reader(
    "msr_action3d_archive", extensions=(".tar.gz", ".tgz", ".tar"), sniff=_sniff_archive
)
def _read_archive(path: Path) -> list[Motion]:
    return read_msr_archive(path)


__all__ = ["read_msr_action3d", "read_msr_archive", "load_dataset", "NUM_JOINTS", "FPS"]
