"""Shared parsing helpers of the dataset readers: numeric text tables, MATLAB files, label tables,
file-name fields, warnings that name the file, and dataset walks that skip broken files."""

from __future__ import annotations

import json
import math
import re
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from ..errors import (
    CorruptDataError,
    EmptySequenceError,
    LimitError,
    SkelFormatError,
    SkelFormatWarning,
    TruncatedFileError,
    UnknownFormatError,
)
from ..limits import get_limits
from ..motion import Motion

# frames implied by gaps in frame numbers, per frame that holds data (MediaPipe exports skip
# frames without a detection; more than this many empty frames per detection is not a recording)
GAP_RATIO = 16
INFLATE_RATIO, INFLATE_FLOOR = 64, 16 << 20


def warn(path, problem: str, stacklevel: int = 3) -> None:
    """A :class:`SkelFormatWarning` whose message starts with the file name."""
    warnings.warn(f"{path}: {problem}", SkelFormatWarning, stacklevel=stacklevel)


def check_size(path: Path) -> None:
    """Refuse a file larger than ``limits.max_bytes`` before reading it (and a directory)."""
    try:
        size = Path(path).stat().st_size
    except OSError as e:
        raise CorruptDataError(path, f"cannot read the file: {e.strerror or e}") from None
    if Path(path).is_dir():
        raise UnknownFormatError(path, "is a directory, expected a file")
    if not Path(path).is_file():  # a device or pipe has no size to check: /dev/zero never ends
        raise UnknownFormatError(path, "is not a regular file")
    limit = get_limits().max_bytes
    if size > limit:
        raise LimitError(
            path, f"{size} bytes is more than the {limit} allowed (skelformats.limits max_bytes)"
        )


def read_text(path: Path) -> str:
    check_size(path)
    try:
        return Path(path).read_text(encoding="utf-8", errors="strict")
    except UnicodeDecodeError as e:
        raise CorruptDataError(path, f"not a text file ({e.reason} at byte {e.start})") from None
    except IsADirectoryError:
        raise UnknownFormatError(path, "is a directory, expected a file") from None
    except OSError as e:
        raise CorruptDataError(path, f"cannot read the file: {e.strerror or e}") from None


_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


def json_depth(text: str) -> int:
    """Deepest nesting of arrays/objects in JSON ``text`` (brackets inside strings ignored)."""
    if text.count("[") + text.count("{") == 0:
        return 0
    code = np.frombuffer(_JSON_STRING.sub('""', text).encode("utf-8", "replace"), np.uint8)
    opens = (code == ord("[")) | (code == ord("{"))
    closes = (code == ord("]")) | (code == ord("}"))
    steps = opens.astype(np.int8) - closes.astype(np.int8)
    steps = steps[opens | closes]
    return int(np.cumsum(steps, dtype=np.int64).max(initial=0))


def parse_json(path: Path, text: str, truncation_is_error: bool = False):
    """``json.loads`` with the nesting bounded by ``limits.max_json_depth``; errors name the file.

    ``truncation_is_error``: a syntax error at the very end is a TruncatedFileError."""
    limit = get_limits().max_json_depth
    depth = json_depth(text)
    if depth > limit:
        raise LimitError(
            path, f"JSON nested {depth} deep, more than {limit} (skelformats.limits max_json_depth)"
        )
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        cls = (
            TruncatedFileError
            if truncation_is_error and e.pos >= len(e.doc.rstrip()) - 1
            else CorruptDataError
        )
        raise cls(path, f"invalid JSON ({e.msg} at line {e.lineno} column {e.colno})") from None
    except RecursionError:  # cannot happen below the depth limit, but never let it escape
        raise CorruptDataError(path, "JSON nested too deeply to parse") from None
    except ValueError as e:  # e.g. an integer of more digits than Python converts
        raise CorruptDataError(path, f"invalid JSON ({e})"[:300]) from None


def inflate_budget(size: int) -> int:
    """Bytes that a compressed input of ``size`` bytes may unpack to: ``limits.max_bytes``, and
    above ``INFLATE_FLOOR`` at most ``INFLATE_RATIO`` times its size (real skeleton data compresses
    1.3-11x; a 1000x ratio is a bomb)."""
    return min(get_limits().max_bytes, max(INFLATE_FLOOR, INFLATE_RATIO * size))


