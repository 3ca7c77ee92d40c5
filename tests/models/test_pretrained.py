"""`pretrained` is one type with one parser: none, imagenet, a weights file, or the demo's gan."""

from __future__ import annotations

from pathlib import Path

import pytest

from fakescope.config import ConfigError, load_config, save_config, to_dict
from fakescope.detect.config import DetectJobConfig, check_detect_config
from fakescope.models.pretrained import IMAGENET, NO_WEIGHTS, Pretrained
from fakescope.models.registry import build_detector


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("none", NO_WEIGHTS),
        ("imagenet", IMAGENET),
        (" imagenet ", IMAGENET),
        ("gan", Pretrained("gan")),
        ("runs/gan/checkpoints/last.pt", Pretrained.file("runs/gan/checkpoints/last.pt")),
    ],
)
def test_parse_reads_every_source_and_str_writes_it_back(text: str, expected: Pretrained) -> None:
    parsed = Pretrained.parse(text)
    assert parsed == expected
    assert Pretrained.parse(str(parsed)) == parsed


def test_an_empty_value_is_a_one_line_error() -> None:
    with pytest.raises(ConfigError, match=r"model\.pretrained: pretrained is empty") as err:
        load_config(DetectJobConfig, None, ["model.pretrained="])
    assert "\n" not in str(err.value)
    with pytest.raises(ConfigError, match=r"model\.pretrained: expected a string, got 3"):
        load_config(DetectJobConfig, None, ["model.pretrained=3"])


def test_a_path_goes_with_the_file_source_only() -> None:
    with pytest.raises(ConfigError, match="source 'file' only"):
        Pretrained("imagenet", Path("x.pt"))
    with pytest.raises(ConfigError, match="source 'file' only"):
        Pretrained("file")


def test_a_config_carries_the_type_and_saves_its_text(tmp_path: Path) -> None:
    config = load_config(DetectJobConfig, None, {"model.pretrained": "weights/b0.pth"})
    assert config.model.pretrained == Pretrained.file("weights/b0.pth")
    assert to_dict(config)["model"]["pretrained"] == "weights/b0.pth"
    save_config(config, tmp_path / "config.yaml")
    assert load_config(DetectJobConfig, tmp_path / "config.yaml") == config


def test_gan_is_refused_outside_the_demo_in_one_line() -> None:
    config = load_config(DetectJobConfig, None, ["model.pretrained=gan"])
    with pytest.raises(ConfigError, match=r"model\.pretrained: 'gan'") as err:
        check_detect_config(config)
    assert "\n" not in str(err.value)
    with pytest.raises(ConfigError, match="demo presets only"):
        build_detector("selfcnn", pretrained="gan")


def test_resolve_gan_names_the_checkpoint_and_leaves_the_rest(tmp_path: Path) -> None:
    checkpoint = tmp_path / "gan.pt"
    assert Pretrained("gan").resolve_gan(checkpoint) == Pretrained.file(checkpoint)
    assert IMAGENET.resolve_gan(checkpoint) == IMAGENET
