"""Files a demo folder holds beside its runs: the demo writes them, the report and `serve` read
them."""

from pathlib import Path

DEMO_MARKER = "demo_config.json"  # the demo's settings; its presence marks a demo folder
TIMINGS_FILE = "demo_timings.json"  # {"stage_seconds": {stage: seconds}}
DEFAULT_DEMO_OUT = Path("runs/demo")

# The detector that ranked fakes of unseen generator families best in the cross-generator matrix
# (benchmarks/results/xgen_results.md): the demo trains it first, `demo --serve` and a bare `serve`
# serve it.
RECOMMENDED_DETECTOR = "lite0_probe"


def demo_detector_checkpoint(out: Path, name: str) -> Path:
    """Where the demo in `out` keeps detector `name`'s best checkpoint."""
    return out / "detectors" / name / "checkpoints" / "best.pt"
