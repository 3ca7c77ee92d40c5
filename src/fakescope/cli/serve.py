"""`fakescope serve`: the web page and HTTP API for one detector checkpoint."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path
from typing import Any

from fakescope.cli.argtypes import (
    count,
    device,
    non_negative_float,
    port,
    positive_float,
    positive_int,
)
from fakescope.config import ConfigError, merge_overrides, override_settings
from fakescope.inference.decision_policy import parse_policy
from fakescope.serve.settings import (
    HEADER_TIMEOUT_S,
    KEEP_ALIVE_S,
    LIMIT_CONCURRENCY,
    MIB,
    ServeSettings,
)
from fakescope.workflows.recommended import (
    DEFAULT_DEMO_OUT,
    RECOMMENDED_DETECTOR,
    SERVE_HOST,
    SERVE_PORT,
    recommended_checkpoint,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    defaults = ServeSettings()
    serve = subparsers.add_parser(
        "serve", help="serve a detector: web page at /, HTTP API under /api, docs at /docs"
    )
    serve.add_argument(
        "--checkpoint", default=None,
        help="detector checkpoint (.pt); default: the recommended detector "
        f"({RECOMMENDED_DETECTOR}) that `fakescope demo` trained in {DEFAULT_DEMO_OUT}",
    )
    serve.add_argument("--host", default=SERVE_HOST,
                       help=f"address to listen on (default {SERVE_HOST}; 0.0.0.0 for every "
                       "interface)")
    serve.add_argument("--port", type=port, default=SERVE_PORT,
                       help=f"TCP port (default {SERVE_PORT})")
    serve.add_argument("--device", default="auto", type=device, help="auto, cpu, cuda or cuda:N")
    serve.add_argument("--threads", type=positive_int, default=None,
                       help="CPU threads for one forward pass (default: all usable cores)")
    serve.add_argument("--backend", choices=["auto", "torch", "onnx"],
                       help="auto: the ONNX export beside the checkpoint (fakescope export) "
                       "when there is one, else PyTorch")
    serve.add_argument("--face-crop", action=argparse.BooleanOptionalAction, default=None,
                       help="crop the largest face first (default: as the checkpoint was trained)")
    serve.add_argument("--max-upload-mb", type=positive_float,
                       help="largest accepted image file in MiB (larger ones get 413; default "
                       f"{defaults.max_upload_bytes / MIB:g})")
    serve.add_argument("--max-pixels", type=positive_int,
                       help="largest accepted width x height (decompression-bomb guard; default "
                       f"{defaults.max_pixels})")
    serve.add_argument("--max-batch-files", type=positive_int,
                       help=f"images per /api/predict/batch request (default "
                       f"{defaults.max_batch_files})")
    serve.add_argument("--upload-timeout-s", type=positive_float,
                       help="seconds a client may take to send its upload (then 408; default "
                       f"{defaults.upload_timeout_s:g})")
    serve.add_argument("--api-key-env", metavar="VAR",
                       help="require the API key held in environment variable VAR "
                       "(clients send it as X-API-Key)")
    serve.add_argument("--cors-origin", action="append", default=[], metavar="ORIGIN",
                       help="allow browser calls from ORIGIN (repeatable; CORS is off without it)")
    serve.add_argument("--batch-size", type=positive_int,
                       help=f"most images per forward pass (micro-batching; default "
                       f"{defaults.batch_size})")
    serve.add_argument("--max-wait-ms", type=non_negative_float,
                       help="how long a forward pass waits for more images to batch (default "
                       f"{defaults.max_wait_ms:g})")
    serve.add_argument("--max-queue", type=positive_int,
                       help="images that may wait for the model before requests get 503 "
                       f"(default {defaults.max_queue})")
    serve.add_argument("--limit-concurrency", type=positive_int, default=LIMIT_CONCURRENCY,
                       help="requests in progress before new ones get 503 (bounds upload "
                       "memory; idle connections do not count, /api/health always answers)")
    serve.add_argument("--header-timeout-s", type=positive_float, default=HEADER_TIMEOUT_S,
                       help="seconds a connection may take to send a request's headers, from "
                       "its opening or its previous response; then it is closed")
    serve.add_argument("--keep-alive-s", type=count, default=KEEP_ALIVE_S,
                       help="seconds an idle keep-alive connection stays open")
    serve.add_argument("--no-provenance", action="store_true",
                       help="do not read uploads' provenance metadata (C2PA, XMP, EXIF)")
    serve.add_argument("--decision-policy", metavar="KEY=VALUE,...",
                       help="how the detector's verdict and the provenance join into one "
                       "decision: trust_unsigned_generated=yes|no, capture_review_from and "
                       "capture_override_from=unsigned|signed|trusted|never (default: yes, "
                       "signed, never; see docs/verdicts.md)")
    serve.add_argument("--log-level", default="info",
                       choices=["critical", "error", "warning", "info", "debug"])
    serve.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="any server setting (fakescope.serve.settings.ServeSettings), e.g. "
                       "--set decode_concurrency=2 (repeatable; must agree with a flag of the "
                       "same setting)")
    serve.set_defaults(handler=_serve)


def _api_key(var: str | None) -> str | None:
    if var is None:
        return None
    key = os.environ.get(var, "")
    if not key.strip():
        raise ConfigError(f"--api-key-env {var}: that environment variable is unset or empty")
    return key


def _checkpoint(given: str | None) -> Path:
    """The checkpoint to serve: the one given, else the demo's recommended detector."""
    if given is not None:
        return Path(given)
    return recommended_checkpoint()


