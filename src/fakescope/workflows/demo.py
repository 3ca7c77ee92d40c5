"""`fakescope demo`: the whole story on synthetic faces, in minutes on a laptop CPU.

    synthetic real faces ──> small-data GAN (presets/small_data.yaml, a time budget)
        ──> quality against held-out faces next to the real-vs-real floor ──> generated fakes
        real + fakes ──> detectors (self-built CNN, the GAN's discriminator, an ImageNet
        EfficientNet-Lite0) ──> threshold on validation ──> evaluation, comparison,
        robustness sweep, Grad-CAM ──> one HTML report

Every stage is the library function its own command runs, with the demo's small settings; every
number in the report is measured in this run.
"""

from __future__ import annotations

import logging
import math
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

from fakescope.config import DataConfig, load_config, preset_names, to_dict
from fakescope.evaluate.choices import REAL_ANCHORED_RULE
from fakescope.evaluate.compare import best_by
from fakescope.report.demo_files import DEMO_MARKER, RECOMMENDED_DETECTOR, TIMINGS_FILE
from fakescope.runs import write_json

if TYPE_CHECKING:
    from fakescope.data.pipeline import PreparedData

log = logging.getLogger("fakescope.demo")


@dataclass
class DemoConfig:
    """Sizes of the demo; the defaults take about 5 minutes on 2 CPU cores."""

    out: str = "runs/demo"
    seed: int = 0
    device: str = "auto"
    faces: int = 800  # synthetic real faces; the GAN makes as many fakes
    image_size: int = 32
    gan_preset: str = "small_data"
    gan_minutes: float | None = 2.4  # the GAN's time budget (None: the preset's)
    gan_epochs: int | None = None  # None: the preset's (the time budget ends the run first)
    gan_batch_size: int | None = None  # None: the preset's
    # Any other settings of the GAN preset for the demo's run ({"train.lr_g": 0.0004, ...}).
    gan_set: dict[str, Any] = field(default_factory=dict)
    # More real faces, drawn apart and never trained on: the reference of the GAN's FD/KID and,
    # split in two, the real-vs-real floor they are read against.
    holdout_faces: int = 256
    detectors: list[str] = field(
        default_factory=lambda: [RECOMMENDED_DETECTOR, "selfcnn", "gan_disc"]
    )
    # The detector `demo --serve` serves and the report recommends; when it is not among
    # `detectors`, the best on the test split stands in.
    recommended: str = RECOMMENDED_DETECTOR
    # Weights each detector starts from: "gan" means the demo's own GAN discriminator (gan_disc
    # takes its architecture from that checkpoint).
    pretrained: dict[str, str] = field(
        default_factory=lambda: {
            "gan_disc": "gan", "efficientnet_lite0": "imagenet", RECOMMENDED_DETECTOR: "imagenet"
        }
    )
    # Any other settings of one detector's training run ({"lite0_probe": {"train.epochs": 10}}).
    detector_set: dict[str, dict[str, Any]] = field(default_factory=dict)
    detector_epochs: int = 4
    detector_minutes: float = 1.0  # wall-clock budget per detector
    detector_batch_size: int = 32
    # chosen on the validation split, stored in each checkpoint (evaluate/threshold.py says why)
    threshold_rule: str = REAL_ANCHORED_RULE
    robustness: bool = True
    gradcam_per_class: int = 2


@dataclass
class DemoResult:
    out: Path
    report: Path
    best_checkpoint: Path  # the best on the test split
    served_checkpoint: Path  # the recommended detector's, else the best
    table: list[dict[str, Any]]
    seconds: dict[str, float]
    gan_quality: dict[str, Any]  # FloorComparison.to_dict() of the GAN against held-out faces


Stage = Callable[[str], None]


def fresh_output_folder(out: Path) -> None:
    """An empty `out`: a folder an earlier demo wrote is cleared, any other is refused."""
    if out.exists() and any(out.iterdir()):
        if not (out / DEMO_MARKER).is_file():
            raise FileExistsError(
                f"{out} exists and was not written by the demo: choose another --out"
            )
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)


def _timed(seconds: dict[str, float], name: str, announce: Stage) -> Callable[[], None]:
    announce(name)
    start = time.perf_counter()

    def done() -> None:
        seconds[name] = round(time.perf_counter() - start, 1)

    return done


HOLDOUT_SEED_OFFSET = 7919  # the held-out faces' seed, apart from the training faces'


def draw_real_faces(
    config: DemoConfig, data_dir: Path, holdout_dir: Path, progress: bool = False
) -> None:
    from fakescope.data.synth import synthesize_dataset

    synthesize_dataset(data_dir, n=config.faces, size=config.image_size, seed=config.seed,
                       progress=progress)
    synthesize_dataset(holdout_dir, n=config.holdout_faces, size=config.image_size,
                       seed=config.seed + HOLDOUT_SEED_OFFSET, progress=progress)


