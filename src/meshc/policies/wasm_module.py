"""What the host must know of a compiled policy module before instantiating it.

OPA's Wasm modules import their linear memory with a minimum of 2 pages
(128 KiB), whatever their constant data needs: OPA's own SDKs create a larger
memory up front. A module whose data segments (the policies' strings) reach
past the memory it is given traps while being instantiated ("out of bounds
memory access"), so the engine sizes the memory from the data section.
"""

from __future__ import annotations

PAGE = 65536
_DATA_SECTION = 11
_I32_CONST, _END = 0x41, 0x0B


def _leb128(data: bytes, pos: int, signed: bool = False) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            if signed and byte & 0x40:
                result -= 1 << shift
            return result, pos


def data_end(module: bytes) -> int:
    """The first address past the module's active data segments (0 when it has none).

    Raises ValueError for bytes that are not a Wasm module, or a data segment
    whose offset is not a constant (OPA writes only constants).
    """
    if module[:4] != b"\0asm":
        raise ValueError("not a Wasm module")
    pos, end = 8, 0
    try:
        while pos < len(module):
            section = module[pos]
            size, pos = _leb128(module, pos + 1)
            if section != _DATA_SECTION:
                pos += size
                continue
            count, p = _leb128(module, pos)
            for _ in range(count):
                flags, p = _leb128(module, p)
                if flags == 1:  # passive: copied only when the module asks
                    length, p = _leb128(module, p)
                    p += length
                    continue
                if flags == 2:  # active, with an explicit memory index
                    _, p = _leb128(module, p)
                if module[p] != _I32_CONST:
                    raise ValueError("a data segment's offset is not a constant")
                offset, p = _leb128(module, p + 1, signed=True)
                if module[p] != _END:
                    raise ValueError("a data segment's offset is not a constant")
                length, p = _leb128(module, p + 1)
                p += length
                end = max(end, offset + length)
            pos += size
    except IndexError:
        raise ValueError("a truncated Wasm module") from None
    return end


def pages_for(module: bytes, declared_min: int) -> int:
    """The memory pages to give ``module``: its declared minimum, or what its data needs."""
    return max(declared_min, -(-data_end(module) // PAGE))
