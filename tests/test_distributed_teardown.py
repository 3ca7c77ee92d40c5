"""Leaving a torchrun session stops gloo's worker threads before the interpreter exits.

Left alive, one of them can free a finished collective's tensors while Python shuts down, which
aborts the process (SIGABRT, exit -6) after a run that had saved everything.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = """
import os, torch
from torch import nn
from fakescope.distributed import data_parallel, distributed_session

def threads():
    return len(os.listdir("/proc/self/task"))

before = threads()
with distributed_session("cpu") as (ctx, device):
    model = data_parallel(nn.Linear(2, 1), ctx, device)
    model(torch.ones(4, 2)).sum().backward()
    ctx.any(True)
    held = [model]
    held.append(held)  # the wrapper only in a reference cycle, as a finished trainer leaves it
    del model, held
# A file per rank: the two ranks' prints can interleave on one line of torchrun's stdout.
with open(f"rank{ctx.rank}.txt", "w") as out:
    out.write(f"{before} {threads()}")
"""


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="counts threads in /proc")
def test_session_end_stops_the_groups_threads(tmp_path: Path) -> None:
    script = tmp_path / "session.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
         str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    for rank in (0, 1):
        before, after = map(int, (tmp_path / f"rank{rank}.txt").read_text().split())
        assert after == before, f"rank {rank}: {before} threads before, {after} after"
