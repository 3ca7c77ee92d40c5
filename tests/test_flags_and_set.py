"""One rule on every command: a flag is a named `--set`; both ways, the values must agree."""

from __future__ import annotations

from pathlib import Path

import pytest

from fakescope.cli import main

# (command, a flag and a --set of the same key, with different values)
DISAGREE = [
    (["train", "--data", "/no/such/data"], ["--epochs", "3", "--set", "train.epochs=5"],
     "train.epochs"),
    (["search", "--data", "/no/such/data"], ["--trials", "3", "--set", "search.trials=5"],
     "search.trials"),
    (["gan", "train", "--data", "/no/such/faces"], ["--epochs", "3", "--set", "train.epochs=5"],
     "train.epochs"),
    (["demo"], ["--seed", "1", "--set", "seed=2"], "seed"),
    (["serve", "--checkpoint", "/no/such.pt", "--port", "0"],
     ["--batch-size", "4", "--set", "batch_size=5"], "batch_size"),
    (["bench", "--quick"], ["--rounds", "2", "--set", "rounds=3"], "rounds"),
    (["eval", "--checkpoint", "/no/such.pt", "--data", "/no/such/data"],
     ["--batch-size", "4", "--set", "batch_size=8"], "batch_size"),
    (["robustness", "--models", "/no/such", "--data", "/no/such/data"],
     ["--corruptions", "jpeg", "--set", "conditions=[blur]"], "conditions"),
    (["xgen", "--set-dir", "/no/such", "--detectors", "npr_cnn"],
     ["--threshold", "eer", "--set", "calibration.rule=f1"], "calibration.rule"),
]  # fmt: skip


@pytest.mark.parametrize(("command", "pair", "key"), DISAGREE,
                         ids=[" ".join(c[:2]) for c, _, _ in DISAGREE])
def test_a_flag_and_a_set_that_disagree_are_refused(
    command: list[str], pair: list[str], key: str, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main([*command, *pair]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"fakescope: error: {key} is given twice") and "\n" not in err
    assert "give it once" in err


# The same pairs with equal values pass the rule: each command goes on to its next check,
# a missing path here, so nothing heavy runs.
AGREE = [
    (["train", "--data", "/no/such/data"], ["--epochs", "3", "--set", "train.epochs=3"]),
    (["gan", "train", "--data", "/no/such/faces"], ["--epochs", "3", "--set", "train.epochs=3"]),
    (["serve", "--checkpoint", "/no/such.pt", "--port", "0"],
     ["--batch-size", "4", "--set", "batch_size=4"]),
    (["bench", "--quick", "--data", "/no/such/faces"], ["--rounds", "2", "--set", "rounds=2"]),
    (["eval", "--checkpoint", "/no/such.pt", "--data", "/no/such/data"],
     ["--batch-size", "8", "--set", "batch_size=8"]),
]  # fmt: skip


@pytest.mark.parametrize(("command", "pair"), AGREE, ids=[" ".join(c[:2]) for c, _ in AGREE])
def test_a_flag_and_a_set_that_agree_are_accepted(
    command: list[str], pair: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*command, *pair]) == 2
    err = capsys.readouterr().err
    assert "/no/such" in err and "given twice" not in err


def test_the_demo_accepts_an_agreeing_pair(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "mine.txt").write_text("not the demo's")  # it refuses a folder it did not write
    assert main(["demo", "--out", str(tmp_path), "--seed", "1", "--set", "seed=1"]) == 2
    err = capsys.readouterr().err
    assert "given twice" not in err and str(tmp_path) in err


def test_a_serve_set_is_type_checked_like_a_preset_value(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["serve", "--checkpoint", "/no/such.pt", "--port", "0", "--set", "max_queue=many"]
    assert main(argv) == 2
    assert "max_queue: expected an integer, got 'many'" in capsys.readouterr().err
