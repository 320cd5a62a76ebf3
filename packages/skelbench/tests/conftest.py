import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


def data_dir() -> Path:
    return Path(os.environ.get("SKEL_DATA_DIR", REPO / ".." / "shared" / "data"))


@pytest.fixture(scope="session")
def real_data() -> Path:
    d = data_dir()
    if not d.is_dir():
        pytest.skip(f"real datasets not found at {d} (set SKEL_DATA_DIR)")
    return d
