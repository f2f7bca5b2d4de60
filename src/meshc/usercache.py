"""Files meshc keeps between processes in the user's cache directory, read only when trusted.

What is kept here is run: wasmtime's machine code for the policies
(:mod:`meshc.policies.wasm_cache`) and the spec schema's compiled check
(:mod:`meshc.compiler.schema_check`). So an entry is read only when both it
and the directory are owned by this user and writable by no one else, and it
is read through the very descriptor that was checked. Anything else (no
directory or home, a file owned by someone else or writable by group or
others, a symlink, a FIFO) reads as no entry, and the caller builds what it
needs as if there were no cache.

An entry is written to a temporary file in the same directory, flushed to disk
and renamed over the entry's name: concurrent writers each put a whole file
there (the last rename wins), and a reader opens one whole file or another,
never a part. Writing an entry also removes entries with the same suffix, and
abandoned temporary files, not modified for :data:`STALE_DAYS`: what older
releases left.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

STALE_DAYS = 30
# Bits that would let someone other than the owner change a file or directory.
_SHARED_WRITE = stat.S_IWGRP | stat.S_IWOTH


def default_directory() -> Path | None:
    """``$XDG_CACHE_HOME/meshc`` (an absolute one), else ``~/.cache/meshc``; None without a home."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):
        try:
            base = str(Path.home() / ".cache")
        except RuntimeError:  # no HOME, and no passwd entry for this user
            return None
    return Path(base) / "meshc"


class UserCache:
    """Entries in ``directory`` (created 0700); with None, nothing is read or kept."""

    def __init__(self, directory: Path | None):
        self.directory = directory

    @classmethod
    def default(cls) -> UserCache:
        # Trusting an entry needs to know which user this is (geteuid: POSIX only).
        return cls(default_directory() if hasattr(os, "geteuid") else None)

    def read(self, name: str) -> bytes | None:
        """The entry ``name``, or None when there is none this user can trust."""
        if self.directory is None:
            return None
        try:
            directory = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError:
            return None
        try:
            if not _own(os.fstat(directory), stat.S_ISDIR):
                return None
            flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | getattr(os, "O_NONBLOCK", 0)
            fd = os.open(name, flags, dir_fd=directory)  # a symlink fails: ELOOP
            with os.fdopen(fd, "rb") as entry:
                if not _own(os.fstat(entry.fileno()), stat.S_ISREG):
                    return None
                return entry.read()
        except OSError:
            return None
        finally:
            os.close(directory)

    def write(self, name: str, data: bytes | bytearray, *, suffix: str) -> bool:
        """Keep ``data`` as ``name`` (whose entries end in ``suffix``); False when the cache
        cannot take it (no directory, one that is not this user's own, a full disk)."""
        if self.directory is None:
            return False
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            if not _own(os.stat(self.directory), stat.S_ISDIR):
                return False
            fd, temporary = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=self.directory)
            try:
                with os.fdopen(fd, "wb") as out:  # mkstemp: mode 0600
                    out.write(data)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(temporary, self.directory / name)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)
                raise
            self._prune(keep=name, suffix=suffix)
        except OSError:
            return False
        return True

    def _prune(self, keep: str, suffix: str) -> None:
        assert self.directory is not None
        cutoff = time.time() - STALE_DAYS * 86400
        for path in self.directory.iterdir():
            if path.name == keep or not path.name.endswith((suffix, ".tmp")):
                continue
            with contextlib.suppress(OSError):
                if path.lstat().st_mtime < cutoff:
                    path.unlink()


def _own(st: os.stat_result, kind: Callable[[int], bool]) -> bool:
    """Of this kind (S_ISDIR, S_ISREG), this user's, and writable by no one else."""
    return kind(st.st_mode) and st.st_uid == os.geteuid() and not st.st_mode & _SHARED_WRITE
