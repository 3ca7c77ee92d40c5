"""summary.json and summary.html of a scan, read back from its part files.

The parts are read a record batch at a time and only a few columns, so summarising a million
rows holds the counters, a histogram, the slowest and the failed files, and one 16-byte prefix
of each distinct hash (to count repeated bytes across shards), never the table.
"""

from __future__ import annotations

import heapq
import html
import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from fakescope.scan.ledger import ScanFolder

BINS = 20
SHOWN = 10  # slowest files listed
FAILED_SHOWN = 50
COLUMNS = ("path", "sha256", "duplicate_of", "probability_fake", "verdict", "decision",
           "provenance", "backend", "error", "read_seconds", "score_seconds")


def summarise(folder: ScanFolder) -> dict[str, Any]:
    """Counts per verdict, decision and provenance, the P(fake) histogram, the slowest and the
    failed files, and how many files repeat bytes seen earlier in the scan."""
    counts: dict[str, Counter[str]] = {k: Counter() for k in
                                       ("verdict", "decision", "provenance", "backend")}
    histogram = np.zeros(BINS, dtype=np.int64)
    slowest: list[tuple[float, str]] = []
    failed: list[dict[str, str]] = []
    seen: set[bytes] = set()
    rows = errors = duplicates = repeats = 0
    files = folder.part_files()
    for part in files:
        for batch in pq.ParquetFile(part).iter_batches(columns=list(COLUMNS)):
            data = batch.to_pydict()
            rows += batch.num_rows
            for key, counter in counts.items():
                counter.update("(none)" if v is None else str(v) for v in data[key])
            probs = np.array([p for p in data["probability_fake"] if p is not None], dtype=float)
            histogram += np.histogram(probs, bins=BINS, range=(0.0, 1.0))[0]
            for path, digest, first, error, read, score in zip(
                data["path"], data["sha256"], data["duplicate_of"], data["error"],
                data["read_seconds"], data["score_seconds"], strict=True,
            ):  # fmt: skip
                seconds = (read or 0.0) + (score or 0.0)
                heapq.heappush(slowest, (seconds, path))
                if len(slowest) > SHOWN:
                    heapq.heappop(slowest)
                if error:
                    errors += 1
                    if len(failed) < FAILED_SHOWN:
                        failed.append({"path": path, "error": error})
                duplicates += first is not None
                if digest:
                    prefix = bytes.fromhex(digest[:32])
                    repeats += prefix in seen
                    seen.add(prefix)
    ledger = folder.finished()
    return {
        "rows": rows,
        "scored": int(histogram.sum()),
        "errors": errors,
        "duplicates_scored_once": duplicates,
        "repeated_bytes": repeats,
        "distinct_files": len(seen),
        "counts": {k: dict(sorted(c.items())) for k, c in counts.items()},
        "histogram": {"bins": BINS, "counts": histogram.tolist()},
        "slowest": [{"path": p, "seconds": s} for s, p in sorted(slowest, reverse=True)],
        "failed": failed,
        "shards": len(files),
        "nodes": dict(sorted(Counter(n for e in ledger.values() for n in e["nodes"]).items())),
        # shards per scoring batch size, and each actor's probe when the scan left it open
        "batch_size": {str(k): v for k, v in sorted(Counter(
            e["batch_size"] for e in ledger.values() if e.get("batch_size")).items())},
        "probes": [probe for e in ledger.values() for probe in e.get("probes", [])],
    }


def write_summary(
    folder: ScanFolder, settings: dict[str, Any]
) -> tuple[dict[str, Any], list[Path]]:
    """Write DIR/summary.json and DIR/summary.html; returns the summary and the two paths."""
    summary = {**summarise(folder), "settings": settings}
    json_path = folder.out / "summary.json"
    html_path = folder.out / "summary.html"
    json_path.write_text(json.dumps(summary, indent=2, default=str) + "\n")
    html_path.write_text(summary_html(summary))
    return summary, [json_path, html_path]


def _table(header: tuple[str, ...], rows: list[tuple[Any, ...]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _histogram_svg(counts: list[int], width: int = 600, height: int = 160) -> str:
    top = max(counts) or 1
    bar = width / len(counts)
    bars = []
    for i, count in enumerate(counts):
        h = height * count / top
        low = i / len(counts)
        bars.append(
            f'<rect x="{i * bar:.1f}" y="{height - h:.1f}" width="{bar - 1:.1f}" height="{h:.1f}">'
            f"<title>P(fake) {low:.2f}-{low + 1 / len(counts):.2f}: {count}</title></rect>"
        )
    axis = (f'<text x="0" y="{height + 14}">0</text>'
            f'<text x="{width - 8}" y="{height + 14}">1</text>')
    return (f'<svg role="img" aria-label="P(fake) histogram" width="{width}" '
            f'height="{height + 18}">{"".join(bars)}{axis}</svg>')


def summary_html(summary: dict[str, Any]) -> str:
    """One self-contained page (no scripts, no external files)."""
    counts = summary["counts"]
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<title>fakescope scan summary</title><style>",
        "body{font-family:sans-serif;margin:2em;max-width:60em}table{border-collapse:collapse;"
        "margin:0 0 1.5em}td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left}"
        "rect{fill:#4a78b5}",
        "</style></head><body><h1>fakescope scan</h1>",
        f"<p id='totals'>{summary['rows']} files, {summary['scored']} scored, "
        f"{summary['errors']} failed, {summary['duplicates_scored_once']} duplicates scored once,"
        f" {summary['repeated_bytes']} files repeating earlier bytes; "
        f"{summary['shards']} shards.</p>",
    ]
    for key, title in (("verdict", "Verdicts"), ("decision", "Decisions"),
                       ("provenance", "Provenance")):
        parts.append(f"<h2>{title}</h2>")
        parts.append(_table((key, "files"), list(counts[key].items())))
    parts.append("<h2>P(fake) histogram</h2>")
    parts.append(_histogram_svg(summary["histogram"]["counts"]))
    parts.append("<h2>Slowest files</h2>")
    parts.append(_table(("path", "seconds"),
                        [(s["path"], f"{s['seconds']:.4f}") for s in summary["slowest"]]))
    parts.append(f"<h2>Failed files ({summary['errors']})</h2>")
    parts.append(_table(("path", "error"), [(f["path"], f["error"]) for f in summary["failed"]]))
    parts.append("</body></html>\n")
    return "\n".join(parts)
