"""Writes kept off the hot path: a per-process buffer written in batches by one daemon thread.

    deletions = Batcher("outbox-forget", write=delete_rows, interval=lambda: settings.OUTBOX_FORGET_INTERVAL,
                        capacity=lambda: 10_000)
    deletions.add(row_id)        # microseconds, no I/O
    deletions.flush()            # now, on the caller's thread (tests; the interval is 0)

- `add` appends to the buffer and makes sure this process runs the thread,
  which calls `write(batch)` every `interval()` seconds with what was buffered.
  A full buffer refuses the item (`add` returns False) instead of waiting.
- `write` that raises keeps the batch for the next pass, at the front, as
  room allows (the rest is counted as dropped by the caller's `on_drop`).
- A forked child starts with an empty buffer and no thread (the parent
  writes its own items); the first `add` in the child starts its thread.
- A clean exit (`stop`, also at interpreter exit, and `stop_all` from a worker
  pool process's shutdown signal: those end with os._exit, past atexit)
  writes what is left.
- `interval()` 0 starts no thread: items wait for an explicit `flush()`.

A thread, not a write after each request or task: a web request's answer and
a worker's next task never wait for it, and a process that goes idle still
writes within one interval. A crash (kill -9) loses at most one interval's
items: only use this for writes whose loss is bounded and repaired (the
timeline's events; outbox rows already published, which the relay would send
again).
"""

from __future__ import annotations

import atexit
import os
import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

import structlog

logger = structlog.get_logger(__name__)

Item = TypeVar("Item")

_batchers: list[Batcher[Any]] = []


def stop_all(**_: object) -> None:
    """Stop every batcher of this process, writing what each holds (a signal receiver, hence `**_`)."""
    for batcher in _batchers:
        batcher.stop()


class Batcher(Generic[Item]):
    def __init__(
        self,
        name: str,
        *,
        write: Callable[[Sequence[Item]], object],
        interval: Callable[[], float],
        capacity: Callable[[], int],
        on_drop: Callable[[int], object] = lambda count: None,
    ) -> None:
        self.name = name
        self._write = write
        self._interval = interval
        self._capacity = capacity
        self._on_drop = on_drop
        self._buffer: deque[Item] = deque()
        self._lock = threading.Lock()
        self._thread: _Writer | None = None
        os.register_at_fork(after_in_child=self._forget_after_fork)
        atexit.register(self.stop)
        _batchers.append(self)

    def add(self, item: Item) -> bool:
        """Buffer one item for the next batch; False (and `on_drop(1)`) when the buffer is full."""
        with self._lock:
            if len(self._buffer) >= self._capacity():
                self._on_drop(1)
                return False
            self._buffer.append(item)
        if self._interval() > 0:
            self._ensure_thread()
        return True

    def flush(self) -> int:
        """Write everything buffered now, on this thread; returns how many items were written.

        A `write` that raises is logged, and its batch goes back to the front of the buffer.
        """
        with self._lock:
            batch = list(self._buffer)
            self._buffer.clear()
        if not batch:
            return 0
        try:
            self._write(batch)
        except Exception as exc:
            logger.warning(
                "batch_write_failed", batcher=self.name, items=len(batch), error_class=type(exc).__name__,
                error=str(exc)[:200],
            )  # fmt: skip
            self._put_back(batch)
            return 0
        return len(batch)

    def buffered(self) -> int:
        return len(self._buffer)

    def running(self) -> bool:
        thread = self._thread
        return thread is not None and thread.pid == os.getpid() and thread.is_alive()

    def discard(self) -> None:
        """Forget what is buffered, unwritten (tests)."""
        with self._lock:
            self._buffer.clear()

    def stop(self) -> None:
        """Stop this process's thread and write what is buffered (a clean shutdown)."""
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.stopped.set()
        if self._buffer:
            self.flush()

    def _put_back(self, batch: list[Item]) -> None:
        with self._lock:
            room = max(0, self._capacity() - len(self._buffer))
            self._buffer.extendleft(reversed(batch[:room]))
        if len(batch) > room:
            self._on_drop(len(batch) - room)

    def _ensure_thread(self) -> None:
        if self.running():
            return
        with self._lock:
            if not self.running():
                self._thread = _Writer(self)
                self._thread.start()

    def _forget_after_fork(self) -> None:
        self._thread, self._lock = None, threading.Lock()
        self._buffer.clear()


class _Writer(threading.Thread):
    def __init__(self, batcher: Batcher[Any]) -> None:
        super().__init__(name=batcher.name, daemon=True)
        self.batcher = batcher
        self.pid = os.getpid()
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(max(self.batcher._interval(), 0.001)):
            try:
                self.batcher.flush()
            except Exception:  # a writer that dies would silently stop the batches
                logger.exception("batch_writer_failed", batcher=self.batcher.name)
