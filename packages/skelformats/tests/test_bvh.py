import re

import numpy as np
import pytest
import skelformats as sf
from hypothesis import given
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation
from skelformats.errors import CorruptDataError, EmptySequenceError, TruncatedFileError
from skelformats.formats.bvh import read_bvh
from skelformats.strategies import layouts, motions

ROT_ORDERS = ["ZXY", "ZYX", "XYZ", "XZY", "YXZ", "YZX"]


@st.composite
def bvh_cases(draw):
    """A random hierarchy (channel orders, offsets, position channels) and random frames."""
    n = draw(st.integers(1, 7))
    parents = [-1] + [draw(st.integers(0, j - 1)) for j in range(1, n)]
    offsets = draw(
        st.lists(st.lists(st.floats(-5, 5), min_size=3, max_size=3), min_size=n, max_size=n)
    )
    orders = draw(st.lists(st.sampled_from(ROT_ORDERS), min_size=n, max_size=n))
    has_pos = [True] + draw(st.lists(st.booleans(), min_size=n - 1, max_size=n - 1))
    T = draw(st.integers(1, 4))
    ang = np.array(
        draw(st.lists(st.floats(-180, 180), min_size=T * n * 3, max_size=T * n * 3))
    ).reshape(T, n, 3)
    pos = np.array(
        draw(st.lists(st.floats(-10, 10), min_size=T * n * 3, max_size=T * n * 3))
    ).reshape(T, n, 3)
    return parents, np.array(offsets), orders, has_pos, ang, pos


def _write(parents, offsets, orders, has_pos, ang, pos, fps=30.0):
    n = len(parents)
    children = [[k for k in range(n) if parents[k] == j] for j in range(n)]
    lines, order = ["HIERARCHY"], []

    def emit(j, d):
        ind = "  " * d
        lines.append(f"{ind}{'ROOT' if parents[j] < 0 else 'JOINT'} j{j}")
        lines.append(ind + "{")
        lines.append(f"{ind}  OFFSET {' '.join(repr(float(v)) for v in offsets[j])}")
        ch = (["Xposition", "Yposition", "Zposition"] if has_pos[j] else []) + [
            f"{a}rotation" for a in orders[j]
        ]
        lines.append(f"{ind}  CHANNELS {len(ch)} {' '.join(ch)}")
        order.append(j)
        for k in children[j]:
            emit(k, d + 1)
        if not children[j]:
            lines.extend([f"{ind}  End Site", ind + "  {", f"{ind}    OFFSET 0 0 1", ind + "  }"])
        lines.append(ind + "}")

    emit(0, 0)
    T = ang.shape[0]
    lines += ["MOTION", f"Frames: {T}", f"Frame Time: {1 / fps!r}"]
    for t in range(T):
        row = []
        for j in order:
            if has_pos[j]:
                row += [repr(float(v)) for v in pos[t, j]]
            row += [repr(float(v)) for v in ang[t, j]]
        lines.append(" ".join(row))
    return "\n".join(lines) + "\n", order


@given(bvh_cases())
def test_fk_matches_scipy(tmp_path_factory, case):
    parents, offsets, orders, has_pos, ang, pos = case
    text, order = _write(*case)
    path = tmp_path_factory.mktemp("bvh") / "r.bvh"
    path.write_text(text)
    m = sf.load(path)
    # independent FK: intrinsic rotations in the declared channel order (scipy upper-case = intrinsic)
    T, n = ang.shape[:2]
    expect = np.zeros((T, n, 3))
    for t in range(T):
        glob_R, glob_p = {}, {}
        for j in order:
            local = Rotation.from_euler(orders[j], ang[t, j], degrees=True)
            trans = offsets[j] + (pos[t, j] if has_pos[j] else 0)
            if parents[j] < 0:
                glob_R[j], glob_p[j] = local, trans
            else:
                p = parents[j]
                glob_R[j] = glob_R[p] * local
                glob_p[j] = glob_p[p] + glob_R[p].apply(trans)
            expect[t, j] = glob_p[j]
    got = m.data[:, [m.layout.joints.index(f"j{j}") for j in range(n)]]
    np.testing.assert_allclose(got, expect, atol=1e-3, rtol=1e-5)
    assert m.layout.parents == tuple(
        -1 if parents[int(nm[1:])] < 0 else m.layout.joints.index(f"j{parents[int(nm[1:])]}")
        for nm in m.layout.joints
    )


