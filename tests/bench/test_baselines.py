"""The plain pipelines compute what fakescope computes, with the same networks."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image

from fakescope.bench.baselines import PlainDetectorTrainer, imagefolder_loader, plain_transform
from fakescope.bench.dataset import BenchData
from fakescope.bench.dcgan_example import DcganExample, Discriminator, Generator
from fakescope.bench.models import calibrated_detector, face_batch, serving_checkpoint
from fakescope.bench.plain_server import create_plain_app
from fakescope.bench.settings import ModelSpec
from fakescope.data.images import load_image
from fakescope.data.transforms import IMAGENET_MEAN, IMAGENET_STD, InputSpec
from fakescope.models import dcgan
from fakescope.models.registry import build_detector, fake_probability


def parameters(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize(("resolution", "base_width", "g", "d"), [
    (64, None, 3_576_704, 2_765_568),  # paper 000, Tables V and IV
    (128, None, 3_608_000, 2_796_928),  # paper 000, Tables II and I
    (32, 8, None, None),
])  # fmt: skip
def test_the_dcgan_example_trains_fakescopes_architecture(
    resolution: int, base_width: int | None, g: int | None, d: int | None
) -> None:
    ours_g = dcgan.Generator(resolution, base_width=base_width)
    ours_d = dcgan.Discriminator(resolution, base_width=base_width)
    plain_g, plain_d = Generator(resolution, base_width), Discriminator(resolution, base_width)
    assert parameters(plain_g) == parameters(ours_g) == (g or parameters(ours_g))
    assert parameters(plain_d) == parameters(ours_d) == (d or parameters(ours_d))


def test_a_dcgan_example_step_learns_on_images_of_the_loader(faces: BenchData) -> None:
    loader = imagefolder_loader(faces.root, InputSpec(size=32), batch_size=8)
    images, _ = next(iter(loader))
    assert images.shape == (8, 3, 32, 32)
    assert -1.0 <= float(images.min()) < float(images.max()) <= 1.0
    example = DcganExample(32, base_width=8)
    before = [p.clone() for p in example.net_d.parameters()]
    losses = example.step(images)
    assert all(np.isfinite(v) for v in losses.values()) and 0 < losses["d_real"] < 1
    assert any(not torch.equal(a, b) for a, b in zip(before, example.net_d.parameters(),
                                                     strict=True))


@pytest.mark.parametrize("resize", ["short_side_crop", "resize"])
def test_the_plain_transform_matches_fakescopes_preprocessing(faces: BenchData,
                                                              resize: str) -> None:
    spec = InputSpec(48, IMAGENET_MEAN, IMAGENET_STD, resize)
    path = faces.paths(1)[0]
    plain = plain_transform(spec)(load_image(path))
    ours = face_batch([path], spec)[0]
    # PIL resizing in both; torchvision's rounding of the short side and crop may differ by a
    # pixel, which moves values by a fraction of a standard deviation at most, and rarely.
    assert plain.shape == ours.shape
    assert float((plain - ours).abs().mean()) < 0.1


def test_the_plain_detector_step_changes_the_weights() -> None:
    torch.manual_seed(0)
    trainer = PlainDetectorTrainer(build_detector("dcgan_disc64", base_width=8), 1e-3,
                                   (0.9, 0.999))
    before = [p.clone() for p in trainer.model.parameters()]
    loss = trainer.step(torch.randn(4, 3, 64, 64), torch.tensor([0, 1, 0, 1]))
    assert np.isfinite(loss)
    assert any(not torch.equal(a, b) for a, b in zip(before, trainer.model.parameters(),
                                                     strict=True))


def test_the_plain_server_answers_as_the_model_does(faces: BenchData, tmp_path: Path) -> None:
    model = ModelSpec("dcgan_disc64", 64, {"base_width": 8})
    loaded = calibrated_detector(model, faces.paths(16))
    checkpoint = serving_checkpoint(loaded, model, tmp_path, onnx=False)
    path = faces.paths(1)[0]
    with TestClient(create_plain_app(checkpoint)) as client:
        assert client.get("/api/health").json() == {"status": "ok"}
        answer = client.post("/api/predict", files={"file": ("f.jpg", path.read_bytes())}).json()
    image = Image.open(io.BytesIO(path.read_bytes())).convert("RGB")
    with torch.no_grad():
        logits = loaded.model(plain_transform(loaded.input_spec)(image).unsqueeze(0))
    expected = float(fake_probability(logits)[0])
    assert answer["probability_fake"] == pytest.approx(expected, abs=1e-5)
    assert answer["label"] == ("fake" if expected >= 0.5 else "real")


def test_batchnorm_calibration_replaces_the_default_statistics(faces: BenchData) -> None:
    model = ModelSpec("dcgan_disc64", 64, {"base_width": 8})
    loaded = calibrated_detector(model, faces.paths(32))
    norms = [m for m in loaded.model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert norms and all(int(m.num_batches_tracked) == 2 for m in norms)
    assert not any(torch.allclose(m.running_var, torch.ones_like(m.running_var)) for m in norms)
    assert not loaded.model.training and loaded.input_spec.size == 64
