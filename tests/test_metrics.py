"""rag.ir_metrics agrees with ranx, a well-kept reference implementation."""

from __future__ import annotations

import random

import pytest
from ranx import Qrels, Run
from ranx import evaluate as ranx_evaluate

from rag.ir_metrics import evaluate


def test_metrics_match_ranx() -> None:
    rnd = random.Random(7)
    qrels = {
        f"q{i}": {f"d{j}": rnd.choice([1, 2]) for j in rnd.sample(range(300), rnd.randint(1, 5))} for i in range(60)
    }
    run = {f"q{i}": {f"d{j}": rnd.random() for j in rnd.sample(range(300), 150)} for i in range(60)}
    run["q0"] = {d: float(r) + i / 100 for i, (d, r) in enumerate(qrels["q0"].items())}  # all found
    ours = evaluate(run, qrels)
    theirs = ranx_evaluate(Qrels(qrels), Run(run), ["ndcg@10", "recall@10", "recall@100", "mrr@10"])
    assert ours == pytest.approx({k: float(v) for k, v in theirs.items()}, abs=1e-9)
    assert 0 < ours["ndcg@10"] < ours["recall@100"] <= 1
