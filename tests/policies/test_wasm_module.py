"""The memory a compiled policy module needs, read from its data section."""

from __future__ import annotations

import pytest

from meshc.policies.modules import packaged_dir
from meshc.policies.wasm_module import PAGE, data_end, pages_for


def leb(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def module_with_data(*segments: tuple[int, bytes]) -> bytes:
    body = leb(len(segments))
    for offset, data in segments:
        # flags 0: active, memory 0; offset i32.const (signed LEB128) end
        body += b"\x00" + b"\x41" + _sleb(offset) + b"\x0b" + leb(len(data)) + data
    return b"\0asm\x01\0\0\0" + b"\x0b" + leb(len(body)) + body


def _sleb(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        done = (n == 0 and not byte & 0x40) or (n == -1 and byte & 0x40)
        out.append(byte | (0 if done else 0x80))
        if done:
            return bytes(out)


def test_the_end_of_the_highest_segment() -> None:
    assert data_end(module_with_data((1024, b"abc"), (200_000, b"x" * 10))) == 200_010
    assert data_end(b"\0asm\x01\0\0\0") == 0


def test_memory_covers_the_data_or_the_declared_minimum() -> None:
    assert pages_for(module_with_data((200_000, b"x" * 10)), 2) == 4
    assert pages_for(module_with_data((10, b"x")), 2) == 2


@pytest.mark.parametrize("broken", [b"", b"not wasm", b"\0asm\x01\0\0\0\x0b\x05\x01"])
def test_what_is_not_a_module_is_a_value_error(broken: bytes) -> None:
    with pytest.raises(ValueError):
        data_end(broken)


def test_the_shipped_module_needs_more_than_it_declares() -> None:
    # Why the engine sizes memory itself: OPA declares 2 pages, the data needs more.
    shipped = packaged_dir().joinpath("policy.wasm").read_bytes()
    assert data_end(shipped) > 2 * PAGE
