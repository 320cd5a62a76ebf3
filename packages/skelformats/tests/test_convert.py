import numpy as np
import pytest
import skelformats as sf
from hypothesis import given
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation
from skelformats.convert import DERIVATIONS, conversion_plan
from skelformats.errors import ConversionError
from skelformats.strategies import layouts, motions

LAYOUTS_3D = [
    "ntu25",
    "kinect_v1_20",
    "msr20",
    "openni15",
    "mediapipe33",
    "smpl22",
    "smpl24",
    "h36m17",
    "cmu31",
]
LAYOUTS_2D = ["penn13", "coco17", "openpose18", "openpose25"]


def _pair(dims):
    names = LAYOUTS_3D if dims == 3 else LAYOUTS_2D
    return st.tuples(st.sampled_from(names), st.sampled_from(names))


@given(
    st.one_of(_pair(3), _pair(2)).flatmap(
        lambda p: st.tuples(st.just(p[1]), motions(p[0], confidence=None))
    )
)
def test_convert_and_back_is_identity_on_shared_joints(args):
    dst, m = args
    there = sf.convert(m, dst)
    back = sf.convert(there, m.layout)
    src_lay, dst_lay = m.layout, sf.get_layout(dst)
    shared = [
        j for j, c in enumerate(src_lay.canonical) if c is not None and c in dst_lay.canonical
    ]
    assert np.array_equal(back.data[..., shared, :], m.data[..., shared, :])
    conf = m.confidence_or_ones()
    assert np.array_equal(back.confidence_or_ones()[..., shared], conf[..., shared])


@given(layouts(dims=3), layouts(dims=3), st.data())
def test_random_layouts_roundtrip(a, b, data):
    m = data.draw(motions(a))
    shared = [j for j, c in enumerate(a.canonical) if c is not None and c in b.canonical]
    if not conversion_plan(a, b).available.any():
        with pytest.raises(ConversionError, match="no joint"):
            sf.convert(m, b)
        return
    there = sf.convert(m, b)
    if not conversion_plan(b, a).available.any():  # b only has joints derived from a's
        with pytest.raises(ConversionError, match="no joint"):
            sf.convert(there, a)
        return
    back = sf.convert(there, a)
    assert np.array_equal(back.data[..., shared, :], m.data[..., shared, :])


@given(st.sampled_from(LAYOUTS_3D), st.sampled_from(LAYOUTS_3D), st.data())
def test_convert_commutes_with_similarity_transforms(src, dst, data):
    m = data.draw(motions(src, max_abs=10.0, confidence=False))
    R = Rotation.from_rotvec(
        data.draw(st.lists(st.floats(-3, 3), min_size=3, max_size=3))
    ).as_matrix()
    t = np.array(data.draw(st.lists(st.floats(-5, 5), min_size=3, max_size=3)))
    s = data.draw(st.floats(0.1, 10))
    moved = m.replace(data=(s * m.data.astype(np.float64) @ R.T + t).astype(np.float32))
    a = sf.convert(moved, dst)
    b = sf.convert(m, dst)
    ok = b.mask
    expect = s * b.data.astype(np.float64) @ R.T + t
    np.testing.assert_allclose(a.data[ok], expect[ok], atol=1e-3 * max(1.0, s) * 10, rtol=1e-4)
    assert np.array_equal(a.mask, b.mask)


def test_missing_targets_marked_not_zeroed_silently():
    m = sf.Motion(np.random.default_rng(0).normal(size=(4, 20, 3)), "kinect_v1_20")
    out = sf.convert(m, "ntu25")
    lay = out.layout
    for name in ("HandTipLeft", "ThumbLeft", "HandTipRight", "ThumbRight"):
        assert (out.confidence[:, lay.index(name)] == 0).all()
    assert (out.confidence[:, lay.index("HandLeft")] == 1).all()
    assert set(out.missing_joints()) == {"HandTipLeft", "ThumbLeft", "HandTipRight", "ThumbRight"}


def test_derived_joints():
    rng = np.random.default_rng(1)
    m = sf.Motion(rng.normal(size=(3, 17, 2)), "coco17")
    out = sf.convert(m, "openpose18")
    lay, src = out.layout, m.layout
    neck = (m.data[:, src.index("left_shoulder")] + m.data[:, src.index("right_shoulder")]) / 2
    np.testing.assert_allclose(out.data[:, lay.index("Neck")], neck, rtol=1e-6)
    assert out.confidence is None  # every coco17 joint observed, every openpose18 joint obtainable
    # a derived joint is missing where one of its sources is
    conf = np.ones((3, 17), np.float32)
    conf[1, src.index("left_shoulder")] = 0
    out = sf.convert(m.replace(confidence=conf), "openpose18")
    assert out.confidence[1, lay.index("Neck")] == 0 and out.confidence[0, lay.index("Neck")] == 1


def test_conversion_matrix_properties():
    for a in LAYOUTS_3D:
        for b in LAYOUTS_3D:
            W = sf.conversion_matrix(a, b)
            plan = conversion_plan(a, b)
            assert W.shape == (sf.get_layout(b).num_joints, sf.get_layout(a).num_joints)
            rows = np.asarray(W.sum(axis=1)).ravel()
            np.testing.assert_allclose(rows[plan.available], 1.0)
            assert (rows[~plan.available] == 0).all()
            assert (W.toarray() >= 0).all()
    assert all(abs(sum(alt.values()) - 1) < 1e-12 for alts in DERIVATIONS.values() for alt in alts)


def test_3d_to_2d_needs_projection():
    m = sf.Motion(
        np.random.default_rng(2).normal(size=(2, 25, 3)), "ntu25", meta={"source": "x.skeleton"}
    )
    with pytest.raises(ConversionError, match="projection") as e:
        sf.convert(m, "coco17")
    assert "x.skeleton" in str(e.value)
    out = sf.convert(m, "openpose25", project="xy")
    lay = out.layout
    # image rows grow downwards: y is flipped for a y-down 2D layout
    np.testing.assert_allclose(
        out.data[:, lay.index("LShoulder")], m.data[:, 4, :2] * np.array([1, -1], np.float32)
    )
    with pytest.raises(ConversionError, match="depth"):
        sf.convert(out, "ntu25")


def test_length_units_converted():
    mm = sf.Layout(
        name="kinect_mm",
        joints=sf.get_layout("kinect_v1_20").joints,
        parents=sf.get_layout("kinect_v1_20").parents,
        units="mm",
        canonical=sf.get_layout("kinect_v1_20").canonical,
    )
    m = sf.Motion(np.full((2, 20, 3), 1000.0), mm)
    out = sf.convert(m, "ntu25")
    np.testing.assert_allclose(out.data[:, out.layout.index("SpineBase")], 1.0)
    back = sf.convert(out, mm)
    np.testing.assert_allclose(back.data, m.data, rtol=1e-6)


def test_multi_person():
    m = sf.Motion(np.random.default_rng(3).normal(size=(2, 5, 25, 3)), "ntu25")
    out = sf.convert(m, "smpl24")
    assert out.data.shape == (2, 5, 24, 3) and out.confidence.shape == (2, 5, 24)
