import numpy as np
import pytest
import skelformats as sf
from conftest import data_dir
from hypothesis import given
from hypothesis import strategies as st
from skelformats import augment as A
from skelformats.strategies import motions

LAYOUTS_3D = ["ntu25", "kinect_v1_20", "smpl22", "openni15", "cmu31"]
LAYOUTS = [*LAYOUTS_3D, "coco17", "penn13"]
seeds = st.integers(0, 2**32 - 1)


def bone_lengths(m: sf.Motion) -> np.ndarray:
    e = np.asarray(m.layout.edges).reshape(-1, 2)
    return np.linalg.norm(m.data[..., e[:, 0], :] - m.data[..., e[:, 1], :], axis=-1)


def observed_bones(m: sf.Motion) -> np.ndarray:
    e = np.asarray(m.layout.edges).reshape(-1, 2)
    return m.mask[..., e[:, 0]] & m.mask[..., e[:, 1]]


@given(st.sampled_from(LAYOUTS).flatmap(lambda n: motions(n, max_abs=3.0, people=None)), seeds)
def test_rotate_preserves_bone_lengths_and_missing_joints(m, seed):
    out = A.rotate(m, A.rng_for(seed))
    ok = observed_bones(m)
    np.testing.assert_allclose(bone_lengths(out)[ok], bone_lengths(m)[ok], atol=1e-4, rtol=1e-4)
    assert np.array_equal(out.mask, m.mask)
    # missing joints keep their coordinates; shape, layout and fps are unchanged
    np.testing.assert_array_equal(out.data[~m.mask], m.data[~m.mask])
    assert out.layout == m.layout and out.data.shape == m.data.shape and out.fps == m.fps


@given(st.sampled_from(LAYOUTS_3D), seeds, st.floats(0, 180), st.floats(0, 30))
def test_random_rotation_is_orthonormal_and_bounded_about_up(name, seed, yaw, tilt):
    lay = sf.get_layout(name)
    R = A.random_rotation(lay, A.rng_for(seed), yaw=yaw, tilt=tilt)
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-9)
    assert np.linalg.det(R) == pytest.approx(1.0)
    up = np.zeros(3)
    up[A._up(lay)] = 1.0
    # the up axis moves by no more than the tilts allow
    angle = np.degrees(np.arccos(np.clip(up @ R @ up, -1, 1)))
    assert angle <= np.sqrt(2) * tilt + 1e-6


@given(st.sampled_from(LAYOUTS_3D).flatmap(lambda n: motions(n, max_abs=3.0)), seeds)
def test_project_gives_2d_layout_data_with_the_same_graph(m, seed):
    out = A.project(m, A.rng_for(seed))
    assert out.layout.dims == 2 and out.data.shape == m.data.shape[:-1] + (2,)
    assert out.layout.joints == m.layout.joints
    assert np.array_equal(np.asarray(out.layout.edges), np.asarray(m.layout.edges))
    assert np.array_equal(out.mask, m.mask)
    # an orthographic camera never lengthens a bone
    ok = observed_bones(m)
    assert np.all(bone_lengths(out)[ok] <= bone_lengths(m)[ok] * (1 + 1e-4) + 1e-4)


def test_project_front_camera_keeps_image_layout_conventions():
    m = sf.synth.generate("raise_arms", layout="ntu25", seed=0)
    out = A.project(m, A.rng_for(0), yaw=0.0, elevation=0.0)
    lay = m.layout
    head, foot = lay.index("Head"), lay.index("FootLeft")
    # image rows grow downwards: the head is above (smaller y than) the feet
    assert (out.data[:, head, 1] < out.data[:, foot, 1]).all()
    # a front camera keeps x up to a shift (the projection centres the first frame)
    assert np.ptp(out.data[..., 0] - m.data[..., 0]) < 1e-5
    coco = A.project(m, A.rng_for(0), layout="coco17")
    assert coco.layout.name == "coco17" and coco.dims == 2


@given(st.sampled_from(LAYOUTS).flatmap(lambda n: motions(n, max_abs=3.0, max_frames=20)), seeds)
def test_temporal_transforms_keep_frames_of_the_motion(m, seed):
    crop = A.temporal_crop(m, A.rng_for(seed), min_fraction=0.5)
    T = m.num_frames
    assert max(1, int(np.ceil(0.5 * T))) <= crop.num_frames <= T
    # a crop is a contiguous run of the original frames
    starts = [
        s
        for s in range(T - crop.num_frames + 1)
        if np.array_equal(m.data[..., s : s + crop.num_frames, :, :], crop.data)
        and np.array_equal(m.mask[..., s : s + crop.num_frames, :], crop.mask)
    ]
    assert starts
    fast = A.speed(m, A.rng_for(seed), low=0.5, high=2.0)
    assert round(T / 2.0) - 1 <= fast.num_frames <= 2 * T + 1
    assert fast.fps == m.fps
    # interpolation stays within the range of the observed coordinates
    if m.mask.any() and fast.mask.any():
        lo, hi = m.data[m.mask].min(0), m.data[m.mask].max(0)
        v = fast.data[fast.mask]
        assert np.all(v >= lo - 1e-4) and np.all(v <= hi + 1e-4)


