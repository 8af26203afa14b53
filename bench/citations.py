"""How well the local citation check tells right citations from wrong ones, and what it costs per answer.

    # once: the SciFact store in .ragline-bench (see bench/rerank.py)
    .venv/bin/python bench/citations.py [--store .ragline-bench] [--queries 809] [--sentences]

Answers are built from SciFact **train**: the top 5 retrieved abstracts are the answer's passages (queries whose
relevant abstract is among them). Two kinds of claims, each with a right and a wrong citation:
- the query itself (SciFact queries are scientific claims) citing its relevant abstract (right) or the best
  retrieved non-relevant one (wrong: the same topic, a different finding);
- a sentence quoted from one passage (not its first) citing that passage (right) or another one (wrong).
Every answer has 5 claims (one or two of the first kind, the rest quoted), so the time is per 5-claim answer,
each with a new checker (no cached passage vectors). The threshold is chosen on the even-numbered queries (the
one that flags most wrong citations while flagging at most 10% of right ones) and reported on the odd ones.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.machine import describe_machine
from bench.stats import peak_rss_mib
from rag.citation_check import CitationChecker, split_sentences
from rag.config import Settings
from rag.evaluation import load_beir
from rag.wiring import OpenStores, build_parts

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "scifact"


def auc(scores: list[float], labels: list[int]) -> float:
    """Probability that a right citation scores above a wrong one (ties count half)."""
    pos = [s for s, y in zip(scores, labels, strict=True) if y]
    neg = [s for s, y in zip(scores, labels, strict=True) if not y]
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def rates(scores: list[float], labels: list[int], threshold: float) -> tuple[float, float]:
    """(share of wrong citations flagged, share of right ones flagged) at ``threshold``."""
    wrong = [s for s, y in zip(scores, labels, strict=True) if not y]
    right = [s for s, y in zip(scores, labels, strict=True) if y]
    return sum(s < threshold for s in wrong) / len(wrong), sum(s < threshold for s in right) / len(right)


def report(name: str, rows: list[tuple[int, str, float, int]], times: list[float]) -> None:
    even = [r for r in rows if r[0] % 2 == 0]
    odd = [r for r in rows if r[0] % 2 == 1]

    def on_even(t: float) -> tuple[float, float]:
        return rates([r[2] for r in even], [r[3] for r in even], t)

    threshold = max((t / 100 for t in range(5, 95) if on_even(t / 100)[1] <= 0.10), key=lambda t: on_even(t)[0])
    print(f"\n{name}: threshold chosen on the even-numbered answers {threshold:.2f}")
    print(f"{'claims':14} {'half':5} {'AUC':>6} {'wrong flagged':>14} {'right flagged':>14}")
    for kind in ("query claim", "quote", "all"):
        for half, part in (("even", even), ("odd", odd)):
            sel = [r for r in part if kind in ("all", r[1])]
            scores, labels = [r[2] for r in sel], [r[3] for r in sel]
            caught, false = rates(scores, labels, threshold)
            print(f"{kind:14} {half:5} {auc(scores, labels):6.3f} {caught:14.1%} {false:14.1%}")
    times.sort()
    print(
        f"time per 5-claim answer (a new checker, nothing cached): p50 {statistics.median(times):.1f} ms, "
        f"p95 {times[int(0.95 * len(times))]:.1f} ms"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--store", type=Path, default=Path(".ragline-bench"))
    ap.add_argument("--queries", type=int, default=809)
    ap.add_argument("--sentences", action="store_true", help="also compare with passages' sentences (slow)")
    args = ap.parse_args()
    print(describe_machine())
    started = time.perf_counter()
    settings = Settings(data_dir=args.store, collection="scifact", llm="none")
    split = load_beir(args.data, "train")
    qids = list(split.queries)[: args.queries]
    stores = OpenStores(settings)
    try:
        parts = build_parts(settings, stores, with_llm=False)
        pipeline = parts.pipeline
        replies = pipeline.search_many([split.queries[q] for q in qids], pipeline.options(top_k=5), rerank=False)
        store = stores(None)
        vectors = [store.dense_vectors([p.chunk_id for p in r.results]) for r in replies]
    finally:
        stores.close()
    rng = random.Random(3)
    rows: list[tuple[int, str, float, int]] = []  # (query index, kind, support, right?)
    sentence_rows: list[tuple[int, str, float, int]] = []  # the same, comparing with passages' sentences
    times, sentence_times = [], []
    for n, (q, reply) in enumerate(zip(qids, replies, strict=True)):
        passages = reply.results
        ids = [p.doc_id for p in passages]
        relevant = next((d for d in split.qrels[q] if d in ids), None)
        wrong = next((d for d in ids if d not in split.qrels[q]), None)
        if relevant is None or wrong is None:
            continue
        label = {d: i + 1 for i, d in enumerate(ids)}
        sentences = []
        for mark, text in ((label[relevant], passages[label[relevant] - 1].text),
                           (label[wrong], passages[label[wrong] - 1].text)):  # fmt: skip
            later = split_sentences(text)[1:]
            if later:
                sentences.append((mark, rng.choice(later)))
        if len(sentences) < 2:
            continue
        claim = split.queries[q].rstrip(".")
        # One answer with the right citations, one with every citation moved to a wrong passage.
        right = [f"{claim} [{label[relevant]}]."] + [f"{s.rstrip('.')} [{m}]." for m, s in sentences]
        other = {label[relevant]: label[wrong], label[wrong]: label[relevant]}
        wrong_answer = [f"{claim} [{label[wrong]}]."] + [f"{s.rstrip('.')} [{other[m]}]." for m, s in sentences]
        filler = [p for p in range(1, 6) if p not in other]
        for extra in filler[:2]:  # two more quoted, rightly cited claims: 5 claims an answer
            later = split_sentences(passages[extra - 1].text)[1:] or split_sentences(passages[extra - 1].text)
            quote = rng.choice(later).rstrip(".")
            right.append(f"{quote} [{extra}].")
            wrong_answer.append(f"{quote} [{extra}].")
        for answer, is_right in ((right, True), (wrong_answer, False)):
            modes = [(vectors[n], rows, times)] + ([(None, sentence_rows, sentence_times)] if args.sentences else [])
            for stored, into, timed in modes:
                checker = CitationChecker(parts.embedder, min_support=0.0)
                t0 = time.perf_counter()
                claims = checker.check(" ".join(answer), passages, stored)
                timed.append((time.perf_counter() - t0) * 1000)
                for k, c in enumerate(claims[:3]):  # the query claim and the two swapped quotes
                    kind = "query claim" if k == 0 else "quote"
                    into.append((n, kind, c.support or 0.0, int(is_right)))
    print(f"\n{len({r[0] for r in rows})} answers of each kind, {len(rows)} checked claims")
    report("stored passage vectors (the default)", rows, times)
    if args.sentences:
        report("passage sentences embedded", sentence_rows, sentence_times)
    print(f"\n({time.perf_counter() - started:.0f} s, peak RSS {peak_rss_mib():.0f} MiB)")


if __name__ == "__main__":
    main()
