"""Images from a trained generator: grids, latent interpolations, and fakes written to disk.

Every function takes a generator honouring the contract (`z_dim`, `z_dist`, `sample_latent`,
forward z -> images in [-1, 1]) and draws its latents from a `LatentStream`, so the same seed
gives the same images on any device and at any batch size.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from PIL import Image
from torchvision.utils import make_grid
from tqdm import tqdm

from fakescope.checkpoints import CheckpointError, gan_arch, read_gan_checkpoint
from fakescope.config import ConfigError
from fakescope.data.tensors import to_uint8
from fakescope.models.gan_registry import ImageGenerator, build_generator
from fakescope.runs import atomic_write_bytes

ImageFormat = Literal["png", "jpg"]


def load_generator(path: str | Path, device: str | torch.device = "cpu") -> ImageGenerator:
    """The generator of a GAN checkpoint (or run folder), in eval mode on `device`."""
    resolved, payload = read_gan_checkpoint(path)
    generator = build_generator(gan_arch(payload), **payload["generator_kwargs"])
    try:
        generator.load_state_dict(payload["generator"])
    except RuntimeError as err:
        raise CheckpointError(f"{resolved}: generator weights do not fit its architecture") from err
    return generator.to(device).eval()


def latent_generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


class LatentStream:
    """The i-th latent of a seed, whatever batches it is asked for in.

    torch draws a batch of normals differently from the same numbers one small batch at a time,
    so latents come in fixed chunks, each drawn whole from its own seeded CPU generator.
    """

    CHUNK = 1024

    def __init__(self, generator: ImageGenerator, seed: int) -> None:
        self.generator, self.seed = generator, seed
        self._cached: tuple[int, torch.Tensor] | None = None

    def _chunk(self, index: int) -> torch.Tensor:
        if self._cached is None or self._cached[0] != index:
            rng = latent_generator((self.seed << 20) + index)
            z = self.generator.sample_latent(self.CHUNK, rng, device=torch.device("cpu"))
            self._cached = (index, z)
        return self._cached[1]

    def take(self, start: int, count: int) -> torch.Tensor:
        """Latents start .. start + count - 1, on the generator's device."""
        parts, position, end = [], start, start + count
        while position < end:
            index, offset = divmod(position, self.CHUNK)
            size = min(self.CHUNK - offset, end - position)
            parts.append(self._chunk(index)[offset : offset + size])
            position += size
        device = next(self.generator.parameters()).device
        return torch.cat(parts).to(device)


@torch.no_grad()
def generate_batches(
    generator: ImageGenerator, n: int, batch_size: int = 64, seed: int = 0
) -> Iterator[torch.Tensor]:
    """n images in [-1, 1], `batch_size` at a time, in eval mode (running BatchNorm statistics)."""
    stream = LatentStream(generator, seed)
    was_training = generator.training
    generator.eval()
    try:
        for start in range(0, n, batch_size):
            yield generator(stream.take(start, min(batch_size, n - start)))
    finally:
        generator.train(was_training)


def save_grid(images: torch.Tensor, path: Path, nrow: int = 8) -> Path:
    """Images in [-1, 1] tiled into one PNG, written atomically."""
    grid = make_grid(to_uint8(images.detach().cpu()), nrow=nrow, padding=2, pad_value=255)
    buffer = io.BytesIO()
    Image.fromarray(grid.permute(1, 2, 0).numpy()).save(buffer, format="PNG")
    atomic_write_bytes(path, buffer.getvalue())
    return path


def sample_grid(
    generator: ImageGenerator, path: Path, n: int = 64, nrow: int = 8, seed: int = 0
) -> Path:
    """A grid of n samples drawn with `seed`."""
    return save_grid(torch.cat(list(generate_batches(generator, n, n, seed))), path, nrow)


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation, which keeps Gaussian latents at a typical norm (White, 2016)."""
    a_n, b_n = a / a.norm(dim=-1, keepdim=True), b / b.norm(dim=-1, keepdim=True)
    omega = torch.acos((a_n * b_n).sum(-1, keepdim=True).clamp(-1 + 1e-7, 1 - 1e-7))
    so = torch.sin(omega)
    return (torch.sin((1 - t) * omega) / so) * a + (torch.sin(t * omega) / so) * b


@torch.no_grad()
def interpolation_grid(
    generator: ImageGenerator, path: Path, rows: int = 4, steps: int = 8, seed: int = 0
) -> Path:
    """Each row walks the latent space between two random points in `steps` images.

    Normal latents move along the sphere (slerp); uniform ones along the straight line, which
    stays inside their cube.
    """
    if steps < 2:
        raise ConfigError("an interpolation needs at least 2 steps")
    rng = latent_generator(seed)
    ends = generator.sample_latent(2 * rows, generator=rng, device=torch.device("cpu"))
    a, b = ends[:rows, None, :], ends[rows:, None, :]
    t = torch.linspace(0, 1, steps).view(1, steps, 1)
    walk = slerp(a, b, t) if generator.z_dist == "normal" else a + (b - a) * t
    was_training = generator.training
    generator.eval()
    try:
        device = next(generator.parameters()).device
        images = generator(walk.reshape(rows * steps, -1).to(device))
    finally:
        generator.train(was_training)
    return save_grid(images, path, nrow=steps)


@dataclass
class GenerateSummary:
    out: Path
    written: int
    skipped: int  # already on disk from an earlier, interrupted call


def _encode(image: torch.Tensor, fmt: ImageFormat, quality: int) -> bytes:
    buffer = io.BytesIO()
    pil = Image.fromarray(image.permute(1, 2, 0).numpy())
    if fmt == "jpg":
        pil.save(buffer, format="JPEG", quality=quality)
    else:
        pil.save(buffer, format="PNG")
    return buffer.getvalue()


def generate_images(
    generator: ImageGenerator,
    n: int,
    out: Path,
    fmt: ImageFormat = "png",
    batch_size: int = 64,
    seed: int = 0,
    quality: int = 95,
    prefix: str = "fake",
    progress: bool = False,
) -> GenerateSummary:
    """Write n generated images as `<prefix>_000000.<fmt>`, ... into `out`.

    Image i is the same whatever the batch size, so an interrupted call re-run with the same
    arguments skips the files already written and finishes the set.
    """
    if n < 1:
        raise ConfigError(f"--n must be at least 1, got {n}")
    if fmt not in ("png", "jpg"):
        raise ConfigError(f"unknown image format '{fmt}' (use png or jpg)")
    out.mkdir(parents=True, exist_ok=True)
    names = [out / f"{prefix}_{i:06d}.{fmt}" for i in range(n)]
    stream = LatentStream(generator, seed)
    written = skipped = 0
    was_training = generator.training
    generator.eval()
    bar = tqdm(total=n, desc="generating", unit="img", disable=not progress)
    try:
        for start in range(0, n, batch_size):
            batch_names = names[start : start + batch_size]
            todo = [i for i, p in enumerate(batch_names) if not p.is_file()]
            skipped += len(batch_names) - len(todo)
            if todo:
                z = stream.take(start, len(batch_names))[todo]
                with torch.no_grad():
                    images = to_uint8(generator(z).cpu())
                for image, i in zip(images, todo, strict=True):
                    atomic_write_bytes(batch_names[i], _encode(image, fmt, quality))
                written += len(todo)
            bar.update(len(batch_names))
    finally:
        bar.close()
        generator.train(was_training)
    return GenerateSummary(out=out, written=written, skipped=skipped)
