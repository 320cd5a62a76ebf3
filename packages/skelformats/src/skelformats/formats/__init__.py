"""Built-in file formats: the own ``.npz`` format, BVH, ASF/AMC, NW-UCLA JSON."""

from __future__ import annotations

import importlib

_MODULES: tuple[str, ...] = ("npz", "bvh", "asf_amc", "nwucla", "ntu_skeleton_writer")

for _name in _MODULES:
    importlib.import_module(f"{__name__}.{_name}")
