"""The HTML report: sections present where the data is, absent where not, nothing external."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from report.demo_folder import STAGE_SECONDS, demo_folder

from fakescope.evaluate.compare import Comparison, best_by, read_comparison, write_comparison
from fakescope.evaluate.evaluate import Evaluation
from fakescope.formatting import format_number, format_probability
from fakescope.report.html import build_report, find_runs, summary_section, write_report
from fakescope.runs import DEMO_MARKER, write_json


@pytest.fixture(scope="module")
def demo(
    tmp_path_factory: pytest.TempPathFactory, make_evaluation: Callable[..., Evaluation]
) -> Path:
    """A folder of runs as the demo writes it: a GAN run, a detector run, a comparison."""
    return demo_folder(tmp_path_factory.mktemp("report") / "demo", make_evaluation)


def _sections(page: str) -> dict[str, str]:
    """Section title -> section HTML."""
    found = re.findall(r'<section id="[^"]+"><h2>(.*?)</h2>(.*?)</section>', page, re.S)
    return dict(found)


@pytest.fixture(scope="module")
def page(demo: Path) -> str:
    path = write_report(demo)
    assert path == demo / "report" / "index.html"
    return path.read_text()


def test_find_runs_skips_output_folders(demo: Path) -> None:
    assert (demo / "detector" / "evaluation" / "best-test" / "evaluation.json").is_file()
    stray = demo / "gan" / "samples" / "config.yaml"  # an output folder is never a run
    stray.write_text("{}")
    assert find_runs(demo) == [demo / "detector", demo / "gan"]
    stray.unlink()
    assert find_runs(demo / "gan") == [demo / "gan"]


def test_report_of_a_folder_of_runs(page: str) -> None:
    sections = _sections(page)
    assert list(sections) == ["demo", "detector", "gan", "Glossary", "Run internals", "Configs"]
    top, detector, gan = sections["demo"], sections["detector"], sections["gan"]
    assert "Model comparison" in top and "Evaluation:" not in top
    assert "Generated samples" in gan and "latest 4 of 6" in gan
    assert "Sample quality (FID/KID)" in gan
    quality = gan.split("Sample quality")[1]
    assert "<td>fid</td><td>123.4</td>" in quality and "<td>kid_std</td><td>0.01</td>" in quality
    assert "epochs.csv" in gan and "speed.json" not in gan  # how it ran, not what it found
    internals = sections["Run internals"]
    assert "speed.json" in internals and "bf16" in internals and "<details open" not in internals
    assert "Confusion" not in gan and "Evaluation" not in gan and "Data</h3>" not in gan
    for heading in ("Data", "Training curves", "Evaluation: det/best on test",
                    "Grad-CAM examples", "Robustness on test"):  # fmt: skip
        assert heading in detector
    assert "Generated samples" not in detector
    assert "1 unreadable file(s)" in detector and "paper002_sensitivity" in detector


def test_the_page_opens_with_the_answer_and_ends_with_the_configs(
    page: str, demo: Path
) -> None:
    summary = page.split("<section id='summary'>")[1].split("</section>")[0]
    assert page.index("<section id='summary'>") < page.index("<nav>")
    comparison = read_comparison(demo / "comparison" / "comparison.json")
    best = best_by(comparison.table())
    assert f"Best detector: <b id='best-model'>{best['model']}</b>" in summary
    assert f"ROC-AUC <b id='best-roc-auc'>{format_number(best['roc_auc'])}</b>" in summary
    assert format_probability(best["threshold"]) in summary
    assert "FD_efflite0 <b>41.5</b>" in summary and "<b>4.49x</b> the floor (goal: near 1x)" in (
        summary)
    assert "diversity 0.81 of the reals' (about as varied as the reals)" in summary
    assert "real faces (held out)" in summary and "generated faces" in summary
    total = sum(STAGE_SECONDS.values())
    assert f"{total:.0f} s in all" in summary and "training the GAN (small_data) 121 s" in summary
    configs = _sections(page)["Configs"]
    assert "<details open" not in page and configs.count("<details>") == 3
    for name in ("demo_config.json", "gan/config.yaml", "detector/config.yaml"):
        assert f"<summary>{name}</summary>" in configs
    assert "demo_config.json" not in _sections(page)["demo"]  # not dumped among the results


def test_report_is_self_contained(page: str) -> None:
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", page)
    assert "<script" not in page and "<link" not in page
    sources = re.findall(r'<img[^>]*src="([^"]+)"', page)
    assert len(sources) > 10 and all(s.startswith("data:image/png;base64,") for s in sources)


def test_report_escapes_text(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text("name: <script>alert(1)</script>\n")
    page = build_report(run)
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_report_of_an_empty_or_missing_folder(tmp_path: Path) -> None:
    assert "Nothing to report" in build_report(tmp_path)
    with pytest.raises(NotADirectoryError):
        build_report(tmp_path / "missing")
    out = write_report(tmp_path, tmp_path / "elsewhere" / "page.html")
    assert out.is_file()


@pytest.mark.parametrize("recommended, best", [("lite0_probe", False), ("a", True)])
def test_the_summary_names_the_demos_recommended_detector(
    tmp_path: Path, make_evaluation: Callable[..., Evaluation], recommended: str, best: bool
) -> None:
    # "a/best" (seed 1) ranks above "lite0_probe/best" (seed 2) on this test split
    evaluations = [make_evaluation("a/best", 1), make_evaluation("lite0_probe/best", 2)]
    comparison = Comparison("test", evaluations)
    write_comparison(comparison, tmp_path / "comparison")
    write_json(tmp_path / DEMO_MARKER, {"recommended": recommended})
    summary = summary_section(tmp_path)
    assert best_by(comparison.table())["model"] == "a/best"
    assert f"Recommended detector: <b id='recommended-model'>{recommended}/best</b>" in summary
    assert ("It is the best here too" in summary) is best
    write_json(tmp_path / DEMO_MARKER, {"recommended": "not_trained"})
    assert "Recommended detector" not in summary_section(tmp_path)
