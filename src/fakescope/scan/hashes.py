"""The scan's hash pass: which files repeat the bytes of an earlier file of the listing.

Every file is read once, before scoring, for its SHA-256; a file whose bytes equal an earlier
file's (in listing order, in any shard) is then neither decoded nor scored: its row names the
first file and carries its results. The digests are held as one numpy array (32 bytes a file),
and only the repeats are kept as Python objects, so the pass stays small for a large listing.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CHUNK = 4096  # files hashed per round of the thread pool
THREADS = 8  # reading waits on storage more than on the CPU (hashlib drops the GIL)


@dataclass(frozen=True)
class Duplicate:
    """The earlier file with the same bytes, and the SHA-256 the pass found for both."""

    path: str
    sha256: str


def file_digest(path: str | Path) -> bytes:
    """SHA-256 of a file, read 1 MiB at a time."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.digest()


def _digest(path: str, max_bytes: int) -> bytes | None:
    """SHA-256 of a file, or None when it is not a readable file within the size limit (its
    row reports why when it is read for scoring)."""
    try:
        if os.stat(path).st_size > max_bytes:
            return None
        return file_digest(path)
    except OSError:  # missing, a folder, unreadable
        return None


def find_duplicates(paths: Sequence[str], max_bytes: int) -> dict[str, Duplicate]:
    """For each path whose bytes repeat an earlier path's, that earlier path (the first with
    those bytes in listing order)."""
    digests = np.zeros((len(paths), 32), np.uint8)
    hashed = np.zeros(len(paths), bool)
    with ThreadPoolExecutor(THREADS) as pool:
        for start in range(0, len(paths), CHUNK):
            chunk = paths[start : start + CHUNK]
            for offset, digest in enumerate(pool.map(lambda p: _digest(p, max_bytes), chunk)):
                if digest is not None:
                    digests[start + offset] = np.frombuffer(digest, np.uint8)
                    hashed[start + offset] = True
    positions = np.flatnonzero(hashed)
    keys = np.ascontiguousarray(digests[positions]).view(np.dtype((np.void, 32))).ravel()
    _, first_index, inverse = np.unique(keys, return_index=True, return_inverse=True)
    firsts = positions[first_index[inverse.ravel()]]
    repeats = np.flatnonzero(firsts != positions)
    return {
        paths[positions[i]]: Duplicate(paths[firsts[i]], digests[positions[i]].tobytes().hex())
        for i in repeats
    }
