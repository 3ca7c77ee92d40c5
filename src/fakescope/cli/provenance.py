"""`fakescope provenance`: what image files say about their own origin."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from fakescope.cli.argtypes import positive_int
from fakescope.cli.errors import EXIT_CODES, SOME_INPUTS_FAILED
from fakescope.cli.outputs import (
    add_row_outputs,
    refuse_data_files_as_inputs,
    row_output,
    write_rows,
)
from fakescope.formatting import format_table


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "provenance",
        help="C2PA manifest, generator metadata and camera EXIF of image files: a verdict "
        "beside the detector's (metadata is a claim, not proof)",
        epilog=EXIT_CODES,
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="image files, folders or globs")
    add_row_outputs(parser, "findings (JSON: every piece of evidence; CSV: a row per file)")
    parser.add_argument("--trust-anchors", metavar="PEM",
                        help="CA certificates whose C2PA signers count as trusted (none by "
                        "default: a valid signature is then 'valid-untrusted')")
    parser.add_argument("--max-mib", type=positive_int, default=64,
                        help="read at most this many MiB of a file (default 64); larger files "
                        "get their metadata read from the start and no C2PA check")
    parser.add_argument("--all", action="store_true",
                        help="list every piece of evidence under each file in the table")
    parser.set_defaults(handler=_provenance)


def _provenance(args: argparse.Namespace) -> int:
    from fakescope.provenance.evidence import MIB, ProvenanceLimits
    from fakescope.provenance.reader import expand_paths, load_trust_anchors, read_many, to_json
    from fakescope.provenance.verdict import CAVEAT

    refuse_data_files_as_inputs(args.paths)
    paths = expand_paths(args.paths)
    extra = [Path(args.trust_anchors)] if args.trust_anchors else []
    output = row_output(args, [*paths, *extra])
    limits = ProvenanceLimits(max_file_bytes=args.max_mib * MIB)
    anchors = load_trust_anchors(args.trust_anchors)
    results = read_many(paths, limits, anchors)
    write_rows(output, lambda form: to_json(results) if form == "json" else _csv(results))
    if output.stdout is None:
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
    return SOME_INPUTS_FAILED if any(r.verdict is None for r in results) else 0


def _csv(results: Sequence[object]) -> str:
    from fakescope.formatting import csv_text
    from fakescope.provenance.reader import COLUMNS, Provenance

    rows = []
    for result in results:
        assert isinstance(result, Provenance)
        rows.append({"path": result.path, **result.columns(), "summary": result.summary,
                     "error": result.error or ""})
    return csv_text(["path", *COLUMNS, "summary", "error"], rows)
