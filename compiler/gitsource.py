"""Read a spec file as it was committed at a git revision."""

from __future__ import annotations

import os
from pathlib import Path

import git

from .errors import Problem, SpecError


def read_at(spec: str, ref: str) -> tuple[str, str]:
    """The text of ``spec`` at ``ref`` and the name to cite it by (``path@ref``)."""
    try:
        repo = git.Repo(Path(spec).absolute().parent, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise SpecError([Problem(spec, 0, 0, "", "--ref needs the spec inside a git repository")]) from None
    root = Path(repo.working_tree_dir or ".")
    relative = os.path.relpath(Path(spec).absolute(), root)
    try:
        commit = repo.commit(ref)
    except (git.BadName, ValueError):
        raise SpecError([Problem(spec, 0, 0, "", f"unknown git revision {ref!r}")]) from None
    try:
        blob = commit.tree / Path(relative).as_posix()
    except KeyError:
        raise SpecError([Problem(spec, 0, 0, "", f"does not exist at {ref} ({commit.hexsha[:12]})")]) from None
    data: bytes = blob.data_stream.read()
    return data.decode("utf-8"), f"{Path(relative).as_posix()}@{ref}"
