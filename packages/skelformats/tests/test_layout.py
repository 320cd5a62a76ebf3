import numpy as np
import pytest
import skelformats as sf
from hypothesis import given
from hypothesis import strategies as st
from skelformats.canonical import CANONICAL_JOINTS, PART_NAMES, mirror_name, part_of, side_of
from skelformats.errors import LayoutError, UnknownJointError, UnknownLayoutError
from skelformats.strategies import layouts

BUILTIN = [
    "ntu25",
    "kinect_v1_20",
    "msr20",
    "openni15",
    "penn13",
    "coco17",
    "openpose18",
    "openpose25",
    "mediapipe33",
    "smpl22",
    "smpl24",
    "h36m17",
    "cmu31",
]


def test_builtin_layouts_registered():
    assert set(BUILTIN) <= set(sf.list_layouts())


@pytest.mark.parametrize("name", BUILTIN)
def test_builtin_layout_consistent(name):
    lay = sf.get_layout(name)
    assert lay.edges.dtype == np.int64 and lay.edges.shape[1] == 2
    assert lay.edges.min() >= 0 and lay.edges.max() < lay.num_joints
    # every joint is connected to the skeleton
    touched = set(lay.edges.ravel().tolist())
    assert touched == set(range(lay.num_joints))
    # flip pairs really pair left with right
    for a, b in lay.flip_pairs:
        ca, cb = lay.canonical[a], lay.canonical[b]
        if ca is not None:
            assert mirror_name(ca) == cb and side_of(ca) != side_of(cb)
    perm = lay.flip_permutation()
    assert (perm[perm] == np.arange(lay.num_joints)).all()
    tags = sf.part_tags(lay)
    assert tags.dtype == np.int64 and tags.shape == (lay.num_joints,)
    assert tags.max() < len(PART_NAMES)


def test_joint_counts_and_orders():
    counts = {
        "ntu25": 25,
        "kinect_v1_20": 20,
        "msr20": 20,
        "openni15": 15,
        "penn13": 13,
        "coco17": 17,
        "openpose18": 18,
        "openpose25": 25,
        "mediapipe33": 33,
        "smpl22": 22,
        "smpl24": 24,
        "h36m17": 17,
        "cmu31": 31,
    }
    for name, n in counts.items():
        assert sf.get_layout(name).num_joints == n
    # spot checks against the datasets' documentation
    assert sf.get_layout("ntu25").joints[20] == "SpineShoulder"
    assert sf.get_layout("kinect_v1_20").canonical[2] == "neck"
    msr = sf.get_layout("msr20")
    assert (
        msr.canonical[6] == "pelvis"
        and msr.canonical[19] == "head"
        and msr.canonical[10] == "right_wrist"
    )
    assert sf.get_layout("openpose25").joints[8] == "MidHip"
    assert sf.get_layout("coco17").joints[0] == "nose"
    assert sf.get_layout("penn13").dims == 2


def test_part_tags_semantics():
    lay = sf.get_layout("ntu25")
    tags = sf.part_tags(lay)
    assert PART_NAMES[tags[lay.index("HandLeft")]] == "left_arm"
    assert PART_NAMES[tags[lay.index("KneeRight")]] == "right_leg"
    assert PART_NAMES[tags[lay.index("Head")]] == "head"
    assert PART_NAMES[tags[lay.index("SpineBase")]] == "torso"
    # non-canonical joints inherit their ancestor's part in a tree
    cmu = sf.get_layout("cmu31")
    assert PART_NAMES[sf.part_tags(cmu)[cmu.index("ltoes")]] == "left_leg"
    assert part_of(None) == "other"


def test_index_and_lookup_errors():
    lay = sf.get_layout("ntu25")
    assert lay.index("Head") == 3
    assert lay.index("head") == 3  # canonical name works too
    with pytest.raises(UnknownJointError, match="nope"):
        lay.index("nope")
    with pytest.raises(UnknownLayoutError, match="no_such_layout"):
        sf.get_layout("no_such_layout")
    with pytest.raises(KeyError):  # the specific error is also a KeyError for dict-like callers
        sf.get_layout("no_such_layout")


