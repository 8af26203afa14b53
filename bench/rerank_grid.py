"""The rerank fusion on synthetic candidate lists of every shape users have, not only SciFact's (about one
relevant document per query): lists of 2 to 100 candidates (RAGLINE_RERANK_CANDIDATES at most), 5% / 25% / 50%
of them relevant.

    .venv/bin/python bench/rerank_grid.py [--lists 2000]

Per list: graded relevance 0-3 (a relevant candidate is 1, 2 or 3 with probabilities 0.3, 0.3, 0.4), retrieval
scores of known quality (0.5 x relevance + standard normal noise: a relevant-3 candidate outranks an irrelevant
one 86% of the time, a relevant-1 64%), candidates in retrieval order. Judges grade 0-10 as the graded prompt
asks: perfect (round(10 x relevance / 3)), GPT-3.5 class and weak (relevance + normal noise of sd 0.8 and 1.5 on
the 0-3 scale, clipped, then scaled), and random (uniform integers 0-10). Each cell runs its lists in sequence
through the service's own fusion code (``rag.rerank.fusion``: the judge's trust is earned over the queries, as
in a running process) with the default settings. nDCG@10 of retrieval, of the judge's order alone and of the
fused order, with paired-bootstrap 95% intervals of fused - retrieval; "kept" is the perfect judge's share of
the gain up to the best order.

Targets: in every cell a random judge >= retrieval - 0.005 and a perfect judge keeps >= 80% of the gain; a list
of 2-5 where a new process's judge grades one passage 10 and the rest 0 puts that passage first.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.machine import describe_machine
from bench.stats import bootstrap, peak_rss_mib
from rag.config import Settings
from rag.ir_metrics import ndcg_at
from rag.rerank.fusion import JudgeTrust, fused_order
from rag.wiring import rerank_config

SIZES = (2, 3, 5, 10, 20, 50, 100)  # 100: RAGLINE_RERANK_CANDIDATES at most
SHARES = (0.05, 0.25, 0.5)
Judge = Callable[[int, random.Random], int]


def _noisy(sd: float) -> Judge:
    return lambda rel, rng: round(10 / 3 * min(3.0, max(0.0, rel + rng.gauss(0, sd))))


JUDGES: dict[str, Judge] = {
    "perfect": lambda rel, rng: round(10 * rel / 3),
    "GPT-3.5 class": _noisy(0.8),
    "weak": _noisy(1.5),
    "random": lambda rel, rng: rng.randint(0, 10),
}


def make_list(n: int, share: float, rng: random.Random) -> tuple[list[int], list[float]]:
    """(relevance, retrieval score) per candidate, in retrieval order."""
    relevant = max(1, round(share * n))
    rels = [rng.choices((1, 2, 3), (0.3, 0.3, 0.4))[0] for _ in range(relevant)] + [0] * (n - relevant)
    scored = sorted(((0.5 * r + rng.gauss(0, 1), r) for r in rels), reverse=True)
    return [r for _, r in scored], [s for s, _ in scored]


def ndcg(rels: list[int]) -> float:
    return ndcg_at([str(i) for i in range(len(rels))], {str(i): r for i, r in enumerate(rels) if r}, 10)


def run_cell(n: int, share: float, lists: int, settings: Settings, seed: int) -> dict[str, dict[str, list[float]]]:
    """Per judge: nDCG@10 per list of retrieval, the judge alone and the fused order."""
    rng = random.Random(seed)
    data = [make_list(n, share, rng) for _ in range(lists)]
    cfg = rerank_config(settings)
    out: dict[str, dict[str, list[float]]] = {}
    for name, judge in JUDGES.items():
        jrng = random.Random(f"{seed}-{name}")
        trust = JudgeTrust(cfg.trust)  # a new process per cell and judge
        rows: dict[str, list[float]] = {"retrieval": [], "judge": [], "fused": [], "best": []}
        for rels, scores in data:
            grades = [judge(r, jrng) / 10 for r in rels]
            order = fused_order(grades, scores, cfg.weight, trust.trust())
            trust.record(grades)
            alone = sorted(range(n), key=lambda i: -grades[i])
            rows["retrieval"].append(ndcg(rels))
            rows["judge"].append(ndcg([rels[i] for i in alone]))
            rows["fused"].append(ndcg([rels[i] for i in order]))
            rows["best"].append(ndcg(sorted(rels, reverse=True)))
        out[name] = rows
    return out


def decisive_short_lists(settings: Settings) -> bool:
    """A new process; the judge grades the last of 2-5 candidates 10 and the rest 0: is it put first?"""
    cfg = rerank_config(settings)
    ok = True
    for n in (2, 3, 4, 5):
        grades = [0.0] * (n - 1) + [1.0]
        order = fused_order(grades, [1.0 - i / 10 for i in range(n)], cfg.weight, JudgeTrust(cfg.trust).trust())
        print(f"   n={n}: the passage graded 10 comes {order.index(n - 1) + 1}{'st' if order[0] == n - 1 else ''}")
        ok &= order[0] == n - 1
    return ok


def grid(lists: int, settings: Settings) -> bool:
    cfg = rerank_config(settings)
    print(
        f"\nE. synthetic candidate lists, {lists} lists per cell (fewer past 20 candidates), weight {cfg.weight}, "
        f"full trust at agreement "
        f"{cfg.trust.full_agreement}, memory {cfg.trust.memory}, prior {cfg.trust.prior_agreement} x "
        f"{cfg.trust.prior_pairs:g} pairs"
    )
    print(
        f"{'n':>3} {'rel':>4} {'judge':14} {'retrieval':>9} {'judge alone':>11} {'fused':>7} "
        f"{'fused - retrieval [95% CI]':>28} {'kept':>6}"
    )
    worst: dict[str, tuple[float, str]] = {}
    ok = True
    for n in SIZES:
        for share in SHARES:
            count = lists if n <= 20 else max(200, lists * 20 // n)  # long lists: fewer, as many pairs
            cell = run_cell(n, share, count, settings, seed=n * 1000 + int(share * 100))
            for name, rows in cell.items():
                base, fused = statistics.fmean(rows["retrieval"]), statistics.fmean(rows["fused"])
                best = statistics.fmean(rows["best"])
                diffs = [f - r for f, r in zip(rows["fused"], rows["retrieval"], strict=True)]
                lo, hi = bootstrap(diffs)
                kept = (fused - base) / (best - base) if best > base else 1.0
                where = f"n={n}, {share:.0%} relevant"
                if name == "perfect":
                    ok &= kept >= 0.8
                    key = kept
                else:
                    key = fused - base
                    ok &= name != "random" or key >= -0.005
                if name not in worst or key < worst[name][0]:
                    worst[name] = (key, where)
                print(
                    f"{n:3} {share:4.0%} {name:14} {base:9.4f} {statistics.fmean(rows['judge']):11.4f} {fused:7.4f} "
                    f"{fused - base:+8.4f} [{lo:+.4f}, {hi:+.4f}] " + (f"{kept:6.1%}" if name == "perfect" else ""),
                    flush=True,
                )
    print("\n   worst cell per judge (perfect: gain kept; others: fused - retrieval):")
    for name, (value, where) in worst.items():
        print(f"   {name:14} {value:+.4f} ({where})" if name != "perfect" else f"   {name:14} {value:.1%} ({where})")
    print("\n   a decisive judge on a short list, new process:")
    ok &= decisive_short_lists(settings)
    print(f"\n   targets {'met' if ok else 'NOT met'}")
    return ok


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lists", type=int, default=2000)
    args = ap.parse_args()
    print(describe_machine())
    started = time.perf_counter()
    grid(args.lists, Settings())
    print(f"\n({time.perf_counter() - started:.0f} s, peak RSS {peak_rss_mib():.0f} MiB)")


if __name__ == "__main__":
    main()