@given(bvh_cases())
def test_bvh_export_roundtrip(tmp_path_factory, case):
    # rigid FK motion (translation on the root only) -> positions -> BVH export (IK) -> FK: same positions
    parents, offsets, orders, has_pos, ang, pos = case
    text, _ = _write(parents, offsets, orders, [True] + [False] * (len(parents) - 1), ang, pos)
    d = tmp_path_factory.mktemp("bvh")
    (d / "a.bvh").write_text(text)
    m = read_bvh(d / "a.bvh")
    sf.save(m, d / "b.bvh")
    back = sf.load(d / "b.bvh")
    assert back.layout.joints == m.layout.joints and back.layout.parents == m.layout.parents
    assert back.num_frames == m.num_frames and abs(back.fps - m.fps) < 1e-3
    np.testing.assert_allclose(back.data, m.data, atol=2e-3)


@given(motions(layouts(dims=3, tree=True, max_joints=8), max_abs=10.0, confidence=False))
def test_bvh_position_channels_exact_for_any_data(tmp_path_factory, m):
    lay = m.layout
    p = tmp_path_factory.mktemp("bvh") / "p.bvh"
    sf.save(m, p, channels="positions")
    back = sf.load(p)
    # BVH stores joints depth-first: compare by name
    idx = [back.layout.joints.index(n) for n in lay.joints]
    assert sorted(back.layout.joints) == sorted(lay.joints)
    assert all(
        back.layout.parents[idx[j]] == (-1 if p < 0 else idx[p]) for j, p in enumerate(lay.parents)
    )
    np.testing.assert_allclose(back.data[:, idx], m.data, atol=1e-4)


def test_end_sites_optional(tmp_path):
    case = (
        [-1, 0],
        np.array([[0, 0, 0], [0, 1, 0]]),
        ["ZXY", "ZXY"],
        [True, False],
        np.zeros((2, 2, 3)),
        np.zeros((2, 2, 3)),
    )
    text, _ = _write(*case)
    (tmp_path / "e.bvh").write_text(text)
    assert read_bvh(tmp_path / "e.bvh").num_joints == 2
    m = read_bvh(tmp_path / "e.bvh", end_sites=True)
    assert m.layout.joints == ("j0", "j1", "j1_end")
    np.testing.assert_allclose(m.data[0, 2], [0, 1, 1])


# ------------------------------------------------------------------------------------------ real data
def _cmu_bvh_files(cmu_dir):
    files = sorted((cmu_dir / "bvh").glob("*.bvh"))
    assert files, "no BVH files"
    return files


def test_cmu_bvh_all_files(cmu_dir):
    files = _cmu_bvh_files(cmu_dir)
    assert len(files) == 59
    hierarchies = {}
    for f in files:
        text = f.read_text()
        frames = int(re.search(r"Frames:\s*(\d+)", text).group(1))
        n_joints = len(re.findall(r"^\s*(?:ROOT|JOINT)\s", text, flags=re.M))
        m = sf.load(f)
        assert m.num_frames == frames and m.num_joints == n_joints
        assert np.isfinite(m.data).all()
        hierarchies.setdefault(m.layout.num_joints, []).append(f.stem)
    assert {k: len(v) for k, v in hierarchies.items()} == {43: 56, 31: 3}
    assert sorted(hierarchies[31]) == ["01_01", "16_01", "16_02"]


def test_cmu_bvh_anatomy(cmu_dir):
    # front/back is independent of the left/right labels that `face` uses: after turning the body's
    # left onto +x, toes and eyes must be in front (+z) of ankles and head -- i.e. the left/right
    # labels, the y-up axis and the handedness of the FK all agree
    for stem, front, back in (("01_01", "left_foot", "left_ankle"), ("02_01", "left_eye", "head")):
        m = sf.load(cmu_dir / "bvh" / f"{stem}.bvh")
        lay = m.layout
        n = sf.normalize(m, center="frame", scale=None)
        assert (
            np.mean(n.data[:, lay.index("head"), 1] > n.data[:, lay.index("left_ankle"), 1]) > 0.95
        )
        f = sf.normalize(m, face=True, scale=None)
        assert f.data[1, lay.index(front), 2] > f.data[1, lay.index(back), 2]


def test_cmu_bvh_roundtrip_export(cmu_dir, tmp_path):
    m = sf.load(cmu_dir / "bvh" / "01_01.bvh")
    m = m.replace(data=m.data[:200])
    sf.save(m, tmp_path / "o.bvh")
    back = sf.load(tmp_path / "o.bvh")
    scale = np.abs(m.data).max()
    np.testing.assert_allclose(back.data, m.data, atol=1e-4 * scale)


