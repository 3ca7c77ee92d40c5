"""The micro-batcher: batching, ordering, errors, back-pressure, cancellation, shutdown."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import Future

import pytest

from fakescope.serve.worker import MicroBatcher, QueueFullError

WAIT = 5.0  # generous timeout for results; tests finish far sooner


Made = list[MicroBatcher[int, int]]


class Gate:
    """A `process` function that records batches and can be held closed."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.entered = threading.Event()
        self.open = threading.Event()
        self.open.set()

    def __call__(self, items: list[int]) -> list[int]:
        self.batches.append(list(items))
        self.entered.set()
        assert self.open.wait(WAIT)
        if -1 in items:
            raise ValueError("bad item in batch")
        return [2 * item for item in items]


@pytest.fixture
def gate() -> Gate:
    return Gate()


@pytest.fixture
def batchers() -> Iterator[Made]:
    made: Made = []
    yield made
    for batcher in made:
        batcher.close()


def start(gate: Gate, made: Made, **kwargs: float) -> MicroBatcher[int, int]:
    options = {"max_batch": 4, "max_wait_s": 0.2, "max_queue": 16, **kwargs}
    batcher: MicroBatcher[int, int] = MicroBatcher(
        gate, int(options["max_batch"]), options["max_wait_s"], int(options["max_queue"])
    )
    made.append(batcher)
    return batcher


def test_waiting_items_share_batches_and_results_keep_their_order(
    gate: Gate, batchers: Made
) -> None:
    batcher = start(gate, batchers)
    futures = [batcher.submit(i) for i in range(10)]
    assert [f.result(WAIT) for f in futures] == [2 * i for i in range(10)]
    assert [len(b) for b in gate.batches] == [4, 4, 2]
    assert [i for batch in gate.batches for i in batch] == list(range(10))
    assert batcher.batches_run == 3


def test_a_lone_item_runs_after_the_wait(gate: Gate, batchers: Made) -> None:
    batcher = start(gate, batchers, max_wait_s=0.0)
    assert batcher.submit(7).result(WAIT) == 14
    assert gate.batches == [[7]]


def test_a_failing_batch_fails_its_futures_and_the_worker_goes_on(
    gate: Gate, batchers: Made
) -> None:
    batcher = start(gate, batchers)
    failing = [batcher.submit(i) for i in (1, -1, 3)]
    for future in failing:
        with pytest.raises(ValueError, match="bad item"):
            future.result(WAIT)
    assert batcher.submit(5).result(WAIT) == 10


def test_a_full_queue_is_refused_not_blocked(gate: Gate, batchers: Made) -> None:
    batcher = start(gate, batchers, max_batch=1, max_wait_s=0.0, max_queue=2)
    gate.open.clear()
    running = batcher.submit(0)
    assert gate.entered.wait(WAIT)  # the worker holds item 0; the queue is empty again
    queued = [batcher.submit(1), batcher.submit(2)]
    with pytest.raises(QueueFullError):
        batcher.submit(3)
    gate.open.set()
    assert [f.result(WAIT) for f in [running, *queued]] == [0, 2, 4]


def test_cancelled_items_are_skipped(gate: Gate, batchers: Made) -> None:
    batcher = start(gate, batchers, max_batch=1, max_wait_s=0.0)
    gate.open.clear()
    first = batcher.submit(1)
    assert gate.entered.wait(WAIT)
    abandoned, kept = batcher.submit(2), batcher.submit(3)
    assert abandoned.cancel()
    gate.open.set()
    assert (first.result(WAIT), kept.result(WAIT)) == (2, 6)
    assert gate.batches == [[1], [3]]


def test_close_finishes_queued_items_then_refuses_new_ones(
    gate: Gate, batchers: Made
) -> None:
    batcher = start(gate, batchers, max_batch=2, max_wait_s=0.0)
    futures: list[Future[int]] = [batcher.submit(i) for i in range(5)]
    batcher.close()
    assert [f.result(WAIT) for f in futures] == [0, 2, 4, 6, 8]
    with pytest.raises(RuntimeError, match="stopped"):
        batcher.submit(9)


def test_invalid_settings_are_refused(gate: Gate) -> None:
    with pytest.raises(ValueError):
        MicroBatcher(gate, max_batch=0, max_wait_s=0.0, max_queue=1)
