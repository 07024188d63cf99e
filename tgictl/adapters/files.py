"""The files tgictl writes, and only those: it never overwrites or removes a user's file.

Each directory tgictl writes into keeps an index, ``.tgictl-files.json``, of the
files it wrote there and the SHA-256 of what it wrote. A later write may replace
or remove a file only while that file still holds what tgictl wrote, so neither a
user's own file nor a user's edit of a generated one is lost. Anything else is
refused before a byte is written, with every such file named, unless ``force``.
A file that already holds exactly the new bytes is simply adopted.

Writers are named (``render``, ``bench``, ...): pruning, for trees that must not
keep objects that no longer exist, removes only files the same writer recorded.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from tgictl.errors import UsageError

INDEX = ".tgictl-files.json"


class NotOurs(UsageError):
    """Writing would replace or remove files tgictl did not write (or that were changed since)."""


@dataclass(frozen=True)
class _Index:
    """What tgictl wrote in one directory: relative path → (writer, sha256)."""

    directory: Path
    entries: dict[str, tuple[str, str]]

    @classmethod
    def read(cls, directory: Path) -> _Index:
        try:
            data = json.loads((directory / INDEX).read_text())
            entries = {path: (e["writer"], e["sha256"]) for path, e in data["files"].items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            entries = {}  # no index (or not ours): nothing here is known to be tgictl's
        return cls(directory, entries)

    def owns(self, relative: str, current: bytes) -> bool:
        """Whether ``relative`` is recorded and still holds what tgictl wrote."""
        entry = self.entries.get(relative)
        return entry is not None and entry[1] == _digest(current)

    def save(self) -> None:
        data = {
            "comment": "Files tgictl wrote here; it replaces or removes only these, and only while unchanged.",
            "files": {path: {"writer": writer, "sha256": digest} for path, (writer, digest) in sorted(self.entries.items())},
        }
        _atomic_write(self.directory / INDEX, (json.dumps(data, indent=1) + "\n").encode())


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_bytes(data)
    os.replace(partial, path)  # a reader never sees half a file


def _relative(name: str) -> str:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise UsageError(f"refusing to write {name!r}: not a path inside the output directory")
    return str(path)


def _conflict(path: Path, new: bytes | None, index: _Index, relative: str) -> str | None:
    """Why replacing (or, with ``new`` None, removing) ``path`` would lose data; None when it is safe."""
    if not path.exists():
        return None
    if not path.is_file():
        return f"{path} is not a file"
    current = path.read_bytes()
    if current == new or index.owns(relative, current):
        return None
    if relative in index.entries:
        return f"{path} was changed since tgictl wrote it"
    return f"{path} exists and was not written by tgictl"


def write_files(directory: Path, files: Mapping[str, str | bytes], *, writer: str, force: bool = False,
                prune: bool = False) -> list[Path]:
    """Write ``files`` (paths relative to ``directory``) and record them as ``writer``'s.

    With ``prune``, files ``writer`` recorded earlier that this write does not make are
    removed too. Every check runs before anything is written: on ``NotOurs`` the
    directory is as it was. Returns the paths written, sorted.
    """
    index = _Index.read(directory)
    payload = {_relative(name): data.encode() if isinstance(data, str) else data for name, data in files.items()}
    stale = sorted(p for p, (w, _) in index.entries.items() if prune and w == writer and p not in payload)
    problems = [why for rel in sorted(payload) if (why := _conflict(directory / rel, payload[rel], index, rel))]
    problems += [why for rel in stale if (why := _conflict(directory / rel, None, index, rel))]
    _refuse(problems, force)
    for rel in stale:
        (directory / rel).unlink(missing_ok=True)
        index.entries.pop(rel)
        _remove_empty_parents(directory, directory / rel)
    written = []
    for rel, data in sorted(payload.items()):
        _atomic_write(directory / rel, data)
        index.entries[rel] = (writer, _digest(data))
        written.append(directory / rel)
    index.save()
    return written


def write_file(path: Path, data: str | bytes, *, writer: str, force: bool = False) -> Path:
    """Write one file under the same rule, recorded in its directory's index."""
    return write_files(path.parent, {path.name: data}, writer=writer, force=force)[0]


def check_writable(paths: list[Path], *, force: bool = False) -> None:
    """Refuse now, before long work (a load test), what writing ``paths`` later would refuse."""
    problems = [why for path in paths
                if (why := _conflict(path, None, _Index.read(path.parent), path.name))]
    _refuse(problems, force)


def _refuse(problems: list[str], force: bool) -> None:
    if problems and not force:
        raise NotOurs("\n".join(f"{why}: not replacing it (pass --force to overwrite)" for why in problems))


def _remove_empty_parents(top: Path, removed: Path) -> None:
    """Remove folders a prune left empty, up to (not including) ``top``."""
    parent = removed.parent
    while parent != top and parent.is_dir() and not any(parent.iterdir()):
        parent.rmdir()
        parent = parent.parent
