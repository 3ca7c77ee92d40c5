"""Every registered detector honours the contract; the papers' networks have the papers' sizes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from scipy.fft import dctn
from torch import nn

from fakescope.models.detectors import LinearProbe, SpectrumCNN, dct_matrix, log_dct_spectrum
from fakescope.models.registry import (
    Detector,
    build_detector,
    fake_probability,
    list_detectors,
    load_detector,
    save_detector,
)
from fakescope.models.weights import param_groups, set_backbone_trainable

# The papers' figures (SPEC.md), with the head each paper uses.
PAPER_PARAMETER_COUNTS = {
    "selfcnn": 4_853_569,
    "densenet121": 7_480_193,
    "resnet50": 23_512_130,
    "efficientnet_b0": 4_010_110,
}



def count(params: Iterator[nn.Parameter]) -> int:
    return sum(p.numel() for p in params)


def small_size(model: Detector) -> int:
    """A small resolution every detector accepts: its own when small (the DCGAN discriminators
    need exactly theirs), else 80 (Inception-ResNet-v2's unpadded stem needs at least 75)."""
    return model.input_spec.size if model.input_spec.size <= 128 else 80


@pytest.mark.parametrize(("name", "expected"), sorted(PAPER_PARAMETER_COUNTS.items()))
def test_parameter_counts_match_the_papers(name: str, expected: int) -> None:
    assert count(build_detector(name).parameters()) == expected


def test_inception_resnet_v2_matches_paper_001s_keras_count() -> None:
    model = build_detector("inception_resnet_v2")
    params = count(model.parameters())
    # Keras's BatchNorm here has no scale but counts its moving mean and variance, so Keras's
    # total is ours minus one scale plus two statistics per BatchNorm channel.
    bn_channels = sum(m.num_features for m in model.modules() if isinstance(m, nn.BatchNorm2d))
    assert params + bn_channels == 54_339_810
    assert count(model.head_parameters()) == 1536 * 2 + 2  # Dense(2) on 1536 pooled features


@pytest.mark.parametrize("name", sorted(list_detectors()))
def test_forward_backward_contract(name: str) -> None:
    torch.manual_seed(0)
    model = build_detector(name).train()
    size = small_size(model)
    x = torch.randn(2, 3, size, size)
    logits = model(x)
    assert logits.shape == (2, model.num_logits)
    assert torch.isfinite(logits).all()
    features = model.features(x)
    assert features.ndim == 2 and features.shape[0] == 2 and torch.isfinite(features).all()
    probability = fake_probability(logits)
    assert probability.shape == (2,) and ((probability >= 0) & (probability <= 1)).all()

    logits.float().square().sum().backward()
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    assert trainable
    for param_name, param in trainable:
        assert param.grad is not None, f"{param_name} got no gradient"
        assert torch.isfinite(param.grad).all(), f"{param_name} has a non-finite gradient"
    assert any(module is model.gradcam_layer() for module in model.modules())


@pytest.mark.parametrize("name", sorted(list_detectors()))
def test_head_and_backbone_split_the_trainable_parameters(name: str) -> None:
    model = build_detector(name)
    head = {id(p) for p in model.head_parameters()}
    backbone = {id(p) for p in model.backbone_parameters()}
    trainable = {id(p) for p in model.parameters() if p.requires_grad}
    assert head and not head & backbone
    assert head | backbone == trainable


@pytest.mark.parametrize("name", ["selfcnn", "spectrum_cnn", "efficientnet_lite0", "lite0_probe"])
@pytest.mark.parametrize("num_logits", [1, 2])
def test_num_logits_sets_the_head(name: str, num_logits: int) -> None:
    model = build_detector(name, num_logits=num_logits).eval()
    size = small_size(model)
    with torch.no_grad():
        assert model(torch.randn(1, 3, size, size)).shape == (1, num_logits)
    assert model.num_logits == num_logits


def test_num_logits_other_than_one_or_two_is_refused() -> None:
    with pytest.raises(ValueError, match="num_logits"):
        build_detector("selfcnn", num_logits=3)


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [("spectrum_cnn", {"width": 8, "num_logits": 2}), ("selfcnn", {}),
     ("lite0_probe", {"multilevel": True}), ("lite2_probe", {"multilevel": True})],
)
def test_checkpoint_round_trip_rebuilds_the_same_model(
    tmp_path: Path, name: str, kwargs: dict[str, Any]
) -> None:
    torch.manual_seed(1)
    model = build_detector(name, **kwargs).eval()
    path = tmp_path / "detector.pt"
    save_detector(path, model, name, kwargs, model.input_spec, threshold=0.4)
    loaded = load_detector(path)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(loaded.model(x), model(x))
    assert loaded.input_spec == model.input_spec and loaded.threshold == pytest.approx(0.4)


