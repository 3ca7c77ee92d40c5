"""What a scan reads: folders, globs and manifests expanded into paths, cut into shards.

The shards are a pure function of the inputs and the shard size (paths in the order given,
folders sorted, each path once), so a rerun over the same inputs cuts the same shards and can
skip those already written. Each shard carries a fingerprint of its paths: a rerun whose
inputs changed is told so instead of mixing two listings in one output folder.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from fakescope.config import ConfigError
from fakescope.errors import BadFileError
from fakescope.inference.predict import expand_inputs

MANIFEST_SUFFIXES = (".csv", ".parquet")
PATH_COLUMN = "path"


@dataclass(frozen=True)
class Shard:
    """Paths `start` to `start + len(paths)` of the scan's listing."""

    index: int
    start: int
    paths: tuple[str, ...]

    @property
    def fingerprint(self) -> str:
        return paths_fingerprint(self.paths)

    @property
    def name(self) -> str:
        return f"shard-{self.index:06d}"


def paths_fingerprint(paths: Sequence[str]) -> str:
    """SHA-256 over the paths in order (NUL-separated: no path holds a NUL)."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.encode("utf-8", "surrogateescape") + b"\0")
    return digest.hexdigest()


def is_manifest(source: str) -> bool:
    return Path(source).suffix.lower() in MANIFEST_SUFFIXES and Path(source).is_file()


def read_manifest(path: str | Path) -> list[str]:
    """The `path` column of a CSV or Parquet manifest; relative paths are taken from the
    manifest's folder, so a listing can travel with its pictures."""
    path = Path(path)
    values = _parquet_paths(path) if path.suffix.lower() == ".parquet" else _csv_paths(path)
    base = path.parent
    return [str(p if Path(p).is_absolute() else base / p) for p in values]


def _csv_paths(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if PATH_COLUMN not in (reader.fieldnames or []):
            raise BadFileError(f"{path}: a manifest needs a '{PATH_COLUMN}' column")
        return [row[PATH_COLUMN] for row in reader if row[PATH_COLUMN]]


def _parquet_paths(path: Path) -> list[str]:
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except Exception as err:  # pyarrow raises its own errors for a file that is not Parquet
        raise BadFileError(f"{path}: not a Parquet file ({err})") from err
    if PATH_COLUMN not in schema.names:
        raise BadFileError(f"{path}: a manifest needs a '{PATH_COLUMN}' column")
    column = pq.read_table(path, columns=[PATH_COLUMN]).column(PATH_COLUMN)
    return [str(value) for value in column.to_pylist() if value]


def expand_sources(sources: Sequence[str]) -> list[str]:
    """Every path the scan reads, in order, each once: manifests by their `path` column,
    folders and globs as `predict` expands them (a pattern matching nothing is kept, so its
    row reports it)."""
    if not sources:
        raise ConfigError("scan needs at least one folder, glob or manifest")
    found: list[str] = []
    for source in sources:
        if is_manifest(source):
            found.extend(read_manifest(source))
        else:
            found.extend(str(p) for p in expand_inputs([source]))
    return list(dict.fromkeys(found))


def cut_shards(paths: Sequence[str], shard_size: int) -> Iterator[Shard]:
    """Consecutive shards of `shard_size` paths (the last may be shorter)."""
    if shard_size < 1:
        raise ConfigError(f"shard size must be at least 1, got {shard_size}")
    for index, start in enumerate(range(0, len(paths), shard_size)):
        yield Shard(index, start, tuple(paths[start : start + shard_size]))
