"""Checks on what clients send: image type from the bytes, pixel count, API key; and the
security headers every response carries."""

from __future__ import annotations

import hmac
import io
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from PIL import Image

from fakescope.data.images import (
    BadImageError,
    DecodeBudgetError,
    check_decode_budget,
    decode_image,
)
from fakescope.serve.uploads import RequestError, Upload

API_KEY_HEADER = "X-API-Key"
SUPPORTED_TYPES = "JPEG, PNG, WebP, GIF, BMP or TIFF"
# (offset, magic bytes, Pillow format): the type comes from the bytes, never from the file name.
SIGNATURES: tuple[tuple[int, bytes, str], ...] = (
    (0, b"\xff\xd8\xff", "JPEG"),
    (0, b"\x89PNG\r\n\x1a\n", "PNG"),
    (0, b"GIF87a", "GIF"),
    (0, b"GIF89a", "GIF"),
    (8, b"WEBP", "WEBP"),  # after b"RIFF" and the chunk size, checked below
    (0, b"BM", "BMP"),
    (0, b"II*\x00", "TIFF"),
    (0, b"MM\x00*", "TIFF"),
)


def sniff_image_format(data: bytes) -> str | None:
    """The Pillow format name of an image, judged from its first bytes; None if unsupported."""
    for offset, magic, name in SIGNATURES:
        if data[offset : offset + len(magic)] == magic and (name != "WEBP" or data[:4] == b"RIFF"):
            return name
    return None


def decode_upload(upload: Upload, max_pixels: int) -> Image.Image:
    """The uploaded picture as RGB, or RequestError: 415 for a type we do not accept, 413 for
    too many pixels (read from the header, before anything is decompressed), 400 for a file
    that is damaged or not what its first bytes claim; 413 too for a file whose chunks or
    segments alone would hold the request for seconds (`fakescope.data.structure`)."""
    name = upload.filename
    if not upload.data:
        raise RequestError(400, f"{name}: empty file")
    image_format = sniff_image_format(upload.data)
    if image_format is None:
        raise RequestError(415, f"{name}: not a supported image type ({SUPPORTED_TYPES})")
    try:  # before Pillow reads the header, which walks every chunk ahead of the pixels
        check_decode_budget(upload.data, name)
    except DecodeBudgetError as err:
        raise RequestError(413, str(err)) from err
    try:
        width, height = Image.open(io.BytesIO(upload.data), formats=[image_format]).size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise RequestError(413, f"{name}: too many pixels (limit {max_pixels:,})") from err
    except Exception as err:  # Pillow raises many types on hostile headers; all mean "damaged"
        raise RequestError(400, f"{name}: damaged {image_format} file") from err
    if width * height > max_pixels:
        raise RequestError(
            413, f"{name}: {width}x{height} is too many pixels (limit {max_pixels:,})"
        )
    try:
        return decode_image(upload.data)
    except BadImageError as err:
        reason = str(err).removeprefix("upload: ")
        raise RequestError(400, f"{name}: cannot decode {image_format} ({reason})") from err
    except Exception as err:  # a decoder bug on hostile data is still the file's fault
        raise RequestError(400, f"{name}: cannot decode {image_format} file") from err


def api_key_matches(given: str | None, expected: str) -> bool:
    """Constant-time comparison, so response timing does not reveal the key."""
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


# The page and its assets come from this server only; the API docs use inline scripts.
PAGE_POLICY = (
    "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
DOCS_PATHS = ("/docs", "/redoc")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class SecurityHeaders:
    """ASGI middleware adding nosniff, no-referrer, anti-framing and a content security policy
    to every HTTP response, and no-store to API responses (they describe private pictures)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        extra = [
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
            (b"x-frame-options", b"DENY"),
        ]
        if not path.startswith(DOCS_PATHS):
            extra.append((b"content-security-policy", PAGE_POLICY.encode()))
        if path.startswith("/api/"):
            extra.append((b"cache-control", b"no-store"))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)