@given(st.sampled_from(LAYOUTS).flatmap(lambda n: motions(n, max_abs=3.0)), seeds)
def test_dropout_only_removes_joints(m, seed):
    for fn in (A.drop_joints, A.drop_limb):
        out = fn(m, A.rng_for(seed))
        assert not (out.mask & ~m.mask).any()  # nothing missing comes back
        kept = out.mask
        np.testing.assert_array_equal(out.data[kept], m.data[kept])
        assert (out.data[m.mask & ~out.mask] == 0).all()
        np.testing.assert_array_equal(out.data[~m.mask], m.data[~m.mask])
    limb = A.drop_limb(m, A.rng_for(seed))
    lost = (m.mask & ~limb.mask).reshape(-1, m.num_joints).any(0)
    assert lost.sum() <= max(1, int(0.25 * m.num_joints)) or m.layout.parents is None


def test_drop_limb_removes_a_whole_subtree():
    m = sf.synth.generate("wave", layout="smpl22", seed=0)
    for seed in range(10):
        out = A.drop_limb(m, A.rng_for(seed))
        gone = set(np.flatnonzero((m.mask & ~out.mask).any(0)).tolist())
        assert gone
        # every dropped joint's (observed) children are dropped too
        for j in gone:
            assert {k for k in m.layout.children(j) if m.mask[:, k].any()} <= gone


@given(st.sampled_from(LAYOUTS).flatmap(lambda n: motions(n, max_abs=3.0)), seeds)
def test_scale_and_jitter(m, seed):
    s = A.scale(m, A.rng_for(seed), low=2.0, high=2.0, anisotropy=0.0)
    ok = observed_bones(m)
    np.testing.assert_allclose(bone_lengths(s)[ok], 2 * bone_lengths(m)[ok], atol=1e-3, rtol=1e-4)
    j = A.jitter(m, A.rng_for(seed), sigma=0.0)
    np.testing.assert_allclose(j.data, m.data, atol=1e-6)
    assert np.array_equal(j.mask, m.mask)


@given(st.sampled_from(LAYOUTS).flatmap(lambda n: motions(n, max_abs=3.0, people=None)), seeds)
def test_augment_is_a_pure_function_of_the_key(m, seed):
    aug = A.Augment.from_config({"project": 0.5, "drop_limb": 0.5})
    a = aug(m, A.rng_for(seed, 3, 7))
    b = aug(m, A.rng_for(seed, 3, 7))
    assert a.layout == b.layout
    np.testing.assert_array_equal(a.data, b.data)
    np.testing.assert_array_equal(a.mask, b.mask)


def test_augment_config():
    aug = A.Augment.from_config({"rotate": {"yaw": 30}, "project": 1, "drop_limb": False})
    assert aug.settings["rotate"]["yaw"] == 30 and aug.settings["rotate"]["p"] == 1.0
    assert aug.settings["project"]["p"] == 1.0 and aug.settings["drop_limb"]["p"] == 0.0
    assert A.Augment.from_config(False) is None
    assert A.Augment.from_config(None).to_dict() == A.DEFAULTS
    with pytest.raises(ValueError, match="augment: unknown transform 'spin'"):
        A.Augment.from_config({"spin": 1})
    with pytest.raises(ValueError, match=r"augment.rotate: unknown setting\(s\) \['roll'\]"):
        A.Augment.from_config({"rotate": {"roll": 3}})
    with pytest.raises(ValueError, match="probability"):
        A.Augment.from_config({"jitter": 2.0})
    m = sf.synth.generate("clap", layout="kinect_v1_20", seed=0)
    out = A.Augment.from_config({"project": 1.0})(m, A.rng_for(0))
    assert out.layout.name == "kinect_v1_20_2d"
    # with everything off the motion passes unchanged
    off = A.Augment.from_config({k: False for k in A.TRANSFORMS})
    assert off(m, A.rng_for(0)) is m


def test_rotation_on_real_nwucla_view3_keeps_bones():
    d = data_dir() / "NW-UCLA" / "all_sqe"
    files = sorted(d.glob("*_v03.json"))[:3] if d.is_dir() else []
    if not files:
        pytest.skip(f"real data not available: {d} (set SKEL_DATA_DIR)")
    for p in files:
        m = sf.load(p)
        out = A.rotate(m, A.rng_for(1))
        ok = observed_bones(m)
        np.testing.assert_allclose(bone_lengths(out)[ok], bone_lengths(m)[ok], rtol=1e-3, atol=1e-4)
        flat = A.project(m, A.rng_for(1))
        assert flat.layout.name == "kinect_v1_20_2d" and np.isfinite(flat.data).all()
