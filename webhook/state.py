"""What a worker loads once at start-up: the spec, the policy data, the compiled engine.

Nothing here is rebuilt per request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from meshc.policies.engine import PolicyEngine
from meshc.webhook.decision import FailureMode
from meshc.webhook.metrics import Metrics
from meshc.webhook.mutate import Markers
from meshc.webhook.settings import DEFAULT_MAX_BODY, Settings


@dataclass
class State:
    engine: PolicyEngine | None
    meshed: frozenset[str] = frozenset()
    markers: Markers = field(default_factory=dict)
    failure_mode: FailureMode = "closed"
    max_body: int = DEFAULT_MAX_BODY
    metrics: Metrics = field(default_factory=Metrics)

    @property
    def ready(self) -> bool:
        return self.engine is not None


def load_state(settings: Settings) -> State:
    """Load and compile everything a worker needs; raises SpecError on a bad spec."""
    # Imported here: the spec model and engines are heavy, and `meshc check`
    # imports this package's pure modules without them.
    from meshc.compiler.loader import load_mesh
    from meshc.compiler.markers import namespace_markers
    from meshc.policies.data import policy_data
    from meshc.policies.engine import create_engine

    mesh = load_mesh(settings.spec)
    data: dict[str, Any] = policy_data(mesh)
    engine = create_engine(
        settings.engine,
        data,
        opa_url=settings.opa_url,
        timeout=settings.opa_timeout,
        publish=settings.opa_publish,
    )
    return State(
        engine=engine,
        meshed=frozenset(mesh.meshed_namespaces),
        markers=namespace_markers(mesh.provider, mesh.mtls),
        failure_mode=settings.failure_mode,
        max_body=settings.max_body,
    )
