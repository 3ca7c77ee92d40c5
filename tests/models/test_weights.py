"""Pretrained weights: local files of every kind, head swap, offline ImageNet, fine-tuning."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import huggingface_hub.constants
import pytest
import torch
import torchvision
from safetensors.torch import save_file

from fakescope.models.efficientnet_lite import LITE0, LITE1, LITE2, LiteVariant, imagenet_model
from fakescope.models.registry import build_detector, save_detector
from fakescope.models.weights import (
    LoadReport,
    PretrainedWeightsError,
    load_pretrained,
    param_groups,
    read_state_dict,
    set_backbone_trainable,
)

B0_HEAD = ["net.classifier.1.weight", "net.classifier.1.bias"]
B0_IMAGENET_FILE = "efficientnet_b0_rwightman-7f5810bc.pth"  # torchvision's name for the file



@pytest.fixture
def empty_caches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point torch hub and the Hugging Face cache at empty folders and forbid downloads."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    return tmp_path


@pytest.fixture
def imagenet_b0_file(tmp_path: Path) -> Path:
    """A state dict in torchvision's own ImageNet layout (1000-class classifier)."""
    torch.manual_seed(0)
    path = tmp_path / "b0_imagenet.pth"
    torch.save(torchvision.models.efficientnet_b0(num_classes=1000).state_dict(), path)
    return path


def skipped_keys(report: LoadReport) -> list[str]:
    return [entry.split(" ")[0] for entry in report.skipped]


def stem_weight(model: torch.nn.Module) -> torch.Tensor:
    return model.state_dict()["net.features.0.0.weight"]


def test_head_swap_skips_the_mismatched_classifier_and_loads_the_rest(
    imagenet_b0_file: Path,
) -> None:
    source = torch.load(imagenet_b0_file, weights_only=True)
    model = build_detector("efficientnet_b0", num_logits=2)
    report = load_pretrained(model, imagenet_b0_file)
    assert skipped_keys(report) == B0_HEAD
    assert "(1000, 1280) in file, (2, 1280) in model" in report.skipped[0]
    assert report.prefix == "net." and not report.missing and not report.unexpected
    assert len(report.loaded) == len(source) - 2
    torch.testing.assert_close(stem_weight(model), source["features.0.0.weight"])


def test_factory_applies_a_weights_path(imagenet_b0_file: Path) -> None:
    model = build_detector("efficientnet_b0", pretrained=str(imagenet_b0_file))
    source = torch.load(imagenet_b0_file, weights_only=True)
    torch.testing.assert_close(stem_weight(model), source["features.0.0.weight"])


def test_fakescope_checkpoint_loads_into_a_model_with_another_head(tmp_path: Path) -> None:
    trained = build_detector("efficientnet_b0", num_logits=2)
    path = tmp_path / "best.pt"
    save_detector(path, trained, "efficientnet_b0", {"num_logits": 2}, trained.input_spec)
    report = load_pretrained(build_detector("efficientnet_b0", num_logits=1), path)
    assert report.prefix == "" and skipped_keys(report) == B0_HEAD


def test_safetensors_and_data_parallel_files_load(tmp_path: Path) -> None:
    source = build_detector("selfcnn").state_dict()
    tensors = {k: v.contiguous() for k, v in source.items()}
    save_file(tensors, str(tmp_path / "w.safetensors"))
    torch.save({"module." + k: v for k, v in source.items()}, tmp_path / "dp.pt")
    for name in ("w.safetensors", "dp.pt"):
        report = load_pretrained(build_detector("selfcnn"), tmp_path / name)
        assert len(report.loaded) == len(source) and not report.skipped and not report.missing


def test_legacy_torchvision_densenet_keys_are_renamed(tmp_path: Path) -> None:
    path = tmp_path / "legacy.pth"
    weight = torch.ones(3)
    torch.save({"features.denseblock1.denselayer1.norm.1.weight": weight}, path)
    assert list(read_state_dict(path)) == ["features.denseblock1.denselayer1.norm1.weight"]


def test_bad_weights_files_fail_with_one_line(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="weights file not found"):
        load_pretrained(build_detector("selfcnn"), tmp_path / "absent.pt")
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint at all")
    with pytest.raises(PretrainedWeightsError, match="cannot read weights file") as err:
        load_pretrained(build_detector("selfcnn"), garbage)
    assert "\n" not in str(err.value)
    torch.save({"epoch": 3, "note": "no tensors"}, tmp_path / "meta.pt")
    with pytest.raises(PretrainedWeightsError, match="holds no state dict"):
        load_pretrained(build_detector("selfcnn"), tmp_path / "meta.pt")
    torch.save({"unrelated.weight": torch.ones(2)}, tmp_path / "other.pt")
    with pytest.raises(PretrainedWeightsError, match="no tensor in"):
        load_pretrained(build_detector("selfcnn"), tmp_path / "other.pt")


