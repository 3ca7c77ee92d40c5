"""From a data config to batches: read layout, split, limit, decode (once), augment, normalise.

    prepared = prepare_data(config.data, spec, seed=config.run.seed)
    for images, labels in prepared.loader("train", 64, shuffle=True, augment=True, epoch=e):
        ...

Batch order depends only on (seed, epoch), and augmentation randomness only on (seed, epoch,
batch number), so a run resumed at epoch e, batch k sees exactly the batches an uninterrupted run
would have seen from there on.
"""

from __future__ import annotations

import hashlib
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from fakescope.config import ConfigError, DataConfig
from fakescope.data.cache import CacheEntry, load_or_build_cache
from fakescope.data.decode import DecodeResult
from fakescope.data.images import BadImageError, load_image
from fakescope.data.layouts import FAKE, REAL, SPLITS, Sample, read_layout
from fakescope.data.splits import apply_limits, assign_splits
from fakescope.data.transforms import Augmenter, InputSpec, Normalizer, preprocess, to_chw_tensor
from fakescope.errors import DataError

CLASS_NAMES = {REAL: "real", FAKE: "fake"}


@dataclass
class DataReport:
    """What the data layer found; JSON-safe through `to_dict` for the run folder and reports."""

    root: str
    layout: str
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # split -> class -> n
    bad_files: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    image_sizes: dict[str, Any] = field(default_factory=dict)
    faces: dict[str, int] | None = None
    cache: str | None = None
    cache_rebuilt: bool | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "root": self.root,
            "layout": self.layout,
            "counts": self.counts,
            "bad_files": [{"path": p, "reason": r} for p, r in self.bad_files],
            "image_sizes": self.image_sizes,
            "faces": self.faces,
            "cache": self.cache,
            "cache_rebuilt": self.cache_rebuilt,
            "seconds": round(self.seconds, 3),
        }


def count_by_split(samples: Sequence[Sample]) -> dict[str, dict[str, int]]:
    counter = Counter((s.split or "none", CLASS_NAMES[s.label]) for s in samples)
    counts: dict[str, dict[str, int]] = {}
    for (split, name), n in sorted(counter.items()):
        counts.setdefault(split, {"real": 0, "fake": 0})[name] = n
    return counts


def size_statistics(sizes: Sequence[tuple[int, int]]) -> dict[str, Any]:
    if not sizes:
        return {}
    widths = [w for w, _ in sizes]
    heights = [h for _, h in sizes]
    common = Counter(f"{w}x{h}" for w, h in sizes).most_common(3)
    return {
        "count": len(sizes),
        "width": {"min": min(widths), "median": statistics.median(widths), "max": max(widths)},
        "height": {"min": min(heights), "median": statistics.median(heights), "max": max(heights)},
        "most_common": [{"size": s, "count": n} for s, n in common],
    }


def tqdm_progress(
    description: str,
) -> Callable[[Iterator[DecodeResult], int], Iterator[DecodeResult]]:
    def wrap(results: Iterator[DecodeResult], total: int) -> Iterator[DecodeResult]:
        return iter(tqdm(results, total=total, desc=description, unit="chunk", leave=False))

    return wrap


def _seed_for(*keys: object) -> int:
    return int.from_bytes(hashlib.sha256(repr(keys).encode()).digest()[:8], "little") % 2**63


class ImageSource:
    """Where a batch's uint8 pixels come from: the cache, or decoding files on the fly."""

    def get(self, rows: np.ndarray) -> tuple[torch.Tensor, np.ndarray]:
        """uint8 NCHW images of `rows` and a mask of which rows decoded."""
        raise NotImplementedError


class CachedSource(ImageSource):
    def __init__(self, entry: CacheEntry) -> None:
        self.images = entry.images

    def get(self, rows: np.ndarray) -> tuple[torch.Tensor, np.ndarray]:
        batch = torch.from_numpy(np.ascontiguousarray(self.images[rows]))
        return batch.permute(0, 3, 1, 2), np.ones(len(rows), dtype=bool)


