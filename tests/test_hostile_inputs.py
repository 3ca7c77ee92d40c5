"""The reliability probe's hostile inputs, built here (tests/hostilefiles.py) and run through
the command line: damaged pictures and files whose framing alone costs seconds get a one-line
reason on their row while the other files are predicted, and the checkpoint zoo (pickled code
in torch's zip format and as a plain pickle, a text file, an empty file, a dict that is not a
fakescope checkpoint, a broken zip) is refused in one line without running anything."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hostilefiles import CODE_RAN, SLOW_FRAMING, checkpoint_zoo, damaged_images
from imagefiles import make_image

from fakescope.cli import main
from fakescope.errors import FakescopeError
from fakescope.models.registry import build_detector, load_detector, save_detector

# Pillow warns about the oddities of hostile files; they are the point here.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module")
def detector(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    model = build_detector("dcgan_disc64", base_width=8)
    path = tmp_path_factory.mktemp("hostile") / "tiny.pt"
    save_detector(path, model, "dcgan_disc64", {"base_width": 8}, model.input_spec,
                  threshold=0.5, metrics={})
    return path


@pytest.fixture(scope="module")
def zoo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return checkpoint_zoo(tmp_path_factory.mktemp("zoo"))


@pytest.mark.parametrize("name", ["pickled_code", "plain_pickle", "notes", "empty", "wrong_dict",
                                  "bad_zip"])
def test_the_checkpoint_zoo_is_refused_in_one_line_without_running_code(
    zoo: dict[str, Path], name: str
) -> None:
    with pytest.raises(FakescopeError) as info:
        load_detector(zoo[name])
    message = str(info.value)
    assert "\n" not in message and str(zoo[name]) in message and "\x1b[" not in message
    assert not (zoo[name].parent / CODE_RAN).exists()


@pytest.mark.parametrize("name", ["pickled_code", "notes", "empty"])
def test_predict_with_a_zoo_checkpoint_exits_2_with_one_line(
    zoo: dict[str, Path], name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    picture = make_image(tmp_path / "a.png")
    assert main(["predict", "--checkpoint", str(zoo[name]), str(picture)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("fakescope: ") and "Traceback" not in err
    assert not (zoo[name].parent / CODE_RAN).exists()


def test_predict_gives_each_hostile_picture_a_one_line_reason_and_scores_the_rest(
    detector: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "inputs"
    folder.mkdir()
    for name, data in damaged_images().items():
        (folder / name).write_bytes(data)
    for name, build in SLOW_FRAMING.items():
        suffix = {"png": ".png", "jpeg": ".jpg", "gif": ".gif"}[name.split("_")[0]]
        (folder / f"{name}{suffix}").write_bytes(build())
    good = make_image(folder / "good.png")
    hostile = len(damaged_images()) + len(SLOW_FRAMING)
    code = main(["predict", "--checkpoint", str(detector), "--no-provenance",
                 *sorted(str(p) for p in folder.iterdir())])
    out = capsys.readouterr().out
    assert code != 0  # some inputs failed
    rows = [line for line in out.splitlines() if line.startswith(str(folder))]
    assert len(rows) == hostile + 1
    errors = [row for row in rows if " error " in f" {row} "]
    assert len(errors) == hostile and not any(str(good) in row for row in errors)
    assert sum("refused to bound decoding time" in row for row in errors) == len(SLOW_FRAMING)
