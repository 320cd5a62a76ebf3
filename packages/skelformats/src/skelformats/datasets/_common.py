"""Helpers shared by the dataset modules: locating a root, loaders over a parse cache."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from .cache import MotionStore
from .core import DatasetError

DATA_DIR_ENV = "SKEL_DATA_DIR"


def resolve_root(root, name: str, folders: tuple[str, ...] = ()) -> Path:
    """The dataset's folder: ``root`` itself, or ``root/<usual folder name>`` when ``root`` is a
    parent holding several datasets (``$SKEL_DATA_DIR`` when ``root`` is None)."""
    if root is None:
        root = os.environ.get(DATA_DIR_ENV)
        if root is None:
            raise DatasetError(f"dataset {name!r} needs a root folder (or ${DATA_DIR_ENV})")
    root = Path(root)
    for f in folders:
        if (root / f).is_dir():
            return root / f
    if root.is_dir():
        return root
    raise DatasetError(root, f"folder for dataset {name!r} not found")


class StoreLoader:
    """Picklable ``() -> Motion`` over one entry of a :class:`MotionStore` (DataLoader workers
    receive the store and reopen its maps)."""

    __slots__ = ("store", "entry")

    def __init__(self, store: MotionStore, entry: int):
        self.store, self.entry = store, entry

    def __call__(self):
        return self.store.motion(self.entry)

    def __getstate__(self):
        return (self.store, self.entry)

    def __setstate__(self, s):
        self.store, self.entry = s


def skip(skipped: list[str], what: str, why: str, *, warn: bool = True) -> None:
    msg = f"{what}: {why}"
    skipped.append(msg)
    if warn:
        warnings.warn(f"skipped {msg}", stacklevel=3)


__all__ = ["resolve_root", "StoreLoader", "skip", "DATA_DIR_ENV"]