class DecodingSource(ImageSource):
    """Decode each file when its batch is asked for; bad files are dropped and remembered."""

    def __init__(self, samples: list[Sample], spec: InputSpec, face_crop: Callable | None) -> None:
        self.samples = samples
        self.spec = spec
        self.face_crop = face_crop
        self.bad: dict[str, str] = {}

    def get(self, rows: np.ndarray) -> tuple[torch.Tensor, np.ndarray]:
        images, ok = [], np.zeros(len(rows), dtype=bool)
        for i, row in enumerate(rows):
            sample = self.samples[int(row)]
            try:
                array = preprocess(load_image(sample.path), self.spec, self.face_crop)
            except BadImageError as err:
                self.bad[str(sample.path)] = str(err)
                continue
            images.append(to_chw_tensor(array))
            ok[i] = True
        size = self.spec.size
        stacked = (
            torch.stack(images) if images else torch.empty((0, 3, size, size), dtype=torch.uint8)
        )
        return stacked, ok


class BatchLoader:
    """Batches of (normalised float NCHW images, int64 labels) over some rows of a source."""

    def __init__(
        self,
        source: ImageSource,
        rows: np.ndarray,
        labels: np.ndarray,
        batch_size: int,
        normalizer: Normalizer,
        augmenter: Augmenter | None,
        shuffle: bool,
        seed: int,
        epoch: int,
        start_batch: int = 0,
        drop_last: bool = False,
        shard: tuple[int, int] = (0, 1),
        pad: bool = True,
        pin_memory: bool = False,
    ) -> None:
        if batch_size < 1:
            raise ConfigError(f"batch_size must be at least 1, got {batch_size}")
        order = np.arange(len(rows))
        if shuffle:
            gen = np.random.default_rng(_seed_for("order", seed, epoch))
            order = gen.permutation(len(rows))
        rank, world = shard
        if world > 1:
            # Like DistributedSampler: pad by wrapping so every rank gets the same count (the
            # ranks of a training step must take as many steps); evaluation scores each image
            # once instead, with `pad` off.
            if pad:
                order = np.resize(order, int(np.ceil(len(order) / world)) * world)
            order = order[rank::world]
        batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
        if drop_last and batches and len(batches[-1]) < batch_size:
            batches.pop()
        self.batches = batches
        self.start_batch = start_batch
        self.source, self.rows, self.labels = source, rows, labels
        self.normalizer, self.augmenter = normalizer, augmenter
        self.seed, self.epoch = seed, epoch
        self.pin_memory = pin_memory

    def __len__(self) -> int:
        return max(0, len(self.batches) - self.start_batch)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for number in range(self.start_batch, len(self.batches)):
            # Sorted rows read the memmap front to back; order inside a batch does not matter.
            picked = np.sort(self.batches[number])
            images, ok = self.source.get(self.rows[picked])
            labels = torch.from_numpy(self.labels[picked][ok].astype(np.int64))
            if len(labels) == 0:
                continue
            if self.augmenter is not None:
                gen = torch.Generator().manual_seed(
                    _seed_for("augment", self.seed, self.epoch, number)
                )
                images = torch.stack([self.augmenter(img, gen) for img in images])
            batch = self.normalizer(images)
            if self.pin_memory:  # page-locked, so the copy to the GPU can overlap compute
                batch, labels = batch.pin_memory(), labels.pin_memory()
            yield batch, labels