@given(layouts())
def test_random_layouts_valid(lay):
    assert lay.num_joints == len(lay.joints)
    if lay.parents is not None:
        assert len(lay.edges) == sum(p >= 0 for p in lay.parents)
    assert sf.Layout.from_dict(lay.to_dict()) == lay
    assert hash(sf.Layout.from_dict(lay.to_dict())) == hash(lay)


@given(layouts(min_joints=2, tree=True), st.data())
def test_cycles_rejected(lay, data):
    # re-parent a joint onto one of its own descendants (or itself): a cycle
    parents = list(lay.parents)
    j = data.draw(st.integers(0, lay.num_joints - 1))
    desc = [j]
    changed = True
    while changed:
        changed = False
        for k, p in enumerate(parents):
            if p in desc and k not in desc:
                desc.append(k)
                changed = True
    target = data.draw(st.sampled_from(desc))
    parents[j] = target
    with pytest.raises(LayoutError, match="cycle|own parent"):
        sf.Layout(name="bad", joints=lay.joints, parents=tuple(parents))


@given(layouts(min_joints=2), st.data())
def test_duplicates_rejected(lay, data):
    names = list(lay.joints)
    i, j = data.draw(st.lists(st.integers(0, len(names) - 1), min_size=2, max_size=2, unique=True))
    names[j] = names[i]
    with pytest.raises(LayoutError, match="duplicate"):
        sf.Layout(
            name="bad",
            joints=tuple(names),
            parents=lay.parents,
            edges=None if lay.parents else lay.edges,
        )


@given(layouts(tree=True), st.data())
def test_parent_out_of_range_rejected(lay, data):
    parents = list(lay.parents)
    j = data.draw(st.integers(0, lay.num_joints - 1))
    parents[j] = data.draw(
        st.one_of(st.integers(lay.num_joints, lay.num_joints + 5), st.integers(-10, -2))
    )
    with pytest.raises(LayoutError, match="out of range"):
        sf.Layout(name="bad", joints=lay.joints, parents=tuple(parents))


def test_other_invalid_layouts():
    with pytest.raises(LayoutError, match="dims"):
        sf.Layout(name="x", joints=("a",), parents=(-1,), dims=4)
    with pytest.raises(LayoutError, match="not a canonical"):
        sf.Layout(name="x", joints=("a",), parents=(-1,), canonical=("elbow_of_doom",))
    with pytest.raises(LayoutError, match="canonical name"):
        sf.Layout(name="x", joints=("a", "b"), parents=(-1, 0), canonical=("head", "head"))
    with pytest.raises(LayoutError, match="parents"):
        sf.Layout(name="x", joints=("a", "b"), parents=(-1,))
    with pytest.raises(LayoutError, match="duplicate edge"):
        sf.Layout(name="x", joints=("a", "b"), edges=((0, 1), (1, 0)))
    with pytest.raises(LayoutError, match="itself"):
        sf.Layout(name="x", joints=("a", "b"), edges=((0, 0),))
    with pytest.raises(LayoutError, match="no joints"):
        sf.Layout(name="x", joints=(), parents=())


def test_register_layout_conflicts():
    lay = sf.Layout(name="test_reg_tiny", joints=("pelvis", "head"), parents=(-1, 0))
    assert sf.register_layout(lay) is lay
    assert (
        sf.register_layout(
            sf.Layout(name="test_reg_tiny", joints=("pelvis", "head"), parents=(-1, 0))
        )
        is lay
    )
    with pytest.raises(sf.SkelFormatError, match="already registered"):
        sf.register_layout(
            sf.Layout(name="test_reg_tiny", joints=("pelvis", "neck"), parents=(-1, 0))
        )
    assert sf.get_layout("test_reg_tiny") is lay


def test_canonical_vocabulary():
    assert len(CANONICAL_JOINTS) == len(set(CANONICAL_JOINTS))
    assert "left_hand_tip" in CANONICAL_JOINTS and "right_small_toe" in CANONICAL_JOINTS
    assert PART_NAMES == (
        "torso",
        "head",
        "left_arm",
        "right_arm",
        "left_leg",
        "right_leg",
        "other",
    )
