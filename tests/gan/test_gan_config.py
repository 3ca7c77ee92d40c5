"""GAN presets: each loads, names its paper, and builds the paper's networks."""

from __future__ import annotations

import pytest

from fakescope.config import ConfigError, load_config
from fakescope.gan.config import GanJobConfig, validate
from fakescope.models.dcgan import Discriminator, Generator


def n_params(module: object) -> int:
    return sum(p.numel() for p in module.parameters())  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("preset", "paper", "g_params", "d_params"),
    [
        ("paper000_dcgan64", "000", 3_576_704, 2_765_568),
        ("paper000_dcgan128", "000", 3_608_000, 2_796_928),
        ("paper001_dcgan128", "001", 3_608_000, 2_796_928),
        ("paper004_celeb100k_exp1", "004", 4_395_904, 2_765_568),
        ("paper004_celeb100k_exp2", "004", 4_395_904, 2_765_568),
        ("paper004_celeba", "004", 4_395_904, 2_765_568),
    ],
)
def test_presets_build_the_papers_networks(
    preset: str, paper: str, g_params: int, d_params: int
) -> None:
    config = validate(load_config(GanJobConfig, preset))
    assert config.paper.startswith(paper)
    assert config.run.name == preset
    assert n_params(Generator(**config.model.generator_kwargs())) == g_params
    assert n_params(Discriminator(**config.model.discriminator_kwargs())) == d_params
    assert config.data.normalize == "minus_one_one"


def test_paper_004_experiments_differ_where_the_paper_says() -> None:
    exp1 = load_config(GanJobConfig, "paper004_celeb100k_exp1")
    exp2 = load_config(GanJobConfig, "paper004_celeb100k_exp2")
    assert (exp1.model.g_activation, exp1.train.lr_g) == ("relu", 1e-4)
    assert (exp2.model.g_activation, exp2.train.lr_g) == ("leaky_relu", 2e-4)
    for config in (exp1, exp2):
        assert config.model.z_dist == "uniform" and config.model.z_dim == 200
        assert config.train.batch_size == 128 and config.train.label_smoothing == pytest.approx(0.1)


def test_defaults_are_the_dcgan_recipe() -> None:
    config = validate(GanJobConfig())
    assert (config.train.lr_g, config.train.betas_g) == (2e-4, (0.5, 0.999))
    assert config.data.normalize == "minus_one_one"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"model.resolution": 48}, "model.resolution"),
        ({"train.label_smoothing": 0.7}, "train.label_smoothing"),
        ({"data.normalize": "imagenet"}, "minus_one_one"),
        ({"train.g_loss": "wasserstein"}, "train.g_loss"),
        ({"train.epochs": 0}, "train.epochs"),
    ],
)
def test_bad_values_name_their_key(override: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        validate(load_config(GanJobConfig, overrides=override))
