"""What the rerank stage costs, and whether it can make results worse than retrieval, with simulated judges of
known quality behind a fake Gemini server and the real google-genai client.

    # once: the SciFact store in .ragline-bench
    RAGLINE_DATA_DIR=.ragline-bench .venv/bin/rag eval ../shared/datasets/scifact --split train --collection scifact
    .venv/bin/python bench/rerank.py [--store .ragline-bench] [--queries 809] [--latency-queries 30]

A. Ceilings: nDCG@10 of retrieval and of the best order of its top 10 / 15 / 20 / 30 (what a perfect judge can
   reach with that many candidates).
B. Judges: perfect (the train qrels), "GPT-3.5 class" and "weak" (the qrels blurred by noise tuned so that the
   judge's own order of the candidates scores about 0.70 and 0.60), and random. Per judge: nDCG@10 of retrieval
   alone, the judge's order alone and the fused order (RAGLINE_RERANK_WEIGHT), with paired-bootstrap 95%
   intervals; the fused column runs through the service's own Reranker and the fake server end to end, the
   queries in sequence (the judge's trust is earned over them, as in a running process). Then the sweep of
   weight and full-trust agreement that chose the defaults (the same fusion code on the same grades).
C. Cost per strategy with the defaults, as the service itself counts it (tokens from the fake at 4 characters
   each; the fake spends 12 thought tokens at thinkingLevel minimal — an assumption, billed as output).
D. Stage latency with a fake LLM that takes exactly 100 ms per call.
E. The synthetic grid of bench/rerank_grid.py: lists of 2 to 20 candidates, 5-50% relevant (SciFact has about
   one relevant document per query; users' lists are short, filtered or dense).
Simulated judges grade the document, not the words they are shown: the passage budget cannot change their
quality, only the cost.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the fake servers live with the tests

from bench.machine import describe_machine
from bench.rerank_grid import grid
from bench.scifact_store import retrieved
from bench.stats import bootstrap, peak_rss_mib
from rag.config import Settings
from rag.evaluation import load_beir
from rag.ir_metrics import ndcg_at
from rag.llm.backend_choice import make_llm
from rag.llm.pricing import PriceTable
from rag.llm.usage import Usage, UsageMeter
from rag.prompt_blocks import clip, title_budget
from rag.rerank.fusion import JudgeTrust, TrustConfig, fused_order
from rag.rerank.reranker import Reranker
from rag.stored_chunk import SearchResult
from rag.wiring import make_metered, make_reranker
from testkit.gemini import gemini_server
from testkit.judges import Passage, judge
from testkit.server import Behaviour

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "scifact"
FUSIONS = [(w, a) for a in (0.1, 0.2, 0.3) for w in (2.0, 4.0, 6.0, 10.0)]  # (weight, full-trust agreement)
Grade = Callable[[str, Passage], float]


@dataclass
class Data:
    queries: dict[str, str]  # id -> text
    qrels: dict[str, dict[str, int]]
    candidates: dict[str, list[SearchResult]]  # id -> retrieval's top RAGLINE_RERANK_CANDIDATES
    titles: dict[str, set[str]]  # title as prompts show it -> doc ids (a judge sees the title, as a model would)
    title_key: Callable[[str], str]  # a title as the prompts show it (clipped to the passage budget)


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


def ndcg(order: list[SearchResult], rels: dict[str, int]) -> float:
    return ndcg_at([c.doc_id for c in order], rels, 10)


def settings_for(url: str, **overrides: object) -> Settings:
    base = {"gemini_api_key": "bench", "gemini_base_url": url, "rerank_cache_size": 0, "llm_rpm": 0}
    return Settings(**{**base, "rerank_timeout_ms": 60_000, **overrides})


def reranker(settings: Settings, meter: UsageMeter) -> Reranker:
    llm = make_llm(settings)
    assert llm is not None
    return make_reranker(settings, make_metered(settings, llm, meter))


# -- judges --------------------------------------------------------------------------------------------------


def relevance_of(data: Data, by_text: dict[str, str]) -> Callable[[str, Passage], int]:
    def rel(query: str, passage: Passage) -> int:
        rels = data.qrels[by_text[query]]
        return max((rels.get(d, 0) for d in data.titles.get(data.title_key(passage.title), ())), default=0)

    return rel


def noisy(rel: Callable[[str, Passage], int], sigma: float | None) -> Grade:
    """A judge on the 0-3 scale: the truth blurred by Gaussian noise (None: pure noise), the same every call."""

    def grade(query: str, passage: Passage) -> float:
        title = passage.title.removesuffix(" …")[:48]  # the same seed whether the prompt clipped the title or not
        seed = int.from_bytes(hashlib.sha256(f"{query}\x00{title}".encode()).digest()[:8], "big")
        rng = random.Random(seed)
        if sigma is None:
            return rng.uniform(0, 3)
        return max(0.0, min(3.0, 3 * rel(query, passage) + rng.gauss(0, sigma)))

    return grade


def judge_order(data: Data, grade: Grade, q: str) -> list[SearchResult]:
    cands = data.candidates[q]
    grades = [grade(data.queries[q], Passage(0, c.title, c.text)) for c in cands]
    return [cands[i] for i in sorted(range(len(cands)), key=lambda i: -grades[i])]


def tuned(data: Data, rel: Callable[[str, Passage], int], target: float) -> float:
    """The noise whose judge alone scores ``target`` nDCG@10 over the candidates (bisection)."""
    lo, hi = 0.0, 8.0
    for _ in range(14):
        mid = (lo + hi) / 2
        score = statistics.fmean(ndcg(judge_order(data, noisy(rel, mid), q), data.qrels[q]) for q in data.queries)
        lo, hi = (mid, hi) if score > target else (lo, mid)
    return (lo + hi) / 2


# -- sections --------------------------------------------------------------------------------------------------


def ceilings(data: Data, deep: dict[str, list[SearchResult]]) -> None:
    print("\nA. nDCG@10 ceiling: the best order of retrieval's top k (SciFact train)")
    base = statistics.fmean(ndcg(deep[q], data.qrels[q]) for q in data.queries)
    print(f"   retrieval alone {base:.4f}")
    for k in (10, 15, 20, 30):
        best = statistics.fmean(
            ndcg(sorted(deep[q][:k], key=lambda c: -data.qrels[q].get(c.doc_id, 0)), data.qrels[q])
            for q in data.queries
        )
        print(f"   best order of the top {k:2}: {best:.4f}  (+{best - base:.4f})")


def judges(data: Data, defaults: Settings) -> None:
    by_text = {t: q for q, t in data.queries.items()}
    rel = relevance_of(data, by_text)
    kinds: dict[str, Grade] = {"perfect": rel}
    kinds["GPT-3.5 class"] = noisy(rel, tuned(data, rel, 0.70))
    kinds["weak"] = noisy(rel, tuned(data, rel, 0.60))
    kinds["random"] = noisy(rel, None)
    qids = list(data.queries)
    retrieval = [ndcg(data.candidates[q], data.qrels[q]) for q in qids]
    best = statistics.fmean(
        ndcg(sorted(data.candidates[q], key=lambda c: -data.qrels[q].get(c.doc_id, 0)), data.qrels[q]) for q in qids
    )
    print(
        f"\nB. judges, {len(qids)} queries, top {defaults.rerank_candidates} candidates, {defaults.rerank_strategy}, "
        f"weight {defaults.rerank_weight}, full trust at agreement {defaults.rerank_full_trust_agreement}; best "
        "order of the candidates "
        f"{best:.4f}"
    )
    print(
        f"{'judge':14} {'retrieval':>9} {'judge alone':>11} {'fused':>7}  {'fused - retrieval [95% CI]':>28}  "
        f"{'judge - retrieval [95% CI]':>28}  gain kept"
    )
    sweeps: dict[str, dict[tuple[float, float], list[float]]] = {}
    for name, grade in kinds.items():
        alone = [ndcg(judge_order(data, grade, q), data.qrels[q]) for q in qids]
        fused = end_to_end(data, grade, defaults)
        d_fused = [f - r for f, r in zip(fused, retrieval, strict=True)]
        d_alone = [a - r for a, r in zip(alone, retrieval, strict=True)]
        lo, hi = bootstrap(d_fused)
        alo, ahi = bootstrap(d_alone)
        base, mean_fused = statistics.fmean(retrieval), statistics.fmean(fused)
        kept = (mean_fused - base) / (best - base) if name == "perfect" else float("nan")
        print(
            f"{name:14} {base:9.4f} {statistics.fmean(alone):11.4f} {mean_fused:7.4f}  "
            f"{statistics.fmean(d_fused):+8.4f} [{lo:+.4f}, {hi:+.4f}]  "
            f"{statistics.fmean(d_alone):+8.4f} [{alo:+.4f}, {ahi:+.4f}]  "
            + (f"{kept:.1%}" if name == "perfect" else ""),
            flush=True,
        )
        sweeps[name] = {f: sweep(data, grade, *f, defaults) for f in FUSIONS}
    gain = best - statistics.fmean(retrieval)
    print("\n   fusion sweep, fused - retrieval nDCG@10 (graded 0-10 grades through the same fusion code), on the")
    print("   even-numbered queries (where the default was chosen) / the odd-numbered (held out):")
    print("   " + f"{'weight':>6} {'agreement':>9} " + " ".join(f"{n:>17}" for n in kinds) + "  meets all three")
    for f in FUSIONS:
        even = {n: statistics.fmean(sweeps[n][f][0::2]) - statistics.fmean(retrieval[0::2]) for n in kinds}
        odd = {n: statistics.fmean(sweeps[n][f][1::2]) - statistics.fmean(retrieval[1::2]) for n in kinds}
        ok = even["random"] >= -0.005 and even["GPT-3.5 class"] >= 0.02 and even["perfect"] >= 0.9 * gain
        cells = " ".join(f"{even[n]:+8.4f}/{odd[n]:+8.4f}" for n in kinds)
        print("   " + f"{f[0]:6.1f} {f[1]:9.1f} " + cells + ("  yes" if ok else ""))


def sweep(data: Data, grade: Grade, weight: float, agreement: float, defaults: Settings) -> list[float]:
    """nDCG@10 per query of the fusion with these settings, the queries in sequence from a new process."""
    trust = JudgeTrust(
        TrustConfig(
            agreement, defaults.rerank_trust_memory, defaults.rerank_prior_agreement, defaults.rerank_prior_pairs
        )
    )
    scores = []
    for q in data.queries:
        cands = data.candidates[q]
        relevance = [round(grade(data.queries[q], Passage(0, c.title, c.text)) * 10 / 3) / 10 for c in cands]
        order = fused_order(relevance, [c.score for c in cands], weight, trust.trust())
        trust.record(relevance)
        scores.append(ndcg([cands[i] for i in order], data.qrels[q]))
    return scores


def end_to_end(data: Data, grade: Grade, defaults: Settings) -> list[float]:
    """nDCG@10 per query of the service's Reranker over the fake server, with the default settings."""
    out = []
    with gemini_server() as server:
        server.fake.responder = judge(grade)
        rr = reranker(settings_for(server.url, **_rerank_fields(defaults)), UsageMeter(PriceTable()))
        for q, text in data.queries.items():
            res = rr.rerank(text, data.candidates[q], Usage())
            assert res.status == "ok", res.reason
            out.append(ndcg(res.results, data.qrels[q]))
        rr.close()
    return out


