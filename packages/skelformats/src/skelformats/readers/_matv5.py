"""A bounded reader of MATLAB v5 (``-v6``/``-v7``) MAT files, for untrusted input.

SciPy's ``loadmat`` is not hardened against hostile files (a 206-byte file can crash the process or
take gigabytes), so the dataset readers parse the container here instead.  Every size is checked
against the bytes present before anything is allocated; compressed elements are inflated with a
bounded ``zlib.decompressobj`` (in total at most ``limits.max_bytes``, and above 16 MB at most 64
times the file's size); nesting and the number of arrays are capped.  Supported: numeric and logical arrays (real or complex), char arrays, cell
arrays and struct arrays -- what the Florence 3D and Penn Action files hold.  Values come back as
``scipy.io.loadmat`` (default options) returns them: arrays of the stored type in MATLAB (Fortran)
order, char arrays as arrays of strings along the last axis, cells as object arrays, structs as
record arrays of object fields.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

from ..errors import CorruptDataError, LimitError, TruncatedFileError, UnknownFormatError
from ._common import check_size, inflate_budget

HEADER_BYTES = 128
MAX_DEPTH = 16  # Florence needs 3 (cell -> struct -> field array)
MAX_DIMS = 32  # MATLAB's own limit on array rank
# arrays (matrix elements) per file: 10,000 plus one per 16 bytes of the file (Florence has about
# 1,300 in 2.4 MB); bounds the parse time of a small file that inflates to many tiny arrays
MIN_ARRAYS, BYTES_PER_ARRAY = 10_000, 16
MAX_NAME = 63  # MATLAB's namelengthmax

# data element types -> numpy type codes
_MI = {1: "i1", 2: "u1", 3: "i2", 4: "u2", 5: "i4", 6: "u4", 7: "f4", 9: "f8", 12: "i8", 13: "u8"}
_MI_INT8, _MI_INT32, _MI_UINT32, _MI_MATRIX, _MI_COMPRESSED = 1, 5, 6, 14, 15
_MI_UTF8, _MI_UTF16, _MI_UTF32 = 16, 17, 18
_CELL, _STRUCT, _CHAR = 1, 2, 4
_NUMERIC_CLASSES = frozenset(range(6, 16))
_CLASS_NAMES = {3: "object", 5: "sparse", 16: "function handle", 17: "opaque", 18: "object"}


class _Reader:
    """Parses one file; ``budget`` is what decompression may still produce."""

    def __init__(self, path: Path, order: str, size: int = 0):
        self.path, self.order = path, order
        self.tag = struct.Struct(order + "II")
        self.budget = self.allowed = inflate_budget(size)
        self.arrays = 0
        self.max_arrays = MIN_ARRAYS + size // BYTES_PER_ARRAY

    # ------------------------------------------------------------------ elements
    def element(self, buf: bytes, pos: int, end: int, what: str) -> tuple[int, int, int, int]:
        """-> (type, data start, data end, next element) of the element at ``pos``."""
        if pos + 8 > end:
            raise TruncatedFileError(self.path, f"the file ends inside the tag of {what}")
        first, second = self.tag.unpack_from(buf, pos)
        if first >> 16:  # small data element: type and size in 4 bytes, data in the next 4
            size, mtype = first >> 16, first & 0xFFFF
            if size > 4:
                raise CorruptDataError(self.path, f"{what}: small element of {size} bytes (max 4)")
            return mtype, pos + 4, pos + 4 + size, pos + 8
        mtype, size = first, second
        start = pos + 8
        if size > end - start:
            raise TruncatedFileError(
                self.path, f"{what} declares {size} bytes but {end - start} remain"
            )
        stop = start + size
        # compressed elements are not padded; others are padded to 8 bytes
        nxt = stop if mtype == _MI_COMPRESSED else min(end, stop + (-size) % 8)
        return mtype, start, stop, nxt

    def inflate(self, buf: bytes, start: int, stop: int, what: str) -> bytes:
        d = zlib.decompressobj()
        try:
            out = d.decompress(buf[start:stop], self.budget + 1)
        except zlib.error as e:
            raise CorruptDataError(self.path, f"{what}: damaged compressed data ({e})") from None
        if len(out) > self.budget:
            raise LimitError(
                self.path,
                f"{what} inflates to more than the {self.allowed} bytes allowed for a file of "
                "this size (skelformats.limits max_bytes)",
            )
        # MATLAB sometimes ends a stream without its final block: what it holds is checked by the
        # parse of the array inside (a cut-short array is a TruncatedFileError there)
        self.budget -= len(out)
        return out

    def numbers(self, buf, start, stop, mtype, what) -> np.ndarray:
        code = _MI.get(mtype)
        if code is None:
            raise CorruptDataError(self.path, f"{what}: data element type {mtype} is not numeric")
        dt = np.dtype(self.order + code)
        if (stop - start) % dt.itemsize:
            raise CorruptDataError(
                self.path, f"{what}: {stop - start} bytes is not a whole number of {dt.name}"
            )
        return np.frombuffer(buf, dt, (stop - start) // dt.itemsize, start).astype(
            dt.newbyteorder("=")
        )

    # ------------------------------------------------------------------ arrays
    def matrix(self, buf: bytes, start: int, stop: int, depth: int, what: str):
        """Parse the contents of a miMATRIX element -> (name, value)."""
        self.arrays += 1
        if self.arrays > self.max_arrays:
            raise LimitError(
                self.path, f"more than {self.max_arrays} arrays in a file of this size"
            )
        if depth > MAX_DEPTH:
            raise CorruptDataError(self.path, f"{what}: arrays nested deeper than {MAX_DEPTH}")
        if start == stop:  # an empty matrix element: MATLAB's [] (e.g. an unset struct field)
            return "", np.empty((0, 0))
        t, s, e, pos = self.element(buf, start, stop, f"the flags of {what}")
        if t != _MI_UINT32 or e - s != 8:
            raise CorruptDataError(self.path, f"{what}: array flags missing or malformed")
        flags = self.tag.unpack_from(buf, s)[0]
        cls, is_complex = flags & 0xFF, bool(flags & 0x800)
        t, s, e, pos = self.element(buf, pos, stop, f"the dimensions of {what}")
        if t != _MI_INT32 or (e - s) % 4 or not 8 <= e - s <= 4 * MAX_DIMS:
            raise CorruptDataError(self.path, f"{what}: dimensions missing or malformed")
        dims = tuple(int(v) for v in np.frombuffer(buf, self.order + "i4", (e - s) // 4, s))
        if min(dims) < 0:
            raise CorruptDataError(self.path, f"{what}: negative dimension in {dims}")
        count = 1
        for d in dims:
            count *= d
        t, s, e, pos = self.element(buf, pos, stop, f"the name of {what}")
        if t != _MI_INT8 or e - s > MAX_NAME:
            raise CorruptDataError(self.path, f"{what}: array name missing or malformed")
        name = bytes(buf[s:e]).decode("latin-1")
        label = f"{what} {name!r}" if name else what

        if cls in _NUMERIC_CLASSES:
            value = self._numeric(buf, pos, stop, dims, count, is_complex, label)
        elif cls == _CHAR:
            value = self._char(buf, pos, stop, dims, count, label)
        elif cls == _CELL:
            value = self._cell(buf, pos, stop, dims, count, depth, label)
        elif cls == _STRUCT:
            value = self._struct(buf, pos, stop, dims, count, depth, label)
        else:
            kind = _CLASS_NAMES.get(cls, f"class {cls}")
            raise CorruptDataError(self.path, f"{label}: MATLAB {kind} arrays are not supported")
        return name, value

    def _numeric(self, buf, pos, stop, dims, count, is_complex, what):
        t, s, e, pos = self.element(buf, pos, stop, f"the data of {what}")
        real = self.numbers(buf, s, e, t, what)
        if real.size != count:
            raise CorruptDataError(
                self.path, f"{what}: {real.size} values for dimensions {dims} ({count} values)"
            )
        if is_complex:
            t, s, e, pos = self.element(buf, pos, stop, f"the imaginary part of {what}")
            imag = self.numbers(buf, s, e, t, what)
            if imag.size != count:
                raise CorruptDataError(self.path, f"{what}: imaginary part of the wrong size")
            real = real + 1j * imag
        return real.reshape(dims, order="F")

    def _char(self, buf, pos, stop, dims, count, what):
        t, s, e, pos = self.element(buf, pos, stop, f"the text of {what}")
        try:
            if t in (_MI_UTF8, _MI_UTF16, _MI_UTF32):
                enc = {_MI_UTF8: "utf-8", _MI_UTF16: "utf-16", _MI_UTF32: "utf-32"}[t]
                if t != _MI_UTF8:
                    enc += "-le" if self.order == "<" else "-be"
                text = bytes(buf[s:e]).decode(enc)
                codes = np.frombuffer(text.encode("utf-32-le"), "<u4")
            else:
                codes = self.numbers(buf, s, e, t, what)
                if codes.size and (codes.min() < 0 or codes.max() > 0x10FFFF):
                    raise ValueError("character code out of range")
        except (UnicodeDecodeError, ValueError) as err:
            raise CorruptDataError(self.path, f"{what}: undecodable text ({err})") from None
        if codes.size != count:
            raise CorruptDataError(
                self.path, f"{what}: {codes.size} characters for dimensions {dims}"
            )
        if count == 0:
            return np.zeros(dims[:-1], dtype="U1")
        # code points -> one string per row along the last axis, as loadmat(chars_as_strings=True)
        chars = codes.astype("<u4").view("<U1").reshape(dims, order="F")
        width = dims[-1]
        rows = np.ascontiguousarray(chars).reshape(-1, width).view(f"<U{width}")
        return rows.reshape(dims[:-1])

    def _children_fit(self, n: int, pos: int, stop: int, what: str) -> None:
        if n > (stop - pos) // 8:  # every child array needs at least an 8-byte tag
            raise TruncatedFileError(
                self.path, f"{what} declares {n} elements but only {stop - pos} bytes remain"
            )

    def _cell(self, buf, pos, stop, dims, count, depth, what):
        self._children_fit(count, pos, stop, what)
        out = np.empty(count, dtype=object)
        for i in range(count):
            pos, (_, value) = self._child(buf, pos, stop, depth, f"{what} cell {i + 1}")
            out[i] = value
        return out.reshape(dims, order="F")

    def _struct(self, buf, pos, stop, dims, count, depth, what):
        t, s, e, pos = self.element(buf, pos, stop, f"the field name length of {what}")
        if t != _MI_INT32 or e - s != 4:
            raise CorruptDataError(self.path, f"{what}: field name length missing")
        width = int(np.frombuffer(buf, self.order + "i4", 1, s)[0])
        t, s, e, pos = self.element(buf, pos, stop, f"the field names of {what}")
        if t != _MI_INT8 or width <= 0 or width > 4096 or (e - s) % width:
            raise CorruptDataError(self.path, f"{what}: field names malformed")
        raw = bytes(buf[s:e])
        names = [
            raw[k : k + width].split(b"\0", 1)[0].decode("latin-1")
            for k in range(0, len(raw), width)
        ]
        if any(not n.isidentifier() for n in names) or len(set(names)) != len(names):
            raise CorruptDataError(
                self.path, f"{what}: invalid or repeated field names {names[:5]}"
            )
        self._children_fit(count * max(len(names), 1), pos, stop, what)
        out = np.empty(count, dtype=[(n, object) for n in names])
        for i in range(count):
            for n in names:
                pos, (_, value) = self._child(buf, pos, stop, depth, f"{what}({i + 1}).{n}")
                out[i][n] = value
        return out.reshape(dims, order="F")

    def _child(self, buf, pos, stop, depth, what):
        t, s, e, nxt = self.element(buf, pos, stop, what)
        if t != _MI_MATRIX:
            raise CorruptDataError(self.path, f"{what}: expected an array element, got type {t}")
        return nxt, self.matrix(buf, s, e, depth + 1, what)

    # ------------------------------------------------------------------ file
    def variables(self, buf: bytes, pos: int, names: set[str] | None) -> dict:
        out: dict = {}
        end = len(buf)
        index = 0
        while pos < end:
            index += 1
            what = f"variable {index}"
            t, s, e, pos = self.element(buf, pos, end, what)
            if t == _MI_COMPRESSED:
                inner = self.inflate(buf, s, e, what)
                t, s, e, _ = self.element(inner, 0, len(inner), what)
                data = inner
            else:
                data = buf
            if t != _MI_MATRIX:
                raise CorruptDataError(
                    self.path, f"{what}: expected an array element, got type {t}"
                )
            name, value = self.matrix(data, s, e, 1, what)
            if names is None or name in names:
                out[name] = value
        return out


def _open(path: Path) -> tuple[bytes, str]:
    """The file's bytes (bounded by max_bytes) and its byte order; checks the 128-byte header."""
    if path.is_dir():
        raise UnknownFormatError(path, "is a directory, expected a .mat file")
    check_size(path)
    try:
        buf = path.read_bytes()
    except OSError as e:
        raise CorruptDataError(path, f"cannot read the file: {e.strerror or e}") from None
    if len(buf) < HEADER_BYTES:
        if buf[:6] == b"MATLAB":
            raise TruncatedFileError(path, "not a readable MATLAB file: header cut short")
        raise CorruptDataError(path, "not a readable MATLAB file: too short for a MAT header")
    if buf[:10] == b"MATLAB 7.3" or buf[:4] == b"\x89HDF":
        raise UnknownFormatError(path, "unsupported MATLAB file version: v7.3 (HDF5)")
    if 0 in buf[:4]:
        raise UnknownFormatError(path, "unsupported MATLAB file version: v4 (or not a MAT file)")
    endian = buf[126:128]
    if endian not in (b"IM", b"MI"):
        raise CorruptDataError(path, "not a readable MATLAB file: bad byte-order mark")
    order = "<" if endian == b"IM" else ">"
    version = struct.unpack_from(order + "H", buf, 124)[0]
    if version != 0x0100:
        raise UnknownFormatError(path, f"unsupported MATLAB file version 0x{version:04x}")
    return buf, order


