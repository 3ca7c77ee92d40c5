"""Collecting scored rows into finished shards, as they stream back in any order.

Rows of one shard may come back split over several batches and mixed with other shards'; a
shard is written (`ScanFolder.write_part`) as soon as all of its rows are in, in listing
order, so memory holds only the shards in flight, whatever the size of the scan.

A duplicate (a file whose bytes repeat an earlier file's, `scan.hashes`) was not scored: its
row takes the first file's results. When that file is in another shard, the duplicate's shard
waits until the first file's row is in (or reads it from an earlier run's part file), so the
table is the same whichever shard finishes first.
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

import pyarrow as pa

from fakescope.inference.predict import Prediction
from fakescope.scan.files import PROVENANCE_COLUMNS
from fakescope.scan.ledger import ScanFolder
from fakescope.scan.rows import SCHEMA, scan_row
from fakescope.scan.sources import Shard

Verdicts = Callable[[float], Prediction]  # the checkpoint's verdict for a calibrated P(fake)
# What a duplicate takes from the first file with its bytes (besides the error)
COPIED = ("probability_fake", "face_box", "backend", *PROVENANCE_COLUMNS)
FIRST_COLUMNS = ("path", *COPIED, "error")  # what is kept of a first file for its duplicates


class ShardCollector:
    """Takes scored rows (dicts with `shard`, `position`, ...) and writes each shard once whole.

    `referenced`: the first files that duplicates name (their rows are kept for them until the
    end); `firsts`: such rows from shards an earlier run finished, by path."""

    def __init__(
        self, folder: ScanFolder, shards: Iterable[Shard], verdicts: Verdicts,
        referenced: Collection[str] = (), firsts: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:  # fmt: skip
        self.folder = folder
        self.pending = {shard.index: shard for shard in shards}
        self.verdicts = verdicts
        self.referenced = set(referenced)
        self.firsts: dict[str, dict[str, Any]] = {p: dict(r) for p, r in (firsts or {}).items()}
        self.rows: dict[int, list[dict[str, Any]]] = {}
        self.written: list[int] = []
        self.started = time.perf_counter()

    def add(self, rows: Iterable[Mapping[str, Any]]) -> list[int]:
        """Take rows; returns the shards this let be written (and wrote)."""
        for row in rows:
            index = int(row["shard"])
            if index not in self.pending:
                raise ValueError(f"a row of shard {index}, which is not pending")
            record = dict(row)
            self.rows.setdefault(index, []).append(record)
            if record["path"] in self.referenced:
                self.firsts[record["path"]] = {k: record.get(k) for k in FIRST_COLUMNS}
        done = [i for i in sorted(self.rows) if self._ready(i)]
        for index in done:
            self._write(self.pending.pop(index), self.rows.pop(index))
        return done

    def _ready(self, index: int) -> bool:
        """All the shard's rows are in, and the first file of each of its duplicates."""
        records = self.rows[index]
        if len(records) != len(self.pending[index].paths):
            return False
        return all(r["duplicate_of"] in self.firsts or r["duplicate_of"] in
                   self.pending[index].paths for r in records if r.get("duplicate_of"))

    @property
    def in_flight(self) -> int:
        return len(self.rows)

    def _write(self, shard: Shard, records: list[dict[str, Any]]) -> None:
        records.sort(key=lambda r: int(r["position"]))
        if [r["path"] for r in records] != list(shard.paths):
            raise ValueError(f"{shard.name}: the rows do not match its paths")
        own = {r["path"]: r for r in records}
        for record in records:
            first = record.get("duplicate_of")
            if first:
                _copy_first(record, own.get(first) or self.firsts[first])
        rows = [scan_row(r, self._prediction(r)) for r in records]
        table = pa.Table.from_pylist(rows, schema=SCHEMA)
        nodes = sorted({str(r["node"]) for r in records if r.get("node")})
        sizes = Counter(int(r["batch_size"]) for r in records if r.get("batch_size"))
        probes = [json.loads(r["probe"]) for r in records if r.get("probe")]
        info = {"nodes": nodes, "batch_size": max(sizes, key=sizes.__getitem__, default=None),
                "probes": probes}  # fmt: skip
        self.folder.write_part(shard, table, info)
        self.written.append(shard.index)

    def _prediction(self, record: Mapping[str, Any]) -> Prediction | None:
        prob = record.get("probability_fake")
        if prob is None or record.get("error") or math.isnan(float(prob)):
            return None
        return self.verdicts(float(prob))


def _copy_first(record: dict[str, Any], first: Mapping[str, Any]) -> None:
    """A duplicate was not read past its hash: it takes the first file's results, and its
    error under its own name."""
    for name in COPIED:
        record[name] = first.get(name)
    error = first.get("error")
    prefix = f"{first['path']}: "
    if error:
        record["error"] = f"{record['path']}: {error.removeprefix(prefix)}"
