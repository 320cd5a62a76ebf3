"""Writer of NTU RGB+D ``.skeleton`` text files (the layout ``readers/ntu.py`` reads).

One ``ntu25`` motion, (T, 25, 3) or (M, T, 25, 3), becomes ``frameCount`` then per frame
``bodyCount`` and per body the 10 header fields, ``25`` and 25 joint lines of 12 values
(x y z depthX depthY colorX colorY orientW orientX orientY orientZ trackingState).

What the data model does not hold is written as the Kinect leaves it when unknown: orientations 0,
body header flags 0, depth/colour pixels from ``meta["depth_xy"]`` / ``meta["color_xy"]`` when
they have the data's shape, else 0.  Confidence maps back to the tracking state (1 -> 2 tracked,
0.5 -> 1 inferred, 0 -> 0); a body whose joints all have confidence 0 in a frame is left out of that
frame, as the sensor does.  Body ids come from ``meta["body_ids"]`` or are numbered.  Files are
written atomically.  Used to build NTU-format folders for tests and benchmarks.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from ..errors import ShapeError
from ..motion import Motion
from ..registry import register_writer

NUM_JOINTS = 25
_BASE_BODY_ID = 72057594037927936  # the Kinect's tracking ids start near 2**56


def _state(conf: np.ndarray) -> np.ndarray:
    return np.where(conf >= 0.75, 2, np.where(conf > 0, 1, 0)).astype(np.int64)


def _aux(meta: dict, key: str, shape: tuple[int, ...]) -> np.ndarray:
    v = meta.get(key)
    if v is not None:
        v = np.asarray(v, dtype=np.float64)
        if v.shape == shape:
            return v
    return np.zeros(shape, np.float64)


def ntu_skeleton_text(motion: Motion) -> str:
    """The ``.skeleton`` text of an ``ntu25`` motion."""
    if motion.layout.name != "ntu25" or motion.dims != 3:
        raise ShapeError(
            motion.meta.get("source"),
            f"the NTU .skeleton writer needs a 3D ntu25 motion, got layout {motion.layout.name!r}",
        )
    data = motion.data if motion.multi else motion.data[None]
    conf = motion.confidence_or_ones()
    conf = conf if motion.multi else conf[None]
    M, T = data.shape[:2]
    meta = motion.meta
    aux_shape = motion.data.shape[:-1] + (2,)
    depth, color = _aux(meta, "depth_xy", aux_shape), _aux(meta, "color_xy", aux_shape)
    if not motion.multi:
        depth, color = depth[None], color[None]
    ids = meta.get("body_ids")
    if not isinstance(ids, list | tuple) or len(ids) != M:
        ids = [str(_BASE_BODY_ID + m) for m in range(M)]
    state = _state(conf)
    zeros4 = np.zeros((M, T, NUM_JOINTS, 4))
    # (M, T, 25, 12) with the columns of the file, formatted once for the whole motion
    full = np.concatenate([data, depth, color, zeros4, state[..., None]], axis=-1)
    present = (conf > 0).any(axis=-1)  # (M, T)
    fmt = " ".join(["%.7g"] * 11) + " %d"
    out = [str(T)]
    for t in range(T):
        bodies = np.flatnonzero(present[:, t])
        out.append(str(len(bodies)))
        for m in bodies:
            tracked = 2 if (state[m, t] == 2).any() else 1
            out.append(f"{ids[m]} 0 0 0 0 0 0 0 0 {tracked}")
            out.append(str(NUM_JOINTS))
            rows = full[m, t]
            out.extend(fmt % (*r[:11], int(r[11])) for r in rows)
    return "\n".join(out) + "\n"


def write_ntu_skeleton(motion: Motion, path: str | os.PathLike) -> None:
    """Write ``motion`` as an NTU ``.skeleton`` file (atomically)."""
    path = Path(path)
    text = ntu_skeleton_text(motion)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@register_writer("ntu_skeleton", extensions=(".skeleton",))
def _write(motion: Motion, path: Path) -> None:
    write_ntu_skeleton(motion, path)


__all__ = ["ntu_skeleton_text", "write_ntu_skeleton"]
