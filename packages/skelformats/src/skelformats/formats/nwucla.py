"""Northwestern-UCLA Multiview Action3D skeleton JSON: ``{file_name, skeletons[T][20][3], label}``.

Joints are in the Kinect v1 SDK order (layout ``kinect_v1_20``), metres, camera space.  Joints stored
as exactly (0, 0, 0) were not tracked by the Kinect: they get confidence 0 (with a warning).  The file
name ``aAA_sSS_eEE_vVV`` gives action, subject, take and view; ``labels.tsv`` (beside the data
folder) maps ``label`` 1-10 to action names.
"""

from __future__ import annotations

import csv
import re
import warnings
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import (
    CorruptDataError,
    EmptySequenceError,
    JointCountError,
    SkelFormatWarning,
)
from ..motion import Motion
from ..readers._common import check_frames, parse_json, read_text
from ..registry import get_layout, register_reader

FPS = 30.0  # Kinect v1 nominal frame rate
_NAME = re.compile(r"a(\d+)_s(\d+)_e(\d+)_v(\d+)")


@lru_cache(maxsize=8)
def _label_names(folder: str) -> dict[int, str]:
    for d in (Path(folder), *Path(folder).parents[:2]):
        f = d / "labels.tsv"
        if f.is_file():
            try:
                with open(f, newline="", encoding="utf-8") as fh:
                    return {int(r["label"]): r["name"] for r in csv.DictReader(fh, delimiter="\t")}
            except (KeyError, ValueError):
                return {}
    return {}


def _sniff(path: Path, head: bytes) -> bool:
    return b'"skeletons"' in head and head.lstrip().startswith(b"{")


@register_reader("nwucla", extensions=(".json",), sniff=_sniff)
def read_nwucla(path) -> Motion:
    path = Path(path)
    doc = parse_json(path, read_text(path), truncation_is_error=True)
    if not isinstance(doc, dict) or "skeletons" not in doc:
        raise CorruptDataError(path, "not an NW-UCLA skeleton file (no 'skeletons' key)")
    sk = doc["skeletons"]
    if not isinstance(sk, list) or len(sk) == 0:
        raise EmptySequenceError(path, "'skeletons' holds no frames")
    check_frames(path, len(sk))
    layout = get_layout("kinect_v1_20")
    try:
        data = np.asarray(sk, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        data = None
    if data is None or data.shape[1:] != (layout.num_joints, 3):
        _diagnose(path, sk, layout.num_joints)  # slow path: say exactly what is wrong
    untracked = (data == 0).all(axis=-1)
    conf = None
    if untracked.any():
        warnings.warn(
            f"{path}: {int(untracked.sum())} untracked joints (0, 0, 0) marked missing",
            SkelFormatWarning,
            stacklevel=2,
        )
        conf = (~untracked).astype(np.float32)
    meta = {"source": str(path), "dataset": "NW-UCLA", "file_name": doc.get("file_name", path.stem)}
    m = _NAME.search(path.stem)
    if m:
        a, s, e, v = (int(x) for x in m.groups())
        meta.update(action_id=a, subject=s, take=e, view=v)
    if "label" in doc:
        if not isinstance(doc["label"], (int, str)) or isinstance(doc["label"], bool):
            raise CorruptDataError(path, f"'label' should be a number, got {doc['label']!r:.80}")
        meta["label"] = doc["label"]
        name = _label_names(str(path.parent)).get(doc["label"])
        if name is not None:
            meta["action"] = name
    return Motion(data=data, layout=layout, fps=FPS, confidence=conf, meta=meta)


def _diagnose(path, sk, n_joints):
    for t, frame in enumerate(sk):
        if not isinstance(frame, list) or len(frame) != n_joints:
            n = len(frame) if isinstance(frame, list) else type(frame).__name__
            raise JointCountError(path, f"frame {t} has {n} joints, expected {n_joints}")
        for j, p in enumerate(frame):
            if not isinstance(p, list) or len(p) != 3:
                raise CorruptDataError(
                    path, f"frame {t} joint {j} is not an (x, y, z) triple: {p!r}"
                )
    raise CorruptDataError(path, "non-numeric coordinates in 'skeletons'")


def iter_dataset(root) -> Iterator[Motion]:
    """Every sequence under ``root`` (the NW-UCLA folder or its ``all_sqe``), sorted by file name."""
    root = Path(root)
    folder = root / "all_sqe" if (root / "all_sqe").is_dir() else root
    for f in sorted(folder.glob("*.json")):
        yield read_nwucla(f)
