"""Small shared builders for the tests (tiny sizes: every test must stay cheap on 2 busy cores)."""

from __future__ import annotations

import torch
from skeletonllm import InstructionRecord, RawSkeleton, SkeletonLLM, SkeletonLLMConfig

CHAIN5 = [[0, 1], [1, 2], [2, 3], [3, 4]]


def tiny_model(backbone: str = "tiny-qwen2vl", **overrides) -> SkeletonLLM:
    return SkeletonLLM(SkeletonLLMConfig(backbone=backbone, **overrides))


def raw_records(n: int = 8, seed: int = 0, dims: int = 3) -> list[InstructionRecord]:
    """Two classes that differ visibly: joint 4 oscillates ('waving') or the chain drifts ('walking')."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for i in range(n):
        label = ("waving", "walking")[i % 2]
        t = 10 + i % 5
        j = torch.zeros(t, 5, dims)
        j[:, :, 1] = torch.arange(5.0)
        j += 0.05 * torch.randn(t, 5, dims, generator=g)
        time = torch.linspace(0, 6.28, t)
        if label == "waving":
            j[:, 4, 0] += torch.sin(3 * time)
        else:
            j[:, :, 0] += time[:, None] * 0.5
        out.append(
            InstructionRecord(
                RawSkeleton(j, CHAIN5), "What action?", label, "recognition", f"raw-{i}"
            )
        )
    return out
