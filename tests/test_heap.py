"""A long-running process gives freed big buffers back to the system (glibc's mmap threshold kept fixed)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from rag.heap import keep_mmap_threshold

PROGRAM = """
import sys
import numpy as np
from rag.heap import keep_mmap_threshold
if sys.argv[1] == "fixed":
    keep_mmap_threshold()
def rss_mib():
    return int(open("/proc/self/statm").read().split()[1]) * 4096 / 2**20
big = np.ones(20 * 2**20 // 8)  # freeing a 20 MiB block raises glibc's threshold to 20 MiB...
del big
before = rss_mib()
blocks = [np.ones(4 * 2**20 // 8) for _ in range(50)]  # ...so these 4 MiB buffers come from the heap,
del blocks[:-1]  # and, the last one still held, none of the freed 196 MiB goes back
print(rss_mib() - before)
"""


def grown_mib(mode: str) -> float:
    out = subprocess.run([sys.executable, "-c", PROGRAM, mode], capture_output=True, text=True, check=True)
    return float(out.stdout)


@pytest.mark.skipif(not keep_mmap_threshold(), reason="glibc's mallopt is not available here")
def test_freed_buffers_go_back_once_the_threshold_is_kept() -> None:
    assert grown_mib("default") > 150  # the fragmentation the setting prevents
    assert grown_mib("fixed") < 20
