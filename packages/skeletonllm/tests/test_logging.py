"""Rank-aware logging: rank 0 only unless asked, every rank tagged; --verbose / --quiet set the level."""

import io
import logging

import pytest
import skeletonllm.logging_utils as lu
from helpers import tiny_model
from skeletonllm.cli import main
from skeletonllm.logging_utils import get_logger, setup_logging


@pytest.fixture
def stream():
    s = io.StringIO()
    yield s
    setup_logging()  # back to the default level and stderr


def test_rank_before_and_after_accelerate_sets_up(monkeypatch):
    from accelerate.state import PartialState

    monkeypatch.setattr(PartialState, "_shared_state", {})  # nothing launched yet: the launcher's
    monkeypatch.setenv("RANK", "3")
    assert lu.process_rank() == 3
    monkeypatch.setenv("RANK", "0")
    PartialState()  # a single process, as an Accelerator sets up
    monkeypatch.setenv("RANK", "5")  # accelerate's answer wins once it exists
    assert lu.process_rank() == 0


def test_main_process_only_by_default(stream, monkeypatch):
    setup_logging(verbose=1, stream=stream)
    log = get_logger("skeletonllm.test")
    monkeypatch.setattr(lu, "process_rank", lambda: 1)
    log.info("from every rank?")
    log.info("tagged", main_process_only=False)
    monkeypatch.setattr(lu, "process_rank", lambda: 0)
    log.info("rank zero")
    assert stream.getvalue().splitlines() == [
        "skeletonllm.test: INFO: [rank 1] tagged",
        "skeletonllm.test: INFO: rank zero",
    ]


@pytest.mark.parametrize(
    "verbose, quiet, shown",
    [
        (0, False, {"WARNING", "ERROR"}),
        (1, False, {"INFO", "WARNING", "ERROR"}),
        (0, True, {"ERROR"}),
    ],
)
def test_levels(stream, verbose, quiet, shown):
    setup_logging(verbose, quiet, stream=stream)
    log = get_logger("skelbench.test")
    for level in ("DEBUG", "INFO", "WARNING", "ERROR"):
        log.log(getattr(logging, level), level)
    assert (
        set(stream.getvalue().split()) - {"skelbench.test:", "INFO:", "WARNING:", "ERROR:"} == shown
    )


def test_cli_verbose_reports_the_device(tmp_path, capsys):
    import skelformats
    from skelformats import synth

    ck = tmp_path / "ck"
    tiny_model(renderer={"frames": 4, "size": [28, 28]}).save_pretrained(ck)
    f = tmp_path / "m.npz"
    skelformats.save(synth.generate("wave", layout="ntu25", seed=0), f)
    argv = ["predict", "--model", str(ck), str(f), "--device", "cpu", "--max-new-tokens", "2"]
    try:
        assert main([*argv, "--verbose"]) == 0
        assert (
            "skeletonllm.cli: INFO: device cpu, backbone dtype as saved" in capsys.readouterr().err
        )
        assert main([*argv, "--quiet"]) == 0
        assert "INFO" not in capsys.readouterr().err
    finally:
        setup_logging()
