"""ServiceIntentions: who may call a service, as its ``allow`` rule.

The Consul target writes one ServiceIntentions per service with allow rules: a source per
caller, allowed, then ``*`` denied (targets/consul/policy.py, ``service_intentions``). A
source names a Consul service, which consul-k8s registers under the Kubernetes Service's
name and, with ACLs, under the service account of the same name; so a source is the
service account ``<namespace>/<name>`` of the Service of that name (the only one: Consul
CE has no namespaces), which the target renders back as the same source. A source named
like a Gateway is the gateway's identity, which the target adds on the backends of its
routes (gateway.py), not a caller.
"""

from __future__ import annotations

from ..draft import Draft, Part, Source, origin
from ..inventory import Inventory, pod_spec
from .gateway import Gateways

WILDCARD = "*"
_SOURCE_FIELDS = {"name", "action", "description"}


def _account_namespace(draft: Draft, inv: Inventory, name: str, fallback: str) -> str:
    """The namespace of the service account a source names."""
    found = sorted({ns for (ns, n) in draft.services if n == name})
    if len(found) == 1:
        return found[0]
    runs_as = sorted(
        {
            draft.namespace_of(w)
            for w in inv.workloads()
            if pod_spec(w).get("serviceAccountName") == name
        }
    )
    if len(runs_as) == 1:
        return runs_as[0]
    draft.notes.append(
        f"the Consul service {name!r} (an intention's source) is no Service of the "
        f"input: imported as the service account {fallback}/{name}"
    )
    return fallback


def read_intentions(
    draft: Draft, inv: Inventory, src: Source, svc: Part, gateways: Gateways
) -> None:
    spec = src.spec
    destination = spec.get("destination") or {}
    for key in sorted(set(destination) - {"name"}):
        draft.lose(
            src,
            f"spec.destination.{key}",
            "Consul CE names a service in no namespace, partition or peer; not imported",
        )
        return
    for key in sorted(set(spec) - {"destination", "sources"}):
        draft.lose(src, f"spec.{key}", "not a setting of the spec's allow rules; not imported")
        return
    sources = spec.get("sources") or []
    allowed: list[str] = []
    denied_others = False
    every_caller = False
    for i, source in enumerate(sources):
        path = f"spec.sources[{i}]"
        name = str(source.get("name", ""))
        action = source.get("action")
        extra = sorted(set(source) - _SOURCE_FIELDS)
        if extra or action not in ("allow", "deny"):
            draft.lose(
                src,
                f"{path}.{extra[0]}" if extra else path,
                "the spec's allow rules name the services that may call, whatever they "
                "ask (no permissions by path or method, no namespace, partition or peer); "
                "this source is not imported, so it may not call",
            )
            continue
        if name == WILDCARD:
            denied_others = action == "deny"
            every_caller = action == "allow"
            if i != len(sources) - 1:
                draft.lose(
                    src,
                    path,
                    "the spec's allow rules deny every caller they do not name; "
                    "the sources after '*' are imported before it",
                )
        elif action == "allow" and gateways.source(draft, src, path, name, svc):
            continue
        elif action == "allow":
            allowed.append(name)
        elif not any(s.get("name") == WILDCARD and s.get("action") == "deny" for s in sources):
            draft.lose(
                src,
                path,
                f"denies {name!r}: the spec's allow rules name the callers that may call, "
                "and deny the others; not imported",
            )
    if every_caller:
        draft.lose(
            src,
            "spec.sources",
            "admits every caller: a service of the spec without allow rules has no "
            "intention, so the cluster's default intention policy decides; imported "
            "without allow rules",
        )
        draft.imported += 1
        return
    if not denied_others:
        draft.lose(
            src,
            "spec.sources",
            "no source '*' denies the callers it does not name, so the cluster's "
            "default intention policy decides for them; the spec's allow rules deny "
            "them (meshc renders '*' with deny); imported so",
        )
    if not allowed:
        draft.lose(
            src,
            "spec.sources",
            "admits no caller: the spec's allow rules name callers; not imported",
        )
        return
    rule: Part = {
        "fromServiceAccounts": [
            f"{_account_namespace(draft, inv, name, svc['namespace'])}/{name}" for name in allowed
        ]
    }
    origin(rule, src)
    svc["allow"] = [rule]
    svc["_intentions"] = src
    draft.imported += 1
