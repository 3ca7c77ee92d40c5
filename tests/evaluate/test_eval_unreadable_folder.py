"""A folder that cannot be listed is reported as such, not as "no image files" (issue 27, F5)."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from fakescope.cli import main


@pytest.fixture
def lock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Path], None]]:
    """`lock(folder)`: this process may no longer list `folder` (chmod 000, and the listing
    calls refusing it too, since root may list anything)."""
    locked: list[Path] = []
    real_scandir, real_listdir = os.scandir, os.listdir

    def refuse(path: Any) -> None:
        if any(os.fspath(path) == str(folder) for folder in locked):
            raise PermissionError(13, "Permission denied", os.fspath(path))

    def scandir(path: Any = ".") -> Any:
        refuse(path)
        return real_scandir(path)

    def listdir(path: Any = ".") -> list[str]:
        refuse(path)
        return real_listdir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    monkeypatch.setattr(os, "listdir", listdir)

    def add(folder: Path) -> None:
        locked.append(folder)
        folder.chmod(0)

    yield add
    for folder in locked:
        folder.chmod(0o755)


def test_predict_says_permission_denied(
    one_logit_checkpoint: Path, faces: Path, tmp_path: Path, lock: Callable[[Path], None],
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    folder = tmp_path / "locked"
    folder.mkdir()
    shutil.copy(faces / "real" / "face_00000.jpg", folder / "a.jpg")
    lock(folder)
    code = main(["predict", str(folder), "--checkpoint", str(one_logit_checkpoint),
                 "--device", "cpu", "--quiet", "--no-provenance", "--json"])  # fmt: skip
    assert code == 3
    (row,) = json.loads(capsys.readouterr().out)
    assert row["error"] == f"{folder}: permission denied (cannot list this folder)"


def test_an_unreadable_class_folder_is_a_one_line_error_for_the_data_commands(
    faces: Path, tmp_path: Path, lock: Callable[[Path], None],
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    data = tmp_path / "data"
    shutil.copytree(faces, data)
    (data / "fake" / "more").mkdir()
    lock(data / "fake" / "more")
    assert main(["data", "inspect", str(data)]) == 2
    err = capsys.readouterr().err
    assert err == (f"fakescope: error: {data / 'fake' / 'more'}: permission denied (cannot list "
                   "this folder)\n")