def test_offline_imagenet_names_the_torchvision_file_it_looked_for(empty_caches: Path) -> None:
    expected = empty_caches / "torch" / "hub" / "checkpoints" / B0_IMAGENET_FILE
    with pytest.raises(PretrainedWeightsError) as err:
        build_detector("efficientnet_b0", pretrained="imagenet")
    message = str(err.value)
    assert str(expected) in message and "--pretrained PATH" in message and "\n" not in message


def test_offline_imagenet_names_the_hugging_face_file_it_looked_for(empty_caches: Path) -> None:
    with pytest.raises(PretrainedWeightsError) as err:
        build_detector("inception_resnet_v2", pretrained="imagenet")
    expected = empty_caches / "hf" / "models--timm--inception_resnet_v2.tf_in1k"
    assert str(expected) in str(err.value) and "--pretrained PATH" in str(err.value)


def test_imagenet_is_read_from_the_torch_hub_cache_when_present(
    empty_caches: Path, imagenet_b0_file: Path
) -> None:
    cached = empty_caches / "torch" / "hub" / "checkpoints" / B0_IMAGENET_FILE
    cached.parent.mkdir(parents=True)
    cached.write_bytes(imagenet_b0_file.read_bytes())
    model = build_detector("efficientnet_b0", pretrained="imagenet")
    source = torch.load(imagenet_b0_file, weights_only=True)
    torch.testing.assert_close(stem_weight(model), source["features.0.0.weight"])


def test_packaged_lite0_imagenet_works_offline(empty_caches: Path) -> None:
    reference: Any = imagenet_model(LITE0)
    detector = build_detector("efficientnet_lite0", num_logits=2)
    report = load_pretrained(detector, "imagenet")
    assert skipped_keys(report) == ["net.classifier.weight", "net.classifier.bias"]
    probe = build_detector("lite0_probe", pretrained="imagenet").eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        expected = reference.forward_head(reference.forward_features(x), pre_logits=True)
        torch.testing.assert_close(detector.eval().features(x), expected)
        torch.testing.assert_close(probe.features(x), expected)


@pytest.mark.parametrize(("name", "variant"), [("lite1_probe", LITE1), ("lite2_probe", LITE2)])
def test_packaged_lite1_and_lite2_probes_work_offline(
    empty_caches: Path, name: str, variant: LiteVariant
) -> None:
    reference: Any = imagenet_model(variant)
    probe = build_detector(name, pretrained="imagenet").eval()
    assert probe.input_spec == variant.input_spec
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        expected = reference.forward_head(reference.forward_features(x), pre_logits=True)
        torch.testing.assert_close(probe.features(x), expected)
        assert probe(x).shape == (1, 1)


def test_imagenet_for_a_model_without_imagenet_weights_is_refused() -> None:
    with pytest.raises(PretrainedWeightsError, match="has no ImageNet weights"):
        build_detector("spectrum_cnn", pretrained="imagenet")


def test_report_summary_is_one_line() -> None:
    report = LoadReport(
        source="x.pt", prefix="", loaded=["a"], skipped=["h.w (3,) in file, (2,) in model"]
    )
    assert report.summary() == "loaded 1 tensors from x.pt; skipped (shape differs) 1: " + (
        "h.w (3,) in file, (2,) in model"
    )
    assert report.to_dict()["loaded"] == 1


def test_freeze_then_unfreeze_with_separate_learning_rates() -> None:
    torch.manual_seed(0)
    model = build_detector("selfcnn")
    set_backbone_trainable(model, False)
    assert not any(p.requires_grad for p in model.backbone_parameters())
    assert all(p.requires_grad for p in model.head_parameters())
    groups = param_groups(model, lr_backbone=1e-4, lr_head=1e-2, weight_decay=7e-4)
    assert [(g["name"], g["lr"], g["weight_decay"]) for g in groups] == [
        ("backbone", 1e-4, 7e-4),
        ("head", 1e-2, 7e-4),
    ]
    optimizer = torch.optim.Adam(groups)
    backbone_before = [p.clone() for p in model.backbone_parameters()]
    x = torch.randn(2, 3, 32, 32)

    model(x).sum().backward()
    optimizer.step()
    assert all(
        torch.equal(a, b) for a, b in zip(backbone_before, model.backbone_parameters(), strict=True)
    )

    set_backbone_trainable(model, True)  # the same optimizer now trains the backbone too
    optimizer.zero_grad()
    model(x).sum().backward()
    optimizer.step()
    assert not all(
        torch.equal(a, b) for a, b in zip(backbone_before, model.backbone_parameters(), strict=True)
    )
