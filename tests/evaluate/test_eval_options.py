"""`EvalOptions` and the evaluation commands' `--config` / `--set`, as `train` takes them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import fakescope.evaluate.evaluate as evaluate_module
from fakescope.cli import main
from fakescope.cli.eval_options import is_option
from fakescope.config import ConfigError, DataConfig, load_config
from fakescope.evaluate.options import CalibrationOptions, EvalOptions


def _eval(checkpoint: Path, data_config: DataConfig, out: Path) -> list[str]:
    return ["eval", "--checkpoint", str(checkpoint), "--data", data_config.path, "--cache-dir",
            data_config.cache_dir, "--device", "cpu", "--quiet", "--no-provenance", "--out",
            str(out)]  # fmt: skip


def test_eval_set_reaches_the_evaluation(
    two_logit_checkpoint: Path, data_config: DataConfig, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    batch_sizes: list[int] = []
    score_split = evaluate_module.score_split

    def spy(*args: Any, **kwargs: Any) -> Any:
        batch_sizes.append(args[4])  # (loaded, prepared, split, device, batch_size, ...)
        return score_split(*args, **kwargs)

    monkeypatch.setattr(evaluate_module, "score_split", spy)
    argv = [*_eval(two_logit_checkpoint, data_config, tmp_path / "ev"),
            "--set", "batch_size=8", "--set", "calibration.rule=fpr:0.0", "--set", "split=all"]
    assert main(argv) == 0
    stored = json.loads((tmp_path / "ev" / "evaluation.json").read_text())
    assert stored["split"] == "all" and stored["threshold_source"] == "fpr:0 on val"
    assert batch_sizes and set(batch_sizes) == {8}
    assert "stored in the checkpoint" in capsys.readouterr().out


def test_eval_reads_an_options_file_under_its_flags(
    two_logit_checkpoint: Path, data_config: DataConfig, tmp_path: Path
) -> None:
    options = tmp_path / "eval.yaml"
    options.write_text("split: all\ncalibration:\n  rule: eer\n  store: false\n")
    argv = [*_eval(two_logit_checkpoint, data_config, tmp_path / "ev"), "--config", str(options),
            "--split", "val"]  # the flag wins over the file
    before = two_logit_checkpoint.read_bytes()
    assert main(argv) == 0
    stored = json.loads((tmp_path / "ev" / "evaluation.json").read_text())
    assert stored["split"] == "val" and stored["threshold_source"] == "eer on val"
    assert two_logit_checkpoint.read_bytes() == before  # store: false kept the checkpoint


@pytest.mark.parametrize(("sets", "message"), [
    (["batch_sise=8"], "unknown config key 'batch_sise' (known here: batch_size,"),
    (["batch_size=0"], "batch_size: must be at least 1, got 0"),
    (["batch_size=many"], "batch_size: expected an integer, got 'many'"),
    (["calibration.rule=best"], "unknown threshold rule 'best'"),
    (["calibration.store=false"], "calibration.store: only with --calibrate-threshold"),
    (["conditions=[jpeg]"], "eval has no use for the option 'conditions'"),
])  # fmt: skip
def test_a_bad_eval_set_is_one_line_before_any_loading(
    sets: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["eval", "--checkpoint", str(tmp_path / "missing.pt"), "--data", str(tmp_path)]
    assert main([*argv, *[w for s in sets for w in ("--set", s)]]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"fakescope: error: {message}") and err.count("\n") == 1


@pytest.mark.parametrize(("command", "text"), [
    (["compare", "--models", "/no/such"], "compare has no use for the option 'calibration.rule'"),
    (["robustness", "--models", "/no/such"], "robustness has no use for the option 'calibration"),
    (["predict", "/no/such.png", "--checkpoint", "/no/such.pt"],
     "predict has no use for the option 'calibration.rule'"),
])  # fmt: skip
def test_a_set_a_command_has_no_use_for_is_refused(
    command: list[str], text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    data = [] if command[0] == "predict" else ["--data", "/no/such"]
    assert main([*command, *data, "--set", "calibration.rule=eer"]) == 2
    assert capsys.readouterr().err.startswith(f"fakescope: error: {text}")


def test_every_evaluation_command_takes_set_and_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "o.yaml").write_text("batch_size: 2\n")
    commands = [["compare", "--models", "/no/such", "--data", "/no/such"],
                ["robustness", "--models", "/no/such", "--data", "/no/such"],
                ["predict", "/no/such.png", "--checkpoint", "/no/such.pt"],
                ["xgen", "--set-dir", "/no/such", "--detectors", "npr_cnn"]]
    for command in commands:  # accepted, so each goes on to its missing path
        assert main([*command, "--config", str(tmp_path / "o.yaml"), "--set", "device=cpu"]) == 2
        err = capsys.readouterr().err
        assert "/no/such" in err and "option" not in err, (command, err)


def test_xgen_routes_each_set_to_the_options_or_the_detector_runs(
    capsys: pytest.CaptureFixture[str]
) -> None:
    assert is_option("calibration.rule=eer") and is_option("seed=1")
    assert not is_option("train.lr=0.1") and not is_option("run.seed=1")
    assert main(["xgen", "--set-dir", "/no/such", "--detectors", "npr_cnn", "--set", "seed=-1",
                 "--set", "train.lr=0.1"]) == 2  # fmt: skip
    assert "seed: must be from 0 to" in capsys.readouterr().err


@pytest.mark.parametrize(("text", "message"), [
    ("calibration.rule=null", "xgen needs a threshold rule (calibration.rule)"),
    ("calibration.store=false", "calibration.store: xgen always stores"),
])  # fmt: skip
def test_xgen_refuses_options_its_runs_cannot_honour(
    text: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["xgen", "--set-dir", str(tmp_path), "--detectors", "npr_cnn", "--set", text]
    assert main(argv) == 2
    assert capsys.readouterr().err.startswith(f"fakescope: error: {message}")


def test_options_load_like_a_training_config(tmp_path: Path) -> None:
    preset = tmp_path / "eval.yaml"
    preset.write_text("device: cpu\ncalibration:\n  rule: fpr:0.05\n  shift: false\n")
    base = EvalOptions(progress=True, batch_size=32)
    options = load_config(EvalOptions, preset, ["conditions=[jpeg, blur]"], base=base)
    assert options == EvalOptions(
        device="cpu", batch_size=32, progress=True, conditions=("jpeg", "blur"),
        calibration=CalibrationOptions(rule="fpr:0.05", shift=False),
    )
    assert load_config(EvalOptions, preset, {"progress": False}, base=base).progress is False
    with pytest.raises(ConfigError, match=r"calibration.max_real_called_fake: must be a share"):
        load_config(EvalOptions, None, ["calibration.max_real_called_fake=1"])
    with pytest.raises(ConfigError, match="seed: must be from 0"):
        EvalOptions(seed=2**32)
