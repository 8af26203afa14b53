"""``ingest`` command: a thin edge over the pipeline (argument parsing, progress, output, exit codes)."""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading
from pathlib import Path

from ingest.pipeline import Ingestor, IngestReport
from rag.config import get_settings
from rag.edges.exit_codes import EXIT_FAILED, EXIT_OK, fail
from rag.errors import RaglineError
from rag.service import Service


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ingest", description="Load files into a ragline collection; re-running applies only what changed."
    )
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="files or folders (recursively)")
    p.add_argument("--collection", help="collection name (env RAGLINE_COLLECTION, default 'documents')")
    p.add_argument("--prune", action="store_true", help="delete documents from these folders whose files are gone")
    p.add_argument("--json", action="store_true", help="print one JSON object with the counts")
    p.add_argument("--watch", action="store_true", help="keep running and apply changes as they happen")
    p.add_argument("--api", metavar="URL", help="send the files to a running `rag serve` instead")
    p.add_argument("--api-key", help="API key for --api (default: the first of RAGLINE_API_KEYS)")
    return p


def _human(report: IngestReport) -> str:
    lines = [
        f"added {report.added}, updated {report.updated}, unchanged {report.unchanged}, "
        f"deleted {report.deleted} documents; {report.chunks} chunks written in {report.seconds:.1f}s"
    ]
    by_file: dict[str, list[dict[str, str]]] = {}
    for failure in report.failed:
        by_file.setdefault(failure.get("file", failure["path"]), []).append(failure)
    for file, failures in by_file.items():
        first = failures[0]
        if len(failures) == 1:
            lines.append(f"failed: {first['path']}: {first['error']}")
        else:  # one line per file, however many of its records failed
            lines.append(
                f"failed: {file}: {len(failures)} records, first {first['path']}: {first['error']} (--json lists each)"
            )
    if report.known_failed:
        files = {failure.get("file", failure["path"]) for failure in report.known_failed}
        lines.append(
            f"{len(files)} files failed before and are unchanged: not read again (--json lists them in known_failed)"
        )
    for path, doc_id in report.renamed.items():
        lines.append(f"stored as {doc_id!r}: {path} (its shorter name belongs to another file)")
    if report.skipped:  # what a folder walk passed over, by kind: a .doc or .xml must not vanish unsaid
        kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(report.skipped.items(), key=lambda kv: (-kv[1], kv[0])))
        lines.append(f"skipped {sum(report.skipped.values())} files not read: {kinds}")
    return "\n".join(lines)


class _Progress:
    """A tqdm bar of files on a terminal, with the chunks written so far (a big file moves it too); silent
    otherwise."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bar = None
        self.written = 0

    def chunks(self, n: int) -> None:
        self.written += n
        if self.bar is not None:
            self.bar.set_postfix_str(f"{self.written} chunks written")

    def __call__(self, n: int) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=n, unit="file", file=sys.stderr, leave=False)
        else:
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = get_settings().with_overrides(collection=args.collection)
        if args.api:
            from rag.edges.ingest_remote import ingest_via_api

            keys = settings.api_key_list()
            report = ingest_via_api(args.api, args.paths, args.api_key or (keys[0] if keys else None), args.collection)
            print(json.dumps(report.as_dict()) if args.json else _human(report))
            return EXIT_FAILED if report.failed else EXIT_OK
        # Retrieval's LLM is not needed; RAGLINE_OCR=llm gets its own for the page reader.
        with Service(settings, with_llm=False) as service:
            ingestor = service.ingestor(None)
            if args.watch:
                return _watch(ingestor, args)
            progress = _Progress(sys.stderr.isatty() and not args.json)
            try:
                report = ingestor.run(
                    args.paths,
                    prune=args.prune,
                    on_file=progress,
                    on_chunks=progress.chunks,
                    ledger=service.failure_ledger(None),
                )
            finally:
                progress.close()
    except RaglineError as exc:
        return fail(exc, "ingest")
    print(json.dumps(report.as_dict()) if args.json else _human(report))
    return EXIT_FAILED if report.failed else EXIT_OK


def _watch(ingestor: Ingestor, args: argparse.Namespace) -> int:
    from ingest.watch import watch_paths

    def show(report: IngestReport) -> None:
        print(json.dumps(report.as_dict()) if args.json else _human(report), flush=True)

    # `docker compose stop` sends SIGTERM: finish the batch in hand, close the store, exit 0.
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with contextlib.suppress(KeyboardInterrupt):
        watch_paths(ingestor, args.paths, show, stop=stop)
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
