"""Mutation fuzzing of every reader in the normal test run (seeded, bounded): whatever the bytes,
``skelformats.load`` returns motions or raises a SkelFormatError naming the file, within 256 MB of
allocations (tracemalloc) and 10 s.  The coverage-guided version of the same targets is
``nox -s fuzz`` (packages/skelformats/fuzz)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FUZZ = Path(__file__).resolve().parents[1] / "fuzz"
sys.path.insert(0, str(FUZZ))
from fuzz_readers import _seeds, mutate  # noqa: E402
from harness import MAX_PEAK, MAX_SECONDS, prepare, run  # noqa: E402
from seeds import FORMATS, TARGETS  # noqa: E402

EXAMPLES = 60  # per target: 1,020 inputs in all, about 10 s on 2 cores


@pytest.mark.parametrize("target", list(TARGETS))
def test_mutated_input_never_escapes(tmp_path, target):
    seeds = _seeds(target)  # the committed corpus: valid seeds and known hostile inputs
    path = prepare(target, tmp_path)
    seen = {"accepted": 0, "error": 0}

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(seed=st.sampled_from(seeds), rng=st.randoms(use_true_random=False), detect=st.booleans())
    def check(seed, rng, detect):
        data = mutate(seed, rng)
        o = run(path, data, None if detect else FORMATS[target])
        assert o.kind != "crash", (target, o.detail, data[:200])
        assert o.peak < MAX_PEAK and o.seconds < MAX_SECONDS
        seen[o.kind] += 1

    check()
    assert seen["error"] > 0  # the mutations do reach the readers' error paths
