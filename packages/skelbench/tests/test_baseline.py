"""The GCN baseline learns: on four distinct synthetic actions it beats chance by a wide margin
within a few CPU seconds, and respects its budget."""

import numpy as np
import torch
from skelbench.baseline import adjacency, features, train_baseline
from skelbench.synthetic import synth_split


def test_features_shape_and_confidence_channel():
    te = synth_split("test", per_class=1, layout="openni15")
    f = features(te.samples[0].motion, "ntu25", dims=3, frames=16)
    assert f.shape == (4, 16, 25)
    # joints openni15 lacks arrive with confidence 0 and zero coordinates, never invented
    conf = f[3]
    assert (conf == 0).any() and (conf == 1).any()
    assert np.all(f[:3][:, conf == 0] == 0)
    a = adjacency("ntu25")
    assert a.shape == (2, 25, 25) and np.allclose(a[1], a[1].T)


def test_baseline_beats_chance_on_four_actions():
    classes = ("walk", "wave", "squat", "jump")
    tr = synth_split("train", per_class=8, classes=classes)
    te = synth_split("test", per_class=4, classes=classes)
    motions, labels = [s.motion for s in tr.samples], [s.label for s in tr.samples]
    # a fixed number of epochs (the budget is generous) keeps the figure independent of machine load
    model = train_baseline(motions, labels, tr.classes, budget_s=600.0, max_epochs=12, seed=0)
    assert model.train_stats["epochs"] == 12
    pred = model.logits([s.motion for s in te.samples]).argmax(-1).numpy()
    acc = float(np.mean(pred == np.array([s.label for s in te.samples])))
    # chance is 1/4: a random guesser gets 12 of the 16 right with probability 3.8e-5
    assert acc >= 12 / 16, acc


def test_baseline_stops_at_its_budget():
    tr = synth_split("train", per_class=8, classes=("walk", "wave"))
    motions, labels = [s.motion for s in tr.samples], [s.label for s in tr.samples]
    model = train_baseline(motions, labels, tr.classes, budget_s=0.3, max_epochs=10_000)
    stats = model.train_stats
    assert 1 <= stats["steps"] and stats["epochs"] < 10_000
    # the budget counts process CPU time per torch thread; one step may overrun it
    assert stats["cpu_s"] / torch.get_num_threads() < 0.3 + 2.0
