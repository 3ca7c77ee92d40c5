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
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

from fakescope.config import (
    DataConfig,
    given,
    load_config,
    override_settings,
    preset_names,
    to_dict,
)
from fakescope.evaluate.choices import REAL_ANCHORED_RULE
from fakescope.evaluate.compare import best_by
from fakescope.models.pretrained import IMAGENET, NO_WEIGHTS, Pretrained
from fakescope.runs import BEST_CHECKPOINT, DEMO_MARKER, TIMINGS_FILE, write_json
from fakescope.workflows.recommended import DEFAULT_DEMO_OUT, RECOMMENDED_DETECTOR

if TYPE_CHECKING:
    from fakescope.data.pipeline import PreparedData

log = logging.getLogger("fakescope.demo")


@dataclass
class DemoGanConfig:
    """The demo's GAN run: a GAN preset, its time budget and sizes, any other of its settings."""

    preset: str = "small_data"
    minutes: float | None = 2.4  # the time budget (None: the preset's)
    epochs: int | None = None  # None: the preset's (the time budget ends the run first)
    batch_size: int | None = None  # None: the preset's
    # Any other settings of the preset for the demo's run, as `--set` takes them
    # (["train.lr_g=0.0004"]).
    set: list[str] = field(default_factory=list)


@dataclass
class DemoDetectorConfig:
    """One detector the demo trains: a registered name (trained from the preset of that name
    where there is one), the weights it starts from, and any other settings of its run."""

    name: str
    # "gan": the demo's own GAN checkpoint (gan_disc takes its architecture from it)
    pretrained: Pretrained = NO_WEIGHTS
    set: list[str] = field(default_factory=list)  # as `--set` takes them (["train.epochs=10"])


def _default_detectors() -> list[DemoDetectorConfig]:
    return [DemoDetectorConfig(RECOMMENDED_DETECTOR, IMAGENET), DemoDetectorConfig("selfcnn"),
            DemoDetectorConfig("gan_disc", Pretrained("gan"))]


@dataclass
class DemoConfig:
    """Sizes of the demo; the defaults take about 5 minutes on 2 CPU cores."""

    out: str = str(DEFAULT_DEMO_OUT)
    seed: int = 0
    device: str = "auto"
    faces: int = 800  # synthetic real faces; the GAN makes as many fakes
    image_size: int = 32
    gan: DemoGanConfig = field(default_factory=DemoGanConfig)
    # More real faces, drawn apart and never trained on: the reference of the GAN's FD/KID and,
    # split in two, the real-vs-real floor they are read against.
    holdout_faces: int = 256
    detectors: list[DemoDetectorConfig] = field(default_factory=_default_detectors)
    # The detector `demo --serve` serves and the report recommends; when it is not among
    # `detectors`, the best on the test split stands in.
    recommended: str = RECOMMENDED_DETECTOR
    # every detector's training run (a detector's own `set` may change them)
    detector_epochs: int = 4
    detector_minutes: float = 1.0  # wall-clock budget per detector
    detector_batch_size: int = 32
    # chosen on the validation split, stored in each checkpoint (evaluate/threshold.py says why)
    threshold_rule: str = REAL_ANCHORED_RULE
    robustness: bool = True
    gradcam_per_class: int = 2

    def detector_names(self) -> list[str]:
        return [d.name for d in self.detectors]


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

    g = config.gan
    preset = load_config(GanJobConfig, g.preset)
    t = preset.train
    placed = replace(
        preset,
        data=replace(preset.data, path=str(data_dir / "real"),
                     cache_dir=str(Path(config.out) / "cache")),
        run=replace(preset.run, root=config.out, name="gan", seed=config.seed,
                    device=config.device),
        model=replace(preset.model, resolution=config.image_size),
        # metrics_every 0: measured once, against held-out faces and their floor, by
        # measure_demo_gan
        train=replace(t, metrics_every=0, max_minutes=given(g.minutes, t.max_minutes),
                      epochs=given(g.epochs, t.epochs),
                      batch_size=given(g.batch_size, t.batch_size)),
    )  # fmt: skip
    result = train_gan(override_settings(placed, g.set), progress=progress)
    if result.checkpoint is None:
        raise RuntimeError("the demo GAN wrote no checkpoint")
    return result.checkpoint