def _rerank_fields(s: Settings) -> dict[str, object]:
    return {k: v for k, v in s.model_dump().items() if k.startswith("rerank_") and k != "rerank_cache_size"}


def cost(data: Data, defaults: Settings) -> None:
    by_text = {t: q for q, t in data.queries.items()}
    grade = relevance_of(data, by_text)
    print(
        f"\nC. cost per query with the defaults (candidates {defaults.rerank_candidates}, passage budget "
        f"{defaults.rerank_passage_tokens} tokens), as usage.cost_usd reports it"
    )
    print(f"{'strategy':10} {'calls':>6} {'input':>7} {'output':>7} {'of it thinking':>14} {'$ per 1k queries':>16}")
    for strategy in ("graded", "pointwise", "listwise"):
        with gemini_server() as server:
            server.fake.responder = judge(grade)
            meter = UsageMeter(PriceTable())
            fields = {**_rerank_fields(defaults), "rerank_strategy": strategy}
            rr = reranker(settings_for(server.url, **fields, llm_max_concurrency=32), meter)
            for q, text in data.queries.items():
                assert rr.rerank(text, data.candidates[q], Usage()).status == "ok"
            rr.close()
        t, n = meter.summary()["total"], len(data.queries)
        print(
            f"{strategy:10} {t['calls'] / n:6.1f} {t['input_tokens'] / n:7.0f} {t['output_tokens'] / n:7.1f} "
            f"{t['thinking_tokens'] / n:14.1f} {t['cost_usd'] / n * 1000:16.3f}",
            flush=True,
        )


