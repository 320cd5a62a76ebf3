"""Dataset readers.  Each submodule registers its readers with ``skelformats.register_reader``.

The registry imports this package lazily (on the first ``load``).  Add a new reader module by
appending its name to ``_MODULES`` below (explicit list, no try/except: a broken reader must fail
loudly in tests).
"""

from __future__ import annotations

import importlib

_MODULES: tuple[str, ...] = (
    # dataset readers
    "msr",
    "utkinect",
    "florence",
    "penn",
    "ntu",
    "openpose",
    "mediapipe",
    "humanml3d",
    "c3d",
)

for _name in _MODULES:
    importlib.import_module(f"{__name__}.{_name}")
