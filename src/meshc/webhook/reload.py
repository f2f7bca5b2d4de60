"""Reload the spec while serving, and never lose the last good configuration.

The supervisor watches the spec (the same poll-by-content as the
certificate). When it changes, the supervisor loads it exactly as a worker
would — validate, compile the policy data, build the engine — and only if
that succeeds does it copy the text to the snapshot the workers load and
respawn them. A spec that stops validating is reported (log, the
``meshc_config_reload_failures_total`` metric, the ``/readyz`` body) and the
workers go on serving the snapshot they have.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from meshc.atomicfile import write_atomic
from meshc.webhook.settings import Settings

log = logging.getLogger("meshc.webhook")
# The smallest review the policies must answer: a CONNECT of nothing.
PROBE = {
    "apiVersion": "admission.k8s.io/v1",
    "kind": "AdmissionReview",
    "request": {
        "uid": "meshc-startup-probe",
        "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "operation": "CONNECT",
        "namespace": "default",
        "object": None,
    },
}


def config_problem(settings: Settings, text: str) -> str | None:
    """Why a worker could not start with this spec text, or None."""
    from meshc.compiler.errors import SpecError
    from meshc.policies.engine import EngineError
    from meshc.webhook.state import load_state

    try:
        state = load_state(settings, text)
        if settings.engine in ("embedded", "wasm") and state.engine is not None:
            # Policies that compile can still lack the entry point, and would
            # then deny everything; the OPA engine is not asked here, since a
            # sidecar OPA may start after the webhook.
            state.engine.evaluate(PROBE)
    except SpecError as exc:
        return f"the spec cannot be loaded:\n{exc.format()}"
    except EngineError as exc:
        return f"the policy engine cannot start: {exc}"
    except (OSError, ValueError) as exc:
        return f"the policies cannot be read: {exc}"
    return None


class SpecReload:
    """The ``accept`` check of the spec watcher: validate, then snapshot."""

    def __init__(self, settings: Settings):
        from meshc.webhook.metrics import reload_failures

        self.settings = settings
        self.snapshot = Path(settings.spec_snapshot)
        self.status = Path(settings.status_file)
        self.failures = reload_failures()

    def take_snapshot(self, text: str) -> None:
        write_atomic(self.snapshot, text.encode("utf-8"))
        write_atomic(self.status, b"{}")

    def accept(self) -> bool:
        try:
            text = Path(self.settings.spec).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problem: str | None = f"cannot read the spec {self.settings.spec!r}: {exc}"
        else:
            problem = config_problem(self.settings, text)
        if problem is None:
            self.take_snapshot(text)
            log.info("the spec %s changed and loads: respawning the workers", self.settings.spec)
            return True
        self.failures.inc()
        log.error(
            "the spec %s changed but cannot be used; the workers keep the last good "
            "configuration: %s",
            self.settings.spec,
            problem,
        )
        status = {
            "config": "the last good spec: the spec on disk does not load",
            "spec_errors": problem.splitlines(),
        }
        write_atomic(self.status, json.dumps(status).encode("utf-8"))
        return False
