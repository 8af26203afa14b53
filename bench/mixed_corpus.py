"""One ``ingest`` run over a folder of mixed real files, as a user runs it, then the same run again unchanged:
files a second, the command's peak RSS, failures by reason, and per format what was read.

    git clone https://github.com/Unstructured-IO/unstructured /tmp/unstructured   # Apache-2.0; its example-docs/
    .venv/bin/python bench/mixed_corpus.py /tmp/unstructured/example-docs

The folder is not copied into this repository. Each run is ``ingest FOLDER --json`` in a subprocess over a new
data dir; RSS is the child's peak (``ru_maxrss``). The second run shows what an unchanged re-run reports (its
exit code should be 0: old failures are listed apart as ``known_failed``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.machine import describe_machine

_DETAIL = re.compile(r"[:(].*$")  # "corrupt or truncated DOCX: <detail>" -> the reason without its detail


def run_ingest(folder: Path, data: Path) -> tuple[dict, int, float, float]:
    """(the --json report, exit code, seconds, peak RSS MiB) of one ``ingest`` over ``folder``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    p = subprocess.run(
        [sys.executable, "-m", "rag.edges.ingest_cli", str(folder), "--json"],
        env={**os.environ, "RAGLINE_DATA_DIR": str(data)},
        capture_output=True,
        text=True,
        timeout=3600,
    )
    seconds = time.perf_counter() - t0
    peak = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
    try:
        return json.loads(p.stdout), p.returncode, seconds, peak
    except json.JSONDecodeError:
        raise SystemExit(f"ingest exited {p.returncode} without a report:\n{p.stderr[-3000:]}") from None


def per_format(folder: Path, report: dict) -> dict[str, Counter]:
    """Per extension: files found, read (with documents), failed, skipped by the walk."""
    out: dict[str, Counter] = {}
    for path in folder.rglob("*"):
        if path.is_file():
            out.setdefault(path.suffix.lower() or "(none)", Counter())["files"] += 1
    for entry in report["files"]:
        out.setdefault(Path(entry["path"]).suffix.lower() or "(none)", Counter())["read"] += 1
    for path in {f.get("file", f["path"]) for f in report["failed"]}:
        out.setdefault(Path(path).suffix.lower() or "(none)", Counter())["failed"] += 1
    for kind, n in report["skipped"].items():
        if kind.startswith(".") or kind == "(no extension)":
            out.setdefault(kind if kind.startswith(".") else "(none)", Counter())["skipped"] += n
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("folder", type=Path)
    args = ap.parse_args()
    print(describe_machine())
    files = sum(1 for p in args.folder.rglob("*") if p.is_file())
    with tempfile.TemporaryDirectory() as tmp:
        report, code, seconds, rss = run_ingest(args.folder, Path(tmp))
        print(
            f"first run: {files} files in {seconds:.1f} s ({files / seconds:.1f} files/s), exit {code}, "
            f"peak RSS {rss:.0f} MiB; {report['added']} documents, {report['chunks']} chunks, "
            f"{len(report['failed'])} failures, {sum(report['skipped'].values())} skipped"
        )
        reasons = Counter(_DETAIL.sub("", f["error"]).strip() for f in report["failed"])
        for reason, n in reasons.most_common():
            print(f"  {n:3}  {reason}")
        warned = sum(bool(f["warnings"]) for f in report["files"])
        print(f"files read with warnings: {warned}")
        print(f"{'format':10} {'files':>5} {'read':>5} {'failed':>6} {'skipped':>7}")
        for ext, c in sorted(per_format(args.folder, report).items(), key=lambda kv: -kv[1]["files"]):
            print(f"{ext:10} {c['files']:5} {c['read']:5} {c['failed']:6} {c['skipped']:7}")
        again, code, seconds, rss = run_ingest(args.folder, Path(tmp))
        print(
            f"unchanged re-run: {seconds:.1f} s, exit {code}, peak RSS {rss:.0f} MiB; unchanged "
            f"{again['unchanged']}, new failures {len(again['failed'])}, known failures {len(again['known_failed'])}"
        )


if __name__ == "__main__":
    main()
