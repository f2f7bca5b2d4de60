"""The embedded engine: rego-cpp (regopy) in-process.

The policies are compiled once into a bundle when the engine is created. A
regopy Interpreter is stateful (set the input, then query) and its C calls
release the GIL, so two threads sharing one would race on the input; each
thread therefore gets its own Interpreter, created on its first request, and
all of them execute the one compiled bundle.
"""

from __future__ import annotations

import threading
from typing import Any

import regopy

from .engine import UNDEFINED, EngineError, EngineFrame, input_text
from .modules import ENTRYPOINT, data_document, policy_modules


class EmbeddedEngine(EngineFrame):
    def __init__(self, data: dict[str, Any]):
        super().__init__(data)
        builder = regopy.Interpreter()
        try:
            for name, source in policy_modules().items():
                builder.add_module(name, source)
            builder.add_data(data_document(data))
            self._bundle = builder.build(None, [ENTRYPOINT])
        except regopy.RegoError as exc:
            raise EngineError(f"the policies do not compile: {exc}") from exc
        if not self._bundle.ok():
            raise EngineError(f"the policies do not compile: {self._bundle.node()}")
        self._local = threading.local()

    def _interpreter(self) -> regopy.Interpreter:
        rego: regopy.Interpreter | None = getattr(self._local, "rego", None)
        if rego is None:
            rego = self._local.rego = regopy.Interpreter()
            # Well-formedness checks re-validate rego-cpp's own tree after
            # each rewriting pass. The bundle was checked when it was built;
            # at query time they would only re-check the input, which is
            # json.dumps text, so well-formed JSON by construction.
            rego.well_formed_checks_enabled = False
        return rego

    def raw(self, document: Any) -> Any:
        rego = self._interpreter()
        rego.set_input_term(input_text(document))
        try:
            output = rego.query_bundle_entrypoint(self._bundle, ENTRYPOINT)
        except ValueError as exc:
            # regopy decodes rego-cpp's answer as JSON, and rego-cpp prints
            # floats at the ends of their range as no JSON number.
            raise EngineError(
                f"policy evaluation failed: an answer that is not JSON: {exc}"
            ) from exc
        if not output.ok():
            raise EngineError(f"policy evaluation failed: {output}")
        if not output.results or not output.results[0].expressions:
            return UNDEFINED
        return output.results[0].expressions[0]
