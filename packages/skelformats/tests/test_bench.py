import io

from conftest import require
from skelformats.bench import run


def test_bench_runs_and_reference_agrees():
    data = require("NW-UCLA").parent
    require("CMU_mocap")
    buf = io.StringIO()
    res = run(data, "ntu25", repeat=1, limit=2, out=buf)
    assert set(res) == {"NW-UCLA json", "CMU bvh"}
    for r in res.values():
        assert r["files"] == 2 and r["frames"] > 0 and r["lib_fps"] > 0 and r["ref_fps"] > 0
        assert r["max_abs_diff"] < 1e-3  # the per-frame reference computes the same thing
    assert "reference fr/s" in buf.getvalue()
