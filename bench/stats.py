"""Statistics the benchmarks share, and the process's memory to print beside their times."""

from __future__ import annotations

import random
import resource
import statistics


def bootstrap(diffs: list[float], rounds: int = 2000) -> tuple[float, float]:
    """Paired bootstrap over queries (or lists): the 95% interval of the mean difference."""
    rng = random.Random(7)
    means = sorted(statistics.fmean(rng.choices(diffs, k=len(diffs))) for _ in range(rounds))
    return means[int(0.025 * rounds)], means[int(0.975 * rounds)]


def peak_rss_mib() -> float:
    """This process's peak resident memory so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
