"""The machine a benchmark ran on: figures depend on the CPU (the int8 embedder gains most with AVX-512 VNNI)."""

from __future__ import annotations

import os
import platform
from pathlib import Path

# The instruction-set flags that move ragline's figures (ONNX int8, HNSW distance kernels).
_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "avx_vnni", "amx_int8")


def describe_machine() -> str:
    """One line: CPU model, cores, the relevant instruction-set flags, Python."""
    model, flags = platform.processor() or platform.machine(), set()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                model = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
    have = [f for f in _FLAGS if f in flags] or ["(flags unknown)"]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"machine: {model}, {cores} cores, {' '.join(have)}; Python {platform.python_version()}"
