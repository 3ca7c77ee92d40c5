"""Hyper-parameter search (paper 002, Table 1) as an Optuna study, written out as a preset.

    result = run_search(load_config(DetectJobConfig, "paper002_search"))
    # then: fakescope train --config result.preset_path

Each trial trains on `search.fraction` of the data in its own run folder
`<run.root>/<study>/trial-NNNN`, reporting its validation metric after every epoch so the pruner
can stop a bad trial early. The study lives in a database (SQLite next to the trials by default;
a PostgreSQL URL lets several machines share one study), so an interrupted search resumes where
it stopped: finished trials are kept, and a trial whose process died stops sending heartbeats, is
marked failed and retried with the same parameters, continuing its own run folder.
"""

from __future__ import annotations

import contextlib
import copy
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import yaml
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.trial import TrialState

from fakescope.config import to_dict
from fakescope.detect.config import DetectJobConfig, SearchConfig, check_detect_config
from fakescope.detect.train import TrainingDiverged, train_detector
from fakescope.errors import DataError
from fakescope.formatting import text_bytes
from fakescope.runs import atomic_write_bytes

_FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


@dataclass
class SearchResult:
    study: str
    storage: str
    best_trial: int
    best_value: float
    best_params: dict[str, Any]
    preset_path: Path
    trials_complete: int
    trials_pruned: int
    trials_failed: int


@contextlib.contextmanager
def _experimental_features() -> Iterator[None]:
    """Optuna marks heartbeats and retries experimental (since v2.8); they are what lets a study
    survive a killed process, so they are used (with optuna pinned) without the warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        yield


def study_folder(config: DetectJobConfig) -> Path:
    return Path(config.run.root) / config.search.study


def storage_url(config: DetectJobConfig) -> str:
    """The configured database URL, or an SQLite file in the study's folder."""
    if config.search.storage:
        return config.search.storage
    folder = study_folder(config)
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(folder / 'study.db').resolve()}"


def make_sampler(search: SearchConfig, seed: int) -> optuna.samplers.BaseSampler:
    if search.sampler == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    return optuna.samplers.RandomSampler(seed=seed)


def make_pruner(search: SearchConfig, epochs: int) -> optuna.pruners.BasePruner:
    if search.pruner == "median":
        # Two full trials set the bar; a trial is judged from its second epoch on.
        return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1)
    if search.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=epochs)
    return optuna.pruners.NopPruner()


def suggest(trial: optuna.Trial, search: SearchConfig) -> dict[str, Any]:
    """Draw one point of the search space; ranges set to null are left out."""
    params: dict[str, Any] = {}
    if search.lr is not None:
        params["lr"] = trial.suggest_float("lr", *search.lr, log=search.lr_log)
    if search.weight_decay is not None:
        params["weight_decay"] = trial.suggest_float("weight_decay", *search.weight_decay)
    if search.dropout is not None:
        params["dropout"] = trial.suggest_float("dropout", *search.dropout)
    if search.batch_sizes is not None:
        params["batch_size"] = trial.suggest_categorical("batch_size", search.batch_sizes)
    return params


def apply_params(config: DetectJobConfig, params: dict[str, Any]) -> DetectJobConfig:
    """A copy of `config` with searched values in place (dropout goes to the model)."""
    config = copy.deepcopy(config)
    for key in ("lr", "weight_decay", "batch_size"):
        if key in params:
            setattr(config.train, key, params[key])
    if "dropout" in params:
        config.model.kwargs = {**config.model.kwargs, "dropout": params["dropout"]}
    return config


def trial_config(config: DetectJobConfig, params: dict[str, Any], number: int) -> DetectJobConfig:
    trial = apply_params(config, params)
    trial.data.limit_fraction = config.search.fraction * (config.data.limit_fraction or 1.0)
    trial.run.root = str(study_folder(config))
    trial.run.name = f"trial-{number:04d}"
    return trial


