"""Names the evaluation commands offer as choices, importable without numpy, sklearn or torch
(the command line builds its parsers from them before any command runs)."""

from __future__ import annotations

# The rule the demo and `xgen` use: a threshold anchored on the real images (at most 5 % of the
# validation reals called fake). Reals look alike whichever generator made the fakes, while the
# EER threshold sits in the gap between the reals and the one seen generator's fakes, above most
# fakes of generators it never saw; in the cross-generator matrix this rule raised the accuracy
# on unseen families from 0.63 to 0.84 (one family seen) and from 0.89 to 0.91 (all but one),
# benchmarks/xgen_results.md.
REAL_ANCHORED_RULE = "fpr:0.05"

# Cross-generator training sets: one family alone, or all families but one.
XGEN_MODES = ("single", "loo")
# Cross-generator test conditions: name -> (corruption, strength); None is the clean images.
XGEN_CONDITIONS: dict[str, tuple[str, float] | None] = {
    "clean": None,
    "jpeg75": ("jpeg", 75.0),
    "blur1": ("blur", 1.0),
    "resize0.5": ("downscale", 0.5),
}
