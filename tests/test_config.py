"""Config precedence (defaults < preset < overrides) and errors that name the key."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import pytest
import yaml

from fakescope.config import (
    ConfigError,
    JobConfig,
    given,
    load_config,
    load_with_flags,
    merge_overrides,
    save_config,
    to_dict,
)


@dataclasses.dataclass
class TrainSection:
    lr: float = 1e-3
    epochs: int = 5
    betas: tuple[float, float] = (0.9, 0.999)
    schedule: str = "none"


@dataclasses.dataclass
class ToyJob(JobConfig):
    amp: Literal["auto"] | bool = "auto"
    train: TrainSection = dataclasses.field(default_factory=TrainSection)


def test_defaults_then_preset_then_overrides(tmp_path: Path) -> None:
    preset = tmp_path / "p.yaml"
    preset.write_text(
        "paper: 'Paper 002, Table 1'\ntrain: {lr: 0.01, epochs: 7}\ndata: {image_size: 64}\n"
    )
    config = load_config(
        ToyJob, preset, ["train.epochs=9", "run.seed=3", "data.augment.hflip=true"]
    )
    assert config.train.lr == 0.01  # preset beats default
    assert config.train.epochs == 9  # override beats preset
    assert config.train.betas == (0.9, 0.999)  # default kept
    assert config.data.image_size == 64 and config.run.seed == 3 and config.data.augment.hflip
    assert config.paper == "Paper 002, Table 1"


def test_none_in_overrides_sets_none(tmp_path: Path) -> None:
    # callers leave out the flags a user did not give (merge_overrides); a None that reaches
    # load_config is a value, as `--set key=null` is: it unsets a preset's optional key
    preset = tmp_path / "p.yaml"
    preset.write_text("data:\n  image_size: 64\n")
    assert load_config(ToyJob, preset).data.image_size == 64
    assert load_config(ToyJob, preset, {"data.image_size": None}).data.image_size is None
    assert load_config(ToyJob, preset, ["data.image_size=null"]).data.image_size is None
    assert merge_overrides({"train.lr": None, "train.epochs": 3}, []) == {"train.epochs": 3}


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("train.lrr=1", "unknown config key 'train.lrr'"),
        ("train.epochs=abc", "train.epochs: expected an integer"),
        ("train.epochs=2.5", "train.epochs: expected an integer"),
        ("data.resize=stretch", "data.resize: expected one of"),
        ("train.betas=[0.5]", "train.betas: expected 2 values"),
        ("data.augment.hflip=3", "data.augment.hflip: expected true or false"),
        ("train=3", "train: expected a mapping"),
        ("amp=fast", "amp: expected 'auto' or true or false, got 'fast'"),
        ("data.image_size=big", "data.image_size: expected an integer or null"),
        ("nonsense", "must look like key=value"),
    ],
)
def test_errors_name_the_key(override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(ToyJob, None, [override])


def test_a_preset_mistake_is_blamed_on_the_preset(tmp_path: Path) -> None:
    preset = tmp_path / "p.yaml"
    preset.write_text("train: 5\n")
    with pytest.raises(ConfigError, match=r"preset .*p\.yaml: train: expected a mapping") as err:
        load_config(ToyJob, preset, ["train.epochs=3"])
    assert "override" not in str(err.value)


def test_a_flag_and_a_set_of_the_same_key_must_agree() -> None:
    flags = {"train.epochs": 1, "train.lr": None}
    with pytest.raises(ConfigError, match=r"train\.epochs is given twice.*train\.epochs=-3"):
        merge_overrides(flags, ["train.epochs=-3"])
    merged = merge_overrides(flags, ["train.epochs=1", "train.lr=0.5"])
    assert merged == {"train.epochs": 1, "train.lr": 0.5}


def _epochs_flag(epochs: int | None) -> Callable[[ToyJob], ToyJob]:
    """A command's --epochs flag, applied the typed way (None: the user did not give it)."""
    return lambda c: dataclasses.replace(
        c, train=dataclasses.replace(c.train, epochs=given(epochs, c.train.epochs)))


def test_typed_flags_go_on_top_of_the_preset_and_sets(tmp_path: Path) -> None:
    preset = tmp_path / "p.yaml"
    preset.write_text("train: {epochs: 7, lr: 0.01}\n")
    config = load_with_flags(ToyJob, preset, ["train.lr=0.5"], _epochs_flag(2))
    assert (config.train.epochs, config.train.lr) == (2, 0.5)
    assert load_with_flags(ToyJob, preset, [], _epochs_flag(None)).train.epochs == 7


def test_a_typed_flag_and_a_set_of_the_same_key_must_agree() -> None:
    with pytest.raises(ConfigError, match=r"^train\.epochs is given twice, as a flag \(1\) "
                                          r"and as --set train\.epochs=3: give it once$"):
        load_with_flags(ToyJob, None, ["train.epochs=3"], _epochs_flag(1))
    agreed = load_with_flags(ToyJob, None, ["train.epochs=1", "train.lr=0.5"], _epochs_flag(1))
    assert (agreed.train.epochs, agreed.train.lr) == (1, 0.5)


def test_typed_flags_are_checked_like_a_preset_value() -> None:
    with pytest.raises(ConfigError, match=r"train\.epochs: expected an integer, got 'many'"):
        load_with_flags(ToyJob, None, [], _epochs_flag("many"))  # type: ignore[arg-type]


def test_unknown_key_in_preset(tmp_path: Path) -> None:
    preset = tmp_path / "p.yaml"
    preset.write_text("data: {pth: x}\n")
    with pytest.raises(ConfigError, match=r"unknown config key 'data\.pth'"):
        load_config(ToyJob, preset)


def test_missing_preset_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(ToyJob, tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(ToyJob, bad)


def test_saved_config_round_trips(tmp_path: Path) -> None:
    config = load_config(ToyJob, None, ["train.lr=0.2", "data.split_fractions=[0.7, 0.2, 0.1]"])
    save_config(config, tmp_path / "config.yaml")
    again = load_config(ToyJob, tmp_path / "config.yaml")
    assert again == config
    assert yaml.safe_load((tmp_path / "config.yaml").read_text()) == to_dict(config)