def measure_demo_gan(
    config: DemoConfig, checkpoint: Path, holdout_dir: Path, progress: bool = False
) -> dict[str, Any]:
    """FD/KID/diversity of the GAN's faces against the held-out faces, next to the real-vs-real
    floor, and grids of held-out real and generated faces, beside the GAN run."""
    from fakescope.data.tensors import real_uint8_batches
    from fakescope.gan.metrics import build_feature_extractor, compare_with_floor
    from fakescope.gan.sample import load_generator, sample_grid, save_grid
    from fakescope.reproducibility import resolve_device
    from fakescope.runs import FAKE_GRID_FILE, FLOOR_COMPARISON_FILE, REAL_GRID_FILE

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
    config: DemoConfig, detector: DemoDetectorConfig, data_dir: Path, gan_checkpoint: Path,
    progress: bool,
) -> Path:
    """Train one detector on real vs generated; returns its best checkpoint."""
    from fakescope.detect.config import DetectJobConfig
    from fakescope.detect.train import train_detector

    name, out = detector.name, Path(config.out)
    # A detector with a preset of its own name (lite0_probe) starts from it: its features,
    # augmentation and stopping rule; the demo's data, sizes and budget go on top.
    preset = load_config(DetectJobConfig, name if name in preset_names() else None)
    data = preset.data
    placed = replace(
        preset,
        data=replace(data, path=str(data_dir), image_size=config.image_size,
                     cache_dir=str(out / "cache"), augment=replace(data.augment, hflip=True)),
        model=replace(preset.model, name=name,
                      pretrained=detector.pretrained.resolve_gan(gan_checkpoint)),
        run=replace(preset.run, root=str(out / "detectors"), name=name, seed=config.seed,
                    device=config.device),
        train=replace(preset.train, epochs=config.detector_epochs,
                      max_minutes=config.detector_minutes,
                      batch_size=config.detector_batch_size),
    )  # fmt: skip
    result = train_detector(override_settings(placed, detector.set), progress=progress)
    return result.run.checkpoints / BEST_CHECKPOINT


def evaluate_detectors(
    config: DemoConfig, checkpoints: list[Path], data_dir: Path, progress: bool
) -> list[dict[str, Any]]:
    """Threshold on validation, test-split evaluation with plots and Grad-CAM, per detector."""
    from fakescope.evaluate.options import CalibrationOptions, EvalOptions
    from fakescope.workflows.evaluation import evaluate_and_write

    table = []
    options = EvalOptions(
        device=config.device, progress=progress,
        calibration=CalibrationOptions(rule=config.threshold_rule),
        explain=config.gradcam_per_class,  # each with its joint decision
    )  # fmt: skip
    for checkpoint in checkpoints:
        data = DataConfig(path=str(data_dir), cache_dir=str(Path(config.out) / "cache"))
        evaluation = evaluate_and_write(
            checkpoint, _evaluation_data(checkpoint, data), options
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
    from fakescope.evaluate.options import EvalOptions
    from fakescope.workflows.evaluation import compare_and_write, sweep_and_write

    data = _evaluation_data(
        checkpoints[0], DataConfig(path=str(data_dir), cache_dir=str(Path(config.out) / "cache"))
    )
    out = Path(config.out)
    options = EvalOptions(device=config.device, progress=progress)
    compare_and_write(checkpoints, data, options, out / "comparison")
    if config.robustness:
        sweep_and_write(checkpoints, data, options, out / "robustness")


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
    done = _timed(seconds, f"training the GAN ({config.gan.preset})", announce)
    gan_checkpoint = train_demo_gan(config, data_dir, progress)
    done()
    done = _timed(seconds, "measuring the GAN against held-out faces", announce)
    gan_quality = measure_demo_gan(config, gan_checkpoint, holdout_dir, progress)
    done()
    done = _timed(seconds, "generating fakes", announce)
    generate_fakes(config, gan_checkpoint, data_dir, progress)
    done()
    checkpoints = []
    for detector in config.detectors:
        done = _timed(seconds, f"training detector {detector.name}", announce)
        checkpoints.append(train_demo_detector(config, detector, data_dir, gan_checkpoint,
                                               progress))
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
    names = config.detector_names()
    served = checkpoints[names.index(config.recommended)] if config.recommended in names else best
    return DemoResult(
        out=out,
        report=report,
        best_checkpoint=best,
        served_checkpoint=served,
        table=table,
        seconds=seconds,
        gan_quality=gan_quality,
    )