def make_objective(config: DetectJobConfig, progress: bool) -> Callable[[optuna.Trial], float]:
    metric = config.search.metric

    def objective(trial: optuna.Trial) -> float:
        params = suggest(trial, config.search)
        frozen = next(t for t in trial.study.get_trials(deepcopy=False) if t.number == trial.number)
        with _experimental_features():
            retried = RetryHeartbeatStaleTrialCallback.retried_trial_number(frozen)
        number = trial.number if retried is None else retried

        def report(epoch: int, row: dict[str, float]) -> None:
            trial.report(row[metric], step=epoch)
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned after epoch {epoch}")

        # A retried trial continues the run folder its failed attempt left behind.
        result = train_detector(
            trial_config(config, params, number), resume=retried is not None,
            progress=progress, epoch_callback=report,
        )
        trial.set_user_attr("run", str(result.run.path))
        trial.set_user_attr("best_epoch", result.best_epoch)
        return float(result.metrics[metric])

    return objective


def open_study(config: DetectJobConfig) -> tuple[optuna.Study, str]:
    s = config.search
    url = storage_url(config)
    with _experimental_features():
        storage = RDBStorage(
            url,
            heartbeat_interval=s.heartbeat_seconds,
            heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=2),
        )
    study = optuna.create_study(
        storage=storage,
        study_name=s.study,
        direction="minimize" if s.metric == "val_loss" else "maximize",
        pruner=make_pruner(s, config.train.epochs),
        load_if_exists=True,
    )
    # Seeding by the trials already present keeps a resumed random search from redrawing the
    # points of its first session.
    study.sampler = make_sampler(s, config.run.seed + len(study.trials))
    return study, url


def write_best_preset(config: DetectJobConfig, study: optuna.Study, path: Path) -> None:
    """The searched config with the best trial's values, ready for `fakescope train --config`."""
    best = study.best_trial
    preset = apply_params(config, best.params)
    header = (
        f"# Best trial {best.number} of study '{study.study_name}': "
        f"{config.search.metric} = {best.value:.6g}\n"
        f"# Searched: {', '.join(f'{k}={v}' for k, v in sorted(best.params.items()))}\n"
    )
    body = yaml.safe_dump(to_dict(preset), sort_keys=False)
    atomic_write_bytes(path, text_bytes(header + body))


def run_search(config: DetectJobConfig, progress: bool = False) -> SearchResult:
    """Run (or resume) the study until `search.trials` trials have completed or been pruned."""
    check_detect_config(config)
    study, url = open_study(config)
    finished = len(study.get_trials(deepcopy=False, states=_FINISHED))
    remaining = config.search.trials - finished
    if remaining > 0:
        study.optimize(
            make_objective(config, progress),
            n_trials=remaining,
            # Stops this process when others sharing the study have filled the quota.
            callbacks=[optuna.study.MaxTrialsCallback(config.search.trials, states=_FINISHED)],
            catch=(TrainingDiverged,),
        )
    counts = {state: len(study.get_trials(deepcopy=False, states=(state,))) for state in TrialState}
    if counts[TrialState.COMPLETE] == 0:
        raise DataError(
            f"study '{study.study_name}' has no completed trial "
            f"({counts[TrialState.PRUNED]} pruned, {counts[TrialState.FAIL]} failed)"
        )
    preset_path = Path(config.search.preset_out or study_folder(config) / "best.yaml")
    write_best_preset(config, study, preset_path)
    best = study.best_trial
    return SearchResult(
        study=study.study_name,
        storage=url,
        best_trial=best.number,
        best_value=float(best.value) if best.value is not None else float("nan"),
        best_params=dict(best.params),
        preset_path=preset_path,
        trials_complete=counts[TrialState.COMPLETE],
        trials_pruned=counts[TrialState.PRUNED],
        trials_failed=counts[TrialState.FAIL],
    )
