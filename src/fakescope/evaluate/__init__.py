"""Evaluating detectors: metrics, thresholds, robustness, Grad-CAM, comparisons, prediction.

    metrics      metric values from labels and P(fake) (scikit-learn)
    threshold    choosing a decision threshold on validation data and storing it
    scoring      running a detector over a data split
    evaluate     one checkpoint on one split: metrics, curves, JSON/CSV outputs
    compare      several checkpoints on the same images, one table
    robustness   the same evaluation under JPEG, blur, downscale and noise
    gradcam      Grad-CAM overlays for any registered detector
    predict      real/fake for pictures and files with the stored threshold
"""
