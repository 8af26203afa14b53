"""Real data in the default run: 300 SciFact abstracts, queried with their own train claims."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ingest.pipeline import Ingestor
from rag.config import Settings
from rag.embedding import Embedder
from rag.ingest_wiring import ingest_options
from rag.ir_metrics import ndcg_at
from rag.llm.backend_choice import make_llm
from rag.llm.pricing import PriceTable
from rag.llm.usage import Usage, UsageMeter
from rag.prompt_blocks import clip, title_budget
from rag.retrieval import Retriever, SearchOptions
from rag.wiring import make_metered, make_reranker, make_retriever, make_sparse, open_store
from testkit.gemini import gemini_server
from testkit.judges import Passage, judge
from tests.conftest import SCIFACT

pytestmark = pytest.mark.skipif(not SCIFACT.is_dir(), reason="shared SciFact data not present")
N_DOCS, N_QUERIES = 300, 60


@dataclass(frozen=True)
class Subset:
    folder: Path
    queries: dict[str, str]  # query id → text, for the first N_QUERIES judged train queries
    qrels: dict[str, dict[str, int]]
    titles: dict[str, set[str]]  # title as a prompt shows it → doc ids, how a judge recognises a passage


def _subset(root: Path) -> Subset:
    qrels: dict[str, dict[str, int]] = {}
    for line in (SCIFACT / "qrels" / "train.tsv").read_text().splitlines()[1:]:
        qid, doc, score = line.split("\t")
        qrels.setdefault(qid, {})[doc] = int(score)
    qrels = dict(list(qrels.items())[:N_QUERIES])
    texts = {q["_id"]: q["text"] for q in map(json.loads, (SCIFACT / "queries.jsonl").open())}
    corpus = [json.loads(line) for line in (SCIFACT / "corpus.jsonl").open()]
    wanted = {d for docs in qrels.values() for d in docs}
    keep = [d for d in corpus if d["_id"] in wanted]
    keep += [d for d in corpus if d["_id"] not in wanted][: N_DOCS - len(keep)]
    folder = root / "scifact"
    folder.mkdir()
    (folder / "corpus.jsonl").write_text("\n".join(json.dumps(d) for d in keep))
    titles: dict[str, set[str]] = {}
    for d in keep:
        shown = clip(d["title"], title_budget(Settings().rerank_passage_tokens))
        titles.setdefault(shown, set()).add(d["_id"])
    return Subset(folder, {q: texts[q] for q in qrels}, qrels, titles)


@pytest.fixture(scope="module")
def scifact(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[tuple[Subset, Retriever]]:
    root = tmp_path_factory.mktemp("scifact")
    subset = _subset(root)
    settings = Settings(data_dir=root / "data")
    store = open_store(settings)
    report = Ingestor(ingest_options(settings), store, embedder, make_sparse(settings)).run([subset.folder])
    assert report.added == N_DOCS and not report.failed
    yield subset, make_retriever(settings, store, embedder, make_sparse(settings))
    store.close()


def test_scifact_subset_hybrid_finds_relevant(scifact) -> None:
    subset, retriever = scifact
    queries = list(subset.queries.items())
    hits = {}
    for mode in ("dense", "sparse", "hybrid"):
        outs = retriever.search_batch([t for _, t in queries], SearchOptions(top_k=10, mode=mode))
        pairs = zip(outs, queries, strict=True)
        hits[mode] = sum(bool({r.doc_id for r in o.results} & set(subset.qrels[q])) for o, (q, _) in pairs)
    # BEIR ids survive as doc ids, and most claims find a relevant abstract in the top 10.
    assert hits["hybrid"] >= 0.8 * len(queries), hits
    assert hits["hybrid"] >= max(hits["dense"], hits["sparse"]) - 2, hits


@pytest.mark.parametrize("strategy", ["graded", "pointwise", "listwise"])
def test_a_perfect_judge_reaches_the_best_order_the_candidates_allow(scifact, strategy: str) -> None:
    """The plumbing loses nothing: prompts, parsing and reordering carry a perfect judgement through."""
    subset, retriever = scifact
    by_text = {text: q for q, text in subset.queries.items()}

    def grade(query: str, passage: Passage) -> int:
        rels = subset.qrels[by_text[query]]
        return max((rels.get(d, 0) for d in subset.titles.get(passage.title, ())), default=0)

    with gemini_server() as server:
        server.fake.responder = judge(grade)
        settings = Settings(
            gemini_api_key="k",
            gemini_base_url=server.url,
            rerank_strategy=strategy,
            rerank_timeout_ms=30_000,
            rerank_cache_size=0,
            rerank_weight=100.0,  # the judge decides: the plumbing, not the fusion, is under test
            llm_rpm=0,  # 1,800 pointwise calls in seconds: a fake has no quota
        )
        reranker = make_reranker(settings, make_metered(settings, make_llm(settings), UsageMeter(PriceTable())))
        got = best = before = 0.0
        for q, text in subset.queries.items():
            candidates = retriever.search(text, SearchOptions(top_k=30, mode="hybrid")).results
            out = reranker.rerank(text, candidates, Usage())
            assert out.status == "ok", out.reason
            rels = subset.qrels[q]
            ideal = sorted(candidates, key=lambda c: -rels.get(c.doc_id, 0))
            got += ndcg_at([r.doc_id for r in out.results], rels, 10)
            best += ndcg_at([r.doc_id for r in ideal], rels, 10)
            before += ndcg_at([r.doc_id for r in candidates], rels, 10)
        reranker.close()
    assert got >= 0.99 * best and best > before  # and the judge had something to improve
