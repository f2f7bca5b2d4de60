"""What a ServiceRouter route does with the requests it takes: its destination's timeout,
retries, header changes and path rewrite.

Consul turns a route's destination into the Envoy route of the caller's
sidecar (hashicorp/consul agent/xds/routes.go, ``makeUpstreamRouteForDiscoveryChain``):

- ``requestTimeout`` becomes the route's timeout, which covers every try;
- the retry fields become its retry policy (``getRetryPolicyForDestination``):
  ``numRetries`` the number of retries, ``retryOn`` joined into Envoy's
  ``retry_on``, which takes HTTP conditions and gRPC statuses alike (Envoy's
  ``RetryPolicyImpl`` parses it with ``parseRetryOn`` and ``parseRetryGrpcOn``);
  Consul accepts the spec's every condition (agent/structs/config_entry_routing.go,
  ``isValidRetryCondition``);
- ``requestHeaders`` and ``responseHeaders`` become the route's headers to add
  and remove (``injectHeaderManipToRoute``): ``add`` as Envoy's
  APPEND_IF_EXISTS_OR_ADD, ``set`` as OVERWRITE_IF_EXISTS_OR_ADD
  (``makeHeadersValueOptions``), ``remove`` as headers to remove;
- ``prefixRewrite`` becomes Envoy's ``prefix_rewrite``, which replaces the part
  of the path the route's path matched.
"""

from __future__ import annotations

from typing import Any

from ...durations import duration_seconds
from ...model import Retries, Route, Service
from ...model_traffic import HeaderOps
from .. import Report

# The spec's default retry condition (its schema's retryOn; Linkerd and Kuma render the same).
DEFAULT_RETRY_ON = ("5xx",)

# Envoy refuses a route that adds, sets or removes host or a :-prefixed header
# (source/common/router/header_parser.cc: ":-prefixed or host headers may not be
# modified" / "removed"), and rejecting the route would take the service's whole route
# configuration with it.
_UNMODIFIABLE = "host"


def unmodifiable(name: str) -> bool:
    return name.lower() == _UNMODIFIABLE or name.startswith(":")


def literal(value: str) -> str:
    # Envoy reads %...% in a header value as a command (its substitution formatter) and
    # %% as a literal %: the spec's values are literal.
    return value.replace("%", "%%")


def _timeout(timeout: str | None, retries: Retries | None) -> str | None:
    # One try (no retries): its timeout is the request's, whichever ends first.
    if retries is not None and retries.attempts == 0 and retries.per_try_timeout is not None:
        per_try = retries.per_try_timeout
        if timeout is None or duration_seconds(per_try) < duration_seconds(timeout):
            return per_try
    return timeout


def _retries(retries: Retries, path: str, report: Report) -> dict[str, Any]:
    if retries.attempts == 0:
        # No retry fields at all: with retryOn alone Envoy would still retry once
        # (num_retries defaults to 1 in a retry policy), and without one it retries nothing.
        return {}
    if retries.per_try_timeout is not None:
        report.lossy(
            "services.retries.perTryTimeout",
            f"{path}.perTryTimeout",
            "not rendered: a ServiceRouter destination has one timeout for all tries",
        )
    # numRetries is always written with its conditions: alone it leaves Envoy's retry_on
    # empty, a retry policy that retries nothing.
    return {"numRetries": retries.attempts, "retryOn": list(retries.retry_on or DEFAULT_RETRY_ON)}


def _modifiers(ops: HeaderOps, path: str, report: Report) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, pairs in (("add", ops.add), ("set", ops.set)):
        kept = {}
        for name, value in pairs:
            if unmodifiable(name):
                report.lossy(
                    "services.routes.headers",
                    f"{path}.{key}.{name}",
                    f"not rendered: Envoy refuses a route that changes {name}",
                )
            else:
                kept[name] = literal(value)
        if kept:
            out[key] = kept
    remove = [name for name in ops.remove if not unmodifiable(name)]
    if len(remove) < len(ops.remove):
        report.lossy(
            "services.routes.headers",
            f"{path}.remove",
            "not rendered: Envoy refuses a route that removes "
            + ", ".join(n for n in ops.remove if unmodifiable(n)),
        )
    if remove:
        out["remove"] = remove
    return out


def destination_settings(svc: Service, route: Route | None, report: Report) -> dict[str, Any]:
    """The destination fields every Consul route of ``route`` carries (``None``: the
    service's default route when it gives no routes): its own timeout and retries, else the
    service's, and its header changes. The path rewrite depends on each match (routing.py)."""
    own = route is not None and route.retries is not None
    retries = route.retries if route is not None and own else svc.retries
    retries_path = f"{route.path if route is not None and own else svc.path}.retries"
    timeout = route.timeout if route is not None and route.timeout is not None else svc.timeout
    settings: dict[str, Any] = {}
    timeout = _timeout(timeout, retries)
    if timeout is not None:
        settings["requestTimeout"] = timeout
    if retries is not None:
        settings.update(_retries(retries, retries_path, report))
    headers = route.headers if route is not None else None
    if headers is not None:
        for side, ops in (("request", headers.request), ("response", headers.response)):
            if ops is not None:
                modifiers = _modifiers(ops, f"{headers.path}.{side}", report)
                if modifiers:
                    settings[f"{side}Headers"] = modifiers
    return settings
