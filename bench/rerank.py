"""What the rerank stage costs and whether it loses anything, with fake LLM servers behind the real SDK.

    # once: the SciFact store in .ragline-bench
    RAGLINE_DATA_DIR=.ragline-bench .venv/bin/rag eval ../shared/datasets/scifact --split train --collection scifact
    .venv/bin/python bench/rerank.py [--store .ragline-bench] [--queries 809] [--latency-queries 30]

A. Perfect judge (SciFact train qrels behind a fake Gemini, no added latency): nDCG@10 of retrieval, of the
   reranked order, and of the best order the candidates allow; tokens per query (the fake counts tokens with
   MiniLM's WordPiece tokenizer, a stand-in for Gemini's); the stage's own time (stage minus LLM wait).
B. Fixed 100 ms LLM: stage latency per setting, against the 100 ms x sequential calls it cannot avoid.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the fake servers live with the tests

from bench.machine import describe_machine
from rag.config import Settings
from rag.evaluation import load_beir
from rag.ir_metrics import ndcg_at
from rag.llm.gemini_backend import GeminiBackend
from rag.llm.pricing import PriceTable
from rag.llm.usage import MeteredLLM, Usage, UsageMeter
from rag.rerank.reranker import Reranker
from rag.retrieval import Retriever, SearchOptions
from rag.wiring import make_embedder, make_reranker, make_retriever, make_sparse, open_store
from tests.fakes.gemini import gemini_server
from tests.fakes.judges import Passage, judge
from tests.fakes.server import Behaviour

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "scifact"
CANDIDATES = 30


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


def reranker(url: str, meter: UsageMeter, **config: object) -> Reranker:
    llm = MeteredLLM(GeminiBackend("bench", "gemini-3.1-flash-lite", url), meter)
    overrides = {f"rerank_{k}": v for k, v in config.items()}
    return make_reranker(Settings(rerank_timeout_ms=60_000, rerank_cache_size=0, **overrides), llm)


def perfect_judge(args: argparse.Namespace, retriever: Retriever, count_tokens) -> None:
    split = load_beir(args.data, "train")
    qids = list(split.queries)[: args.queries]
    titles: dict[str, set[str]] = {}
    for doc in map(json.loads, split.corpus.open()):
        titles.setdefault(doc["title"], set()).add(doc["_id"])
    by_text = {split.queries[q]: q for q in qids}

    def grade(query: str, passage: Passage) -> int:
        rels = split.qrels[by_text[query]]
        return max((rels.get(d, 0) for d in titles.get(passage.title, ())), default=0)

    outs = retriever.search_batch([split.queries[q] for q in qids], SearchOptions(top_k=CANDIDATES, mode="hybrid"))
    print(f"A. perfect judge: SciFact train, {len(qids)} queries, hybrid top-{CANDIDATES} candidates")
    print(
        f"{'strategy':10} {'retrieval':>9} {'reranked':>9} {'best':>7} {'ratio':>6} {'in tok/q':>9} "
        f"{'out tok/q':>9} {'calls/q':>7} {'$/1k q':>7} {'own ms p50':>10} {'p95':>6}"
    )
    with gemini_server() as server:
        server.fake.responder = judge(grade)
        server.fake.count_tokens = count_tokens
        for strategy in ("pointwise", "listwise"):
            meter = UsageMeter(PriceTable())
            rr = reranker(server.url, meter, strategy=strategy)
            before = got = best = 0.0
            own = []
            for q, out in zip(qids, outs, strict=True):
                cands = out.results
                res = rr.rerank(split.queries[q], cands, Usage())
                assert res.status == "ok", res.reason
                rels = split.qrels[q]
                before += ndcg_at([c.doc_id for c in cands], rels, 10)
                got += ndcg_at([c.doc_id for c in res.results], rels, 10)
                best += ndcg_at([c.doc_id for c in sorted(cands, key=lambda c: -rels.get(c.doc_id, 0))], rels, 10)
                own.append(res.ms - res.llm_ms)
            rr.close()
            n = len(qids)
            total = meter.summary()["total"]
            print(
                f"{strategy:10} {before / n:9.4f} {got / n:9.4f} {best / n:7.4f} {got / best:6.4f} "
                f"{total['input_tokens'] / n:9.0f} {total['output_tokens'] / n:9.1f} {total['calls'] / n:7.1f} "
                f"{total['cost_usd'] / n * 1000:7.3f} {pct(own, 50):10.2f} {pct(own, 95):6.2f}"
            )


def fixed_latency(args: argparse.Namespace, retriever: Retriever) -> None:
    split = load_beir(args.data, "train")
    queries = list(split.queries.values())[: args.latency_queries]
    outs = retriever.search_batch(queries, SearchOptions(top_k=20, mode="hybrid"))
    settings = [
        ("pointwise, 20 candidates", {"strategy": "pointwise"}, 1),
        ("listwise, window 20 (1 call)", {"strategy": "listwise", "window": 20, "step": 10}, 1),
        ("listwise, window 10 step 5 (3 calls)", {"strategy": "listwise", "window": 10, "step": 5}, 3),
    ]
    print(f"\nB. fake LLM with a fixed 100 ms per call, {len(queries)} queries of 20 candidates each")
    print(f"{'setting':38} {'stage p50 ms':>12} {'p95':>7} {'floor ms':>8} {'added p50':>9} {'vs 1 call':>9}")
    with gemini_server() as server:
        server.fake.responder = judge(lambda q, p: len(p.text) % 4)
        server.fake.default = Behaviour(delay_s=0.1)
        for name, config, sequential in settings:
            rr = reranker(server.url, UsageMeter(PriceTable()), **config)
            rr.rerank("warm up", outs[0].results, Usage())
            stage = []
            for q, out in zip(queries, outs, strict=True):
                res = rr.rerank(q, out.results, Usage())
                assert res.status == "ok", res.reason
                stage.append(res.ms)
            rr.close()
            floor = 100.0 * sequential
            p50 = pct(stage, 50)
            print(f"{name:38} {p50:12.1f} {pct(stage, 95):7.1f} {floor:8.0f} {p50 - floor:9.1f} {p50 / 100:8.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--store", type=Path, default=Path(".ragline-bench"))
    ap.add_argument("--queries", type=int, default=809)
    ap.add_argument("--latency-queries", type=int, default=30)
    args = ap.parse_args()
    print(describe_machine())
    settings = Settings(data_dir=args.store, collection="scifact")
    embedder = make_embedder(settings)
    retriever = make_retriever(settings, open_store(settings), embedder, make_sparse(settings))
    if retriever.store.meta() is None:
        raise SystemExit(f"no SciFact store in {args.store}: run rag eval first (see the docstring)")
    tokenizer = embedder.tokenizer
    started = time.perf_counter()
    perfect_judge(args, retriever, lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"]))
    fixed_latency(args, retriever)
    retriever.store.close()
    print(f"\n({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
