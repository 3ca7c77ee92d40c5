"""`EvalOptions`: how an evaluation runs, one typed config for `eval`, `compare`, `robustness`,
`xgen` and `predict`.

It is loaded like a training job's config (`fakescope.config.load_config`): the defaults here,
a YAML options file (`--config`), then the flags and `--set key=value`, every key and value
checked on the way, so `--set batch_sise=8` fails with the key's name instead of being ignored:

    options = load_config(EvalOptions, "eval.yaml", ["batch_size=8", "calibration.rule=eer"])

The data itself (folder, layout, face crop, cache) stays a `DataConfig`, taken from the
checkpoint's training run. Nothing here imports torch, so a bad option fails before any
heavy loading.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fakescope.config import SEED_LIMIT, ConfigError
from fakescope.evaluate.choices import REAL_ANCHORED_RULE


@dataclass(frozen=True)
class CalibrationOptions:
    """Whether and how the temperature, threshold and uncertain band are fitted before the
    evaluated split is scored; with no `rule` the checkpoint's stored ones are used."""

    rule: str | None = None  # eer, f1, fpr:RATE or a fixed number in [0, 1]
    split: str = "val"  # fitted on this split, never on the one evaluated
    store: bool = True  # write what was fitted into the checkpoint
    temperature: bool = True  # false: T = 1, threshold and band on the raw probabilities
    band: bool = True  # false: no uncertain band, the verdict is the thresholded label
    max_fake_called_real: float = 0.05  # band: share of validation fakes below its low end
    max_real_called_fake: float = 0.05  # band: share of validation reals at or above its top
    shift: bool = True  # fit on blurred, JPEG and halved copies of the split too

    def __post_init__(self) -> None:
        if self.rule is not None:
            from fakescope.evaluate.threshold import ThresholdRule  # numpy, only when given

            ThresholdRule.parse(self.rule)
        for name in ("max_fake_called_real", "max_real_called_fake"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ConfigError(f"calibration.{name}: must be a share in [0, 1), got "
                                  f"{getattr(self, name)}")


@dataclass(frozen=True)
class EvalOptions:
    """Device, batch size, split seed, progress bars, split, calibration and the image
    conditions of one evaluation; each command reads the fields it has a use for."""

    device: str = "auto"  # auto | cpu | cuda | cuda:N
    batch_size: int = 64
    seed: int | None = None  # the split seed; None: the training run's, so its test split
    progress: bool = False  # progress bars on stderr
    split: str = "test"  # train, val, test or all
    calibration: CalibrationOptions = field(default_factory=CalibrationOptions)
    # Conditions scored besides the clean images, empty for all: corruption kinds for
    # `robustness` (jpeg, blur, downscale, noise), named conditions for `xgen` (clean, jpeg75,
    # blur1, resize0.5).
    conditions: tuple[str, ...] = ()
    provenance: bool = True  # count each image's provenance verdict and joint decision
    explain: int = 0  # Grad-CAM overlays of the N worst-scored images per class

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ConfigError(f"batch_size: must be at least 1, got {self.batch_size}")
        if self.seed is not None and not 0 <= self.seed <= SEED_LIMIT:
            raise ConfigError(f"seed: must be from 0 to {SEED_LIMIT}, got {self.seed}")
        if self.explain < 0:
            raise ConfigError(f"explain: must be at least 0, got {self.explain}")


def xgen_options() -> EvalOptions:
    """`xgen`'s defaults: seed 0 (its training runs' too) and a threshold anchored on the real
    images, fitted and stored after each training run."""
    return EvalOptions(seed=0, calibration=CalibrationOptions(rule=REAL_ANCHORED_RULE))
