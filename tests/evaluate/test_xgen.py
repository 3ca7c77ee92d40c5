"""The cross-generator matrix on a tiny set: every cell filled, reports written, runs reused."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from fakescope.cli import main
from fakescope.config import ConfigError
from fakescope.data.multigen_set import MANIFEST_COLUMNS, MANIFEST_CSV, split_of
from fakescope.data.synth import synthesize_dataset
from fakescope.evaluate.options import xgen_options
from fakescope.evaluate.xgen import (
    CELL_METRICS,
    CONDITIONS,
    TRUST_METRICS,
    XgenResult,
    XgenSpec,
    trust_metrics,
    xgen_markdown,
)
from fakescope.models.pretrained import IMAGENET
from fakescope.report.html import build_report
from fakescope.report.xgen import write_xgen
from fakescope.runs import XGEN_FILE
from fakescope.workflows.xgen import run_config, run_xgen, training_entries, training_sets

FAST = ["train.epochs=1", "train.batch_size=8", "train.threads=1", "train.amp=false",
        "train.channels_last=false"]
DETECTORS = ["spectrum_cnn", "npr_cnn"]
ON_CPU = replace(xgen_options(), device="cpu")


@pytest.fixture(scope="module")
def tiny_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """24 reals and three 24-image families at 32x32, with a multigen manifest: two halves of
    the synthetic fakes and noisy copies of the reals."""
    out = tmp_path_factory.mktemp("xgen_set")
    synthesize_dataset(out / "src", n=48, size=32, seed=5, fakes=True)
    reals = sorted((out / "src" / "real").glob("*.jpg"))[:24]
    fakes = sorted((out / "src" / "fake").glob("*.jpg"))
    rng = np.random.default_rng(0)
    rows = [[str(p.relative_to(out)), "real", split_of(i, 24), "real", "", ""]
            for i, p in enumerate(reals)]
    for family, files in (("halfA", fakes[:24]), ("halfB", fakes[24:48])):
        rows += [[str(p.relative_to(out)), "fake", split_of(i, 24), family, "synth", "5"]
                 for i, p in enumerate(files)]
    (out / "noisy").mkdir()
    for i, p in enumerate(reals):
        pixels = np.asarray(Image.open(p), dtype=np.float64) + rng.normal(0, 12, (32, 32, 3))
        Image.fromarray(pixels.clip(0, 255).astype(np.uint8)).save(out / "noisy" / f"{p.stem}.png")
        rows.append([f"noisy/{p.stem}.png", "fake", split_of(i, 24), "noisy", "noise", "0"])
    with (out / MANIFEST_CSV).open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(MANIFEST_COLUMNS)
        writer.writerows(rows)
    return out


@pytest.fixture(scope="module")
def xgen_out(tiny_set: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("xgen_out")
    spec = XgenSpec(set_dir=tiny_set, detectors=DETECTORS, out=out, modes=["single", "loo"],
                    train_families=["halfA"], overrides=FAST, options=ON_CPU)
    write_xgen(run_xgen(spec), out)
    return out


def test_every_cell_is_filled(xgen_out: Path) -> None:
    data = json.loads((xgen_out / XGEN_FILE).read_text())
    assert data["families"] == ["halfA", "halfB", "noisy"]
    runs = {(r["detector"], r["train_set"]) for r in data["runs"]}
    assert runs == {(d, s) for d in DETECTORS for s in ("halfA", "all-but-halfA")}
    cells = data["cells"]
    assert len(cells) == len(runs) * len(CONDITIONS) * 3
    for cell in cells:
        for metric in CELL_METRICS:
            # no selective accuracy where the band sends every image to `uncertain`
            if metric == "selective_accuracy" and cell["uncertain"] == 1.0:
                assert cell[metric] is None
                continue
            assert isinstance(cell[metric], float), (cell, metric)
        assert cell["n_real"] == 3 and cell["n_fake"] == 3
        seen = {"halfA": {"halfA"}, "all-but-halfA": {"halfB", "noisy"}}[cell["train_set"]]
        assert cell["seen"] is (cell["test_family"] in seen)
    for row in data["summary"]:
        assert all(row[f"{kind}_{m}"] is not None for kind in ("seen", "unseen")
                   for m in CELL_METRICS if m != "selective_accuracy")


def test_thresholds_are_the_stored_calibrated_ones(xgen_out: Path) -> None:
    from fakescope.models.registry import load_detector

    data = json.loads((xgen_out / XGEN_FILE).read_text())
    for run in data["runs"]:
        loaded = load_detector(run["checkpoint"])
        assert loaded.calibration.method == "temperature"
        thresholds = {c["threshold"] for c in data["cells"]
                      if (c["detector"], c["train_set"]) == (run["detector"], run["train_set"])}
        assert thresholds == {loaded.threshold}


def test_markdown_heatmaps_and_report(xgen_out: Path) -> None:
    markdown = (xgen_out / "xgen.md").read_text()
    assert "| npr_cnn | all-but-halfA | jpeg75 |" in markdown
    assert "**roc_auc, resize0.5**" in markdown
    for condition in CONDITIONS:
        assert (xgen_out / f"xgen_{condition}.png").stat().st_size > 1000
    page = build_report(xgen_out)
    assert "Cross-generator matrix" in page and page.count("data:image/png") >= len(CONDITIONS)


def test_a_second_run_reuses_calibrated_checkpoints(tiny_set: Path, xgen_out: Path) -> None:
    best = sorted((xgen_out / "runs").rglob("best.pt"))
    stamps = [p.stat().st_mtime_ns for p in best]
    spec = XgenSpec(set_dir=tiny_set, detectors=DETECTORS, out=xgen_out, modes=["single"],
                    train_families=["halfA"], overrides=FAST,
                    options=replace(ON_CPU, conditions=("clean",)))
    result = run_xgen(spec)
    assert [p.stat().st_mtime_ns for p in best] == stamps
    assert len(result.cells) == len(DETECTORS) * 3


def test_leave_one_out_takes_an_equal_share_of_each_family(tiny_set: Path) -> None:
    from fakescope.evaluate.xgen import read_set

    entries = read_set(tiny_set)
    chosen = training_entries(entries, ["halfB", "noisy"])
    fakes = [e for e in chosen if e.label == 1]
    assert {e.split for e in chosen} == {"train", "val"}
    assert sum(e.family == "halfB" for e in fakes) == sum(e.family == "noisy" for e in fakes)
    single = [e for e in training_entries(entries, ["halfA"]) if e.label == 1]
    assert len(single) == 21  # 19 train + 2 val
    assert len(fakes) == 2 * (10 + 1)  # ceil(19 / 2) train + ceil(2 / 2) val from each family


def test_training_sets_by_mode() -> None:
    families = ["a", "b", "c"]
    assert training_sets(families, ["single"], None) == [("a", ["a"]), ("b", ["b"]), ("c", ["c"])]
    assert training_sets(families, ["loo"], ["b"]) == [("all-but-b", ["a", "c"])]
    with pytest.raises(ValueError, match="not in the set"):
        training_sets(families, ["single"], ["z"])


def test_cli_errors_are_one_line(tiny_set: Path, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["xgen", "--set-dir", str(tiny_set), "--detectors", "no_such_detector"]) == 2
    assert "neither a preset nor a registered detector" in capsys.readouterr().err
    assert main(["xgen", "--set-dir", str(tmp_path), "--detectors", "npr_cnn"]) == 2
    assert "fakescope data multigen" in capsys.readouterr().err
    assert main(["xgen", "--set-dir", str(tiny_set), "--detectors", "npr_cnn",
                 "--conditions", "fog"]) == 2
    assert "unknown conditions ['fog']" in capsys.readouterr().err


def test_ranks_keep_order_and_ties_of_saturating_log_odds() -> None:
    from fakescope.evaluate.xgen import _ranks

    # sigmoid(400 / T) and sigmoid(900 / T) are both exactly 1.0 in float64; their ranks differ
    ranks = _ranks(np.array([400.0, -1e9, 400.0, 900.0]))
    assert ranks.tolist() == [0.5, 0.0, 0.5, 1.0]


def test_trust_metrics_count_verdicts() -> None:
    labels = np.array([0, 0, 0, 1, 1, 1, 1, 1])
    verdicts = ["real", "uncertain", "fake", "real", "real", "uncertain", "fake", "fake"]
    assert trust_metrics(labels, verdicts) == {
        "fakes_called_real": 2 / 5,  # below the band: called real with confidence
        "uncertain": 2 / 8,
        "selective_accuracy": 3 / 6,  # real, fake (wrong), real x2 (wrong), fake x2
    }
    everything_unsure = trust_metrics(np.array([0, 1]), ["uncertain", "uncertain"])
    assert everything_unsure == {"fakes_called_real": 0.0, "uncertain": 1.0,
                                 "selective_accuracy": None}


def _with_band(checkpoint: Path, out: Path, band: tuple[float, float] | None) -> Path:
    from fakescope.checkpoints import load_checkpoint, save_checkpoint

    payload = dict(load_checkpoint(checkpoint))
    low, high = band if band else (None, None)
    payload["calibration"] = {**payload["calibration"], "band_low": low, "band_high": high}
    save_checkpoint(out, payload)
    return out


def test_cells_follow_the_stored_band(tiny_set: Path, xgen_out: Path, tmp_path: Path) -> None:
    from fakescope.evaluate.xgen import read_set, score_cells

    data = json.loads((xgen_out / XGEN_FILE).read_text())
    run = data["runs"][0]
    spec = XgenSpec(set_dir=tiny_set, detectors=DETECTORS, out=xgen_out,
                    options=replace(ON_CPU, conditions=("clean",)))
    entries = read_set(tiny_set)

    def cells(band: tuple[float, float] | None) -> list[dict[str, Any]]:
        checkpoint = _with_band(Path(run["checkpoint"]), tmp_path / "banded.pt", band)
        return score_cells(spec, checkpoint, xgen_out / "sets" / "test.csv", entries,
                           data["families"], run["seen"])

    for cell in cells(None):  # no band: every image gets a verdict at the threshold
        assert cell["uncertain"] == 0.0
        assert cell["selective_accuracy"] == pytest.approx(cell["accuracy"])
    for cell in cells((0.0, 1.0)):  # the whole range is uncertain
        assert cell["uncertain"] == 1.0 and cell["fakes_called_real"] == 0.0
        assert cell["selective_accuracy"] is None


def test_summary_and_tables_show_trust_figures_and_read_older_files(xgen_out: Path) -> None:
    data = json.loads((xgen_out / XGEN_FILE).read_text())
    result = XgenResult.from_dict(data)
    row = result.summary()[0]
    unseen = [c for c in result.cells if (c["detector"], c["train_set"], c["condition"])
              == (row["detector"], row["train_set"], row["condition"]) and not c["seen"]]
    assert row["unseen_uncertain"] == pytest.approx(np.mean([c["uncertain"] for c in unseen]))
    markdown = xgen_markdown(result)
    assert "unseen fakes called real" in markdown.splitlines()[0]
    assert "**selective_accuracy, clean**" in markdown
    assert "unseen_fakes_called_real" in build_report(xgen_out)
    for cell in data["cells"]:  # a matrix written before the trust figures
        for metric in TRUST_METRICS:
            del cell[metric]
    older = XgenResult.from_dict(data)
    assert older.summary()[0]["unseen_uncertain"] is None
    assert "| - |" in xgen_markdown(older)


def test_a_failing_run_keeps_the_others(
    tiny_set: Path, xgen_out: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its row carries the error; the finished runs (reused from xgen_out) are written as
    they finish."""
    from fakescope.report.xgen import keep_xgen
    from fakescope.workflows import xgen

    train = xgen.train_run

    def npr_fails(spec: XgenSpec, detector: str, set_name: str, data_csv: Path) -> Path:
        if detector == "npr_cnn":
            raise RuntimeError("CUDA error: an illegal memory access\nmore")
        return train(spec, detector, set_name, data_csv)

    monkeypatch.setattr(xgen, "train_run", npr_fails)
    spec = XgenSpec(set_dir=tiny_set, detectors=DETECTORS, out=xgen_out, modes=["single"],
                    train_families=["halfA"], overrides=FAST, options=ON_CPU)
    result = run_xgen(spec, on_update=lambda partial: keep_xgen(partial, tmp_path))
    failed = [run for run in result.runs if "error" in run]
    assert [(r["detector"], r["error"]) for r in failed] == [
        ("npr_cnn", "RuntimeError: CUDA error: an illegal memory access")]
    assert {c["detector"] for c in result.cells} == {"spectrum_cnn"}
    saved = json.loads((tmp_path / XGEN_FILE).read_text())
    assert saved["runs"] == result.runs
    assert "| npr_cnn | halfA | failed: RuntimeError" in (tmp_path / "xgen.md").read_text()


