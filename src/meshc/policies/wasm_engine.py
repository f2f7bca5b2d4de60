"""The wasm engine: the policies compiled by OPA to WebAssembly, run by wasmtime in-process.

OPA's own compiler plans the Rego and its C runtime evaluates the plan, so
an evaluation costs a fraction of an interpreter's (docs/policies.md,
"Engines"). The module is compiled to machine code once, and the machine
code kept in the user's cache for the next process (wasm_cache.py); each
thread gets its own instance (a wasmtime Store is single-threaded), loads the
data into it once, and evaluates every input through OPA's one-call ABI
(``opa_eval``), which parses the input text, evaluates and serialises the
result in one call. The heap is reset to just past the data on every call,
so nothing accumulates between evaluations.
"""

from __future__ import annotations

import ctypes
import json
import math
import os
import threading
from typing import Any

import wasmtime

from . import json_text
from .engine import UNDEFINED, DeadlineExceeded, EngineError, EngineFrame, Review, input_text
from .modules import ENTRYPOINT, data_document
from .violations import Violation
from .wasm_bundle import policy_wasm
from .wasm_cache import ModuleCache
from .wasm_call import i32_caller
from .wasm_module import pages_for

# opa_eval, the one-call evaluation, arrived in ABI 1.2.
ABI = (1, 2)
# What one instance's memory may grow to. A 3 MiB request (the webhook's body
# limit) needs a few tens of MiB; past this the evaluation traps and the
# failure mode answers, instead of the process growing without bound.
MEMORY_LIMIT = 512 * 1024 * 1024
# Linear memory never shrinks: an instance that grew past this for one large
# review (a 2.5 MB body takes about 75 MB) is dropped after it, so a worker
# does not keep that much for the rest of its life.
RETAIN_LIMIT = 32 * 1024 * 1024
PAGE = 65536
# How often the epoch advances while deadlines are in use: the resolution of
# a deadline, and the wake-ups of one thread per process.
TICK = 0.01
# The deadline of an evaluation that has none: centuries of ticks.
NO_DEADLINE = 1 << 40


class WasmEngine(EngineFrame):
    def __init__(
        self, data: dict[str, Any], wasm: bytes | None = None, cache: ModuleCache | None = None
    ):
        """An engine for ``data``, running ``wasm`` (default: the policies' module).

        The module's machine code comes from ``cache`` (default: this user's,
        :mod:`meshc.policies.wasm_cache`) when it holds it, or is compiled
        and kept there.
        """
        super().__init__(data)
        self._data = json.dumps(data_document(data), separators=(",", ":")).encode()
        config = wasmtime.Config()
        # Compiling on wasmtime's thread pool hangs in a process forked after
        # the pool started, and the webhook's supervisor loads the policies
        # before it forks its workers: compile on this thread (0.35 s, once
        # per module: the cache keeps the machine code).
        config.parallel_compilation = False
        # Compiled code checks the engine's epoch at function entries and loop
        # heads, so an evaluation can be stopped at its deadline
        # (evaluate_within) rather than left to run on.
        config.epoch_interruption = True
        self._engine = wasmtime.Engine(config)
        self._ticker = _Ticker(self._engine)
        self._wasm = policy_wasm() if wasm is None else wasm
        cache = ModuleCache.default() if cache is None else cache
        try:
            self._module = cache.load(self._engine, self._wasm)
        except wasmtime.WasmtimeError as exc:
            raise EngineError(f"the policies do not compile: not a Wasm module: {exc}") from exc
        self._local = threading.local()
        # The first instance now: a module this engine cannot run fails here,
        # at start-up, and not on the first admission.
        self._local.instance = _Instance(self._engine, self._module, self._wasm, self._data)

    def _instance(self) -> _Instance:
        instance: _Instance | None = getattr(self._local, "instance", None)
        if instance is None:
            instance = self._local.instance = _Instance(
                self._engine, self._module, self._wasm, self._data
            )
        return instance

    def evaluate(self, review: Review) -> list[Violation]:
        return self._within(review, NO_DEADLINE)

    def close(self) -> None:
        """Stop the epoch thread and drop this thread's instance.

        A webhook worker that swaps in a new spec closes the engine it
        replaces: without this, each reload would leave a thread and its
        instances' memory behind. Instances other threads hold go with the
        engine itself, which nothing references once it is replaced.
        """
        self._ticker.stop()
        self._local.instance = None

    def evaluate_within(self, review: Review, seconds: float) -> list[Violation]:
        # Counted from here: preparing the input is part of the time allowed.
        self._ticker.start()
        return self._within(review, math.ceil(seconds / TICK) + 1)

    def _within(self, review: Review, ticks: int) -> list[Violation]:
        self._instance().set_deadline(ticks)
        return super().evaluate(review)

    def raw(self, document: Any) -> Any:
        instance = self._instance()
        text = _input_bytes(document)
        try:
            result = instance.evaluate(text)
        except Exception as exc:
            # A trap can leave the instance's heap half-written: the thread's
            # next evaluation starts from a fresh one.
            self._local.instance = None
            if isinstance(exc, wasmtime.Trap) and exc.trap_code == wasmtime.TrapCode.INTERRUPT:
                raise DeadlineExceeded("the evaluation was stopped at its deadline") from exc
            raise
        if instance.memory_size() > RETAIN_LIMIT:
            self._local.instance = None
        # [{"result": value}] when the entry point has a value, [] when not.
        if isinstance(result, list) and result and isinstance(result[0], dict):
            return result[0].get("result", UNDEFINED)
        return UNDEFINED


