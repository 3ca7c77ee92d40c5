"""Each small-data technique changes what it should; the paper presets stay as they were."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from unittest.mock import patch

import pytest
import torch
from torch import nn

from fakescope.checkpoints import load_checkpoint
from fakescope.config import ConfigError, load_config
from fakescope.gan import train as train_module
from fakescope.gan.config import GanJobConfig, validate
from fakescope.gan.diffaug import POLICIES, diff_augment
from fakescope.gan.ema import GeneratorAverage, ema_beta
from fakescope.gan.losses import (
    hinge_discriminator_loss,
    hinge_generator_loss,
    r1_penalty,
)
from fakescope.gan.sample import load_generator
from fakescope.gan.train import train_gan
from fakescope.models.fastgan_lite import FastGanLiteDiscriminator, FastGanLiteGenerator
from fakescope.models.gan_registry import (
    build_discriminator,
    build_generator,
    list_gan_architectures,
)
from fakescope.training.budget import TimeBudget

PAPER_PRESETS = ("paper000_dcgan64", "paper000_dcgan128", "paper001_dcgan128",
                 "paper004_celeb100k_exp1", "paper004_celeb100k_exp2", "paper004_celeba")


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# -- architectures ---------------------------------------------------------------------------


def test_registry_holds_both_architectures() -> None:
    assert {"dcgan", "fastgan_lite"} <= set(list_gan_architectures())
    with pytest.raises(KeyError, match="unknown GAN architecture"):
        build_generator("nope")


def test_small_data_preset_builds_the_measured_networks() -> None:
    config = validate(load_config(GanJobConfig, "small_data"))
    G = build_generator(config.model.arch, **config.model.generator_kwargs())
    D = build_discriminator(config.model.arch, **config.model.discriminator_kwargs())
    assert n_params(G) == 378_080  # the slim DCGAN the ablation chose
    assert n_params(D) == 175_296
    assert any("parametrizations" in k for k in D.state_dict())  # spectral norm
    images = G(torch.randn(3, config.model.z_dim))
    assert images.shape == (3, 3, 64, 64) and images.abs().max() <= 1
    assert D(images).shape == (3, 1)


def test_fastgan_lite_at_the_ablation_widths() -> None:
    G = build_generator("fastgan_lite", resolution=64, base_width=16, max_width=128)
    D = build_discriminator("fastgan_lite", resolution=64, base_width=16, max_width=128)
    assert isinstance(G, FastGanLiteGenerator) and isinstance(D, FastGanLiteDiscriminator)
    assert n_params(G) == 385_683
    assert n_params(D) == 186_129
    images = G(torch.randn(2, 100))
    assert images.shape == (2, 3, 64, 64) and D(images).shape == (2, 1)


@pytest.mark.parametrize("resolution", [32, 64, 128])
def test_fastgan_lite_at_every_resolution(resolution: int) -> None:
    G = FastGanLiteGenerator(resolution, z_dim=8, base_width=4, max_width=16)
    D = FastGanLiteDiscriminator(resolution, base_width=4, max_width=16, spectral_norm=True)
    images = G(torch.randn(2, 8))
    assert images.shape == (2, 3, resolution, resolution)
    logits = D(images)
    assert logits.shape == (2, 1) and torch.isfinite(logits).all()
    assert len(G.sles) >= 1  # skip-layer excitation at every size from 32 on


@pytest.mark.parametrize("name", PAPER_PRESETS)
def test_paper_presets_keep_every_technique_off(name: str) -> None:
    config = validate(load_config(GanJobConfig, name))
    m, t = config.model, config.train
    assert m.arch == "dcgan" and not m.d_spectral_norm
    assert t.loss == "bce" and t.diffaug == [] and t.ema_kimg == 0 and t.r1_gamma == 0
    assert t.max_minutes is None and not config.data.augment.hflip
    D = build_discriminator("dcgan", **m.discriminator_kwargs())
    assert not any("parametrizations" in k for k in D.state_dict())  # no spectral norm


def test_settings_an_architecture_lacks_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"model\.max_width"):
        validate(load_config(GanJobConfig, "paper000_dcgan64", {"model.max_width": 64}))
    with pytest.raises(ConfigError, match=r"model\.g_bn_layers"):
        validate(load_config(GanJobConfig, "small_data", {"model.arch": "fastgan_lite",
                                                          "model.g_bn_layers": [0]}))
    with pytest.raises(ConfigError, match=r"train\.diffaug"):
        validate(load_config(GanJobConfig, "small_data", {"train.diffaug": ["rotate"]}))
    with pytest.raises(ConfigError, match=r"model\.arch"):
        validate(load_config(GanJobConfig, "small_data", {"model.arch": "stylegan9"}))


# -- the techniques --------------------------------------------------------------------------


def test_diffaug_is_differentiable_and_changes_images() -> None:
    x = (torch.rand(4, 3, 16, 16) * 2 - 1).requires_grad_(True)
    rng = torch.Generator().manual_seed(0)
    y = diff_augment(x, list(POLICIES), rng)
    assert y.shape == x.shape and not torch.allclose(y, x)
    y.square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    # translation moves content without rescaling it; cutout zeroes a square of half the side
    cut = diff_augment(torch.ones(2, 3, 16, 16), ["cutout"], rng)
    zeros = (cut[:, 0] == 0).sum(dim=(1, 2))
    assert ((zeros > 0) & (zeros <= 64)).all()
    assert diff_augment(x, [], rng) is x


def test_diffaug_is_seeded() -> None:
    x = torch.rand(4, 3, 16, 16)
    a = diff_augment(x, list(POLICIES), torch.Generator().manual_seed(3))
    b = diff_augment(x, list(POLICIES), torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


def test_training_augments_real_and_fake_alike(
    tiny_config: Callable[..., GanJobConfig], pixel_features: Callable
) -> None:
    calls: list[tuple[bool, tuple[str, ...]]] = []

    def spy(x: torch.Tensor, policy: list[str], generator: torch.Generator) -> torch.Tensor:
        calls.append((x.requires_grad, tuple(policy)))
        return diff_augment(x, policy, generator)

    config = tiny_config(**{"train.epochs": 1, "train.diffaug": ["translation", "cutout"],
                            "train.metrics_every": 0, "collapse.enabled": False})
    with patch.object(train_module, "diff_augment", spy):
        result = train_gan(config, extractor_factory=pixel_features)
    # per step: the real batch and the detached fakes (D's step), the fakes again (G's step),
    # each with the whole policy; only G's pass carries a gradient back to the generator
    assert len(calls) == 3 * result.step
    assert all(policy == ("translation", "cutout") for _, policy in calls)
    assert [grad for grad, _ in calls[:3]] == [False, False, True]


def test_hinge_losses() -> None:
    real, fake = torch.tensor([2.0, 0.5]), torch.tensor([-2.0, 0.0])
    # real: max(0, 1 - 2) + max(0, 1 - 0.5) -> mean 0.25; fake: 0 and 1 -> mean 0.5
    assert hinge_discriminator_loss(real, fake).item() == pytest.approx(0.75)
    assert hinge_generator_loss(fake).item() == pytest.approx(1.0)


def test_r1_penalty_is_the_squared_input_gradient() -> None:
    w = torch.randn(3 * 4 * 4)
    x = torch.randn(5, 3, 4, 4, requires_grad=True)
    logits = (x.flatten(1) * w).sum(1, keepdim=True) ** 2 / 2  # gradient: logit' * w
    penalty = r1_penalty(logits, x)
    expected = (((x.flatten(1) * w).sum(1) ** 2)[:, None] * w.square()).sum(1).mean()
    assert penalty.item() == pytest.approx(expected.item(), rel=1e-5)
    penalty.backward()  # the graph is kept, so the penalty trains D


def test_r1_changes_the_discriminator_step(
    tiny_config: Callable[..., GanJobConfig], pixel_features: Callable
) -> None:
    common = {"train.epochs": 1, "train.metrics_every": 0, "collapse.enabled": False,
              "train.loss": "hinge"}
    plain = train_gan(tiny_config(**common, **{"run.name": "plain"}),
                      extractor_factory=pixel_features)
    with_r1 = train_gan(tiny_config(**common, **{"run.name": "r1", "train.r1_gamma": 10.0,
                                                 "train.r1_every": 2}),
                        extractor_factory=pixel_features)
    a = load_checkpoint(plain.checkpoint)["discriminator"]  # type: ignore[arg-type]
    b = load_checkpoint(with_r1.checkpoint)["discriminator"]  # type: ignore[arg-type]
    assert any(not torch.equal(a[k], b[k]) for k in a)
    logged = [line.split(",") for line in with_r1.run.metrics.read_text().splitlines()]
    r1_column = logged[0].index("r1")
    steps_with_r1 = [int(row[0]) for row in logged[1:] if row[r1_column]]
    assert steps_with_r1 == [1, 3]  # steps 0 and 2 of the 4, counted from 1 in the log
    ga = load_checkpoint(plain.checkpoint)["generator"]  # type: ignore[arg-type]
    gb = load_checkpoint(with_r1.checkpoint)["generator"]  # type: ignore[arg-type]
    assert any(not torch.equal(ga[k], gb[k]) for k in ga)  # G learns from a different D


def test_spectral_norm_bounds_every_layer() -> None:
    D = FastGanLiteDiscriminator(32, base_width=8, max_width=32, spectral_norm=True).train()
    x = torch.randn(4, 3, 32, 32)
    for _ in range(30):  # power iterations converge as D runs
        D(x)
    D.eval()
    for module in D.modules():
        if isinstance(module, nn.Conv2d):
            weight = module.weight.flatten(1)
            assert torch.linalg.matrix_norm(weight, ord=2).item() == pytest.approx(1.0, abs=0.05)
    plain = FastGanLiteDiscriminator(32, base_width=8, max_width=32)
    norms = [torch.linalg.matrix_norm(m.weight.flatten(1), ord=2).item()
             for m in plain.modules() if isinstance(m, nn.Conv2d)]
    assert max(abs(n - 1) for n in norms) > 0.2


def test_ema_beta_ramps_up_and_halves_at_the_half_life() -> None:
    assert ema_beta(1000, 10_000, 1000, None) == pytest.approx(0.5)
    assert ema_beta(1000, 100, 10, 0.05) == pytest.approx(0.5 ** (10 / 5))  # half-life 100*0.05
    G = FastGanLiteGenerator(32, z_dim=4, base_width=4, max_width=8)
    average = GeneratorAverage(G, 1000, None)
    with torch.no_grad():
        for p in G.parameters():
            p.add_(1.0)
    before = [p.clone() for p in average.model.parameters()]
    average.update(G, 10_000, 1000)
    for old, new, current in zip(before, average.model.parameters(), G.parameters(),
                                 strict=True):
        assert torch.allclose(new, (old + current) / 2)  # beta 0.5: half way


def test_ema_weights_are_what_generate_uses(
    tiny_config: Callable[..., GanJobConfig], pixel_features: Callable
) -> None:
    result = train_gan(tiny_config(**{"train.ema_kimg": 0.01, "train.metrics_every": 0}),
                       extractor_factory=pixel_features)
    payload = load_checkpoint(result.checkpoint)  # type: ignore[arg-type]
    averaged, raw = payload["generator"], payload["generator_train"]
    weights = [k for k in raw if k.endswith("weight")]
    assert any(not torch.equal(averaged[k], raw[k]) for k in weights)
    loaded = load_generator(result.checkpoint)  # type: ignore[arg-type]
    for key, value in loaded.state_dict().items():
        assert torch.equal(value, averaged[key])


def test_mirrored_reals_reach_d_only_when_asked(
    tiny_config: Callable[..., GanJobConfig], pixel_features: Callable
) -> None:
    def reals_seen(hflip: bool) -> torch.Tensor:
        seen: list[torch.Tensor] = []
        step = train_module.GanTrainer.train_step

        def capture(self: train_module.GanTrainer, real: torch.Tensor) -> dict[str, float]:
            seen.append(real.detach().clone())
            return step(self, real)

        config = tiny_config(**{"train.epochs": 4, "train.metrics_every": 0,
                                "data.augment.hflip": hflip, "run.name": f"hflip_{hflip}"})
        with patch.object(train_module.GanTrainer, "train_step", capture):
            train_gan(config, extractor_factory=pixel_features)
        return torch.cat(seen)

    def mirrored_pairs(images: torch.Tensor) -> int:
        distances = torch.cdist(images.flip(-1).flatten(1), images.flatten(1))
        return int((distances < 1e-4).sum())

    assert mirrored_pairs(reals_seen(True)) > 0  # some image came both ways round
    assert mirrored_pairs(reals_seen(False)) == 0  # the random test images are not symmetric


# -- budgets, resume, learning ---------------------------------------------------------------


SMALL = {"model.arch": "fastgan_lite", "model.base_width": 4, "model.max_width": 16,
         "model.d_base_width": 4, "model.d_spectral_norm": True, "train.loss": "hinge",
         "train.diffaug": ["color", "translation", "cutout"], "train.ema_kimg": 0.02,
         "train.r1_gamma": 0.5, "train.r1_every": 2, "train.lr_d": 4e-4,
         "data.augment.hflip": True}


def test_small_data_run_resumes_exactly(
    tiny_config: Callable[..., GanJobConfig], pixel_features: Callable
) -> None:
    straight = train_gan(tiny_config(**SMALL, **{"run.name": "straight"}),
                         extractor_factory=pixel_features)
    config = tiny_config(**SMALL, **{"run.name": "resumed"})

    def stop_at_3(step: int) -> None:
        if step == 3:
            import os
            import signal

            os.kill(os.getpid(), signal.SIGINT)

    stopped = train_gan(config, extractor_factory=pixel_features, on_step=stop_at_3)
    assert stopped.interrupted == "SIGINT"
    resumed = train_gan(config, resume=True, extractor_factory=pixel_features)
    a = load_checkpoint(straight.checkpoint)  # type: ignore[arg-type]
    b = load_checkpoint(resumed.checkpoint)  # type: ignore[arg-type]
    for net in ("generator", "generator_train", "discriminator"):
        for key, value in a[net].items():
            assert torch.equal(value, b[net][key]), f"{net}.{key}"
    assert torch.equal(a["augment_rng"], b["augment_rng"])


def test_time_budget_ends_the_run_with_a_checkpoint_and_samples(
    tiny_config: Callable[..., GanJobConfig], pixel_features: Callable
) -> None:
    config = tiny_config(**{"train.epochs": 1000, "train.max_minutes": 0.001,
                            "train.sample_every": 500, "train.checkpoint_every": 500})
    result = train_gan(config, extractor_factory=pixel_features)
    assert result.interrupted is None and 1 <= result.step < 4000
    assert result.checkpoint is not None and result.checkpoint.is_file()
    samples = list((result.run.path / "samples").glob("*.png"))
    assert samples, "the run's last samples are drawn"
    assert "fd_tinypixels" in result.summary  # and its metrics measured
    # --resume with more time goes on from there
    more = train_gan(tiny_config(**{"train.epochs": 1000, "train.max_minutes": 0.002,
                                    "train.sample_every": 500, "train.checkpoint_every": 500}),
                     resume=True, extractor_factory=pixel_features)
    assert more.step > result.step


def test_collapse_warmup_scales_with_the_run(
    tiny_config: Callable[..., GanJobConfig], pixel_features: Callable, faces: Path
) -> None:
    from fakescope.gan.config import GanCollapseConfig

    # The demo run of the issue: 12 epochs of 13 iterations, diversity 0.17-0.41 of the reals'.
    config = tiny_config(**{"train.epochs": 12})
    config.collapse = GanCollapseConfig()
    trainer = train_module.GanTrainer.__new__(train_module.GanTrainer)
    trainer.config, trainer.batches_per_epoch = config, 13
    trainer.budget, trainer.state = TimeBudget(None), train_module.TrainState()
    assert trainer.planned_steps() == 156
    assert trainer.collapse_warmup() == 32  # 20 % of 156, not 500: the run is watched
    config.train.epochs = 1000
    assert trainer.collapse_warmup() == 500  # a long run keeps the fixed warm-up


def test_a_short_collapsed_run_warns(
    tiny_config: Callable[..., GanJobConfig], pixel_features: Callable
) -> None:
    # 8 iterations of an untrained generator, whose samples are near-identical: the old fixed
    # warm-up of 500 iterations kept such runs silent; a fifth of the run's length does not.
    result = train_gan(tiny_config(**{"train.metrics_every": 0, "collapse.threshold": 0.9}),
                       extractor_factory=pixel_features)
    assert any("mode collapse" in w for w in result.warnings)
    quiet = train_gan(tiny_config(**{"train.metrics_every": 0, "collapse.threshold": 0.9,
                                     "collapse.warmup_fraction": 1.0, "run.name": "quiet"}),
                      extractor_factory=pixel_features)
    assert not quiet.warnings  # warm-up as long as the run: never warns


def test_a_fastgan_lite_discriminator_exports_as_a_detector(
    tiny_config: Callable[..., GanJobConfig], pixel_features: Callable, tmp_path: Path
) -> None:
    from fakescope.gan.export import export_detector
    from fakescope.models.registry import load_detector

    result = train_gan(tiny_config(**SMALL, **{"train.epochs": 1, "train.metrics_every": 0}),
                       extractor_factory=pixel_features)
    written = export_detector(result.checkpoint, tmp_path / "det.pt")  # type: ignore[arg-type]
    assert written["name"] == "gan_disc" and written["kwargs"]["arch"] == "fastgan_lite"
    loaded = load_detector(tmp_path / "det.pt")
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    payload = load_checkpoint(result.checkpoint)  # type: ignore[arg-type]
    D = build_discriminator("fastgan_lite", **payload["discriminator_kwargs"])
    D.load_state_dict(payload["discriminator"])
    assert torch.allclose(loaded.model(x), -D.eval()(x), atol=1e-6)


def test_a_short_small_data_run_lowers_fd(tmp_path: Path) -> None:
    """64 iterations of the small-data recipe (narrow widths) on 64 synthetic faces at 32x32
    bring FD on 4x4 mean colours to 0.53-0.57 of the untrained generator's (measured over seeds
    0-2); the bound leaves room for other machines' arithmetic."""
    from gan.tiny_gan import TinyPixelFeatures, make_tiny_config

    from fakescope.data.pipeline import prepare_data
    from fakescope.data.synth import synthesize_dataset
    from fakescope.data.tensors import real_uint8_batches
    from fakescope.gan.metrics import compare_with_floor
    from fakescope.gan.train import gan_input_spec

    synthesize_dataset(tmp_path / "synth", n=64, size=32, seed=0)
    config = make_tiny_config(tmp_path / "synth" / "real", tmp_path, **{
        **SMALL, "model.base_width": 8, "model.max_width": 32, "model.d_base_width": 8,
        "train.diffaug": [], "train.r1_gamma": 0.0, "train.ema_kimg": 0.05,
        "train.batch_size": 8, "train.epochs": 8, "train.metrics_every": 0,
        "collapse.enabled": False, "train.checkpoint_every": 1000,
    })
    result = train_gan(config, extractor_factory=lambda kind: TinyPixelFeatures())
    assert result.step == 64
    untrained = build_generator("fastgan_lite", **config.model.generator_kwargs())
    untrained.calibrate_batchnorm(2, 32, torch.Generator().manual_seed(0))
    prepared = prepare_data(config.data, gan_input_spec(config), labelled=False)

    def fd(generator: torch.nn.Module) -> float:
        reals = real_uint8_batches(prepared, 64, 8, 0)
        return compare_with_floor(TinyPixelFeatures(), generator, reals, 8).fake["fd"]

    trained = load_generator(result.checkpoint)  # type: ignore[arg-type]
    assert fd(trained) < 0.7 * fd(untrained)
