"""Calling an exported Wasm function of i32s, at the cost of the call and not of its binding.

wasmtime's Python ``Func.__call__`` looks the function's type up, converts
and roots every argument and unroots it again: about 7 µs an argument, so
OPA's seven-argument ``opa_eval`` paid ~50 µs a call in the binding, more
than evaluating the policies. For a function whose parameters and result are
all i32 (checked once, here), the arguments go into one preallocated array
through wasmtime's C ``wasmtime_func_call_unchecked``, which reads them and
writes the result in its place. Traps and exceptions raised by host
functions are raised as ``Func.__call__`` raises them.

This uses wasmtime-py's C bindings (``wasmtime._ffi``); where they are not as
expected, :func:`i32_caller` returns the public call instead, which is slower
and otherwise the same (tests/policies/test_wasm_engine.py checks which one
is in use).
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from typing import Any

import wasmtime

I32Call = Callable[..., int]


def i32_caller(store: wasmtime.Store, func: wasmtime.Func) -> tuple[I32Call, bool]:
    """A call of ``func`` taking and giving i32s as ints, and whether it is the fast one."""
    ty = func.type(store)
    i32 = wasmtime.ValType.i32()
    if any(p != i32 for p in ty.params) or list(ty.results) != [i32]:
        raise TypeError(f"not a function of i32s to one i32: {ty}")

    def public(*args: int) -> int:
        return int(func(store, *args)) & 0xFFFFFFFF

    try:
        fast = _unchecked(store, func, len(ty.params))
    except (ImportError, AttributeError, TypeError):
        return public, False
    return fast, True


def _unchecked(store: wasmtime.Store, func: wasmtime.Func, arity: int) -> I32Call:
    from wasmtime import _ffi as ffi
    from wasmtime._func import enter_wasm

    # The arguments, and then the result in the first slot: as long as the longer.
    size = max(arity, 1)
    slots = (ffi.wasmtime_val_raw_t * size)()
    context = store._context()
    handle = ctypes.byref(func._func)
    call = ffi.wasmtime_func_call_unchecked
    from_error: Any = wasmtime.WasmtimeError._from_ptr

    def fast(*args: int) -> int:
        if len(args) != arity:
            raise TypeError(f"{arity} arguments expected, {len(args)} given")
        for i, value in enumerate(args):
            slots[i].i32 = value
        with enter_wasm(store) as trap:
            error = call(context, handle, slots, size, trap)
            if error:
                raise from_error(error)
        return int(slots[0].i32) & 0xFFFFFFFF  # an address: unsigned

    return fast
