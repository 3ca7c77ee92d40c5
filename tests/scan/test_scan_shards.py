"""Listing, sharding and the exactly-once ledger, without Ray (fast)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fakescope.config import ConfigError
from fakescope.errors import BadFileError
from fakescope.inference.predict import Prediction
from fakescope.scan.ledger import ScanFolder
from fakescope.scan.pipeline import check_actors
from fakescope.scan.rows import SCHEMA, TIMING_COLUMNS
from fakescope.scan.sources import cut_shards, expand_sources
from fakescope.scan.writer import FIRST_COLUMNS, ShardCollector


def _files(root: Path, names: list[str]) -> list[str]:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(name.encode())
    return [str(root / n) for n in names]


def test_folders_and_manifests_expand_in_order_each_path_once(tmp_path: Path) -> None:
    found = _files(tmp_path, ["pics/b.jpg", "pics/a.png", "pics/sub/c.jpg", "pics/notes.txt"])
    with (tmp_path / "list.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerows([["path", "label"], ["pics/b.jpg", "x"], ["/elsewhere/d.jpg", "y"]])
    pq.write_table(pa.table({"path": ["pics/a.png", "e.jpg"]}), tmp_path / "list.parquet")
    paths = expand_sources([str(tmp_path / "pics"), str(tmp_path / "list.csv"),
                            str(tmp_path / "list.parquet")])
    assert paths == [found[1], found[0], found[2], "/elsewhere/d.jpg", str(tmp_path / "e.jpg")]


def test_a_manifest_without_a_path_column_is_refused(tmp_path: Path) -> None:
    (tmp_path / "m.csv").write_text("file\na.jpg\n")
    with pytest.raises(BadFileError, match="'path' column"):
        expand_sources([str(tmp_path / "m.csv")])


def test_shards_are_a_function_of_the_listing() -> None:
    paths = [f"/x/{i:03d}.jpg" for i in range(10)]
    shards = list(cut_shards(paths, 4))
    assert [len(s.paths) for s in shards] == [4, 4, 2]
    assert [s.start for s in shards] == [0, 4, 8]
    again = list(cut_shards(list(paths), 4))
    assert [s.fingerprint for s in shards] == [s.fingerprint for s in again]
    assert shards[0].fingerprint != shards[1].fingerprint
    with pytest.raises(ConfigError):
        list(cut_shards(paths, 0))


def _verdict(prob: float) -> Prediction:
    return Prediction(prob, "fake" if prob >= 0.5 else "real", 0.5, verdict="", band=(0.4, 0.6))


def _scored(shard: int, start: int, paths: list[str], dup: dict[str, str] | None = None
            ) -> list[dict[str, Any]]:  # fmt: skip
    dup = dup or {}
    return [
        {"shard": shard, "position": start + i, "path": p, "size": 3, "sha256": f"h{p}",
         "duplicate_of": dup.get(p), "probability_fake": None if p in dup else 0.1 * (i + 1),
         "provenance": "no-provenance", "backend": "onnx", "error": None, "read_seconds": 0.01,
         "score_seconds": 0.001, "node": "n1"}
        for i, p in enumerate(paths)
    ]  # fmt: skip


PLAN = {"sources": ["x"], "listing_sha256": "abc", "paths": 10, "shard_size": 4,
        "checkpoint_sha256": "c", "face_crop": False}


def test_shards_are_written_once_whole_whatever_order_rows_arrive(tmp_path: Path) -> None:
    paths = [f"/x/{i}.jpg" for i in range(10)]
    shards = list(cut_shards(paths, 4))
    folder = ScanFolder(tmp_path / "out")
    folder.open(PLAN)
    collector = ShardCollector(folder, shards, _verdict)
    rows1 = _scored(1, 4, paths[4:8], dup={"/x/6.jpg": "/x/4.jpg"})
    rows0 = _scored(0, 0, paths[:4])
    assert collector.add(rows1[2:] + rows0[:1]) == []
    assert collector.in_flight == 2
    assert collector.add(list(reversed(rows1[:2]))) == [1]
    table = pq.read_table(folder.part_path(shards[1]))
    assert table.schema.names == SCHEMA.names
    assert table.column("path").to_pylist() == paths[4:8]
    dup = table.to_pylist()[2]
    assert dup["duplicate_of"] == "/x/4.jpg" and dup["probability_fake"] == pytest.approx(0.1)
    assert dup["verdict"] == "real" and dup["band_low"] == 0.4
    assert dup["decision"] == "likely-real" and "detector says real" in dup["decision_text"]
    assert set(folder.finished()) == {1}
    with pytest.raises(ValueError, match="not pending"):
        collector.add(rows1[:1])


def test_a_rerun_skips_finished_shards_and_redoes_interrupted_ones(tmp_path: Path) -> None:
    paths = [f"/x/{i}.jpg" for i in range(10)]
    shards = list(cut_shards(paths, 4))
    folder = ScanFolder(tmp_path / "out")
    folder.open(PLAN)
    ShardCollector(folder, shards, _verdict).add(_scored(0, 0, paths[:4]))
    # A kill while shard 1's part was being written, and one after shard 2's rename but before
    # its ledger line, and one while a ledger line was being appended:
    (folder.parts / "shard-000001.parquet.partial").write_bytes(b"PAR1 half")
    pq.write_table(pa.table({"path": paths[8:]}), folder.parts / "shard-000002.parquet")
    with folder.ledger_path.open("a") as handle:
        handle.write('{"shard": 2, "na')
    again = ScanFolder(tmp_path / "out")
    again.open(PLAN)
    assert not list(again.parts.glob("*.partial"))
    assert set(again.finished()) == {0}
    pending = [s for s in shards if s.index not in again.finished()]
    collector = ShardCollector(again, pending, _verdict)
    collector.add(_scored(2, 8, paths[8:]) + _scored(1, 4, paths[4:8]))
    assert not collector.pending
    merged = pa.concat_tables(pq.read_table(p) for p in again.part_files())
    assert merged.column("path").to_pylist() == paths  # every row once, in listing order
    assert [json.loads(line)["shard"] for line in again.ledger_path.read_text().splitlines()
            if line.endswith("}")] == [0, 1, 2]
    assert set(TIMING_COLUMNS) <= set(merged.schema.names)


def test_a_folder_holding_another_scan_is_refused(tmp_path: Path) -> None:
    ScanFolder(tmp_path).open(PLAN)
    with pytest.raises(ConfigError, match="listing_sha256"):
        ScanFolder(tmp_path).open({**PLAN, "listing_sha256": "other"})


def test_cpu_actors_must_fit_the_cpus() -> None:
    check_actors(2, 1, 2, "cpu")  # each actor reads and scores: every CPU can hold one
    check_actors(4, 1, 2, "cuda")  # GPU actors
    with pytest.raises(ConfigError, match="do not fit the cluster's 2 CPUs"):
        check_actors(2, 2, 2, "cpu")  # this would wait forever for the second actor
    with pytest.raises(ConfigError, match="at least 1"):
        check_actors(0, 1, 8, "cpu")


def test_a_duplicate_in_a_later_shard_waits_for_its_first_file(tmp_path: Path) -> None:
    paths = [f"/x/{i}.jpg" for i in range(8)]
    shards = list(cut_shards(paths, 4))
    folder = ScanFolder(tmp_path / "out")
    folder.open(PLAN)
    collector = ShardCollector(folder, shards, _verdict, referenced={"/x/1.jpg"})
    later = _scored(1, 4, paths[4:], dup={"/x/6.jpg": "/x/1.jpg"})
    assert collector.add(later) == []  # its first file's shard is still out
    first = _scored(0, 0, paths[:4])
    first[1].update(provenance="camera-original", error=None)
    assert collector.add(first) == [0, 1]
    dup = pq.read_table(folder.part_path(shards[1])).to_pylist()[2]
    assert dup["duplicate_of"] == "/x/1.jpg" and dup["probability_fake"] == pytest.approx(0.2)
    assert dup["provenance"] == "camera-original" and dup["sha256"] == "h/x/6.jpg"


def test_a_resumed_scan_takes_a_duplicates_first_file_from_the_part_files(
    tmp_path: Path,
) -> None:
    paths = [f"/x/{i}.jpg" for i in range(8)]
    shards = list(cut_shards(paths, 4))
    folder = ScanFolder(tmp_path / "out")
    folder.open(PLAN)
    first = _scored(0, 0, paths[:4])
    first[3].update(probability_fake=None, error="/x/3.jpg: truncated")
    ShardCollector(folder, shards[:1], _verdict).add(first)
    finished = folder.finished_rows({"/x/3.jpg"}, FIRST_COLUMNS)  # as run_scan reads them
    collector = ShardCollector(folder, shards[1:], _verdict, {"/x/3.jpg"}, finished)
    assert collector.add(_scored(1, 4, paths[4:], dup={"/x/7.jpg": "/x/3.jpg"})) == [1]
    dup = pq.read_table(folder.part_path(shards[1])).to_pylist()[3]
    assert dup["error"] == "/x/7.jpg: truncated" and dup["probability_fake"] is None
