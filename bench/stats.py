"""Statistics the benchmarks share (the OCR tests measure with ``cer`` too), and the process's memory."""

from __future__ import annotations

import random
import resource
import statistics
from pathlib import Path


def bootstrap(diffs: list[float], rounds: int = 2000) -> tuple[float, float]:
    """Paired bootstrap over queries (or lists): the 95% interval of the mean difference."""
    rng = random.Random(7)
    means = sorted(statistics.fmean(rng.choices(diffs, k=len(diffs))) for _ in range(rounds))
    return means[int(0.025 * rounds)], means[int(0.975 * rounds)]


def process_memory_mib(pid: int) -> tuple[float, float]:
    """(RSS, peak RSS) of another process, in MiB, from /proc."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def peak_rss_mib() -> float:
    """This process's peak resident memory so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cer(got: str, want: str) -> float:
    """Character error rate: edit distance over the reference length (whitespace runs count as one space)."""
    a, b = " ".join(got.split()), " ".join(want.split())
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, start=1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1] / max(len(b), 1)
