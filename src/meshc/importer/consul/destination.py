"""A ServiceRouter destination's settings in the spec's words: its timeout and retries, its
header changes and its path rewrite.

The inverse of targets/consul/destination.py:

- ``requestTimeout`` is the route's ``timeout``;
- ``numRetries`` and ``retryOn`` are its ``retries`` (``attempts``, ``retryOn``): the
  target always writes the conditions (the spec's default, ``5xx``, when it names none),
  so they are read as written, which is what they mean on every target; a destination
  with no retry field is a route that retries nothing (``attempts: 0``) when the
  service's other routes do. ``retryOn`` without ``numRetries`` retries once (Envoy's
  ``num_retries`` defaults to 1: agent/xds/routes.go, ``getRetryPolicyForDestination``
  sets it only when ``numRetries`` is set);
- ``requestHeaders`` / ``responseHeaders`` are ``headers.request`` / ``headers.response``,
  their values with Envoy's ``%%`` read as the literal ``%`` the target escaped; a value
  with a ``%`` command of Envoy's formatter (``%DOWNSTREAM_REMOTE_ADDRESS%``) is no literal
  the spec could set;
- ``prefixRewrite`` is ``rewrite.path`` after the matches it means the same after (a path
  prefix, an exact path, a gRPC method); the target writes it after those matches of the
  route only (:func:`read_rewrite`).

Each field the router reads beyond the subset and service is read by one entry of
:data:`DESTINATION`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from meshc.compiler.schema_traffic import GRPC_RETRY_CONDITIONS, HTTP_RETRY_CONDITIONS

from ..draft import Draft, Part, Source

_CONDITIONS = frozenset((*HTTP_RETRY_CONDITIONS, *GRPC_RETRY_CONDITIONS))
# The destination fields of the timeout and retries, which route and service may share.
SETTINGS = (
    "requestTimeout",
    "numRetries",
    "retryOn",
    "retryOnStatusCodes",
    "retryOnConnectFailure",
)
# The destination fields of a route's own header changes (the catch-all's are the default
# route's).
HEADERS = ("requestHeaders", "responseHeaders")
# Every method of a gRPC service (the spec's service names, with a package or not).
_GRPC_SERVICE_PREFIX = re.compile(r"/([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)/")
# A % that is not half of an escaped %%: the start of an Envoy formatter command.
_COMMAND = re.compile(r"%(?!%)")


def _retries(draft: Draft, src: Source, path: str, dest: dict[str, Any]) -> Part | None:
    retry_on = [str(c) for c in dest.get("retryOn") or []]
    codes = [int(c) for c in dest.get("retryOnStatusCodes") or []]
    if dest.get("retryOnConnectFailure") and "connect-failure" not in retry_on:
        retry_on.append("connect-failure")
    if "numRetries" not in dest and not retry_on and not codes:
        return None
    attempts = int(dest["numRetries"]) if "numRetries" in dest else 1
    if not attempts:
        if retry_on or codes:
            draft.lose(
                src,
                f"{path}.numRetries",
                "0: Envoy then retries once (its num_retries defaults to 1); imported so",
            )
            attempts = 1
        else:
            return None
    if codes:
        draft.lose(
            src,
            f"{path}.retryOnStatusCodes",
            "the spec's retry conditions name no status codes; imported without them",
        )
    for c in retry_on:
        if c not in _CONDITIONS:
            draft.lose(src, f"{path}.retryOn", f"{c}: not one of the spec's retry conditions")
    conditions = [c for c in retry_on if c in _CONDITIONS]
    if not conditions:
        draft.lose(
            src,
            f"{path}.numRetries",
            "no condition to retry on, so Envoy retries nothing; imported without retries",
        )
        return None
    return {"attempts": attempts, "retryOn": conditions}


def settings_of(draft: Draft, src: Source, path: str, dest: dict[str, Any]) -> Part:
    """A destination's timeout and retries, in the spec's words."""
    out: Part = {}
    if "requestTimeout" in dest:
        out["timeout"] = str(dest["requestTimeout"])
    retries = _retries(draft, src, path, dest)
    if retries is not None:
        out["retries"] = retries
    return out


def _literal(draft: Draft, src: Source, path: str, value: Any) -> str | None:
    text = str(value)
    if _COMMAND.search(text.replace("%%", "")):
        draft.lose(
            src,
            path,
            f"{text}: Envoy reads %...% as a command of its formatter, and the spec's "
            "header values are literal; the change is not imported",
        )
        return None
    return text.replace("%%", "%")


def _headers(draft: Draft, src: Source, path: str, value: Any, route: Part, which: str) -> bool:
    ops = {k: v for k, v in (value or {}).items() if v}
    for key in sorted(set(ops) - {"add", "set", "remove"}):
        draft.lose(
            src, f"{path}.{key}", "not a header change of the spec; the rule is not imported"
        )
        return False
    out: Part = {}
    for key in ("add", "set"):
        kept = {}
        for name, raw in (ops.get(key) or {}).items():
            literal = _literal(draft, src, f"{path}.{key}.{name}", raw)
            if literal is not None:
                kept[str(name)] = literal
        if kept:
            out[key] = kept
    if ops.get("remove"):
        out["remove"] = [str(n) for n in ops["remove"]]
    if out:
        route.setdefault("headers", {})[which] = out
    return True


def _rewritable(match: Part) -> bool:
    """Whether prefixRewrite after ``match`` replaces what the spec's rewrite.path replaces
    (targets/consul/routing.py ``_rewritable``): the prefix of a pathPrefix, the whole path
    of a pathExact (a gRPC method is one); Consul takes it beside those only, whose paths
    start with / (an exact path or prefix without one was a regex)."""
    grpc = match.get("grpc")
    if grpc is not None:
        return "method" in grpc
    path = match.get("path") or {}
    return any(str(path.get(k, "")).startswith("/") for k in ("exact", "prefix"))


def read_rewrite(
    draft: Draft,
    src: Source,
    paths: list[str],
    values: list[Any],
    route: Part,
    grpc_chain: bool = False,
) -> bool:
    """``rewrite.path`` from the ``prefixRewrite`` of each router route of ``route`` (one
    per match, ``None`` where a route has none). The target writes the route's rewrite
    after the matches it means the same after, and no other, so those are one route.
    ``grpc_chain``: the service's chain is grpc, where a prefix ``/<name>/`` without the rewrite
    is every method of the gRPC service ``name``, after which the target writes none."""
    matches = route.get("matches") or [route["match"]]
    given = {str(v) for v in values if v is not None}
    if not given:
        return True
    for value, m in zip(values, matches, strict=True):
        service = _GRPC_SERVICE_PREFIX.fullmatch(str((m.get("path") or {}).get("prefix", "")))
        if grpc_chain and value is None and service is not None and set(m) <= {"path", "headers"}:
            m.pop("path")
            m["grpc"] = {"service": service[1]}
    if len(given) > 1:
        draft.lose(
            src,
            paths[-1],
            "another rewrite than the route's other matches: the spec's rewrite is the "
            "route's; the rule is not imported",
        )
        return False
    for path, value, m in zip(paths, values, matches, strict=True):
        grpc = m.get("grpc")
        if value is not None and grpc is not None and "method" not in grpc:
            # Every method of a gRPC service is the path prefix /<service>/, which the
            # rewrite replaces; the spec rewrites a gRPC method only.
            m.pop("grpc")
            m["path"] = {"prefix": f"/{grpc['service']}/"}
        if value is not None and not _rewritable(m):
            draft.lose(
                src,
                path,
                "the spec rewrites the matched prefix of a prefix or exact path match; "
                "the rule is not imported",
            )
            return False
        if value is None and _rewritable(m):
            draft.lose(
                src,
                path,
                "no rewrite after this match, and the route's other matches have one: the "
                "spec's rewrite is the route's; imported with it",
            )
    route["rewrite"] = {"path": given.pop()}
    if not all(_rewritable(m) for m in matches):
        draft.notes.append(
            f"{src.at(paths[0])}: {src.ref}: the route rewrites the path after its path "
            "matches only; imported as the route's rewrite.path, which the Consul target "
            "renders so and other meshes after every match"
        )
    return True


# destination field -> its reader (True: read); the subset, service, settings and
# prefixRewrite (read_rewrite, over every match of the route) are read by the router itself.
Destination = Callable[[Draft, Source, str, Any, Part], bool]
DESTINATION: dict[str, Destination] = {
    "requestHeaders": lambda d, s, p, v, r: _headers(d, s, p, v, r, "request"),
    "responseHeaders": lambda d, s, p, v, r: _headers(d, s, p, v, r, "response"),
}
