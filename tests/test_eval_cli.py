"""``rag eval`` on a small BEIR folder cut from SciFact, as a real process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from testkit.gemini import gemini_server
from testkit.judges import Passage, judge
from tests.conftest import SCIFACT
from tests.test_ask_cli import rag
from tests.test_ingest import cli_env

pytestmark = pytest.mark.skipif(not SCIFACT.is_dir(), reason="shared SciFact data not present")


@pytest.fixture(scope="module")
def beir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """122 abstracts (42 judged, 80 others), the train queries judged on them, and their qrels."""
    folder = tmp_path_factory.mktemp("beir") / "tiny-scifact"
    (folder / "qrels").mkdir(parents=True)
    lines = (SCIFACT / "qrels" / "train.tsv").read_text().splitlines()
    judged = [line.split("\t") for line in lines[1:60]]
    wanted = {doc for _, doc, _ in judged}
    corpus = [json.loads(line) for line in (SCIFACT / "corpus.jsonl").open()]
    keep = [d for d in corpus if d["_id"] in wanted] + [d for d in corpus if d["_id"] not in wanted][:80]
    (folder / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in keep))
    (folder / "queries.jsonl").write_text((SCIFACT / "queries.jsonl").read_text())
    (folder / "qrels" / "train.tsv").write_text("\n".join([lines[0], *("\t".join(j) for j in judged)]) + "\n")
    return folder


def test_eval_json_and_table(beir: Path, tmp_path: Path) -> None:
    env = cli_env(tmp_path / "data")
    p = rag(["eval", str(beir), "--split", "train", "--mode", "sparse", "--mode", "hybrid", "--json"], env)
    assert p.returncode == 0, p.stderr
    body = json.loads(p.stdout)
    assert {"ndcg@10", "recall@10", "recall@100", "mrr@10", "queries"} <= set(body)
    assert body["mode"] == "sparse" and set(body["by_mode"]) == {"sparse", "hybrid"}
    assert body["queries"] == len(
        {line.split("\t")[0] for line in (beir / "qrels/train.tsv").read_text().split("\n")[1:-1]}
    )
    assert 0.5 < body["by_mode"]["hybrid"]["ndcg@10"] <= 1 and body["latency_ms"]["total"]["p50"] > 0
    assert "122 added" in p.stderr and "collection beir-tiny-scifact" in p.stderr
    table = rag(["eval", str(beir), "--split", "train", "--mode", "dense"], env)
    assert "122 unchanged" in table.stderr  # the collection is reused
    assert table.stdout.splitlines()[2].startswith("dense") and "nDCG@10" in table.stdout


def test_eval_rerank_reports_llm_cost(beir: Path, tmp_path: Path) -> None:
    qrels: dict[str, set[str]] = {}
    for line in (beir / "qrels/train.tsv").read_text().splitlines()[1:]:
        qid, doc, _ = line.split("\t")
        qrels.setdefault(qid, set()).add(doc)
    texts = {q["_id"]: q["text"] for q in map(json.loads, (beir / "queries.jsonl").open())}
    titles = {json.loads(line)["title"]: json.loads(line)["_id"] for line in (beir / "corpus.jsonl").open()}
    relevant = {texts[q]: docs for q, docs in qrels.items()}

    def grade(query: str, passage: Passage) -> int:
        return 3 if titles.get(passage.title) in relevant[query] else 0

    with gemini_server() as server:
        server.fake.responder = judge(grade)
        env = cli_env(tmp_path / "data", GEMINI_API_KEY="k", RAGLINE_GEMINI_BASE_URL=server.url)
        plain = json.loads(rag(["eval", str(beir), "--split", "train", "--mode", "hybrid", "--json"], env).stdout)
        p = rag(["eval", str(beir), "--split", "train", "--mode", "hybrid", "--rerank", "--json"], env)
    assert p.returncode == 0, p.stderr
    reranked = json.loads(p.stdout)
    assert reranked["ndcg@10"] > plain["ndcg@10"] and reranked["rerank"]["statuses"] == {"ok": reranked["queries"]}
    assert reranked["rerank"]["input_tokens_per_1k"] > 0 and reranked["rerank"]["cost_usd_per_1k"] > 0
    assert reranked["latency_ms"]["rerank"]["p50"] > 0


def test_eval_errors(tmp_path: Path, beir: Path) -> None:
    env = cli_env(tmp_path / "data")
    p = rag(["eval", str(tmp_path), "--split", "train"], env)
    assert p.returncode == 2 and "corpus.jsonl is missing" in p.stderr
    p = rag(["eval", str(beir), "--split", "dev"], env)
    assert p.returncode == 2 and "qrels/dev.tsv" in p.stderr
    p = rag(["eval", str(beir), "--split", "train", "--rerank"], env)
    assert p.returncode == 3 and "GEMINI_API_KEY" in p.stderr