def check_frames(path: Path, frames: int, present: int | None = None, what: str = "frames") -> None:
    """Refuse a sequence longer than ``limits.max_frames`` or, when frames may be implied by gaps in
    frame numbers, one whose frames are not backed by the file: at most ``GAP_RATIO`` frames per
    frame that holds data."""
    limit = get_limits().max_frames
    if frames > limit:
        raise LimitError(
            path, f"{frames} {what}, more than {limit} (skelformats.limits max_frames)"
        )
    if present is not None and frames > GAP_RATIO * max(present, 1):
        raise LimitError(
            path,
            f"{frames} {what} implied by the frame numbers but only {present} hold data "
            f"(at most {GAP_RATIO} per frame with data)",
        )


def check_bodies(path: Path, bodies: int, frames: int, per_cell: int) -> None:
    """Refuse more than ``limits.max_bodies`` people, or a dense (bodies x frames) array of
    ``per_cell`` bytes per body-frame larger than ``limits.max_bytes``."""
    lim = get_limits()
    if bodies > lim.max_bodies:
        raise LimitError(
            path, f"{bodies} bodies, more than {lim.max_bodies} (skelformats.limits max_bodies)"
        )
    if bodies * frames * per_cell > lim.max_bytes:
        raise LimitError(
            path,
            f"{bodies} bodies x {frames} frames need more than the {lim.max_bytes} bytes allowed "
            "(skelformats.limits max_bytes)",
        )


def check_npy(path: Path, f, nbytes: int, what: str = "the array") -> tuple[tuple, np.dtype]:
    """Read a ``.npy`` header from the open file ``f`` of ``nbytes`` bytes and check it before numpy
    allocates anything: no Python objects, and a shape whose data the file actually holds.
    -> (shape, dtype)."""
    fmt = np.lib.format
    try:
        version = fmt.read_magic(f)
        if version == (1, 0):
            shape, _, dtype = fmt.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, _, dtype = fmt.read_array_header_2_0(f)
        else:
            raise CorruptDataError(path, f"{what}: unsupported .npy version {version}")
    except SkelFormatError:
        raise
    except Exception as e:  # numpy's header parser fails in many ways on damaged bytes
        raise CorruptDataError(
            path, f"not a .npy array ({what}: damaged header, {type(e).__name__}: {e})"[:300]
        ) from None
    if dtype.hasobject:
        raise CorruptDataError(path, f"{what} holds Python objects (pickle), which are not loaded")
    count = 1
    for d in shape:
        count *= d
    need, have = count * dtype.itemsize, nbytes - f.tell()
    if need > have:
        raise TruncatedFileError(
            path, f"{what}: shape {shape} of {dtype} needs {need} bytes but {have} are present"
        )
    limit = get_limits().max_bytes
    if need > limit:
        raise LimitError(
            path, f"{what}: {need} bytes, more than {limit} (skelformats.limits max_bytes)"
        )
    return shape, dtype


