"""`fakescope provenance`: what image files say about their own origin."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from fakescope.formatting import format_table


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "provenance",
        help="C2PA manifest, generator metadata and camera EXIF of image files: a verdict "
        "beside the detector's (metadata is a claim, not proof)",
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="image files, folders or globs")
    parser.add_argument("--json", nargs="?", const="-", metavar="FILE",
                        help="write every piece of evidence as JSON to FILE (stdout without FILE)")
    parser.add_argument("--csv", nargs="?", const="-", metavar="FILE",
                        help="write one CSV row per file to FILE (stdout without FILE)")
    parser.add_argument("--trust-anchors", metavar="PEM",
                        help="CA certificates whose C2PA signers count as trusted (none by "
                        "default: a valid signature is then 'valid-untrusted')")
    parser.add_argument("--max-mib", type=int, default=64,
                        help="read at most this many MiB of a file (default 64); larger files "
                        "get their metadata read from the start and no C2PA check")
    parser.add_argument("--all", action="store_true",
                        help="list every piece of evidence under each file in the table")
    parser.set_defaults(handler=_provenance)


def _provenance(args: argparse.Namespace) -> int:
    from fakescope.provenance.evidence import MIB, ProvenanceLimits
    from fakescope.provenance.reader import expand_paths, load_trust_anchors, read_many, to_json
    from fakescope.provenance.verdict import CAVEAT

    limits = ProvenanceLimits(max_file_bytes=args.max_mib * MIB)
    anchors = load_trust_anchors(args.trust_anchors)
    results = read_many(expand_paths(args.paths), limits, anchors)
    if args.json:
        _emit(args.json, to_json(results))
    if args.csv:
        _emit(args.csv, _csv(results))
    if not (args.json == "-" or args.csv == "-"):
        rows = []
        for result in results:
            columns = result.columns()
            rows.append((result.path, columns["provenance"], columns["provenance_c2pa"] or "-",
                         columns["provenance_evidence"]))
            if args.all:
                rows += [("", e.signal, e.basis, f"{e.source}:{e.field}={e.value}")
                         for e in result.evidence]
        print(format_table(("path", "provenance", "c2pa", "evidence"), rows))
        print(CAVEAT)
    return 1 if any(r.verdict is None for r in results) else 0


def _csv(results: Sequence[object]) -> str:
    from fakescope.formatting import csv_bytes
    from fakescope.provenance.reader import COLUMNS, Provenance

    rows = []
    for result in results:
        assert isinstance(result, Provenance)
        rows.append({"path": result.path, **result.columns(), "summary": result.summary,
                     "error": result.error or ""})
    return csv_bytes(["path", *COLUMNS, "summary", "error"], rows).decode()


def _emit(target: str, text: str) -> None:
    if target == "-":
        sys.stdout.write(text)
    else:
        with open(target, "w", encoding="utf-8") as handle:
            handle.write(text)