class PreparedData:
    """A dataset read, split, checked and (optionally) cached; hands out batch loaders."""

    def __init__(
        self,
        spec: InputSpec,
        report: DataReport,
        samples: list[Sample],
        source: ImageSource,
        augmenter: Augmenter,
    ) -> None:
        self.spec = spec
        self.report = report
        self._all = samples
        self._source = source
        self._augmenter = augmenter
        self._normalizer = Normalizer(spec)
        # for readers that decode files themselves (native-resolution scoring)
        self.face_cropper: Callable[[Image.Image], Image.Image] | None = None
        self._rows: dict[str, list[int]] = {}
        for row, s in enumerate(samples):
            self._rows.setdefault(s.split or "train", []).append(row)

    def split_names(self) -> list[str]:
        return [s for s in SPLITS if self._rows.get(s)]

    def size(self, split: str) -> int:
        return len(self._rows.get(split, []))

    def samples(self, split: str) -> list[Sample]:
        return [self._all[i] for i in self._rows.get(split, [])]

    def rows(self, split: str, label: int) -> np.ndarray:
        """Row numbers of one class of `split`, for `sample` and `pixels`."""
        return np.asarray([r for r in self._rows.get(split, []) if self._all[r].label == label],
                          dtype=np.int64)

    def sample(self, row: int) -> Sample:
        return self._all[row]

    def pixels(self, rows: np.ndarray, chunk: int = 256) -> tuple[torch.Tensor, np.ndarray]:
        """uint8 NCHW images of `rows` as decoded (no augmentation, no normalisation) and a mask
        of which rows decoded."""
        parts, masks = [], []
        for start in range(0, len(rows), chunk):
            images, ok = self._source.get(rows[start : start + chunk])
            parts.append(images)
            masks.append(ok)
        size = self.spec.size
        if not parts:
            return torch.empty((0, 3, size, size), dtype=torch.uint8), np.zeros(0, dtype=bool)
        return torch.cat(parts), np.concatenate(masks)

    def with_images(self, samples: list[Sample], images: torch.Tensor) -> PreparedData:
        """This data plus in-memory uint8 NCHW `images` (made, not read from files) as `samples`."""
        if len(samples) != len(images):
            raise ValueError(f"{len(samples)} samples for {len(images)} images")
        everything = [*self._all, *samples]
        report = replace(self.report, counts=count_by_split(everything))
        source = _Appended(self._source, len(self._all), images)
        extended = PreparedData(self.spec, report, everything, source, self._augmenter)
        extended.face_cropper = self.face_cropper
        return extended

    def loader(
        self,
        split: str,
        batch_size: int,
        shuffle: bool = False,
        augment: bool = False,
        seed: int = 0,
        epoch: int = 0,
        start_batch: int = 0,
        drop_last: bool = False,
        shard: tuple[int, int] = (0, 1),
        pad: bool = True,
        pin_memory: bool = False,
    ) -> BatchLoader:
        if split not in self._rows:
            raise DataError(
                f"no '{split}' split in this dataset (have: {', '.join(self.split_names())})"
            )
        rows = np.asarray(self._rows[split], dtype=np.int64)
        labels = np.asarray([self._all[i].label for i in rows], dtype=np.int64)
        augmenter = self._augmenter if augment and self._augmenter.active else None
        return BatchLoader(
            self._source,
            rows,
            labels,
            batch_size,
            self._normalizer,
            augmenter,
            shuffle,
            seed,
            epoch,
            start_batch,
            drop_last,
            shard,
            pad,
            pin_memory,
        )

    @property
    def normalizer(self) -> Normalizer:
        return self._normalizer

    def refresh_report(self) -> DataReport:
        """Fold bad files met while decoding on the fly into the report."""
        source = self._source.inner if isinstance(self._source, _Appended) else self._source
        if isinstance(source, DecodingSource):
            known = {p for p, _ in self.report.bad_files}
            self.report.bad_files.extend((p, r) for p, r in source.bad.items() if p not in known)
        return self.report


def _face_cropper(config: DataConfig) -> Callable | None:
    if not config.face_crop:
        return None
    from fakescope.data.faces import FaceCropper

    return FaceCropper(margin=config.face_margin)


