"""Running a trained detector on pictures, as `predict`, `eval`, `serve`, `export` and the demo do.

    predict      real/fake for pictures and files with the checkpoint's calibration and threshold
    tiles        native-resolution scoring: tiles of the unresized picture, log-odds averaged
    gradcam      Grad-CAM overlays for any registered detector
    artifacts    file names, fingerprints and metadata that tie an ONNX export to its checkpoint
    runtime      run an ONNX (float32 or int8) export with onnxruntime; find the one that fits
    onnx_graph   a detector's ONNX graph built in memory and checked against PyTorch
    fastest      the fastest equivalent forward pass (eager, channels_last, onnxruntime)

`onnxruntime` is imported only by `runtime`, and only when an export is used.
"""
