"""Provenance of uploads, read beside the detector and bounded in time as well as in bytes.

The readers already bound every size (`fakescope.provenance`); this adds a wall-clock limit
per upload, so that no file, whatever it holds, can hold a request: past the limit the request
gets a provenance `error` and the reading thread is abandoned. Threads still reading (abandoned
ones included) are counted, and past `MAX_RUNNING` new uploads get a `busy` error instead of a
new thread, so slow files cannot pile up threads either.
"""

from __future__ import annotations

import threading
from functools import partial
from typing import Any

import anyio

from fakescope.provenance.evidence import ProvenanceLimits
from fakescope.provenance.reader import Provenance, read_provenance_bytes
from fakescope.serve.settings import ServeSettings
from fakescope.serve.uploads import Upload

MAX_RUNNING = 4


def provenance_body(provenance: Provenance) -> dict[str, Any]:
    """The JSON the API returns for one upload (`ProvenanceBody`)."""
    body = provenance.to_dict()
    body.pop("path")
    return body




class ProvenanceService:
    """Reads uploads' provenance in worker threads, at most `MAX_RUNNING` at once."""

    def __init__(self, settings: ServeSettings, max_running: int = MAX_RUNNING) -> None:
        self.timeout_s = settings.provenance_timeout_s
        self.limits = ProvenanceLimits(max_file_bytes=settings.max_upload_bytes)
        self.max_running = max_running
        self.limiter = anyio.CapacityLimiter(max_running)
        self._lock = threading.Lock()
        self.running = 0  # threads inside `_read`, abandoned ones included

    def _read(self, data: bytes, name: str) -> Provenance:
        with self._lock:
            self.running += 1
        try:
            return read_provenance_bytes(data, name, self.limits)
        finally:
            with self._lock:
                self.running -= 1

    async def read(self, upload: Upload) -> Provenance:
        """The upload's provenance; one with an `error` when over time or too busy, never an
        exception (the detector's answer must not depend on it)."""
        if self.running >= self.max_running:
            return Provenance(upload.filename, None,
                              error="provenance not read: the server is busy reading other files")
        with anyio.move_on_after(self.timeout_s):
            return await anyio.to_thread.run_sync(
                partial(self._read, upload.data, upload.filename),
                abandon_on_cancel=True, limiter=self.limiter,
            )
        return Provenance(upload.filename, None,
                          error=f"provenance not read: it took over {self.timeout_s:g} s")
