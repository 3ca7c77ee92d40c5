"""Detectors as ONNX files for fast CPU inference with onnxruntime.

    checkpoint   `fakescope export` as one call: a checkpoint to float32 ONNX, optionally int8
    onnx_export  export a detector, checked against PyTorch before it is written
    quantize     int8 quantization (static, calibrated; or dynamic) and its accuracy cost

The file names and metadata of an export, and running one, live in `fakescope.inference`
(`artifacts`, `runtime`): `fakescope predict` (and anything built on
`inference.predict.Predictor`) runs the export that sits beside a checkpoint when it matches the
checkpoint's weights. `onnx` and `onnxruntime` are needed only by `onnx_export`, `quantize` and
`inference.runtime`.
"""
