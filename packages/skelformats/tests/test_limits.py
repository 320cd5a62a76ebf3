"""skelformats.limits: defaults, overrides scoped to a block and to a thread, validation."""

import threading

import pytest
import skelformats as sf
from skelformats.limits import DEFAULT, Limits, get_limits, use_limits


def test_use_limits_overrides_inside_the_block_only():
    before = get_limits()
    with use_limits(max_frames=10, max_bodies=2) as lim:
        assert get_limits() is lim
        assert (lim.max_frames, lim.max_bodies) == (10, 2)
        assert lim.max_bytes == before.max_bytes
    assert get_limits() == before
    assert sf.use_limits is use_limits and sf.limits.get_limits is get_limits


def test_limits_are_per_thread():
    seen = {}
    inside, release = threading.Event(), threading.Event()

    def other():
        inside.wait(5)
        seen["other"] = get_limits().max_frames
        release.set()

    t = threading.Thread(target=other)
    t.start()
    with use_limits(max_frames=7):
        inside.set()
        release.wait(5)
        seen["here"] = get_limits().max_frames
    t.join()
    assert seen == {"here": 7, "other": DEFAULT.max_frames}


@pytest.mark.parametrize(
    "bad", [{"max_frames": 0}, {"max_bytes": -1}, {"max_bodies": 1.5}, {"max_abs_coordinate": 0}]
)
def test_invalid_limits_are_refused(bad):
    with pytest.raises(ValueError):
        Limits(**bad)
    with pytest.raises(TypeError):
        with use_limits(max_frame=3):
            pass


def test_coordinate_bound_follows_units_unless_set():
    assert Limits().abs_coordinate_bound("m") < Limits().abs_coordinate_bound("mm")
    assert Limits(max_abs_coordinate=5.0).abs_coordinate_bound("px") == 5.0
