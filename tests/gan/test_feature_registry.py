"""GAN feature extractors (FD/KID, collapse watch) come from a registry, like the detectors."""

from __future__ import annotations

import pytest
import torch

from fakescope.config import ConfigError, load_config
from fakescope.errors import UnknownNameError
from fakescope.gan import metrics
from fakescope.gan.config import GanJobConfig, validate


def test_the_registry_names_every_extractor_with_a_description() -> None:
    names = metrics.list_feature_extractors()
    assert {"auto", "inception", "efflite0", "pixels"} <= set(names)
    assert all(text for text in names.values())


def test_an_unknown_name_is_one_line_listing_the_known() -> None:
    with pytest.raises(UnknownNameError, match="unknown feature extractor 'fid'") as err:
        metrics.build_feature_extractor("fid", torch.device("cpu"))
    message = str(err.value.args[0])
    assert "\n" not in message and all(n in message for n in ("auto", "efflite0", "pixels"))


@pytest.mark.parametrize("key", ["metrics.feature_extractor", "collapse.features"])
def test_a_config_naming_an_unknown_extractor_fails_validation(key: str) -> None:
    config = load_config(GanJobConfig, None, [f"{key}=fid"])
    with pytest.raises(ConfigError, match=rf"{key}: unknown feature extractor 'fid' "
                                          r"\(registered: auto, efflite0"):
        validate(config)


def test_a_registered_name_builds_and_a_second_registration_is_refused() -> None:
    extractor = metrics.build_feature_extractor("pixels", torch.device("cpu"))
    assert extractor.name == "pixels"
    assert extractor(torch.zeros(2, 3, 32, 32, dtype=torch.uint8)).shape == (2, 16 * 16 * 3)
    with pytest.raises(ValueError, match="registered twice"):
        metrics.register_feature_extractor("pixels", "again")(lambda device, weights: extractor)
    config = load_config(GanJobConfig, None, ["collapse.features=pixels"])
    assert validate(config).collapse.features == "pixels"


def test_gan_metrics_refuses_an_unknown_name_before_reading_anything(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from fakescope.cli import main

    assert main(["gan", "metrics", "--checkpoint", "/no/such.pt", "--feature-extractor",
                 "fid"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("fakescope: error: unknown feature extractor 'fid'") and "\n" not in err
