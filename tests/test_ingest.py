"""The ingest pipeline end to end on the embedded store with real MiniLM: incremental runs, prune, bad files."""

from __future__ import annotations

import importlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ingest import loaders
from ingest.failure_ledger import FailureLedger
from rag.config import Settings
from rag.errors import ModelMismatchError
from rag.ingest_wiring import ingest_options
from rag.retrieval import SearchOptions
from rag.store.base import Store
from rag.wiring import make_retriever, open_store
from tests.test_loaders import write_docx, write_pdf

REPO = Path(__file__).resolve().parents[1]


def make_folder(root: Path) -> Path:
    docs = root / "docs"
    (docs / "sub").mkdir(parents=True)
    (docs / "a.txt").write_text("Volcanoes erupt molten rock called lava from the mantle.")
    (docs / "b.md").write_text("# Tides\nThe moon's gravity pulls the oceans, causing tides.\n")
    (docs / "sub" / "c.html").write_text("<title>Bees</title><p>Honeybees dance to share where flowers are.</p>")
    (docs / "recs.jsonl").write_text('{"_id": "r1", "title": "Mars", "text": "Mars has two small moons."}\n')
    write_pdf(docs / "d.pdf", ["Penguins live in the southern hemisphere."])
    write_docx(docs / "e.docx")
    (docs / ".hidden.txt").write_text("never ingested")
    (docs / "notes.xyz").write_text("unsupported types inside folders are skipped")
    return docs


def folder_uploads(docs: Path) -> list[tuple[str, bytes]]:
    """The supported top-level files of ``make_folder``'s folder as (name, content) uploads."""
    return [(p.name, p.read_bytes()) for p in sorted(docs.glob("[!.]*.*")) if p.suffix != ".xyz"]


def states(where: Settings | Store) -> dict[str, dict[str, int]]:
    """Points per content hash of each document, from an open store or a closed one's settings."""
    store = open_store(where) if isinstance(where, Settings) else where
    try:
        return {d: dict(s.points_by_hash) for d, s in store.doc_states().items()}
    finally:
        if store is not where:
            store.close()


def test_incremental_change_prune(tmp_path: Path, make_ingestor, settings: Settings) -> None:
    docs = make_folder(tmp_path)
    ing = make_ingestor()
    r = ing.run([docs])
    assert (r.added, r.updated, r.unchanged, r.deleted, r.failed) == (6, 0, 0, 0, [])
    assert r.chunks >= 6
    ids = set(states(ing.store))
    assert ids == {"a.txt", "b.md", "sub/c.html", "r1", "d.pdf", "e.docx"}

    r = make_ingestor().run([docs])
    assert (r.added, r.updated, r.unchanged, r.chunks) == (0, 0, 6, 0)

    (docs / "a.txt").write_text("Geysers shoot boiling water into the air.")
    (docs / "sub" / "c.html").unlink()
    ing = make_ingestor()
    r = ing.run([docs])
    assert (r.added, r.updated, r.unchanged, r.deleted) == (0, 1, 4, 0)  # no prune: c.html stays
    assert "sub/c.html" in states(ing.store)
    assert len(states(ing.store)["a.txt"]) == 1  # old version replaced, not kept beside

    r = ing.run([docs], prune=True)
    assert (r.deleted, r.unchanged) == (1, 5)
    assert "sub/c.html" not in states(ing.store)

    out = make_retriever(settings, ing.store, ing.embedder, ing.sparse).search(
        "hot water erupting from the ground", SearchOptions(top_k=1, mode="hybrid")
    )
    assert out.results[0].doc_id == "a.txt" and "Geysers" in out.results[0].text


