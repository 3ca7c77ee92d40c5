"""Settings of a detector training job and of a hyper-parameter search over it."""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

from fakescope.config import ConfigError, DataConfig, JobConfig
from fakescope.models.pretrained import NO_WEIGHTS, Pretrained


def _negative_decoders() -> list[str]:
    return ["transpose", "upsample"]


@dataclasses.dataclass
class ReconNegativesConfig:
    """Reconstructions of the training reals as extra fakes (DRCT, Chen et al., ICML 2024).

    Before training, one small autoencoder per decoder trains on the training split's reals only
    (`fakescope.detect.recon_negatives`); its reconstructions (real content, generated pixels)
    join the training fakes until they make up `share` of them. The default decoders leave out
    pixel_shuffle, the decoder of `fakescope data multigen`'s held-out `autoencoder` family, so
    that family stays unseen when `fakescope xgen` measures it.
    """

    share: float = 0.0  # of the training fakes after adding; 0: off (0.25 is a sensible start)
    decoders: list[str] = dataclasses.field(default_factory=_negative_decoders)
    steps: int = 400  # per autoencoder; the run is deterministic when this bound ends it
    minutes: float = 4.0  # wall-clock cap per autoencoder, in case steps take too long
    width: int = 16  # the autoencoder's first layer width (ConvAutoencoder)
    validation: bool = False  # also add reconstructions of validation reals (same share)


@dataclasses.dataclass
class DetectDataConfig(DataConfig):
    recon_negatives: ReconNegativesConfig = dataclasses.field(default_factory=ReconNegativesConfig)


@dataclasses.dataclass
class ModelConfig:
    """Which registered detector to build and where its starting weights come from."""

    name: str = "selfcnn"
    pretrained: Pretrained = NO_WEIGHTS  # none | imagenet | path to a weights file
    kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)  # e.g. {dropout: 0.35}


@dataclasses.dataclass
class TrainConfig:
    """Optimisation, schedule, stopping rules, speed settings and checkpointing."""

    optimizer: Literal["adam", "adamw"] = "adam"
    lr: float = 1e-3
    lr_backbone: float | None = None  # None: the same as lr
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.0
    batch_size: int = 32
    eval_batch_size: int | None = None  # None: twice batch_size (no gradients to keep)
    epochs: int = 10
    # Time budget for this invocation, all of it (fakescope.training.budget): data, probe,
    # training and validation. The epoch running when training must stop, to leave time for the
    # last validation, is cut short (validated and logged as a whole epoch, stop reason
    # time_limit); --resume continues. None: none.
    max_minutes: float | None = None
    # The clock of that budget: wall time, or this process's CPU time (all its threads), which
    # other jobs on a shared machine do not eat into: fair budgets for comparisons there.
    budget_clock: Literal["wall", "cpu"] = "wall"
    schedule: Literal["none", "step", "cosine"] = "none"
    step_size: int = 5  # StepLR: epochs between decays
    gamma: float = 0.1  # StepLR: decay factor
    min_lr: float = 0.0  # cosine: the learning rate reached at the last epoch
    early_stopping_patience: int | None = None  # epochs without a better val loss; None: off
    min_delta: float = 0.0  # an improvement of val loss smaller than this does not count
    class_weighting: Literal["none", "balanced"] = "none"
    # true / false, or auto: mixed precision (bf16 autocast; fp16 on GPUs without bf16) and the
    # channels_last layout are each used only if a short timing probe finds them faster for this
    # model, input size and device. (YAML reads on/off as true/false, so those work too.)
    amp: Literal["auto"] | bool = "auto"
    channels_last: Literal["auto"] | bool = "auto"
    threads: Literal["auto"] | int = "auto"  # CPU threads; auto also tries one (fakescope.speed)
    # torch.compile the model's training forward (opt-in): the first step compiles, for tens of
    # seconds on a CPU, and a failure to compile falls back to eager with a warning.
    compile: bool = False
    grad_clip: float | None = None  # max gradient norm; None: no clipping
    freeze_backbone_epochs: int = 0  # train only the head for this many first epochs
    augment: bool = True  # apply data.augment to training batches
    checkpoint_every_steps: int | None = None  # mid-epoch resume points; None: epoch ends only
    threshold: float = 0.5  # decision threshold on P(fake) for the logged metrics


@dataclasses.dataclass
class CalibrationConfig:
    """How `fakescope train` calibrates its best checkpoint at the end of a run."""

    # Held-out-family folds (fakescope.workflows.family_folds): with fakes of two or more
    # families (`fake/<family>/` folders), one fold run per family trains on the others, and the
    # temperature and band are fitted on its scores of the family it never saw. auto: on for a
    # frozen-feature probe (a fold run costs what the run did, and a probe's is short); true /
    # false: always / never (YAML's on/off read as true/false).
    family_folds: Literal["auto"] | bool = "auto"