class _Instance:
    """One thread's instance of the module, with the data loaded."""

    def __init__(self, engine: wasmtime.Engine, module: wasmtime.Module, wasm: bytes, data: bytes):
        store = self._store = wasmtime.Store(engine)
        store.set_limits(memory_size=MEMORY_LIMIT)
        store.set_epoch_deadline(NO_DEADLINE)  # it starts at 0: at once
        self._memory: wasmtime.Memory | None = None
        self._size = 0  # linear memory's, as last measured
        imports: list[Any] = []
        for item in module.imports:
            if item.name == "memory" and isinstance(item.type, wasmtime.MemoryType):
                try:
                    pages = pages_for(wasm, item.type.limits.min)
                except ValueError as exc:
                    raise EngineError(f"the Wasm module is not an OPA policy: {exc}") from exc
                self._memory = wasmtime.Memory(
                    store, wasmtime.MemoryType(wasmtime.Limits(pages, item.type.limits.max))
                )
                imports.append(self._memory)
            elif item.name == "opa_abort":
                imports.append(wasmtime.Func(store, _i32_func(1, 0), self._abort))
            elif item.name is not None and item.name.startswith("opa_builtin"):
                arity = int(item.name.removeprefix("opa_builtin"))
                imports.append(wasmtime.Func(store, _i32_func(arity + 2, 1), _no_host_builtin))
            elif item.name == "opa_println":
                imports.append(wasmtime.Func(store, _i32_func(1, 0), lambda _addr: None))
            else:
                raise EngineError(f"the Wasm module imports {item.module}.{item.name}, unknown")
        if self._memory is None:
            raise EngineError("the Wasm module imports no memory: not an OPA policy")
        try:
            exports = wasmtime.Instance(store, module, imports).exports(store)
            self._dump = exports["opa_json_dump"]
            opa_eval = exports["opa_eval"]
            assert isinstance(opa_eval, wasmtime.Func)
            self._eval, self.fast_call = i32_caller(store, opa_eval)
            version = (
                exports["opa_wasm_abi_version"].value(store),  # type: ignore[union-attr]
                exports["opa_wasm_abi_minor_version"].value(store),  # type: ignore[union-attr]
            )
            if version[0] != ABI[0] or version < ABI:
                raise EngineError(f"the Wasm module has ABI {version}, this engine needs {ABI}")
            needed = self._json(exports["builtins"](store))  # type: ignore[operator]
            if needed:
                raise EngineError(
                    "the policies use builtins OPA's Wasm runtime does not have: "
                    f"{', '.join(sorted(needed))}; use --engine embedded"
                )
            entrypoints = self._json(exports["entrypoints"](store))  # type: ignore[operator]
            if ENTRYPOINT not in entrypoints:
                raise EngineError(f"the Wasm module has no entry point {ENTRYPOINT}")
            self._entrypoint = int(entrypoints[ENTRYPOINT])
            malloc, parse = exports["opa_malloc"], exports["opa_json_parse"]
            address = malloc(store, len(data))  # type: ignore[operator]
            self._memory.write(store, data, address)
            self._data = parse(store, address, len(data))  # type: ignore[operator]
            if not self._data:
                raise EngineError("the policy data did not load into the Wasm module")
            self._heap = exports["opa_heap_ptr_get"](store)  # type: ignore[operator]
            self._measure()
        except (KeyError, AssertionError, TypeError, wasmtime.WasmtimeError) as exc:
            raise EngineError(f"the Wasm module is not an OPA policy: {exc!r}") from exc

    def evaluate(self, text: bytes) -> Any:
        store, memory, heap = self._store, self._memory, self._heap
        assert memory is not None
        end = heap + len(text)
        # Memory never shrinks: within the size last read, the input fits.
        if end > self._size:
            short = end - self._measure()
            if short > 0:
                memory.grow(store, -(-short // PAGE))
        # Straight into linear memory, now in bounds: Memory.write copies the
        # input into a bytearray and makes a ctypes array type on every call
        # (about 4 µs of the 10 µs this method costs besides the evaluation).
        ctypes.memmove(self._base() + heap, text, len(text))
        address = self._eval(0, self._entrypoint, self._data, heap, len(text), end, 0)
        self._measure()  # OPA's allocator grows memory as it needs
        return json_text.loads(self._string(address))

    def _measure(self) -> int:
        """The size of linear memory, read again and kept for :meth:`_string` and :meth:`memory_size`."""
        assert self._memory is not None
        self._size = self._memory.data_len(self._store)
        return self._size

    def _base(self) -> int:
        """Where linear memory starts now (growing it may move it)."""
        assert self._memory is not None
        return ctypes.addressof(self._memory.data_ptr(self._store).contents)

    def set_deadline(self, ticks: int) -> None:
        self._store.set_epoch_deadline(ticks)

    def memory_size(self) -> int:
        """The size of linear memory after the last evaluation."""
        return self._size

    def _json(self, value: int) -> Any:
        address = self._dump(self._store, value)  # type: ignore[operator]
        self._measure()
        return json.loads(self._string(address))

    def _string(self, address: int) -> bytes:
        """The NUL-terminated string OPA wrote at ``address``, in memory as last measured."""
        if not 0 < address < self._size:
            raise EngineError(f"the Wasm module answered an address out of bounds: {address}")
        return ctypes.string_at(self._base() + address)

    def _abort(self, address: int) -> None:
        # opa_abort: a Rego runtime error (conflicting outputs, a failed
        # builtin in strict mode) or an out-of-memory in OPA's allocator.
        self._measure()
        raise EngineError(
            f"policy evaluation failed: {self._string(address).decode(errors='replace')}"
        )


class _Ticker:
    """Advances an engine's epoch every TICK, from the first deadline on, in this process."""

    def __init__(self, engine: wasmtime.Engine):
        self._engine = engine
        self._lock = threading.Lock()
        self._pid = 0  # a thread started before a fork does not run in the child
        self._stopped = threading.Event()
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        if self._pid == os.getpid():
            return
        with self._lock:
            if self._pid != os.getpid():
                self.thread = threading.Thread(
                    target=self._run, name="meshc-wasm-epoch", daemon=True
                )
                self.thread.start()
                self._pid = os.getpid()

    def stop(self) -> None:
        self._stopped.set()

    def _run(self) -> None:
        # wait() rather than sleep(): a stopped ticker's thread ends within a tick.
        while not self._stopped.wait(TICK):
            self._engine.increment_epoch()


# Made once, not at every call as json.dumps with options does; without the
# circular-reference check (a cyclic document, which YAML aliases can make,
# exceeds the recursion limit instead, and input_text() then says what it is):
# 3 µs of the 14 an input took.
_ENCODER = json.JSONEncoder(
    separators=(",", ":"), ensure_ascii=False, allow_nan=False, check_circular=False
)


def _input_bytes(document: Any) -> bytes:
    """:func:`input_text` of ``document``, but UTF-8 rather than non-ASCII escaped.

    OPA's Wasm JSON parser decodes an escaped surrogate pair past U+1FFFF to
    the wrong character ("\\ud840\\udc00", U+20000, as U+10000), and reads
    UTF-8 right. A pair held as two code points (YAML's escapes give those) is
    the one character it stands for. A lone surrogate, which UTF-8 cannot
    carry and the Wasm parser refuses escaped, becomes U+FFFD, as OPA's own
    JSON decoder reads it.
    """
    return json_text.dumps(document, _stdlib_input_bytes)


def _stdlib_input_bytes(document: Any) -> bytes:
    try:
        text = _ENCODER.encode(document)
    except (TypeError, ValueError, RecursionError):
        text = input_text(document)  # raises the EngineError every engine raises for it
    try:
        return text.encode()
    except UnicodeEncodeError:
        # Pairs first (utf-16 joins them), then what is left alone.
        joined = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
        return joined.encode()


def _i32_func(params: int, results: int) -> wasmtime.FuncType:
    i32 = wasmtime.ValType.i32()
    return wasmtime.FuncType([i32] * params, [i32] * results)


def _no_host_builtin(*_args: int) -> int:
    # Never called: a module that lists builtins is refused when instantiated.
    raise EngineError("the policies called a builtin the Wasm runtime does not have")
