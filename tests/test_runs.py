"""Run folders, atomic checkpoints, format versions, resume and seeding."""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from fakescope.checkpoints import FORMAT_VERSION, CheckpointError, load_checkpoint, save_checkpoint
from fakescope.config import JobConfig
from fakescope.reproducibility import isolated_rng, rng_state, seed_everything, set_rng_state
from fakescope.runs import MetricsLog, discarded_if_failed, open_run, prune_step_checkpoints


def test_run_folder_layout_and_config(tmp_path: Path) -> None:
    run = open_run(tmp_path, "exp", JobConfig())
    for folder in (run.checkpoints, run.samples, run.report):
        assert folder.is_dir()
    assert "seed: 0" in run.config.read_text()


def test_fresh_run_refuses_to_overwrite_checkpoints(tmp_path: Path) -> None:
    run = open_run(tmp_path, "exp", JobConfig())
    save_checkpoint(run.step_checkpoint(10), {"step": 10})
    with pytest.raises(FileExistsError, match="--resume"):
        open_run(tmp_path, "exp", JobConfig())
    assert open_run(
        tmp_path, "exp", JobConfig(), resume=True
    ).latest_checkpoint() == run.step_checkpoint(10)


def test_checkpoint_round_trip_and_latest(tmp_path: Path) -> None:
    run = open_run(tmp_path, "exp", JobConfig())
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.Adam(model.parameters())
    model(torch.ones(1, 3)).sum().backward()
    optimizer.step()
    for step in (5, 20, 100):
        save_checkpoint(
            run.step_checkpoint(step),
            {
                "step": step,
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "rng": rng_state(),
            },
        )
    latest = run.latest_checkpoint()
    assert latest == run.step_checkpoint(100)
    payload = load_checkpoint(latest)
    assert payload["format_version"] == FORMAT_VERSION and payload["step"] == 100
    torch.testing.assert_close(payload["model"]["weight"], model.weight.detach())
    fresh = torch.optim.Adam(model.parameters())
    fresh.load_state_dict(payload["optimizer"])
    prune_step_checkpoints(run, keep=1)
    assert sorted(p.name for p in run.checkpoints.iterdir()) == [run.step_checkpoint(100).name]


def test_atomic_save_leaves_old_file_when_writing_fails(tmp_path: Path) -> None:
    path = tmp_path / "ckpt.pt"
    save_checkpoint(path, {"step": 1})

    class Unpicklable:
        def __reduce__(self) -> tuple:  # type: ignore[type-arg]
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        save_checkpoint(path, {"step": 2, "bad": Unpicklable()})
    assert load_checkpoint(path)["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.pt"]  # no temp file left behind


def test_bad_checkpoints_are_clear(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "nope.pt")
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(CheckpointError, match="cannot read"):
        load_checkpoint(tmp_path / "junk.pt")
    (tmp_path / "empty.pt").write_bytes(b"")
    with pytest.raises(CheckpointError, match="the file is empty"):
        load_checkpoint(tmp_path / "empty.pt")
    (tmp_path / "random.pt").write_bytes(np.random.default_rng(0).bytes(1000))
    with pytest.raises(CheckpointError, match="not a PyTorch checkpoint") as refused:
        load_checkpoint(tmp_path / "random.pt")
    assert "weights_only" not in str(refused.value)  # no advice to load it unsafely
    save_checkpoint(tmp_path / "cut.pt", {"weights": torch.ones(100)})
    (tmp_path / "cut.pt").write_bytes((tmp_path / "cut.pt").read_bytes()[:300])
    with pytest.raises(CheckpointError, match="damaged or truncated"):
        load_checkpoint(tmp_path / "cut.pt")
    torch.save({"weights": torch.ones(1)}, tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="not a fakescope checkpoint"):
        load_checkpoint(tmp_path / "foreign.pt")
    torch.save({"format_version": FORMAT_VERSION + 1}, tmp_path / "future.pt")
    with pytest.raises(CheckpointError, match="upgrade fakescope"):
        load_checkpoint(tmp_path / "future.pt")


def test_checkpoints_never_unpickle_code(tmp_path: Path) -> None:
    import pickle

    class Evil:
        def __reduce__(self) -> tuple:  # type: ignore[type-arg]
            return (print, ("pwned",))

    (tmp_path / "evil.pt").write_bytes(pickle.dumps({"format_version": 1, "x": Evil()}))
    with pytest.raises(CheckpointError):
        load_checkpoint(tmp_path / "evil.pt")


class _RunsCode:
    def __reduce__(self) -> tuple:  # type: ignore[type-arg]
        return (os.system, ("echo pwned",))


@pytest.mark.parametrize("zipped", [True, False])
def test_a_checkpoint_that_pickles_code_is_refused_in_fakescopes_words(
    tmp_path: Path, zipped: bool, recwarn: pytest.WarningsRecorder
) -> None:
    path = tmp_path / "evil.pt"
    torch.save({"format_version": 1, "x": _RunsCode()}, path,
               _use_new_zipfile_serialization=zipped)
    with pytest.raises(CheckpointError) as refused:
        load_checkpoint(path)
    message = str(refused.value)
    assert "(posix.system)" in message and "fakescope loads weights only" in message
    assert "weights_only" not in message and "\x1b" not in message and "\n" not in message
    assert not [w for w in recwarn if "pickle" in str(w.message)]


