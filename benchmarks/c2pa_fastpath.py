"""The C2PA fast path (`fakescope.provenance.c2pa_precheck`) against the parser forced on every
file, in the same run: per-file provenance read time, the scan's read of a picture, and
`fakescope predict` CPU seconds.

    PYTHONPATH=src python benchmarks/c2pa_fastpath.py --folder /tmp/scan_bench/faces2000 \\
        --checkpoint /tmp/scan_bench/detector/best.pt

The two modes alternate, round by round, so a change in the machine's load hits both. With
`--scan-folder DIR --baseline SRC`, also `fakescope scan DIR` (as `scan_speed.py` runs it, batch
size 64) from SRC (the code before the fast path) and from this tree, alternating.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make the `benchmarks` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.scan_speed import read_only, scan_run, usable_cores
from fakescope.provenance import c2pa_reader
from fakescope.provenance.reader import expand_paths, read_provenance

# `fakescope predict` with the parser forced: the pre-check answers "maybe" for every file.
FORCED_PREDICT = ("import sys; import fakescope.provenance.c2pa_reader as r; "
                  "r.may_hold_manifest = lambda data: True; "
                  "from fakescope.cli import main; sys.exit(main(sys.argv[1:]))")
FAST_PREDICT = "import sys; from fakescope.cli import main; sys.exit(main(sys.argv[1:]))"


@contextmanager
def parser_forced(forced: bool) -> Iterator[None]:
    original = c2pa_reader.may_hold_manifest
    if forced:
        c2pa_reader.may_hold_manifest = lambda _data: True
    try:
        yield
    finally:
        c2pa_reader.may_hold_manifest = original


def per_file_us(items: list[Any], read: Callable[[Any], Any]) -> float:
    started = time.perf_counter()
    for item in items:
        read(item)
    return 1e6 * (time.perf_counter() - started) / len(items)


def predict_cpu(code: str, folder: Path, checkpoint: Path, out: Path) -> dict[str, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code, "predict", str(folder), "--checkpoint",
                    str(checkpoint), "--quiet", "--out", str(out)], check=True,
                   stdout=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": time.perf_counter() - started, "cpu_s": cpu}


def scan_pairs(args: argparse.Namespace) -> dict[str, list[dict[str, Any]]]:
    """`fakescope scan` from the baseline tree and from this one, alternating."""
    options = argparse.Namespace(workers=usable_cores(), batch_size=64, actors=None)
    runs: dict[str, list[dict[str, Any]]] = {"before": [], "after": []}
    for _ in range(args.scan_rounds):
        for mode, source in (("before", args.baseline), ("after", None)):
            load = os.getloadavg()[0]
            result = scan_run(args.checkpoint, args.scan_folder, Path(f"/tmp/c2pa_scan_{mode}"),
                              options, source)
            runs[mode].append({"load_average_1min_before": load, **{k: result[k] for k in (
                "command", "rows", "seconds", "cpu_seconds", "steady_images_per_second",
                "peak_pss_mib")}})
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, required=True)
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--scan-folder", type=Path, help="also scan this folder, before/after")
    parser.add_argument("--baseline", help="src folder of the code before the fast path")
    parser.add_argument("--scan-rounds", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/c2pa_fastpath.json"))
    args = parser.parse_args()
    paths = expand_paths([str(args.folder)])
    contents = [p.read_bytes() for p in paths]
    load_before = os.getloadavg()[0]
    read_times: dict[str, list[float]] = {"forced": [], "fast": []}
    c2pa_times: dict[str, list[float]] = {"forced": [], "fast": []}
    for mode in ("forced", "fast"):  # warm-up: imports, the shared c2pa context, the page cache
        with parser_forced(mode == "forced"):
            per_file_us(paths[:100], read_provenance)
    for _ in range(args.rounds):
        for mode in ("forced", "fast"):
            with parser_forced(mode == "forced"):
                read_times[mode].append(per_file_us(paths, read_provenance))
                c2pa_times[mode].append(per_file_us(contents, c2pa_reader.read_c2pa))
    read_only_us: dict[str, list[float]] = {"forced": [], "fast": []}
    for _ in range(args.rounds):  # the scan's read of a picture: bytes, hash, provenance, decode
        for mode in ("forced", "fast"):
            with parser_forced(mode == "forced"):
                read_only_us[mode].append(1e6 / read_only(args.checkpoint, args.folder))
    predict: dict[str, list[dict[str, float]]] = {"forced": [], "fast": []}
    out = Path("/tmp/c2pa_fastpath_predict.json")
    for _ in range(args.rounds):
        for mode, code in (("forced", FORCED_PREDICT), ("fast", FAST_PREDICT)):
            predict[mode].append(predict_cpu(code, args.folder, args.checkpoint, out))
    rows = json.loads(out.read_text())
    scans = scan_pairs(args) if args.scan_folder and args.baseline else {}
    result: dict[str, Any] = {
        "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "files": len(paths), "predict_rows": len(rows), "rounds": args.rounds,
        "load_average_1min": [load_before, os.getloadavg()[0]],
        "scan": scans, "read_provenance_us": read_times, "read_c2pa_us": c2pa_times,
        "scan_read_files_us": read_only_us,
        "predict": predict,
    }
    for name, times in (("read_provenance", read_times), ("read_c2pa", c2pa_times),
                        ("scan_read_files", read_only_us)):
        result[f"{name}_median_us"] = {m: statistics.median(t) for m, t in times.items()}
    result["predict_median_cpu_s"] = {
        m: statistics.median(r["cpu_s"] for r in runs) for m, runs in predict.items()}
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if "median" in k or "load" in k}, indent=2))


if __name__ == "__main__":
    main()
