"""Timeouts and retries as Linkerd's annotations (retry.linkerd.io, timeout.linkerd.io).

Linkerd reads them from a Service (every route of its ports) and from an
HTTPRoute (every rule of that route); per rule, a route's timeouts replace the
Service's only when the route sets one, and likewise its retries
(linkerd/linkerd2 policy-controller/grpc/src/outbound/http.rs). So a spec
route with its own timeout or retries gets an HTTPRoute of its own carrying
the route's effective policy: its own settings, and the service's for the rest.
"""

from __future__ import annotations

from ...model import Retries
from ...schema_traffic import GRPC_RETRY_CONDITIONS
from .. import Report
from .durations import linkerd_duration

RETRY = "retry.linkerd.io"
TIMEOUT = "timeout.linkerd.io"
TRANSPORT_CONDITIONS = ("reset", "connect-failure", "refused-stream")
# The spec's status conditions as retry.linkerd.io/http spells them (Istio's
# retriable-4xx is 409 only).
_RETRY_STATUS = {"5xx": "5xx", "gateway-error": "gateway-error", "retriable-4xx": "409"}


def retry_timeout_annotations(
    timeout: tuple[str, str] | None, retries: tuple[Retries, str] | None, report: Report
) -> dict[str, str]:
    """The annotations for a timeout and retries, each given with the spec path it comes from."""
    out: dict[str, str] = {}
    if timeout is not None:
        value, tpath = timeout
        out[f"{TIMEOUT}/request"] = linkerd_duration(value, tpath, report)
    if retries is None:
        return out
    policy, path = retries
    per_try = (
        linkerd_duration(policy.per_try_timeout, f"{path}.perTryTimeout", report)
        if policy.per_try_timeout is not None
        else None
    )
    if policy.attempts == 0:
        # No retries; Linkerd reads a retry limit of 0 as "unset" and would retry once,
        # so the only try's timeout is a response timeout instead.
        if per_try is not None:
            out[f"{TIMEOUT}/response"] = per_try
        return out
    statuses = []
    for i, condition in enumerate(policy.retry_on):
        if condition in TRANSPORT_CONDITIONS:
            report.lossy(
                "services.retries.retryOn.transport",
                f"{path}.retryOn[{i}]",
                f"{condition!r} was not rendered",
            )
        elif condition in GRPC_RETRY_CONDITIONS:
            report.lossy(
                "services.retries.retryOn.grpc",
                f"{path}.retryOn[{i}]",
                f"{condition!r} was not rendered",
            )
        else:
            statuses.append(_RETRY_STATUS[condition])
    if policy.retry_on and not statuses:
        report.lossy(
            "services.retries.retryOn.transport"
            if set(policy.retry_on) & set(TRANSPORT_CONDITIONS)
            else "services.retries.retryOn.grpc",
            f"{path}.retryOn",
            "no retries were rendered: none of the conditions is an HTTP response status",
        )
        return out
    # The spec's default condition is 5xx (see the schema's retryOn).
    out[f"{RETRY}/http"] = ",".join(dict.fromkeys(statuses)) or "5xx"
    out[f"{RETRY}/limit"] = str(policy.attempts)
    if per_try is not None:
        out[f"{RETRY}/timeout"] = per_try
    return out
