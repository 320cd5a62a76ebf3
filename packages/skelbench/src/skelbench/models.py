"""Loading what is evaluated, and batched calls through the common evaluation interface
(``score(motions, prompts, candidates) -> (B, n_cand)`` and ``generate(motions, prompts)``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch


def load_model(path: str | Path, *, device: str | None = None, dtype: str | None = None):
    """A SkeletonLLM checkpoint directory (``config.json``) on ``device`` with its backbone in
    ``dtype`` (defaults: as saved, CPU), or a saved GCN baseline (CPU)."""
    from skeletonllm.hub import looks_like_repo_id

    if not Path(path).exists() and looks_like_repo_id(str(path)):  # a Hub id
        from skeletonllm import SkeletonLLM

        return SkeletonLLM.from_pretrained(str(path), device=device, dtype=dtype).eval()
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: model checkpoint not found")
    if (path / "baseline.json").is_file():
        from skelbench.baseline import BaselineGCN

        return BaselineGCN.load(path)
    from skeletonllm import SkeletonLLM

    model = SkeletonLLM.from_pretrained(str(path), device=device, dtype=dtype)
    model.eval()
    return model


def model_id(model, path: str | Path | None = None) -> str:
    """A readable id: the checkpoint path plus the backbone name when the config says it."""
    mid = getattr(model, "model_id", None)
    if isinstance(mid, str) and path is None:
        return mid
    cfg = getattr(model, "config", None)
    backbone = None
    for attr in ("backbone", "model_name", "backbone_name", "name_or_path"):
        v = getattr(cfg, attr, None)
        if isinstance(v, str):
            backbone = v
            break
    parts = [str(path) if path is not None else type(model).__name__]
    if backbone:
        parts.append(f"backbone={backbone}")
    return " ".join(parts)


def model_info(path: str | Path | None) -> dict:
    """config.json of a checkpoint directory, when there is one (recorded in results.json)."""
    if path is None:
        return {}
    p = Path(path) / "config.json"
    if p.is_file():
        try:
            return json.loads(p.read_text())
        except ValueError:
            return {}
    return {}


@torch.no_grad()
def score(model, motions, prompts, candidates, batch_size: int = 8) -> np.ndarray:
    """(N, n_cand) float64 log-likelihoods, candidates shared by all motions."""
    out = []
    for i in range(0, len(motions), batch_size):
        s = model.score(
            list(motions[i : i + batch_size]), list(prompts[i : i + batch_size]), list(candidates)
        )
        s = (
            s.detach().float().cpu().numpy()
            if torch.is_tensor(s)
            else np.asarray(s, dtype=np.float64)
        )
        if s.shape != (len(motions[i : i + batch_size]), len(candidates)):
            raise ValueError(
                f"model.score returned shape {s.shape}, expected (B, {len(candidates)})"
            )
        out.append(s.astype(np.float64))
    return np.concatenate(out) if out else np.zeros((0, len(candidates)))


@torch.no_grad()
def generate(model, motions, prompts, batch_size: int = 8, **kw) -> list[str]:
    out: list[str] = []
    for i in range(0, len(motions), batch_size):
        out.extend(
            model.generate(
                list(motions[i : i + batch_size]), list(prompts[i : i + batch_size]), **kw
            )
        )
    return [str(x) for x in out]
