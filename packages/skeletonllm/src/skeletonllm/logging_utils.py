"""Rank-aware ``logging`` for skeletonllm and skelbench.

:func:`get_logger` returns a logger that, like accelerate's ``get_logger``, writes on the main process
only unless a call passes ``main_process_only=False`` (then every rank writes, tagged with its rank).
The rank comes from accelerate's ``PartialState`` once something (an ``Accelerator``) has set it up, and
from the launcher's ``RANK`` variable before that, so logging never initialises a process group itself.
:func:`setup_logging` is what ``--verbose`` / ``--quiet`` set: warnings by default, info with
``--verbose``, errors only with ``--quiet`` (transformers follows the same level).
"""

from __future__ import annotations

import logging
import os
import sys

ROOTS = ("skeletonllm", "skelbench")


def process_rank() -> int:
    """This process's global rank (0 when not launched distributed)."""
    try:
        from accelerate.state import PartialState

        if PartialState._shared_state:
            return int(PartialState().process_index)
    except ImportError:  # accelerate is a dependency; kept safe for partial installs
        pass
    return int(os.environ.get("RANK", "0") or 0)


class RankAwareLogger(logging.LoggerAdapter):
    """``logger.info(msg)`` on rank 0 only; ``main_process_only=False`` logs on every rank."""

    def log(self, level, msg, *args, main_process_only: bool = True, **kwargs):
        if not self.isEnabledFor(level):
            return
        rank = process_rank()
        if main_process_only and rank != 0:
            return
        if not main_process_only:
            msg = f"[rank {rank}] {msg}"
        self.logger.log(level, msg, *args, **kwargs)

    # LoggerAdapter's shortcuts call self.log with the level; keep the keyword through them.
    def debug(self, msg, *args, **kw):
        self.log(logging.DEBUG, msg, *args, **kw)

    def info(self, msg, *args, **kw):
        self.log(logging.INFO, msg, *args, **kw)

    def warning(self, msg, *args, **kw):
        self.log(logging.WARNING, msg, *args, **kw)

    def error(self, msg, *args, **kw):
        self.log(logging.ERROR, msg, *args, **kw)


def get_logger(name: str) -> RankAwareLogger:
    return RankAwareLogger(logging.getLogger(name), {})


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time of the record (not the one at setup)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):
        pass


def verbosity_level(verbose: bool | int = False, quiet: bool = False) -> int:
    if quiet:
        return logging.ERROR
    if verbose:
        return logging.DEBUG if int(verbose) > 1 else logging.INFO
    return logging.WARNING


def setup_logging(verbose: bool | int = False, quiet: bool = False, stream=None) -> int:
    """One stderr handler on the package loggers at the chosen level; returns the level."""
    level = verbosity_level(verbose, quiet)
    for root in ROOTS:
        log = logging.getLogger(root)
        log.setLevel(level)
        for h in [h for h in log.handlers if getattr(h, "_skeletonllm", False)]:
            log.removeHandler(h)
        handler = logging.StreamHandler(stream) if stream is not None else _StderrHandler()
        handler.setFormatter(logging.Formatter("%(name)s: %(levelname)s: %(message)s"))
        handler._skeletonllm = True
        log.addHandler(handler)
        log.propagate = False
    if quiet:  # transformers' own warnings too
        try:
            from transformers.utils import logging as tlog

            tlog.set_verbosity_error()
        except ImportError:
            pass
    return level
