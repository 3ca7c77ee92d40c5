"""`fakescope provenance` on a folder with nothing to read: a one-line error and exit 2, not an
empty table and exit 0 (issue 27)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from provenancefiles import encode

from fakescope.cli import main


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    return lines[0]


def test_an_empty_folder_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("not an image")
    assert main(["provenance", str(tmp_path / "empty")]) == 2
    assert one_line_error(capsys) == (
        f"fakescope: error: {tmp_path / 'empty'}: no image files in this folder")


def test_an_empty_folder_beside_an_image_fails_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a.png").write_bytes(encode("PNG"))
    (tmp_path / "empty").mkdir()
    assert main(["provenance", str(tmp_path / "a.png"), str(tmp_path / "empty"), "--json"]) == 2
    assert "no image files in this folder" in one_line_error(capsys)


def test_a_folder_that_cannot_be_listed_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    locked = tmp_path / "pics" / "locked"
    locked.mkdir(parents=True)
    (locked / "a.png").write_bytes(encode("PNG"))
    real_scandir = os.scandir

    def scandir(path: Any = ".") -> Any:  # root may list anything, so refuse it here
        if os.fspath(path) == str(locked):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    assert main(["provenance", str(tmp_path / "pics")]) == 2
    assert one_line_error(capsys) == (
        f"fakescope: error: {locked}: permission denied (cannot list this folder)")


def test_a_folder_with_images_still_reads_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "pics").mkdir()
    (tmp_path / "pics" / "a.png").write_bytes(encode("PNG"))
    assert main(["provenance", str(tmp_path / "pics")]) == 0
    assert "no-provenance" in capsys.readouterr().out
