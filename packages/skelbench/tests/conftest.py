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


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    # As `skelbench run` does by default: tiny models on shared cores are fastest single-threaded.
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
