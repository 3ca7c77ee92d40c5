"""The HTML report: sections present where the data is, absent where not, nothing external."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fakescope.evaluate.compare import Comparison, write_comparison
from fakescope.evaluate.evaluate import Evaluation, write_evaluation
from fakescope.evaluate.robustness import Robustness, write_robustness
from fakescope.report.html import build_report, find_runs, write_report
from fakescope.runs import write_json


def _png(path: Path, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)


def gan_run(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text("paper: '000'\nrun:\n  name: gan\n")
    (folder / "metrics.csv").write_text("step,epoch,loss_d,loss_g\n1,0,1.3,0.7\n2,0,1.1,0.9\n")
    (folder / "epochs.csv").write_text(
        "epoch,step,fid,kid,kid_std,diversity\n1,1,150.2,0.08,0.01,0.9\n2,2,123.4,0.05,,0.95\n"
    )
    for i in range(6):
        _png(folder / "samples" / f"epoch_{i:03d}.png", i)
    write_json(folder / "speed.json", {"chosen": {"amp": "bf16"}, "seconds_per_step": [0.5]})
    return folder


def detector_run(folder: Path, evaluation: Evaluation) -> Path:
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text("run:\n  name: det\n")
    (folder / "metrics.csv").write_text("epoch,train_loss,val_loss\n1,0.7,0.6\n2,0.5,0.55\n")
    write_json(folder / "data_report.json", {
        "root": "faces", "layout": "class_folders",
        "counts": {"train": {"real": 16, "fake": 16}, "test": {"real": 2, "fake": 2}},
        "bad_files": [{"path": "faces/real/broken.jpg", "reason": "not an image"}],
        "image_sizes": {"most_common": [{"size": "40x40", "count": 40}]},
    })  # fmt: skip
    out = folder / "evaluation" / "best-test"
    write_evaluation(evaluation, None, out)
    _png(out / "gradcam" / "00-real-p0.80-face_00001.png", 9)
    rows = [
        {"model": "det/best", "corruption": "blur", "strength": s, "metrics": {"accuracy": a}}
        for s, a in ((0.0, 0.9), (3.0, 0.6))
    ]
    write_robustness(Robustness("test", rows), folder / "evaluation" / "robustness-test")
    return folder


@pytest.fixture(scope="module")
def demo(
    tmp_path_factory: pytest.TempPathFactory, make_evaluation: Callable[..., Evaluation]
) -> Path:
    """A folder of runs as the demo writes it: a GAN run, a detector run, a comparison."""
    root = tmp_path_factory.mktemp("report") / "demo"
    gan_run(root / "gan")
    detector_run(root / "detector", make_evaluation("det/best"))
    comparison = Comparison("test", [make_evaluation("a", 1), make_evaluation("b", 2)])
    write_comparison(comparison, root / "comparison")
    return root


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
    assert list(sections) == ["demo", "detector", "gan"]
    top, detector, gan = sections["demo"], sections["detector"], sections["gan"]
    assert "Model comparison" in top and "Evaluation:" not in top
    assert "Generated samples" in gan and "latest 4 of 6" in gan
    assert "Sample quality (FID/KID)" in gan
    quality = gan.split("Sample quality")[1]
    assert "<td>fid</td><td>123.4</td>" in quality and "<td>kid_std</td><td>0.01</td>" in quality
    assert "epochs.csv" in gan and "speed.json" in gan and "bf16" in gan
    assert "Confusion" not in gan and "Evaluation" not in gan and "Data</h3>" not in gan
    for heading in ("Config", "Data", "Training curves", "Evaluation: det/best on test",
                    "Grad-CAM examples", "Robustness on test"):  # fmt: skip
        assert heading in detector
    assert "Generated samples" not in detector
    assert "1 unreadable file(s)" in detector and "paper002_sensitivity" in detector


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
