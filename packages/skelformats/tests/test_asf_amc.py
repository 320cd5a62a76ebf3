import re

import numpy as np
import pytest
import skelformats as sf
from skelformats.errors import (
    CorruptDataError,
    EmptySequenceError,
    TruncatedFileError,
    UnknownFormatError,
)
from skelformats.formats.asf_amc import parse_asf


def _amc_files(cmu_dir):
    return sorted((cmu_dir / "asf_amc").glob("*/*.amc"))


def test_all_amc_trials(cmu_dir):
    files = _amc_files(cmu_dir)
    assert len(files) == 16
    assert sorted({f.parent.name for f in files}) == ["01", "02", "03", "11"]
    for f in files:
        # frame count from the file itself: lines holding only a frame number
        frames = sum(1 for line in f.read_text().splitlines() if re.fullmatch(r"\s*\d+\s*", line))
        m = sf.load(f)
        assert m.layout is sf.get_layout("cmu31")
        assert m.num_frames == frames and m.fps == 120.0
        assert np.isfinite(m.data).all()
        # a standing adult: the head top is 1.4-2.1 m above the lower ankle in the first frame
        lay = m.layout
        height = (
            m.data[0, lay.index("head"), 1]
            - m.data[0, [lay.index("ltibia"), lay.index("rtibia")], 1].min()
        )
        assert 1.2 < height < 2.1, (f.name, height)


def test_bone_lengths_match_asf(cmu_dir):
    asf = cmu_dir / "asf_amc" / "02" / "02.asf"
    skel = parse_asf(asf)
    m = sf.load(cmu_dir / "asf_amc" / "02" / "02_01.amc")
    lay = m.layout
    for j, p in enumerate(lay.parents):
        if p < 0:
            continue
        bone = skel.bones[lay.joints[j]]
        d = np.linalg.norm(m.data[:, j] - m.data[:, p], axis=-1)
        np.testing.assert_allclose(d, bone.length * skel.metres_per_unit, rtol=1e-4, atol=1e-5)


def test_asf_amc_agrees_with_cmu_bvh_conversion(cmu_dir):
    """01_01 exists as AMC and as the 31-joint BVH made from it: legs and spine must coincide
    (the BVH starts with one extra frame and, lacking the thorax bone, hangs the arms and neck
    one thorax length lower -- a constant rigid offset)."""
    a = sf.load(cmu_dir / "asf_amc" / "01" / "01_01.amc")
    b = sf.load(cmu_dir / "bvh" / "01_01.bvh")
    u = a.meta["metres_per_unit"]
    bd = b.data[1 : 1 + a.num_frames].astype(np.float64) * u
    # BVH joints sit at the start of a bone = the ASF parent bone's end
    for bvh_joint, asf_bone in [
        ("Hips", "root"),
        ("LeftUpLeg", "lhipjoint"),
        ("LeftLeg", "lfemur"),
        ("RightFoot", "rtibia"),
        ("RightToeBase", "rfoot"),
        ("Spine", "lowerback"),
        ("Spine1", "upperback"),
    ]:
        err = np.linalg.norm(
            bd[:, b.layout.index(bvh_joint)] - a.data[:, a.layout.index(asf_bone)], axis=-1
        )
        assert err.max() < 1e-3, (bvh_joint, err.max())
    thorax = parse_asf(cmu_dir / "asf_amc" / "01" / "01.asf").bones["thorax"].length * u
    err = np.linalg.norm(
        bd[:, b.layout.index("LeftForeArm")] - a.data[:, a.layout.index("lhumerus")], axis=-1
    )
    np.testing.assert_allclose(err, thorax, atol=1e-3)


def test_asf_alone_gives_rest_pose(cmu_dir):
    m = sf.load(cmu_dir / "asf_amc" / "01" / "01.asf")
    assert m.num_frames == 1 and m.meta["rest_pose"]


# ------------------------------------------------------------------------------------------- bad input
def _copy_asf(cmu_dir, tmp_path):
    src = cmu_dir / "asf_amc" / "01" / "01.asf"
    (tmp_path / "01.asf").write_text(src.read_text())
    return (cmu_dir / "asf_amc" / "01" / "01_01.amc").read_text()


def test_truncated_amc(cmu_dir, tmp_path):
    text = _copy_asf(cmu_dir, tmp_path)
    lines = text.splitlines()
    p = tmp_path / "01_99.amc"
    p.write_text("\n".join(lines[:200]) + "\n")  # cut inside a frame
    with pytest.raises(TruncatedFileError, match="01_99.amc"):
        sf.load(p)


def test_junk_amc(cmu_dir, tmp_path):
    text = _copy_asf(cmu_dir, tmp_path).replace("lowerback 2.30193", "lowerback 2.3x0193", 1)
    p = tmp_path / "01_98.amc"
    p.write_text(text[:20000])
    with pytest.raises(CorruptDataError, match="01_98.amc"):
        sf.load(p)


def test_empty_amc(cmu_dir, tmp_path):
    _copy_asf(cmu_dir, tmp_path)
    p = tmp_path / "01_97.amc"
    p.write_text(":FULLY-SPECIFIED\n:DEGREES\n")
    with pytest.raises(EmptySequenceError, match="01_97.amc"):
        sf.load(p)


def test_amc_without_skeleton(tmp_path):
    p = tmp_path / "05_01.amc"
    p.write_text(":FULLY-SPECIFIED\n:DEGREES\n1\nroot 0 0 0 0 0 0\n")
    with pytest.raises(UnknownFormatError, match="05_01.amc.*asf"):
        sf.load(p)


def test_truncated_asf(cmu_dir, tmp_path):
    text = (cmu_dir / "asf_amc" / "01" / "01.asf").read_text()
    p = tmp_path / "cut.asf"
    p.write_text(text[: text.index(":hierarchy")])
    with pytest.raises(TruncatedFileError, match="cut.asf"):
        sf.load(p)
