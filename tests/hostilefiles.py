"""The hostile-input corpus of the reliability probe, built by the tests: image files that cost
a decoder seconds of framing, damaged pictures, and checkpoints that are not what they claim."""

from __future__ import annotations

import io
import pickle
import zipfile
from collections.abc import Callable
from pathlib import Path

import torch
from provenancefiles import encode, png_chunk

CODE_RAN = "code_ran"  # what unpickling a zoo checkpoint's payload would create
# The probe's file: 200,000 text chunks ahead of the pixels, about 5 MB.
PROBE_TEXT_CHUNKS = 200_000


def png_many_text_chunks(count: int = PROBE_TEXT_CHUNKS) -> bytes:
    base = encode("PNG")
    ihdr_end = 8 + 8 + 13 + 4
    chunks = b"".join(png_chunk(b"tEXt", b"k%d\x00v" % i) for i in range(count))
    return base[:ihdr_end] + chunks + base[ihdr_end:]


def png_many_empty_idats(count: int = 800_000) -> bytes:
    base = encode("PNG")
    first = base.index(b"IDAT") - 4
    return base[:first] + png_chunk(b"IDAT", b"") * count + base[first:]


def jpeg_many_comments(count: int = 1_000_000) -> bytes:
    base = encode("JPEG")
    return base[:2] + b"\xff\xfe\x00\x04ab" * count + base[2:]


def gif_many_comment_blocks(count: int = 1_000_000) -> bytes:
    base = encode("GIF")
    flags = base[10]
    header = 13 + (3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0)
    return base[:header] + b"\x21\xfe\x01a\x00" * count + base[header:]


SLOW_FRAMING: dict[str, Callable[[], bytes]] = {
    "png_text_chunks": png_many_text_chunks,
    "png_empty_idats": png_many_empty_idats,
    "jpeg_comments": jpeg_many_comments,
    "gif_comment_blocks": gif_many_comment_blocks,
}


def damaged_images() -> dict[str, bytes]:
    """Pictures cut short or with flipped bytes, named by what is wrong."""
    png, jpeg = encode("PNG"), encode("JPEG")
    corrupt = bytearray(png)
    corrupt[png.index(b"IDAT") + 8] ^= 0xFF
    return {
        "empty.png": b"",
        "truncated.png": png[: len(png) // 2],
        "truncated.jpg": jpeg[: len(jpeg) // 3],
        "header_only.png": png[:33],
        "corrupt_idat.png": bytes(corrupt),
        "text_named.jpg": b"this is not a picture\n",
    }


class _Boom:
    """Unpickling this would run code (create the file `marker`): a checkpoint must never."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Callable[..., object], tuple[str, str]]:
        return (open, (str(self.marker), "w"))


def checkpoint_zoo(folder: Path) -> dict[str, Path]:
    """Files handed to `--checkpoint` that are not fakescope checkpoints. Loading either pickle
    would create `folder / CODE_RAN`."""
    folder.mkdir(parents=True, exist_ok=True)
    boom = _Boom(folder / CODE_RAN)
    pickled_code = folder / "pickled_code.pt"
    torch.save({"model": boom}, pickled_code)  # torch's zip format around a code pickle
    plain_pickle = folder / "plain_pickle.pt"
    plain_pickle.write_bytes(pickle.dumps({"state_dict": boom}))
    text = folder / "notes.pt"
    text.write_text("epoch 3, auc 0.91\n")
    empty = folder / "empty.pt"
    empty.write_bytes(b"")
    wrong_dict = folder / "wrong_dict.pt"
    torch.save({"weights": torch.zeros(3), "name": "not ours"}, wrong_dict)
    bad_zip = folder / "bad_zip.pt"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("archive/data.pkl", b"\x80\x02garbage")
    bad_zip.write_bytes(buffer.getvalue())
    return {path.stem: path for path in
            (pickled_code, plain_pickle, text, empty, wrong_dict, bad_zip)}
