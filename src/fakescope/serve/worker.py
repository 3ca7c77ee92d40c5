"""Micro-batching: many request threads submit one item each; one worker thread runs them in
batches and hands each result back through a future.

One thread owns the model, so forward passes never compete for the CPU cores (torch already
spreads one pass over them) and Grad-CAM's layer hooks never see another request's batch.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Generic, TypeVar, cast

from fakescope.errors import FakescopeError

Item = TypeVar("Item")
Result = TypeVar("Result")

_STOP = object()  # queued by close(): the worker finishes the batch in hand and exits


class QueueFullError(FakescopeError, RuntimeError):
    """More items are waiting than the queue holds; the caller should retry later."""


class MicroBatcher(Generic[Item, Result]):
    """Runs `process(items) -> results` (same order, same length) on batches of up to
    `max_batch` items; a batch waits at most `max_wait_s` after its first item for more."""

    def __init__(
        self,
        process: Callable[[list[Item]], list[Result]],
        max_batch: int,
        max_wait_s: float,
        max_queue: int,
        name: str = "fakescope-inference",
    ) -> None:
        if max_batch < 1 or max_queue < 1 or max_wait_s < 0:
            raise ValueError("max_batch and max_queue must be >= 1 and max_wait_s >= 0")
        self.process = process
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max_queue)
        self._closed = threading.Event()
        self.batches_run = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, item: Item) -> Future[Result]:
        """Queue one item; its future gets the result or the batch's exception."""
        if self._closed.is_set():
            raise RuntimeError("the inference worker has stopped")
        future: Future[Result] = Future()
        try:
            self._queue.put_nowait((item, future))
        except queue.Full:
            raise QueueFullError(f"{self._queue.maxsize} images are already waiting") from None
        return future

    def pending(self) -> int:
        return self._queue.qsize()

    def close(self, timeout: float = 10.0) -> None:
        """Stop after the items already queued; later submissions raise RuntimeError."""
        if self._closed.is_set():
            return
        self._closed.set()
        self._queue.put(_STOP)
        self._thread.join(timeout)

    def _next_batch(self) -> tuple[list[tuple[Item, Future[Result]]], bool]:
        """(batch, stop): blocks for a first item, then gathers more until full or timed out."""
        batch: list[tuple[Item, Future[Result]]] = []
        deadline: float | None = None
        while len(batch) < self.max_batch:
            try:
                if deadline is None:
                    entry = self._queue.get()
                    deadline = time.monotonic() + self.max_wait_s
                else:
                    entry = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if entry is _STOP:
                return batch, True
            batch.append(cast("tuple[Item, Future[Result]]", entry))
        return batch, False

    def _run(self) -> None:
        stop = False
        while not stop:
            batch, stop = self._next_batch()
            # A future whose request went away (cancelled) is dropped before the work.
            live = [(item, fut) for item, fut in batch if fut.set_running_or_notify_cancel()]
            if not live:
                continue
            try:
                results = self.process([item for item, _ in live])
                if len(results) != len(live):
                    raise RuntimeError(f"{len(results)} results for {len(live)} items")
            except Exception as err:
                for _, fut in live:
                    fut.set_exception(err)
                continue
            self.batches_run += 1
            for (_, fut), result in zip(live, results, strict=True):
                fut.set_result(result)
        self._fail_leftovers()

    def _fail_leftovers(self) -> None:
        """Items that slipped in while closing get an error instead of waiting forever."""
        while True:
            try:
                entry = self._queue.get_nowait()
            except queue.Empty:
                return
            if entry is not _STOP:
                fut = cast("tuple[Item, Future[Result]]", entry)[1]
                if fut.set_running_or_notify_cancel():
                    fut.set_exception(RuntimeError("the inference worker has stopped"))
