"""File names that are not UTF-8 (Linux allows any bytes) through `data inspect`, the cache and
`data cache`: kept as the OS gives them, never a UnicodeEncodeError (issue 27, F1-F4)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from fakescope.cli import main
from fakescope.data.cache import files_key
from fakescope.data.synth import synthesize_dataset

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="needs byte file names")

ODD_NAME = b"caf\xe9_\xff.jpg"  # Latin-1 bytes: not UTF-8


@pytest.fixture
def odd_faces(tmp_path: Path) -> Path:
    data = tmp_path / "faces"
    synthesize_dataset(data, n=6, size=32, seed=0, fakes=True)
    for cls in ("real", "fake"):
        os.rename(data / cls / "face_00000.jpg", os.fsencode(data / cls) + b"/" + ODD_NAME)
    bad = os.fsencode(data / "real") + b"/broken_\xfe.png"  # a bad file, listed by name
    with open(bad, "wb") as handle:
        handle.write(b"not a png")
    return data


def test_data_inspect_lists_them_as_text_and_json(
    odd_faces: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    assert main(["data", "inspect", str(odd_faces)]) == 0
    assert b"broken_\xfe.png" in capsysbinary.readouterr().out  # the name's own bytes
    assert main(["data", "inspect", "--json", str(odd_faces)]) == 0
    report = json.loads(capsysbinary.readouterr().out)
    (bad,) = report["bad_files"]
    assert os.fsencode(bad["path"]).endswith(b"/broken_\xfe.png")


def test_the_cache_key_takes_them_and_tells_them_apart(odd_faces: Path) -> None:
    odd = Path(os.fsdecode(os.fsencode(odd_faces / "real") + b"/" + ODD_NAME))
    other = Path(os.fsdecode(os.fsencode(odd_faces / "real") + b"/caf\xe9_\xfe.jpg"))
    assert files_key([odd]) != files_key([other])


def test_data_cache_builds_over_them(
    odd_faces: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["data", "cache", str(odd_faces), "--size", "32", "--cache-dir", str(tmp_path / "c")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith("cache built") and "(12 images, 1 bad files skipped)" in out
