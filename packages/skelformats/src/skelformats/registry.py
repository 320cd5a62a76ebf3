"""Registries of layouts, readers and writers, with entry points for third-party packages.

Entry-point groups:
  ``skelformats.layouts``  -> a Layout, an iterable of Layouts, or a zero-argument callable returning either.
  ``skelformats.readers``  -> a module (or object) whose import registers readers/writers with
                               :func:`register_reader` / :func:`register_writer`.
"""

from __future__ import annotations

import importlib
import os
import threading
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Union

import numpy as np

from .errors import (
    CorruptDataError,
    MissingFileError,
    SkelFormatError,
    SkelFormatWarning,
    UnknownFormatError,
    UnknownLayoutError,
)
from .layout import Layout
from .limits import get_limits
from .motion import Motion

ReaderFn = Callable[[Path], Union[Motion, "list[Motion]"]]
SniffFn = Callable[[Path, bytes], bool]
WriterFn = Callable[[Motion, Path], None]

SNIFF_BYTES = 4096

_LAYOUTS: dict[str, Layout] = {}
_READERS: dict[str, ReaderSpec] = {}
_WRITERS: dict[str, WriterSpec] = {}
_lock = threading.RLock()
_builtin_layouts_loaded = False
_builtin_readers_loaded = False
_layout_eps_loaded = False
_reader_eps_loaded = False


# ---------------------------------------------------------------------------------------- layouts
def register_layout(layout: Layout, *, overwrite: bool = False) -> Layout:
    """Add ``layout`` under ``layout.name`` and return the registered instance (re-registering an
    equal layout is a no-op returning the first instance)."""
    if not isinstance(layout, Layout):
        raise TypeError(f"register_layout expects a Layout, got {type(layout).__name__}")
    with _lock:
        old = _LAYOUTS.get(layout.name)
        if old is not None and old == layout:
            return old
        if old is not None and not overwrite:
            raise SkelFormatError(
                None, f"a different layout named {layout.name!r} is already registered"
            )
        _LAYOUTS[layout.name] = layout
    return layout


def _load_builtin_layouts():
    global _builtin_layouts_loaded
    if not _builtin_layouts_loaded:
        _builtin_layouts_loaded = True
        importlib.import_module("skelformats.layouts")


def _entry_points(group: str):
    try:
        return list(entry_points(group=group))
    except TypeError:  # Python < 3.10 API
        return list(entry_points().get(group, []))


def _load_layout_entry_points():
    global _layout_eps_loaded
    if _layout_eps_loaded:
        return
    _layout_eps_loaded = True
    for ep in _entry_points("skelformats.layouts"):
        try:
            obj = ep.load()
            if callable(obj) and not isinstance(obj, Layout):
                obj = obj()
            items = [obj] if isinstance(obj, Layout) else list(obj)
            for lay in items:
                register_layout(lay)
        except Exception as e:  # a broken plug-in must not break the built-ins
            warnings.warn(
                f"skelformats.layouts entry point {ep.name!r} failed: {e!r}",
                SkelFormatWarning,
                stacklevel=2,
            )


def get_layout(name: str | Layout) -> Layout:
    """The registered layout called ``name`` (a Layout is returned as is)."""
    if isinstance(name, Layout):
        return name
    _load_builtin_layouts()
    lay = _LAYOUTS.get(name)
    if lay is None:
        _load_layout_entry_points()
        lay = _LAYOUTS.get(name)
    if lay is None:
        raise UnknownLayoutError(
            None, f"unknown layout {name!r}; known: {', '.join(sorted(_LAYOUTS))}"
        )
    return lay


def list_layouts() -> list[str]:
    """Sorted names of all registered layouts (built-in and entry points)."""
    _load_builtin_layouts()
    _load_layout_entry_points()
    return sorted(_LAYOUTS)


# ---------------------------------------------------------------------------------------- readers
@dataclass(frozen=True)
class ReaderSpec:
    name: str
    func: ReaderFn
    extensions: tuple[str, ...]
    sniff: SniffFn | None


