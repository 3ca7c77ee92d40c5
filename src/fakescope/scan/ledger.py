"""The output folder of a scan: its settings, its finished shards and their part files.

    DIR/scan.json        what was scanned and how (sources, checkpoint, shard size, listing
                         fingerprint); a rerun into DIR must match it
    DIR/parts/shard-NNNNNN.parquet   one finished shard's rows
    DIR/ledger.jsonl     one line per finished shard, appended after its part file is in place
    DIR/duplicates.json  the hash pass's result: each file repeating an earlier file's bytes,
                         and that file (written once, so a resumed scan does not hash again)

A part file is written under a temporary name, flushed to disk and renamed into place, so it is
either whole or absent; its ledger line follows. A shard counts as finished when both exist:
a kill between the rename and the ledger line only costs that shard's work again, whose rerun
replaces the file with the same rows. So a kill at any moment loses at most the shards in
flight and never duplicates or drops a row.
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from fakescope.config import ConfigError
from fakescope.scan.hashes import Duplicate
from fakescope.scan.sources import Shard

PLAN_FILE = "scan.json"
LEDGER_FILE = "ledger.jsonl"
DUPLICATES_FILE = "duplicates.json"
PARTS = "parts"
PARTIAL_SUFFIX = ".partial"
# Settings that change a row; a rerun into the same folder must agree on all of them.
BINDING_SETTINGS = ("listing_sha256", "paths", "shard_size", "checkpoint_sha256", "face_crop")


class ScanFolder:
    """A scan's output folder; see the module docstring."""

    def __init__(self, out: str | Path) -> None:
        self.out = Path(out)
        self.parts = self.out / PARTS
        self.ledger_path = self.out / LEDGER_FILE
        self.plan_path = self.out / PLAN_FILE

    def recorded_plan(self) -> dict[str, Any] | None:
        """The settings of the scan already in this folder, or None for a new folder."""
        if not self.plan_path.is_file():
            return None
        plan: dict[str, Any] = json.loads(self.plan_path.read_text())
        return plan

    def required_plan(self) -> dict[str, Any]:
        """The settings of the scan in this folder, for a resume; a folder without one is a
        one-line error."""
        plan = self.recorded_plan()
        if plan is None:
            raise FileNotFoundError(f"{self.out}: no scan to resume here (no {PLAN_FILE})")
        return plan

    def open(self, plan: Mapping[str, Any]) -> None:
        """Start or continue the scan `plan` here; a folder holding another scan is refused."""
        recorded = self.recorded_plan()
        if recorded is not None:
            changed = [k for k in BINDING_SETTINGS if recorded.get(k) != plan.get(k)]
            if changed:
                raise ConfigError(
                    f"{self.out} holds a scan with other {', '.join(changed)}; "
                    "scan into another --out folder (or rerun the same command to resume)"
                )
        self.parts.mkdir(parents=True, exist_ok=True)
        for partial in self.parts.glob(f"*{PARTIAL_SUFFIX}"):
            partial.unlink()  # a part file a kill interrupted: its shard is redone
        self._drop_torn_line()
        if recorded is None:
            _write_atomically(self.plan_path, json.dumps(dict(plan), indent=2).encode())

    def _drop_torn_line(self) -> None:
        """Cut a last line a kill left unfinished, so the next entry starts on its own line."""
        if not self.ledger_path.is_file():
            return
        data = self.ledger_path.read_bytes()
        if data and not data.endswith(b"\n"):
            with self.ledger_path.open("r+b") as handle:
                handle.truncate(data.rfind(b"\n") + 1)

    def duplicates(self) -> dict[str, Duplicate] | None:
        """The recorded hash pass, or None before one finished here."""
        path = self.out / DUPLICATES_FILE
        if not path.is_file():
            return None
        recorded = json.loads(path.read_text())
        return {p: Duplicate(*first) for p, first in recorded.items()}

    def record_duplicates(self, duplicates: Mapping[str, Duplicate]) -> None:
        data = {p: [d.path, d.sha256] for p, d in duplicates.items()}
        _write_atomically(self.out / DUPLICATES_FILE, json.dumps(data).encode())

    def finished_rows(
        self, paths: Collection[str], columns: Sequence[str]
    ) -> dict[str, dict[str, Any]]:  # fmt: skip
        """`columns` of the finished rows of `paths`, by path (read a batch at a time)."""
        wanted = set(paths)
        found: dict[str, dict[str, Any]] = {}
        if not wanted:
            return found
        for part in self.part_files():
            for batch in pq.ParquetFile(part).iter_batches(columns=list(columns)):
                for row in batch.to_pylist():
                    if row["path"] in wanted:
                        found[row["path"]] = row
        return found

    def part_path(self, shard: Shard) -> Path:
        return self.parts / f"{shard.name}.parquet"

    def finished(self) -> dict[int, dict[str, Any]]:
        """Ledger entries of the shards whose part file is in place, by shard index. A torn
        last line (a kill while appending) is ignored: its shard is simply redone."""
        if not self.ledger_path.is_file():
            return {}
        done: dict[int, dict[str, Any]] = {}
        for line in self.ledger_path.read_text().splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            if (self.parts / f"{entry['name']}.parquet").is_file():
                done[int(entry["shard"])] = entry
        return done

    def write_part(self, shard: Shard, table: pa.Table, info: Mapping[str, Any]) -> None:
        """Put the shard's rows in place, then record it in the ledger."""
        target = self.part_path(shard)
        partial = target.with_name(target.name + PARTIAL_SUFFIX)
        metadata = {b"fakescope.shard": str(shard.index).encode(),
                    b"fakescope.paths_sha256": shard.fingerprint.encode()}
        pq.write_table(table.replace_schema_metadata(metadata), partial)
        _fsync(partial)
        os.replace(partial, target)
        _fsync(self.parts)
        entry = {"shard": shard.index, "name": shard.name, "rows": table.num_rows,
                 "paths_sha256": shard.fingerprint, **info}
        with self.ledger_path.open("a") as handle:
            handle.write(json.dumps(entry) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def part_files(self) -> list[Path]:
        """The finished shards' part files, in shard order."""
        done = self.finished()
        return [self.parts / f"{done[index]['name']}.parquet" for index in sorted(done)]


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _write_atomically(path: Path, data: bytes) -> None:
    partial = path.with_name(path.name + PARTIAL_SUFFIX)
    partial.write_bytes(data)
    _fsync(partial)
    os.replace(partial, path)
