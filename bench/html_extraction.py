"""How much of a news or blog page's article the HTML loader keeps, and how much page furniture comes with it,
against the expected article text of a public benchmark (Zyte's article-extraction-benchmark, MIT licence,
181 pages; not copied into this repository):

    git clone https://github.com/scrapinghub/article-extraction-benchmark /tmp/aeb
    .venv/bin/python bench/html_extraction.py /tmp/aeb

Per page, with the benchmark's own measure (4-word shingles of ``\\w+`` tokens, counted with multiplicity):
recall = expected shingles kept, precision = kept shingles that are expected. Prints the means, the
benchmark's F1 of the means, pages whose article was mostly lost (recall < 0.5) or refused, pages carrying
a "little of the page kept" warning, the worst pages, time per page and peak RSS.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.machine import describe_machine
from bench.stats import peak_rss_mib
from ingest.loaders.html import load_html
from rag.errors import LoaderError

_TOKEN = re.compile(r"\w+")


def shingles(text: str, n: int = 4) -> Counter:
    tokens = _TOKEN.findall(text)
    return Counter(tuple(tokens[i : i + n]) for i in range(max(1, len(tokens) - n + 1)) if tokens[i : i + n])


def score(expected: str, got: str) -> tuple[float, float]:
    """(precision, recall) of ``got`` against ``expected``, as the benchmark's evaluate.py defines them."""
    want, have = shingles(expected), shingles(got)
    tp = sum((want & have).values())
    fp, fn = sum(have.values()) - tp, sum(want.values()) - tp
    precision = 1.0 if fp == fn == 0 else (0.0 if tp == fp == 0 else tp / (tp + fp))
    recall = 1.0 if fp == fn == 0 else (0.0 if tp == fn == 0 else tp / (tp + fn))
    return precision, recall


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("benchmark", type=Path, help="a checkout of scrapinghub/article-extraction-benchmark")
    args = ap.parse_args()
    print(describe_machine())
    truth = json.loads((args.benchmark / "ground-truth.json").read_text(encoding="utf-8"))
    rows, refused, warned, seconds = [], [], 0, 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for key, item in sorted(truth.items()):
            page = Path(tmp) / f"{key}.html"
            page.write_bytes(gzip.decompress((args.benchmark / "html" / f"{key}.html.gz").read_bytes()))
            t0 = time.perf_counter()
            try:
                [doc] = load_html(page, page.name)
            except LoaderError as exc:
                refused.append((key, str(exc)))
                rows.append((key, 0.0, 0.0))
                continue
            finally:
                seconds += time.perf_counter() - t0
            warned += bool(doc.coverage.warnings)
            text = "\n".join(s.text for s in doc.sections)
            rows.append((key, *score(item.get("articleBody", ""), text)))
    precision = statistics.mean(p for _, p, _ in rows)
    recall = statistics.mean(r for _, _, r in rows)
    lost = [(k, r) for k, _, r in rows if r < 0.5]
    f1 = 2 * precision * recall / (precision + recall)
    print(f"pages {len(rows)}: precision {precision:.3f}  recall {recall:.3f}  F1 {f1:.3f}")
    print(f"article mostly lost (recall < 0.5): {len(lost)}; refused: {len(refused)}; with a warning: {warned}")
    for key, r in sorted(lost, key=lambda kv: kv[1])[:10]:
        print(f"  recall {r:.2f}  {key[:16]}  {truth[key].get('url', '')[:90]}")
    for key, why in refused:
        print(f"  refused {key[:16]}: {why}")
    print(f"{seconds / len(rows) * 1000:.1f} ms a page; peak RSS {peak_rss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
