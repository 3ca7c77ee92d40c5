"""The multi-generator set: four families from the user's reals, a manifest, resumable."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch

from fakescope.cli import main
from fakescope.data.layouts import read_layout
from fakescope.data.multigen_set import MANIFEST_COLUMNS, MANIFEST_CSV, split_of
from fakescope.data.synth import synthesize_dataset
from fakescope.gan.autoencoder_train import reconstruct, train_autoencoder
from fakescope.gan.families import FAMILIES
from fakescope.models.autoencoder import ConvAutoencoder, load_autoencoder
from fakescope.workflows.multigen import build_multigen_set

# Tiny, fast GANs: one thread, no probes, no grids or plots, a budget of about a second.
FAST_GAN = ["train.threads=1", "train.amp=false", "train.channels_last=false",
            "train.sample_every=0", "train.plot_every=0", "model.base_width=8"]


@pytest.fixture(scope="module")
def reals(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("multigen_reals")
    synthesize_dataset(out, n=30, size=40, seed=1)
    return out


@pytest.fixture(scope="module")
def built(reals: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("multigen") / "set"
    build_multigen_set(reals, out, minutes=0.01, resolution=32, n_per_family=20,
                       gan_overrides=FAST_GAN, autoencoder_max_steps=2)
    return out


def _manifest(out: Path) -> list[dict[str, str]]:
    with (out / MANIFEST_CSV).open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_every_family_is_written_with_a_manifest(built: Path) -> None:
    rows = _manifest(built)
    assert tuple(rows[0]) == MANIFEST_COLUMNS
    counts = {f: sum(r["family"] == f for r in rows) for f in ("real", *FAMILIES)}
    # the autoencoder reconstructs every real, the GANs draw n_per_family each
    assert counts == {"real": 30, "dcgan": 20, "small_data": 20, "fastgan_lite": 20,
                      "autoencoder": 30}
    for row in rows:
        assert (built / row["path"]).is_file()
        assert row["label"] == ("real" if row["family"] == "real" else "fake")
        assert row["split"] in ("train", "val", "test")
        assert bool(row["checkpoint"]) == (row["family"] != "real")
        if row["checkpoint"]:
            assert Path(row["checkpoint"]).is_file()
    layout, samples = read_layout(built)
    assert layout == "class_folders" and len(samples) == len(rows)
    _, listed = read_layout(built / MANIFEST_CSV)  # the manifest is a csv-layout data set
    assert sorted(s.split or "" for s in listed) == sorted(r["split"] for r in rows)


def test_reconstructions_keep_their_reals_split(built: Path) -> None:
    rows = _manifest(built)
    real_splits = [r["split"] for r in rows if r["family"] == "real"]
    recon_splits = [r["split"] for r in rows if r["family"] == "autoencoder"]
    assert recon_splits == real_splits
    assert real_splits.count("test") == 3 and real_splits.count("val") == 3


def test_a_second_call_skips_finished_families(reals: Path, built: Path) -> None:
    checkpoints = sorted((built / "generators").rglob("*.pt"))
    stamps = {p: p.stat().st_mtime_ns for p in checkpoints}
    summary = build_multigen_set(reals, built, minutes=0.01, resolution=32, n_per_family=20,
                                 gan_overrides=FAST_GAN, autoencoder_max_steps=2)
    assert [f.built for f in summary.families] == [False] * len(FAMILIES)
    assert {p: p.stat().st_mtime_ns for p in checkpoints} == stamps


def test_given_checkpoints_replace_training(reals: Path, built: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    given = {r["family"]: r["checkpoint"] for r in _manifest(built) if r["checkpoint"]}
    args = ["data", "multigen", "--reals", str(reals), "--out", str(tmp_path / "again"),
            "--resolution", "32", "--n", "8", "--families", "dcgan,autoencoder",
            "--checkpoint", f"dcgan={given['dcgan']}",
            "--checkpoint", f"autoencoder={given['autoencoder']}"]
    assert main(args) == 0
    assert not (tmp_path / "again" / "generators" / "dcgan").exists()
    assert not (tmp_path / "again" / "generators" / "autoencoder").exists()
    families = {r["family"] for r in _manifest(tmp_path / "again")}
    assert families == {"real", "dcgan", "autoencoder"}
    assert "dcgan: 8 fakes (built" in capsys.readouterr().out


def test_user_mistakes_are_one_line_errors(reals: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    base = ["data", "multigen", "--reals", str(reals), "--out", str(tmp_path / "x")]
    assert main([*base, "--families", "dcgan,vqgan"]) == 2
    assert "unknown families ['vqgan']" in capsys.readouterr().err
    assert main([*base, "--families", "dcgan", "--checkpoint", "dcgan"]) == 2
    assert "FAMILY=PATH" in capsys.readouterr().err
    assert main([*base, "--families", "dcgan", "--checkpoint", "small_data=x.pt"]) == 2
    assert "not being built" in capsys.readouterr().err


def test_split_fractions_cover_every_item() -> None:
    splits = [split_of(i, 10) for i in range(10)]
    assert splits == ["train"] * 8 + ["val"] + ["test"]


def test_autoencoder_learns_and_round_trips(tmp_path: Path) -> None:
    torch.manual_seed(0)
    images = (torch.rand(8, 3, 16, 16) * 255).to(torch.uint8)
    path = train_autoencoder(images, tmp_path / "ae.pt", minutes=5, max_steps=30, batch_size=8)
    model = load_autoencoder(path)
    again = reconstruct(model, images)
    assert again.shape == images.shape and again.dtype == torch.uint8
    untrained = reconstruct(ConvAutoencoder(), images)
    error = (again.float() - images.float()).abs().mean()
    assert error < (untrained.float() - images.float()).abs().mean()
    with pytest.raises(ValueError, match="divisible by 8"):
        model(torch.zeros(1, 3, 12, 12))
