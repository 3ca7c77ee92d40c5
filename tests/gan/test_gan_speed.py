"""The GAN speed probe: a valid choice that changes nothing, settings that survive a
checkpoint, a run that recovers from a probe on a busy core, and a bf16 iteration that trains."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from busy_clock import busy_core_during_probe

from fakescope import speed
from fakescope.checkpoints import load_checkpoint, save_checkpoint
from fakescope.gan import speed as gan_speed
from fakescope.gan import train as gan_train
from fakescope.gan.config import GanJobConfig
from fakescope.gan.speed import (
    GanProbe,
    adam,
    choose_gan_speed_settings,
    gan_iteration,
)
from fakescope.gan.train import train_gan
from fakescope.models.dcgan import Discriminator, Generator
from fakescope.speed import CompiledForward, SpeedSettings, candidates

CPU = torch.device("cpu")


def tiny_pair() -> tuple[Generator, Discriminator]:
    torch.manual_seed(0)
    return Generator(32, z_dim=8, base_width=4), Discriminator(32, base_width=4)


def states(*modules: torch.nn.Module) -> list[dict[str, torch.Tensor]]:
    return [{k: v.clone() for k, v in m.state_dict().items()} for m in modules]


def same(a: list[dict[str, torch.Tensor]], b: list[dict[str, torch.Tensor]]) -> bool:
    return all(torch.equal(x[k], y[k]) for x, y in zip(a, b, strict=True) for k in x)


def test_probe_picks_a_candidate_and_leaves_everything_as_it_was(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(speed, "fast_mixed_precision", lambda device: True)
    G, D = tiny_pair()
    before = states(G, D)
    torch.set_num_threads(2)  # the module fixture restores one thread
    rng = torch.get_rng_state()
    chosen, timings = choose_gan_speed_settings(G, D, 4, CPU, "auto", "auto", "auto", rounds=2)
    assert chosen in candidates("auto", "auto", CPU, chosen.threads)
    assert chosen.threads in (0, 1)
    # two thread counts in fp32, then {fp32, bf16} x {contiguous, channels_last}
    assert len(timings) == 6 and all(t > 0 for t in timings.values())
    assert torch.equal(torch.get_rng_state(), rng)
    assert torch.get_num_threads() == 2
    assert same(states(G, D), before)
    assert G.training and D.training


def test_fixed_switches_skip_the_probe() -> None:
    G, D = tiny_pair()
    chosen, timings = choose_gan_speed_settings(G, D, 4, CPU, False, True, 1)
    assert chosen == SpeedSettings("", True, 1) and timings == {}


def test_devices_with_fp16_only_train_in_fp32(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gan_speed, "mixed_precision_dtype", lambda device: "float16")
    G, D = tiny_pair()
    with pytest.raises(ValueError, match=r"train\.amp: this GPU has no bf16"):
        choose_gan_speed_settings(G, D, 4, CPU, True, True, 1)
    chosen, _ = choose_gan_speed_settings(G, D, 4, CPU, "auto", True, 1)
    assert chosen == SpeedSettings("", True, 1)


def test_settings_survive_a_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "gan.pt"
    for settings in candidates(True, "auto", CPU, 1) + candidates(False, "auto", CPU, 0):
        save_checkpoint(path, {"speed": settings.to_dict()})
        assert SpeedSettings.from_dict(load_checkpoint(path)["speed"]) == settings


@pytest.mark.parametrize("settings", [SpeedSettings(), SpeedSettings("bfloat16", True)])
def test_one_iteration_trains_both_networks_with_finite_fp32_losses(
    settings: SpeedSettings,
) -> None:
    G, D = tiny_pair()
    G, D = G.to(memory_format=settings.memory_format), D.to(memory_format=settings.memory_format)
    before = states(G, D)
    real = (torch.rand(4, 3, 32, 32) * 2 - 1).contiguous(memory_format=settings.memory_format)
    loss_d, loss_g = gan_iteration(G, D, adam(G, CPU), adam(D, CPU), real,
                                   G.sample_latent(4), settings)
    for loss in (loss_d, loss_g):
        assert loss.dtype == torch.float32 and torch.isfinite(loss)
    after = states(G, D)
    for old, new in zip(before, after, strict=True):
        assert not torch.equal(old["blocks.0.0.weight"], new["blocks.0.0.weight"])
    assert all(p.requires_grad for p in D.parameters())  # unfrozen after G's step


def test_bf16_losses_follow_fp32_over_a_few_iterations() -> None:
    """Same start, batches and latents: bf16 rounding moves the losses, not their course."""
    real = torch.rand(8, 3, 32, 32) * 2 - 1
    losses = {}
    for settings in (SpeedSettings(), SpeedSettings("bfloat16")):
        G, D = tiny_pair()
        opt_g, opt_d = adam(G, CPU), adam(D, CPU)
        torch.manual_seed(1)
        losses[settings.amp_dtype] = torch.stack([
            torch.stack(gan_iteration(G, D, opt_g, opt_d, real, G.sample_latent(8), settings))
            for _ in range(5)
        ])
    assert not torch.equal(losses["bfloat16"], losses[""])  # bf16 did run
    assert torch.allclose(losses["bfloat16"], losses[""], rtol=0.01, atol=0.005)


def test_probe_steps_compiled_networks_too() -> None:
    G, D = tiny_pair()
    probe = GanProbe(G, D, SpeedSettings(), torch.rand(4, 3, 32, 32) * 2 - 1)
    g, d = CompiledForward(probe.G, "G", "eager"), CompiledForward(probe.D, "D", "eager")
    loss_d, loss_g = gan_iteration(g, d, probe.opt_g, probe.opt_d, probe.real,
                                   probe.G.sample_latent(4), probe.settings)
    assert torch.isfinite(loss_d) and torch.isfinite(loss_g)
    assert g.compile_seconds is not None and d.compile_seconds is not None
    assert all(p.requires_grad for p in probe.D.parameters())


def test_a_gan_run_probed_on_a_busy_core_recovers_the_faster_thread_count(
    monkeypatch: pytest.MonkeyPatch, tiny_config: Callable[..., GanJobConfig],
    pixel_features: Callable,
) -> None:
    busy_core_during_probe(monkeypatch, gan_train, "choose_gan_speed_settings")
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        result = train_gan(tiny_config(**{"train.threads": "auto", "train.epochs": 4,
                                          "train.checkpoint_every": 4, "train.metrics_every": 0,
                                          "collapse.enabled": False}),
                           extractor_factory=pixel_features)
    finally:
        torch.set_num_threads(before)
    record = json.loads((result.run.path / "speed.json").read_text())
    assert record["chosen"]["threads"] == 1  # the probe saw two threads at their worst
    switch = record["rechecks"][0]
    assert switch["switched"] and switch["threads_after"] == 2
    assert load_checkpoint(result.checkpoint)["speed"]["threads"] == 0  # type: ignore[arg-type]
