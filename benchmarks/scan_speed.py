"""`fakescope scan` speed and memory against compute-only ONNX Runtime and against `predict`.

    PYTHONPATH=src python benchmarks/scan_speed.py --images 10000 --predict --baseline OLD/src
    PYTHONPATH=src python benchmarks/scan_speed.py --images 100000
    PYTHONPATH=src python benchmarks/scan_speed.py --two-nodes 1000

For each size: synthetic 64 px faces (`fakescope.data.synth`, half stand-in fakes), a small
64 px DCGAN-discriminator detector (untrained weights with spread BatchNorm statistics: speed
does not depend on the weights) exported to ONNX beside its checkpoint, then, one after another

- the scan (`fakescope scan`, a subprocess with its local Ray): wall time from start to summary,
  steady-state images/s between the first and the last part file, and the batch size its
  probe chose; with --baseline, the same command run from another source tree first;
- compute-only: the ONNX graph on pre-decoded, normalised batches of the same images, at the
  batch size the scan used, with one thread and with every core;
- read-only: what one core reads (bytes, SHA-256, provenance, decode, resize) per second,
  the scan's own `read_files` on the first images, which bounds the scan on this machine;
- `predict` on the same folder (with --predict), its ONNX backend (the same export);
- peak memory of each command's process tree, as the sum of the processes' proportional set
  sizes (PSS: shared pages, e.g. Ray's object store, counted once), and the tree's CPU seconds,
  both sampled every half second.

Results are merged into benchmarks/results/scan_speed.json by run name; the load average is recorded
before and after each run, because the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fakescope.data.images import load_image
from fakescope.data.synth import synthesize_dataset
from fakescope.data.transforms import Normalizer
from fakescope.export.onnx_export import export_onnx
from fakescope.inference.artifacts import default_onnx_path
from fakescope.inference.predict import model_input
from fakescope.inference.runtime import OnnxDetector
from fakescope.models.registry import build_detector, load_detector, save_detector
from fakescope.speed import usable_cores

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "scan_speed.json"
DETECTOR, KWARGS = "dcgan_disc64", {"base_width": 16}
COMPUTE_BATCHES = 30


def faces(work: Path, n: int) -> Path:
    """n synthetic 64 px faces (n/2 real, n/2 stand-in fakes), made once per size."""
    folder = work / f"faces{n}"
    if len(list(folder.glob("*/*.jpg"))) != n:
        synthesize_dataset(folder, n // 2, size=64, seed=0, fakes=True)
    return folder


def checkpoint(work: Path) -> Path:
    path = work / "detector" / "best.pt"
    if not path.is_file():
        from export.tiny_models import spread_outputs  # tests/ on sys.path, see main()

        torch.manual_seed(0)
        model = spread_outputs(build_detector(DETECTOR, **KWARGS), 64, seed=1)
        save_detector(path, model, DETECTOR, KWARGS, model.input_spec)
        export_onnx(load_detector(path), default_onnx_path(path))
    return path


def compute_only(ck: Path, folder: Path, batch: int, threads: int) -> float:
    """Images/s of the ONNX graph alone on pre-decoded, normalised batches of the images."""
    loaded = load_detector(ck)
    normalizer = Normalizer(loaded.input_spec)
    paths = sorted(folder.glob("*/*.jpg"))[:batch]
    arrays = [model_input(load_image(p), loaded.input_spec)[0] for p in paths]
    images = normalizer(torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2))
    model = OnnxDetector(default_onnx_path(ck), threads=threads)
    model(images)  # warm-up
    started = time.perf_counter()
    for _ in range(COMPUTE_BATCHES):
        model(images)
    return COMPUTE_BATCHES * len(images) / (time.perf_counter() - started)


def _tree(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children")
    try:
        kids = [int(c) for c in children.read_text().split()]
    except OSError:
        return []
    return [pid, *(p for kid in kids for p in _tree(kid))]


def _cpu_seconds(pid: int) -> float:
    """User and system CPU seconds of one process so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _pss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def measured(command: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Wall seconds, peak PSS and CPU seconds of the command's process tree (Ray's processes
    included: they are started by the command; a process's last half second may be missed)."""
    load_before = os.getloadavg()
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, start_new_session=True, env=env)
    peak = [0]
    cpu: dict[int, float] = {}

    def sample() -> None:
        while process.poll() is None:
            tree = _tree(process.pid)
            peak[0] = max(peak[0], sum(_pss_kib(p) for p in tree))
            cpu.update({p: max(cpu.get(p, 0.0), _cpu_seconds(p)) for p in tree})
            time.sleep(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output, _ = process.communicate()
    seconds = time.perf_counter() - started
    sampler.join()
    if process.returncode != 0:
        raise RuntimeError(f"{command} failed:\n{output[-3000:]}")
    return {"seconds": seconds, "peak_pss_mib": peak[0] / 1024,
            "cpu_seconds": sum(cpu.values()), "load_before": load_before,
            "load_after": os.getloadavg(), "output_tail": output.strip().splitlines()[-3:]}


def steady_rate(out: Path) -> float | None:
    """Images/s between the first and the last part file written (Ray's start-up excluded)."""
    ledger = [json.loads(line) for line in (out / "ledger.jsonl").read_text().splitlines()]
    parts = sorted(((out / "parts" / f"{e['name']}.parquet").stat().st_mtime, e["rows"])
                   for e in ledger)
    if len(parts) < 2:
        return None
    return sum(rows for _, rows in parts[1:]) / (parts[-1][0] - parts[0][0])


def scan_run(
    ck: Path, folder: Path, out: Path, args: argparse.Namespace, source: str | None = None
) -> dict[str, Any]:
    """`fakescope scan` of the folder, from this tree or from `source` (another src folder)."""
    command = [sys.executable, "-m", "fakescope", "scan", str(folder), "--checkpoint", str(ck),
               "--out", str(out), "--workers", str(args.workers), "--quiet"]
    if args.batch_size or source:  # the code before the probe had no default to probe
        command += ["--batch-size", str(args.batch_size or 64)]
    if args.actors:
        command += ["--actors", str(args.actors)]
    env = {**os.environ, "PYTHONPATH": source or str(HERE.parent / "src")}
    subprocess.run(["rm", "-rf", str(out)], check=True)
    result = measured(command, env)
    summary = json.loads((out / "summary.json").read_text())
    result.update(command=" ".join(command[1:]), rows=summary["rows"],
                  errors=summary["errors"], steady_images_per_second=steady_rate(out),
                  batch_size=summary.get("batch_size"), probes=summary.get("probes"))
    result["images_per_second"] = summary["rows"] / result["seconds"]
    result["cpu_ms_per_image"] = 1000 * result["cpu_seconds"] / summary["rows"]
    return result


def read_only(ck: Path, folder: Path, n: int = 2000) -> float:
    """Images/s one core reads, as a scan actor does (bytes, hash, provenance, decode)."""
    from fakescope.scan.files import InputSettings, read_files

    settings = InputSettings(load_detector(ck).input_spec)
    paths = [str(p) for p in sorted(folder.glob("*/*.jpg"))[:n]]
    read_files(paths[:50], settings)  # warm-up
    started = time.perf_counter()
    read_files(paths, settings)
    return len(paths) / (time.perf_counter() - started)


def predict_run(ck: Path, folder: Path, out: Path) -> dict[str, Any]:
    command = [sys.executable, "-m", "fakescope", "predict", str(folder), "--checkpoint",
               str(ck), "--quiet", "--out", str(out)]
    result = measured(command)
    rows = json.loads(out.read_text())
    result.update(command=" ".join(command[1:]), rows=len(rows),
                  images_per_second=len(rows) / result["seconds"],
                  cpu_ms_per_image=1000 * result["cpu_seconds"] / len(rows))
    return result


def two_nodes(ck: Path, folder: Path, work: Path, n: int) -> dict[str, Any]:
    """A scan of n images on two simulated nodes (ray.cluster_utils.Cluster, 2 logical CPUs
    each on this 2-core machine, loopback only), one scoring actor per node, against the same
    scan on one local node."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    import ray
    import ray._private.ray_constants as ray_constants
    from ray.cluster_utils import Cluster as RayCluster

    from fakescope.scan.job import ScanJob, run_scan
    from fakescope.scan.ledger import ScanFolder
    from fakescope.scan.rows import TIMING_COLUMNS
    from fakescope.scan.session import Cluster

    manifest = work / f"first{n}.parquet"
    paths = [str(p) for p in sorted(folder.glob("*/*.jpg"))[:n]]
    pq.write_table(pa.table({"path": paths}), manifest)
    ray_constants.ENABLE_RAY_CLUSTER = False  # keep both nodes on 127.0.0.1
    local = {"node_ip_address": "127.0.0.1", "include_dashboard": False}
    cluster = RayCluster(initialize_head=True, head_node_args={"num_cpus": 2, **local})
    cluster.add_node(num_cpus=2, **local)
    two_out, one_out = work / f"two{n}", work / f"one{n}"
    try:
        ray.init(address=cluster.address, log_to_driver=False)
        two = run_scan(ScanJob((str(manifest),), str(ck), str(two_out),
                               cluster=Cluster(actors=2, actor_threads=2)))
    finally:
        ray.shutdown()
        cluster.shutdown()
    one = run_scan(ScanJob((str(manifest),), str(ck), str(one_out), cluster=Cluster(workers=2)))

    def table(out: Path) -> pa.Table:
        merged = pa.concat_tables(pq.read_table(p) for p in ScanFolder(out).part_files())
        return merged.drop_columns(list(TIMING_COLUMNS))

    a, b = table(two_out), table(one_out)
    same_but_p = a.drop_columns(["probability_fake"]).equals(b.drop_columns(["probability_fake"]))
    p_diff = float(np.nanmax(np.abs(
        np.array(a.column("probability_fake").to_pylist(), dtype=float)
        - np.array(b.column("probability_fake").to_pylist(), dtype=float))))
    nodes = pq.read_table(two_out / "parts", columns=["node"]).column("node").to_pylist()
    return {"images": n, "rows_per_node": dict(Counter(nodes)),
            "shards_per_node": two.summary["nodes"], "two_node_seconds": two.seconds,
            "one_node_seconds": one.seconds, "tables_equal_except_p_fake": same_but_p,
            "max_p_fake_difference": p_diff}


def _lscpu() -> dict[str, Any]:
    fields = dict(line.split(":", 1) for line in subprocess.run(
        ["lscpu"], capture_output=True, text=True, check=True).stdout.splitlines() if ":" in line)
    flags = fields.get("Flags", "").split()
    wanted = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile")
    return {"model": fields.get("Model name", "").strip(), "cpus": fields.get("CPU(s)", "").strip(),
            "flags": [f for f in wanted if f in flags]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, nargs="*", default=[])
    parser.add_argument("--predict", action="store_true", help="also time predict")
    parser.add_argument("--baseline", metavar="SRC", help="also scan with the code in SRC")
    parser.add_argument("--two-nodes", type=int, metavar="N", help="two-node run of N images")
    parser.add_argument("--work", default="/tmp/scan_bench")
    parser.add_argument("--workers", type=int, default=usable_cores())
    parser.add_argument("--actors", type=int)
    parser.add_argument("--batch-size", type=int, help="default: the scan's probe picks")
    args = parser.parse_args()
    sys.path.insert(0, str(HERE.parent / "tests"))
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    ck = checkpoint(work)
    results = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    results["machine"] = {**_lscpu(), "cores": usable_cores(), "python": platform.python_version()}
    for n in args.images:
        folder = faces(work, n)
        run: dict[str, Any] = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                               "detector": f"{DETECTOR} {KWARGS}"}
        if args.baseline:
            run["baseline_scan"] = scan_run(ck, folder, work / f"base{n}", args, args.baseline)
        run["scan"] = scan_run(ck, folder, work / f"scan{n}", args)
        sizes = run["scan"]["batch_size"] or {"64": 1}
        batch = int(max(sizes, key=sizes.__getitem__))
        run["batch_size"] = batch
        run["compute_only_1_thread"] = compute_only(ck, folder, batch, 1)
        run["compute_only_all_cores"] = compute_only(ck, folder, batch, usable_cores())
        run["read_only_1_core"] = read_only(ck, folder)
        if args.predict:
            run["predict"] = predict_run(ck, folder, work / f"predict{n}.json")
        variant = "" if args.workers == usable_cores() else f"_workers{args.workers}"
        results[f"images_{n}{variant}"] = run
        RESULTS.write_text(json.dumps(results, indent=2) + "\n")
        print(json.dumps({k: v for k, v in run.items() if "scan" not in k}, indent=2))
        for key in ("baseline_scan", "scan"):
            if key in run:
                print(key, {k: run[key][k] for k in ("seconds", "steady_images_per_second",
                                                     "cpu_seconds", "peak_pss_mib")})
    if args.two_nodes:
        results[f"two_nodes_{args.two_nodes}"] = two_nodes(
            ck, faces(work, max(args.images or [args.two_nodes])), work, args.two_nodes)
        RESULTS.write_text(json.dumps(results, indent=2) + "\n")
        print(json.dumps(results[f"two_nodes_{args.two_nodes}"], indent=2))


if __name__ == "__main__":
    main()
