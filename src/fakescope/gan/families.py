"""The generator families `fakescope data multigen` can build: each a GAN preset, and the
architecture to swap in where the family is not the preset's own.

Kept apart from `workflows.multigen` (which needs torch) so the command line can offer the names
without importing it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GanFamily:
    preset: str
    arch: str | None = None  # model.arch in place of the preset's (None: the preset's)


GAN_FAMILIES: dict[str, GanFamily] = {
    "dcgan": GanFamily("paper000_dcgan64"),
    "small_data": GanFamily("small_data"),
    "fastgan_lite": GanFamily("small_data", arch="fastgan_lite"),
}
AUTOENCODER = "autoencoder"
FAMILIES = (*GAN_FAMILIES, AUTOENCODER)
