"""Reconstructions of the training reals as extra fakes (DRCT, Chen et al., ICML 2024).

    prepared = add_recon_negatives(prepared, config.data.recon_negatives, cache_dir, seed)

A detector trained on a GAN's fakes can learn what those images show instead of how their pixels
were made. A reconstruction keeps a real image's content and replaces only its pixels, so as a
fake it teaches the pixels. One small autoencoder per configured decoder trains on reals of the
training split only (never validation or test images), for `steps` (or `minutes`, whichever ends
first); the reconstructions of randomly chosen training reals join the training fakes until they
are `share` of them, and with `validation` the same is done on the validation split with the same
autoencoders. Checkpoints and reconstructions are cached under `<cache_dir>/recon_negatives/`,
keyed by the pixels they came from, the decoder, the seed and the budget, so a resumed run (or
another run on the same reals) reuses them and trains on the very same images.
"""

from __future__ import annotations

import hashlib
import logging
import zlib
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from fakescope.checkpoints import load_checkpoint, save_checkpoint
from fakescope.data.layouts import FAKE, REAL, Sample
from fakescope.data.pipeline import PreparedData
from fakescope.detect.config import ReconNegativesConfig
from fakescope.errors import DataError
from fakescope.gan.autoencoder_train import reconstruct, train_autoencoder
from fakescope.models.autoencoder import DOWNSAMPLINGS, load_autoencoder

log = logging.getLogger("fakescope.detect")

RECON_DIR = "recon_negatives"
# An autoencoder of a few hundred steps sees a few thousand images: more reals would only cost
# memory, so it trains on at most this many (a seeded choice).
AUTOENCODER_IMAGES = 2048


def recon_count(n_fakes: int, share: float) -> int:
    """Reconstructions to add so they are `share` of the fakes afterwards."""
    return round(n_fakes * share / (1.0 - share))


def _digest(*parts: object) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.numpy().tobytes() if isinstance(part, torch.Tensor) else repr(part).encode())
        h.update(b"\0")
    return h.hexdigest()[:20]


def _good(prepared: PreparedData, rows: np.ndarray) -> tuple[np.ndarray, torch.Tensor]:
    images, ok = prepared.pixels(rows)
    return rows[ok], images


def _padded(images: torch.Tensor) -> torch.Tensor:
    """uint8 NCHW `images` with their edges repeated to sides the autoencoder takes."""
    side = 2**DOWNSAMPLINGS
    height, width = images.shape[-2:]
    extra = (0, -width % side, 0, -height % side)
    if not any(extra):
        return images
    return F.pad(images.float(), extra, mode="replicate").to(torch.uint8)


def _rng(seed: int, split: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(split.encode())])


def train_autoencoders(
    reals: torch.Tensor, config: ReconNegativesConfig, cache: Path, seed: int
) -> dict[str, Path]:
    """One autoencoder checkpoint per decoder, trained on uint8 NCHW `reals` (or cached)."""
    checkpoints = {}
    for decoder in config.decoders:
        key = _digest(reals, decoder, seed, config.steps, config.minutes, config.width)
        path = cache / f"autoencoder-{decoder}-{key}.pt"
        if path.is_file():
            how = "reused from the cache"
        else:
            train_autoencoder(reals, path, config.minutes, seed, max_steps=config.steps,
                              width=config.width, decoder=decoder)
            how = "trained"
        info = load_checkpoint(path)["info"]
        log.info("recon negatives: %s autoencoder %s (%s): %d training reals, %d steps, L1 %.4f, "
                 "%.0f s", decoder, how, path.name, info["images"], info["steps"], info["l1"],
                 info["seconds"])
        if info["steps"] < config.steps:
            log.info("recon negatives: the %g-minute cap ended the %s autoencoder before %d steps",
                     config.minutes, decoder, config.steps)
        checkpoints[decoder] = path
    return checkpoints


def cached_reconstructions(checkpoint: Path, images: torch.Tensor) -> torch.Tensor:
    """Reconstructions of uint8 NCHW `images` by the autoencoder at `checkpoint`, cached beside
    it (keyed by both), so a resumed run gets them bit for bit."""
    path = checkpoint.with_name(f"{checkpoint.stem}-recon-{_digest(images)}.pt")
    if path.is_file():
        return load_checkpoint(path)["images"]
    height, width = images.shape[-2:]
    made = reconstruct(load_autoencoder(checkpoint), _padded(images))[..., :height, :width]
    save_checkpoint(path, {"images": made.contiguous()})
    return made


def _split_negatives(
    prepared: PreparedData, split: str, checkpoints: dict[str, Path], share: float, seed: int
) -> tuple[list[Sample], list[torch.Tensor]]:
    """Reconstructions of `split`'s reals, `share` of its fakes afterwards: each a distinct
    (real, decoder) pair, chosen at random."""
    reals = prepared.rows(split, REAL)
    n_fakes = len(prepared.rows(split, FAKE))
    decoders = list(checkpoints)
    wanted = recon_count(n_fakes, share)
    count = min(wanted, len(reals) * len(decoders))
    if count < wanted:
        log.info("recon negatives: %s has %d reals and %d decoders, so %d reconstructions, "
                 "not %d", split, len(reals), len(decoders), count, wanted)
    picks = _rng(seed, split).permutation(len(reals) * len(decoders))[:count]
    samples: list[Sample] = []
    images: list[torch.Tensor] = []
    for d, decoder in enumerate(decoders):
        chosen = np.sort(picks[picks // len(reals) == d] % len(reals))
        rows, pixels = _good(prepared, reals[chosen])
        if not len(rows):
            continue
        images.append(cached_reconstructions(checkpoints[decoder], pixels))
        samples += [Sample(Path(f"{prepared.sample(int(r)).path}#recon-{decoder}"), FAKE, split)
                    for r in rows]
    log.info("recon negatives: added %d reconstructions of %s reals as fakes (%d fakes before)",
             len(samples), split, n_fakes)
    return samples, images


def add_recon_negatives(
    prepared: PreparedData, config: ReconNegativesConfig, cache_dir: str, seed: int
) -> PreparedData:
    """`prepared` plus reconstructions of its reals as fakes; unchanged when `config.share` is 0."""
    if not config.share:
        return prepared
    reals = prepared.rows("train", REAL)
    reals = np.sort(_rng(seed, "autoencoder").permutation(reals)[:AUTOENCODER_IMAGES])
    _, pixels = _good(prepared, reals)
    if not len(pixels):
        raise DataError("data.recon_negatives needs real images in the training split")
    checkpoints = train_autoencoders(_padded(pixels), config, Path(cache_dir) / RECON_DIR, seed)
    samples: list[Sample] = []
    images: list[torch.Tensor] = []
    for split in ("train", "val") if config.validation else ("train",):
        split_samples, split_images = _split_negatives(prepared, split, checkpoints,
                                                       config.share, seed)
        samples += split_samples
        images += split_images
    if not samples:
        return prepared
    return prepared.with_images(samples, torch.cat(images))
