"""The generator families `fakescope data multigen` can build: name -> (GAN preset, overrides).

Kept apart from `workflows.multigen` (which needs torch) so the command line can offer the names
without importing it.
"""

from __future__ import annotations

from typing import Any

GAN_FAMILIES: dict[str, tuple[str, dict[str, Any]]] = {
    "dcgan": ("paper000_dcgan64", {}),
    "small_data": ("small_data", {}),
    "fastgan_lite": ("small_data", {"model.arch": "fastgan_lite"}),
}
AUTOENCODER = "autoencoder"
FAMILIES = (*GAN_FAMILIES, AUTOENCODER)
