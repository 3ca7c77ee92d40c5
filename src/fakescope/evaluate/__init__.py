"""Evaluating detectors: thresholds, calibration, robustness, comparisons.

Running a detector lives in `fakescope.inference`; metric values from labels and P(fake) in
`fakescope.metrics`.

    threshold    choosing a decision threshold on validation data and storing it
    calibrate    temperature scaling and the uncertain band, fitted on validation data
    scoring      running a detector over a data split
    evaluate     one checkpoint on one split: metrics, curves, JSON/CSV outputs
    explain      Grad-CAM overlays of the worst-scored images
    compare      several checkpoints on the same images, one table
    robustness   the same evaluation under JPEG, blur, downscale and noise
    xgen         cross-generator matrix: scoring each run on every generator family
"""
