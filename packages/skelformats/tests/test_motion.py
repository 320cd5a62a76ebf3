import numpy as np
import pytest
import skelformats as sf
from skelformats.errors import EmptySequenceError, JointCountError, ShapeError, SkelFormatWarning


def test_shapes_and_properties():
    m = sf.Motion(np.zeros((7, 25, 3)), "ntu25", fps=30)
    assert m.data.dtype == np.float32 and m.num_frames == 7 and m.num_people == 1 and not m.multi
    mm = sf.Motion(np.zeros((2, 7, 25, 3)), "ntu25", confidence=np.ones((2, 7, 25)))
    assert mm.num_people == 2 and mm.num_frames == 7 and mm.person(1).data.shape == (7, 25, 3)


def test_validation_errors():
    with pytest.raises(JointCountError, match="24 joints"):
        sf.Motion(np.zeros((3, 24, 3)), "ntu25", meta={"source": "clip.bin"})
    with pytest.raises(ShapeError, match="2 coordinates"):
        sf.Motion(np.zeros((3, 25, 2)), "ntu25")
    with pytest.raises(ShapeError, match="confidence shape"):
        sf.Motion(np.zeros((3, 25, 3)), "ntu25", confidence=np.ones((3, 24)))
    with pytest.raises(EmptySequenceError):
        sf.Motion(np.zeros((0, 25, 3)), "ntu25")
    with pytest.raises(ShapeError, match="fps"):
        sf.Motion(np.zeros((3, 25, 3)), "ntu25", fps=0)
    with pytest.raises(ShapeError):
        sf.Motion(np.zeros((25, 3)), "ntu25")


def test_error_names_source_file():
    with pytest.raises(JointCountError) as e:
        sf.Motion(np.zeros((3, 24, 3)), "ntu25", meta={"source": "clip.bin"})
    assert e.value.path == "clip.bin" and "clip.bin" in str(e.value)


def test_nan_and_inf_marked_missing_with_warning():
    d = np.ones((4, 20, 3), np.float32)
    d[1, 3, 0] = np.nan
    d[2, 5, 2] = np.inf
    with pytest.warns(SkelFormatWarning, match="2 joint positions"):
        m = sf.Motion(d, "kinect_v1_20")
    assert m.confidence[1, 3] == 0 and m.confidence[2, 5] == 0
    assert m.confidence.sum() == 4 * 20 - 2
    assert np.isfinite(m.data).all() and (m.data[1, 3] == 0).all()
