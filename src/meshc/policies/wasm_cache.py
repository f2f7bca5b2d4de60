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
wrote (its API calls deserializing ``unsafe``). So an entry is read and written
as :mod:`meshc.usercache` reads and writes every entry: only when it and the
directory are this user's own and no one else's to change, and as a whole.
Anything else and the module is compiled as if there were no cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import platform
import sys
from pathlib import Path

import wasmtime

from meshc.usercache import STALE_DAYS, UserCache, default_directory

__all__ = ["STALE_DAYS", "SUFFIX", "ModuleCache", "default_directory", "entry_name"]

SUFFIX = ".cwasm"


def entry_name(wasm: bytes) -> str:
    """The file name of ``wasm``'s machine code: its digest, the wasmtime release, the host."""
    digest = hashlib.sha256(wasm).hexdigest()
    host = hashlib.sha256(_host().encode()).hexdigest()[:16]
    return f"policy-{digest}-wasmtime-{_wasmtime_version()}-{host}{SUFFIX}"


class ModuleCache:
    """Compiled modules in ``directory``; with None, every load compiles."""

    def __init__(self, directory: Path | None):
        self.directory = directory
        self._files = UserCache(directory)

    @classmethod
    def default(cls) -> ModuleCache:
        return cls(UserCache.default().directory)

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
        try:
            data = module.serialize()
        except wasmtime.WasmtimeError:
            return False
        return self._files.write(name, data, suffix=SUFFIX)

    def _read(self, name: str) -> bytes | None:
        return self._files.read(name)


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
