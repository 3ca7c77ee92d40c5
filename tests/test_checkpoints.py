"""The checkpoint formats: kinds, older files, in-place detector updates, resume choice."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from fakescope.checkpoints import (
    CheckpointError,
    GanPayload,
    gan_arch,
    gan_speed,
    gan_training_generator,
    load_checkpoint,
    read_detector,
    read_gan,
    read_gan_checkpoint,
    resumable_detector,
    save_checkpoint,
    save_detector_payload,
    save_gan,
    update_detector,
)
from fakescope.speed import SpeedSettings


def test_a_checkpoint_of_another_kind_is_a_one_line_error(tmp_path: Path) -> None:
    save_gan(tmp_path / "gan.pt", {"arch": "dcgan"})
    save_detector_payload(tmp_path / "det.pt", {"threshold": 0.3})
    save_checkpoint(tmp_path / "plain.pt", {"step": 1})
    assert read_gan(tmp_path / "gan.pt")["kind"] == "gan"
    assert read_detector(tmp_path / "det.pt")["kind"] == "detector"
    for read, path, wanted in ((read_gan, "det.pt", "not a GAN checkpoint"),
                               (read_detector, "gan.pt", "not a detector"),
                               (read_detector, "plain.pt", "'unknown' checkpoint")):
        with pytest.raises(CheckpointError, match=wanted) as err:
            read(tmp_path / path)
        assert "\n" not in str(err.value)


def test_gan_checkpoints_from_before_each_key_still_resume_as_they_trained() -> None:
    settings = SpeedSettings("bfloat16", True, 1)
    assert gan_speed({"speed": settings.to_dict()}) == settings
    for layout in (True, False):
        old: GanPayload = {"config": {"train": {"channels_last": layout}}}
        assert gan_speed(old) == SpeedSettings("", layout, 0)
    assert gan_arch({}) == "dcgan" and gan_arch({"arch": "fastgan_lite"}) == "fastgan_lite"
    averaged, raw = {"w": torch.zeros(1)}, {"w": torch.ones(1)}
    assert gan_training_generator({"generator": averaged}) is averaged  # no moving average
    assert gan_training_generator({"generator": averaged, "generator_train": raw}) is raw


def test_a_run_folder_resolves_to_its_newest_gan_checkpoint(tmp_path: Path) -> None:
    folder = tmp_path / "run" / "checkpoints"
    for step in (3, 12):
        save_gan(folder / f"ckpt-{step:08d}.pt", {"state": {"step": step}})
    path, payload = read_gan_checkpoint(tmp_path / "run")
    assert path.name == "ckpt-00000012.pt" and payload["state"]["step"] == 12
    with pytest.raises(CheckpointError, match="not found"):
        read_gan_checkpoint(tmp_path / "missing.pt")


def test_updating_a_detector_keeps_everything_it_does_not_change(tmp_path: Path) -> None:
    path = tmp_path / "det.pt"
    weights = {"w": torch.arange(4.0)}
    save_detector_payload(path, {"state_dict": weights, "threshold": 0.5,
                                 "metrics": {"val_loss": 0.2}, "epoch": 3})
    update_detector(path, {"threshold": 0.25, "threshold_split": "val"}, {"val_auc": 0.9})
    after = read_detector(path)
    assert after["threshold"] == 0.25 and after["threshold_split"] == "val"
    assert after["metrics"] == {"val_loss": 0.2, "val_auc": 0.9} and after["epoch"] == 3
    torch.testing.assert_close(after["state_dict"]["w"], weights["w"])
    assert [p.name for p in tmp_path.iterdir()] == ["det.pt"]  # written in place, atomically
    save_gan(tmp_path / "gan.pt", {})
    with pytest.raises(CheckpointError, match="not a detector"):
        update_detector(tmp_path / "gan.pt", {"threshold": 0.1})
    assert "threshold" not in load_checkpoint(tmp_path / "gan.pt")


def test_resume_takes_the_resumable_detector_checkpoint_furthest_along(tmp_path: Path) -> None:
    best, last, step = tmp_path / "best.pt", tmp_path / "last.pt", tmp_path / "ckpt.pt"
    save_detector_payload(best, {"epoch": 2})  # weights only: never resumed from
    save_detector_payload(last, {"train_state": {"step": 20}})
    save_detector_payload(step, {"train_state": {"step": 25}})
    assert resumable_detector([best, last, step])["train_state"]["step"] == 25  # type: ignore[index]
    assert resumable_detector([best, tmp_path / "absent.pt"]) is None


def test_models_read_checkpoints_without_the_run_folder_module() -> None:
    import ast

    import fakescope.models

    imported = set()
    for path in Path(next(iter(fakescope.models.__path__))).glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
            elif isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
    assert "fakescope.checkpoints" in imported and "fakescope.runs" not in imported
