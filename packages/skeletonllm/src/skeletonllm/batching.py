"""Micro-batching for the servers: concurrent requests of one kind become one model call.

A request joins the open batch of its key (or opens one and leads it). The leader waits up to
``wait_s`` seconds, or until the batch holds ``max_batch`` items, then runs the whole batch; the batch
stays open to newcomers until the leader's ``run`` calls ``take`` (after the model lock is held), so
requests that arrive while the model is busy ride along with the next call. Each member gets its own
result, or the exception the batch raised.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable


class _Batch:
    __slots__ = ("items", "full", "done", "results", "error")

    def __init__(self):
        self.items: list = []
        self.full = threading.Event()
        self.done = threading.Event()
        self.results: list | None = None
        self.error: BaseException | None = None


class MicroBatcher:
    """Groups items submitted under the same key within ``wait_s`` seconds, at most ``max_batch``."""

    def __init__(self, *, max_batch: int = 8, wait_s: float = 0.005):
        if isinstance(max_batch, bool) or not isinstance(max_batch, int) or max_batch < 1:
            raise ValueError(f"max_batch must be a positive integer, got {max_batch!r}")
        if not 0 <= wait_s < float("inf"):
            raise ValueError(f"batch wait must be a non-negative number of seconds, got {wait_s!r}")
        self.max_batch, self.wait_s = max_batch, float(wait_s)
        self._mu = threading.Lock()
        self._open: dict[Hashable, _Batch] = {}
        self.calls = 0  # batches run (for monitoring)

    def submit(self, key: Hashable, item, run: Callable[[Callable[[], list]], list]):
        """``item``'s result. ``run(take)`` is called by the batch's leader; it must call ``take()``
        once to close the batch (get its items) and return one result per item, in order."""
        with self._mu:
            batch = self._open.get(key)
            leader = batch is None
            if leader:
                batch = self._open[key] = _Batch()
            index = len(batch.items)
            batch.items.append(item)
            if len(batch.items) >= self.max_batch:
                self._close(key, batch)
        if not leader:
            batch.done.wait()
        else:
            if self.max_batch > 1:
                batch.full.wait(self.wait_s)

            def take() -> list:
                with self._mu:
                    self._close(key, batch)
                    return list(batch.items)

            try:
                results = run(take)
                with self._mu:
                    self._close(key, batch)  # in case run failed before take()
                if len(results) != len(batch.items):
                    raise RuntimeError(f"{len(results)} results for {len(batch.items)} requests")
                batch.results = results
                self.calls += 1
            except BaseException as e:  # noqa: BLE001 - handed to every member, re-raised below
                with self._mu:
                    self._close(key, batch)
                batch.error = e
            finally:
                batch.done.set()
        if batch.error is not None:
            raise batch.error
        return batch.results[index]

    def _close(self, key, batch: _Batch) -> None:  # with self._mu held
        if self._open.get(key) is batch:
            del self._open[key]
        batch.full.set()


__all__ = ["MicroBatcher"]
