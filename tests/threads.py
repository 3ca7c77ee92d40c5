"""One torch thread for tests of tiny models.

On a shared 2-core machine a 2-thread OpenMP team waits for a descheduled partner at every
operator, and a 2 ms forward pass can take 400 ms; tiny test networks gain nothing from a second
thread. Each test folder's conftest applies this with the scope its tests need.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def one_torch_thread() -> Iterator[None]:
    """torch uses one intra-op thread inside the block, and the caller's count after it."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
