"""Serving a trained detector: a FastAPI app with an HTTP API and a web page.

`fakescope.serve.app.create_app(loaded, settings)` builds the app from a `LoadedDetector`; the
model is loaded once and shared by every request through a micro-batching inference worker.
Nothing heavy is imported here, so the CLI can read `settings` without loading the web stack.
"""
