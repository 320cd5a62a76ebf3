"""The own lossless ``.npz`` format: arrays plus a JSON header, no pickle.

Members: ``data`` (float32), optional ``confidence`` (float32), ``header`` (0-d unicode array holding
JSON: format version, layout, fps, meta) and ``meta_<k>`` arrays for numpy arrays found in meta.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from ..errors import CorruptDataError, LimitError, SkelFormatError, TruncatedFileError
from ..layout import Layout
from ..motion import Motion
from ..readers._common import check_npy, check_size, inflate_budget, parse_json
from ..registry import _LAYOUTS, register_reader, register_writer

FORMAT_TAG = "skelformats.npz"
VERSION = 1


def _encode(obj, arrays: dict, path):
    """JSON-able structure; arrays/tuples/numpy scalars tagged so decoding restores them exactly."""
    if isinstance(obj, np.generic):  # before float: np.float64 subclasses float
        return {"__npscalar__": obj.dtype.str, "value": obj.item()}
    if obj is None or isinstance(obj, (bool, str, int, float)):
        return obj
    if isinstance(obj, np.ndarray):
        if obj.dtype == object:
            raise SkelFormatError(
                path, "meta holds an object array, which cannot be stored without pickle"
            )
        key = f"meta_{len(arrays)}"
        arrays[key] = obj
        return {"__ndarray__": key}
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v, arrays, path) for v in obj]}
    if isinstance(obj, list):
        return [_encode(v, arrays, path) for v in obj]
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if not isinstance(k, str):
                raise SkelFormatError(path, f"meta keys must be strings, got {k!r}")
            if k.startswith("__") and k.endswith("__"):
                raise SkelFormatError(path, f"meta key {k!r} is reserved")
            out[k] = _encode(v, arrays, path)
        return out
    raise SkelFormatError(path, f"meta value of type {type(obj).__name__} cannot be stored")


def _decode(obj, arrays):
    if isinstance(obj, list):
        return [_decode(v, arrays) for v in obj]
    if isinstance(obj, dict):
        if "__ndarray__" in obj:
            return arrays[obj["__ndarray__"]]
        if "__npscalar__" in obj:
            dt = np.dtype(obj["__npscalar__"])
            if dt.kind not in "biufcmMUS" or dt.itemsize > 256:
                raise ValueError(f"scalar type {dt} is not stored by this format")
            return dt.type(obj["value"])
        if "__tuple__" in obj:
            return tuple(_decode(v, arrays) for v in obj["__tuple__"])
        return {k: _decode(v, arrays) for k, v in obj.items()}
    return obj


@register_writer("npz", extensions=(".npz",))
def write_npz(motion: Motion, path: Path) -> None:
    path = Path(path)
    arrays: dict[str, np.ndarray] = {}
    header = {
        "format": FORMAT_TAG,
        "version": VERSION,
        "layout": motion.layout.to_dict(),
        "fps": motion.fps,
        "meta": _encode(motion.meta, arrays, path),
    }
    members = {"data": motion.data, "header": np.array(json.dumps(header, allow_nan=True))}
    if motion.confidence is not None:
        members["confidence"] = motion.confidence
    members.update(arrays)
    # atomic: a crash never leaves a half-written file under the final name
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez_compressed(f, **members)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _sniff(path: Path, head: bytes) -> bool:
    if not head.startswith(b"PK"):
        return False
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
    except (zipfile.BadZipFile, OSError):
        return False
    return {"header.npy", "data.npy"} <= names


def _check_members(path: Path) -> None:
    """Bound the archive before numpy reads it: unpacked size within ``limits.max_bytes`` and every
    array's declared shape backed by the bytes of its member (a zip bomb or a forged header is refused
    before anything is allocated)."""
    limit = inflate_budget(path.stat().st_size)
    with zipfile.ZipFile(path) as z:
        infos = z.infolist()
        total = sum(i.file_size for i in infos)
        if total > limit:
            raise LimitError(
                path,
                f"the archive unpacks to {total} bytes, more than the {limit} allowed for a file "
                "of this size (skelformats.limits max_bytes)",
            )
        for info in infos:
            if info.filename.endswith(".npy"):
                with z.open(info) as f:
                    check_npy(path, f, info.file_size, f"member {info.filename!r}")


@register_reader("npz", extensions=(".npz",), sniff=_sniff)
def read_npz(path: Path) -> Motion:
    path = Path(path)
    check_size(path)
    try:
        _check_members(path)
        with np.load(path, allow_pickle=False) as z:
            files = set(z.files)
            if "header" not in files or "data" not in files:
                raise CorruptDataError(path, "not a skelformats .npz (no 'header'/'data' members)")
            header = parse_json(path, str(z["header"][()]))
            arrays = {k: z[k] for k in files if k.startswith("meta_")}
            data = z["data"]
            conf = z["confidence"] if "confidence" in files else None
    except SkelFormatError:
        raise
    except (zipfile.BadZipFile, EOFError) as e:
        raise TruncatedFileError(path, f"damaged or truncated npz archive ({e})") from None
    except Exception as e:  # zlib, zipfile and numpy fail on damaged archives in many ways
        raise CorruptDataError(
            path, f"cannot read npz archive: {type(e).__name__}: {e}"[:400]
        ) from None
    if not isinstance(header, dict):
        raise CorruptDataError(path, f"the header is a JSON {type(header).__name__}, not an object")
    if header.get("format") != FORMAT_TAG:
        raise CorruptDataError(
            path, f"header format is {header.get('format')!r:.80}, expected {FORMAT_TAG!r}"
        )
    version = header.get("version", 0)
    if not isinstance(version, int) or version > VERSION:
        raise CorruptDataError(
            path, f"file version {version!r:.40} is newer than this reader ({VERSION})"
        )
    try:
        layout = Layout.from_dict(header["layout"])
    except SkelFormatError as e:
        raise CorruptDataError(path, f"invalid layout in header: {e.problem}") from None
    except Exception as e:
        raise CorruptDataError(
            path, f"invalid layout in header: {type(e).__name__}: {e}"[:300]
        ) from None
    registered = _LAYOUTS.get(layout.name)
    if registered is not None and registered == layout:
        layout = registered
    try:
        meta = _decode(header.get("meta", {}), arrays)
    except Exception as e:
        raise CorruptDataError(
            path, f"invalid meta in header: {type(e).__name__}: {e}"[:300]
        ) from None
    if not isinstance(meta, dict):
        raise CorruptDataError(path, "invalid meta in header: not an object")
    try:
        return Motion(data=data, layout=layout, fps=header.get("fps"), confidence=conf, meta=meta)
    except SkelFormatError as e:  # name this file, not the one recorded in meta["source"]
        raise type(e)(path, e.problem) from None
    except (TypeError, ValueError) as e:
        raise CorruptDataError(path, f"invalid contents: {e}"[:300]) from None
