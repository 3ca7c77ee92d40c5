"""The per-epoch numbers a training run logs, from scikit-learn."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, precision_recall_fscore_support, roc_auc_score


def classification_metrics(
    labels: np.ndarray, fake_probs: np.ndarray, threshold: float = 0.5
) -> dict[str, float]:
    """Accuracy, precision, recall, F1 (fake is the positive class) and ROC-AUC.

    ROC-AUC is NaN when only one class is present, where it is undefined.
    """
    if len(labels) == 0:
        raise ValueError("no predictions to score")
    predicted = (fake_probs >= threshold).astype(np.int64)
    precision, recall, f1, _ = precision_recall_fscore_support(
        labels, predicted, average="binary", pos_label=1, zero_division=0
    )
    both_classes = len(np.unique(labels)) == 2
    return {
        "accuracy": float(accuracy_score(labels, predicted)),
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
        "roc_auc": float(roc_auc_score(labels, fake_probs)) if both_classes else float("nan"),
    }
