"""Which files an ingest covers, and the doc id and scope each one gets."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

from ingest.loaders import is_supported
from rag.access import parse_acl
from rag.errors import UsageError
from rag.store.base import DocState


@dataclass(frozen=True, slots=True)
class SourceFile:
    path: Path  # absolute
    root: Path  # the folder it was found under, or the file itself when given directly
    doc_id: str  # path relative to the folder it was found under
    acl: tuple[str, ...] = ()  # from a sidecar ``<file>.acl`` or the upload request; empty: everyone


@dataclass(slots=True)
class Scope:
    """What ``--prune`` may delete: documents found under these folders, or from these files; and what the walk
    passed over (``skipped``: count per reason, e.g. ".xyz", "hidden", "symlink")."""

    roots: set[str]
    files: set[str]
    skipped: Counter[str] = field(default_factory=Counter)

    def covers(self, root: str, source: str) -> bool:
        return root in self.roots or source in self.files


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def source_file(path: Path, root: Path, acl: tuple[str, ...] | None = None) -> SourceFile:
    """The SourceFile for ``path`` found under folder ``root`` (or given directly when they are equal); its ACL
    is ``acl`` when given, else read from a sidecar ``<file>.acl`` (names, one a line or comma-separated)."""
    path, root = path.absolute(), root.absolute()
    doc_id = path.name if path == root else path.relative_to(root).as_posix()
    return SourceFile(path, root, doc_id, _sidecar_acl(path) if acl is None else acl)


def longer_ids(f: SourceFile) -> list[str]:
    """The file's doc id, then the same with one more enclosing folder each time, up to its absolute path: the
    ids a file may take when a shorter one belongs to another file (``a/README.md`` beside ``README.md``)."""
    parts = f.path.parts
    shortest = len(Path(f.doc_id).parts)
    return [unicode_safe(PurePosixPath(*parts[-k:]).as_posix()) for k in range(shortest, len(parts) + 1)]


def _sidecar_acl(path: Path) -> tuple[str, ...]:
    sidecar = path.with_name(path.name + ".acl")
    if not sidecar.is_file():
        return ()
    try:
        return parse_acl(sidecar.read_text(encoding="utf-8").replace("\n", ","))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        # Fail closed: refuse the run rather than store the file visible to everyone.
        raise UsageError(f"{sidecar}: {exc}") from None


def _skip_reason(path: Path, root: Path) -> str | None:
    """Why a folder walk passes ``path`` over: a reason to count, "" to pass silently (inside a hidden folder,
    a folder, a sidecar .acl), None to take it."""
    if _hidden(path, root):
        return "hidden" if path.name.startswith(".") else ""  # a hidden folder counts once, not its contents
    if path.is_symlink():
        return "symlink"
    if not path.is_file() or path.name.endswith(".acl"):
        return ""
    return None if is_supported(path) else (path.suffix.lower() or "(no extension)")


def discover(paths: list[Path]) -> tuple[list[SourceFile], Scope]:
    """Supported files under the given paths (folders recursively, hidden entries skipped)."""
    files: list[SourceFile] = []
    scope = Scope(set(), set())
    for given in paths:
        if not given.exists():
            raise UsageError(f"no such file or folder: {given}")
        if given.is_dir():
            root = given.absolute()
            scope.roots.add(str(root))
            found = []
            for p in sorted(root.rglob("*")):
                reason = _skip_reason(p, root)
                if reason is None:
                    found.append(p)
                elif reason:
                    scope.skipped[reason] += 1
            files.extend(source_file(p, root) for p in found)
        else:
            f = source_file(given, given)
            scope.files.add(str(f.path))
            files.append(f)
    return files, scope


def with_distinct_ids(
    files: list[SourceFile], states: dict[str, DocState], renamed: dict[str, str]
) -> list[SourceFile]:
    """Each file with a doc id no other file holds: the id it has stored already, else the shortest of
    ``longer_ids`` that is free (stored by nobody, taken by no earlier file of this run). Each file given a
    longer id than its own is added to ``renamed`` (path -> id)."""
    claimed: dict[str, str] = {}  # doc id -> source, in this run
    out = []
    for f in files:
        source = unicode_safe(str(f.path))
        ids = longer_ids(f)
        held = next((i for i in ids if (st := states.get(i)) is not None and st.source == source), None)
        free = (i for i in ids if claimed.get(i, source) == source and (i not in states or not states[i].source))
        doc_id = held or next(free, ids[-1])
        claimed[doc_id] = source
        if doc_id != f.doc_id:
            renamed[str(f.path)] = doc_id
            f = replace(f, doc_id=doc_id)
        out.append(f)
    return out


def unicode_safe(text: str) -> str:
    """``text`` with lone surrogates (undecodable bytes of a file name) written as backslash escapes."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        raw = text.encode("utf-8", "surrogateescape" if _only_escapes(text) else "surrogatepass")
        return raw.decode("utf-8", "backslashreplace")


def _only_escapes(text: str) -> bool:
    return all(not 0xD800 <= ord(c) <= 0xDFFF or 0xDC80 <= ord(c) <= 0xDCFF for c in text)
