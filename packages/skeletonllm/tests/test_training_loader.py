"""The training DataLoader: its batch sampler keeps the seeded data order, workers change no result."""

import json
import pickle

import numpy as np
import pytest
import torch
from helpers import tiny_model
from hypothesis import given, settings
from hypothesis import strategies as st
from skeletonllm import synthetic_records
from skeletonllm.data import with_augment
from skeletonllm.training import MicroBatchSampler, batch_indices, micro_batches, train_stage


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 30),
    gb=st.integers(1, 6),
    world=st.integers(1, 3),
    seed=st.integers(0, 9),
    start=st.integers(0, 12),
    length=st.integers(0, 12),
)
def test_sampler_yields_the_order_of_batch_indices(n, gb, world, seed, start, length):
    """Any window of micro-batches (a resume starts mid-epoch), any rank: the same indices."""
    for rank in range(world):
        got = list(MicroBatchSampler(n, gb * world, seed, start, start + length, rank, world))
        want = [
            [(m, i) for i in batch_indices(n, m, gb * world, seed, rank, world)]
            for m in range(start, start + length)
        ]
        assert got == want


def test_loader_draws_nothing_from_the_global_rng():
    """A resumed run restores the global RNG from its checkpoint; the loader must not advance it."""
    records = synthetic_records(4, actions=["wave", "squat"], seed=0)
    model = tiny_model()
    torch.manual_seed(11)
    before = torch.get_rng_state()
    loader = micro_batches(
        records, model.collator(), global_batch=2, seed=3, start=1, stop=3, num_workers=0
    )
    got = [(m, b["ids"]) for m, b in loader]
    assert torch.equal(torch.get_rng_state(), before)
    assert [m for m, _ in got] == [1, 2]
    assert got[0][1] == [records[i].id for i in batch_indices(4, 1, 2, 3)]


def _run(tmp_path, name, records, workers):
    model = tiny_model()
    res = train_stage(
        model,
        records,
        out_dir=tmp_path / name,
        steps=3,
        batch_size=2,
        grad_accum=2,
        lr=1e-2,
        seed=4,
        progress=False,
        save_model=False,
        trainable=["renderer", "projector"],
        num_workers=workers,
    )
    rows = [json.loads(x) for x in (tmp_path / name / "metrics.jsonl").read_text().splitlines()]
    return model, res, rows


def test_two_workers_train_bit_for_bit_like_none(tmp_path):
    """Augmented records (keys travel to the workers): identical batches, losses and weights."""
    records = with_augment(
        synthetic_records(6, actions=["wave", "squat", "walk"], seed=1),
        {"crop": 1.0, "jitter": 1.0},
    )
    m0, r0, rows0 = _run(tmp_path, "w0", records, 0)
    m2, r2, rows2 = _run(tmp_path, "w2", records, 2)
    assert [r["ids"] for r in rows0] == [r["ids"] for r in rows2]
    assert [r["loss"] for r in rows0] == [r["loss"] for r in rows2]
    assert r0.step == r2.step == 3
    for (n, a), (_, b) in zip(m0.named_parameters(), m2.named_parameters()):
        assert torch.equal(a, b), n


def test_worker_errors_reach_the_caller(tmp_path):
    """A record the collator cannot read fails the run with its own message, not a hang."""
    records = synthetic_records(4, actions=["wave", "squat"], seed=0)
    records[1].motion = "not a motion"
    records[3].motion = "not a motion"
    with pytest.raises(Exception, match="motion|Motion|str"):
        _run(tmp_path, "bad", records, 2)


@pytest.mark.parametrize("bad", [-1, 1.5, True, "2"])
def test_num_workers_is_checked(tmp_path, bad):
    with pytest.raises(ValueError, match="num_workers"):
        _run(tmp_path, "x", synthetic_records(2, seed=0), bad)


def test_cached_dataset_examples_pickle_without_their_arrays(tmp_path):
    """Examples read from a dataset's parse cache cross to a spawned worker as (store, entry):
    the pickle holds the cache index, not the motions."""
    import skelformats as sf
    import skelformats.datasets as sd

    for c in ("wave", "squat"):
        (tmp_path / "data" / c).mkdir(parents=True)
        for k in range(3):
            m = sf.synth.generate(c, layout="ntu25", seed=k, num_frames=300)
            sf.save(m, tmp_path / "data" / c / f"{k}.npz")
    ds = sd.load("folder", tmp_path / "data", cache=tmp_path / "cache", workers=1, progress=False)
    split = ds.split("all", "all")
    motion_bytes = sum(ex.motion.data.nbytes for ex in split)
    blob = pickle.dumps(list(split))
    assert len(blob) < motion_bytes / 4
    back = pickle.loads(blob)
    np.testing.assert_array_equal(back[2].motion.data, split[2].motion.data)


def test_default_workers_none_on_cpu(monkeypatch):
    """On a CPU-only machine the model needs every core: collation stays in the process."""
    from skeletonllm import training

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert training.default_num_workers() == 0
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert 0 <= training.default_num_workers() <= 4
