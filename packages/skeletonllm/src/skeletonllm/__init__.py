"""skeletonllm: a vision-language model that reads skeleton sequences of any format.

Skeletons are rendered by the differentiable ``drrender.DrAction`` into frames that go, as tensors, to a
Hugging Face VLM through a per-family bridge; the whole chain trains end-to-end.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .config import GROUPS, LoraSettings, RendererSettings, SkeletonLLMConfig
from .data import Collator, InstructionRecord, synthetic_records
from .inputs import RawSkeleton
from .model import SkeletonLLM

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
