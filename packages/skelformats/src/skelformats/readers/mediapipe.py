"""MediaPipe Pose landmarks (33 BlazePose landmarks, layout ``mediapipe33``) exported per frame.

MediaPipe itself has no file format; this reader accepts the two shapes that exports of
``results.pose_landmarks.landmark`` usually take:

JSON (``.json``)::

    {"format": "mediapipe_pose", "fps": 30, "world": false,
     "frames": [[{"x": .., "y": .., "z": .., "visibility": ..}, ... 33 landmarks], null, ...]}

or just the ``frames`` list.  A frame may also be ``{"landmarks": [...]}`` / ``{"pose_landmarks":
[...]}``; ``null`` or ``[]`` means no person detected (all landmarks missing).  ``visibility``
(default 1) becomes the confidence; an optional ``presence`` multiplies it.

CSV (``.csv``), one row per landmark, header ``frame,landmark,x,y,z,visibility`` (``landmark`` is the
index 0-32 or the landmark name, e.g. ``left_wrist``; frames without rows are missing; ``frame`` is
0-based and may have gaps).

Coordinates as exported: image-normalised x, y (y down) and z at the scale of x, or metres for world
landmarks (``"world": true``; then ``meta["world"]`` is True).  Frame rate from ``fps`` (JSON) or 30.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from ..errors import CorruptDataError, EmptySequenceError, JointCountError
from ..motion import Motion
from ..registry import get_layout, register_reader
from ._common import check_frames, parse_json, read_text

NUM_LANDMARKS = 33
FPS = 30.0
_KEYS = ("x", "y", "z")


def _landmarks(path: Path, frame, t: int) -> np.ndarray | None:
    """-> (33, 4) x, y, z, confidence, or None for a frame without detection."""
    if isinstance(frame, dict):
        frame = frame.get("landmarks", frame.get("pose_landmarks"))
    if frame is None or frame == []:
        return None
    if not isinstance(frame, list):
        raise CorruptDataError(
            path, f"frame {t}: expected a list of landmarks, got {type(frame).__name__}"
        )
    if len(frame) != NUM_LANDMARKS:
        raise JointCountError(path, f"frame {t}: {len(frame)} landmarks, expected {NUM_LANDMARKS}")
    out = np.empty((NUM_LANDMARKS, 4), np.float64)
    for j, lm in enumerate(frame):
        try:
            xyz = [float(lm[k]) for k in _KEYS]
            c = float(lm.get("visibility", 1.0)) * float(lm.get("presence", 1.0))
        except KeyError as e:
            raise CorruptDataError(path, f"frame {t}, landmark {j}: no {e.args[0]!r}") from None
        except (TypeError, ValueError, AttributeError, OverflowError):
            raise CorruptDataError(
                path, f"frame {t}, landmark {j}: expected an object of numbers"
            ) from None
        out[j] = (*xyz, c)
    return out


def _assemble(path: Path, frames: list, fps: float, meta: dict) -> Motion:
    if not frames:
        raise EmptySequenceError(path, "no frames")
    if all(f is None for f in frames):
        raise EmptySequenceError(path, f"no person detected in any of the {len(frames)} frames")
    arr = np.zeros((len(frames), NUM_LANDMARKS, 4), np.float64)
    for t, f in enumerate(frames):
        if f is not None:
            arr[t] = f
    conf = arr[..., 3]
    if not np.isfinite(conf).all():
        raise CorruptDataError(path, "visibility values must be finite")
    conf = np.clip(conf, 0.0, 1.0)
    return Motion(
        data=arr[..., :3].astype(np.float32),
        layout="mediapipe33",
        fps=fps,
        confidence=conf.astype(np.float32),
        meta=meta,
    )


def _read_json(path: Path) -> Motion:
    doc = parse_json(path, read_text(path))
    fps, world = FPS, False
    if isinstance(doc, dict):
        if "frames" not in doc:
            raise CorruptDataError(path, "no 'frames' list")
        try:
            fps = float(doc.get("fps", FPS))
        except (TypeError, ValueError, OverflowError):
            raise CorruptDataError(path, f"fps {doc.get('fps')!r} is not a number") from None
        world = bool(doc.get("world", False))
        doc = doc["frames"]
    if not isinstance(doc, list):
        raise CorruptDataError(path, "expected a list of frames")
    check_frames(path, len(doc))
    frames = [_landmarks(path, f, t) for t, f in enumerate(doc)]
    check_frames(path, len(frames), sum(f is not None for f in frames))
    return _assemble(
        path, frames, fps, {"source": str(path), "dataset": "MediaPipe", "world": world}
    )


def _read_csv(path: Path) -> Motion:
    names = get_layout("mediapipe33").joints
    try:
        rows = list(csv.DictReader(io.StringIO(read_text(path))))
    except csv.Error as e:
        raise CorruptDataError(path, f"not a readable CSV file: {e}") from None
    if not rows:
        raise EmptySequenceError(path, "no landmark rows")
    need = {"frame", "landmark", "x", "y", "z"}
    missing = need - set(rows[0])
    if missing:
        raise CorruptDataError(path, f"CSV header lacks column(s) {sorted(missing)}")
    parsed = []
    for i, r in enumerate(rows, 2):
        try:
            t = int(r["frame"])
            lm = r["landmark"].strip()
            j = int(lm) if lm.lstrip("-").isdigit() else names.index(lm)
            vals = [float(r[k]) for k in _KEYS] + [float(r.get("visibility") or 1.0)]
        except (TypeError, ValueError, AttributeError, OverflowError):
            raise CorruptDataError(
                path, f"line {i}: bad frame, landmark or number in {dict(r)}"[:500]
            ) from None
        if not 0 <= j < NUM_LANDMARKS:
            raise JointCountError(
                path, f"line {i}: landmark index {j} outside 0-{NUM_LANDMARKS - 1}"
            )
        if t < 0:
            raise CorruptDataError(path, f"line {i}: negative frame {t}")
        parsed.append((t, j, vals))
    T = max(t for t, _, _ in parsed) + 1
    check_frames(path, T, len({t for t, _, _ in parsed}))
    arr = np.full((T, NUM_LANDMARKS, 4), np.nan)
    for t, j, vals in parsed:
        arr[t, j] = vals
    seen = ~np.isnan(arr[..., 3])
    partial = seen.any(1) & ~seen.all(1)
    if partial.any():
        t = int(np.flatnonzero(partial)[0])
        raise JointCountError(
            path, f"frame {t}: {int(seen[t].sum())} landmarks, expected {NUM_LANDMARKS}"
        )
    frames = [arr[t] if seen[t].all() else None for t in range(T)]
    return _assemble(
        path, frames, FPS, {"source": str(path), "dataset": "MediaPipe", "world": False}
    )


def read_mediapipe(path: Path) -> Motion:
    """A MediaPipe landmark export (JSON or CSV, see the module doc) -> Motion (T, 33, 3)."""
    path = Path(path)
    return _read_csv(path) if path.suffix.lower() == ".csv" else _read_json(path)


def _sniff(path: Path, head: bytes) -> bool:
    if path.suffix.lower() == ".csv":
        first = head.split(b"\n", 1)[0].replace(b" ", b"").lower()
        return first.startswith(b"frame,landmark,x,y,z")
    h = head.replace(b" ", b"")
    return b'"mediapipe_pose"' in h or (
        b'"visibility"' in h and b'"x"' in h and b'"people"' not in h
    )


@register_reader("mediapipe", extensions=(".json", ".csv"), sniff=_sniff)
def _read(path: Path) -> Motion:
    return read_mediapipe(path)


__all__ = ["read_mediapipe", "NUM_LANDMARKS"]
