"""Detectors as ONNX files for fast CPU inference with onnxruntime.

    artifacts    file names, weight fingerprints and metadata that tie an export to its checkpoint
    onnx_export  export a detector, checked against PyTorch before it is written
    runtime      run an export with onnxruntime; find the export that fits a checkpoint
    quantize     int8 quantization (static, calibrated; or dynamic) and its accuracy cost

`fakescope predict` (and anything built on `evaluate.predict.Predictor`) runs the export that
sits beside a checkpoint when it matches the checkpoint's weights. `onnx` and `onnxruntime` are
needed only by `onnx_export`, `runtime` and `quantize`.
"""