@dataclasses.dataclass
class SearchConfig:
    """An Optuna study over paper 002's Table 1 space, trained on a share of the data."""

    trials: int = 5
    sampler: Literal["random", "tpe"] = "random"
    pruner: Literal["none", "median", "hyperband"] = "median"
    storage: str | None = None  # None: sqlite:///<run.root>/<study>.db
    study: str = "search"
    fraction: float = 0.1  # share of every class and split a trial trains on
    metric: Literal["val_loss", "val_accuracy", "val_roc_auc"] = "val_loss"
    # Ranges of paper 002, Table 1; a range set to null is not searched.
    lr: tuple[float, float] | None = (1e-5, 1e-3)
    lr_log: bool = False  # the paper samples lr uniformly; true samples it log-uniformly
    weight_decay: tuple[float, float] | None = (0.0, 1e-2)
    dropout: tuple[float, float] | None = (0.1, 0.5)  # passed as model.kwargs.dropout
    batch_sizes: list[int] | None = dataclasses.field(default_factory=lambda: [32, 64, 128])
    heartbeat_seconds: int = 60  # a trial silent for 2x this is failed and retried
    preset_out: str | None = None  # None: <run.root>/<study>/best.yaml


@dataclasses.dataclass
class DetectJobConfig(JobConfig):
    data: DetectDataConfig = dataclasses.field(default_factory=DetectDataConfig)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    calibration: CalibrationConfig = dataclasses.field(default_factory=CalibrationConfig)
    search: SearchConfig = dataclasses.field(default_factory=SearchConfig)


def _positive(value: float | int | None, key: str) -> None:
    if value is not None and value <= 0:
        raise ConfigError(f"{key} must be positive, got {value}")


def check_recon_negatives(r: ReconNegativesConfig) -> None:
    from fakescope.models.autoencoder import DECODERS  # here: reading a config needs no torch

    key = "data.recon_negatives"
    if not 0 <= r.share < 1:
        raise ConfigError(f"{key}.share must lie in [0, 1) (0: off), got {r.share}")
    unknown = [d for d in r.decoders if d not in DECODERS]
    if unknown:
        raise ConfigError(f"{key}.decoders: unknown decoder '{unknown[0]}' "
                          f"(choose from {', '.join(DECODERS)})")
    if r.share and (not r.decoders or len(set(r.decoders)) != len(r.decoders)):
        raise ConfigError(f"{key}.decoders must list distinct decoders, got {r.decoders}")
    for name in ("steps", "minutes", "width"):
        _positive(getattr(r, name), f"{key}.{name}")


def check_detect_config(config: DetectJobConfig) -> None:
    """Reject values the schema's types allow but training cannot use, naming the key."""
    t, s = config.train, config.search
    if config.model.pretrained.source == "gan":
        raise ConfigError("model.pretrained: 'gan' (the demo's own GAN) works in demo presets "
                          "only: give the GAN checkpoint's path")
    check_recon_negatives(config.data.recon_negatives)
    for key in ("lr", "lr_backbone", "batch_size", "eval_batch_size", "epochs", "max_minutes",
                "step_size", "early_stopping_patience", "grad_clip", "checkpoint_every_steps"):
        _positive(getattr(t, key), f"train.{key}")
    if t.threads != "auto":
        _positive(t.threads, "train.threads")
    if t.weight_decay < 0 or t.freeze_backbone_epochs < 0 or t.min_lr < 0 or t.min_delta < 0:
        raise ConfigError("train.weight_decay, min_lr, min_delta and freeze_backbone_epochs "
                          "must not be negative")
    if not 0 < t.threshold < 1:
        raise ConfigError(f"train.threshold must lie strictly between 0 and 1, got {t.threshold}")
    _positive(s.trials, "search.trials")
    _positive(s.heartbeat_seconds, "search.heartbeat_seconds")
    if not 0 < s.fraction <= 1:
        raise ConfigError(f"search.fraction must lie in (0, 1], got {s.fraction}")
    for key in ("lr", "weight_decay", "dropout"):
        bounds = getattr(s, key)
        if bounds is not None and not 0 <= bounds[0] <= bounds[1]:
            raise ConfigError(
                f"search.{key} must be [low, high] with 0 <= low <= high, got {bounds}"
            )
    if s.lr is not None and s.lr[0] <= 0:
        raise ConfigError(f"search.lr must start above 0, got {s.lr}")
    if s.batch_sizes is not None and (not s.batch_sizes or min(s.batch_sizes) < 1):
        raise ConfigError(f"search.batch_sizes must list positive sizes, got {s.batch_sizes}")
