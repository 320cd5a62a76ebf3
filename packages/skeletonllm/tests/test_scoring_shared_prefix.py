"""Scoring on a shared prompt cache equals the per-candidate full forward (the reference path)."""

import pytest
import torch
from helpers import raw_records, tiny_model
from skeletonllm.data import synthetic_records


@pytest.mark.parametrize("backbone", ["tiny-qwen2vl", "tiny-llava", "tiny-idefics3"])
def test_shared_prefix_scores_equal_per_candidate_scores(backbone):
    # Prompts of different lengths (left padding), candidates of different token counts (right
    # padding of the continuation), per-sample lists and chunks that split a sample's candidates.
    m = tiny_model(backbone)
    motions = [r.motion for r in raw_records(3)]
    prompts = [
        "What action?",
        "Which action does this skeleton sequence show? Answer briefly.",
        "?",
    ]
    cands = [
        ["waving", "a person walking forward slowly", "sit", "x"],
        ["jump", "waving", "stand up", "walking"],
        ["", "kick", "waving both hands above the head", "sit down"],
    ]
    for normalize in (False, True):
        old = m.score(
            motions, prompts, cands, batch_size=5, normalize=normalize, shared_prefix=False
        )
        new = m.score(motions, prompts, cands, batch_size=5, normalize=normalize)
        torch.testing.assert_close(new, old, atol=1e-5, rtol=1e-5)


def test_shared_prefix_runs_the_prompt_once_per_batch():
    """Language model calls: one for the prompts, one for all candidates of the batch (vision once)."""
    m = tiny_model()
    calls = {"lm": 0, "vision": 0}
    m.backbone.model.language_model.register_forward_hook(
        lambda *a: calls.__setitem__("lm", calls["lm"] + 1)
    )
    m.backbone.model.visual.register_forward_hook(
        lambda *a: calls.__setitem__("vision", calls["vision"] + 1)
    )
    recs = synthetic_records(4, seed=3)
    s = m.score(
        [r.motion for r in recs], "What action?", ["waving", "walking", "jumping"], batch_size=6
    )
    assert s.shape == (4, 3) and torch.isfinite(s).all()
    assert calls == {"lm": 2, "vision": 1}


@pytest.mark.parametrize("path", ["eager", "chunked"])
def test_eager_masks_and_the_chunked_cache_path_match_too(path, monkeypatch):
    """The packed row under eager attention (additive float mask) and the per-pair cache copies used
    where the attention takes no custom 4D mask give the reference scores as well."""
    m = tiny_model("tiny-llava")
    if path == "eager":
        m.backbone.set_attn_implementation("eager")
        assert m._packed_attention() == "eager"
    else:
        monkeypatch.setattr(type(m), "_packed_attention", lambda self: None)
    motions = [r.motion for r in raw_records(2)]
    prompts = ["What action?", "Which action does this skeleton sequence show?"]
    cands = ["waving", "a person walking forward slowly", "sit"]
    old = m.score(motions, prompts, cands, batch_size=4, shared_prefix=False)
    new = m.score(motions, prompts, cands, batch_size=4)
    torch.testing.assert_close(new, old, atol=1e-5, rtol=1e-5)
