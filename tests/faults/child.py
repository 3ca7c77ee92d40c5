"""One training run in its own process, which kills itself (SIGKILL, as `kill -9` does) at a
chosen point, for tests/faults/test_kill_resume.py.

    python child.py gan|gan-cli|detect OVERRIDES_JSON RESUME(0|1) [KILL[+KILL...]]

KILL is step:N, die just before global step N; save:N, die inside the N-th checkpoint write,
with half the file on disk and the rename not done; term:N or int:N, send this process SIGTERM
or SIGINT just before step N (the trainer stops with a checkpoint, as on a user's signal).
gan-cli runs `fakescope gan train` through the command line (the overrides as --set flags)
and exits with its status.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from typing import Any

import torch


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def die_before_step(trainer_class: Any, step: int) -> None:
    real_step = trainer_class.train_step

    def step_or_die(self: Any, *args: Any) -> Any:
        if self.state.step + 1 == step:
            die()
        return real_step(self, *args)

    trainer_class.train_step = step_or_die


def signal_before_step(trainer_class: Any, step: int, signum: int) -> None:
    real_step = trainer_class.train_step

    def step_after_signal(self: Any, *args: Any) -> Any:
        if self.state.step + 1 == step:
            os.kill(os.getpid(), signum)  # handled after this step, as a user's would be
        return real_step(self, *args)

    trainer_class.train_step = step_after_signal


def die_in_save(n: int) -> None:
    real_save, calls = torch.save, [0]

    def save_then_die(obj: Any, f: Any, *args: Any, **kwargs: Any) -> None:
        real_save(obj, f, *args, **kwargs)
        calls[0] += 1
        if calls[0] == n:
            os.truncate(f, os.path.getsize(f) // 2)
            die()

    torch.save = save_then_die


def main(trainer: str, overrides_json: str, resume: str, kill: str = "") -> int:
    torch.set_num_threads(1)  # as the tests' conftests do; the runs compared must match
    overrides: dict[str, Any] = json.loads(overrides_json)
    from fakescope.config import load_config

    status = [0]
    if trainer == "gan":
        from fakescope.gan.config import GanJobConfig
        from fakescope.gan.train import GanTrainer as Trainer
        from fakescope.gan.train import train_gan

        def run() -> None:
            train_gan(load_config(GanJobConfig, overrides=overrides), resume=resume == "1")
    elif trainer == "gan-cli":
        from fakescope.cli import main as cli
        from fakescope.gan.train import GanTrainer as Trainer

        def run() -> None:
            flags = [f for k, v in overrides.items() for f in ("--set", f"{k}={json.dumps(v)}")]
            status[0] = cli(["gan", "train", "--quiet", *flags, *(["--resume"] * (resume == "1"))])
    else:
        from detect.tiny_detector import TINY  # registers the tiny detector

        from fakescope.detect.config import DetectJobConfig
        from fakescope.detect.train import DetectorTrainer as Trainer
        from fakescope.detect.train import train_detector

        def run() -> None:
            config = load_config(DetectJobConfig, overrides={"model.name": TINY, **overrides})
            train_detector(config, resume=resume == "1", progress=False)

    for part in filter(None, kill.split("+")):
        kind, _, number = part.partition(":")
        if kind == "step":
            die_before_step(Trainer, int(number))
        elif kind == "save":
            die_in_save(int(number))
        elif kind in ("term", "int"):
            signum = signal.SIGTERM if kind == "term" else signal.SIGINT
            signal_before_step(Trainer, int(number), signum)
    run()
    return status[0]


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