def train_demo_gan(config: DemoConfig, data_dir: Path, progress: bool) -> Path:
    """The small-data GAN on the real faces, within its time budget; returns its checkpoint."""
    from fakescope.gan.config import GanJobConfig
    from fakescope.gan.train import train_gan

    overrides: dict[str, Any] = {
        "data.path": str(data_dir / "real"),
        "data.cache_dir": str(Path(config.out) / "cache"),
        "run.root": config.out,
        "run.name": "gan",
        "run.seed": config.seed,
        "run.device": config.device,
        "model.resolution": config.image_size,
        # measured once, against held-out faces and their floor, by measure_demo_gan
        "train.metrics_every": 0,
    }
    optional = {"train.max_minutes": config.gan_minutes, "train.epochs": config.gan_epochs,
                "train.batch_size": config.gan_batch_size}
    overrides.update({k: v for k, v in optional.items() if v is not None})
    overrides.update(config.gan_set)
    result = train_gan(load_config(GanJobConfig, config.gan_preset, overrides), progress=progress)
    if result.checkpoint is None:
        raise RuntimeError("the demo GAN wrote no checkpoint")
    return result.checkpoint


def measure_demo_gan(
    config: DemoConfig, checkpoint: Path, holdout_dir: Path, progress: bool = False
) -> dict[str, Any]:
    """FD/KID/diversity of the GAN's faces against the held-out faces, next to the real-vs-real
    floor, and grids of held-out real and generated faces, beside the GAN run."""
    from fakescope.gan.metrics import (
        FAKE_GRID_FILE,
        FLOOR_COMPARISON_FILE,
        REAL_GRID_FILE,
        build_feature_extractor,
        compare_with_floor,
    )
    from fakescope.gan.sample import load_generator, sample_grid, save_grid
    from fakescope.gan.train import real_uint8_batches
    from fakescope.reproducibility import resolve_device

    device = resolve_device(config.device)
    prepared = _holdout_data(config, holdout_dir)
    generator = load_generator(checkpoint, device)
    extractor = build_feature_extractor("efflite0", device)
    reals = tqdm(real_uint8_batches(prepared, config.holdout_faces, 64, config.seed),
                 desc="embedding held-out faces", total=math.ceil(config.holdout_faces / 64),
                 unit="batch", leave=False, disable=not progress)
    comparison = compare_with_floor(extractor, generator, reals, seed=config.seed)
    gan_dir = Path(config.out) / "gan"
    result = {**comparison.to_dict(), "reals": "held-out synthetic faces, never trained on"}
    write_json(gan_dir / FLOOR_COMPARISON_FILE, result)
    # the loader's images are already on the generator's [-1, 1] scale
    grid = next(iter(prepared.loader("train", 32, shuffle=True, seed=config.seed)))[0]
    save_grid(grid, gan_dir / REAL_GRID_FILE)
    sample_grid(generator, gan_dir / FAKE_GRID_FILE, 32, seed=config.seed)
    return result


def _holdout_data(config: DemoConfig, holdout_dir: Path) -> PreparedData:
    from fakescope.data.pipeline import prepare_data
    from fakescope.data.transforms import InputSpec

    data = DataConfig(path=str(holdout_dir / "real"), normalize="minus_one_one",
                      cache_dir=str(Path(config.out) / "cache"))
    return prepare_data(data, InputSpec(size=config.image_size), seed=config.seed,
                        labelled=False)


def generate_fakes(config: DemoConfig, checkpoint: Path, data_dir: Path, progress: bool) -> None:
    """As many generated faces as real ones, saved as JPEG like the reals (no format shortcut)."""
    from fakescope.gan.sample import generate_images, load_generator
    from fakescope.reproducibility import resolve_device

    generator = load_generator(checkpoint, resolve_device(config.device))
    generate_images(
        generator,
        config.faces,
        data_dir / "fake",
        fmt="jpg",
        seed=config.seed + 1,
        quality=90,
        progress=progress,
    )


def train_demo_detector(
    config: DemoConfig, name: str, data_dir: Path, gan_checkpoint: Path, progress: bool
) -> Path:
    """Train one detector on real vs generated; returns its best checkpoint."""
    from fakescope.detect.config import DetectJobConfig
    from fakescope.detect.train import train_detector

    pretrained = config.pretrained.get(name, "none")
    if pretrained == "gan":
        pretrained = str(gan_checkpoint)
    # A detector with a preset of its own name (lite0_probe) starts from it: its features,
    # augmentation and stopping rule; the demo's data, sizes and budget go on top.
    preset = name if name in preset_names() else None
    detect_config = load_config(
        DetectJobConfig,
        preset,
        {
            "data.path": str(data_dir),
            "data.image_size": config.image_size,
            "data.cache_dir": str(Path(config.out) / "cache"),
            "data.augment.hflip": True,
            "model.name": name,
            "model.pretrained": pretrained,
            "run.root": str(Path(config.out) / "detectors"),
            "run.name": name,
            "run.seed": config.seed,
            "run.device": config.device,
            "train.epochs": config.detector_epochs,
            "train.max_minutes": config.detector_minutes,
            "train.batch_size": config.detector_batch_size,
            **config.detector_set.get(name, {}),
        },
    )
    result = train_detector(detect_config, progress=progress)
    return result.run.checkpoints / "best.pt"


