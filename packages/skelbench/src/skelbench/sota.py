"""Published state of the art, shown in the report as a fixed row beside our figures.

Only numbers with a source we could check are listed; a dataset without one says so in the report
rather than carrying an unsourced figure. Protocols must match ours for the row to be comparable."""

from __future__ import annotations

SOTA: dict[str, dict] = {
    "nwucla/recognition": {
        "method": "CTR-GCN (joint+bone+motion ensemble)",
        "top1": 0.965,
        "protocol": "cross-view, views 1-2 train / view 3 test (same as ours)",
        "source": "Chen et al., Channel-wise Topology Refinement Graph Convolution for "
        "Skeleton-Based Action Recognition, ICCV 2021, arXiv:2107.12213 (NW-UCLA: 96.5%)",
    },
}


def sota_for(task: str) -> dict | None:
    return SOTA.get(task)
