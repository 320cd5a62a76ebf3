"""One dataset layer for training and benchmarking: files + labels (+ texts) + named protocols.

```python
import skelformats.datasets as sd
ds = sd.load("ntu60", root)            # a folder of .skeleton files
ds.protocols                           # ['xsub', 'xview', 'zeroshot_55_5', 'zeroshot_48_12']
ds.classes                             # class names in label order, as the dataset publishes them
train = ds.split("xsub", "train")      # examples with .id, .motion, .label, .text
ds.to_hf_dataset("xsub", "train")      # a datasets.Dataset (the ``datasets`` extra)
```

Built in: ``ntu60``, ``ntu120`` (:mod:`.ntu`), ``humanml3d`` (:mod:`.humanml3d`), ``nwucla``,
``utkinect``, ``msr_action3d``, ``florence3d``, ``penn_action``, ``cmu_mocap`` (:mod:`.classic`),
``folder`` and ``manifest`` (:mod:`.user`, your own data), ``pyskl`` (:mod:`.pyskl`, pyskl /
mmaction2 ``.pkl`` annotations through a restricted unpickler).  ``register_dataset(name, factory)``
adds one; so does the ``skelformats.datasets`` entry-point group (each entry point names a factory
``factory(root, **options) -> Dataset``).  File-based datasets parse their files once, in parallel,
into a memory-mapped cache (:mod:`.cache`).
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable
from pathlib import Path

from ..errors import SkelFormatWarning
from .core import Dataset, DatasetError, Example, Protocol, Split, build_protocol

Factory = Callable[..., Dataset]

_FACTORIES: dict[str, Factory] = {}
_lock = threading.RLock()
_builtins_loaded = False
_eps_loaded = False

# module holding each built-in factory (imported on first use: numpy + skelformats only)
_BUILTIN = {
    "ntu60": "ntu",
    "ntu120": "ntu",
    "humanml3d": "humanml3d",
    "msr_action3d": "classic",
    "utkinect": "classic",
    "florence3d": "classic",
    "nwucla": "classic",
    "penn_action": "classic",
    "cmu_mocap": "classic",
    "folder": "user",
    "manifest": "user",
    "pyskl": "pyskl",
}


def register_dataset(name: str, factory: Factory, *, overwrite: bool = False) -> Factory:
    """Register ``factory(root, **options) -> Dataset`` under ``name``; returns the factory."""
    with _lock:
        if name in _FACTORIES and not overwrite:
            raise ValueError(f"dataset {name!r} is already registered")
        _FACTORIES[name] = factory
    return factory


def _load_builtins() -> None:
    global _builtins_loaded
    if _builtins_loaded:
        return
    import importlib

    with _lock:
        _builtins_loaded = True
        for mod in dict.fromkeys(_BUILTIN.values()):
            m = importlib.import_module(f"{__name__}.{mod}")
            for name, fac in m.FACTORIES.items():
                _FACTORIES.setdefault(name, fac)


def _load_entry_points() -> None:
    global _eps_loaded
    if _eps_loaded:
        return
    _eps_loaded = True
    from importlib.metadata import entry_points

    for ep in entry_points(group="skelformats.datasets"):
        try:
            register_dataset(ep.name, ep.load(), overwrite=True)
        except Exception as e:  # a broken plugin must not hide the built-in datasets
            warnings.warn(
                f"skelformats.datasets entry point {ep.name!r} failed: {e!r}",
                SkelFormatWarning,
                stacklevel=2,
            )


def list_datasets() -> list[str]:
    _load_builtins()
    _load_entry_points()
    return sorted(_FACTORIES)


def get_factory(name: str) -> Factory:
    _load_builtins()
    _load_entry_points()
    try:
        return _FACTORIES[name]
    except KeyError:
        raise DatasetError(f"unknown dataset {name!r}; known: {sorted(_FACTORIES)}") from None


def load(name: str, root: str | Path | None = None, **options) -> Dataset:
    """The dataset ``name`` read from ``root`` (its folder, a parent folder holding it under its
    usual name, or a manifest file).  Options go to the dataset's factory (e.g. ``cache``,
    ``workers``, ``progress`` for file-based datasets)."""
    return get_factory(name)(root, **options)


__all__ = [
    "Dataset",
    "DatasetError",
    "Example",
    "Protocol",
    "Split",
    "build_protocol",
    "get_factory",
    "list_datasets",
    "load",
    "register_dataset",
]