def latency(data: Data, defaults: Settings, n: int) -> None:
    qids = list(data.queries)[:n]
    print(
        f"\nD. a fake LLM taking exactly 100 ms per call, {len(qids)} queries, "
        f"{defaults.rerank_candidates} candidates, RAGLINE_LLM_MAX_CONCURRENCY {defaults.llm_max_concurrency}"
    )
    print(f"{'strategy':28} {'stage p50 ms':>12} {'p95':>7} {'vs one call':>11}")
    runs = [
        ("graded (1 call)", {"rerank_strategy": "graded"}),
        ("pointwise", {"rerank_strategy": "pointwise"}),
        ("listwise, window 20 step 10", {"rerank_strategy": "listwise"}),
    ]
    with gemini_server() as server:
        server.fake.responder = judge(lambda q, p: len(p.text) % 4)
        server.fake.default = Behaviour(delay_s=0.1)
        for name, fields in runs:
            rr = reranker(settings_for(server.url, **{**_rerank_fields(defaults), **fields}), UsageMeter(PriceTable()))
            rr.rerank("warm up", data.candidates[qids[0]], Usage())
            stage = []
            for q in qids:
                res = rr.rerank(data.queries[q], data.candidates[q], Usage())
                assert res.status == "ok", res.reason
                stage.append(res.ms)
            rr.close()
            print(f"{name:28} {pct(stage, 50):12.1f} {pct(stage, 95):7.1f} {pct(stage, 50) / 100:10.2f}x", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--store", type=Path, default=Path(".ragline-bench"))
    ap.add_argument("--queries", type=int, default=809)
    ap.add_argument("--latency-queries", type=int, default=30)
    ap.add_argument("--grid-lists", type=int, default=2000, help="synthetic lists per cell of section E")
    args = ap.parse_args()
    print(describe_machine())
    started = time.perf_counter()
    defaults = Settings(data_dir=args.store, collection="scifact")
    split = load_beir(args.data, "train")
    qids = list(split.queries)[: args.queries]
    found = retrieved(defaults, [split.queries[q] for q in qids], 30)
    deep = dict(zip(qids, found, strict=True))

    def title_key(title: str) -> str:
        return clip(title, title_budget(defaults.rerank_passage_tokens))

    titles: dict[str, set[str]] = {}
    for doc in map(json.loads, split.corpus.open()):
        titles.setdefault(title_key(doc["title"]), set()).add(doc["_id"])
    data = Data(
        {q: split.queries[q] for q in qids},
        {q: split.qrels[q] for q in qids},
        {q: deep[q][: defaults.rerank_candidates] for q in qids},
        titles,
        lambda shown: shown if shown.endswith(" …") else title_key(shown),
    )
    ceilings(data, deep)
    judges(data, defaults)
    cost(data, defaults)
    latency(data, defaults, args.latency_queries)
    grid(args.grid_lists, defaults)
    print(f"\n({time.perf_counter() - started:.0f} s, peak RSS {peak_rss_mib():.0f} MiB)")


if __name__ == "__main__":
    main()
