"""DCGAN networks: the papers' parameter counts, shapes, ranges, and D as a registered detector."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from fakescope.checkpoints import CheckpointError, save_checkpoint
from fakescope.models.dcgan import Discriminator, Generator, hidden_widths
from fakescope.models.discriminator_detector import DiscriminatorDetector
from fakescope.models.registry import (
    build_detector,
    fake_probability,
    list_detectors,
    load_detector,
    save_detector,
)


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"resolution": 64}, 3_576_704),  # paper 000 Table V, the classic DCGAN
        ({"resolution": 128}, 3_608_000),  # paper 000 Table II
        ({"resolution": 64, "z_dim": 200, "z_dist": "uniform"}, 4_395_904),  # paper 004
    ],
)
def test_generator_parameter_counts_match_the_papers(kwargs: dict, expected: int) -> None:
    assert n_params(Generator(**kwargs)) == expected


@pytest.mark.parametrize(("resolution", "expected"), [(64, 2_765_568), (128, 2_796_928)])
def test_discriminator_parameter_counts_match_the_papers(resolution: int, expected: int) -> None:
    assert n_params(Discriminator(resolution)) == expected


def test_widths_follow_the_papers_tables() -> None:
    assert hidden_widths(64) == [64, 128, 256, 512]  # Table IV
    assert hidden_widths(128) == [32, 64, 128, 256, 512]  # Table I
    assert hidden_widths(32, base_width=8) == [8, 16, 32]


def test_batchnorm_placement_matches_the_papers() -> None:
    d128 = Discriminator(128)
    bn_widths = [m.num_features for m in d128.modules() if isinstance(m, nn.BatchNorm2d)]
    assert bn_widths == [64, 128, 256, 512]  # not on the first layer (Table I)
    g128 = Generator(128)
    assert [m.num_features for m in g128.modules() if isinstance(m, nn.BatchNorm2d)] == [
        512, 256, 128, 64, 32,
    ]
    assert not any(m.bias is not None for m in g128.modules() if isinstance(m, nn.ConvTranspose2d))


@pytest.mark.parametrize("resolution", [32, 64, 128, 256])
def test_shapes_and_ranges_at_every_resolution(resolution: int) -> None:
    torch.manual_seed(0)
    g = Generator(resolution, base_width=4)
    d = Discriminator(resolution, base_width=4)
    images = g(torch.randn(2, 100))
    assert images.shape == (2, 3, resolution, resolution)
    assert images.min() >= -1 and images.max() <= 1
    logits = d(images)
    assert logits.shape == (2, 1)
    assert torch.isfinite(logits).all()


def test_knobs_change_the_network() -> None:
    g = Generator(64, base_width=8, bn_layers=[0], activation="leaky_relu")
    assert sum(isinstance(m, nn.BatchNorm2d) for m in g.modules()) == 1
    assert any(isinstance(m, nn.LeakyReLU) for m in g.modules())
    assert not any(isinstance(m, nn.ReLU) for m in g.modules())
    d = Discriminator(64, base_width=8, bn_layers=[])
    assert not any(isinstance(m, nn.BatchNorm2d) for m in d.modules())


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Generator(48), "resolution"),
        (lambda: Generator(64, bn_layers=[7]), "out of range"),
        (lambda: Generator(64, z_dist="cauchy"), "z distribution"),  # type: ignore[arg-type]
        (lambda: Generator(64, activation="tanh"), "activation"),  # type: ignore[arg-type]
    ],
)
def test_bad_settings_are_clear_errors(build, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=message):
        build()


def test_dcgan_initialisation() -> None:
    torch.manual_seed(0)
    g = Generator(64)
    conv = g.blocks[1][0].weight
    assert abs(conv.mean().item()) < 1e-3 and abs(conv.std().item() - 0.02) < 1e-3
    bn = g.blocks[1][1]
    assert abs(bn.weight.mean().item() - 1) < 0.01 and abs(bn.weight.std().item() - 0.02) < 0.01
    assert torch.count_nonzero(bn.bias) == 0


def test_latents_follow_the_chosen_distribution() -> None:
    rng = torch.Generator().manual_seed(0)
    z = Generator(32, base_width=4, z_dim=200, z_dist="uniform").sample_latent(500, rng)
    assert z.shape == (500, 200) and z.min() >= -1 and z.max() <= 1
    assert abs(z.mean().item()) < 0.01 and abs(z.var().item() - 1 / 3) < 0.01  # U[-1, 1]
    normal = Generator(32, base_width=4).sample_latent(500, rng)
    assert abs(normal.std().item() - 1) < 0.02


def test_sample_does_not_depend_on_the_batch_around_an_image() -> None:
    torch.manual_seed(0)
    g = Generator(32, base_width=8)
    g.calibrate_batchnorm(4, 16, torch.Generator().manual_seed(1))
    z = g.sample_latent(8, torch.Generator().manual_seed(2))
    g.eval()
    with torch.no_grad():
        assert torch.allclose(g(z)[:3], g(z[:3]), atol=1e-6)
    g.train()
    both = g.sample(4, torch.Generator().manual_seed(3))
    assert g.training  # mode restored
    assert torch.equal(both, g.sample(4, torch.Generator().manual_seed(3)))


def test_calibrated_statistics_make_eval_samples_match_training_mode() -> None:
    torch.manual_seed(0)
    g = Generator(32, base_width=8)
    z = g.sample_latent(256, torch.Generator().manual_seed(5))
    with torch.no_grad():
        train_mode = g(z)
        g.eval()
        stale = g(z)
        g.calibrate_batchnorm(8, 64, torch.Generator().manual_seed(6))
        calibrated = g(z)
    assert (calibrated - train_mode).abs().mean() < 0.2 * (stale - train_mode).abs().mean()


# -- the discriminator as a detector ----------------------------------------------------------


def test_detectors_are_registered_with_identical_parameter_counts() -> None:
    names = list_detectors()
    assert {"dcgan_disc64", "dcgan_disc128", "dcgan_disc"} <= set(names)
    assert n_params(build_detector("dcgan_disc64")) == 2_765_568
    assert n_params(build_detector("dcgan_disc128")) == 2_796_928
    det = build_detector("dcgan_disc", resolution=32, base_width=8)
    assert det.input_spec.size == 32 and det.num_logits == 1
    assert det(torch.zeros(2, 3, 32, 32)).shape == (2, 1)
    assert det.features(torch.zeros(2, 3, 32, 32)).shape == (2, 32 * 4 * 4)
    assert {id(p) for p in det.head_parameters()} == {id(det.discriminator.head.weight)}
    assert isinstance(det.gradcam_layer(), nn.Sequential)


def test_detector_logit_says_fake_where_the_discriminator_says_real() -> None:
    torch.manual_seed(0)
    det = DiscriminatorDetector(32, base_width=8).eval()
    x = torch.rand(3, 3, 32, 32) * 2 - 1
    d_real = torch.sigmoid(det.discriminator(x)).view(-1)
    assert torch.allclose(fake_probability(det(x)), 1 - d_real, atol=1e-6)


def _gan_checkpoint(path: Path, disc: Discriminator, resolution: int, base_width: int) -> Path:
    save_checkpoint(path, {
        "kind": "gan",
        "discriminator_kwargs": {
            "resolution": resolution, "base_width": base_width, "bn_layers": None,
        },
        "discriminator": disc.state_dict(),
    })
    return path


def test_pretrained_from_a_gan_checkpoint_and_a_detector_checkpoint(tmp_path: Path) -> None:
    torch.manual_seed(0)
    disc = Discriminator(32, base_width=8)
    ckpt = _gan_checkpoint(tmp_path / "gan.pt", disc, 32, 8)
    det = build_detector("dcgan_disc", pretrained=str(ckpt)).eval()
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    assert torch.equal(det(x), -disc.eval()(x))

    saved = tmp_path / "det.pt"
    save_detector(saved, det, "dcgan_disc", {"resolution": 32, "base_width": 8}, det.input_spec)
    again = build_detector("dcgan_disc", pretrained=str(saved)).eval()
    assert torch.equal(again(x), det(x))
    loaded = load_detector(saved)
    assert torch.equal(loaded.model(x), det(x))


def test_pretrained_errors_are_clear(tmp_path: Path) -> None:
    ckpt = _gan_checkpoint(tmp_path / "gan.pt", Discriminator(32, base_width=8), 32, 8)
    with pytest.raises(ValueError, match="32x32"):
        build_detector("dcgan_disc64", pretrained=str(ckpt))
    with pytest.raises(ValueError, match="ImageNet"):
        build_detector("dcgan_disc64", pretrained="imagenet")
    with pytest.raises(CheckpointError, match="do not fit"):
        build_detector("dcgan_disc", pretrained=str(ckpt), base_width=4)
    other = tmp_path / "other.pt"
    save_checkpoint(other, {"kind": "detector", "detector": {"name": "resnet50", "kwargs": {}}})
    with pytest.raises(CheckpointError, match="no GAN discriminator"):
        build_detector("dcgan_disc", pretrained=str(other))
