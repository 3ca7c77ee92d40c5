"""Hyper-parameter search: trials on a data fraction, a resumable study, the best preset."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import optuna
import pytest

from fakescope.config import load_config
from fakescope.detect.config import DetectJobConfig
from fakescope.detect.search import apply_params, run_search, trial_config
from fakescope.detect.train import train_detector

MakeConfig = Callable[..., DetectJobConfig]


@pytest.fixture(autouse=True)
def quiet_optuna() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)


def _search_config(make_config: MakeConfig, **extra: object) -> DetectJobConfig:
    settings: dict[str, object] = {
        "search__trials": 3, "search__fraction": 0.5, "search__batch_sizes": [8, 16],
        "search__study": "tiny_study", "train__epochs": 2,
    }
    return make_config(**{**settings, **extra})


def test_three_trials_write_a_preset_of_the_best(make_config: MakeConfig) -> None:
    config = _search_config(make_config)
    result = run_search(config)
    assert (result.trials_complete + result.trials_pruned, result.trials_failed) == (3, 0)
    assert result.storage.startswith("sqlite:///") and Path(result.storage[10:]).is_file()
    lr_low, lr_high = config.search.lr  # type: ignore[misc]
    assert lr_low <= result.best_params["lr"] <= lr_high
    assert result.best_params["batch_size"] in (8, 16)
    preset = load_config(DetectJobConfig, result.preset_path)
    assert preset.train.lr == result.best_params["lr"]
    assert preset.train.weight_decay == result.best_params["weight_decay"]
    assert preset.model.kwargs["dropout"] == result.best_params["dropout"]
    assert preset.data.limit_fraction is None  # the preset trains on all the data
    assert result.preset_path.read_text().startswith(f"# Best trial {result.best_trial} ")
    trials = sorted(p.name for p in (Path(config.run.root) / "tiny_study").glob("trial-*"))
    assert trials == ["trial-0000", "trial-0001", "trial-0002"]


def test_a_resumed_study_only_runs_the_missing_trials(make_config: MakeConfig) -> None:
    run_search(_search_config(make_config, search__trials=2, search__pruner="none"))
    more = run_search(_search_config(make_config, search__trials=3, search__pruner="none"))
    assert more.trials_complete == 3
    again = run_search(_search_config(make_config, search__trials=3, search__pruner="none"))
    assert again.trials_complete == 3 and again.best_params == more.best_params
    study = optuna.load_study(study_name="tiny_study", storage=more.storage)
    assert len({t.params["lr"] for t in study.trials}) == 3  # the resumed sampler drew anew


def test_trials_train_on_the_fraction_with_their_own_values(make_config: MakeConfig) -> None:
    config = _search_config(make_config)
    params = {"lr": 0.002, "weight_decay": 0.01, "dropout": 0.4, "batch_size": 8}
    trial = trial_config(config, params, 7)
    assert (trial.train.lr, trial.train.weight_decay, trial.train.batch_size) == (0.002, 0.01, 8)
    assert trial.model.kwargs["dropout"] == 0.4 and trial.data.limit_fraction == 0.5
    assert trial.run.name == "trial-0007"
    assert config.train.lr == 0.01 and "dropout" not in config.model.kwargs  # not mutated
    full = train_detector(config, progress=False)
    part = train_detector(trial, progress=False)
    assert part.run.path.parent.name == "tiny_study"
    assert part.metrics["images_per_second"] > 0
    assert _train_size(part.run.data_report) < _train_size(full.run.data_report)


def _train_size(report: Path) -> int:
    import json

    counts = json.loads(report.read_text())["counts"]["train"]
    return int(counts["real"] + counts["fake"])


def test_unsearched_ranges_stay_as_configured(make_config: MakeConfig) -> None:
    config = make_config(search__dropout=None, search__batch_sizes=None)
    assert apply_params(config, {"lr": 0.5}).train.batch_size == config.train.batch_size
