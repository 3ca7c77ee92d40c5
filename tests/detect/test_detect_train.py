"""Training a detector: logged metrics, checkpoints, early stopping, heads, limits and errors."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from fakescope.checkpoints import load_checkpoint
from fakescope.detect.config import DetectJobConfig
from fakescope.detect.train import DetectorTrainer, TrainingDiverged, class_weights, train_detector
from fakescope.models.registry import load_detector
from fakescope.runs import MetricsLog

MakeConfig = Callable[..., DetectJobConfig]
METRICS = ("loss", "accuracy", "precision", "recall", "f1", "roc_auc")


def test_logs_every_epoch_and_writes_loadable_checkpoints(make_config: MakeConfig) -> None:
    result = train_detector(make_config(), progress=False)
    rows = MetricsLog(result.run.metrics).read()
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    for split in ("train", "val"):
        for name in METRICS:
            # Precision is undefined (an empty cell) while the detector calls no image fake.
            cells = [r[f"{split}_{name}"] for r in rows]
            if name == "precision":
                cells = [c for c in cells if c]
            assert all(math.isfinite(float(c)) for c in cells)
    assert result.best_epoch == 1 + min(range(2), key=lambda i: float(rows[i]["val_loss"]))
    assert result.run.data_report.is_file()
    loaded = load_detector(result.best_checkpoint)
    assert loaded.input_spec.size == 32 and loaded.metrics["epoch"] == result.best_epoch
    for key, value in result.model.state_dict().items():
        assert torch.equal(loaded.model.state_dict()[key], value)
    last = load_checkpoint(result.last_checkpoint)
    assert last["train_state"]["epoch"] == 2
    assert last["config"]["model"]["name"] == "detect_test_tiny"
    story = (result.run.path / "train.log").read_text()
    assert "speed settings" in story and "epoch 1/2" in story and "epoch 2/2" in story


def test_early_stopping_restores_the_best_epoch(
    make_config: MakeConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    scripted = iter([0.6, 0.4, 0.5, 0.45, 0.3])  # best at epoch 2, then two epochs without gain
    real_evaluate = DetectorTrainer.evaluate

    def evaluate(self: DetectorTrainer, split: str) -> dict[str, float]:
        return {**real_evaluate(self, split), "loss": next(scripted)}

    monkeypatch.setattr(DetectorTrainer, "evaluate", evaluate)
    config = make_config(train__epochs=10, train__early_stopping_patience=2)
    last = Path(config.run.root) / config.run.name / "checkpoints" / "last.pt"
    weights_after: dict[int, dict[str, torch.Tensor]] = {}

    def remember(epoch: int, row: dict[str, float]) -> None:
        weights_after[epoch] = load_checkpoint(last)["state_dict"]

    result = train_detector(config, progress=False, epoch_callback=remember)
    assert (result.stop_reason, result.epochs_run, result.best_epoch) == ("early_stopping", 4, 2)
    assert result.best_val_loss == pytest.approx(0.4)
    for key, value in result.model.state_dict().items():
        assert torch.equal(value, weights_after[2][key])
    assert not torch.equal(weights_after[2]["head.weight"], weights_after[4]["head.weight"])


def test_two_logit_head_trains_with_cross_entropy(make_config: MakeConfig) -> None:
    config = make_config(model__kwargs={"num_logits": 2}, train__class_weighting="balanced",
                         train__epochs=1, train__schedule="cosine", train__optimizer="adamw")
    result = train_detector(config, progress=False)
    assert result.model(torch.zeros(1, 3, 32, 32)).shape == (1, 2)
    assert 0.0 <= result.metrics["val_accuracy"] <= 1.0


def test_balanced_class_weights_follow_the_training_split() -> None:
    samples = [SimpleNamespace(label=0)] * 30 + [SimpleNamespace(label=1)] * 10
    prepared = SimpleNamespace(samples=lambda split: samples)
    weights = class_weights(prepared, "balanced")  # type: ignore[arg-type]
    assert weights is not None
    assert weights.tolist() == pytest.approx([40 / 60, 40 / 20])
    assert class_weights(prepared, "none") is None  # type: ignore[arg-type]


def test_step_schedule_decays_the_logged_rate(make_config: MakeConfig) -> None:
    config = make_config(train__epochs=3, train__schedule="step", train__step_size=2,
                         train__gamma=0.1, train__lr=0.01)
    rows = MetricsLog(train_detector(config, progress=False).run.metrics).read()
    assert [float(r["lr"]) for r in rows] == pytest.approx([0.01, 0.01, 0.001])


@pytest.mark.parametrize("clock", ["wall", "cpu"])
def test_time_limit_cuts_the_epoch_short(make_config: MakeConfig, clock: str) -> None:
    config = make_config(train__max_minutes=1e-9, train__budget_clock=clock)
    result = train_detector(config, progress=False)
    rows = MetricsLog(result.run.metrics).read()
    assert (result.stop_reason, result.epochs_run, rows[0]["batches"]) == ("time_limit", 1, "1")


def test_fine_tuning_swaps_the_head_and_keeps_a_frozen_backbone(make_config: MakeConfig) -> None:
    source = train_detector(make_config(train__epochs=1), progress=False)
    config = make_config(
        run__name="finetune", model__pretrained=str(source.best_checkpoint),
        model__kwargs={"num_logits": 2}, train__epochs=1, train__freeze_backbone_epochs=1,
    )
    tuned = train_detector(config, progress=False).model
    start = load_checkpoint(source.best_checkpoint)["state_dict"]
    for name, param in tuned.named_parameters():
        if name.startswith("body."):
            assert torch.equal(param, start[name]), name  # loaded and frozen
    assert tuned.head.weight.shape == (2, 16)  # type: ignore[union-attr]


def test_a_second_run_under_the_same_name_is_refused(make_config: MakeConfig) -> None:
    train_detector(make_config(train__epochs=1), progress=False)
    with pytest.raises(FileExistsError, match="--resume"):
        train_detector(make_config(train__epochs=1), progress=False)


def test_divergence_stops_with_a_clear_error_and_keeps_the_log(
    make_config: MakeConfig, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    real_evaluate = DetectorTrainer.evaluate

    def evaluate(self: DetectorTrainer, split: str) -> dict[str, float]:
        return {**real_evaluate(self, split), "loss": float("nan")}

    monkeypatch.setattr(DetectorTrainer, "evaluate", evaluate)
    with pytest.raises(TrainingDiverged, match=r"lower train\.lr"):
        train_detector(make_config(), progress=False)
    assert len(MetricsLog(tmp_path / "runs" / "tiny" / "metrics.csv").read()) == 1


def test_a_split_without_both_classes_is_refused(make_config: MakeConfig) -> None:
    config = make_config(data__split_fractions=[1.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="'val' split needs both"):
        train_detector(config, progress=False)


def test_gradient_clipping_bounds_every_step(
    make_config: MakeConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    norms: list[float] = []
    real_clip = torch.nn.utils.clip_grad_norm_

    def clip(params: list[torch.Tensor], max_norm: float) -> torch.Tensor:
        total = real_clip(params, max_norm)
        norms.append(float(torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in params]))))
        return total

    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", clip)
    train_detector(make_config(train__epochs=1, train__grad_clip=0.01), progress=False)
    assert len(norms) == 4 and max(norms) <= 0.01 + 1e-6


def test_a_missing_dataset_fails_before_any_run_folder_exists(
    make_config: MakeConfig, tmp_path: Path
) -> None:
    with pytest.raises(FileNotFoundError, match="dataset not found"):
        train_detector(make_config(data__path=str(tmp_path / "nowhere")), progress=False)
    assert not (tmp_path / "runs").exists()


def test_compile_opt_in_trains_and_reports_its_first_step(
    make_config: MakeConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The eager backend goes through dynamo without generating code: no C++ compiler, no wait.
    compile_eagerly = torch.compile
    monkeypatch.setattr(torch, "compile",
                        lambda module, backend: compile_eagerly(module, backend="eager"))
    result = train_detector(make_config(train__compile=True, train__epochs=1), progress=False)
    assert result.compile_report.startswith("first step ")
    plain = train_detector(make_config(train__epochs=1, run__name="eager"), progress=False)
    assert plain.compile_report == ""
    # Compiling changes how the step runs, not what it computes.
    for key, value in plain.model.state_dict().items():
        torch.testing.assert_close(result.model.state_dict()[key], value, msg=key)
