"""`predict` keeps small jobs and points big ones to `scan`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from fakescope.cli import evaluate, main


@pytest.mark.parametrize(("limit", "hinted"), [(1, True), (2, False)])
def test_predict_points_big_jobs_to_scan(
    limit: int, hinted: bool, scan_checkpoint: Path, tmp_path: Path,
    image_factory: Callable[..., Path], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setattr(evaluate, "SCAN_HINT_FILES", limit)
    images = [str(image_factory(tmp_path / f"{i}.png", seed=i)) for i in range(2)]
    assert main(["predict", *images, "--checkpoint", str(scan_checkpoint), "--quiet",
                 "--no-provenance"]) == 0
    assert ("`fakescope scan` is the better tool" in capsys.readouterr().err) is hinted
