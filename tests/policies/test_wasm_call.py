"""The i32 call: the same answers, traps and host exceptions as wasmtime's own call."""

from __future__ import annotations

from typing import Any

import pytest
import wasmtime
from policy_reviews import pod, review

from meshc.policies.engine import create_engine
from meshc.policies.wasm_call import i32_caller

MODULE = """
(module
  (import "env" "boom" (func $boom (param i32)))
  (func (export "mix") (param i32 i32 i32 i32 i32 i32 i32) (result i32)
    local.get 0 local.get 1 i32.add local.get 2 i32.mul
    local.get 3 i32.sub local.get 4 i32.xor local.get 5 i32.add local.get 6 i32.sub)
  (func (export "high") (result i32) i32.const -8)
  (func (export "trap") (param i32) (result i32) unreachable)
  (func (export "host") (param i32) (result i32) local.get 0 call $boom i32.const 0)
  (func (export "wide") (param i64) (result i32) i32.const 0))
"""


class Boom(Exception):
    pass


@pytest.fixture
def exports() -> tuple[wasmtime.Store, Any]:
    store = wasmtime.Store(wasmtime.Engine())

    def boom(value: int) -> None:
        raise Boom(value)

    i32 = wasmtime.ValType.i32()
    host = wasmtime.Func(store, wasmtime.FuncType([i32], []), boom)
    module = wasmtime.Module(store.engine, MODULE)
    return store, wasmtime.Instance(store, module, [host]).exports(store)


def test_the_fast_call_is_in_use_with_this_wasmtime(exports: tuple[wasmtime.Store, Any]) -> None:
    store, found = exports
    assert i32_caller(store, found["mix"])[1] is True


@pytest.mark.parametrize(
    "args", [(1, 2, 3, 4, 5, 6, 7), (0,) * 7, (2**31 - 1, 1, 2, 3, 4, 5, 6), (9, 8, 7, 6, 5, 4, 3)]
)
def test_it_answers_as_wasmtimes_own_call(
    exports: tuple[wasmtime.Store, Any], args: tuple[int, ...]
) -> None:
    store, found = exports
    call, _ = i32_caller(store, found["mix"])
    assert call(*args) == found["mix"](store, *args) & 0xFFFFFFFF


def test_a_result_is_read_as_an_unsigned_address(exports: tuple[wasmtime.Store, Any]) -> None:
    store, found = exports
    call, _ = i32_caller(store, found["high"])
    assert call() == 2**32 - 8


def test_a_trap_is_raised_as_a_trap_and_the_next_call_works(
    exports: tuple[wasmtime.Store, Any],
) -> None:
    store, found = exports
    trap, _ = i32_caller(store, found["trap"])
    with pytest.raises(wasmtime.Trap):
        trap(1)
    mix, _ = i32_caller(store, found["mix"])
    assert mix(1, 2, 3, 4, 5, 6, 7) == found["mix"](store, 1, 2, 3, 4, 5, 6, 7) & 0xFFFFFFFF


def test_an_exception_of_a_host_function_comes_out_of_the_call(
    exports: tuple[wasmtime.Store, Any],
) -> None:
    store, found = exports
    host, _ = i32_caller(store, found["host"])
    with pytest.raises(Boom, match="42"):
        host(42)


def test_a_function_of_other_types_is_refused(exports: tuple[wasmtime.Store, Any]) -> None:
    store, found = exports
    with pytest.raises(TypeError, match="not a function of i32s"):
        i32_caller(store, found["wide"])


def test_the_wasm_engine_evaluates_through_the_fast_call(istio_data: dict[str, Any]) -> None:
    engine = create_engine("wasm", istio_data)
    found = engine.evaluate(review(pod(labels={"sidecar.istio.io/inject": "false"})))
    assert [v.path for v in found] == ['metadata.labels["sidecar.istio.io/inject"]']
    assert engine._instance().fast_call is True  # type: ignore[attr-defined]


def test_a_call_with_the_wrong_number_of_arguments_is_refused_before_wasm(
    exports: tuple[wasmtime.Store, Any],
) -> None:
    store, found = exports
    mix, _ = i32_caller(store, found["mix"])
    with pytest.raises(TypeError, match="7 arguments expected, 6 given"):
        mix(1, 2, 3, 4, 5, 6)