def _trained_face_crop(loaded: Any) -> bool:
    from fakescope.evaluate.scoring import training_config

    return bool((training_config(loaded).get("data") or {}).get("face_crop", False))


def _setting_flags(args: argparse.Namespace) -> dict[str, Any]:
    """The flags that set a ServeSettings field (None: not given)."""
    return {
        "max_upload_bytes": None if args.max_upload_mb is None else int(args.max_upload_mb * MIB),
        "max_pixels": args.max_pixels,
        "max_batch_files": args.max_batch_files,
        "upload_timeout_s": args.upload_timeout_s,
        "api_key": _api_key(args.api_key_env),
        "cors_origins": list(args.cors_origin) or None,
        "backend": args.backend,
        "face_crop": args.face_crop,
        "batch_size": args.batch_size,
        "max_wait_ms": args.max_wait_ms,
        "max_queue": args.max_queue,
        "provenance": False if args.no_provenance else None,
        "decision_policy": None if args.decision_policy is None
        else parse_policy(args.decision_policy).to_dict(),
    }


def _serve(args: argparse.Namespace) -> int:
    from fakescope.models.registry import load_detector
    from fakescope.reproducibility import resolve_device
    from fakescope.serve.app import create_app
    from fakescope.serve.server import bind_socket, run_app
    from fakescope.speed import set_torch_threads, usable_cores

    overrides = merge_overrides(_setting_flags(args), args.set)
    settings = override_settings(ServeSettings(), overrides)  # checked before any work
    bind_socket(args.host, args.port).close()  # a bad port or address in use: before loading
    checkpoint = _checkpoint(args.checkpoint)
    set_torch_threads(args.threads or usable_cores())
    loaded = load_detector(checkpoint, resolve_device(args.device))
    if "face_crop" not in overrides:  # then faces are cropped as the checkpoint was trained
        settings = dataclasses.replace(settings, face_crop=_trained_face_crop(loaded))
    app = create_app(loaded, settings, checkpoint)
    print(f"fakescope: serving {loaded.name} from {checkpoint} at http://{args.host}:{args.port}/",
          file=sys.stderr)
    run_app(app, args.host, args.port, args.limit_concurrency, args.header_timeout_s,
            args.keep_alive_s, args.log_level)
    return 0