def test_a_run_config_places_the_run_and_applies_the_flags_typed(tmp_path: Path) -> None:
    spec = XgenSpec(tmp_path / "set", ["lite0_probe", "npr_cnn"], tmp_path / "x",
                    overrides=["train.lr=0.002"], epochs=2,
                    options=replace(xgen_options(), seed=3, device="cpu"))
    probe = run_config(spec, "lite0_probe", "dcgan", tmp_path / "dcgan.csv")  # a preset
    assert probe.model.pretrained == IMAGENET and probe.train.epochs == 2
    assert (probe.run.root, probe.run.name, probe.run.seed) == (str(tmp_path / "x" / "runs" /
                                                                    "lite0_probe"), "dcgan", 3)
    npr = run_config(spec, "npr_cnn", "dcgan", tmp_path / "dcgan.csv")  # a registry name
    assert (npr.model.name, npr.train.lr, npr.data.path) == ("npr_cnn", 0.002,
                                                             str(tmp_path / "dcgan.csv"))
    clash = XgenSpec(tmp_path / "set", ["npr_cnn"], tmp_path / "x", overrides=["train.epochs=5"],
                     epochs=2)
    with pytest.raises(ConfigError, match=r"train\.epochs is given twice, as a flag \(2\)"):
        run_config(clash, "npr_cnn", "dcgan", tmp_path / "dcgan.csv")