# -------------------------------------------------------------------------------------------- bad input
GOOD = """HIERARCHY
ROOT a
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
  JOINT b
  {
    OFFSET 0 1 0
    CHANNELS 3 Zrotation Xrotation Yrotation
    End Site
    {
      OFFSET 0 1 0
    }
  }
}
MOTION
Frames: 2
Frame Time: 0.1
0 0 0 0 0 0 0 0 0
1 0 0 0 90 0 0 0 0
"""


def _bad(tmp_path, text, name="bad.bvh"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_good_fixture_loads(tmp_path):
    m = sf.load(_bad(tmp_path, GOOD, "good.bvh"))
    np.testing.assert_allclose(m.data[1, 1], [1, 0, 1], atol=1e-6)  # 90 deg about x takes +y to +z


@pytest.mark.parametrize(
    "mutate,err,match",
    [
        (lambda s: s[: s.rindex("\n1 0 0")], TruncatedFileError, "declares 2 frames"),
        (
            lambda s: (
                s.replace("Frames: 2", "Frames: 0").rsplit("MOTION", 1)[0]
                + "MOTION\nFrames: 0\nFrame Time: 0.1\n"
            ),
            EmptySequenceError,
            "no frames",
        ),
        (
            lambda s: s.replace("0 0 0 0 0 0 0 0 0", "0 0 0 0 2.1e9x 0 0 0 0"),
            CorruptDataError,
            "non-numeric",
        ),
        (lambda s: s.split("MOTION")[0], TruncatedFileError, "no MOTION"),
        (
            lambda s: s.replace("    }\n  }\n}\nMOTION", "    }\n  }\nMOTION"),
            TruncatedFileError,
            "missing '}'",
        ),
        (
            lambda s: s.replace("CHANNELS 3 Zrotation", "CHANNELS 3 Wrotation"),
            CorruptDataError,
            "bad CHANNELS",
        ),
        (lambda s: s + "0 0 0\n", CorruptDataError, "beyond"),
    ],
)
def test_bad_bvh(tmp_path, mutate, err, match):
    p = _bad(tmp_path, mutate(GOOD))
    with pytest.raises(err, match=match) as e:
        sf.load(p)
    assert "bad.bvh" in str(e.value) and e.value.path == str(p)


def test_bvh_nan_values_marked_missing(tmp_path):
    p = _bad(tmp_path, GOOD.replace("1 0 0 0 90 0 0 0 0", "1 0 0 nan 90 0 0 0 0"))
    with pytest.warns(sf.SkelFormatWarning, match="NaN"):
        m = sf.load(p)
    assert m.confidence[1, 1] == 0 and m.confidence[1, 0] == 1 and m.confidence[0].all()


def test_bvh_export_any_joint_order(tmp_path):
    # ntu25 lists Neck (parent SpineShoulder) before its parent: export must still work
    rng = np.random.default_rng(0)
    m = sf.Motion(rng.normal(size=(3, 25, 3)), "ntu25")
    sf.save(m, tmp_path / "n.bvh", channels="positions")
    back = sf.load(tmp_path / "n.bvh")
    # the hierarchy is ntu25's: the file loads back as ntu25, joints in ntu25 order
    assert back.layout is sf.get_layout("ntu25")
    np.testing.assert_allclose(back.data, m.data, atol=1e-5)


def test_bvh_export_places_missing_joints_on_parent(tmp_path):
    m = sf.convert(
        sf.Motion(np.random.default_rng(1).normal(size=(3, 20, 3)), "kinect_v1_20"), "ntu25"
    )
    with pytest.warns(sf.SkelFormatWarning, match="parent's position"):
        sf.save(m, tmp_path / "m.bvh")
    back = sf.load(tmp_path / "m.bvh")
    lay = back.layout
    for name, parent in (("HandTipLeft", "HandLeft"), ("ThumbRight", "WristRight")):
        np.testing.assert_allclose(
            back.data[:, lay.index(name)], back.data[:, lay.index(parent)], atol=1e-4
        )


def test_bvh_export_rejects_graphs(tmp_path):
    m = sf.Motion(np.zeros((2, 17, 2)), "coco17")
    with pytest.raises(sf.ShapeError, match="out.bvh"):
        sf.save(m, tmp_path / "out.bvh")
