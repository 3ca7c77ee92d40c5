"""Collecting scored rows into finished shards, as they stream back in any order.

Rows of one shard may come back split over several batches and mixed with other shards'; a
shard is written (`ScanFolder.write_part`) as soon as all of its rows are in, in listing
order, so memory holds only the shards in flight, whatever the size of the scan.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pyarrow as pa

from fakescope.inference.predict import Prediction
from fakescope.scan.ledger import ScanFolder
from fakescope.scan.rows import SCHEMA, scan_row
from fakescope.scan.sources import Shard

Verdicts = Callable[[float], Prediction]  # the checkpoint's verdict for a calibrated P(fake)


class ShardCollector:
    """Takes scored rows (dicts with `shard`, `position`, ...) and writes each shard once whole."""

    def __init__(self, folder: ScanFolder, shards: Iterable[Shard], verdicts: Verdicts) -> None:
        self.folder = folder
        self.pending = {shard.index: shard for shard in shards}
        self.verdicts = verdicts
        self.rows: dict[int, list[dict[str, Any]]] = {}
        self.written: list[int] = []
        self.started = time.perf_counter()

    def add(self, rows: Iterable[Mapping[str, Any]]) -> list[int]:
        """Take rows; returns the shards this completed (and wrote)."""
        touched: set[int] = set()
        for row in rows:
            index = int(row["shard"])
            if index not in self.pending:
                raise ValueError(f"a row of shard {index}, which is not pending")
            self.rows.setdefault(index, []).append(dict(row))
            touched.add(index)
        done = [i for i in sorted(touched) if len(self.rows[i]) == len(self.pending[i].paths)]
        for index in done:
            self._write(self.pending.pop(index), self.rows.pop(index))
        return done

    @property
    def in_flight(self) -> int:
        return len(self.rows)

    def _write(self, shard: Shard, records: list[dict[str, Any]]) -> None:
        records.sort(key=lambda r: int(r["position"]))
        if [r["path"] for r in records] != list(shard.paths):
            raise ValueError(f"{shard.name}: the rows do not match its paths")
        _copy_duplicate_scores(records)
        rows = [scan_row(r, self._prediction(r)) for r in records]
        table = pa.Table.from_pylist(rows, schema=SCHEMA)
        nodes = sorted({str(r["node"]) for r in records if r.get("node")})
        self.folder.write_part(shard, table, {"nodes": nodes})
        self.written.append(shard.index)

    def _prediction(self, record: Mapping[str, Any]) -> Prediction | None:
        prob = record.get("probability_fake")
        if prob is None or record.get("error") or math.isnan(float(prob)):
            return None
        return self.verdicts(float(prob))


def _copy_duplicate_scores(records: list[dict[str, Any]]) -> None:
    """A duplicate was not scored: it takes the score of the first file with its bytes."""
    by_path = {r["path"]: r for r in records}
    for record in records:
        first = record.get("duplicate_of")
        if first:
            source = by_path[first]
            record["probability_fake"] = source.get("probability_fake")
            record["face_box"] = source.get("face_box")
            record["backend"] = source.get("backend")
