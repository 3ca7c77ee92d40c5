"""Training speed of `fakescope gan train` against the plain DCGAN recipe, on the same JPEGs.

    python benchmarks/gan_train.py --faces /tmp/fakescope_bench/faces --repeats 2

Makes (once) a folder of 2,000 synthetic 128x128 JPEG faces unless `--faces` already holds one,
then for each resolution runs, `--repeats` times, one epoch of `fakescope gan train` (batch 64,
paper 000's networks, its decode-once cache built beforehand and not timed) and one epoch of
`benchmarks/baseline_dcgan.py` (ImageFolder + PIL per step) for each worker count.
Both time the training loop only. Prints a Markdown table and the loss statistics of every run
(same architecture and optimizer: the losses must agree in distribution), and writes them as
JSON to `--out`.

On a shared machine the load changes between runs by more than the difference being measured,
so `--interleaved` instead runs both recipes in one process, one iteration of each in turn
(data fetch included; baseline without workers so its decoding is timed in its own turn):
whatever the machine does affects both alike.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

HERE = Path(__file__).resolve().parent
BASE_WIDTH = {64: 64, 128: 32}  # paper 000 Tables IV/V and I/II


def ensure_faces(folder: Path, n: int, size: int) -> Path:
    real = folder / "real"
    if real.is_dir() and len(list(real.glob("*.jpg"))) >= n:
        return folder
    from fakescope.data.synth import synthesize_dataset

    synthesize_dataset(folder, n=n, size=size, seed=0)
    return folder


def build_cache(faces: Path, work: Path, resolution: int) -> None:
    """Decode the faces once into the cache, as `fakescope data cache --gan` does (not timed)."""
    from fakescope.config import DataConfig
    from fakescope.data.pipeline import prepare_data
    from fakescope.data.transforms import InputSpec

    config = DataConfig(path=str(faces), cache_dir=str(work / "cache"), image_size=resolution)
    prepare_data(config, InputSpec(size=resolution), labelled=False)


def load_baseline() -> Any:
    spec = importlib.util.spec_from_file_location("baseline_dcgan", HERE / "baseline_dcgan.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def endless(make_loader: Any) -> Iterator[torch.Tensor]:
    """Batches of images from successive epochs of `make_loader(epoch)`."""
    epoch = 0
    while True:
        for images, _ in make_loader(epoch):
            yield images
        epoch += 1


def run_interleaved(faces: Path, work: Path, resolution: int, steps: int) -> dict[str, Any]:
    """One fakescope iteration, then one baseline iteration, `steps` times (order alternating)."""
    from fakescope.config import load_config
    from fakescope.data.pipeline import prepare_data
    from fakescope.gan.config import GanJobConfig, validate
    from fakescope.gan.train import GanTrainer, gan_input_spec
    from fakescope.reproducibility import seed_everything
    from fakescope.runs import open_run

    config = validate(load_config(GanJobConfig, overrides={
        "data.path": str(faces), "data.cache_dir": str(work / "cache"),
        "run.root": str(work / "runs"), "run.name": f"interleaved{resolution}",
        "model.resolution": resolution, "model.base_width": BASE_WIDTH[resolution],
        "train.batch_size": 64,
    }))
    seed_everything(0)
    prepared = prepare_data(config.data, gan_input_spec(config), labelled=False)
    trainer = GanTrainer(config, prepared, open_run(config.run.root, config.run.name, config),
                         torch.device("cpu"))
    ours_batches = endless(lambda e: prepared.loader("train", 64, shuffle=True, epoch=e))
    baseline = load_baseline().BaselineRecipe(str(faces), resolution, 64, workers=0)
    base_batches = endless(lambda e: baseline.loader)

    def ours() -> dict[str, float]:
        real = next(ours_batches).contiguous(memory_format=trainer.memory_format)
        return trainer.train_step(real)

    def base() -> dict[str, float]:
        return baseline.step(next(base_batches))

    recipes = {"fakescope": ours, "baseline": base}
    for step in recipes.values():  # warm-up: first-call allocations and kernel choices
        step()
    wall = dict.fromkeys(recipes, 0.0)
    cpu = dict.fromkeys(recipes, 0.0)
    history: dict[str, list[dict[str, str]]] = {name: [] for name in recipes}
    for i in range(steps):
        for name in (list(recipes) if i % 2 == 0 else list(recipes)[::-1]):
            start_wall, start_cpu = time.perf_counter(), time.process_time()
            values = recipes[name]()
            wall[name] += time.perf_counter() - start_wall
            cpu[name] += time.process_time() - start_cpu
            history[name].append({k: str(v) for k, v in values.items()})
    images = steps * 64
    return {
        "resolution": resolution, "steps": steps,
        **{name: {"images_per_s": round(images / wall[name], 2),
                  "cpu_ms_per_image": round(1000 * cpu[name] / images, 2),
                  "losses": loss_stats(history[name])} for name in recipes},
        "speedup_wall": round(wall["baseline"] / wall["fakescope"], 3),
        "speedup_cpu": round(cpu["baseline"] / cpu["fakescope"], 3),
    }


def loss_stats(rows: list[dict[str, str]]) -> dict[str, dict[str, float]]:
    stats = {}
    for key in ("loss_d", "loss_g", "d_real", "d_fake"):
        values = [float(r[key]) for r in rows]
        stats[key] = {"mean": round(statistics.fmean(values), 4),
                      "std": round(statistics.pstdev(values), 4)}
    return stats


def run_fakescope(faces: Path, work: Path, resolution: int, name: str) -> dict[str, Any]:
    command = [
        sys.executable, "-c", "import sys; from fakescope.cli import main; sys.exit(main())",
        "gan", "train", "--data", str(faces),
        "--root", str(work / "runs"), "--name", name, "--resolution", str(resolution),
        "--batch-size", "64", "--epochs", "1",
        "--set", f"model.base_width={BASE_WIDTH[resolution]}",
        "--set", f"data.cache_dir={work / 'cache'}",
        "--set", "train.metrics_every=0", "--set", "collapse.enabled=false",
        "--set", "train.sample_every=0",
    ]
    subprocess.run(command, check=True, capture_output=True)
    run = work / "runs" / name
    with (run / "epochs.csv").open() as handle:
        epoch = next(csv.DictReader(handle))
    with (run / "metrics.csv").open() as handle:
        iterations = list(csv.DictReader(handle))
    return {
        "recipe": "fakescope gan train (decode-once cache)",
        "resolution": resolution,
        "images_per_s": float(epoch["images_per_s"]),
        "seconds": float(epoch["seconds"]),
        "cpu_s": float(epoch["cpu_s"]),
        "losses": loss_stats(iterations),
    }


def run_baseline(faces: Path, work: Path, resolution: int, workers: int) -> dict[str, Any]:
    out = work / f"baseline_{resolution}_{workers}.json"
    subprocess.run([
        sys.executable, str(HERE / "baseline_dcgan.py"), "--data", str(faces),
        "--resolution", str(resolution), "--workers", str(workers), "--epochs", "1",
        "--out", str(out),
    ], check=True, capture_output=True)
    return json.loads(out.read_text())


def report_interleaved(faces: Path, n_images: int, args: argparse.Namespace) -> None:
    results = []
    with tempfile.TemporaryDirectory(prefix="fakescope_bench_") as tmp:
        for resolution in args.resolutions:
            for repeat in range(args.repeats):
                result = run_interleaved(faces, Path(tmp) / f"r{repeat}", resolution, args.steps)
                result["repeat"] = repeat
                results.append(result)
                print(f"{resolution}px repeat {repeat}: {result['speedup_wall']}x wall, "
                      f"{result['speedup_cpu']}x CPU", file=sys.stderr)
    print(f"\n{n_images} JPEG faces, batch 64, {args.steps} iterations of each recipe, "
          "interleaved one by one in one process\n")
    print("| resolution | repeat | fakescope img/s | baseline img/s | speed-up (wall) "
          "| fakescope CPU ms/img | baseline CPU ms/img | speed-up (CPU) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        ours, base = r["fakescope"], r["baseline"]
        print(f"| {r['resolution']} | {r['repeat']} | {ours['images_per_s']} | "
              f"{base['images_per_s']} | {r['speedup_wall']:.2f}x | {ours['cpu_ms_per_image']} | "
              f"{base['cpu_ms_per_image']} | {r['speedup_cpu']:.2f}x |")
    print("\nloss statistics (mean ± std over the iterations):")
    for r in results:
        for name in ("fakescope", "baseline"):
            losses = ", ".join(f"{k} {v['mean']:.3f}±{v['std']:.3f}"
                               for k, v in r[name]["losses"].items())
            print(f"- {r['resolution']}px {name} (repeat {r['repeat']}): {losses}")
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--faces", type=Path,
                        default=Path(tempfile.gettempdir()) / "fakescope_bench" / "faces")
    parser.add_argument("--n", type=int, default=2000, help="faces to synthesise if missing")
    parser.add_argument("--resolutions", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2],
                        help="DataLoader worker counts tried for the baseline")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--interleaved", action="store_true",
                        help="alternate single iterations of both recipes in one process")
    parser.add_argument("--steps", type=int, default=31,
                        help="iterations per recipe with --interleaved (31 = one epoch of 2,000)")
    parser.add_argument("--out", type=Path, help="JSON file for every run's numbers")
    args = parser.parse_args()

    faces = ensure_faces(args.faces, args.n, 128)
    n_images = len(list((faces / "real").glob("*.jpg")))
    if args.interleaved:
        report_interleaved(faces, n_images, args)
        return
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="fakescope_bench_") as tmp:
        work = Path(tmp)
        for resolution in args.resolutions:
            build_cache(faces, work, resolution)
            for repeat in range(args.repeats):
                ours = run_fakescope(faces, work, resolution, f"r{resolution}_{repeat}")
                ours["repeat"] = repeat
                results.append(ours)
                for workers in args.workers:
                    base = run_baseline(faces, work, resolution, workers)
                    base["repeat"] = repeat
                    results.append(base)
                print(f"{resolution}px repeat {repeat}: fakescope {ours['images_per_s']} img/s; "
                      + ", ".join(f"baseline w{r['workers']} {r['images_per_s']} img/s"
                                  for r in results[-len(args.workers):]), file=sys.stderr)

    print(f"\n{n_images} JPEG faces, batch 64, 1 epoch per run, {args.repeats} repeats\n")
    print("| resolution | recipe | img/s (each repeat) | median img/s | CPU ms/img (median) "
          "| fakescope speed-up (median img/s) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for resolution in args.resolutions:
        ours = [r for r in results if r["resolution"] == resolution and "workers" not in r]
        ours_rate = statistics.median(r["images_per_s"] for r in ours)
        ours_cpu = statistics.median(1000 * r["cpu_s"] / n_images for r in ours)
        print(f"| {resolution} | fakescope | {', '.join(str(r['images_per_s']) for r in ours)} "
              f"| {ours_rate:.1f} | {ours_cpu:.1f} | |")
        for workers in args.workers:
            base = [r for r in results
                    if r["resolution"] == resolution and r.get("workers") == workers]
            rate = statistics.median(r["images_per_s"] for r in base)
            cpu = statistics.median(r["cpu_ms_per_image"] for r in base)
            print(f"| {resolution} | baseline, {workers} workers | "
                  f"{', '.join(str(r['images_per_s']) for r in base)} | {rate:.1f} | {cpu:.1f} "
                  f"| {ours_rate / rate:.2f}x |")
    print("\nloss statistics per run (mean ± std over the epoch's iterations):")
    for r in results:
        label = "fakescope" if "workers" not in r else f"baseline w{r['workers']}"
        losses = ", ".join(f"{k} {v['mean']:.3f}±{v['std']:.3f}" for k, v in r["losses"].items())
        print(f"- {r['resolution']}px {label} (repeat {r['repeat']}): {losses}")
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
