"""Experiment trackers through accelerate (``log_with``): TensorBoard receives the loss, ``None`` writes
nothing, unknown or uninstalled trackers are refused by name before training."""

import importlib.util

import pytest
from helpers import raw_records, tiny_model
from skeletonllm.trackers import tracker_names
from skeletonllm.training import train_stage


def _train(tmp_path, log_with):
    m = tiny_model(renderer={"frames": 4, "size": [28, 28]})
    return train_stage(
        m, raw_records(4), out_dir=tmp_path, steps=2, batch_size=2, progress=False,
        save_model=False, log_with=log_with,
    )  # fmt: skip


@pytest.mark.skipif(not importlib.util.find_spec("tensorboard"), reason="tensorboard not installed")
def test_tensorboard_gets_the_loss(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    _train(tmp_path / "tb", "tensorboard")
    ev = EventAccumulator(str(tmp_path / "tb" / "tensorboard"))
    ev.Reload()
    assert {"loss", "samples_per_s"} <= set(ev.Tags()["scalars"])
    assert [e.step for e in ev.Scalars("loss")] == [1, 2]
    _train(tmp_path / "none", None)
    assert not (tmp_path / "none" / "tensorboard").exists()


def test_tracker_names():
    assert tracker_names(None) == [] and tracker_names("none") == []
    with pytest.raises(ValueError, match=r"unknown tracker\(s\) \['tensorbored'\]"):
        tracker_names("tensorbored")
    missing = [n for n in ("wandb", "mlflow", "aim") if not importlib.util.find_spec(n)]
    if missing:
        with pytest.raises(ValueError, match=f"{missing[0]}.*package installed"):
            tracker_names(["tensorboard", missing[0]])


def test_bad_tracker_fails_before_training(tmp_path):
    with pytest.raises(ValueError, match="log_with"):
        _train(tmp_path, "tensorbored")
    assert not (tmp_path / "checkpoints").exists()
