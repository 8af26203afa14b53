"""Which files an ingest covers, and the doc id and scope each one gets."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ingest.loaders import is_supported
from rag.access import parse_acl
from rag.errors import UsageError


@dataclass(frozen=True, slots=True)
class SourceFile:
    path: Path  # absolute
    root: Path  # the folder it was found under, or the file itself when given directly
    doc_id: str  # path relative to the folder it was found under
    acl: tuple[str, ...] = ()  # from a sidecar ``<file>.acl`` or the upload request; empty: everyone


@dataclass(slots=True)
class Scope:
    """What ``--prune`` may delete: documents found under these folders, or from these files."""

    roots: set[str]
    files: set[str]

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


def _sidecar_acl(path: Path) -> tuple[str, ...]:
    sidecar = path.with_name(path.name + ".acl")
    if not sidecar.is_file():
        return ()
    try:
        return parse_acl(sidecar.read_text(encoding="utf-8").replace("\n", ","))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        # Fail closed: refuse the run rather than store the file visible to everyone.
        raise UsageError(f"{sidecar}: {exc}") from None


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
            found = sorted(p for p in root.rglob("*") if p.is_file() and is_supported(p) and not _hidden(p, root))
            files.extend(source_file(p, root) for p in found)
        else:
            f = source_file(given, given)
            scope.files.add(str(f.path))
            files.append(f)
    return files, scope
