"""The recommended detector and what a bare `fakescope serve` serves, in one place for the
demo, the server command and Python callers.

    checkpoint = recommended_checkpoint()   # runs/demo/detectors/lite0_probe/checkpoints/best.pt
"""

from __future__ import annotations

from pathlib import Path

from fakescope.errors import SetupError
from fakescope.runs import demo_detector_checkpoint

# The detector that ranked fakes of unseen generator families best in the cross-generator matrix
# (benchmarks/results/xgen_results.md): the demo trains it first, `demo --serve` and a bare `serve`
# serve it.
RECOMMENDED_DETECTOR = "lite0_probe"
DEFAULT_DEMO_OUT = Path("runs/demo")  # where `fakescope demo` writes unless told otherwise
SERVE_HOST, SERVE_PORT = "127.0.0.1", 8000  # `fakescope serve`: this machine only


def recommended_checkpoint(demo_out: Path = DEFAULT_DEMO_OUT) -> Path:
    """The recommended detector's best checkpoint that the demo in `demo_out` trained;
    SetupError when the demo has not run there."""
    path = demo_detector_checkpoint(demo_out, RECOMMENDED_DETECTOR)
    if not path.is_file():
        raise SetupError(
            f"no --checkpoint given and no {path} (the demo's {RECOMMENDED_DETECTOR}): run "
            f"`fakescope demo` first, or `fakescope train --config {RECOMMENDED_DETECTOR} "
            "--data DIR` and pass its best.pt"
        )
    return path
