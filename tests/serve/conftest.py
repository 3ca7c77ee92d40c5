"""A tiny detector checkpoint (a 64x64 DCGAN discriminator, 8 base channels) and app clients."""

from __future__ import annotations

import io
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image
from threads import one_torch_thread

from fakescope.models.registry import LoadedDetector, build_detector, load_detector, save_detector
from fakescope.serve.app import create_app
from fakescope.serve.settings import ServeSettings

TINY_METRICS = {"auc": 0.75, "accuracy": 0.7, "ece": float("nan")}


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    """Restored after each module."""
    with one_torch_thread():
        yield


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    model = build_detector("dcgan_disc64", base_width=8)
    with torch.no_grad():  # larger weights spread P(fake) (0.44-0.76), so mixed-up answers show
        for weight in model.parameters():
            if weight.dim() > 1:
                weight.mul_(5.0)
    path = tmp_path_factory.mktemp("serve") / "tiny.pt"
    save_detector(path, model, "dcgan_disc64", {"base_width": 8}, model.input_spec,
                  threshold=0.5, metrics=TINY_METRICS)
    return path


@pytest.fixture(scope="session")
def loaded(tiny_checkpoint: Path) -> LoadedDetector:
    return load_detector(tiny_checkpoint)


def encode(fmt: str = "PNG", size: tuple[int, int] = (48, 40), seed: int = 0,
           mode: str = "RGB") -> bytes:
    rng = np.random.default_rng(seed)
    width, height = size
    image = Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8), "RGB")
    buffer = io.BytesIO()
    image.convert(mode).save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def image_bytes() -> Callable[..., bytes]:
    """Encode a random picture: `image_bytes(fmt="PNG", size=(w, h), seed=0, mode="RGB")`."""
    return encode


@pytest.fixture
def make_client(
    loaded: LoadedDetector, tiny_checkpoint: Path
) -> Iterator[Callable[..., TestClient]]:
    """`make_client(checkpoint=None, detector=None, **settings)`: a TestClient on a fresh app
    serving the tiny detector, or `detector` (said to come from `checkpoint`, default the tiny
    one); shut down after the test."""
    clients: list[TestClient] = []

    def factory(
        checkpoint: Path | None = None, detector: LoadedDetector | None = None, **overrides: Any
    ) -> TestClient:
        app = create_app(detector or loaded, ServeSettings(**overrides),
                         checkpoint or tiny_checkpoint)
        client = TestClient(app, raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    yield factory
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serve_process(checkpoint: Path, log: Path, *flags: str) -> Iterator[str]:
    """`fakescope serve` with `flags` in a subprocess on a free loopback port; yields its URL."""
    port = free_port()
    command = [sys.executable, "-c", "import sys; from fakescope.cli import main; "
               "sys.exit(main(sys.argv[1:]))", "serve", "--checkpoint", str(checkpoint),
               "--port", str(port), "--threads", "1", "--log-level", "warning", *flags]
    with log.open("w") as out:  # the child keeps its own copy of the handle
        server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            if server.poll() is not None:
                pytest.fail(f"fakescope serve exited: {log.read_text()}")
            try:
                if httpx.get(f"{url}/api/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("fakescope serve did not answer within 60 s")
            time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


@pytest.fixture(scope="session")
def live_server(tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`fakescope serve` in a subprocess on a free loopback port; yields its base URL."""
    with serve_process(tiny_checkpoint, tmp_path_factory.mktemp("live") / "server.log") as url:
        yield url


@pytest.fixture(scope="session")
def uncertain_server(
    tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The tiny detector with a stored calibration: a temperature of 20 pulls every P(fake)
    towards 50 %, inside the uncertain band [30 %, 70 %)."""
    from fakescope.evaluate.threshold import ThresholdRule, store_threshold
    from fakescope.models.calibration import Calibration

    folder = tmp_path_factory.mktemp("uncertain")
    checkpoint = folder / "calibrated.pt"
    checkpoint.write_bytes(tiny_checkpoint.read_bytes())
    calibration = Calibration(method="temperature", temperature=20.0, band_low=0.3,
                              band_high=0.7, fitted_on="val")
    store_threshold(checkpoint, 0.5, ThresholdRule("eer"), "val", {}, calibration)
    with serve_process(checkpoint, folder / "server.log") as url:
        yield url
