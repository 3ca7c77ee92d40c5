"""Detector job config: the paper presets load and name their paper; bad values name the key."""

from __future__ import annotations

import pytest

from fakescope.config import PRESET_DIR, ConfigError, load_config
from fakescope.detect.config import DetectJobConfig, check_detect_config
from fakescope.models.registry import list_detectors

PRESETS = [
    "paper001_inception_resnet_v2",
    "paper002_selfcnn",
    "paper002_densenet121",
    "paper002_search",
    "paper003_resnet50",
    "paper003_efficientnet_b0",
]


@pytest.mark.parametrize("preset", PRESETS)
def test_paper_presets_load_and_name_a_registered_model(preset: str) -> None:
    config = load_config(DetectJobConfig, preset)
    check_detect_config(config)
    assert config.paper.startswith(preset[5:8])
    assert config.model.name in list_detectors()
    assert (PRESET_DIR / f"{preset}.yaml").read_text(encoding="utf-8").startswith("# Paper ")


def test_paper_recipes_carry_their_numbers() -> None:
    p2 = load_config(DetectJobConfig, "paper002_selfcnn")
    assert (p2.train.lr, p2.train.weight_decay, p2.train.batch_size) == (0.001, 0.0007, 128)
    assert (p2.train.schedule, p2.train.step_size, p2.train.gamma) == ("step", 5, 0.1)
    assert p2.train.early_stopping_patience == 2 and p2.model.kwargs == {"dropout": 0.35}
    search = load_config(DetectJobConfig, "paper002_search").search
    assert (search.trials, search.sampler, search.fraction) == (5, "random", 0.1)
    assert search.lr == (1e-5, 1e-3) and search.batch_sizes == [32, 64, 128]
    p3 = load_config(DetectJobConfig, "paper003_resnet50")
    assert (p3.train.epochs, p3.data.image_size, p3.data.normalize) == (8, 224, "imagenet")
    assert load_config(DetectJobConfig, "paper001_inception_resnet_v2").train.epochs == 20


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"train.lr": 0.0}, "train.lr must be positive"),
        ({"train.early_stopping_patience": 0}, "train.early_stopping_patience"),
        ({"train.threshold": 1.0}, "train.threshold"),
        ({"search.fraction": 1.5}, "search.fraction"),
        ({"search.dropout": [0.5, 0.1]}, "search.dropout"),
        ({"search.batch_sizes": []}, "search.batch_sizes"),
    ],
)
def test_bad_values_name_their_key(override: dict[str, object], message: str) -> None:
    config = load_config(DetectJobConfig, None, override)
    with pytest.raises(ConfigError, match=message):
        check_detect_config(config)


def test_unknown_train_key_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"train\.learning_rate"):
        load_config(DetectJobConfig, None, ["train.learning_rate=0.1"])
