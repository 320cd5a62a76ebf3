"""Shared parsing helpers of the dataset readers: numeric text tables, MATLAB files, label tables,
file-name fields, warnings that name the file, and dataset walks that skip broken files."""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from ..errors import (
    CorruptDataError,
    EmptySequenceError,
    SkelFormatError,
    SkelFormatWarning,
    TruncatedFileError,
    UnknownFormatError,
)
from ..motion import Motion


def warn(path, problem: str, stacklevel: int = 3) -> None:
    """A :class:`SkelFormatWarning` whose message starts with the file name."""
    warnings.warn(f"{path}: {problem}", SkelFormatWarning, stacklevel=stacklevel)


def read_text(path: Path) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="strict")
    except UnicodeDecodeError as e:
        raise CorruptDataError(path, f"not a text file ({e.reason} at byte {e.start})") from None
    except IsADirectoryError:
        raise UnknownFormatError(path, "is a directory, expected a file") from None


def numeric_table(path: Path, text: str, ncols: int | None = None, what: str = "row") -> np.ndarray:
    """Whitespace-separated numbers, one row per non-empty line -> float64 (N, ncols).

    Raises EmptySequenceError (no rows), CorruptDataError (a token that is not a number, or a row of
    another width than the others / ``ncols``), naming the line.
    """
    lines = [(i, ln) for i, ln in enumerate(text.splitlines(), 1) if ln.strip()]
    if not lines:
        raise EmptySequenceError(path, "the file holds no data")
    tokens = [ln.split() for _, ln in lines]
    width = ncols if ncols is not None else len(tokens[0])
    for (lineno, _), tok in zip(lines, tokens):
        if len(tok) != width:
            last = lineno == lines[-1][0]
            cls = TruncatedFileError if last and len(tok) < width else CorruptDataError
            raise cls(path, f"line {lineno}: {len(tok)} values in a {what}, expected {width}")
    try:
        return np.array(tokens, dtype=np.float64)
    except ValueError:
        for (lineno, _), tok in zip(lines, tokens):
            for t in tok:
                try:
                    float(t)
                except ValueError:
                    raise CorruptDataError(path, f"line {lineno}: {t!r} is not a number") from None
        raise


def loadmat(path: Path, **kw) -> dict:
    """``scipy.io.loadmat`` with its failures turned into errors that name the file."""
    import scipy.io

    try:
        return scipy.io.loadmat(str(path), **kw)
    except NotImplementedError as e:  # MATLAB v7.3 (HDF5) files
        raise UnknownFormatError(path, f"unsupported MATLAB file version: {e}") from None
    except (ValueError, TypeError, OSError, EOFError, AssertionError, IndexError) as e:
        msg = str(e) or type(e).__name__
        if isinstance(e, OSError) and isinstance(e, IsADirectoryError):
            raise UnknownFormatError(path, "is a directory, expected a .mat file") from None
        raise CorruptDataError(path, f"not a readable MATLAB file: {msg}") from None
    except Exception as e:  # scipy's MatReadError and friends
        raise CorruptDataError(
            path, f"not a readable MATLAB file: {type(e).__name__}: {e}"
        ) from None


def mat_variables(path: Path, head: bytes) -> set[str]:
    """Names of the variables of a MATLAB v4-v7 file (empty set when it is not one); for sniffing."""
    if not head.startswith(b"MATLAB"):
        return set()
    import scipy.io

    try:
        return {name for name, _, _ in scipy.io.whosmat(str(path))}
    except Exception:  # sniffing never raises
        return set()


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