def prepare_data(
    config: DataConfig,
    spec: InputSpec,
    seed: int = 0,
    labelled: bool = True,
    progress: bool = False,
) -> PreparedData:
    """Read, split, limit and (if `config.cache`) decode once the dataset `config.path` names.

    `labelled=False` is for GAN training: only real images are kept (a real/fake dataset gives
    its real half) and, where the layout has no splits, they all go to `train`.
    """
    started = time.perf_counter()
    if not config.path:
        raise ConfigError("no dataset path given (set data.path or pass --data PATH)")
    if config.num_workers < 0:
        raise ConfigError(f"data.num_workers: 0 (one per core) or more, got {config.num_workers}")
    layout, samples = read_layout(config.path, config.layout)
    if labelled:
        if {s.label for s in samples} != {REAL, FAKE}:
            raise DataError(
                f"{config.path}: a detector needs real and fake images, but the {layout} layout "
                "gave only one class"
            )
        samples = assign_splits(samples, config.split_fractions, seed)
    else:
        samples = [s for s in samples if s.label == REAL]
        if all(s.split is None for s in samples):
            samples = [Sample(s.path, s.label, "train") for s in samples]
    samples = apply_limits(samples, config.limit_per_class, config.limit_fraction, seed)
    samples.sort(key=lambda s: (SPLITS.index(s.split) if s.split in SPLITS else 9, str(s.path)))
    report = DataReport(root=str(config.path), layout=layout)
    augmenter = Augmenter(config.augment)
    source: ImageSource
    if config.cache:
        face_margin = config.face_margin if config.face_crop else None
        entry = load_or_build_cache(
            samples,
            spec,
            config.cache_dir,
            config.path,
            face_margin,
            workers=config.num_workers or None,
            progress=tqdm_progress("decoding into cache") if progress else None,
        )
        row_of = entry.row_of()
        rows = [row_of[s.path] for s in samples]
        report.bad_files = [(str(entry.paths[i]), r) for i, r in sorted(entry.bad.items())]
        report.image_sizes = size_statistics(entry.sizes)
        if config.face_crop:
            report.faces = {"found": entry.faces_found, "missing": entry.faces_missing}
        report.cache, report.cache_rebuilt = str(entry.folder), entry.rebuilt
        good = [i for i, row in enumerate(rows) if row not in entry.bad]
        samples = [samples[i] for i in good]
        # PreparedData numbers the good samples 0..n-1; this maps them onto their cache rows.
        source = _RowSubset(
            CachedSource(entry), np.asarray([rows[i] for i in good], dtype=np.int64)
        )
    else:
        source = DecodingSource(samples, spec, _face_cropper(config))
    report.counts = count_by_split(samples)
    report.seconds = time.perf_counter() - started
    prepared = PreparedData(spec, report, samples, source, augmenter)
    prepared.face_cropper = _face_cropper(config)
    return prepared


class _RowSubset(ImageSource):
    """Maps row numbers of the good samples onto their rows in the cache."""

    def __init__(self, inner: ImageSource, rows: np.ndarray) -> None:
        self.inner, self.map = inner, rows

    def get(self, rows: np.ndarray) -> tuple[torch.Tensor, np.ndarray]:
        return self.inner.get(self.map[rows])


class _Appended(ImageSource):
    """Rows below `offset` come from `inner`; the rows after them are in-memory `images`."""

    def __init__(self, inner: ImageSource, offset: int, images: torch.Tensor) -> None:
        self.inner, self.offset, self.images = inner, offset, images

    def get(self, rows: np.ndarray) -> tuple[torch.Tensor, np.ndarray]:
        inside = rows < self.offset
        read, read_ok = self.inner.get(rows[inside])
        ok = np.ones(len(rows), dtype=bool)
        ok[inside] = read_ok
        out = torch.empty((len(rows), *self.images.shape[1:]), dtype=torch.uint8)
        out[torch.from_numpy(np.flatnonzero(inside)[read_ok])] = read
        out[torch.from_numpy(np.flatnonzero(~inside))] = self.images[
            torch.from_numpy(rows[~inside] - self.offset)
        ]
        return out[torch.from_numpy(ok)], ok
