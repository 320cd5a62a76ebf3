import numpy as np
import skelformats as sf
from hypothesis import given
from skelformats.strategies import layouts, motions


@given(layouts(min_joints=3, max_joints=5, dims=2, tree=False))
def test_layouts_strategy_respects_arguments(lay):
    assert 3 <= lay.num_joints <= 5 and lay.dims == 2 and lay.parents is None


@given(motions("smpl22", people=True, confidence=True, min_frames=2, max_frames=3))
def test_motions_strategy_respects_arguments(m):
    assert m.layout is sf.get_layout("smpl22")
    assert m.multi and 2 <= m.num_frames <= 3 and m.confidence.shape == m.data.shape[:-1]
    assert np.isfinite(m.data).all()