def evaluate_detectors(
    config: DemoConfig, checkpoints: list[Path], data_dir: Path, progress: bool
) -> list[dict[str, Any]]:
    """Threshold on validation, test-split evaluation with plots and Grad-CAM, per detector."""
    from fakescope.evaluate.threshold import ThresholdRule
    from fakescope.workflows.evaluation import evaluate_and_write

    table = []
    rule = ThresholdRule.parse(config.threshold_rule)
    for checkpoint in checkpoints:
        data = DataConfig(path=str(data_dir), cache_dir=str(Path(config.out) / "cache"))
        evaluation = evaluate_and_write(
            checkpoint,
            _evaluation_data(checkpoint, data),
            "test",
            rule,
            "val",
            device=config.device,
            progress=progress,
            explain_per_class=config.gradcam_per_class,  # each with its joint decision
        ).evaluation
        table.append(
            {
                "model": checkpoint.parent.parent.name,
                "checkpoint": str(checkpoint),
                "threshold": evaluation.threshold,
                **evaluation.metrics,
            }
        )
    return table


def _evaluation_data(checkpoint: Path, data: DataConfig) -> DataConfig:
    """The training run's data settings, pointed at the demo data (same split, same size)."""
    from fakescope.evaluate.scoring import evaluation_data_config
    from fakescope.models.registry import load_detector

    return evaluation_data_config(load_detector(checkpoint), data.path, cache_dir=data.cache_dir)


def compare_and_sweep(
    config: DemoConfig, checkpoints: list[Path], data_dir: Path, progress: bool
) -> None:
    from fakescope.workflows.evaluation import compare_and_write, sweep_and_write

    data = _evaluation_data(
        checkpoints[0], DataConfig(path=str(data_dir), cache_dir=str(Path(config.out) / "cache"))
    )
    out = Path(config.out)
    compare_and_write(checkpoints, data, out / "comparison", device=config.device,
                      progress=progress)
    if config.robustness:
        sweep_and_write(checkpoints, data, out / "robustness", device=config.device,
                        progress=progress)


def stage_count(config: DemoConfig) -> int:
    """How many stages `run_demo` announces: faces, GAN, its measure, fakes, one per detector,
    evaluation, comparison, report."""
    return 7 + len(config.detectors)


def run_demo(config: DemoConfig, progress: bool = False, announce: Stage = log.info) -> DemoResult:
    """Run every stage; returns where the report is and the comparison table."""
    from fakescope.report.html import write_report

    out = Path(config.out)
    fresh_output_folder(out)
    write_json(out / DEMO_MARKER, to_dict(config))
    data_dir, holdout_dir = out / "data", out / "holdout"
    seconds: dict[str, float] = {}

    done = _timed(seconds, "drawing synthetic real faces", announce)
    draw_real_faces(config, data_dir, holdout_dir, progress)
    done()
    done = _timed(seconds, f"training the GAN ({config.gan_preset})", announce)
    gan_checkpoint = train_demo_gan(config, data_dir, progress)
    done()
    done = _timed(seconds, "measuring the GAN against held-out faces", announce)
    gan_quality = measure_demo_gan(config, gan_checkpoint, holdout_dir, progress)
    done()
    done = _timed(seconds, "generating fakes", announce)
    generate_fakes(config, gan_checkpoint, data_dir, progress)
    done()
    checkpoints = []
    for name in config.detectors:
        done = _timed(seconds, f"training detector {name}", announce)
        checkpoints.append(train_demo_detector(config, name, data_dir, gan_checkpoint, progress))
        done()
    done = _timed(seconds, "evaluating", announce)
    table = evaluate_detectors(config, checkpoints, data_dir, progress)
    done()
    done = _timed(
        seconds, "comparing models" + (" and robustness" if config.robustness else ""), announce
    )
    compare_and_sweep(config, checkpoints, data_dir, progress)
    done()
    write_json(out / TIMINGS_FILE, {"stage_seconds": seconds})
    done = _timed(seconds, "writing the report", announce)
    report = write_report(out)
    done()
    best = Path(best_by(table)["checkpoint"])
    served = (
        checkpoints[config.detectors.index(config.recommended)]
        if config.recommended in config.detectors
        else best
    )
    return DemoResult(
        out=out,
        report=report,
        best_checkpoint=best,
        served_checkpoint=served,
        table=table,
        seconds=seconds,
        gan_quality=gan_quality,
    )
