"""What the training commands share: the rule of `--max-minutes`, and the trainers' log lines
(phases such as the speed probe and the metrics, warnings) on stderr above the progress bars."""

from __future__ import annotations

import logging
import sys
from contextlib import AbstractContextManager

from fakescope.formatting import display_text

# The rule fakescope.training.budget implements, for --help ('%%': argparse formats help).
BUDGET_RULE = (
    "it covers the whole run from the command's start (data, speed probe, training, "
    "validation, end-of-run metrics and calibration): the probe takes at most 10 %% of it "
    "(none under 5 minutes); side work between steps (validation, samples, checkpoints, "
    "collapse checks) about 10 %%; the end's metrics (GAN) or calibration (detector) at most "
    "10 %%, cut down or skipped with the command that does them afterwards; training stops "
    "early enough for the end of the run, and a budget too short to learn (under 100 steps) "
    "is warned about"
)


class _TqdmHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        from tqdm import tqdm

        # a run or data folder whose name is not UTF-8 shows its bad bytes as \xNN
        tqdm.write(display_text(self.format(record)), file=sys.stderr)


def log_lines(name: str) -> AbstractContextManager[None]:
    """Show logger `name`'s INFO lines and above on stderr for the block."""
    from fakescope.training.session import handler_on

    handler = _TqdmHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    return handler_on(logging.getLogger(name), handler)
