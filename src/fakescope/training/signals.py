"""Ctrl-C and SIGTERM as stop requests, so a trainer can checkpoint before it exits."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class StopRequest:
    """Set by SIGINT/SIGTERM; the loop finishes its iteration, checkpoints and returns."""

    def __init__(self) -> None:
        self.signal: str | None = None


@contextmanager
def stop_on_signals(stop: StopRequest) -> Iterator[None]:
    """Turn the first SIGINT/SIGTERM into a stop request; a second one interrupts at once.
    The handlers found are restored after (an ignored SIGINT stays ignored in a background job)."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be installed from the main thread
        return
    signals = (signal.SIGINT, signal.SIGTERM)
    previous = {s: signal.getsignal(s) for s in signals}

    def request(signum: int, frame: object) -> None:
        if stop.signal is not None:
            raise KeyboardInterrupt
        stop.signal = signal.Signals(signum).name

    for s in signals:
        signal.signal(s, request)
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
