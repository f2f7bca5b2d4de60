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

from .engine import EngineError, Review, policy_input_text, to_violations
from .modules import ENTRYPOINT, data_document, policy_modules
from .violations import Violation


class EmbeddedEngine:
    def __init__(self, data: dict[str, Any]):
        self._modes: dict[str, str] = dict(data.get("modes", {}))
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
            # at query time they only re-check the parsed input, which costs
            # as much as parsing it (~0.45 ms for a typical Pod). evaluate()
            # only ever hands over json.dumps output, which those checks used
            # to verify was JSON.
            rego.well_formed_checks_enabled = False
        return rego

    def evaluate(self, review: Review) -> list[Violation]:
        # JSON text, never regopy.Input(dict): the input must mean what the
        # API server's JSON means (a YAML int map key becomes a string),
        # exactly as OPA sees it. The text is always json.dumps' own, so it
        # is JSON, which the disabled well-formedness checks no longer verify.
        text = policy_input_text(review)
        rego = self._interpreter()
        try:
            rego.set_input_term(text)
            output = rego.query_bundle_entrypoint(self._bundle, ENTRYPOINT)
        except regopy.RegoError as exc:
            raise EngineError(f"policy evaluation failed: {exc}") from exc
        if not output.ok():
            raise EngineError(f"policy evaluation failed: {output}")
        if not output.results or not output.results[0].expressions:
            # The entry point is always defined; undefined means a broken bundle.
            raise EngineError(f"the policies gave no answer for {ENTRYPOINT}")
        return to_violations(output.results[0].expressions[0], self._modes)
