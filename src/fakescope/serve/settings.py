"""Everything a deployment may tune: limits, access control, batching."""

from __future__ import annotations

from dataclasses import dataclass

from fakescope.config import ConfigError
from fakescope.inference.decision_policy import DEFAULT_POLICY, DecisionPolicy

MIB = 1024 * 1024
# The connection guards of `fakescope.serve.server` (see there): seconds to send a request's
# headers, seconds an idle keep-alive connection stays, requests in progress before 503.
HEADER_TIMEOUT_S = 10.0
KEEP_ALIVE_S = 5
LIMIT_CONCURRENCY = 64


@dataclass(frozen=True)
class ServeSettings:
    """Server options; the defaults suit a small model on a 2-core machine."""

    max_upload_bytes: int = 10 * MIB  # per image; larger uploads get 413
    max_pixels: int = 40_000_000  # decompression-bomb guard, checked from the header
    max_batch_files: int = 16  # images per /api/predict/batch request
    upload_timeout_s: float = 30.0  # a client still sending after this gets 408 (slow uploads)
    api_key: str | None = None  # when set, /api/predict* and /api/models need X-API-Key
    cors_origins: tuple[str, ...] = ()  # CORS stays off unless origins are listed
    backend: str = "auto"  # torch | onnx | auto: an ONNX export beside the checkpoint, if any
    face_crop: bool = False
    face_margin: float = 0.25
    batch_size: int = 8  # most images one forward pass takes
    max_wait_ms: float = 5.0  # how long the worker waits to fill a batch
    max_queue: int = 64  # images waiting for the model; beyond it requests get 503
    decode_concurrency: int = 4  # uploads decoded at once, which bounds decode memory
    provenance: bool = True  # read C2PA, generator metadata and EXIF beside the detector
    provenance_timeout_s: float = 5.0  # past it a request gets a provenance error, not a wait
    # How the detector's verdict and the provenance join into one decision (docs/verdicts.md).
    decision_policy: DecisionPolicy = DEFAULT_POLICY

    def __post_init__(self) -> None:
        positive = {
            "max_upload_bytes": self.max_upload_bytes, "max_pixels": self.max_pixels,
            "max_batch_files": self.max_batch_files, "batch_size": self.batch_size,
            "max_queue": self.max_queue, "decode_concurrency": self.decode_concurrency,
        }
        for name, value in positive.items():
            if value < 1:
                raise ConfigError(f"{name} must be at least 1, got {value}")
        if self.upload_timeout_s <= 0:
            raise ConfigError(f"upload_timeout_s must be positive, got {self.upload_timeout_s}")
        if self.provenance_timeout_s <= 0:
            raise ConfigError(
                f"provenance_timeout_s must be positive, got {self.provenance_timeout_s}"
            )
        if self.max_wait_ms < 0:
            raise ConfigError(f"max_wait_ms must not be negative, got {self.max_wait_ms}")
        if self.api_key is not None and not self.api_key.strip():
            raise ConfigError("the API key must not be empty")
