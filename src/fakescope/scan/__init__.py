"""`fakescope scan`: score a large set of pictures into Parquet part files, resumably.

`sources` turns folders, globs and manifests into a sorted list of paths cut into deterministic
shards; `files` reads one file for its row (bytes, hash, provenance, model input); `rows` holds
the table's columns and builds a row; `ledger` writes each finished shard's part file
atomically and records it, so a rerun skips it; `pipeline` runs the shards through Ray Data
(CPU tasks decode, an actor pool scores); `summary` reads the parts back into summary.json and
summary.html. Only `pipeline` needs Ray.
"""
