"""compare, robustness and xgen keep what they finished: a model, cell or run that fails gets a
row with its one-line error while the others go on, and each result file is rewritten as parts
finish, so a crash or Ctrl-C part-way keeps the finished ones on disk."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fakescope.config import DataConfig
from fakescope.evaluate import compare, robustness
from fakescope.evaluate.options import EvalOptions
from fakescope.runs import COMPARISON_FILE, ROBUSTNESS_FILE
from fakescope.workflows.evaluation import compare_and_write, sweep_and_write

ALL_ON_CPU = EvalOptions(device="cpu", batch_size=16, split="all")


def test_compare_records_a_broken_model_and_compares_the_rest(
    one_logit_checkpoint: Path, two_logit_checkpoint: Path, data_config: DataConfig,
    tmp_path: Path,
) -> None:
    broken = tmp_path / "broken" / "best.pt"
    broken.parent.mkdir()
    broken.write_bytes(b"PK\x03\x04 half a zip")
    models = [one_logit_checkpoint, broken, two_logit_checkpoint]
    comparison, _ = compare_and_write(models, data_config, EvalOptions(device="cpu", batch_size=8),
                                   tmp_path / "out")
    assert [e.model for e in comparison.evaluations] == ["run-one/best", "run/best"]
    (failure,) = comparison.failed
    assert failure["path"] == str(broken) and "\n" not in failure["error"]
    saved = json.loads((tmp_path / "out" / COMPARISON_FILE).read_text())
    assert saved["failed"] == comparison.failed and len(saved["evaluations"]) == 2


def test_compare_interrupted_after_one_model_keeps_it(
    one_logit_checkpoint: Path, two_logit_checkpoint: Path, data_config: DataConfig,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[int] = []
    evaluate = compare.evaluate_loaded

    def second_is_interrupted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return evaluate(*args, **kwargs)

    monkeypatch.setattr(compare, "evaluate_loaded", second_is_interrupted)
    with pytest.raises(KeyboardInterrupt):
        compare_and_write([one_logit_checkpoint, two_logit_checkpoint], data_config,
                          EvalOptions(device="cpu", batch_size=8), tmp_path)
    saved = json.loads((tmp_path / COMPARISON_FILE).read_text())
    assert [e["model"] for e in saved["evaluations"]] == ["run-one/best"]
    assert (tmp_path / "comparison.csv").is_file()


def test_robustness_records_a_failing_cell_and_keeps_the_others(
    one_logit_checkpoint: Path, two_logit_checkpoint: Path, data_config: DataConfig,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    score = robustness.score_split

    def jpeg_30_fails(*args: Any, **kwargs: Any) -> Any:
        perturb = args[5]
        if perturb.args[:2] == ("jpeg", 30.0):
            raise MemoryError("out of memory in the JPEG encoder")
        return score(*args, **kwargs)

    monkeypatch.setattr(robustness, "score_split", jpeg_30_fails)
    sweeps = {"blur": (0.0,), "jpeg": (90, 30)}
    result, _ = sweep_and_write([one_logit_checkpoint, two_logit_checkpoint], data_config,
                                ALL_ON_CPU, tmp_path, sweeps)
    failed = [r for r in result.rows if "error" in r]
    assert [(r["model"], r["strength"]) for r in failed] == [("run-one/best", 30.0),
                                                             ("run/best", 30.0)]
    assert failed[0]["error"] == "MemoryError: out of memory in the JPEG encoder"
    assert sum("error" not in r and r["metrics"]["n"] == 40 for r in result.rows) == 4
    saved = json.loads((tmp_path / ROBUSTNESS_FILE).read_text())
    assert saved["rows"] == result.rows


def test_robustness_interrupted_on_the_second_model_keeps_the_first(
    one_logit_checkpoint: Path, two_logit_checkpoint: Path, data_config: DataConfig,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    load = robustness.load_detector

    def second_is_interrupted(path: Path, device: Any) -> Any:
        if Path(path) == two_logit_checkpoint:
            raise KeyboardInterrupt
        return load(path, device)

    monkeypatch.setattr(robustness, "load_detector", second_is_interrupted)
    with pytest.raises(KeyboardInterrupt):
        sweep_and_write([one_logit_checkpoint, two_logit_checkpoint], data_config, ALL_ON_CPU,
                        tmp_path, {"blur": (0.0, 2.0)})
    saved = json.loads((tmp_path / ROBUSTNESS_FILE).read_text())
    assert {r["model"] for r in saved["rows"]} == {"run-one/best"} and len(saved["rows"]) == 2
