"""GAN figures read with few points (a marker on each) and draw the goal where one is known:
diversity 1 (as varied as the reals) and the real-vs-real FD floor once it was measured."""

from __future__ import annotations

from pathlib import Path

from fakescope.gan.plots import losses_figure, quality_figure, quality_floors
from fakescope.runs import FLOOR_COMPARISON_FILE, write_json


def test_a_short_runs_losses_show_each_point(tmp_path: Path) -> None:
    log = tmp_path / "metrics.csv"
    log.write_text("step,loss_d,loss_g,d_real,d_fake\n1,1.3,0.7,0.5,0.4\n2,1.1,0.9,0.6,0.3\n")
    fig = losses_figure(log)
    assert fig is not None
    lines = [line for ax in fig.axes for line in ax.get_lines()]
    assert len(lines) == 4 and all(line.get_marker() == "o" for line in lines)
    long = tmp_path / "long.csv"
    long.write_text("step,loss_d,loss_g,d_real,d_fake\n"
                    + "".join(f"{i},1,1,0.5,0.5\n" for i in range(1, 200)))
    long_fig = losses_figure(long)
    assert long_fig is not None
    assert all(line.get_marker() in (None, "None") for line in long_fig.axes[0].get_lines())


def test_quality_panels_draw_the_floor_where_it_is_known(tmp_path: Path) -> None:
    log = tmp_path / "epochs.csv"
    log.write_text("epoch,fd_efflite0,diversity\n1,300,0.4\n2,200,0.7\n")
    floor_file = tmp_path / FLOOR_COMPARISON_FILE
    assert quality_floors(floor_file) == {"diversity": (1.0, "real images")}  # not measured
    write_json(floor_file, {"fd_name": "fd_efflite0", "images": 64,
                            "fake": {"fd": 210.0}, "floor": {"fd": 90.0}})
    floors = quality_floors(floor_file)
    assert floors["fd_efflite0"] == (90.0, "real-vs-real floor (64 images a side)")
    fig = quality_figure(log, ["fd_efflite0", "diversity"], floors)
    assert fig is not None
    fd, diversity = fig.axes
    assert [line.get_label() for line in fd.get_lines()] == [
        "fd_efflite0", "real-vs-real floor (64 images a side)"]
    assert list(fd.get_lines()[1].get_ydata()) == [90.0, 90.0]
    assert list(diversity.get_lines()[1].get_ydata()) == [1.0, 1.0]
