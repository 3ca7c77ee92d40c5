"""Reading a shard's files: bad files get their reason, identical bytes are found by the hash
pass and decoded once; the summary of a scan folder, and Ray's absence (fast, no Ray started)."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from fakescope.cli import main
from fakescope.data.transforms import InputSpec
from fakescope.errors import SetupError
from fakescope.inference.predict import Prediction
from fakescope.scan.files import InputSettings, read_files
from fakescope.scan.hashes import Duplicate, find_duplicates
from fakescope.scan.ledger import ScanFolder
from fakescope.scan.session import require_ray
from fakescope.scan.sources import cut_shards
from fakescope.scan.summary import write_summary
from fakescope.scan.writer import ShardCollector

SETTINGS = InputSettings(InputSpec(size=32))


def test_bad_files_get_reasons_and_same_bytes_are_decoded_once(
    tmp_path: Path, image_factory: Callable[..., Path]
) -> None:
    first = image_factory(tmp_path / "a.png", seed=1)
    copy = shutil.copy(first, tmp_path / "b.png")
    (tmp_path / "bad.jpg").write_bytes(b"not an image")
    shutil.copy(tmp_path / "bad.jpg", tmp_path / "bad2.jpg")
    (tmp_path / "empty").mkdir()
    paths = [str(first), str(copy), str(tmp_path / "bad.jpg"), str(tmp_path / "bad2.jpg"),
             str(tmp_path / "missing.jpg"), str(tmp_path / "empty")]
    duplicates = find_duplicates(paths, max_bytes=10**6)
    assert {p: d.path for p, d in duplicates.items()} == {paths[1]: paths[0], paths[3]: paths[2]}
    a, b, bad, bad2, missing, folder = read_files(paths, SETTINGS, duplicates=duplicates)
    assert a.pixels is not None and a.pixels.shape == (32, 32, 3) and a.error is None
    assert b.pixels is None and b.duplicate_of == str(first) and b.sha256 == a.sha256
    assert b.provenance == {} and b.error is None and b.size == a.size  # the writer copies
    assert bad.error == f"{bad.path}: not an image Pillow can identify" and bad.sha256
    assert bad2.duplicate_of == bad.path and bad2.error is None
    # a file changed since the hash pass is no longer a duplicate: it is read in full
    (changed,) = read_files([paths[1]], SETTINGS, duplicates={paths[1]: Duplicate(paths[0], "0")})
    assert changed.duplicate_of is None and changed.pixels is not None
    assert missing.error == f"{missing.path}: file not found" and missing.size is None
    assert folder.error == f"{folder.path}: no image files in this folder"


def test_the_summary_counts_every_row_and_lists_the_failed(
    tmp_path: Path, image_factory: Callable[..., Path]
) -> None:
    paths = [str(image_factory(tmp_path / f"{i}.png", seed=i)) for i in range(5)]
    folder = ScanFolder(tmp_path / "out")
    folder.open({"paths": 5})
    shards = list(cut_shards(paths, 2))
    collector = ShardCollector(folder, shards, lambda p: Prediction(p, "fake", 0.5, verdict="fake"))
    rows = [{"shard": i // 2, "position": i, "path": p, "sha256": "ab" * 32,
             "probability_fake": None if i == 4 else 0.99, "error": "broken" if i == 4 else None,
             "read_seconds": float(i), "score_seconds": 0.0, "node": "n"}
            for i, p in enumerate(paths)]  # fmt: skip
    collector.add(rows)
    summary, files = write_summary(folder, settings={})
    assert summary["rows"] == 5 and summary["scored"] == 4 and summary["errors"] == 1
    assert summary["counts"]["verdict"] == {"(none)": 1, "fake": 4}
    # provenance not read here: the detector's word decides, and a failed file stays uncertain
    assert summary["counts"]["decision"] == {"likely-generated": 4, "uncertain": 1}
    assert summary["histogram"]["counts"][-1] == 4 and summary["repeated_bytes"] == 4
    assert summary["failed"] == [{"path": paths[4], "error": "broken"}]
    assert summary["slowest"][0] == {"path": paths[4], "seconds": 4.0}
    assert summary["nodes"] == {"n": 3}
    page = files[1].read_text()
    assert "<script" not in page and "5 files, 4 scored, 1 failed" in page


def test_without_ray_the_error_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now raises ImportError
    with pytest.raises(SetupError, match=r"pip install 'fakescope\[scale\]'"):
        require_ray()
    assert main(["scan", str(tmp_path), "--checkpoint", "x.pt", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("fakescope: error: fakescope scan needs Ray: pip install")
    assert len(err.splitlines()) == 1


def test_resuming_a_folder_without_a_scan_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("ray")
    assert main(["scan", "--resume", "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (
        f"fakescope: error: {tmp_path}: no scan to resume here (no scan.json)\n"
    )
    assert main(["scan", "--out", str(tmp_path)]) == 2
    assert "needs SOURCE... and --checkpoint" in capsys.readouterr().err
