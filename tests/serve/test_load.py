"""The load benchmark's client against a live `fakescope serve`: a short bounded run, no errors."""

from __future__ import annotations

import asyncio

from benchmarks import serve_load as bench


def test_a_short_load_run_has_no_errors(live_server: str) -> None:
    images = bench.face_jpegs(4, 96)
    result = asyncio.run(bench.run_load(live_server, images, concurrency=4, duration_s=30.0,
                                        max_requests=60))
    assert result.requests == 60 and result.errors == 0 and result.statuses == {"200": 60}
    assert 0 < result.p50_ms <= result.p95_ms <= result.p99_ms
    assert result.rps > 0
