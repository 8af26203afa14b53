"""Re-running ingest over an unchanged mixed folder: the time of the run that skips files by size and mtime,
against a run where every file is touched (read, parsed and hashed again, as every re-run was before; nothing
is embedded in either), in the same run.

    .venv/bin/python bench/rerun_unchanged.py [--files 300]

The folder holds .txt, .md, .html, .pdf (five pages each, with a ruled table), .docx, .csv and one .jsonl of
records, made from SciFact abstracts (synthetic words when ../shared is absent). Needs the dev extra (fpdf2).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import docx
from fpdf import FPDF

from bench.machine import describe_machine
from ingest.pipeline import Ingestor
from rag.config import Settings
from rag.ingest_wiring import ingest_options
from rag.wiring import make_embedder, make_sparse, open_store

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "scifact" / "corpus.jsonl"


def abstracts(n: int) -> list[tuple[str, str]]:
    if CORPUS.is_file():
        with CORPUS.open() as f:
            rows = [json.loads(line) for _, line in zip(range(n), f, strict=False)]
        return [(r["title"], r["text"]) for r in rows]
    rng = random.Random(3)
    words = [f"word{k}" for k in range(3000)]
    return [(f"Title {k}", " ".join(rng.choices(words, k=180)) + ".") for k in range(n)]


def make_folder(root: Path, files: int) -> None:
    """``files`` files in the mix below (about 1/3 text, the rest spread over the other formats)."""
    texts = abstracts(files * 5 + 500)
    kinds = ["txt", "txt", "md", "html", "pdf", "docx", "csv"]
    for n in range(files - 1):
        title, text = texts[n]
        kind, path = kinds[n % len(kinds)], root / f"doc{n:04}.{kinds[n % len(kinds)]}"
        if kind == "txt":
            path.write_text(f"{title}\n\n{text}")
        elif kind == "md":
            path.write_text(f"---\ntitle: {json.dumps(title)}\n---\n# {title}\n\n{text}\n\n## Notes\n- one\n- two\n")
        elif kind == "html":
            path.write_text(
                f"<html><head><title>{title}</title></head><body><nav>Home</nav><article>"
                f"<h1>{title}</h1><p>{text}</p></article><footer>(c)</footer></body></html>"
            )
        elif kind == "pdf":
            pdf = FPDF()
            pdf.set_font("Helvetica", size=10)
            for k in range(5):
                pdf.add_page()
                body = texts[files + n * 5 + k][1].encode("latin-1", "replace").decode("latin-1")
                pdf.multi_cell(0, 5, body)
                if k == 0:
                    pdf.set_x(pdf.l_margin)
                    with pdf.table() as table:
                        for cells in [("Arm", "Patients", "Response")] + [
                            (f"arm {i}", str(10 * i), f"{i}%") for i in range(6)
                        ]:
                            row = table.row()
                            for cell in cells:
                                row.cell(cell)
            pdf.output(str(path))
        elif kind == "docx":
            d = docx.Document()
            d.add_heading(title, level=1)
            d.add_paragraph(text)
            d.save(str(path))
        else:
            path.write_text("name,value\n" + "\n".join(f"{w},{i}" for i, w in enumerate(text.split()[:60])))
    with (root / "records.jsonl").open("w") as f:
        for k, (title, text) in enumerate(texts[-500:]):
            f.write(json.dumps({"_id": f"r{k}", "title": title, "text": text}) + "\n")


def timed(ingestor: Ingestor, folder: Path) -> tuple[float, dict]:
    t0 = time.perf_counter()
    report = ingestor.run([folder])
    return time.perf_counter() - t0, report.as_dict()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=300)
    args = ap.parse_args()
    print(describe_machine())
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "docs"
        folder.mkdir()
        make_folder(folder, args.files)
        s = Settings(data_dir=Path(tmp) / "data")
        store = open_store(s)
        try:
            ingestor = Ingestor(ingest_options(s), store, make_embedder(s), make_sparse(s))
            first, report = timed(ingestor, folder)
            docs = report["added"]
            print(f"first run: {first:.1f} s, {docs} documents from {args.files} files, {report['chunks']} chunks")
            skipped, report = timed(ingestor, folder)
            assert report["unchanged"] == docs and report["chunks"] == 0, report
            now = time.time()
            for path in folder.iterdir():
                os.utime(path, (now + 10, now + 10))
            reread, report = timed(ingestor, folder)
            assert report["unchanged"] == docs and report["chunks"] == 0, report
        finally:
            store.close()
    print(f"unchanged re-run: {skipped:.2f} s (files skipped by size and mtime)")
    print(f"every file touched: {reread:.2f} s (read, parsed and hashed again; nothing embedded)")
    print(f"ratio touched / unchanged: {reread / skipped:.1f}x")


if __name__ == "__main__":
    main()
