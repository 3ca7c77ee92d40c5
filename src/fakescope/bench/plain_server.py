"""The serving baseline: the web demo a paper ships, one eager forward pass per request.

A minimal FastAPI app, as paper 003's web app and most model demos are written: the upload is
read, decoded with PIL, preprocessed with torchvision and run through the PyTorch model inside
the request handler, one image per forward pass, with no batching, no ONNX, no size limits.

    python -m fakescope.bench.plain_server --checkpoint model.pt --port 8001 [--threads 1]
"""

from __future__ import annotations

import argparse
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import torch
from fastapi import FastAPI, File, UploadFile
from PIL import Image

from fakescope.bench.baselines import eager_logits, plain_transform
from fakescope.models.registry import fake_probability, load_detector


def create_plain_app(checkpoint: Path) -> FastAPI:
    loaded = load_detector(checkpoint)
    transform = plain_transform(loaded.input_spec)
    app = FastAPI(title="plain demo server")

    @app.post("/api/predict")
    async def predict(file: Annotated[UploadFile, File()]) -> dict[str, float | str]:
        image = Image.open(io.BytesIO(await file.read())).convert("RGB")
        logits = eager_logits(loaded.model, transform(image).unsqueeze(0))
        probability = float(fake_probability(logits)[0])
        return {"probability_fake": probability,
                "label": "fake" if probability >= loaded.threshold else "real"}

    @app.get("/api/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def main(argv: Sequence[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's own)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    uvicorn.run(create_plain_app(args.checkpoint), host="127.0.0.1", port=args.port,
                log_level="warning")


if __name__ == "__main__":
    main()