def test_bad_files_reported_others_stored(tmp_path: Path, make_ingestor, settings: Settings) -> None:
    docs = make_folder(tmp_path)
    make_ingestor().run([docs])
    (docs / "a.txt").write_bytes(b"\x00\x01junk")  # was good: its stored version must survive
    (docs / "empty.txt").write_text("")
    (docs / "bad.pdf").write_bytes(b"%PDF-1.4 garbage")
    ing = make_ingestor()
    r = ing.run([docs], prune=True)
    failed = {Path(f["path"]).name: f["error"] for f in r.failed}
    assert set(failed) == {"a.txt", "empty.txt", "bad.pdf"}
    assert "binary" in failed["a.txt"] and "empty" in failed["empty.txt"]
    assert r.deleted == 0 and "a.txt" in states(ing.store)


def test_a_file_name_that_is_not_utf8_is_stored_escaped(tmp_path: Path, make_ingestor) -> None:
    docs = tmp_path / "names"
    docs.mkdir()
    (docs / "good.txt").write_text("Owls hunt at night.")
    with open(os.path.join(os.fsencode(docs), b"caf\xe9.txt"), "wb") as f:  # a Latin-1 name on a UTF-8 system
        f.write(b"Espresso is pressed coffee.")
    (docs / "log.ndjson").write_text('{"_id": "n1", "text": "Newline-delimited JSON is JSONL."}\n')
    ingestor = make_ingestor()
    report = ingestor.run([docs])
    assert (report.added, report.failed) == (3, [])  # the run used to crash: nothing stored
    assert set(states(ingestor.store)) == {"good.txt", "caf\\xe9.txt", "n1"}
    assert ingestor.run([docs], prune=True).unchanged == 3  # and the escaped name is stable across runs


def test_model_mismatch_refused(tmp_path: Path, make_ingestor, settings: Settings) -> None:
    make_ingestor().run([make_folder(tmp_path)])
    other = settings.with_overrides(embed_model="sentence-transformers/paraphrase-MiniLM-L3-v2")
    with pytest.raises(ModelMismatchError, match="all-MiniLM-L6-v2"):
        make_ingestor(other)


def run_cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rag.edges.ingest_cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=300,
    )


def cli_env(data: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "RAGLINE_DATA_DIR": str(data), **extra}


def test_cli_json_and_exit_codes(tmp_path: Path) -> None:
    docs = make_folder(tmp_path)
    env = cli_env(tmp_path / "data")
    p = run_cli([str(docs), "--json"], env)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    want = {"added", "updated", "unchanged", "deleted", "failed", "chunks", "seconds", "skipped", "files", "resumed"}
    want |= {"llm_usage", "known_failed", "renamed"}  # llm_usage: null unless RAGLINE_OCR=llm
    assert set(out) == want
    assert {Path(f["path"]).name: f["documents"] for f in out["files"]}["recs.jsonl"] == 1
    assert out["added"] == 6 and out["skipped"] == {".xyz": 1, "hidden": 1}
    (docs / "bad.docx").write_bytes(b"nope")
    p = run_cli([str(docs), "--json"], env)
    assert p.returncode == 1 and json.loads(p.stdout)["failed"][0]["path"].endswith("bad.docx")
    # Unchanged since it failed: not read again, listed apart, and the run's exit code says nothing new broke.
    p = run_cli([str(docs), "--json"], env)
    out = json.loads(p.stdout)
    assert p.returncode == 0 and out["failed"] == [] and out["known_failed"][0]["path"].endswith("bad.docx")
    assert out["unchanged"] == 6
    p = run_cli([str(docs)], env)
    assert p.returncode == 0 and "1 files failed before and are unchanged" in p.stdout
    (docs / "bad.docx").write_bytes(b"still not a docx")  # changed: read again, a new failure
    assert run_cli([str(docs)], env).returncode == 1
    (docs / "bad.docx").unlink()
    assert run_cli([str(docs)], env).returncode == 0
    p = run_cli([str(tmp_path / "missing")], env)
    assert p.returncode == 2 and "no such file or folder" in p.stderr and "Traceback" not in p.stderr
    # Without --json the summary still says what a folder walk passed over, by kind.
    p = run_cli([str(docs)], env)
    assert "skipped 2 files not read: .xyz 1, hidden 1" in p.stdout


