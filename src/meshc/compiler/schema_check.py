"""The spec schema compiled to Python, kept between processes.

fastjsonschema turns the schema into Python source that checks a document
several times faster than jsonschema walks it, but the source is about a
megabyte: generating and compiling it takes over 0.1 s, and importing
jsonschema for a small spec instead costs about 45 ms of every ``meshc``
start-up. So the compiled code object is kept, marshalled, in the user's
cache (:mod:`meshc.usercache`: read only when this user's own and no one
else's to change), named after everything it depends on: the schema, the
fastjsonschema release and the interpreter's bytecode. Loading it takes about
a millisecond; a miss compiles and writes it for the next process.

The check stops at the first problem: an invalid spec is walked again by
jsonschema, which reports every one (:mod:`meshc.compiler.validate`).
"""

from __future__ import annotations

import copy
import hashlib
import json
import marshal
import types
from collections.abc import Callable
from functools import cache
from importlib.util import MAGIC_NUMBER
from typing import Any

import fastjsonschema

from meshc.usercache import UserCache

from .schema import MESH_SCHEMA

SUFFIX = ".schema-code"
# fastjsonschema's newest draft; the schema uses nothing of 2020-12 beyond it,
# and tests/compiler/test_validate_schema_paths.py holds the two to the same answers.
_SCHEMA = {**MESH_SCHEMA, "$schema": "http://json-schema.org/draft-07/schema#"}


def entry_name() -> str:
    key = json.dumps(_SCHEMA, sort_keys=True).encode()
    digest = hashlib.sha256(key + fastjsonschema.VERSION.encode() + MAGIC_NUMBER).hexdigest()
    return f"spec-{digest}{SUFFIX}"


@cache
def check() -> Callable[[Any], Any]:
    """The compiled check: returns for a valid document, raises
    ``fastjsonschema.JsonSchemaException`` for an invalid one."""
    return compiled(UserCache.default())


def compiled(files: UserCache) -> Callable[[Any], Any]:
    name = entry_name()
    code = _load(files.read(name))
    if code is None:
        # A copy: fastjsonschema writes into the schema it compiles (resolved
        # references), which would change the name of the next entry.
        source = fastjsonschema.compile_to_code(copy.deepcopy(_SCHEMA))
        code = compile(source, "<meshc spec schema>", "exec")
        files.write(name, marshal.dumps(code), suffix=SUFFIX)
    namespace: dict[str, Any] = {}
    # The code fastjsonschema generated from meshc's own schema, or a trusted entry of it.
    exec(code, namespace)  # noqa: S102
    # The root's function; those of the schema's $defs carry its name as a prefix.
    root = min((key for key in namespace if key.startswith("validate")), key=len)
    function: Callable[[Any], Any] = namespace[root]
    return function


def _load(data: bytes | None) -> types.CodeType | None:
    if data is None:
        return None
    try:
        code = marshal.loads(data)
    except (EOFError, ValueError, TypeError):  # a damaged entry: compile it again
        return None
    return code if isinstance(code, types.CodeType) else None
