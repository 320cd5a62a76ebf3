"""Fixtures: an output folder for images a person can look at, and the fast-path backends."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def output_dir() -> Path:
    """Folder for images written by the tests (gitignored): $DRRENDER_TEST_OUTPUT or <package>/test-output."""
    path = Path(
        os.environ.get("DRRENDER_TEST_OUTPUT", Path(__file__).resolve().parents[1] / "test-output")
    )
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def cpp_backend() -> str:
    """Builds the C++ kernel once per session; skips when no compiler is available."""
    import drrender
    from drrender import _cpp

    if not drrender.cpp_available():
        pytest.skip(f"C++ kernel unavailable: {_cpp.error()}")
    return "cpp"


@pytest.fixture(params=["torch", "cpp"])
def backend(request) -> str:
    """Every fast-path backend; ``cpp`` is skipped when the kernel cannot be built here."""
    if request.param == "cpp":
        return request.getfixturevalue("cpp_backend")
    return request.param
