"""What a benchmark ran on: processor, cores, memory, GPU, library versions, load, date."""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path
from typing import Any

import onnxruntime
import torch

from fakescope.speed import fast_mixed_precision, usable_cores

# Instruction sets that decide which fast kernels torch and onnxruntime can use on x86.
CPU_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16")


def _cpuinfo() -> dict[str, str]:
    """The first processor's entries of /proc/cpuinfo (Linux); empty elsewhere."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return {}
    entries: dict[str, str] = {}
    for line in text.split("\n\n", 1)[0].splitlines():
        key, _, value = line.partition(":")
        entries[key.strip()] = value.strip()
    return entries


def memory_gib() -> float | None:
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        return None


def load_average() -> tuple[float, float, float]:
    """1, 5 and 15 minute load averages (runnable processes; compare with the core count)."""
    one, five, fifteen = os.getloadavg()
    return round(one, 2), round(five, 2), round(fifteen, 2)


def native_bf16() -> bool:
    """Whether this CPU computes in bf16 natively (AVX512-BF16 or AMX); elsewhere oneDNN
    emulates bf16 in fp32 units and fakescope trains in fp32."""
    return fast_mixed_precision(torch.device("cpu"))


def bf16_statement(native: bool) -> str:
    if native:
        return ("this CPU has native bf16 (AVX512-BF16/AMX): rows held to fp32, and rows with "
                "the settings fakescope picks by default (bf16 autocast where its probe finds it "
                "faster)")
    return ("this CPU has no native bf16 (no AVX512-BF16/AMX): fakescope trains in fp32 here, "
            "so every row is fp32")


def timestamp() -> str:
    return time.strftime("%Y-%m-%d %H:%M %Z")


def describe_machine() -> dict[str, Any]:
    info = _cpuinfo()
    flags = set(info.get("flags", "").split())
    return {
        "cpu": info.get("model name") or platform.processor() or platform.machine(),
        "architecture": platform.machine(),
        "cpu_flags": [flag for flag in CPU_FLAGS if flag in flags],
        "native_bf16": native_bf16(),
        "logical_cores": os.cpu_count(),
        "usable_cores": usable_cores(),
        "memory_gib": memory_gib(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "os": platform.platform(terse=True),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "onnxruntime": onnxruntime.__version__,
    }
