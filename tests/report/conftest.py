"""Evaluations built from synthetic scores, so report tests need no model or data."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from fakescope.evaluate.evaluate import Evaluation, evaluate_scores
from fakescope.evaluate.scoring import Scores

EvaluationFactory = Callable[..., Evaluation]


def _make_evaluation(name: str = "model", seed: int = 0, n: int = 60) -> Evaluation:
    """Alternating labels; fakes score 0.4 higher on average, so curves are non-trivial."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    probs = np.clip(labels * 0.4 + rng.uniform(0, 0.6, n), 0, 1)
    scores = Scores(labels, probs, [f"img{i}.png" for i in range(n)])
    return evaluate_scores(scores, 0.5, name, f"{name}.pt", "selfcnn", "test", "checkpoint")


@pytest.fixture(scope="session")
def make_evaluation() -> EvaluationFactory:
    return _make_evaluation
