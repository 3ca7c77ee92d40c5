"""The batch-size probe and the hash pass, on stand-ins (fast, no Ray, no detector)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from fakescope.scan.hashes import find_duplicates
from fakescope.scan.probe import probe_batch_size


def test_the_probe_keeps_the_fastest_batch_size_and_the_scores() -> None:
    pictures = [np.full((2, 2, 3), i, np.uint8) for i in range(128)]
    calls: list[int] = []

    def score(chosen: Sequence[np.ndarray], size: int) -> list[float]:
        calls.append(size)
        time.sleep(0.0002 * abs(size - 32) + 0.001)  # 32 is the fastest here
        return [float(p[0, 0, 0]) for p in chosen]

    probe, scores = probe_batch_size(score, pictures)
    assert probe.batch_size == 32 and sorted(probe.seconds_per_picture) == [16, 32, 64, 128]
    assert scores == [float(i) for i in range(128)]
    few, _ = probe_batch_size(score, pictures[:40])
    assert set(few.seconds_per_picture) == {16, 32}  # no size larger than the pictures


def test_the_hash_pass_links_each_repeat_to_the_first_file_with_its_bytes(
    tmp_path: Path,
) -> None:
    names = {"a": b"one", "b": b"two", "c": b"one", "d": b"one", "e": b"x" * 50}
    for name, data in names.items():
        (tmp_path / name).write_bytes(data)
    paths = [str(tmp_path / n) for n in names] + [str(tmp_path / "missing")]
    found = find_duplicates(paths, max_bytes=10)
    assert {Path(p).name: Path(d.path).name for p, d in found.items()} == {"c": "a", "d": "a"}
    assert found[paths[2]].sha256 == found[paths[3]].sha256  # e is over the limit: not hashed
