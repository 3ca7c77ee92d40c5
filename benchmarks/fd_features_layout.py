"""The FD feature extractor (EfficientNet-Lite0 at 224 px) in the contiguous and channels-last
layouts, timed in the same process on the same batch.

    python benchmarks/fd_features_layout.py --rounds 3 --threads 1

Prints process CPU seconds per batch for each layout, their ratio and the largest feature
difference; the figures are recorded in benchmarks/results/fp32_paths.md ("FD features").
"""

from __future__ import annotations

import argparse
import copy
import time

import torch
from torch import nn

from fakescope.bench.machine import describe_machine
from fakescope.gan.metrics import EfficientNetLite0Features


def timed(model: nn.Module, batch: torch.Tensor) -> tuple[float, torch.Tensor]:
    start = time.process_time()
    with torch.inference_mode():
        features = model(batch)
    return time.process_time() - start, features


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    extractor = EfficientNetLite0Features(torch.device("cpu"))
    channels_last = extractor.model
    contiguous = copy.deepcopy(channels_last).to(memory_format=torch.contiguous_format)
    seeded = torch.Generator().manual_seed(0)
    batch = torch.randn(args.batch, 3, extractor.size, extractor.size, generator=seeded)
    batch_cl = batch.contiguous(memory_format=torch.channels_last)
    timed(contiguous, batch)  # warm-up: first calls allocate and pick kernels
    timed(channels_last, batch_cl)
    machine = describe_machine()
    print(f"{machine['cpu']}, flags {machine['cpu_flags']}, bf16 {machine['native_bf16']}, "
          f"torch {machine['torch']}, {args.threads} thread(s), batch {args.batch} at 224 px")
    for number in range(1, args.rounds + 1):
        a, fa = timed(contiguous, batch)
        b, fb = timed(channels_last, batch_cl)
        print(f"round {number}: contiguous {a:.2f} CPU s, channels_last {b:.2f} CPU s, "
              f"ratio {a / b:.2f}, largest feature difference {(fa - fb).abs().max():.1e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
