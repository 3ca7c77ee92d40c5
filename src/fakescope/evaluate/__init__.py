"""Evaluating detectors: metrics, thresholds, robustness, comparisons (running them: `inference`).

    metrics      metric values from labels and P(fake) (scikit-learn)
    threshold    choosing a decision threshold on validation data and storing it
    calibrate    temperature scaling and the uncertain band, fitted on validation data
    scoring      running a detector over a data split
    evaluate     one checkpoint on one split: metrics, curves, JSON/CSV outputs
    explain      Grad-CAM overlays of the worst-scored images
    compare      several checkpoints on the same images, one table
    robustness   the same evaluation under JPEG, blur, downscale and noise
"""