def test_sigkill_mid_run_then_rerun_matches_clean_run(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for i in range(240):
        (src / f"doc{i:03}.txt").write_text(f"Document {i} talks about topic {i % 7} in some detail. " * 20)
    clean, crashed = tmp_path / "clean", tmp_path / "crashed"
    small_batches = {"RAGLINE_INGEST_BATCH_CHUNKS": "4"}
    assert run_cli([str(src)], cli_env(crashed, **small_batches)).returncode == 0
    # Change every other document, then kill the run that replaces them while it writes.
    for i in range(0, 240, 2):
        (src / f"doc{i:03}.txt").write_text(f"Revised document {i} now covers subject {i % 5}. " * 25)
    (src / "doc001.txt").unlink()
    assert run_cli([str(src), "--prune"], cli_env(clean)).returncode == 0

    # Kill runs at growing delays until one is caught half-way (some documents replaced, others not).
    before = states(Settings(data_dir=crashed))
    want = states(Settings(data_dir=clean))
    caught_midway = False
    # The command starts in about a second now that torch is not imported; longer delays only matter on a
    # loaded machine, where the model takes longer to load.
    for delay in (0.5, 0.8, 1.1, 1.4, 1.8, 2.2, 2.7, 3.3, 4.0, 5.0, 6.0, 7.0, 8.5, 10.0, 12.0, 15.0, 20.0, 30.0):
        proc = subprocess.Popen(
            [sys.executable, "-m", "rag.edges.ingest_cli", str(src), "--prune"],
            cwd=REPO,
            env=cli_env(crashed, **small_batches),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
        proc.wait()
        now = states(Settings(data_dir=crashed))
        if proc.returncode == -signal.SIGKILL and now not in (before, want):
            caught_midway = True
            break
    assert caught_midway, "no run was killed while it was writing"

    p = run_cli([str(src), "--prune", "--json"], cli_env(crashed))
    assert p.returncode == 0, p.stderr
    report = json.loads(p.stdout)
    assert report["updated"] + report["added"] > 0  # the killed run left work to finish
    got = states(Settings(data_dir=crashed))
    assert got == want
    assert all(len(v) == 1 for v in got.values())


def test_encoded_blobs_are_not_stored_as_text(tmp_path: Path, make_ingestor) -> None:
    import base64

    docs = tmp_path / "junk"
    docs.mkdir()
    blob = base64.b64encode(os.urandom(150_000)).decode()
    (docs / "blob.txt").write_text(blob)
    chinese = "猫头鹰在夜间捕猎。" * 40  # 360 characters without a space: text, kept
    (docs / "mixed.md").write_text(f"# Notes\nOwls hunt at night.\n\n{blob[:5000]}\n\nThey eat voles. {chinese}\n")
    ingestor = make_ingestor()
    report = ingestor.run([docs])
    assert report.added == 1 and report.chunks <= 3  # the blob used to become hundreds of chunks
    assert "encoded data" in report.failed[0]["error"] and report.failed[0]["path"].endswith("blob.txt")
    stored = ingestor.store.doc_chunks("mixed.md")[0].payload["text"]
    assert "Owls hunt at night." in stored and "They eat voles." in stored and blob[:300] not in stored
    assert "猫头鹰在夜间捕猎。" in " ".join(h.payload["text"] for h in ingestor.store.doc_chunks("mixed.md"))


def test_unchanged_files_are_not_read_again(tmp_path: Path, make_ingestor) -> None:
    docs = make_folder(tmp_path)
    ingestor = make_ingestor()
    assert ingestor.run([docs]).added == 6
    # Same size and mtime, different bytes: a file that is not re-read keeps its stored text.
    a = docs / "a.txt"
    stat = a.stat()
    a.write_text("X" * len(a.read_text()))
    os.utime(a, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    report = ingestor.run([docs], prune=True)
    assert (report.unchanged, report.updated, report.deleted) == (6, 0, 0)
    assert ingestor.store.doc_chunks("a.txt")[0].payload["text"].endswith("lava from the mantle.")
    # A touch alone re-reads it, finds the same text, and records the new stamp only.
    a.write_text("Volcanoes erupt molten rock called lava from the mantle.")
    assert ingestor.run([docs]).unchanged == 6
    states_before = ingestor.store.doc_states()["a.txt"].file_stamp
    os.utime(a, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    report = ingestor.run([docs])
    assert (report.unchanged, report.chunks) == (6, 0)
    assert ingestor.store.doc_states()["a.txt"].file_stamp != states_before


def test_json_report_says_what_was_read_of_each_file(tmp_path: Path, make_ingestor) -> None:
    import base64

    from fpdf import FPDF

    docs = tmp_path / "cov"
    docs.mkdir()
    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    pdf.add_page()
    pdf.multi_cell(0, 10, "Penguins live in the southern hemisphere.")
    pdf.add_page()  # blank: no text layer, and OCR finds nothing either
    pdf.output(str(docs / "two.pdf"))
    (docs / "menu.txt").write_bytes("Crème brûlée – naïve café, déjà vu, façade.\n".encode("cp1252"))
    blob = base64.b64encode(os.urandom(3000)).decode()
    (docs / "notes.md").write_text(f"# Notes\nOwls hunt at night.\n\n{blob}\n")
    (docs / "menu.html").write_text(
        "<p>Prices:</p><table><tr><th>Drink</th><th>Price</th></tr><tr><td>Tea</td><td>2</td></tr></table>"
    )
    (docs / "recs.jsonl").write_text(
        '{"_id": "r1", "text": "Mars has two moons."}\n{"_id": "r2", "text": "Venus has none."}\nnot json\n'
    )
    report = make_ingestor().run([docs])
    files = {Path(f["path"]).name: f for f in report.files}
    assert set(files) == {"two.pdf", "menu.txt", "notes.md", "menu.html", "recs.jsonl"}
    assert files["two.pdf"] | {"path": ""} == {
        "path": "",
        "format": "pdf",
        "documents": 1,
        "pages": 2,
        "ocr_pages": 0,
        "tables": 0,
        "chars": len("Penguins live in the southern hemisphere."),
        "warnings": ["no text on page 2 (OCR found none)"],
    }
    assert files["menu.txt"]["warnings"] == ["encoding cp1252, guessed"]
    assert files["notes.md"]["warnings"] == [f"{len(blob)} characters of encoded data (base64, hex) removed"]
    assert files["menu.html"]["tables"] == 1 and files["recs.jsonl"]["documents"] == 2
    assert [Path(f["file"]).name for f in report.failed] == ["recs.jsonl"]
    # A re-run reports the bad line again (the file is read again, not skipped as unchanged); the human summary
    # gives each file one line, however many of its records failed.
    from rag.edges.ingest_cli import _human

    (docs / "more.jsonl").write_text('bad\nworse\n{"_id": "r3", "text": "Ceres."}\n')
    again = make_ingestor().run([docs])
    lines = [line for line in _human(again).splitlines() if line.startswith("failed:")]
    assert len(again.failed) == 3 and len(lines) == 2
    assert any("more.jsonl: 2 records, first " in line for line in lines)


class _Killed(Exception):
    pass


class _DiesAfter:
    """A store whose process is "killed" (an exception) at its n+1th upsert; everything else as the real one."""

    def __init__(self, store: Store, upserts: int) -> None:
        self.store, self.left = store, upserts

    def upsert(self, points: list) -> None:
        if self.left == 0:
            raise _Killed
        self.left -= 1
        self.store.upsert(points)

    def __getattr__(self, name: str):
        return getattr(self.store, name)


class _CountingEmbedder:
    def __init__(self, embedder) -> None:
        self.embedder, self.texts = embedder, 0

    def encode(self, texts: list[str]):
        self.texts += len(texts)
        return self.embedder.encode(texts)

    def __getattr__(self, name: str):
        return getattr(self.embedder, name)


def test_a_killed_run_resumes_without_embedding_again_what_it_wrote(tmp_path: Path, embedder) -> None:
    from ingest.pipeline import Ingestor
    from rag.wiring import make_sparse

    src = tmp_path / "src"
    src.mkdir()
    big = src / "big.txt"
    big.write_text(" ".join(f"Sentence {n} is about volcanoes and lava." for n in range(1500)))
    (src / "big.txt.acl").write_text("staff")
    s = Settings(data_dir=tmp_path / "data", ingest_batch_chunks=8)
    store = open_store(s)
    try:
        with pytest.raises(_Killed):
            Ingestor(ingest_options(s), _DiesAfter(store, 3), embedder, make_sparse(s)).run([src])
        assert sum(store.doc_states()["big.txt"].points_by_hash.values()) == 24  # three batches were written
        (src / "big.txt.acl").write_text("admins")  # changed while no run was going
        counting = _CountingEmbedder(embedder)
        written: list[int] = []  # progress inside the one big file: chunks per batch
        report = Ingestor(ingest_options(s), store, counting, make_sparse(s)).run([src], on_chunks=written.append)
        total = report.resumed + report.chunks
        assert sum(written) == report.chunks and len(written) > 2 and max(written) <= 8
        assert (report.resumed, report.updated) == (24, 1) and total > 40
        assert counting.texts == report.chunks == total - 24  # only what the killed run had not written
        state = store.doc_states()["big.txt"]
        assert state.is_whole and sum(state.points_by_hash.values()) == total
        assert {tuple(h.payload["acl"]) for h in store.doc_chunks("big.txt", limit=total)} == {("admins",)}
    finally:
        store.close()


SAMPLE_BYTES = {".pdf": b"%PDF-1.4\n", ".docx": b"PK", ".xlsx": b"PK", ".pptx": b"PK", ".epub": b"PK", ".odt": b"PK"}


@pytest.mark.parametrize("suffix", sorted({**loaders.LOADERS, **loaders.PAGE_LOADERS}))
def test_any_parsers_exception_is_that_files_failure_and_the_run_goes_on(
    suffix: str, tmp_path: Path, make_ingestor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """python-docx raised ValueError on a real DOCX with an irregular table grid and ended a 780-file run with a
    traceback naming no file. Whatever a reader raises becomes that file's failure, named, with the exception's
    type and message; the other files are stored."""
    spec = {**loaders.LOADERS, **loaders.PAGE_LOADERS}[suffix]
    module, name = spec.split(":")

    def broken(*args, **kwargs):
        raise ValueError("irregular table grid")

    monkeypatch.setattr(importlib.import_module(f"ingest.loaders.{module}"), name, broken)
    monkeypatch.setattr(loaders, "check_archive", lambda path, limits: None)  # the reader itself is under test
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / f"odd{suffix}").write_bytes(SAMPLE_BYTES.get(suffix, b"anything"))
    (docs / "zz-good.md").write_text("# Owls\n\nOwls hunt at night.")
    if suffix in (".md", ".markdown"):
        (docs / "zz-good.md").rename(docs / "zz-good.txt")
    report = make_ingestor().run([docs])
    assert [(Path(f["path"]).name, f["error"]) for f in report.failed] == [
        (f"odd{suffix}", f"the {suffix} reader failed: ValueError: irregular table grid")
    ]
    assert report.added == 1


def test_a_parsers_exception_on_upload_is_a_named_failure_not_a_500(
    tmp_path: Path, embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fastapi.testclient import TestClient

    from rag.edges.api.app import create_app

    def broken(*args, **kwargs):
        raise KeyError("w:tblGrid")

    monkeypatch.setattr(importlib.import_module("ingest.loaders.text"), "load_text", broken)
    with TestClient(create_app(Settings(data_dir=tmp_path / "data", llm="none"))) as client:
        reply = client.post("/v1/documents", files=[("files", ("odd.txt", b"text")), ("files", ("ok.md", b"# A\n\nb"))])
    assert reply.status_code < 500
    body = reply.json()
    assert any("odd.txt" in json.dumps(f) and "KeyError" in json.dumps(f) for f in body["failed"])
    assert body["added"] == 1


def test_same_name_from_another_folder_gets_a_longer_id_kept_on_later_runs(
    tmp_path: Path, make_ingestor, settings: Settings
) -> None:
    for folder, text in (("a", "Owls hunt at night."), ("b", "Bread rises with yeast."), ("c", "Tea is steeped.")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "source.txt").write_text(text)
    ingestor = make_ingestor()
    assert ingestor.run([tmp_path / "a" / "source.txt"]).added == 1
    report = ingestor.run([tmp_path / "b" / "source.txt"])
    assert (report.added, report.failed) == (1, [])
    assert report.renamed == {str(tmp_path / "b" / "source.txt"): "b/source.txt"}
    # Folders holding the same relative name: the first keeps it, the next gets its folder's name in front.
    report = ingestor.run([tmp_path / "c", tmp_path / "a"])
    assert (report.added, report.unchanged, report.failed) == (1, 1, [])
    sources = {doc_id: Path(st.source).parent.name for doc_id, st in ingestor.store.doc_states().items()}
    assert sources == {"source.txt": "a", "b/source.txt": "b", "c/source.txt": "c"}
    # Stable: once "a" is gone, "b" keeps the id it was stored under rather than taking the shorter one.
    ingestor.delete_source(tmp_path / "a" / "source.txt")
    again = ingestor.run([tmp_path / "b" / "source.txt"])
    assert (again.unchanged, again.added, again.renamed) == (1, 0, {str(tmp_path / "b" / "source.txt"): "b/source.txt"})


def test_known_failures_are_not_read_again_and_their_good_records_survive_prune(tmp_path: Path, make_ingestor) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    recs = docs / "recs.jsonl"
    recs.write_text('{"_id": "ok1", "text": "Otters hold hands."}\n{"_id": "", "text": "no id"}\n')
    ledger_file = tmp_path / "ledger.json"
    ingestor = make_ingestor()
    first = ingestor.run([docs], ledger=FailureLedger(ledger_file))
    assert first.added == 1 and len(first.failed) == 1 and first.known_failed == []
    again = ingestor.run([docs], prune=True, ledger=FailureLedger(ledger_file))
    assert (again.failed, again.known_failed, again.deleted) == ([], first.failed, 0)
    assert set(states(ingestor.store)) == {"ok1"}
    # Without a ledger (an upload, say) the file is read and its failures reported as before.
    assert len(ingestor.run([docs]).failed) == 1
    recs.write_text('{"_id": "ok1", "text": "Otters hold hands."}\n')  # mended: read again, leaves the ledger
    mended = ingestor.run([docs], ledger=FailureLedger(ledger_file))
    assert (mended.failed, mended.known_failed) == ([], [])
    assert json.loads(ledger_file.read_text()) == {}


def test_a_damaged_failure_ledger_reads_as_empty(tmp_path: Path) -> None:
    path = tmp_path / "ledger.json"
    for text in ("not json", "[1, 2]", '{"a.txt": {"stamp": "s", "failures": [{"path": 3}]}}'):
        path.write_text(text)
        assert FailureLedger(path).known("a.txt", "s") is None
    path.write_text('{"a.txt": {"stamp": "s", "failures": [{"path": "a.txt", "error": "bad"}]}}')
    assert FailureLedger(path).known("a.txt", "s") == [{"path": "a.txt", "error": "bad"}]
    assert FailureLedger(path).known("a.txt", "other stamp") is None
