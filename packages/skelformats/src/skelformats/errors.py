"""Errors and warnings.  Every error names the file (when there is one) and the problem."""

from __future__ import annotations

import os


class SkelFormatError(Exception):
    """Base error: ``path`` (may be None) and ``problem`` (human-readable)."""

    def __init__(self, path: str | os.PathLike | None, problem: str):
        self.path = None if path is None else str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}" if self.path else problem)

    def __reduce__(self):
        return (type(self), (self.path, self.problem))


class UnknownFormatError(SkelFormatError):
    """No reader/writer matches the file (extension, content) or the named format."""


class TruncatedFileError(SkelFormatError):
    """The file ends before the data it declares."""


class JointCountError(SkelFormatError):
    """The number of joints does not match the layout."""


class CorruptDataError(SkelFormatError):
    """Unparseable or invalid values (junk numbers, bad tokens, inconsistent headers)."""


class LimitError(CorruptDataError):
    """The input is larger than ``skelformats.limits`` allows (frames, bodies, bytes, nesting), or
    declares more than its bytes can hold."""


class EmptySequenceError(SkelFormatError):
    """The file or array holds no frames."""


class ShapeError(SkelFormatError):
    """Array shapes do not fit the data model."""


class LayoutError(SkelFormatError, ValueError):
    """Invalid layout definition (cycles, duplicates, parents out of range, ...)."""


class UnknownLayoutError(SkelFormatError, KeyError):
    """No registered layout has this name."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return Exception.__str__(self)


class UnknownJointError(SkelFormatError, KeyError):
    """A joint name that the layout does not have."""

    def __str__(self) -> str:
        return Exception.__str__(self)


class ConversionError(SkelFormatError, ValueError):
    """A conversion between layouts that cannot be done as asked."""


class MissingFileError(SkelFormatError, FileNotFoundError):
    """The path does not exist."""

    def __str__(self) -> str:
        return Exception.__str__(self)


class SkelFormatWarning(UserWarning):
    """Recoverable problem in the input: the affected joints/frames are marked missing."""


__all__ = [
    "SkelFormatError",
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
    "SkelFormatWarning",
]
