import io
import json
import warnings

import numpy as np
from conftest import require
from scipy.spatial.transform import Rotation
from skelformats import convert, load
from skelformats.bench import _recipes, reference_bvh, reference_nwucla, run
from skelformats.registry import get_layout

NTU = get_layout("ntu25")


def test_bench_runs_and_reference_agrees():
    data = require("NW-UCLA").parent
    require("CMU_mocap")
    buf = io.StringIO()
    res = run(data, "ntu25", repeat=1, limit=2, out=buf)
    assert set(res) == {"NW-UCLA json", "CMU bvh"}
    for r in res.values():
        assert r["files"] == 2 and r["frames"] > 0
        assert r["max_abs_diff"] < 1e-3  # the per-frame reference computes the same thing
    assert "reference fr/s" in buf.getvalue()


def test_nwucla_joints_computed_by_hand():
    path = sorted((require("NW-UCLA") / "all_sqe").glob("*.json"))[0]
    # Kinect v1 order: 0 HipCenter, 1 Spine, 2 ShoulderCenter, 7 HandLeft, 19 FootRight.
    raw = np.asarray(json.loads(path.read_text())["skeletons"], np.float64)
    want = {
        "SpineBase": raw[:, 0],
        "Neck": raw[:, 2],
        "HandLeft": raw[:, 7],
        "FootRight": raw[:, 19],
        # chest from neck and spine, weights 3/4 and 1/4 (DERIVATIONS' first alternative)
        "SpineShoulder": 0.75 * raw[:, 2] + 0.25 * raw[:, 1],
        "HandTipLeft": np.zeros_like(raw[:, 0]),  # Kinect v1 has no hand tip
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lib = convert(load(path), "ntu25").data
    ref = np.asarray(
        reference_nwucla(path, _recipes(get_layout("kinect_v1_20").canonical, NTU.canonical))
    )
    for name, value in want.items():
        j = NTU.joints.index(name)
        np.testing.assert_allclose(lib[:, j], value, atol=1e-6, err_msg=name)
        np.testing.assert_allclose(ref[:, j], value, atol=1e-12, err_msg=name)


def test_cmu_bvh_joints_computed_by_hand():
    path = require("CMU_mocap") / "bvh" / "01_01.bvh"
    # Hips (6 channels: position, then Z Y X rotation) -> LHipJoint (offset 0) -> LeftUpLeg -> LeftLeg,
    # each child with 3 channels Z Y X; a joint's position does not depend on its own rotation.
    frame = 100
    text = path.read_text().split("Frame Time:")[1]
    vals = np.asarray(text.splitlines()[1 + frame].split(), float)
    root = vals[:3]
    r_hips, r_lhip, r_upleg = (
        Rotation.from_euler("ZYX", vals[k : k + 3], degrees=True).as_matrix() for k in (3, 6, 9)
    )
    hip = root + r_hips @ r_lhip @ np.array([1.36306, -1.79463, 0.83929])
    knee = hip + r_hips @ r_lhip @ r_upleg @ np.array([2.44811, -6.72613, 0.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lib = convert(load(path), "ntu25").data[frame]
    ref = np.asarray(reference_bvh(path, NTU)[frame])
    for got in (lib, ref):
        np.testing.assert_allclose(got[NTU.joints.index("SpineBase")], root, atol=1e-4)
        np.testing.assert_allclose(got[NTU.joints.index("HipLeft")], hip, atol=1e-4)
        np.testing.assert_allclose(got[NTU.joints.index("KneeLeft")], knee, atol=1e-4)
    assert not np.allclose(r_hips @ r_lhip @ r_upleg, np.eye(3), atol=0.05)  # the frame is rotated
