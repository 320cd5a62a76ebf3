"""Metric values against hand-computed examples."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from skelbench import metrics as M


def test_topk_and_macro_by_hand():
    scores = np.array(
        [
            [0.9, 0.05, 0.05],  # true 0, top1 0
            [0.5, 0.3, 0.2],  # true 1, top1 0, top2 {0,1}
            [0.1, 0.2, 0.7],  # true 2
            [0.6, 0.1, 0.3],  # true 2, top2 {0,2}
        ]
    )
    labels = [0, 1, 2, 2]
    assert M.topk_accuracy(scores, labels, 1) == pytest.approx(2 / 4)
    assert M.topk_accuracy(scores, labels, 2) == pytest.approx(4 / 4)
    preds = scores.argmax(1)
    # per-class recall: class0 1/1, class1 0/1, class2 1/2 -> macro 0.5
    assert M.macro_accuracy(labels, preds, 3) == pytest.approx(0.5)
    cm = M.confusion_matrix(labels, preds, 3)
    assert cm.tolist() == [[1, 0, 0], [1, 0, 0], [1, 0, 1]]
    out = M.classification_metrics(scores, labels, preds, 3)
    assert out["top1"] == 0.5 and out["top5"] == 1.0
    assert out["per_class_accuracy"] == [1.0, 0.0, 0.5]


def test_absent_class_is_none_and_unmatched_generation_is_wrong():
    out = M.classification_metrics(None, [0, 0, 1], [0, -1, 1], 3)
    assert out["top1"] == pytest.approx(2 / 3)
    assert out["per_class_accuracy"] == [0.5, 1.0, None]
    assert out["top5"] is None
    assert np.asarray(out["confusion_matrix"]).sum() == 2


def test_match_label_substring_protocol():
    names = ["throw", "pick up & throw", "sit down", "walk"]
    assert M.match_label("The person will Pick up & throw it.", names) == 1  # longest wins
    assert M.match_label("they SIT_DOWN slowly", names) == 2
    assert M.match_label("walking", names) == -1  # whole words only
    assert M.match_label("nothing here", names) == -1


def test_bleu1_brevity_penalty_by_hand():
    # unigram precision 3/3, hypothesis 3 words vs reference 6: BP = exp(1 - 6/3)
    b = M.bleu(["the cat sat"], [["the cat sat on the mat"]], max_order=1)
    assert b == pytest.approx(100 * math.exp(-1), abs=1e-6)


def test_bleu4_perfect_and_padding_of_references():
    hyps = ["a man walks forward slowly", "a woman jumps twice in place"]
    refs = [["a man walks forward slowly", "someone walks"], ["a woman jumps twice in place"]]
    assert M.bleu(hyps, refs, 4) == pytest.approx(100.0)


def test_rouge_l_by_hand():
    # LCS("the cat sat on the mat", "the cat on mat") = 4 -> P = 4/4, R = 4/6, F = 0.8
    r = M.rouge_l(["the cat on mat"], [["the cat sat on the mat"]])
    assert r == pytest.approx(2 * 1 * (4 / 6) / (1 + 4 / 6))


def test_cider_by_hand():
    # Two images, hypothesis equals the single reference, every n-gram occurs in one image only:
    # cosine 1 for n = 1, 2 and 0 for n = 3, 4 (two-word captions have none) -> 10 * (1+1+0+0)/4.
    c = M.cider(["a b", "c d"], [["a b"], ["c d"]])
    assert c == pytest.approx(5.0)


def test_embedding_similarity_identity_and_order():
    same = M.embedding_similarity(["a person walks forward"], [["a person walks forward"]])
    assert same == pytest.approx(1.0, abs=1e-5)
    near = M.embedding_similarity(["a person walks forward"], [["someone is walking ahead"]])
    far = M.embedding_similarity(["a person walks forward"], [["the stock market fell sharply"]])
    assert far < near < 1.0


def test_qa_accuracy_per_family():
    out = M.qa_accuracy(["count", "count", "order", "posture"], [True, False, True, False])
    assert out["accuracy"] == 0.5
    assert out["per_family"] == {"count": 0.5, "order": 1.0, "posture": 0.0}
    assert out["per_family_count"] == {"count": 2, "order": 1, "posture": 1}


@settings(max_examples=40, deadline=None)
@given(
    st.integers(2, 6).flatmap(
        lambda k: st.tuples(
            st.just(k),
            st.lists(
                st.tuples(
                    st.lists(st.floats(-5, 5), min_size=k, max_size=k), st.integers(0, k - 1)
                ),
                min_size=1,
                max_size=20,
            ),
        )
    )
)
def test_classification_invariants(data):
    k, rows = data
    scores = np.array([r[0] for r in rows])
    labels = [r[1] for r in rows]
    accs = [M.topk_accuracy(scores, labels, j) for j in range(1, k + 1)]
    assert all(a <= b + 1e-12 for a, b in zip(accs, accs[1:])) and accs[-1] == 1.0
    out = M.classification_metrics(scores, labels, scores.argmax(1), k)
    cm = np.array(out["confusion_matrix"])
    assert cm.sum() == len(rows)
    assert out["top1"] == pytest.approx(np.trace(cm) / len(rows))
    assert out["top1"] == pytest.approx(accs[0])
    assert np.array_equal(cm.sum(1), np.bincount(labels, minlength=k))
