"""`fakescope train` with held-out-family folds on a tiny set of two fake families."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest
from detect.tiny_detector import TINY

from fakescope.cli import main
from fakescope.data.synth import synthesize_dataset
from fakescope.models.registry import load_detector
from fakescope.workflows.family_folds import folds_off_reason


@pytest.fixture(scope="module")
def two_families(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """48 reals and 48 fakes, the fakes split between fake/alpha/ and fake/beta/."""
    out = tmp_path_factory.mktemp("families")
    synthesize_dataset(out, n=48, size=32, seed=0, fakes=True)
    fakes = sorted(p for p in (out / "fake").iterdir() if p.is_file())
    for index, path in enumerate(fakes):
        family = out / "fake" / ("alpha" if index % 2 else "beta")
        family.mkdir(exist_ok=True)
        shutil.move(path, family / path.name)
    return out


def _train(data: Path, cache_dir: Path, root: Path, name: str, *more: str) -> list[str]:
    return ["train", "--data", str(data), "--model", TINY, "--epochs", "1", "--root", str(root),
            "--name", name, "--quiet", "--set", f"data.cache_dir={cache_dir}",
            "--set", "train.amp=off", "--set", "train.channels_last=off", *more]


def test_fold_runs_calibrate_the_run_for_unseen_families(
    two_families: Path, cache_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_train(two_families, cache_dir, tmp_path, "folds", "--family-folds", "on")) == 0
    out = capsys.readouterr().out
    assert "held-out-family folds: 2 fold runs (alpha, beta)" in out
    for family in ("alpha", "beta"):
        fold = tmp_path / "folds" / "folds" / f"without-{family}"
        assert (fold / "checkpoints" / "best.pt").is_file()
        # the fold run never saw its family's fakes
        listed = (tmp_path / "folds" / "folds" / f"without-{family}.csv").read_text()
        assert f"/fake/{family}/" not in listed and "/real/" in listed
    loaded = load_detector(tmp_path / "folds" / "checkpoints" / "best.pt")
    assert "held-out-family folds (2 folds: alpha, beta)" in loaded.calibration.band_basis
    low, high = loaded.calibration.band(loaded.threshold)
    assert low < loaded.threshold < high
    # a second calibration reuses the finished fold runs instead of training them again
    logged = tmp_path / "folds" / "folds" / "without-alpha" / "metrics.csv"
    before = logged.read_text()
    assert main([*_train(two_families, cache_dir, tmp_path, "folds", "--family-folds", "on"),
                 "--resume"]) == 0  # fmt: skip
    assert logged.read_text() == before
    assert "held-out-family folds: 2 fold runs" in capsys.readouterr().out


@pytest.mark.parametrize(("mode", "train", "val", "probe", "why"), [
    ("auto", {"a": 5, "b": 5}, {"a": 1, "b": 1}, True, ""),
    (True, {"a": 5, "b": 5}, {"a": 1, "b": 1}, False, ""),
    ("auto", {"a": 5, "b": 5}, {"a": 1, "b": 1}, False, "backbone trains"),
    (False, {"a": 5, "b": 5}, {"a": 1, "b": 1}, True, "family_folds is off"),
    ("auto", {"a": 5, "b": 5}, {"a": 1}, True, "no validation fakes of b"),
    ("auto", {"a": 5, "": 5}, {"a": 1, "": 1}, True, "outside fake/<family>/"),
])
def test_why_folds_are_off(mode: str | bool, train: dict[str, int], val: dict[str, int],
                           probe: bool, why: str) -> None:
    reason = folds_off_reason(mode, Counter(train), Counter(val), probe, distributed=False)
    assert (why in reason) if why else reason == ""


@pytest.mark.parametrize(("mode", "why"), [("auto", "time budget"), (True, "")])
def test_a_time_budget_leaves_auto_folds_off(mode: str | bool, why: str) -> None:
    """Fold runs after a budgeted run would train past its --max-minutes; `true` still runs
    them because the user asked."""
    families = Counter({"a": 5, "b": 5})
    reason = folds_off_reason(mode, families, families, True, distributed=False, budgeted=True)
    assert (why in reason) if why else reason == ""


def test_auto_leaves_folds_off_for_a_trained_backbone_and_says_why(
    two_families: Path, cache_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_train(two_families, cache_dir, tmp_path, "auto")) == 0
    assert "held-out-family folds: off (the model's backbone trains" in capsys.readouterr().out
    loaded = load_detector(tmp_path / "auto" / "checkpoints" / "best.pt")
    assert "no held-out-family folds: the model's backbone trains" in (
        loaded.calibration.band_basis)
    assert not (tmp_path / "auto" / "folds").exists()
