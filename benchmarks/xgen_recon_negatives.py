"""Does training on reconstructions of its own reals help a detector on unseen generators?

    python -m benchmarks.xgen_recon_negatives --set-dir SET --out OUT   # writes OUT/comparison.json

Runs `fakescope xgen` in single-family mode twice on the same multigen set, seed and settings,
side by side: the baseline (the preset with `data.recon_negatives.share=0`) and the same preset
with the share set (reconstructions of the training reals by autoencoders with
transposed-conv and up-sample decoders, never the held-out `autoencoder` family's pixel-shuffle
decoder or its training run). Records the machine, the load before and after, the commands and
wall times, and per arm the unseen means (ROC-AUC, accuracy, ECE, the trust figures) over all
training sets and the held-out reconstruction family's cells.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from fakescope.bench.machine import describe_machine
from fakescope.config import load_config, set_strings
from fakescope.detect.config import DetectJobConfig

METRICS = ("roc_auc", "accuracy", "ece", "fakes_called_real", "uncertain", "selective_accuracy")
RECON_FAMILY = "autoencoder"


def arm(share: float) -> Callable[[DetectJobConfig], DetectJobConfig]:
    """An arm's settings: 64 px, one thread, fp32, no channels_last, and this share of
    reconstructions among the training fakes."""

    def change(c: DetectJobConfig) -> DetectJobConfig:
        negatives = replace(c.data.recon_negatives, share=share)
        return replace(c, data=replace(c.data, image_size=64, recon_negatives=negatives),
                       train=replace(c.train, threads=1, amp=False, channels_last=False))

    return change


def xgen_command(set_dir: Path, out: Path, preset: str, epochs: int, seed: int,
                 change: Callable[[DetectJobConfig], DetectJobConfig],
                 extra: list[str]) -> list[str]:
    base = load_config(DetectJobConfig, preset)
    settings = [*set_strings(base, change(base)), *extra]
    return [sys.executable, "-m", "fakescope", "xgen", "--set-dir", str(set_dir), "--out",
            str(out), "--detectors", preset, "--mode", "single", "--epochs", str(epochs),
            "--seed", str(seed), *[a for s in settings for a in ("--set", s)]]


def _mean(values: list[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return float(np.mean(kept)) if kept else None


def _means(cells: list[dict[str, Any]]) -> dict[str, float | None]:
    return {m: _mean([c.get(m) for c in cells]) for m in METRICS}


def arm_figures(xgen: dict[str, Any]) -> dict[str, Any]:
    """Per condition, means of: unseen cells of every run; unseen cells of the runs trained on
    one GAN family (the realistic case); the reconstruction family's cells in those runs; the
    seen cells."""
    figures: dict[str, Any] = {}
    for condition in xgen["conditions"]:
        cells = [c for c in xgen["cells"] if c["condition"] == condition]
        unseen = [c for c in cells if not c["seen"]]
        gan = [c for c in unseen if c["train_set"] != RECON_FAMILY]
        figures[condition] = {
            "unseen": _means(unseen),
            "unseen_gan_trained": _means(gan),
            RECON_FAMILY: _means([c for c in gan if c["test_family"] == RECON_FAMILY]),
            "seen": _means([c for c in cells if c["seen"]]),
        }
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--set-dir", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--preset", default="lite0_probe")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--negatives", action="append", default=[], metavar="KEY=VALUE",
                        help="more settings of the arm with negatives, whose share of "
                        "reconstructions is 0.25 (repeatable)")
    parser.add_argument("--summarize", action="store_true",
                        help="only re-read every OUT/*/xgen.json into OUT/comparison.json")
    parser.add_argument("--common", action="append", default=[],
                        help="settings of both arms (repeatable), e.g. data.augment.blur_prob=0.1")
    args = parser.parse_args()
    arms = {"baseline": (arm(0.0), args.common),
            "recon_negatives": (arm(0.25), [*args.common, *args.negatives])}
    if args.summarize:
        saved = json.loads((args.out / "comparison.json").read_text())
        # every arm folder, also ones run by hand beside the two (their command noted there)
        saved["arms"] = {path.parent.name: arm_figures(json.loads(path.read_text()))
                         for path in sorted(args.out.glob("*/xgen.json"))}
        (args.out / "comparison.json").write_text(json.dumps(saved, indent=1))
        return 0
    commands = {name: xgen_command(args.set_dir, args.out / name, args.preset, args.epochs,
                                   args.seed, change, extra)
                for name, (change, extra) in arms.items()}
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    load_before = os.getloadavg()
    started = datetime.datetime.now(datetime.timezone.utc)
    clock = time.perf_counter()
    args.out.mkdir(parents=True, exist_ok=True)
    processes = {}
    for name, command in commands.items():
        with (args.out / f"{name}.log").open("w") as log:
            processes[name] = subprocess.Popen(command, env=env, stdout=log,
                                               stderr=subprocess.STDOUT)
    wall = {}
    for name, process in processes.items():
        if process.wait():
            raise SystemExit(f"{name} failed: see {args.out / f'{name}.log'}")
        wall[name] = time.perf_counter() - clock
    result = {
        "date": started.isoformat(timespec="seconds"),
        "machine": describe_machine(),
        "load_before": load_before,
        "load_after": os.getloadavg(),
        "commands": {name: " ".join(c[2:]) for name, c in commands.items()},
        "wall_seconds": wall,
        "arms": {name: arm_figures(json.loads((args.out / name / "xgen.json").read_text()))
                 for name in arms},
    }
    (args.out / "comparison.json").write_text(json.dumps(result, indent=1))
    print(json.dumps(result["arms"], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
