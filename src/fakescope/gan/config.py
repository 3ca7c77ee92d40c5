"""Settings of a GAN training job: networks, optimisation, quality metrics, collapse watch.

Every small-data technique (differentiable augmentation, EMA, hinge loss, R1, spectral norm) is
its own key and off by default, so the paper presets build and train exactly their papers' DCGAN;
`presets/small_data.yaml` turns on the ones the ablation in benchmarks/results/gan_ablation.md kept.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Literal

from fakescope.config import ConfigError, DataConfig, JobConfig
from fakescope.gan.diffaug import POLICIES
from fakescope.gan.metrics import check_feature_extractor
from fakescope.models.dcgan import RESOLUTIONS
from fakescope.models.gan_registry import gan_architecture


@dataclasses.dataclass
class GanModelConfig:
    """The generator/discriminator pair: a registered architecture and its sizes.

    `dcgan` is the papers' pair (paper 000 Tables I, II, IV, V; paper 004's 200-dim uniform
    noise); `fastgan_lite` the light up-sample + conv pair for small data on a CPU. A field that
    the chosen architecture does not read must stay unset (None).
    """

    arch: str = "dcgan"
    resolution: int = 64  # 32, 64, 128 or 256
    z_dim: int = 100
    z_dist: Literal["normal", "uniform"] = "normal"  # uniform is on [-1, 1]
    # G's channels next to the image; dcgan: None = 512 next to 4x4 (the papers), and D too
    base_width: int | None = None
    max_width: int | None = None  # fastgan_lite: cap on the widths (None: 256)
    d_base_width: int | None = None  # fastgan_lite: D's channels next to the image (None: 32)
    g_bn_layers: list[int] | None = None  # dcgan: G blocks with BatchNorm, 0 = 4x4; None: all
    d_bn_layers: list[int] | None = None  # dcgan: D blocks with BatchNorm, 0 = image; None: 1..
    g_activation: Literal["relu", "leaky_relu"] | None = None  # dcgan: None = relu
    d_spectral_norm: bool = False  # spectral normalisation of every D layer

    def _kwargs(self, keys: Mapping[str, str]) -> dict[str, Any]:
        """Constructor arguments from the fields in `keys`; unset (None) fields are left out, so
        the constructor's default applies."""
        values = dataclasses.asdict(self)
        return {arg: values[name] for name, arg in keys.items() if values[name] is not None}

    def generator_kwargs(self) -> dict[str, Any]:
        return self._kwargs(gan_architecture(self.arch).generator_keys)

    def discriminator_kwargs(self) -> dict[str, Any]:
        return self._kwargs(gan_architecture(self.arch).discriminator_keys)


