import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

REPO_ROOT = Path(__file__).resolve().parents[3]

settings.register_profile(
    "skelformats",
    max_examples=int(os.environ.get("SKELFORMATS_HYPOTHESIS_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("skelformats")


def data_dir() -> Path:
    return Path(os.environ.get("SKEL_DATA_DIR", REPO_ROOT.parent / "shared" / "data"))


def require(sub: str) -> Path:
    d = data_dir() / sub
    if not d.exists():
        pytest.skip(f"real data not available: {d} is absent (set SKEL_DATA_DIR)")
    return d


@pytest.fixture
def cmu_dir() -> Path:
    return require("CMU_mocap")


@pytest.fixture
def nwucla_dir() -> Path:
    return require("NW-UCLA")
