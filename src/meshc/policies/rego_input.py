"""rego-cpp's input document, built node by node rather than parsed from JSON text.

Parsing is most of what ``set_input_term`` costs: about 0.7 ms for a typical
injected Pod, against about 0.25 ms to hand the same tree over through the C
API's ``regoInput*`` calls. The tree must be the one the parser would build,
so each scalar is given as the parser sees it:

- a string node holds JSON string source text: quotes and escapes, non-ASCII
  as ``\\u`` escapes, exactly as :func:`json.dumps` writes it. (regopy's own
  ``Input`` passes raw text, which breaks on a quote and compares differently
  on non-ASCII; hence this builder);
- an integer node holds decimal text, so any int64 is exact;
- a float would be printed with six decimals (C++ ``std::to_string``), so a
  document holding one is not built here, nor one holding anything else JSON
  text would spell differently (a non-string key, a tuple, an integer past
  int64). :func:`build` returns ``None`` for those, and the caller parses
  ``json.dumps`` text instead, which decides them exactly as before. Kubernetes
  objects are integers and strings; floats are rare.

One difference remains, in rego-cpp itself: ``regoInputArray`` leaves an
array's items unwrapped, so ``json.marshal`` and ``yaml.marshal`` of such an
array (or of anything holding one) are undefined, where every other builtin,
comparison and iteration behaves as on parsed input. The policies therefore
never marshal a value; tests/policies/test_rego_input.py holds them to that
and compares both forms on every sample and on generated documents.
"""

from __future__ import annotations

import ctypes
from json.encoder import encode_basestring_ascii
from typing import Any

from regopy import rego_shared

_lib = rego_shared.rego
_new = _lib.regoNewInput
_free = _lib.regoFreeInput
_string = _lib.regoInputString
_int = _lib.regoInputInt
_bool = _lib.regoInputBoolean
_null = _lib.regoInputNull
_item = _lib.regoInputObjectItem
_object = _lib.regoInputObject
_array = _lib.regoInputArray
_set_input = _lib.regoSetInput

_INT64 = range(-(2**63), 2**63)
# Keys repeat across requests (name, securityContext, ...): encode each once.
_KEYS: dict[str, bytes] = {}
_KEYS_MAX = 4096


class _NotExact(Exception):
    """The document holds a value this builder cannot hand over exactly."""


def _key(key: object) -> bytes:
    if type(key) is not str:
        raise _NotExact
    encoded = _KEYS.get(key)
    if encoded is None:
        encoded = encode_basestring_ascii(key).encode("ascii")
        if len(_KEYS) < _KEYS_MAX:
            _KEYS[key] = encoded
    return encoded


def _add(handle: int, value: Any) -> None:
    kind = type(value)
    if kind is str:
        _string(handle, encode_basestring_ascii(value).encode("ascii"))
    elif kind is dict:
        for key, item in value.items():
            _string(handle, _key(key))
            _add(handle, item)
            _item(handle)
        _object(handle, len(value))
    elif kind is list:
        for item in value:
            _add(handle, item)
        _array(handle, len(value))
    elif kind is bool:
        _bool(handle, value)
    elif kind is int:
        if value not in _INT64:
            raise _NotExact
        _int(handle, value)
    elif value is None:
        _null(handle)
    else:
        raise _NotExact


def set_input(interpreter: int, document: Any) -> bool:
    """Make ``document`` the input of the rego-cpp ``interpreter`` handle.

    Returns False, leaving the input as it was, when the document holds a value
    that only its JSON text gives exactly (see the module docstring). Raises
    :class:`RuntimeError` when rego-cpp refuses the tree.
    """
    handle = _new()
    try:
        try:
            _add(handle, document)
        except (_NotExact, RecursionError):
            return False
        status = _set_input(interpreter, handle)
    finally:
        _free(handle)
    if status != rego_shared.Code.OK:
        raise RuntimeError(rego_shared.rego_get_error(ctypes.c_void_p(interpreter)))
    return True