@dataclasses.dataclass
class GanTrainConfig:
    """Optimisation, GAN tricks, and how often to checkpoint, sample and measure."""

    batch_size: int = 128
    epochs: int = 25
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    betas_g: tuple[float, float] = (0.5, 0.999)
    betas_d: tuple[float, float] = (0.5, 0.999)
    # One-sided label smoothing: D's target for real images is 1 - label_smoothing (0.1 -> 0.9).
    label_smoothing: float = 0.0
    # saturating: G minimises log(1 - D(G(z))); non_saturating: G minimises -log D(G(z)).
    g_loss: Literal["saturating", "non_saturating"] = "non_saturating"
    # bce: the papers' binary cross-entropy (with g_loss and label_smoothing); hinge: D minimises
    # max(0, 1 - D(x)) + max(0, 1 + D(G(z))), G minimises -D(G(z)) (SNGAN, BigGAN).
    loss: Literal["bce", "hinge"] = "bce"
    # R1 gradient penalty on real images, gamma/2 |grad D(x)|², applied every r1_every steps with
    # its weight multiplied by r1_every (lazy regularisation, StyleGAN2); 0: off.
    r1_gamma: float = 0.0
    r1_every: int = 4
    # Differentiable augmentation of every image D sees, real and generated (DiffAugment):
    # any of color, translation, cutout; empty: off.
    diffaug: list[str] = dataclasses.field(default_factory=list)
    # Exponential moving average of G's weights, used for samples, metrics and `generate`:
    # half-life in thousands of images (StyleGAN2's ema_kimg); 0: off.
    ema_kimg: float = 0.0
    ema_rampup: float | None = 0.05  # half-life capped at this x images seen; None: no ramp
    # Gaussian noise (std, on the [-1, 1] pixel scale) added to every image D sees, decaying
    # linearly to 0 over `instance_noise_anneal_epochs` (None: over the whole run).
    instance_noise: float = 0.0
    instance_noise_anneal_epochs: int | None = None
    drop_last: bool = False  # drop a short last batch (its BatchNorm statistics are noisier)
    # Speed settings (fakescope.gan.speed; benchmarks/results/gan_profile.md). auto times
    # the candidates on copies of G and D before training; the choice goes into checkpoints, so
    # a resumed run keeps the arithmetic it started with.
    # NHWC memory layout: oneDNN (CPU) and cuDNN run the convolutions without converting layouts.
    channels_last: Literal["auto"] | bool = True
    # bf16 autocast for G's and D's forward passes; auto tries it only where the device has
    # native bf16 (CPUs with AVX512-BF16 or AMX, recent GPUs).
    amp: Literal["auto"] | bool = "auto"
    threads: Literal["auto"] | int = "auto"  # CPU threads; auto also tries one
    # torch.compile G and D (opt-in): the first iteration compiles, for tens of seconds on a
    # CPU, and a failure to compile falls back to eager with a warning.
    compile: bool = False
    # Time budget for this invocation, all of it (fakescope.training.budget): data, probe,
    # training, and the end a finished run has (checkpoint, samples, metrics), which training
    # stops early enough to leave time for; --resume continues. None: none.
    max_minutes: float | None = None
    # The clock of that budget: wall time, or this process's CPU time (all its threads), which
    # other jobs on a shared machine do not eat into: fair budgets for comparisons there.
    budget_clock: Literal["wall", "cpu"] = "wall"
    checkpoint_every: int = 1  # epochs; a checkpoint is also written on SIGINT/SIGTERM
    keep_checkpoints: int = 3
    sample_every: int = 1  # epochs between sample grids from the fixed noise; 0: never
    sample_count: int = 64  # images in each grid
    metrics_every: int = 5  # epochs between FD/KID measurements (and at the end); 0: never
    plot_every: int = 1  # epochs between redrawn loss plots (also at every checkpoint); 0: never


@dataclasses.dataclass
class GanMetricsConfig:
    """FID/KID on a fixed sample; offline, the same distances on EfficientNet-Lite0 features."""

    # Inception weights come from inception_weights, torch's hub cache, or the standard download;
    # when none works (offline), auto falls back to EfficientNet-Lite0 and inception fails.
    feature_extractor: str = "auto"  # a name of gan.metrics' registry (`fakescope models`)
    inception_weights: str = ""  # path to torch-fidelity's Inception weights file
    num_samples: int = 1000  # real and generated images compared
    kid_subsets: int = 100
    kid_subset_size: int = 1000  # capped at num_samples
    batch_size: int = 50


@dataclasses.dataclass
class GanCollapseConfig:
    """Collapse watch (paper 004): diversity of generated images relative to real ones."""

    enabled: bool = True
    num_samples: int = 64  # generated images per check; pairwise distances among them
    features: str = "efflite0"  # a name of gan.metrics' feature extractor registry
    threshold: float = 0.3  # warn when diversity / real diversity falls below this
    # Untrained generators draw near-identical noise, so warnings start after a warm-up: the
    # smaller of warmup_steps and warmup_fraction of the run's planned iterations (with a time
    # budget, those it is expected to reach), so a short run is watched too.
    warmup_steps: int = 500
    warmup_fraction: float = 0.2
    every: int = 1  # epochs between checks (each costs a feature pass over num_samples images)


def _gan_data_defaults() -> DataConfig:
    return DataConfig(normalize="minus_one_one", resize="short_side_crop")


