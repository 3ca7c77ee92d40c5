"""`fakescope demo` end to end at the demo_quick size, its output-folder safety and --quiet."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fakescope.cli import main
from fakescope.config import ConfigError, load_config
from fakescope.models.pretrained import IMAGENET, Pretrained
from fakescope.models.registry import load_detector
from fakescope.runs import DEMO_MARKER
from fakescope.workflows import demo
from fakescope.workflows.demo import (
    DemoConfig,
    DemoDetectorConfig,
    DemoGanConfig,
    DemoResult,
    fresh_output_folder,
)


def test_refuses_a_folder_it_did_not_write(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="not written by the demo"):
        fresh_output_folder(tmp_path)
    assert (tmp_path / "precious.txt").read_text() == "keep me"


def test_clears_its_own_earlier_output(tmp_path: Path) -> None:
    (tmp_path / DEMO_MARKER).write_text("{}")
    (tmp_path / "gan").mkdir()
    fresh_output_folder(tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_quick_demo_runs_every_stage(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "demo"
    assert main(["demo", "--quick", "--out", str(out), "--set", "robustness=false"]) == 0
    printed = capsys.readouterr().out
    report = out / "report" / "index.html"
    assert f"report: {report}" in printed and report.is_file()
    html = report.read_text()
    for section in ("gan", "detectors/selfcnn", "detectors/gan_disc", "Model comparison"):
        assert section in html
    assert "http://" not in html and "https://" not in html  # opens offline
    comparison = json.loads((out / "comparison" / "comparison.json").read_text())
    models = [e["model"] for e in comparison["evaluations"]]
    assert len(models) == 3
    for name in ("lite0_probe", "selfcnn", "gan_disc"):
        loaded = load_detector(out / "detectors" / name / "checkpoints" / "best.pt")
        assert 0.0 <= loaded.threshold <= 1.0 and loaded.metrics  # calibrated on validation
    assert len(list((out / "data" / "fake").glob("*.jpg"))) == 96
    assert (out / "gan" / "samples").is_dir() and any((out / "gan" / "samples").iterdir())
    # the GAN against held-out faces, next to the real-vs-real floor, with both grids
    quality = json.loads((out / "gan" / "quality_vs_floor.json").read_text())
    assert quality["images"] == 32 and quality["floor"]["fd"] > 0 and quality["fake"]["fd"] > 0
    assert "GAN against 32 held-out faces" in printed and "floor" in printed
    assert (out / "gan" / "real_grid.png").is_file() and (out / "gan" / "fake_grid.png").is_file()
    assert "Real and generated faces" in html and "real vs real (floor)" in html
    # each Grad-CAM example with the joint decision of its pixels and its (absent) provenance
    assert "Examples: joint decisions" in html and "Joint decisions per class" in html
    assert "no provenance; the detector " in html
    # the recommended detector is named in the summary and printed as the one --serve serves
    assert "Recommended detector: <b id='recommended-model'>lite0_probe/best</b>" in html
    served = out / "detectors" / "lite0_probe" / "checkpoints" / "best.pt"
    assert "the one --serve serves" in printed and str(served) in printed


def test_quiet_turns_the_stage_bars_off_and_keeps_the_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    asked: list[bool] = []

    def stages(config: DemoConfig, progress: bool, announce: Callable[[str], None]) -> DemoResult:
        asked.append(progress)
        announce("drawing synthetic real faces")
        side = {"fd": 2.0, "diversity": 0.9}
        quality = {"images": 8, "fd_name": "FD", "fake": side, "floor": side, "fd_over_floor": 1.0}
        row = {"model": "selfcnn", "roc_auc": 0.9, "accuracy": 0.8, "threshold": 0.5}
        return DemoResult(tmp_path, tmp_path / "index.html", tmp_path / "best.pt",
                          tmp_path / "best.pt", [row], {"drawing synthetic real faces": 1.0},
                          quality)

    monkeypatch.setattr(demo, "run_demo", stages)
    for flags, progress in (([], True), (["--quiet"], False)):
        assert main(["demo", "--out", str(tmp_path / "demo"), *flags]) == 0
        printed = capsys.readouterr()
        assert asked.pop() is progress
        stage_total = demo.stage_count(load_config(DemoConfig, "demo"))
        assert f"[1/{stage_total}] drawing synthetic real faces" in printed.err
        assert "best detector on this test split:" in printed.out and "selfcnn" in printed.out


def test_detector_set_reaches_only_its_own_detector(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from types import SimpleNamespace

    from fakescope.detect import train as detect_train

    configs: dict[str, Any] = {}

    def train(config: Any, progress: bool = False) -> SimpleNamespace:
        configs[config.model.name] = config
        return SimpleNamespace(run=SimpleNamespace(checkpoints=tmp_path))

    monkeypatch.setattr(detect_train, "train_detector", train)
    config = DemoConfig(out=str(tmp_path), detector_epochs=3, detectors=[
        DemoDetectorConfig("lite0_probe", IMAGENET, ["train.epochs=10"]),
        DemoDetectorConfig("selfcnn"), DemoDetectorConfig("gan_disc", Pretrained("gan"))])
    for detector in config.detectors:
        demo.train_demo_detector(config, detector, tmp_path, tmp_path / "gan.pt", progress=False)
    assert {name: c.train.epochs for name, c in configs.items()} == {
        "lite0_probe": 10, "selfcnn": 3, "gan_disc": 3}
    # "gan" stands for the demo's own GAN checkpoint
    assert configs["gan_disc"].model.pretrained == Pretrained.file(tmp_path / "gan.pt")
    assert configs["lite0_probe"].model.pretrained == IMAGENET
    # lite0_probe trains from its own preset; selfcnn has none and keeps the defaults
    probe, plain = configs["lite0_probe"], configs["selfcnn"]
    assert probe.model.kwargs == {"multilevel": True}
    assert probe.data.augment.jpeg_prob == 0.1
    assert probe.train.early_stopping_patience == 3
    assert plain.train.early_stopping_patience is None
    assert probe.data.image_size == config.image_size


def test_the_demo_recommends_and_serves_lite0_probe_by_default() -> None:
    config = load_config(DemoConfig, "demo")
    assert config.recommended == "lite0_probe" and config.detector_names()[0] == "lite0_probe"
    quick = load_config(DemoConfig, "demo_quick")
    assert quick.recommended in quick.detector_names()


def test_the_demo_sub_configs_are_dataclasses_read_from_presets_and_set() -> None:
    config = load_config(DemoConfig, "demo")
    assert config.gan == DemoGanConfig("small_data", 2.4,
                                       set=["train.lr_g=0.0004", "train.lr_d=0.0008"])
    assert config.detectors[2] == DemoDetectorConfig("gan_disc", Pretrained("gan"))
    mine = load_config(DemoConfig, "demo", ["detectors=[{name: npr_cnn}]", "gan.minutes=1"])
    assert mine.detectors == [DemoDetectorConfig("npr_cnn")] and mine.gan.minutes == 1.0
    with pytest.raises(ConfigError, match=r"^config key 'detectors\[0\]\.name' is required"):
        load_config(DemoConfig, None, ["detectors=[{pretrained: imagenet}]"])
    with pytest.raises(ConfigError, match=r"detectors\[0\]\.pretrained: expected a string"):
        load_config(DemoConfig, None, ["detectors=[{name: selfcnn, pretrained: 3}]"])