def finite_int(path: Path, value: float, what: str) -> int:
    """``value`` as an int if it is a finite whole number that a float holds exactly."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise CorruptDataError(path, f"{what} {value!r} is not a number") from None
    if not math.isfinite(v) or v != int(v) or abs(v) > 2**53:
        raise CorruptDataError(path, f"{what} {value!r} is not a whole number")
    return int(v)


def numeric_table(path: Path, text: str, ncols: int | None = None, what: str = "row") -> np.ndarray:
    """Whitespace-separated numbers, one row per non-empty line -> float64 (N, ncols).

    Raises EmptySequenceError (no rows), CorruptDataError (a token that is not a number, or a row of
    another width than the others / ``ncols``), naming the line.  Holds about 3x the text in memory
    (the lines, then 8 bytes per value), never a Python object per value.
    """
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise EmptySequenceError(path, "the file holds no data")
    counts = np.fromiter((len(ln.split()) for ln in lines), np.int64, len(lines))
    width = ncols if ncols is not None else int(counts[0])
    if (counts != width).any():
        _table_error(path, text, width, what)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        try:
            values = np.fromstring("\n".join(lines), dtype=np.float64, sep=" ")
        except (DeprecationWarning, ValueError):
            values = None
    if values is None or values.size != len(lines) * width:
        _table_error(path, text, width, what)
    return values.reshape(len(lines), width)


def _table_error(path: Path, text: str, width: int, what: str) -> None:
    """Raise the error that names the first bad line of a numeric table."""
    rows = [(i, ln.split()) for i, ln in enumerate(text.splitlines(), 1) if ln.strip()]
    last_line = rows[-1][0]
    for lineno, tok in rows:
        if len(tok) != width:
            cls = (
                TruncatedFileError if lineno == last_line and len(tok) < width else CorruptDataError
            )
            raise cls(path, f"line {lineno}: {len(tok)} values in a {what}, expected {width}")
        for t in tok:
            try:
                float(t)
            except ValueError:
                raise CorruptDataError(path, f"line {lineno}: {t[:40]!r} is not a number") from None
    raise CorruptDataError(path, f"values that are not numbers in a {what}")


def loadmat(path: Path, variable_names=None) -> dict:
    """The variables of a MATLAB v5 file, parsed by the bounded reader of :mod:`._matv5` (never by
    ``scipy.io.loadmat``, which is not safe on untrusted files); errors name the file."""
    from ._matv5 import read_mat

    return read_mat(path, variable_names)


def mat_squeeze(value):
    """A :func:`loadmat` value as ``scipy.io.loadmat(..., squeeze_me=True)`` gives it: unit
    dimensions dropped, a one-element array unwrapped (a char array to its string), cells and struct
    fields squeezed in turn."""
    if not isinstance(value, np.ndarray):
        return value
    if value.dtype.names or value.dtype == object:
        value = value.copy()
        for v in [value[n] for n in value.dtype.names] if value.dtype.names else [value]:
            for i in np.ndindex(v.shape):
                v[i] = mat_squeeze(v[i])
    if not value.size:
        return np.array([], value.dtype if value.dtype.kind == "U" else None)
    value = value.squeeze()
    return value.item() if not value.shape and not value.dtype.names else value


def mat_variables(path: Path, head: bytes) -> set[str]:
    """Names of the variables of a MATLAB v5 file (empty set when it is not one); for sniffing."""
    from ._matv5 import variable_names

    return variable_names(path, head)


def mat_field(path: Path, container, key: str, what: str = "MATLAB file"):
    """``container[key]`` for a loadmat dict or a MATLAB struct record; CorruptDataError if absent."""
    try:
        names = (
            container.dtype.names
            if isinstance(container, (np.ndarray, np.void))
            else container.keys()
        )
        if key not in names:
            raise KeyError(key)
        return container[key]
    except (KeyError, ValueError, TypeError, AttributeError):
        raise CorruptDataError(path, f"{what} has no field {key!r}") from None


def mat_string(value) -> str:
    """The text of a MATLAB char array as loadmat returns it (nested 1-element arrays unwrapped)."""
    v = value
    while isinstance(v, np.ndarray):
        if v.size == 0:
            return ""
        if v.dtype.kind in "US":
            return "".join(str(x) for x in v.ravel()).strip()
        v = v.ravel()[0]
    return str(v).strip()


def mat_scalar(path: Path, value, what: str) -> float:
    a = np.asarray(value)
    while a.dtype == object and a.size == 1:
        a = np.asarray(a.ravel()[0])
    if a.size != 1 or a.dtype.kind not in "iufb":
        raise CorruptDataError(
            path, f"{what} should be one number, got shape {a.shape} ({a.dtype})"
        )
    return a.ravel()[0].item()


def mat_int(path: Path, value, what: str) -> int:
    """A MATLAB scalar that must be a whole number (ids, flags, sizes)."""
    return finite_int(path, mat_scalar(path, value, what), what)


def name_fields(stem: str, pattern: re.Pattern) -> dict | None:
    """Integer fields of a dataset file name (``a01_s02_e03`` -> {"label": 1, ...}) or None."""
    m = pattern.search(stem)
    if m is None:
        return None
    return {k: int(v) for k, v in m.groupdict().items() if v is not None}


def read_label_table(path: Path) -> dict[str, str]:
    """A two-column ``id<TAB>name`` table with a header line -> {id: name}."""
    out = {}
    text = read_text(path)
    for lineno, ln in enumerate(text.splitlines(), 1):
        if not ln.strip() or lineno == 1:
            continue
        parts = ln.rstrip("\n").split("\t")
        if len(parts) < 2:
            raise CorruptDataError(path, f"line {lineno}: expected 'id<TAB>name'")
        out[parts[0].strip()] = parts[1].strip()
    return out


def find_beside(path: Path, name: str, levels: int = 2) -> Path | None:
    """``name`` in the directory of ``path`` or up to ``levels - 1`` parents above it."""
    d = Path(path).resolve().parent
    for _ in range(levels):
        cand = d / name
        if cand.is_file():
            return cand
        d = d.parent
    return None


def load_all(
    paths: Iterable[Path], reader: Callable[[Path], Motion | list[Motion]]
) -> list[Motion]:
    """Read every path; a file that fails with a SkelFormatError is reported (warning) and skipped."""
    out: list[Motion] = []
    for p in paths:
        try:
            r = reader(p)
        except SkelFormatError as e:
            warn(p, f"skipped: {e.problem}", stacklevel=3)
            continue
        out.extend(r if isinstance(r, list) else [r])
    return out