@dataclasses.dataclass
class GanJobConfig(JobConfig):
    """A DCGAN training run. The data are real images at `model.resolution`, scaled to [-1, 1]."""

    data: DataConfig = dataclasses.field(default_factory=_gan_data_defaults)
    model: GanModelConfig = dataclasses.field(default_factory=GanModelConfig)
    train: GanTrainConfig = dataclasses.field(default_factory=GanTrainConfig)
    metrics: GanMetricsConfig = dataclasses.field(default_factory=GanMetricsConfig)
    collapse: GanCollapseConfig = dataclasses.field(default_factory=GanCollapseConfig)


def validate(config: GanJobConfig) -> GanJobConfig:
    """Cross-field checks a dataclass cannot express; raise ConfigError naming the key."""
    m, t = config.model, config.train
    try:
        architecture = gan_architecture(m.arch)
    except KeyError as err:
        raise ConfigError(f"model.arch: {err.args[0]}") from None
    unused = [
        name for name in ("max_width", "d_base_width", "g_bn_layers", "d_bn_layers",
                          "g_activation")
        if getattr(m, name) is not None and name not in architecture.config_keys()
    ]
    if unused:
        raise ConfigError(f"model.{unused[0]}: the {m.arch} architecture has no such setting")
    if m.d_spectral_norm and "d_spectral_norm" not in architecture.config_keys():
        raise ConfigError(f"model.d_spectral_norm: the {m.arch} architecture has no such setting")
    for key, name in (("metrics.feature_extractor", config.metrics.feature_extractor),
                      ("collapse.features", config.collapse.features)):
        try:
            check_feature_extractor(name)
        except KeyError as err:
            raise ConfigError(f"{key}: {err.args[0]}") from None
    unknown = [p for p in t.diffaug if p not in POLICIES]
    if unknown:
        raise ConfigError(
            f"train.diffaug: unknown augmentation '{unknown[0]}' (use {', '.join(POLICIES)})"
        )
    if t.loss == "hinge" and t.label_smoothing:
        raise ConfigError("train.label_smoothing: applies to the bce loss only, not hinge")
    if m.resolution not in RESOLUTIONS:
        raise ConfigError(
            f"model.resolution: expected one of {list(RESOLUTIONS)}, got {m.resolution}"
        )
    if config.data.image_size not in (None, m.resolution):
        raise ConfigError(
            f"data.image_size ({config.data.image_size}) must equal model.resolution "
            f"({m.resolution}) or be left unset"
        )
    if config.data.normalize == "imagenet":
        raise ConfigError("data.normalize: a DCGAN's Tanh output needs minus_one_one, not imagenet")
    checks = {
        "model.z_dim": m.z_dim >= 1,
        "train.batch_size": t.batch_size >= 1,
        "train.threads": t.threads == "auto" or t.threads >= 1,
        "train.epochs": t.epochs >= 1,
        "train.lr_g": t.lr_g > 0,
        "train.lr_d": t.lr_d > 0,
        "train.label_smoothing": 0.0 <= t.label_smoothing < 0.5,
        "train.instance_noise": t.instance_noise >= 0,
        "train.checkpoint_every": t.checkpoint_every >= 1,
        "train.keep_checkpoints": t.keep_checkpoints >= 1,
        "train.sample_count": t.sample_count >= 1,
        "train.r1_gamma": t.r1_gamma >= 0,
        "train.r1_every": t.r1_every >= 1,
        "train.ema_kimg": t.ema_kimg >= 0,
        "train.ema_rampup": t.ema_rampup is None or t.ema_rampup > 0,
        "train.max_minutes": t.max_minutes is None or t.max_minutes > 0,
        "collapse.warmup_fraction": 0 <= config.collapse.warmup_fraction <= 1,
        "collapse.every": config.collapse.every >= 1,
        "metrics.num_samples": config.metrics.num_samples >= 2,
        "collapse.num_samples": config.collapse.num_samples >= 2,
    }
    for key, ok in checks.items():
        if not ok:
            section, name = key.split(".")
            value = getattr(getattr(config, section), name)
            raise ConfigError(f"{key}: value {value!r} is out of range")
    return config
