"""Compiled policy modules kept between processes, so the wasm engine starts in milliseconds.

wasmtime takes about 0.35 s to compile OPA's module to machine code, and
about a millisecond to load that machine code again from
``Module.serialize()``. The wasm engine therefore keeps it in a per-user
cache directory, ``$XDG_CACHE_HOME/meshc`` or else ``~/.cache/meshc``
(created 0700), one file per module named after everything the machine code
depends on: the module's SHA-256, the wasmtime release, and the host (its
operating system, architecture and CPU features).

Loading machine code is running it: wasmtime checks that a file is in its
format and made for this engine's settings, not that it is what wasmtime
wrote (its API calls deserializing ``unsafe``). So an entry is used only
when both it and the directory are owned by this user and writable by no
one else, and it is read through the very descriptor that was checked.
Anything else (no directory or home, a file owned by someone else or
writable by group or others, a symlink, a file wasmtime refuses) and the
module is compiled as if there were no cache; the result is written for
next time when the directory is this user's own.

An entry is written to a temporary file in the same directory, flushed to
disk and renamed over the entry's name: concurrent writers each put a whole
file there (the last rename wins), and a reader opens one whole file or
another, never a part. Writing an entry also removes entries and abandoned
temporary files not modified for :data:`STALE_DAYS`, left by older policies
and wasmtime releases.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import platform
import stat
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import wasmtime

SUFFIX = ".cwasm"
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


def entry_name(wasm: bytes) -> str:
    """The file name of ``wasm``'s machine code: its digest, the wasmtime release, the host."""
    digest = hashlib.sha256(wasm).hexdigest()
    host = hashlib.sha256(_host().encode()).hexdigest()[:16]
    return f"policy-{digest}-wasmtime-{_wasmtime_version()}-{host}{SUFFIX}"


class ModuleCache:
    """Compiled modules in ``directory``; with None, every load compiles."""

    def __init__(self, directory: Path | None):
        self.directory = directory

    @classmethod
    def default(cls) -> ModuleCache:
        # Reading it needs to know which user this is (geteuid: POSIX only).
        return cls(default_directory() if hasattr(os, "geteuid") else None)

    def load(self, engine: wasmtime.Engine, wasm: bytes) -> wasmtime.Module:
        """``wasm`` compiled for ``engine``: from the cache when it has it, else compiled and kept.

        Raises what ``wasmtime.Module`` raises for bytes that are not a module.
        """
        name = entry_name(wasm)
        module = self.get(engine, name)
        if module is None:
            module = wasmtime.Module(engine, wasm)
            self.put(name, module)
        return module

    def get(self, engine: wasmtime.Engine, name: str) -> wasmtime.Module | None:
        """The entry ``name`` loaded into ``engine``, or None when there is none this user can trust."""
        data = self._read(name)
        if data is None:
            return None
        try:
            return wasmtime.Module.deserialize(engine, data)
        except wasmtime.WasmtimeError:
            # Another wasmtime build, other settings, a damaged file: compile
            # and write it anew.
            return None

    def put(self, name: str, module: wasmtime.Module) -> bool:
        """Keep ``module``'s machine code as ``name``; False when the cache cannot take it."""
        if self.directory is None:
            return False
        try:
            data = module.serialize()
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
            self._prune(keep=name)
        except (OSError, wasmtime.WasmtimeError):
            return False
        return True

    def _read(self, name: str) -> bytes | None:
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

    def _prune(self, keep: str) -> None:
        assert self.directory is not None
        cutoff = time.time() - STALE_DAYS * 86400
        for path in self.directory.iterdir():
            if path.name == keep or not path.name.endswith((SUFFIX, ".tmp")):
                continue
            with contextlib.suppress(OSError):
                if path.lstat().st_mtime < cutoff:
                    path.unlink()


def _own(st: os.stat_result, kind: Callable[[int], bool]) -> bool:
    """Of this kind (S_ISDIR, S_ISREG), this user's, and writable by no one else."""
    return kind(st.st_mode) and st.st_uid == os.geteuid() and not st.st_mode & _SHARED_WRITE


def _wasmtime_version() -> str:
    # The one dist-info directory beside the package names the release, as
    # importlib.metadata would, without the 40 ms its imports and search add to
    # every start-up.
    found = list(Path(wasmtime.__file__).parent.parent.glob("wasmtime-*.dist-info"))
    if len(found) == 1:
        return found[0].name.removeprefix("wasmtime-").removesuffix(".dist-info")
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("wasmtime")
    except PackageNotFoundError:
        return "unknown"


def _host() -> str:
    """The operating system, the architecture and (where /proc says) the CPU's features."""
    features = ""
    with (
        contextlib.suppress(OSError),
        open("/proc/cpuinfo", encoding="utf-8", errors="replace") as cpuinfo,
    ):
        for line in cpuinfo:
            if line.startswith(("flags", "Features")):  # x86, ARM
                features = line.partition(":")[2].strip()
                break
    return f"{sys.platform} {platform.machine()} {features}"