@dataclass(frozen=True)
class WriterSpec:
    name: str
    func: WriterFn
    extensions: tuple[str, ...]


def _norm_ext(e: str) -> str:
    e = e.lower()
    return e if e.startswith(".") else "." + e


def register_reader(name: str, *, extensions: Iterable[str] = (), sniff: SniffFn | None = None):
    """Decorator registering ``reader(path: Path) -> Motion | list[Motion]`` as format ``name``.

    ``extensions`` (e.g. ``(".bvh",)``) route files by name; ``sniff(path, head) -> bool`` looks at the
    first bytes to decide between readers sharing an extension or when the extension is unknown.
    """
    exts = tuple(_norm_ext(e) for e in extensions)

    def deco(func: ReaderFn) -> ReaderFn:
        with _lock:
            _READERS[name] = ReaderSpec(name, func, exts, sniff)
        return func

    return deco


def register_writer(name: str, *, extensions: Iterable[str]):
    """Decorator registering ``writer(motion, path)`` for ``save``."""
    exts = tuple(_norm_ext(e) for e in extensions)

    def deco(func: WriterFn) -> WriterFn:
        with _lock:
            _WRITERS[name] = WriterSpec(name, func, exts)
        return func

    return deco


def _load_builtin_readers():
    global _builtin_readers_loaded
    if not _builtin_readers_loaded:
        _builtin_readers_loaded = True
        importlib.import_module("skelformats.formats")
        importlib.import_module("skelformats.readers")


def _load_reader_entry_points():
    global _reader_eps_loaded
    if _reader_eps_loaded:
        return
    _reader_eps_loaded = True
    for ep in _entry_points("skelformats.readers"):
        try:
            ep.load()
        except Exception as e:
            warnings.warn(
                f"skelformats.readers entry point {ep.name!r} failed: {e!r}",
                SkelFormatWarning,
                stacklevel=2,
            )


def list_readers() -> dict[str, ReaderSpec]:
    _load_builtin_readers()
    _load_reader_entry_points()
    return dict(_READERS)


def list_writers() -> dict[str, WriterSpec]:
    _load_builtin_readers()
    _load_reader_entry_points()
    return dict(_WRITERS)


def _suffix_matches(path: Path, exts: tuple[str, ...]) -> bool:
    name = path.name.lower()
    return any(name.endswith(e) for e in exts)


def _sniff(spec: ReaderSpec, path: Path, head: bytes) -> bool:
    if spec.sniff is None:
        return False
    try:
        return bool(spec.sniff(path, head))
    except Exception:
        return False


def detect_format(path: str | os.PathLike) -> str:
    """Name of the reader for ``path``: by extension, disambiguated (or replaced) by content."""
    path = Path(path)
    readers = list_readers()
    try:
        with open(path, "rb") as f:
            head = f.read(SNIFF_BYTES)
    except FileNotFoundError:
        raise MissingFileError(path, "no such file") from None
    except IsADirectoryError:
        head = b""
    by_ext = [s for s in readers.values() if _suffix_matches(path, s.extensions)]
    if len(by_ext) == 1 and by_ext[0].sniff is None:
        return by_ext[0].name
    sniffed = [s for s in by_ext if _sniff(s, path, head)]
    if sniffed:
        return sniffed[0].name
    sniffed = [s for s in readers.values() if s not in by_ext and _sniff(s, path, head)]
    if sniffed:  # content beats a misleading extension
        return sniffed[0].name
    if len(by_ext) == 1:  # damaged file of the only matching format: its reader says what is wrong
        return by_ext[0].name
    no_sniff = [s for s in by_ext if s.sniff is None]
    if len(no_sniff) == 1:
        return no_sniff[0].name
    if by_ext:
        raise UnknownFormatError(
            path,
            f"content matches none of the readers for its extension ({', '.join(s.name for s in by_ext)})",
        )
    raise UnknownFormatError(
        path, "unknown skeleton format (neither the extension nor the content is recognised)"
    )


