"""Reconstructions of the training reals as extra fakes: split discipline, share, cache, resume."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from fakescope.checkpoints import load_checkpoint
from fakescope.cli import main
from fakescope.config import ConfigError
from fakescope.data.layouts import FAKE, REAL
from fakescope.data.pipeline import PreparedData, prepare_data
from fakescope.data.transforms import resolve_input_spec
from fakescope.detect import recon_negatives
from fakescope.detect.config import DetectJobConfig, ReconNegativesConfig, check_detect_config
from fakescope.detect.recon_negatives import add_recon_negatives, recon_count
from fakescope.detect.train import build_model, train_detector
from fakescope.models.autoencoder import ConvAutoencoder, load_autoencoder, save_autoencoder

MakeConfig = Callable[..., DetectJobConfig]
FAST = {"data__recon_negatives__share": 0.25, "data__recon_negatives__steps": 4}


def _prepared(config: DetectJobConfig) -> PreparedData:
    spec = resolve_input_spec(build_model(config).input_spec, config.data)
    return prepare_data(config.data, spec, config.run.seed)


def _with_negatives(config: DetectJobConfig) -> tuple[PreparedData, PreparedData]:
    plain = _prepared(config)
    return plain, add_recon_negatives(plain, config.data.recon_negatives, config.data.cache_dir,
                                      config.run.seed)


def _pixels(prepared: PreparedData, split: str, label: int) -> torch.Tensor:
    return prepared.pixels(prepared.rows(split, label))[0]


def _added(prepared: PreparedData, split: str) -> list[str]:
    return [str(s.path) for s in prepared.samples(split) if "#recon-" in str(s.path)]


def test_autoencoders_train_on_training_reals_only(
    make_config: MakeConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[torch.Tensor] = []
    real_train = recon_negatives.train_autoencoder

    def spy(images: torch.Tensor, out: Path, *args: Any, **kwargs: Any) -> Path:
        seen.append(images.clone())
        return real_train(images, out, *args, **kwargs)

    monkeypatch.setattr(recon_negatives, "train_autoencoder", spy)
    config = make_config(**FAST, data__recon_negatives__validation=True,
                         data__cache_dir=str(make_config().run.root) + "/fresh_cache")
    plain, extended = _with_negatives(config)
    assert len(seen) == 2  # transpose and upsample
    train_reals = {t.numpy().tobytes() for t in _pixels(plain, "train", REAL)}
    held_out = {t.numpy().tobytes() for split in ("val", "test") for label in (REAL, FAKE)
                for t in _pixels(plain, split, label)}
    for images in seen:
        fed = {t.numpy().tobytes() for t in images}
        assert fed <= train_reals and not fed & held_out
    # each reconstruction is named after a real of its own split, never of another
    for split in ("train", "val"):
        reals = {str(s.path) for s in plain.samples(split) if s.label == REAL}
        added = _added(extended, split)
        assert added and {p.split("#recon-")[0] for p in added} <= reals
    assert not _added(extended, "test")
    assert extended.samples("test") == plain.samples("test")


def test_validation_reconstructions_only_when_asked(make_config: MakeConfig) -> None:
    plain, extended = _with_negatives(make_config(**FAST))
    assert _added(extended, "train") and not _added(extended, "val")
    assert extended.samples("val") == plain.samples("val")


@pytest.mark.parametrize("share", [0.25, 0.5])
def test_the_share_of_training_fakes_is_respected(make_config: MakeConfig, share: float) -> None:
    config = make_config(**{**FAST, "data__recon_negatives__share": share})
    plain, extended = _with_negatives(config)
    n_fakes = len(plain.rows("train", FAKE))
    added = _added(extended, "train")
    assert len(added) == recon_count(n_fakes, share)
    assert len(extended.rows("train", FAKE)) == n_fakes + len(added)
    assert len(added) / len(extended.rows("train", FAKE)) == pytest.approx(share, abs=0.02)
    assert len(set(added)) == len(added)  # distinct (real, decoder) pairs
    decoders = {p.split("#recon-")[1] for p in added}
    assert decoders == {"transpose", "upsample"}
    assert extended.report.counts["train"]["fake"] == n_fakes + len(added)


def test_the_cache_is_reused(make_config: MakeConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    config = make_config(**FAST)
    _, first = _with_negatives(config)

    def must_not_train(*args: object, **kwargs: object) -> Path:
        raise AssertionError("the cached autoencoder should have been reused")

    monkeypatch.setattr(recon_negatives, "train_autoencoder", must_not_train)
    _, second = _with_negatives(config)
    rows = first.rows("train", FAKE)
    assert torch.equal(first.pixels(rows)[0], second.pixels(second.rows("train", FAKE))[0])
    # another seed is another autoencoder
    monkeypatch.undo()
    other = make_config(**FAST, run__seed=1)
    _, third = _with_negatives(other)
    assert len(list((Path(config.data.cache_dir) / "recon_negatives").glob("autoencoder-*-*"
                                                                           "[0-9a-f].pt"))) >= 4
    assert not torch.equal(first.pixels(rows)[0], third.pixels(third.rows("train", FAKE))[0])


def test_off_by_default_leaves_the_data_alone(make_config: MakeConfig) -> None:
    config = make_config()
    assert config.data.recon_negatives.share == 0
    plain, same = _with_negatives(config)
    assert same is plain


def test_reconstructions_are_blurred_copies_fed_as_fakes(make_config: MakeConfig) -> None:
    """The negatives carry their real's content with smoother pixels, and the training loader
    hands them out labelled fake."""
    config = make_config(**{**FAST, "data__recon_negatives__steps": 60})
    plain, extended = _with_negatives(config)
    paths = [str(s.path) for s in plain.samples("train")]
    added_rows = [r for r in extended.rows("train", FAKE)
                  if "#recon-" in str(extended.sample(int(r)).path)]
    recons = extended.pixels(np.asarray(added_rows))[0].float()
    sources = np.asarray([paths.index(str(extended.sample(int(r)).path).split("#recon-")[0])
                          for r in added_rows])
    train_rows = [r for r in range(len(plain.samples("train")))]
    reals = plain.pixels(np.asarray(train_rows)[sources])[0].float()

    def roughness(images: torch.Tensor) -> float:  # mean absolute horizontal difference
        return float((images[..., 1:] - images[..., :-1]).abs().mean())

    assert roughness(recons) < 0.8 * roughness(reals)

    def likeness(a: torch.Tensor, b: torch.Tensor) -> float:  # mean centred cosine, pairwise
        a, b = (x.flatten(1) - x.flatten(1).mean(1, keepdim=True) for x in (a, b))
        return float(torch.nn.functional.cosine_similarity(a, b, dim=1).mean())

    # the same picture as its real, not another one
    own, other = likeness(recons, reals), likeness(recons, reals.roll(1, 0))
    assert own > 0.2 and own > other + 0.15, (own, other)
    labels = torch.cat([y for _, y in extended.loader("train", 64)])
    assert int(labels.sum()) == len(plain.rows("train", FAKE)) + len(added_rows)


def test_training_resumes_exactly_with_negatives(make_config: MakeConfig) -> None:
    settings = {**FAST, "train__epochs": 2, "model__kwargs": {"dropout": 0.5}}
    straight = train_detector(make_config(run__name="straight", **settings), progress=False)
    broken = make_config(run__name="broken", **settings)

    class Stop(Exception):
        pass

    def stop(epoch: int, row: dict[str, float]) -> None:
        raise Stop

    with pytest.raises(Stop):
        train_detector(broken, progress=False, epoch_callback=stop)
    resumed = train_detector(broken, resume=True, progress=False)
    want = load_checkpoint(straight.last_checkpoint)["state_dict"]
    got = load_checkpoint(resumed.last_checkpoint)["state_dict"]
    assert all(torch.equal(got[k], want[k]) for k in want)
    story = (resumed.run.path / "train.log").read_text()
    assert "autoencoder reused from the cache" in story
    report = (resumed.run.path / "data_report.json").read_text()
    assert '"fake": ' in report


@pytest.mark.parametrize(("key", "value", "message"), [
    ("decoders", ["transpose", "bilinear"], "unknown decoder 'bilinear'"),
    ("share", 1.0, "share must lie in [0, 1)"),
    ("steps", 0, "steps must be positive"),
])
def test_bad_settings_name_the_key(key: str, value: object, message: str) -> None:
    config = DetectJobConfig()
    setattr(config.data.recon_negatives, key, value)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("(", r"\(")
                       .replace(")", r"\)")):
        check_detect_config(config)


def test_cli_rejects_an_unknown_decoder_in_one_line(
    faces: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["train", "--data", str(faces), "--set", "data.recon_negatives.share=0.25",
                 "--set", "data.recon_negatives.decoders=[transpose,bilinear]",
                 "--set", f"run.root={tmp_path}"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "unknown decoder 'bilinear'" in err and len(err.splitlines()) == 1


def test_old_autoencoder_checkpoints_load_as_pixel_shuffle(tmp_path: Path) -> None:
    model = ConvAutoencoder()
    model.kwargs = {"width": 16, "latent_channels": 16}  # as saved before the decoder choice
    save_autoencoder(tmp_path / "old.pt", model, {})
    loaded = load_autoencoder(tmp_path / "old.pt")
    assert loaded.kwargs["decoder"] == "pixel_shuffle"
    x = torch.rand(1, 3, 16, 16) * 2 - 1
    assert torch.equal(loaded(x), model.eval()(x))


@pytest.mark.parametrize("decoder", ["transpose", "upsample"])
def test_every_decoder_keeps_the_shape(decoder: str) -> None:
    model = ConvAutoencoder(width=4, latent_channels=4, decoder=decoder)
    assert model(torch.zeros(2, 3, 32, 24)).shape == (2, 3, 32, 24)
    with pytest.raises(ValueError, match="unknown autoencoder decoder 'nope'"):
        ConvAutoencoder(decoder="nope")


def test_recon_count() -> None:
    assert recon_count(300, 0.25) == 100 and recon_count(10, 0.0) == 0
    assert ReconNegativesConfig().decoders == ["transpose", "upsample"]


def test_a_detector_trained_with_negatives_flags_reconstructions_of_unseen_reals(
    make_config: MakeConfig,
) -> None:
    """Reconstructions of test reals (content it never saw, pixels of the same autoencoders)
    score as more fake after training with the negatives than without."""
    from fakescope.models.registry import fake_probability

    settings = {**FAST, "data__recon_negatives__steps": 60, "train__epochs": 8}
    models = {}
    for name, share in (("with", 0.5), ("without", 0.0)):
        config = make_config(run__name=name, **{**settings, "data__recon_negatives__share": share})
        models[name] = train_detector(config, progress=False).model
    negatives = make_config(**{**settings, "data__recon_negatives__share": 0.5})
    prepared = _prepared(negatives)
    cache = Path(negatives.data.cache_dir) / recon_negatives.RECON_DIR
    checkpoints = recon_negatives.train_autoencoders(  # cached by the run above: reused
        _pixels(prepared, "train", REAL), negatives.data.recon_negatives, cache, 0)
    test_reals = _pixels(prepared, "test", REAL)
    made = [recon_negatives.reconstruct(load_autoencoder(p), test_reals)
            for p in checkpoints.values()]
    batch = prepared.normalizer(torch.cat(made))
    with torch.inference_mode():
        scores = {name: float(fake_probability(model(batch)).mean())
                  for name, model in models.items()}
    assert scores["with"] > scores["without"] + 0.1, scores


def test_sides_the_autoencoder_cannot_halve_are_padded(make_config: MakeConfig) -> None:
    _, extended = _with_negatives(make_config(**FAST, data__image_size=28))
    added = extended.pixels(extended.rows("train", FAKE))[0]
    assert added.shape[1:] == (3, 28, 28) and len(_added(extended, "train")) > 0


def test_without_the_data_cache_files_and_reconstructions_mix_in_batches(
    make_config: MakeConfig,
) -> None:
    _, extended = _with_negatives(make_config(**FAST, data__cache=False))
    rows = extended.rows("train", FAKE)
    mixed = np.sort(np.concatenate([rows[:3], rows[-3:]]))  # three files, three reconstructions
    images, ok = extended.pixels(mixed)
    assert ok.all() and images.shape == (6, 3, 32, 32)
    assert torch.equal(images[-3:], extended.pixels(rows[-3:])[0])


def test_evaluation_keeps_the_data_settings_of_a_run_with_negatives(
    make_config: MakeConfig,
) -> None:
    from fakescope.evaluate.scoring import evaluation_data_config
    from fakescope.models.registry import load_detector

    config = make_config(**FAST, train__epochs=1, data__resize="resize",
                         data__split_fractions=[0.7, 0.15, 0.15])
    best = train_detector(config, progress=False).best_checkpoint
    data = evaluation_data_config(load_detector(best), config.data.path)
    assert (data.resize, data.split_fractions) == ("resize", (0.7, 0.15, 0.15))
