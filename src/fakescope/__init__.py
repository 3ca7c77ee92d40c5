"""fakescope: generate deepfake faces with DCGANs; train, evaluate and serve their detectors.

The curated API lives in `fakescope.api` and is reachable from here:

    import fakescope
    detector = fakescope.load_detector("runs/probe/checkpoints/best.pt")
    print(detector.predict(["photo.jpg"]))

Its names load on first use (PEP 562), so `import fakescope` stays cheap: the command line
imports this package before it knows which command runs, and torch takes seconds to import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "ImageDetector",
    "__version__",
    "build_generator",
    "load_detector",
    "read_provenance",
    "train_detector",
]

if TYPE_CHECKING:
    from fakescope.api import (
        ImageDetector,
        build_generator,
        load_detector,
        read_provenance,
        train_detector,
    )


def __getattr__(name: str) -> Any:
    if name in __all__:
        from fakescope import api

        return getattr(api, name)
    raise AttributeError(f"module 'fakescope' has no attribute '{name}'")