def read_mat(path, variable_names=None) -> dict:
    """``{name: value}`` of the variables of a MAT v5 file (only ``variable_names`` if given).

    Raises CorruptDataError / TruncatedFileError / UnknownFormatError naming the file.
    """
    path = Path(path)
    buf, order = _open(path)
    wanted = None if variable_names is None else set(variable_names)
    return _Reader(path, order, len(buf)).variables(buf, HEADER_BYTES, wanted)


def variable_names(path, head: bytes) -> set[str]:
    """Names of the variables of a MAT v5 file, reading no array data; empty set when it is not one
    (for sniffing: never raises)."""
    if not head.startswith(b"MATLAB"):
        return set()
    try:
        buf, order = _open(Path(path))
        r = _Reader(Path(path), order)
        names, pos = set(), HEADER_BYTES
        while pos < len(buf) and len(names) < 1000:
            t, s, e, pos = r.element(buf, pos, len(buf), "a variable")
            if t == _MI_COMPRESSED:  # inflate only the array header, where the name is
                data = zlib.decompressobj().decompress(buf[s:e], 256)
                if len(data) < 8:
                    break
                t, s, e = r.tag.unpack_from(data, 0)[0], 8, len(data)
            else:
                data = buf
            if t != _MI_MATRIX:
                break
            for _ in range(2):  # flags, dimensions
                _, _, _, s = r.element(data, s, e, "a header")
            t, s2, e2, _ = r.element(data, s, e, "a name")
            if t == _MI_INT8:
                names.add(bytes(data[s2:e2]).decode("latin-1"))
        return names
    except Exception:  # sniffing never raises
        return set()


__all__ = ["read_mat", "variable_names"]
