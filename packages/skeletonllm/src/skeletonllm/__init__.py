"""skeletonllm: a vision-language model that reads skeleton sequences of any format.

Skeletons are rendered by the differentiable ``drrender.DrAction`` into frames that go, as tensors, to a
Hugging Face VLM through a per-family bridge; the whole chain trains end-to-end.
"""

from __future__ import annotations

__version__ = "0.1.0"

import importlib

from .config import GROUPS, LoraSettings, RendererSettings, SkeletonLLMConfig

# torch-backed names load on first use, so `skeletonllm --help` answers without importing torch.
_LAZY = {
    "Collator": "data",
    "InstructionRecord": "data",
    "synthetic_records": "data",
    "RawSkeleton": "inputs",
    "SkeletonLLM": "model",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "GROUPS",
    "Collator",
    "InstructionRecord",
    "LoraSettings",
    "RawSkeleton",
    "RendererSettings",
    "SkeletonLLM",
    "SkeletonLLMConfig",
    "__version__",
    "synthetic_records",
]
