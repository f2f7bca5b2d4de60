"""Read a spec file as it was committed at a git revision.

GitPython is imported by this module only, so commands that never look at
history (``meshc render`` without ``--ref``, the webhook) do not pay for it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

import git

from .errors import Problem, SpecError


class GitSourceError(Exception):
    """The repository, revision or path cannot be read; the message says which."""


@contextmanager
def open_repo(path: str | os.PathLike[str]) -> Iterator[git.Repo]:
    """The repository containing ``path``, closed afterwards (it keeps git processes)."""
    try:
        repo = git.Repo(Path(path).absolute(), search_parent_directories=True)
    except git.NoSuchPathError:
        raise GitSourceError(f"{os.fspath(path)}: no such directory") from None
    except git.InvalidGitRepositoryError:
        raise GitSourceError(f"{os.fspath(path)}: not inside a git repository") from None
    with repo:
        yield repo


def resolve(repo: git.Repo, ref: str) -> git.Commit:
    try:
        return repo.commit(ref)
    except (git.BadName, git.BadObject, ValueError):
        raise GitSourceError(f"unknown git revision {ref!r}") from None


def read_blob(commit: git.Commit, relative: str) -> str | None:
    """The text of ``relative`` (a path from the repository root) in ``commit``; None if absent."""
    try:
        blob = commit.tree / PurePosixPath(relative).as_posix()
    except KeyError:
        return None
    if blob.type != "blob":
        raise GitSourceError(f"{relative} is a {blob.type} at {commit.hexsha[:12]}, not a file")
    data: bytes = blob.data_stream.read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise GitSourceError(
            f"{relative} at {commit.hexsha[:12]} is not UTF-8 ({exc.reason})"
        ) from None


def read_at(spec: str, ref: str) -> tuple[str, str]:
    """The text of ``spec`` at ``ref`` and the name to cite it by (``path@ref``)."""
    try:
        with open_repo(Path(spec).absolute().parent) as repo:
            root = Path(repo.working_tree_dir or ".")
            relative = Path(os.path.relpath(Path(spec).absolute(), root)).as_posix()
            commit = resolve(repo, ref)
            text = read_blob(commit, relative)
    except GitSourceError as exc:
        raise SpecError([Problem(spec, 0, 0, "", f"--ref {ref}: {exc}")]) from None
    if text is None:
        raise SpecError(
            [Problem(spec, 0, 0, "", f"does not exist at {ref} ({commit.hexsha[:12]})")]
        )
    return text, f"{relative}@{ref}"
