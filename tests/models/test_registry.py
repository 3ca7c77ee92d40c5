"""The registry contract: names, duplicate registration, and checkpoints that rebuild themselves."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from fakescope.checkpoints import CheckpointError, save_checkpoint
from fakescope.data.transforms import InputSpec
from fakescope.models.registry import (
    build_detector,
    fake_probability,
    list_detectors,
    load_detector,
    register_detector,
    save_detector,
)


def test_names_are_unique_and_described() -> None:
    names = list_detectors()
    assert {"selfcnn", "dcgan_disc64", "efficientnet_lite0"} <= set(names)
    assert all(names.values())
    with pytest.raises(ValueError, match="registered twice"):
        register_detector("selfcnn")(lambda pretrained="none": None)  # type: ignore[arg-type,return-value]
    with pytest.raises(KeyError, match="unknown detector 'nope'"):
        build_detector("nope")


def test_architecture_from_weights_survives_a_checkpoint(tmp_path: Path) -> None:
    source = build_detector("dcgan_disc", resolution=32, base_width=16)
    spec = InputSpec(size=32)
    save_detector(tmp_path / "source.pt", source, "dcgan_disc", {}, spec)
    # Built from that file with no architecture arguments, then saved again with none.
    derived = build_detector("dcgan_disc", pretrained=str(tmp_path / "source.pt"))
    save_detector(tmp_path / "derived.pt", derived, "dcgan_disc", {}, spec)
    loaded = load_detector(tmp_path / "derived.pt")
    x = torch.randn(2, 3, 32, 32)
    source.eval()
    assert torch.equal(loaded.model(x), source(x))


def test_probability_for_both_heads() -> None:
    one = torch.tensor([[0.0], [100.0]])
    two = torch.tensor([[0.0, 0.0], [-50.0, 50.0]])
    assert torch.allclose(fake_probability(one), torch.tensor([0.5, 1.0]))
    assert torch.allclose(fake_probability(two), torch.tensor([0.5, 1.0]))


def test_a_gan_checkpoint_is_not_a_detector(tmp_path: Path) -> None:
    save_checkpoint(tmp_path / "gan.pt", {"kind": "gan"})
    with pytest.raises(CheckpointError, match="not a detector"):
        load_detector(tmp_path / "gan.pt")
