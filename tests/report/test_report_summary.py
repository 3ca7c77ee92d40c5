"""A single run's report opens with its own summary (test metrics, calibration, what it trained
on), says when the data was the demo's synthetic faces, shows thresholds in percent, explains
its metrics in a glossary and keeps speed probes and learning rates out of the results."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from report.demo_folder import demo_folder, gan_run, single_run

from fakescope.evaluate.evaluate import Evaluation
from fakescope.formatting import format_probability
from fakescope.report.html import build_report
from fakescope.runs import DEMO_MARKER, write_json


def _section(page: str, anchor: str) -> str:
    return page.split(f'<section id="{anchor}">')[1].split("</section>")[0]


def test_a_single_runs_report_opens_with_its_summary(
    tmp_path: Path, make_evaluation: Callable[..., Evaluation]
) -> None:
    evaluation = make_evaluation("det/best")
    page = build_report(single_run(tmp_path / "run", evaluation))
    assert page.index("<section id='summary'>") < page.index("<nav>")
    summary = page.split("<section id='summary'>")[1].split("</section>")[0]
    metrics = summary.split("id='run-metrics'>")[1].split("</p>")[0]
    assert "det/best on the test split (60 images)" in metrics
    for name in ("ROC-AUC", "AP", "EER", "accuracy"):
        assert name in metrics
    assert f"at threshold <b>{format_probability(evaluation.threshold)}</b>" in metrics
    training = summary.split("id='run-training'>")[1].split("</p>")[0]
    assert "detector <b>selfcnn</b>, 2 epoch(s) of 5 planned" in training
    assert "<code>faces</code>" in training and "train 16 real / 16 fake" in training
    assert "id='run-calibration'" in summary and "threshold 50.0 % (checkpoint)" in summary
    assert "synthetic-data" not in page  # photographs, not the demo's faces


def test_an_unevaluated_run_says_how_to_evaluate_it(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text("data:\n  path: photos\nmodel:\n  name: selfcnn\n")
    summary = build_report(run).split("<section id='summary'>")[1]
    assert "Not evaluated yet: <code>fakescope eval --checkpoint" in summary
    assert "<code>photos</code>" in summary and "no epoch logged yet" in summary


def test_the_calibration_line_names_temperature_and_band(
    tmp_path: Path, make_evaluation: Callable[..., Evaluation]
) -> None:
    evaluation = make_evaluation("det/best")
    evaluation.calibration = {"method": "temperature", "temperature": 1.52, "fitted_on": "val",
                              "band_low": 0.3, "band_high": 0.7}
    line = build_report(single_run(tmp_path / "run", evaluation)).split("id='run-calibration'>")
    shown = line[1].split("</p>")[0]
    assert "uncertain band [30.0 %, 70.0 %)" in shown and "temperature T = 1.52 fitted on val" in (
        shown)


def test_synthetic_data_is_said_on_the_first_screen(
    tmp_path: Path, make_evaluation: Callable[..., Evaluation]
) -> None:
    demo = demo_folder(tmp_path / "demo", make_evaluation)
    page = build_report(demo)
    summary = page.split("<section id='summary'>")[1]
    assert summary.index("id='synthetic-data'") < summary.index("Best detector")
    # a run of its own that trained on a demo's faces says so too
    run = single_run(tmp_path / "elsewhere", make_evaluation("det/best"))
    (run / "config.yaml").write_text(f"data:\n  path: {demo / 'data'}\nmodel:\n  name: x\n")
    assert "id='synthetic-data'" in build_report(run)
    (demo / DEMO_MARKER).unlink()
    assert "id='synthetic-data'" not in build_report(run)


def test_thresholds_are_in_percent_and_metrics_in_a_glossary(
    tmp_path: Path, make_evaluation: Callable[..., Evaluation]
) -> None:
    page = build_report(demo_folder(tmp_path / "demo", make_evaluation))
    comparison = page.split("Model comparison")[1].split("</details>")[0]
    # the stored threshold of the synthetic evaluations is 0.5
    assert comparison.count("<td>50.0 %</td>") == 4 and "<td>0.5</td>" not in comparison
    assert len(re.findall("<th>", comparison.split("<details>")[0])) <= 8  # fits the page
    glossary = _section(page, "glossary")
    for term in ("ROC-AUC", "AP", "EER", "ECE", "accuracy at threshold", "temperature",
                 "uncertain band"):
        assert f"<dt>{term}</dt>" in glossary


def test_speed_probes_and_learning_rates_are_internals(
    tmp_path: Path, make_evaluation: Callable[..., Evaluation]
) -> None:
    page = build_report(single_run(tmp_path / "run", make_evaluation("det/best")))
    assert "speed.json" not in _section(page, "run-0")
    assert "<h3>Results</h3>" not in page  # speed.json was its only entry
    internals = _section(page, "internals")
    assert "<h4>speed.json</h4>" in internals and "bfloat16" in internals
    assert "learning rate and throughput (metrics.csv)" in internals
    assert page.index('<section id="internals">') > page.index('<section id="glossary">')


def test_a_gan_runs_summary_says_what_it_trained_on(tmp_path: Path) -> None:
    run = gan_run(tmp_path / "gan")
    (run / "config.yaml").write_text("data:\n  path: photos\nmodel:\n  arch: dcgan\n"
                                     "train:\n  epochs: 1000\n  max_minutes: 2.5\n")
    write_json(run / "data_report.json", {"root": "photos", "counts": {"train": {"real": 96}}})
    training = build_report(run).split("id='run-training'>")[1].split("</p>")[0]
    assert "GAN <b>dcgan</b>, 0 epoch(s) in a 2.5-minute budget" in training
    assert "(train 96 real)" in training  # a GAN reads no fakes
