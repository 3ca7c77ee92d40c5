"""Where a detector's starting weights come from: one type, one parser.

    none      random initialisation
    imagenet  the ImageNet weights of the model's backbone (models.weights says from where)
    PATH      a local weights file or a GAN/detector checkpoint
    gan       in demo presets only: the demo's own GAN checkpoint, known once its GAN trained

Presets, `--pretrained` and `--set model.pretrained=...` all give the text; configs and
factories carry a `Pretrained`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from fakescope.config import ConfigError, TextSetting

Source = Literal["none", "imagenet", "gan", "file"]
_NAMED: tuple[Source, ...] = ("none", "imagenet", "gan")


@dataclass(frozen=True)
class Pretrained(TextSetting):
    source: Source
    path: Path | None = None  # the weights file when source is "file"

    @classmethod
    def parse(cls, text: str) -> Pretrained:
        name = text.strip()
        if not name:
            raise ConfigError("pretrained is empty: give none, imagenet or a weights file")
        for source in _NAMED:
            if name == source:
                return cls(source)
        return cls("file", Path(name).expanduser())

    @classmethod
    def file(cls, path: str | Path) -> Pretrained:
        return cls("file", Path(path))

    def __post_init__(self) -> None:
        if (self.source == "file") != (self.path is not None):
            raise ConfigError(f"pretrained: a path goes with source 'file' only ({self!r})")

    def __str__(self) -> str:
        return str(self.path) if self.path is not None else self.source

    def resolve_gan(self, gan_checkpoint: Path) -> Pretrained:
        """`gan` as the GAN checkpoint it stands for; any other source unchanged."""
        return Pretrained.file(gan_checkpoint) if self.source == "gan" else self


NO_WEIGHTS = Pretrained("none")
IMAGENET = Pretrained("imagenet")


def as_pretrained(value: Pretrained | str | Path) -> Pretrained:
    """A Pretrained from itself, its text (`none`, `imagenet`, a path) or a path."""
    if isinstance(value, Pretrained):
        return value
    if isinstance(value, Path):
        return Pretrained.file(value)
    return Pretrained.parse(value)
