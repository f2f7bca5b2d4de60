"""What ``meshc webhook serve`` was asked for, as it travels to the worker processes.

Workers are separate processes that import the app by name, so the settings
go to them as JSON in an environment variable. This module imports nothing
heavy: the supervisor reads it before ``PROMETHEUS_MULTIPROC_DIR`` is set,
and prometheus_client must not be imported before that.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass

from meshc.webhook.decision import FailureMode

SETTINGS_ENV = "MESHC_WEBHOOK_SETTINGS"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
DEFAULT_MAX_BODY = 3 * 1024 * 1024  # the API server's own request limit


@dataclass(frozen=True)
class Settings:
    spec: str
    engine: str = "wasm"
    opa_url: str = "http://127.0.0.1:8181"
    opa_timeout: float = 2.0
    opa_publish: bool = False
    failure_mode: FailureMode = "closed"
    max_body: int = DEFAULT_MAX_BODY
    decision_timeout: float = 4.0  # deadline.DEFAULT_SECONDS, not imported: this module stays light
    policies: str = ""  # a directory of .rego files instead of the packaged ones
    # --policy: evaluate only these policy ids (a diagnostic aid; every answer says so).
    only_policies: tuple[str, ...] = ()
    # Set by the supervisor: the copy of the last spec it validated, which
    # workers load, and where it reports a reload that failed.
    spec_snapshot: str = ""
    status_file: str = ""

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        raw = env.get(SETTINGS_ENV)
        if not raw:
            raise RuntimeError(
                f"{SETTINGS_ENV} is not set: start the server with `meshc webhook serve`"
            )
        fields = json.loads(raw)
        fields["only_policies"] = tuple(fields.get("only_policies", ()))
        return cls(**fields)
