"""The cache of compiled policy modules: used when it can be trusted, compiled around when not.

A hit loads the machine code an earlier process compiled; a miss compiles and
writes it. An entry anyone but this user could have written (owned by
someone else, writable by group or others, in such a directory, a symlink)
is never loaded, since loading machine code runs it; a damaged or foreign
entry and a directory that cannot be used only cost a compile. Concurrent
writers leave one whole entry.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import wasmtime
from policy_reviews import pod, review

from meshc.policies import wasm_cache
from meshc.policies.wasm_bundle import policy_wasm
from meshc.policies.wasm_cache import STALE_DAYS, ModuleCache, default_directory, entry_name
from meshc.policies.wasm_engine import WasmEngine
from support.paths import REPO

BAD_POD = pod(labels={"sidecar.istio.io/inject": "false"}, hostNetwork=True)
# The smallest module: enough for what the cache does with one.
TINY = b"\x00asm\x01\x00\x00\x00"


def an_engine(epoch_interruption: bool = True) -> wasmtime.Engine:
    config = wasmtime.Config()
    config.parallel_compilation = False
    config.epoch_interruption = epoch_interruption
    return wasmtime.Engine(config)


class Counting(ModuleCache):
    """A cache that counts the modules it had to compile (each is written once compiled)."""

    def __init__(self, directory: Path | None):
        super().__init__(directory)
        self.compiled = 0

    def put(self, name: str, module: wasmtime.Module) -> bool:
        self.compiled += 1
        return super().put(name, module)


@pytest.fixture
def cache(tmp_path: Path) -> Counting:
    return Counting(tmp_path / "cache" / "meshc")


def entries(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


# -- hit and miss ---------------------------------------------------------------------------


def test_a_miss_compiles_and_writes_a_private_entry_and_the_next_load_is_a_hit(
    cache: Counting,
) -> None:
    assert cache.directory is not None
    wasm = policy_wasm()
    cache.load(an_engine(), wasm)
    assert cache.compiled == 1
    assert entries(cache.directory) == [entry_name(wasm)]
    assert stat.S_IMODE(cache.directory.stat().st_mode) == 0o700
    assert stat.S_IMODE((cache.directory / entry_name(wasm)).stat().st_mode) == 0o600
    assert cache.get(an_engine(), entry_name(wasm)) is not None
    cache.load(an_engine(), wasm)
    assert cache.compiled == 1


def test_an_engine_on_a_cached_module_judges_as_one_on_a_compiled_module(
    cache: Counting, istio_data: dict[str, Any]
) -> None:
    compiled = WasmEngine(istio_data, cache=ModuleCache(None)).evaluate(review(BAD_POD))
    assert compiled
    WasmEngine(istio_data, cache=cache)
    assert WasmEngine(istio_data, cache=cache).evaluate(review(BAD_POD)) == compiled
    assert cache.compiled == 1


def test_the_wasm_engine_uses_the_user_s_cache_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, istio_data: dict[str, Any]
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert ModuleCache.default().directory == tmp_path / "meshc"
    WasmEngine(istio_data)
    assert entries(tmp_path / "meshc") == [entry_name(policy_wasm())]


def test_the_entry_is_named_by_the_module_the_wasmtime_release_and_the_host(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wasm = policy_wasm()
    name = entry_name(wasm)
    assert name.endswith(".cwasm") and name != entry_name(TINY)
    monkeypatch.setattr(wasm_cache, "_wasmtime_version", lambda: "0.0.0")
    assert entry_name(wasm) != name
    monkeypatch.undo()
    monkeypatch.setattr(wasm_cache, "_host", lambda: "another host")
    assert entry_name(wasm) != name


def test_the_directory_is_xdg_cache_home_else_the_home_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_directory() == tmp_path / "meshc"
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for ignored in ("", "relative/cache"):  # the XDG spec: only an absolute path counts
        monkeypatch.setenv("XDG_CACHE_HOME", ignored)
        assert default_directory() == tmp_path / "home" / ".cache" / "meshc"

    def no_home() -> Path:
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.setattr(Path, "home", no_home)
    assert default_directory() is None


# -- what is never loaded ---------------------------------------------------------------------


@pytest.mark.parametrize("mode", [0o620, 0o602, 0o666], ids=["group", "others", "both"])
def test_an_entry_writable_by_others_is_ignored_and_replaced(cache: Counting, mode: int) -> None:
    assert cache.directory is not None
    cache.load(an_engine(), TINY)
    entry = cache.directory / entry_name(TINY)
    entry.chmod(mode)
    assert cache.get(an_engine(), entry.name) is None
    cache.load(an_engine(), TINY)
    assert cache.compiled == 2
    assert stat.S_IMODE(entry.stat().st_mode) == 0o600  # the replacement is private


@pytest.mark.parametrize("mode", [0o770, 0o707, 0o777], ids=["group", "others", "both"])
def test_a_directory_writable_by_others_is_neither_read_nor_written(
    cache: Counting, mode: int
) -> None:
    assert cache.directory is not None
    cache.load(an_engine(), TINY)
    cache.directory.chmod(mode)
    assert cache.get(an_engine(), entry_name(TINY)) is None
    before = (cache.directory / entry_name(TINY)).stat().st_mtime_ns
    cache.load(an_engine(), TINY)
    assert cache.compiled == 2
    assert (cache.directory / entry_name(TINY)).stat().st_mtime_ns == before


def test_an_entry_or_directory_of_another_user_is_ignored(
    cache: Counting, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache.load(an_engine(), TINY)
    monkeypatch.setattr(os, "geteuid", lambda: os.getuid() + 1)
    assert cache.get(an_engine(), entry_name(TINY)) is None
    cache.load(an_engine(), TINY)
    assert cache.compiled == 2


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="chown needs root")
def test_an_entry_owned_by_another_user_is_ignored_and_replaced_by_one_of_ours(
    cache: Counting,
) -> None:
    assert cache.directory is not None
    cache.load(an_engine(), TINY)
    entry = cache.directory / entry_name(TINY)
    os.chown(entry, 65534, 65534)
    assert cache.get(an_engine(), entry.name) is None
    cache.load(an_engine(), TINY)
    assert cache.compiled == 2 and entry.stat().st_uid == os.geteuid()


def test_a_symlinked_entry_is_not_followed(cache: Counting, tmp_path: Path) -> None:
    assert cache.directory is not None
    cache.load(an_engine(), TINY)
    entry = cache.directory / entry_name(TINY)
    target = tmp_path / "elsewhere.cwasm"
    entry.rename(target)
    entry.symlink_to(target)
    assert cache.get(an_engine(), entry.name) is None


def test_a_fifo_in_place_of_an_entry_is_ignored_without_waiting(cache: Counting) -> None:
    assert cache.directory is not None
    cache.directory.mkdir(mode=0o700, parents=True)
    os.mkfifo(cache.directory / entry_name(TINY), 0o600)
    started = time.monotonic()
    assert cache.get(an_engine(), entry_name(TINY)) is None
    assert time.monotonic() - started < 1


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: b"",
        lambda data: data[: len(data) // 2],
        lambda data: b"not machine code",
    ],
    ids=["empty", "truncated", "garbage"],
)
def test_a_damaged_entry_is_compiled_again(cache: Counting, damage: Any) -> None:
    assert cache.directory is not None
    wasm = policy_wasm()
    cache.load(an_engine(), wasm)
    entry = cache.directory / entry_name(wasm)
    entry.write_bytes(damage(entry.read_bytes()))
    assert cache.get(an_engine(), entry.name) is None
    assert cache.load(an_engine(), wasm) is not None
    assert cache.compiled == 2
    assert cache.get(an_engine(), entry.name) is not None


def test_an_entry_compiled_with_other_engine_settings_is_compiled_again(
    cache: Counting,
) -> None:
    wasm = policy_wasm()
    cache.load(an_engine(epoch_interruption=False), wasm)
    assert cache.get(an_engine(epoch_interruption=True), entry_name(wasm)) is None
    cache.load(an_engine(epoch_interruption=True), wasm)
    assert cache.compiled == 2
    assert cache.get(an_engine(epoch_interruption=True), entry_name(wasm)) is not None


def test_a_directory_that_cannot_be_made_only_costs_a_compile(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("in the way")
    cache = Counting(tmp_path / "file" / "meshc")
    assert cache.load(an_engine(), TINY) is not None
    assert cache.load(an_engine(), TINY) is not None
    assert cache.compiled == 2


def test_no_directory_means_no_cache() -> None:
    cache = Counting(None)
    cache.load(an_engine(), TINY)
    assert cache.put(entry_name(TINY), wasmtime.Module(an_engine(), TINY)) is False


def test_bytes_that_are_not_a_module_raise_as_wasmtime_does_and_write_nothing(
    cache: Counting,
) -> None:
    with pytest.raises(wasmtime.WasmtimeError):
        cache.load(an_engine(), b"not wasm")
    assert cache.compiled == 0


# -- writers ----------------------------------------------------------------------------------


def test_writing_an_entry_removes_stale_entries_and_abandoned_temporary_files(
    cache: Counting,
) -> None:
    assert cache.directory is not None
    cache.directory.mkdir(mode=0o700, parents=True)
    stale = time.time() - (STALE_DAYS + 1) * 86400
    for name in ("policy-old.cwasm", ".policy-old.cwasm.x1.tmp", "notes.txt"):
        (cache.directory / name).write_text("old")
        os.utime(cache.directory / name, (stale, stale))
    (cache.directory / "policy-recent.cwasm").write_text("recent")
    cache.load(an_engine(), TINY)
    assert entries(cache.directory) == sorted(
        [entry_name(TINY), "notes.txt", "policy-recent.cwasm"]
    )


def test_concurrent_writers_and_readers_see_only_whole_entries(cache: Counting) -> None:
    assert cache.directory is not None
    wasm = policy_wasm()
    module = wasmtime.Module(an_engine(), wasm)
    name = entry_name(wasm)
    failures: list[BaseException] = []
    start = threading.Barrier(8)

    def write() -> None:
        start.wait()
        for _ in range(10):
            if not cache.put(name, module):
                failures.append(AssertionError("a write failed"))

    def read() -> None:
        engine = an_engine()
        start.wait()
        for _ in range(20):
            data = cache._read(name)
            if data is not None and cache.get(engine, name) is None:
                failures.append(AssertionError("a reader saw a partial entry"))

    threads = [threading.Thread(target=write) for _ in range(4)]
    threads += [threading.Thread(target=read) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures
    assert entries(cache.directory) == [name]  # no temporary file left behind
    assert cache.get(an_engine(), name) is not None


PROCESS = """
import json, sys
sys.path[:0] = sys.argv[1:3]
from policy_reviews import pod, review
from support.policy_samples import data_for
from meshc.policies.wasm_engine import WasmEngine
engine = WasmEngine(data_for("istio"))
bad = pod(labels={"sidecar.istio.io/inject": "false"}, hostNetwork=True)
print(json.dumps([v.path for v in engine.evaluate(review(bad))]))
"""


def test_processes_starting_at_once_on_an_empty_cache_each_get_an_engine(
    tmp_path: Path,
) -> None:
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    args = [sys.executable, "-c", PROCESS, str(REPO / "tests"), str(REPO / "tests" / "policies")]
    processes = [
        subprocess.Popen(args, env=env, stdout=subprocess.PIPE, text=True) for _ in range(3)
    ]
    answers = [json.loads(p.communicate(timeout=120)[0]) for p in processes]
    assert all(p.returncode == 0 for p in processes)
    assert answers[0] and answers == [answers[0]] * 3
    modules = [e for e in entries(tmp_path / "meshc") if e.endswith(wasm_cache.SUFFIX)]
    assert modules == [entry_name(policy_wasm())]


def test_the_wasmtime_release_is_read_as_importlib_metadata_reads_it() -> None:
    from importlib.metadata import version

    assert wasm_cache._wasmtime_version() == version("wasmtime")
