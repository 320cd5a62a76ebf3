import numpy as np
import pytest
import skelformats as sf
from skelbench import TaskSpec, get_task, list_tasks, load_task_yaml, register_task
from skelbench.datasets import Sample, stratified_limit
from skelbench.robustness import add_noise, body_scale, drop_joints


def test_builtin_tasks_cover_every_kind_in_both_suites():
    for suite in ("synth", "real"):
        kinds = {t.kind for t in list_tasks(suite)}
        extra = {"localization"} if suite == "real" else set()
        assert kinds == {"recognition", "captioning", "reasoning", "cross_format"} | extra
    modes = {t.mode for t in list_tasks("synth", ("recognition",))}
    assert modes == {"closed_set", "generation", "zero_shot"}
    t = get_task("utkinect_to_nwucla/cross_format")
    assert t.shared_classes == ("walk", "sit down", "stand up", "pick up", "carry", "throw")
    assert get_task("florence3d_to_utkinect/cross_format").shared_classes == (
        "wave",
        "clap",
        "sit down",
        "stand up",
    )


def test_register_and_yaml(tmp_path):
    spec = TaskSpec("custom/rec", "recognition", "synth", "synth")
    register_task(spec)
    with pytest.raises(ValueError, match="already registered"):
        register_task(spec)
    y = tmp_path / "t.yaml"
    y.write_text(
        "- name: custom/yaml\n  kind: captioning\n  suite: real\n  dataset: cmu_mocap\n"
        "  mode: null\n  candidates: null\n  metrics: [bleu1, cider]\n"
    )
    (loaded,) = load_task_yaml(y)
    assert get_task("custom/yaml") == loaded and loaded.metrics == ("bleu1", "cider")
    y.write_text(
        "- name: bad\n  kind: recognition\n  suite: synth\n  dataset: synth\n  colour: red\n"
    )
    with pytest.raises(ValueError, match=r"t.yaml: entry 0 has unknown fields \['colour'\]"):
        load_task_yaml(y)
    with pytest.raises(ValueError, match="kind must be one of"):
        TaskSpec("x", "dancing", "synth", "synth")
    with pytest.raises(KeyError, match="unknown task"):
        get_task("nope/nope")


def _motion(T=12, J=25, seed=0):
    rng = np.random.default_rng(seed)
    return sf.Motion(rng.normal(size=(T, J, 3)).astype(np.float32), "ntu25", 30.0)


def test_drop_joints_marks_exactly_that_many_missing():
    m = _motion()
    for frac, k in ((0.1, 2), (0.3, 8)):  # round(0.1*25)=2, round(0.3*25)=8
        d = drop_joints(m, frac, seed=3)
        assert len(d.missing_joints()) == k
        assert np.all(d.data[~d.mask] == 0)
        np.testing.assert_array_equal(d.data[d.mask], m.data[d.mask])
    assert (
        drop_joints(m, 0.3, seed=1).missing_joints() == drop_joints(m, 0.3, seed=1).missing_joints()
    )


def test_noise_has_the_requested_scale():
    m = _motion(T=400)
    n = add_noise(m, 0.05, seed=0)
    std = float(np.std(n.data - m.data))
    assert std == pytest.approx(0.05 * body_scale(m), rel=0.05)


def test_stratified_limit_covers_classes():
    samples = [Sample(None, label=i % 5, id=str(i)) for i in range(100)]
    got = stratified_limit(samples, 10)
    assert len(got) == 10 and sorted({s.label for s in got}) == [0, 1, 2, 3, 4]
    assert stratified_limit(samples, 10) == got