def test_dct_matches_scipy_and_is_orthonormal() -> None:
    x = torch.randn(2, 3, 12, 20, dtype=torch.float64)
    d = dct_matrix(12, x.device, x.dtype)
    torch.testing.assert_close(d @ d.T, torch.eye(12, dtype=torch.float64))
    expected = np.log(np.abs(dctn(x.numpy(), type=2, norm="ortho", axes=(-2, -1))) + 1e-3)
    torch.testing.assert_close(log_dct_spectrum(x), torch.from_numpy(expected))


def test_spectrum_of_a_checkerboard_peaks_at_the_highest_frequency() -> None:
    # The periodic pattern of a stride-2 transposed convolution, the artifact the model reads.
    board = (torch.arange(16).view(16, 1) + torch.arange(16).view(1, 16)) % 2 * 2.0 - 1.0
    spectrum = log_dct_spectrum(board.expand(1, 1, 16, 16))
    assert divmod(int(spectrum.argmax()), 16) == (15, 15)


def test_probe_backbone_stays_frozen_and_in_eval_mode() -> None:
    model = build_detector("lite0_probe")
    assert isinstance(model, LinearProbe)
    model.train()
    assert not model.backbone.training and model.head.training
    before = {k: v.clone() for k, v in model.backbone.state_dict().items()}
    set_backbone_trainable(model, True)  # a fine-tuning schedule must not unfreeze a probe
    optimizer = torch.optim.SGD(param_groups(model, lr_backbone=1.0, lr_head=1.0))
    model(torch.randn(2, 3, 64, 64)).sum().backward()
    optimizer.step()
    after = model.backbone.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # weights and BN statistics


@pytest.mark.parametrize(
    ("name", "stages", "size"),
    [("lite1_probe", 16 + 24 + 40 + 80 + 112 + 192 + 320, 240),
     ("lite2_probe", 16 + 24 + 48 + 88 + 120 + 208 + 352, 260)],
)
def test_larger_lite_probes_read_their_own_stages(name: str, stages: int, size: int) -> None:
    plain, multi = build_detector(name), build_detector(name, multilevel=True)
    assert isinstance(multi, LinearProbe) and multi.input_spec.size == size
    assert plain.head.in_features == 1280 and multi.head.in_features == 1280 + stages
    assert count(p for p in multi.parameters() if p.requires_grad) == 1280 + stages + 1
    with torch.no_grad():
        assert multi.eval()(torch.randn(2, 3, 64, 64)).shape == (2, 1)


def test_multilevel_probe_reads_every_stage_through_a_scale_free_norm() -> None:
    plain, multi = build_detector("lite0_probe"), build_detector("lite0_probe", multilevel=True)
    assert isinstance(multi, LinearProbe)
    # the last 1,280 features, plus each of the seven stages' channels (16 ... 320), pooled
    assert multi.head.in_features == 1280 + 16 + 24 + 40 + 80 + 112 + 192 + 320
    assert count(multi.head_parameters()) == count(
        p for p in multi.parameters() if p.requires_grad
    ) == 2_065
    assert count(plain.head_parameters()) == 1_281
    x = torch.randn(4, 3, 64, 64)
    multi.train()
    features = multi.features(x)  # standardised per feature over the batch in training mode
    torch.testing.assert_close(features.mean(0), torch.zeros(features.shape[1]), atol=1e-4,
                               rtol=0)
    norm = multi.norm
    assert isinstance(norm, nn.BatchNorm1d) and not norm.affine
    assert int(norm.num_batches_tracked) == 1  # its statistics learn; the backbone's do not


def test_spectrum_is_computed_in_float32_under_mixed_precision() -> None:
    model = build_detector("spectrum_cnn", width=8).eval()
    assert isinstance(model, SpectrumCNN)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        expected = model.spectrum(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            mixed = model.spectrum(x)
    assert mixed.dtype == torch.float32
    torch.testing.assert_close(mixed, expected)
