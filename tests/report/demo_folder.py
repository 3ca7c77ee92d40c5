"""A folder of runs as `fakescope demo` writes it, built from synthetic results (no training):
a GAN run with its floor comparison and face grids, a detector run with an evaluation, a
comparison of two models, the demo's settings and stage times; and a single run of its own."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from fakescope.evaluate.compare import Comparison, write_comparison
from fakescope.evaluate.evaluate import Evaluation, write_evaluation
from fakescope.evaluate.robustness import Robustness, write_robustness
from fakescope.runs import (
    DEMO_MARKER,
    FAKE_GRID_FILE,
    FLOOR_COMPARISON_FILE,
    REAL_GRID_FILE,
    TIMINGS_FILE,
    write_json,
)

STAGE_SECONDS = {"drawing synthetic real faces": 3.2, "training the GAN (small_data)": 121.0,
                 "training detector a": 40.5, "evaluating": 12.0}


def png(path: Path, seed: int, size: int = 16) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)


def gan_run(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text("paper: '000'\nrun:\n  name: gan\n")
    (folder / "metrics.csv").write_text("step,epoch,loss_d,loss_g\n1,0,1.3,0.7\n2,0,1.1,0.9\n")
    (folder / "epochs.csv").write_text(
        "epoch,step,fid,kid,kid_std,diversity\n1,1,150.2,0.08,0.01,0.9\n2,2,123.4,0.05,,0.95\n"
    )
    for i in range(6):
        png(folder / "samples" / f"epoch_{i:03d}.png", i)
    write_json(folder / "speed.json", {"chosen": {"amp": "bf16"}, "seconds_per_step": [0.5]})
    return folder


def detector_run(folder: Path, evaluation: Evaluation) -> Path:
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text("run:\n  name: det\n")
    (folder / "metrics.csv").write_text("epoch,train_loss,val_loss\n1,0.7,0.6\n2,0.5,0.55\n")
    write_json(folder / "data_report.json", {
        "root": "faces", "layout": "class_folders",
        "counts": {"train": {"real": 16, "fake": 16}, "test": {"real": 2, "fake": 2}},
        "bad_files": [{"path": "faces/real/broken.jpg", "reason": "not an image"}],
        "image_sizes": {"most_common": [{"size": "40x40", "count": 40}]},
    })  # fmt: skip
    out = folder / "evaluation" / "best-test"
    write_evaluation(evaluation, None, out)
    png(out / "gradcam" / "00-real-p0.80-face_00001.png", 9)
    rows = [
        {"model": "det/best", "corruption": "blur", "strength": s, "metrics": {"accuracy": a}}
        for s, a in ((0.0, 0.9), (3.0, 0.6))
    ]
    write_robustness(Robustness("test", rows), folder / "evaluation" / "robustness-test")
    return folder


def single_run(root: Path, evaluation: Evaluation) -> Path:
    """A detector run with an evaluation, a speed probe and a learning-rate column."""
    run = detector_run(root, evaluation)
    (run / "config.yaml").write_text(
        "run:\n  name: det\ndata:\n  path: photos\nmodel:\n  name: selfcnn\ntrain:\n  epochs: 5\n"
    )
    (run / "metrics.csv").write_text(
        "epoch,lr,train_loss,val_loss\n1,0.001,0.7,0.6\n2,0.0005,0.5,0.55\n"
    )
    write_json(run / "speed.json", {"chosen": {"amp_dtype": "bfloat16"}, "step_seconds": {}})
    return run


def demo_folder(root: Path, make_evaluation: Callable[..., Evaluation]) -> Path:
    gan = gan_run(root / "gan")
    write_json(gan / FLOOR_COMPARISON_FILE, {
        "fd_name": "FD_efflite0", "kid_name": "KID_efflite0", "images": 128,
        "fake": {"fd": 41.5, "kid": 0.03, "diversity": 0.81},
        "floor": {"fd": 9.25, "kid": 0.001, "diversity": 1.02}, "fd_over_floor": 4.49,
        "reals": "held-out synthetic faces, never trained on",
    })  # fmt: skip
    png(gan / REAL_GRID_FILE, 20, size=136)
    png(gan / FAKE_GRID_FILE, 21, size=136)
    detector_run(root / "detector", make_evaluation("det/best"))
    comparison = Comparison("test", [make_evaluation("a", 1), make_evaluation("b", 2)])
    write_comparison(comparison, root / "comparison")
    write_json(root / DEMO_MARKER, {"faces": 800, "detectors": ["a", "b"]})
    write_json(root / TIMINGS_FILE, {"stage_seconds": STAGE_SECONDS})
    return root
