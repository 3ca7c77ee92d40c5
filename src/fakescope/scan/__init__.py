"""`fakescope scan`: score a large set of pictures into Parquet part files, resumably.

`sources` turns folders, globs and manifests into a sorted list of paths cut into deterministic
shards; `hashes` finds the files that repeat an earlier file's bytes; `files` reads one file for
its row (bytes, hash, provenance, model input); `probe` picks the scoring batch size; `rows`
holds the table's columns and builds a row; `writer` and `ledger` write each finished shard's
part file atomically and record it, so a rerun skips it; `session` starts or joins Ray and
`pipeline` runs the shards through Ray Data (actors read and score); `summary` reads the parts
back into summary.json and summary.html. Only `session` and `pipeline` need Ray.
"""
