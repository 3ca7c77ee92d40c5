"""Every `fakescope gan` command on a tiny run, and its one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from fakescope.cli import main
from fakescope.models.registry import fake_probability, load_detector
from fakescope.runs import RunDir


@pytest.fixture(scope="module")
def trained_run(faces: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli")
    code = main([
        "gan", "train", "--data", str(faces), "--root", str(root / "runs"), "--name", "cli",
        "--resolution", "32", "--epochs", "1", "--batch-size", "8",
        "--set", "model.base_width=8", "--set", f"data.cache_dir={root / 'cache'}",
        "--set", "train.metrics_every=0", "--set", "collapse.features=pixels",
        "--set", "collapse.num_samples=8",
    ])
    assert code == 0
    return root / "runs" / "cli"


def test_train_reports_the_run(trained_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert RunDir(trained_run).latest_checkpoint() is not None
    assert (trained_run / "samples" / "epoch_0001.png").is_file()


def test_train_ends_with_a_line_on_quality_and_where_the_samples_are(
    faces: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([
        "gan", "train", "--data", str(faces), "--root", str(tmp_path), "--name", "line",
        "--resolution", "32", "--epochs", "1", "--batch-size", "8", "--quiet",
        "--set", "model.base_width=8", "--set", f"data.cache_dir={tmp_path / 'cache'}",
        "--set", "train.metrics_every=0", "--set", "collapse.features=pixels",
        "--set", "collapse.num_samples=8",
    ]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert "diversity" in last and "of the reals'" in last
    assert f"fakescope gan metrics --checkpoint {tmp_path / 'line'}" in last and "1x" in last
    assert f"samples: {tmp_path / 'line' / 'samples' / 'epoch_0001.png'}" in last


def test_generate_and_sample(trained_run: Path, tmp_path: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "fakes"
    assert main(["gan", "generate", "--checkpoint", str(trained_run), "--n", "5",
                 "--out", str(out), "--format", "jpg", "--batch-size", "2"]) == 0
    assert len(list(out.glob("fake_*.jpg"))) == 5
    assert "wrote 5 images" in capsys.readouterr().out
    assert main(["gan", "sample", "--checkpoint", str(trained_run), "--n", "4",
                 "--out", str(tmp_path / "grid.png")]) == 0
    assert main(["gan", "sample", "--checkpoint", str(trained_run), "--interpolate",
                 "--rows", "2", "--steps", "3", "--out", str(tmp_path / "walk.png")]) == 0
    assert (tmp_path / "grid.png").is_file() and (tmp_path / "walk.png").is_file()


def test_export_detector_is_accepted_by_the_detector_loader(
    trained_run: Path, tmp_path: Path
) -> None:
    out = tmp_path / "disc.pt"
    assert main(["gan", "export-detector", "--checkpoint", str(trained_run),
                 "--out", str(out)]) == 0
    loaded = load_detector(out)
    assert loaded.name == "dcgan_disc" and loaded.input_spec.size == 32
    assert loaded.extra["source"]["epoch"] == 1
    p_fake = fake_probability(loaded.model(torch.zeros(3, 3, 32, 32)))
    assert p_fake.shape == (3,) and ((p_fake >= 0) & (p_fake <= 1)).all()


def test_eval_disc_draws_paper_000_figure_4(trained_run: Path, tmp_path: Path) -> None:
    assert main(["gan", "eval-disc", "--checkpoint", str(trained_run), "--n", "10",
                 "--batch-size", "4", "--out", str(tmp_path)]) == 0
    summary = json.loads((tmp_path / "disc_accuracy.json").read_text())
    assert summary["real_images"] == 10 and summary["fake_images"] == 10
    assert len(summary["batch_accuracy_real"]) == 3 and len(summary["batch_accuracy_fake"]) == 3
    assert 0 <= summary["accuracy"] <= 1
    assert (tmp_path / "disc_accuracy.png").is_file()


def test_metrics_name_the_offline_stand_in_and_measure_the_floor(
    trained_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["gan", "metrics", "--checkpoint", str(trained_run), "--n", "8",
                 "--feature-extractor", "efflite0"]) == 0
    out = capsys.readouterr()
    values = json.loads(out.out)
    assert values["fd_name"] == "fd_efflite0" and "fid" not in json.dumps(values)
    assert values["images"] == 4  # half of the reals are the reference, half the floor's
    for side in ("fake", "floor"):
        assert values[side]["fd"] >= 0 and values[side]["diversity"] > 0
    # an untrained-for-2-epochs generator is far from real images; a second real half is not
    assert values["fake"]["fd"] > values["floor"]["fd"]
    assert values["fd_over_floor"] == pytest.approx(values["fake"]["fd"] / values["floor"]["fd"],
                                                    rel=1e-3)
    assert "--data" in out.err  # the reals were the training images: says how to hold some out
    # one line for a person: FD as a ratio to the floor, diversity, where the samples are
    ratio = f"{values['fd_over_floor']:.2f}x the real-vs-real floor"
    line = next(line for line in out.err.splitlines() if ratio in line)
    assert f"diversity {values['fake']['diversity']:.2f} of the reals'" in line
    assert f"samples: {trained_run / 'samples'}" in line


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["gan", "generate", "--checkpoint", "/nonexistent/ckpt.pt", "--n", "2", "--out", "x"],
         "checkpoint not found"),
        (["gan", "train", "--data", "/nonexistent/faces", "--set", "train.nope=1"],
         "unknown config key 'train.nope'"),
    ],
)
def test_user_errors_are_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and "Traceback" not in err


def test_a_run_on_a_missing_dataset_leaves_no_run_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["gan", "train", "--data", str(tmp_path / "nowhere"), "--root", str(tmp_path / "runs"),
            "--name", "typo"]
    assert main(argv) == 2
    assert "not found" in capsys.readouterr().err
    assert not (tmp_path / "runs" / "typo").exists()


def test_max_minutes_flag_sets_the_budget(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for budget in ("soon", "-1", "0"):  # argparse: a budget must be a positive number
        with pytest.raises(SystemExit) as refused:
            main(["gan", "train", "--max-minutes", budget, "--data", str(tmp_path)])
        assert refused.value.code == 2
        assert "argument --max-minutes" in capsys.readouterr().err
    assert main(["gan", "train", "--set", "train.max_minutes=-1", "--data", str(tmp_path)]) == 2
    assert "train.max_minutes" in capsys.readouterr().err


def test_train_shows_a_progress_bar_unless_quiet(
    faces: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["gan", "train", "--data", str(faces), "--root", str(tmp_path / "runs"),
            "--resolution", "32", "--epochs", "1", "--batch-size", "8",
            "--set", "model.base_width=8", "--set", f"data.cache_dir={tmp_path / 'cache'}",
            "--set", "train.metrics_every=0", "--set", "collapse.enabled=false"]
    assert main([*args, "--name", "quiet", "--quiet"]) == 0
    quiet = capsys.readouterr()
    assert "%|" not in quiet.err and "trained 1 epochs" in quiet.out
    assert main([*args, "--name", "bars"]) == 0
    shown = capsys.readouterr()
    assert "GAN epoch 1/1" in shown.err and "%|" in shown.err and "trained 1 epochs" in shown.out
