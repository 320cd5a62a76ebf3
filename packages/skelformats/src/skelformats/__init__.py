"""skelformats: one data model for skeleton sequences, real file formats in, any joint layout out."""

from __future__ import annotations

__version__ = "0.1.0"

from . import canonical, limits
from .canonical import CANONICAL_JOINTS, PART_NAMES
from .convert import ConversionPlan, conversion_matrix, conversion_plan, convert
from .errors import (
    ConversionError,
    CorruptDataError,
    EmptySequenceError,
    JointCountError,
    LayoutError,
    LimitError,
    MissingFileError,
    ShapeError,
    SkelFormatError,
    SkelFormatWarning,
    TruncatedFileError,
    UnknownFormatError,
    UnknownJointError,
    UnknownLayoutError,
)
from .layout import Layout, part_tags
from .limits import Limits, get_limits, use_limits
from .motion import Motion
from .normalize import normalize
from .registry import (
    detect_format,
    get_layout,
    list_layouts,
    list_readers,
    list_writers,
    load,
    register_layout,
    register_reader,
    register_writer,
    save,
)

_LAZY_SUBMODULES = ("synth", "strategies", "readers", "formats", "bench", "cli", "datasets")


def __getattr__(name):
    # submodules on first use: ``sf.synth.generate(...)`` / ``sf.datasets.load(...)`` work after a
    # bare ``import skelformats``, which stays light; hypothesis (``strategies``) stays optional
    if name in _LAZY_SUBMODULES:
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "__version__",
    "canonical",
    "limits",
    "Limits",
    "get_limits",
    "use_limits",
    "CANONICAL_JOINTS",
    "PART_NAMES",
    "Layout",
    "Motion",
    "part_tags",
    "convert",
    "conversion_matrix",
    "conversion_plan",
    "ConversionPlan",
    "normalize",
    "get_layout",
    "register_layout",
    "list_layouts",
    "register_reader",
    "register_writer",
    "list_readers",
    "list_writers",
    "detect_format",
    "load",
    "save",
    "SkelFormatError",
    "SkelFormatWarning",
    "UnknownFormatError",
    "TruncatedFileError",
    "JointCountError",
    "CorruptDataError",
    "LimitError",
    "EmptySequenceError",
    "ShapeError",
    "LayoutError",
    "UnknownLayoutError",
    "UnknownJointError",
    "ConversionError",
    "MissingFileError",
]
