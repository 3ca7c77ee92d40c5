"""How much each area measures: the full run (about 8 minutes on 2 cores) and the quick one."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class ModelSpec:
    """A registered detector at an input size, with extra build arguments (e.g. a narrow
    `base_width` for the quick run)."""

    name: str
    size: int
    kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.name} {self.size}x{self.size}"


@dataclass(frozen=True)
class BenchSettings:
    images: int = 2000  # synthetic faces in all, half real and half fake
    image_side: int = 256  # their side in pixels (the Kaggle set's)
    rounds: int = 3
    # A turn of training steps stops early, after one step at least, once it has run this long.
    turn_seconds: float = 15.0
    # data loading: one turn is one epoch
    data_sizes: tuple[int, ...] = (64, 224)
    data_batch: int = 64
    data_workers: int = 2  # the baseline DataLoader's (the PyTorch examples' default)
    # GAN training: one turn is `gan_steps` iterations, batch fetch included
    gan_resolutions: tuple[int, ...] = (64, 128)
    gan_base_width: int | None = None  # None: 512 channels next to 4x4, as in the papers
    gan_batch: int = 64
    gan_steps: int = 3
    # detector training: one turn is `detect_steps` steps, batch fetch included
    detect_models: tuple[ModelSpec, ...] = (
        ModelSpec("selfcnn", 64),
        ModelSpec("efficientnet_b0", 64),
        ModelSpec("resnet50", 64),
        ModelSpec("efficientnet_b0", 224),
    )
    detect_batch: int = 32
    detect_steps: int = 2
    # inference: batch 1 latency over `latency_calls` calls, throughput over `throughput_calls`
    inference_models: tuple[ModelSpec, ...] = (
        ModelSpec("efficientnet_b0", 224),
        ModelSpec("dcgan_disc64", 64),
    )
    throughput_batch: int = 32
    latency_calls: int = 10
    throughput_calls: int = 1
    # serving: one turn is a window of `serve_seconds` with `serve_concurrency` requests in flight
    serve_model: ModelSpec = ModelSpec("dcgan_disc64", 64)
    serve_concurrency: int = 8
    serve_seconds: float = 6.0
    serve_warmup_requests: int = 10

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def full_settings() -> BenchSettings:
    return BenchSettings()


def quick_settings() -> BenchSettings:
    """Tiny sizes and few steps: every area in seconds, for tests; the figures mean little."""
    tiny = {"base_width": 8}
    return BenchSettings(
        images=32,
        image_side=64,
        rounds=2,
        data_sizes=(32,),
        data_batch=8,
        gan_resolutions=(32,),
        gan_base_width=8,
        gan_batch=8,
        gan_steps=1,
        detect_models=(ModelSpec("dcgan_disc64", 64, tiny),),
        detect_batch=8,
        detect_steps=1,
        inference_models=(ModelSpec("dcgan_disc64", 64, tiny),),
        throughput_batch=8,
        latency_calls=3,
        serve_model=ModelSpec("dcgan_disc64", 64, tiny),
        serve_concurrency=4,
        serve_seconds=1.0,
        serve_warmup_requests=2,
    )