def load(path: str | os.PathLike, format: str | None = None) -> Motion | list[Motion]:
    """Read a skeleton file.  ``format`` names a reader; otherwise it is detected."""
    path = Path(path)
    if not path.exists():
        raise MissingFileError(path, "no such file or directory")
    if format is None:
        format = detect_format(path)
    readers = list_readers()
    spec = readers.get(format)
    if spec is None:
        raise UnknownFormatError(
            path, f"unknown format {format!r}; known: {', '.join(sorted(readers))}"
        )
    try:
        result = spec.func(path)
    except SkelFormatError as e:
        if e.path is None:  # e.g. raised by Motion validation: name the file
            raise type(e)(path, e.problem) from e
        raise
    except IsADirectoryError:
        raise UnknownFormatError(path, "is a directory, expected a file") from None
    except RecursionError:
        raise CorruptDataError(path, f"{format} reader: the data is nested too deeply") from None
    except MemoryError:
        raise CorruptDataError(
            path, f"{format} reader ran out of memory (lower skelformats.limits to refuse sooner)"
        ) from None
    except Exception as e:
        # readers raise SkelFormatError themselves; this keeps anything else (a parser's own
        # exception on hostile bytes) from escaping as a foreign error
        raise CorruptDataError(
            path, f"{format} reader could not parse the file: {type(e).__name__}: {e}"
        ) from e
    items = result if isinstance(result, list) else [result]
    for m in items:
        if not isinstance(m, Motion):
            raise TypeError(f"reader {format!r} returned {type(m).__name__}, not Motion")
        m.meta.setdefault("source", str(path))
        m.meta.setdefault("format", format)
    if isinstance(result, list):
        kept = []
        for m in items:
            try:
                check_coordinates(m, m.meta.get("source", path))
            except CorruptDataError as e:
                warnings.warn(f"{e}; skipped", SkelFormatWarning, stacklevel=2)
                continue
            kept.append(m)
        if items and not kept:
            raise CorruptDataError(path, "every sequence holds implausible coordinates")
        return kept
    check_coordinates(result, path)
    return result


def check_coordinates(motion: Motion, path) -> None:
    """CorruptDataError when an observed joint lies farther from the origin than is plausible in the
    layout's units (``limits.max_abs_coordinate``, default :data:`skelformats.limits.PLAUSIBLE_ABS`):
    1e30 in metres is a damaged file, not a motion."""
    units = motion.layout.units or motion.meta.get("units")
    bound = get_limits().abs_coordinate_bound(units if isinstance(units, str) else None)
    data = motion.data
    if motion.confidence is not None:
        data = data[motion.confidence > 0]
    if data.size == 0:
        return
    peak = float(np.abs(data).max())
    if peak > bound:
        raise CorruptDataError(
            path,
            f"implausible coordinate {peak:.6g} (more than {bound:g} in units "
            f"{units or 'unknown'}; skelformats.limits max_abs_coordinate)",
        )


def save(motion: Motion, path: str | os.PathLike, format: str | None = None, **options) -> Path:
    """Write ``motion`` (``.npz``: lossless; ``.bvh``: BVH export).  Returns the path."""
    path = Path(path)
    writers = list_writers()
    if format is not None:
        spec = writers.get(format)
        if spec is None:
            raise UnknownFormatError(
                path, f"no writer for format {format!r}; known: {', '.join(sorted(writers))}"
            )
    else:
        matches = [w for w in writers.values() if _suffix_matches(path, w.extensions)]
        if not matches:
            raise UnknownFormatError(
                path,
                f"no writer for this extension; known: {', '.join(e for w in writers.values() for e in w.extensions)}",
            )
        spec = matches[0]
    spec.func(motion, path, **options)
    return path


__all__ = [
    "register_layout",
    "get_layout",
    "list_layouts",
    "register_reader",
    "register_writer",
    "list_readers",
    "list_writers",
    "detect_format",
    "load",
    "check_coordinates",
    "save",
    "ReaderSpec",
    "WriterSpec",
]
