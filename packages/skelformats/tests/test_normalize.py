import numpy as np
import skelformats as sf
from hypothesis import given
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation
from skelformats.normalize import body_size, facing_angle
from skelformats.strategies import motions

NAMES = ["ntu25", "kinect_v1_20", "smpl22", "coco17", "cmu31", "openni15"]


@given(
    st.sampled_from(NAMES).flatmap(lambda n: motions(n, max_abs=5.0, people=None)),
    st.sampled_from(["first", "frame", None]),
    st.booleans(),
)
def test_normalize_idempotent(m, center, face):
    face = face and m.layout.dims == 3
    once = sf.normalize(m, center=center, face=face)
    twice = sf.normalize(once, center=center, face=face)
    np.testing.assert_allclose(twice.data, once.data, atol=2e-4, rtol=1e-4)
    assert np.array_equal(twice.mask, m.mask)


def test_normalize_centres_scales_and_faces():
    rng = np.random.default_rng(0)
    lay = sf.get_layout("kinect_v1_20")
    base = rng.normal(scale=0.1, size=(6, 20, 3))
    base[:, lay.index("HipLeft")] = [0.1, 0, 0]
    base[:, lay.index("HipRight")] = [-0.1, 0, 0]
    base[:, lay.index("HipCenter")] = 0
    base[:, lay.index("ShoulderCenter")] = [0, 0.5, 0]
    R = Rotation.from_euler("y", 70, degrees=True).as_matrix()
    moved = 3.0 * base @ R.T + np.array([1.0, 2.0, 3.0])
    m = sf.Motion(moved, lay)
    n = sf.normalize(m, face=True)
    np.testing.assert_allclose(n.data[0, lay.index("HipCenter")], 0, atol=1e-6)
    assert abs(body_size(n) - 1) < 1e-5
    np.testing.assert_allclose(n.data, base / 0.5, atol=1e-5)
    assert abs(facing_angle(n)) < 1e-6
    assert n.meta["normalization"]["scale"] > 1.4


def test_missing_joints_stay_zero():
    rng = np.random.default_rng(1)
    conf = np.ones((4, 25), np.float32)
    conf[:, 3] = 0
    m = sf.Motion(rng.normal(size=(4, 25, 3)), "ntu25", confidence=conf)
    n = sf.normalize(m, center="frame")
    assert (n.data[:, 3] == 0).all() and (n.confidence[:, 3] == 0).all()