def test_a_text_file_as_checkpoint_says_what_it_is_not(tmp_path: Path) -> None:
    (tmp_path / "notes.pt").write_text("epoch 3: loss 0.2\n" * 20)
    with pytest.raises(CheckpointError, match="not a PyTorch checkpoint") as refused:
        load_checkpoint(tmp_path / "notes.pt")
    assert "KeyError" not in str(refused.value) and "101" not in str(refused.value)


def test_temp_files_of_killed_writes_are_swept_when_the_run_reopens(tmp_path: Path) -> None:
    run = open_run(tmp_path, "r", JobConfig())
    save_checkpoint(run.step_checkpoint(1), {"step": 1})
    left = [run.checkpoints / ".ckpt-00000002.pt.a1b2_c3.tmp", run.path / ".metrics.csv.x9.tmp"]
    for path in left:
        path.write_bytes(b"half a checkpoint")
    kept = run.path / ".notes.tmp"  # not an atomic write's name: not ours to delete
    kept.write_text("mine")
    open_run(tmp_path, "r", JobConfig(), resume=True)
    assert not any(p.exists() for p in left) and kept.exists()
    assert load_checkpoint(run.step_checkpoint(1))["step"] == 1


def test_rng_state_round_trip_through_a_checkpoint(tmp_path: Path) -> None:
    seed_everything(123)
    save_checkpoint(tmp_path / "rng.pt", {"rng": rng_state()})
    expected = (random.random(), np.random.rand(), torch.rand(2))
    random.random(), np.random.rand(), torch.rand(5)  # move every generator on
    set_rng_state(load_checkpoint(tmp_path / "rng.pt")["rng"])
    again = (random.random(), np.random.rand(), torch.rand(2))
    assert again[:2] == expected[:2] and torch.equal(again[2], expected[2])


def test_isolated_rng_gives_back_every_generator_as_it_was() -> None:
    seed_everything(5)
    expected = (random.random(), float(np.random.rand()), float(torch.rand(())))
    seed_everything(5)
    with isolated_rng():
        torch.nn.Linear(64, 64)  # a network's initialisation draws from torch's generator
        random.random(), np.random.rand(10)
    assert (random.random(), float(np.random.rand()), float(torch.rand(()))) == expected
    state = torch.get_rng_state()
    with pytest.raises(ValueError), isolated_rng():  # also when the block fails
        torch.rand(3)
        raise ValueError
    assert torch.equal(torch.get_rng_state(), state)


def test_one_seed_controls_every_generator() -> None:
    def draw() -> tuple:  # type: ignore[type-arg]
        seed_everything(7, deterministic=False)
        return random.random(), float(np.random.rand()), float(torch.rand(()))

    assert draw() == draw()


def test_metrics_log_appends_grows_and_truncates(tmp_path: Path) -> None:
    log = MetricsLog(tmp_path / "m.csv")
    log.append({"epoch": 1, "loss": 0.5})
    log.append({"epoch": 2, "loss": 0.25, "auc": 0.9})
    log.append({"epoch": 3, "loss": 0.125, "auc": 0.95})
    rows = log.read()
    assert [r["epoch"] for r in rows] == ["1", "2", "3"] and rows[0]["auc"] == ""
    log.truncate_after("epoch", 2)
    assert [r["epoch"] for r in log.read()] == ["1", "2"]


def test_written_files_are_readable_by_others(tmp_path: Path) -> None:
    import os
    import stat

    from fakescope.runs import atomic_write_bytes

    umask = os.umask(0o022)
    try:
        atomic_write_bytes(tmp_path / "a.json", b"{}")
        save_checkpoint(tmp_path / "b.pt", {"step": 1})
    finally:
        os.umask(umask)
    for name in ("a.json", "b.pt"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o644


def test_a_run_that_fails_before_saving_anything_leaves_no_folder(tmp_path: Path) -> None:
    run = open_run(tmp_path, "bad", JobConfig())
    with pytest.raises(FileNotFoundError), discarded_if_failed(run):
        raise FileNotFoundError("dataset not found")
    assert not run.path.exists()
    kept = open_run(tmp_path, "kept", JobConfig())
    MetricsLog(kept.metrics).append({"epoch": 1})
    with pytest.raises(RuntimeError), discarded_if_failed(kept):
        raise RuntimeError("crashed in epoch 2")
    assert kept.metrics.is_file()  # a run with something to resume or read stays
    reopened = open_run(tmp_path, "kept", JobConfig(), resume=True)
    (reopened.path / "metrics.csv").unlink()
    with pytest.raises(RuntimeError), discarded_if_failed(reopened):
        raise RuntimeError("an earlier run's folder is never removed")
    assert reopened.path.is_dir()
